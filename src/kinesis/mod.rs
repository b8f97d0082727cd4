//! The Kinesis domain, without I/O: service limits, shards and hash keys, the KPL aggregated
//! record. `aggregate`, `sink`, `config` and `consume` build on it; it depends on none of them.

pub mod kpl;
pub mod limits;
pub mod shard_map;
