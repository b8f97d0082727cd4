//! The batching section of a flow: aggregation, compression and the request and record
//! limits, checked against the destination's API limits.

use super::validator::{KeyName, Validator};
use super::*;
use crate::units::show_size;

impl Validator<'_> {
    pub(super) fn aggregation(
        &self,
        raw: &RawFlow,
        destination: &Destination,
        key: KeyName,
    ) -> Result<Aggregation, ConfigError> {
        match (raw.aggregation, destination.is_firehose()) {
            (Some(Aggregation::Kpl), true) => Err(self.err(
                key("aggregation"),
                "KPL aggregation cannot be sent to Firehose Direct PUT (it does not de-aggregate)",
                "use aggregation = \"lines\"",
            )),
            (Some(aggregation), _) => Ok(aggregation),
            (None, true) => Ok(Aggregation::Lines),
            (None, false) => Ok(Aggregation::None),
        }
    }

    pub(super) fn compression(
        &self,
        raw: &RawFlow,
        aggregation: Aggregation,
        key: KeyName,
    ) -> Result<Compression, ConfigError> {
        let compression = match (raw.compression, raw.compression_level) {
            (CompressionKind::Gzip, None) => Compression::gzip(),
            (CompressionKind::Gzip, Some(level @ 1..=9)) => Compression::Gzip { level },
            (CompressionKind::Zstd, None | Some(1)) => Compression::Zstd,
            (CompressionKind::None, None) => Compression::None,
            (kind, Some(level)) => {
                return Err(self.err(
                    key("compression_level"),
                    format!("level {level} is not available for compression = \"{kind}\""),
                    "gzip takes 1 (fastest) to 9 (smallest), default 3; zstd has only level 1; or remove compression_level",
                ));
            }
        };
        if compression != Compression::None && aggregation == Aggregation::None {
            return Err(self.err(
                key("compression"),
                "compression applies to packed records, and this flow sends one line per record",
                "set aggregation = \"lines\" or \"kpl\" (a single line compresses poorly)",
            ));
        }
        Ok(compression)
    }

    pub(super) fn limits(
        &self,
        raw: &RawFlow,
        destination: &Destination,
        (aggregation, compression): (Aggregation, Compression),
        key: KeyName,
    ) -> Result<BatchLimits, ConfigError> {
        let (default_request, max_request, record_range) = match destination {
            Destination::Kinesis { .. } => (
                DEFAULT_REQUEST_BYTES,
                KINESIS_MAX_REQUEST_BYTES,
                KINESIS_DEFAULT_RECORD_BYTES..=KINESIS_MAX_RECORD_BYTES,
            ),
            Destination::Firehose { .. } => (
                DEFAULT_REQUEST_BYTES,
                FIREHOSE_MAX_REQUEST_BYTES,
                FIREHOSE_MAX_RECORD_BYTES..=FIREHOSE_MAX_RECORD_BYTES,
            ),
        };
        if !(1..=MAX_RECORDS_PER_REQUEST).contains(&raw.batch_max_records) {
            return Err(self.err(
                key("batch_max_records"),
                format!("{} is out of range", raw.batch_max_records),
                "use 1 to 500 (the PutRecords limit)",
            ));
        }
        let max_record_bytes = raw.record_max_bytes.unwrap_or(*record_range.start());
        if !record_range.contains(&max_record_bytes) {
            return Err(self.err(
                key("record_max_bytes"),
                format!(
                    "{} is out of range for a {destination}",
                    show_size(max_record_bytes)
                ),
                format!(
                    "use {} to {}",
                    show_size(*record_range.start()),
                    show_size(*record_range.end())
                ),
            ));
        }
        let max_request_bytes = raw
            .batch_max_bytes
            .unwrap_or(default_request.max(max_record_bytes));
        if max_request_bytes < max_record_bytes || max_request_bytes > max_request {
            return Err(self.err(
                key("batch_max_bytes"),
                format!("{} is out of range", show_size(max_request_bytes)),
                format!(
                    "use {} (the record limit) to {}",
                    show_size(max_record_bytes),
                    show_size(max_request)
                ),
            ));
        }
        let request_target_bytes = self.request_target(raw, max_request_bytes, key)?;
        let default_target = match (aggregation, compression) {
            (Aggregation::Kpl, Compression::None) => KPL_DEFAULT_AGGREGATE_BYTES,
            // Compressed aggregates of 256 KiB fill about two 25 KB PUT payload units, where
            // 50 KB ones would pay a whole unit for ~8 KB (`cargo bench --bench compression`).
            (Aggregation::Kpl, _) => KPL_COMPRESSED_AGGREGATE_BYTES,
            _ => LINES_DEFAULT_RECORD_BYTES.min(max_record_bytes),
        };
        let record_target_bytes = raw.record_target_bytes.unwrap_or(default_target);
        if aggregation != Aggregation::None
            && !(1024..=max_record_bytes).contains(&record_target_bytes)
        {
            return Err(self.err(
                key("record_target_bytes"),
                format!("{} is out of range", show_size(record_target_bytes)),
                format!("use \"1KiB\" to {}", show_size(max_record_bytes)),
            ));
        }
        if raw.batch_max_age.is_zero() {
            return Err(self.err(
                key("batch_max_age"),
                "must be greater than zero",
                "use e.g. \"1s\"",
            ));
        }
        Ok(BatchLimits {
            max_age: raw.batch_max_age,
            max_records: raw.batch_max_records,
            max_request_bytes,
            request_target_bytes,
            max_record_bytes,
            record_target_bytes,
            compression,
        })
    }

    /// `batch_target_bytes`: by default 200 KiB, or `batch_max_bytes` when only that is set (a
    /// configuration that asked for large requests keeps them).
    fn request_target(
        &self,
        raw: &RawFlow,
        max_request_bytes: u64,
        key: KeyName,
    ) -> Result<u64, ConfigError> {
        let default = match raw.batch_max_bytes {
            Some(_) => max_request_bytes,
            None => DEFAULT_REQUEST_TARGET_BYTES.min(max_request_bytes),
        };
        let target = raw.batch_target_bytes.unwrap_or(default);
        if !(1024..=max_request_bytes).contains(&target) {
            return Err(self.err(
                key("batch_target_bytes"),
                format!("{} is out of range", show_size(target)),
                format!(
                    "use \"1KiB\" to batch_max_bytes ({})",
                    show_size(max_request_bytes)
                ),
            ));
        }
        Ok(target)
    }
}
