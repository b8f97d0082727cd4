//! Service limits of PutRecords and PutRecordBatch, as AWS documents them. The batcher
//! enforces them; the validated config clamps user settings to them.

/// Entries per PutRecords / PutRecordBatch request.
pub const MAX_RECORDS_PER_REQUEST: usize = 500;
/// Request size ceiling by default, both services: a request may hold one record of the
/// record limit.
pub const DEFAULT_REQUEST_BYTES: u64 = 1024 * 1024;
/// Request size requests are closed at by default: memory grows with it (a request is
/// built, one waits, a few are in flight, each with its records and its encoded body), so
/// several small requests in flight carry the data of one large one in less memory; each
/// request also costs CPU of its own (`kpl` took 15% more CPU per byte with 128 KiB requests
/// than with 1 MiB ones, 5% more with these). Four default KPL aggregates or one default
/// `lines` record fit.
pub const DEFAULT_REQUEST_TARGET_BYTES: u64 = 200 * 1024;
/// Kinesis request ceiling since 2025; opt-in.
pub const KINESIS_MAX_REQUEST_BYTES: u64 = 10 * 1024 * 1024;
/// Kinesis record limit (data + partition key) of a stream with default `MaxRecordSizeInKiB`.
pub const KINESIS_DEFAULT_RECORD_BYTES: u64 = 1024 * 1024;
/// Largest `MaxRecordSizeInKiB` a stream can be configured with.
pub const KINESIS_MAX_RECORD_BYTES: u64 = 10 * 1024 * 1024;
/// Partition keys are at most 256 characters; we budget bytes for the record limit.
pub const KINESIS_MAX_PARTITION_KEY_BYTES: usize = 256;
/// Firehose request limit; cannot be changed.
pub const FIREHOSE_MAX_REQUEST_BYTES: u64 = 4 * 1024 * 1024;
/// Firehose record limit: 1,000 KiB.
pub const FIREHOSE_MAX_RECORD_BYTES: u64 = 1000 * 1024;
/// Default size of a KPL aggregate, counting the whole Kinesis record (envelope and partition
/// key): two 25 KB PUT payload units even where KB means 1,000 bytes (the KPL's 51,200 costs
/// three under that reading).
pub const KPL_DEFAULT_AGGREGATE_BYTES: u64 = 50_000;
/// Default record size of `lines` flows: five 25 KB PUT payload units exactly (256 KiB paid for
/// eleven), and one record fills a default request target.
pub const LINES_DEFAULT_RECORD_BYTES: u64 = 125_000;
/// Default aggregate size (before compression) for `kpl` flows with `compression`.
pub const KPL_COMPRESSED_AGGREGATE_BYTES: u64 = 256 * 1024;
/// Provisioned streams bill each record in steps of this many bytes (data plus partition key);
/// 25 KB read as 25,000 bytes, the more expensive reading.
pub const PUT_PAYLOAD_UNIT_BYTES: u64 = 25_000;

/// A per-shard write budget, what pacing keeps each shard under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardRate {
    pub records_per_sec: f64,
    pub bytes_per_sec: f64,
}

/// Room a compressed record may need beyond its input when the data does not compress (stored
/// deflate blocks cost 5 bytes per 64 KiB, raw zstd blocks 3 bytes per 128 KiB, plus headers):
/// record budgets keep it free so a compressed record stays within the record limit.
pub const COMPRESSION_MARGIN_BYTES: usize = 1024;

/// The record limit to use for a stream: `configured` (`record_max_bytes`), within the
/// stream's `MaxRecordSizeInKiB` (`None`: a stream that reports none has the 1 MiB default).
pub fn record_limit(configured: u64, stream_kib: Option<u64>) -> u64 {
    let stream = stream_kib.map_or(KINESIS_DEFAULT_RECORD_BYTES, |kib| kib.saturating_mul(1024));
    configured.min(stream.clamp(KINESIS_DEFAULT_RECORD_BYTES, KINESIS_MAX_RECORD_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_limit_is_the_smaller_of_the_setting_and_the_streams() {
        const MIB: u64 = 1024 * 1024;
        for (configured, stream_kib, expected) in [
            (MIB, None, MIB),
            (4 * MIB, None, MIB),
            (4 * MIB, Some(2048), 2 * MIB),
            (4 * MIB, Some(10240), 4 * MIB),
            (10 * MIB, Some(10240), 10 * MIB),
            (2 * MIB, Some(512), MIB),
        ] {
            assert_eq!(
                record_limit(configured, stream_kib),
                expected,
                "{configured} {stream_kib:?}"
            );
        }
    }
}
