//! edgeship: tails log files and ships every line to Amazon Kinesis Data Streams or Firehose,
//! at least once, resuming from durable checkpoints.
//!
//! # Layout
//!
//! One pipeline per flow, stages joined by bounded channels, acknowledgements flowing back:
//!
//! ```text
//!  files ──► tail ──Chunk──► [parse] ──Chunk──► aggregate ──Batch──► sink ──► AWS PutRecords
//!             ▲ (thread)      (optional)                              │      / PutRecordBatch
//!             │ resume offsets                                        │ Ack { flow, seq, offsets }
//!             │                                                       ▼
//!      checkpoints.json ◄──────────── checkpoint (low-water mark, atomic writes)
//! ```
//!
//! - [`tail`]: glob discovery, inotify wake-ups, file identity (inode, head fingerprint, mark),
//!   rotation decisions, plain and gzip reading, the per-flow tail loop (knows nothing about
//!   AWS).
//! - [`journal`]: the systemd journal as a source instead of files (`journalctl --output=json
//!   --follow`), its cursors checkpointed like offsets; produces the same chunks as [`tail`].
//! - [`host`]: device health as a source (`host_metrics`): one JSON record per interval,
//!   held until acknowledged and saved at a stop; produces the same chunks as [`tail`].
//! - [`parse`]: only for flows with `[flow.parse]`: multiline framing, formats (CSV, JSON,
//!   regex, Apache, syslog), filters, redaction, metadata; chunks of lines in, chunks of records
//!   out, with offsets that never let a checkpoint pass a held record.
//! - [`aggregate`]: records and API-sized batches (plain, newline-packed, KPL aggregates, per
//!   shard when shard-aware), each carrying the offsets it covers.
//! - [`sink`]: the [`sink::PutClient`] trait, Kinesis and Firehose clients, retries and partial
//!   failures, keeping the shard map fresh, per-shard rate limits, and [`sink::wire`], the
//!   request path for the data (JSON and CBOR bodies, signing, the HTTP client).
//! - [`kinesis`]: the domain without I/O that `aggregate`, `sink`, `config` and `consume` build
//!   on: service limits, the shard map, the KPL aggregated record.
//! - [`checkpoint`]: in-order acknowledgement tracking and the durable store.
//! - [`pipeline`]: starts and stops each flow's stages, SIGHUP reload.
//! - [`cli`] (the command line, also read by the packaging step), [`config`] (with [`units`], the size and duration syntax), [`metrics`] (counters, Prometheus endpoint), [`shutdown`], [`systemd`]
//!   (sd_notify, watchdog), [`logging`], [`status`] (`edgeship status`), [`check`] (`edgeship
//!   check`: credentials and streams, nothing written), [`generate`] (load-test logs), [`plan`] (shards and cost from measured rates), [`consume`] (read a stream back,
//!   de-aggregating KPL records).
//!
//! When AWS is slow or down the channels fill, the tailer stops reading, and the log files
//! themselves are the buffer. Shutdown: stop reading, flush, wait for in-flight requests up to
//! `shutdown_timeout`, write the final checkpoint.

pub mod aggregate;
pub mod check;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod consume;
pub mod generate;
pub mod host;
pub mod import;
pub mod journal;
pub mod kinesis;
pub mod logging;
pub mod metrics;
pub mod parse;
pub mod pipeline;
pub mod plan;
pub mod shutdown;
pub mod sink;
pub mod status;
pub mod systemd;
pub mod tail;
pub mod units;
pub mod validate;
