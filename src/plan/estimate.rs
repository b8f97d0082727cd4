//! From measured rates to records, shards, billed units and cost per aggregation mode. Pure:
//! table-tested. Billing rules: kinesis-facts §3 in `../shared/docs` (25 KB PUT payload units
//! per record, on-demand records rounded up to 1 KiB, Firehose records to 5 KB).

use super::prices::Prices;
use crate::kinesis::limits::{
    FIREHOSE_MAX_RECORD_BYTES, KPL_DEFAULT_AGGREGATE_BYTES, LINES_DEFAULT_RECORD_BYTES,
    PUT_PAYLOAD_UNIT_BYTES,
};

/// A provisioned shard takes 1,000 records and 1 MiB per second.
const SHARD_RECORDS_PER_SEC: f64 = 1000.0;
const SHARD_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;

/// Seconds in the 30-day month the figures are given for.
pub const MONTH_SECS: f64 = 30.0 * 86_400.0;
const MONTH_HOURS: f64 = 30.0 * 24.0;
/// Shards are sized for the peak second plus this much.
const HEADROOM: f64 = 1.2;
const PUT_UNIT_BYTES: f64 = PUT_PAYLOAD_UNIT_BYTES as f64;
/// A random partition key (16 hex digits): counted in the record's payload.
const KEY_BYTES: f64 = 16.0;
/// Per user record inside a KPL aggregate (key index, data tag and lengths), and per
/// aggregate (magic, key table, MD5).
const KPL_RECORD_OVERHEAD: f64 = 8.0;
const KPL_AGGREGATE_OVERHEAD: f64 = 40.0;
const LINES_TARGET: f64 = LINES_DEFAULT_RECORD_BYTES as f64;
const KPL_TARGET: f64 = KPL_DEFAULT_AGGREGATE_BYTES as f64;
const FIREHOSE_TARGET: f64 = FIREHOSE_MAX_RECORD_BYTES as f64;

/// Lines and bytes per second of one flow's files.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub lines: f64,
    pub bytes: f64,
}

/// How a mode turns lines into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Lines,
    Kpl,
    /// `lines` with gzip, at the compression ratio measured on the sampled data.
    LinesGzip,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::None, Mode::Lines, Mode::Kpl, Mode::LinesGzip];

    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Lines => "lines",
            Mode::Kpl => "kpl",
            Mode::LinesGzip => "lines_gzip",
        }
    }
}

/// Records per second and the bytes of each, for `rates` in `mode`. Packed records leave at
/// least once per `max_age` when there is data.
pub fn records(rates: Rates, mode: Mode, max_age_secs: f64, gzip_ratio: f64) -> (f64, f64) {
    if rates.lines <= 0.0 {
        return (0.0, 0.0);
    }
    let packed = |bytes: f64, target: f64| {
        let per_sec = (bytes / target).max((1.0 / max_age_secs).min(rates.lines));
        (per_sec, bytes / per_sec + KEY_BYTES)
    };
    match mode {
        Mode::None => (rates.lines, rates.bytes / rates.lines + KEY_BYTES),
        Mode::Lines => packed(rates.bytes, LINES_TARGET),
        Mode::Kpl => {
            let (per_sec, size) =
                packed(rates.bytes + rates.lines * KPL_RECORD_OVERHEAD, KPL_TARGET);
            (per_sec, size + KPL_AGGREGATE_OVERHEAD)
        }
        Mode::LinesGzip => {
            let (per_sec, size) = packed(rates.bytes, LINES_TARGET);
            (per_sec, (size - KEY_BYTES) * gzip_ratio + KEY_BYTES)
        }
    }
}

/// The figures of one mode.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModePlan {
    pub records_per_sec: f64,
    pub shards: u64,
    pub put_units_per_month: f64,
    pub cost_provisioned_usd_month: f64,
    pub cost_on_demand_usd_month: f64,
}

/// `mean` prices the month; `peak` (the busiest second) sizes the shards.
pub fn plan_mode(
    mean: Rates,
    peak: Rates,
    mode: Mode,
    max_age_secs: f64,
    gzip_ratio: f64,
    prices: &Prices,
) -> ModePlan {
    let (per_sec, size) = records(mean, mode, max_age_secs, gzip_ratio);
    let (peak_per_sec, peak_size) = records(peak, mode, max_age_secs, gzip_ratio);
    let by_records = peak_per_sec * HEADROOM / SHARD_RECORDS_PER_SEC;
    let by_bytes = peak_per_sec * peak_size * HEADROOM / SHARD_BYTES_PER_SEC;
    let shards = by_records.max(by_bytes).ceil().max(1.0) as u64;
    let put_units_per_month = per_sec * (size / PUT_UNIT_BYTES).ceil() * MONTH_SECS;
    let on_demand_gib = per_sec * (size / 1024.0).ceil() * 1024.0 * MONTH_SECS / GIB;
    ModePlan {
        records_per_sec: round2(per_sec),
        shards,
        put_units_per_month: put_units_per_month.round(),
        cost_provisioned_usd_month: round2(
            shards as f64 * prices.shard_hour * MONTH_HOURS
                + put_units_per_month / 1e6 * prices.put_units_per_million,
        ),
        cost_on_demand_usd_month: round2(
            prices.on_demand_stream_hour * MONTH_HOURS + on_demand_gib * prices.on_demand_per_gb,
        ),
    }
}

/// Firehose, newline-packed records (each rounded up to 5 KB), per month.
pub fn firehose_cost(mean: Rates, max_age_secs: f64, prices: &Prices) -> f64 {
    if mean.lines <= 0.0 {
        return 0.0;
    }
    let per_sec = (mean.bytes / FIREHOSE_TARGET).max((1.0 / max_age_secs).min(mean.lines));
    let size = mean.bytes / per_sec;
    let billed = per_sec * (size / 5120.0).ceil() * 5120.0 * MONTH_SECS / GIB;
    round2(billed * prices.firehose_per_gb)
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(lines: f64, line_bytes: f64) -> Rates {
        Rates {
            lines,
            bytes: lines * line_bytes,
        }
    }

    #[test]
    fn shards_count_records_and_bytes_with_headroom() {
        let prices = Prices::default();
        // (lines/s, bytes per line, mode, shards)
        let cases = [
            (1500.0, 301.0, Mode::None, 2), // 1,800 records/s with headroom
            (1500.0, 301.0, Mode::Lines, 1),
            (1500.0, 301.0, Mode::Kpl, 1),
            (800.0, 100.0, Mode::None, 1),
            (900.0, 100.0, Mode::None, 2),  // 1,080 records/s
            (4000.0, 1000.0, Mode::Kpl, 5), // 4 MB/s x 1.2 over 1 MiB/s shards
            (0.0, 0.0, Mode::None, 1),
        ];
        for (lines, size, mode, shards) in cases {
            let r = rates(lines, size);
            let got = plan_mode(r, r, mode, 1.0, 0.2, &prices);
            assert_eq!(got.shards, shards, "{lines} x {size} in {mode:?}");
        }
    }

    #[test]
    fn the_facts_worked_example_1000_lines_of_200_bytes() {
        let r = rates(1000.0, 200.0);
        let none = plan_mode(r, r, Mode::None, 1.0, 1.0, &Prices::default());
        assert_eq!(none.put_units_per_month, 1000.0 * MONTH_SECS);
        let (per_sec, size) = records(r, Mode::Kpl, 1.0, 1.0);
        assert!((4.0..=4.5).contains(&per_sec), "{per_sec}");
        assert!(size <= 50_100.0, "{size}");
        // Firehose, one ~200 KB record per second: 40 x 5 KB billed per second.
        let fh = firehose_cost(r, 1.0, &Prices::default());
        let expected = (40.0 * 5120.0 * MONTH_SECS / GIB * 0.029 * 100.0).round() / 100.0;
        assert_eq!(fh, expected);
    }

    #[test]
    fn slow_flows_send_one_packed_record_per_batch_age() {
        let (per_sec, _) = records(rates(10.0, 100.0), Mode::Lines, 1.0, 1.0);
        assert_eq!(per_sec, 1.0);
        let (per_sec, _) = records(rates(0.5, 100.0), Mode::Lines, 1.0, 1.0);
        assert_eq!(per_sec, 0.5);
    }
}
