//! The prices `plan` multiplies by: us-east-1 list prices in US dollars, as AWS publishes them
//! on its Kinesis Data Streams and Firehose pricing pages (verify there; they change), or a
//! small TOML file given with `--prices` with the same keys.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    /// When these prices were taken from the pricing pages.
    pub taken: String,
    /// Provisioned mode, per shard-hour.
    pub shard_hour: f64,
    /// Provisioned mode, per million PUT payload units (25 KB each, per record).
    pub put_units_per_million: f64,
    /// On-demand mode, per stream-hour.
    pub on_demand_stream_hour: f64,
    /// On-demand mode, per GiB written (each record rounded up to 1 KiB).
    pub on_demand_per_gb: f64,
    /// Firehose Direct PUT ingestion, per GiB (each record rounded up to 5 KB), first tier.
    pub firehose_per_gb: f64,
}

impl Default for Prices {
    fn default() -> Prices {
        Prices {
            taken: "2026-12-03, us-east-1 list prices".to_owned(),
            shard_hour: 0.015,
            put_units_per_million: 0.014,
            on_demand_stream_hour: 0.04,
            on_demand_per_gb: 0.08,
            firehose_per_gb: 0.029,
        }
    }
}

impl Prices {
    /// The default table with the keys a `--prices` file sets replaced.
    pub fn load(path: &std::path::Path) -> Result<Prices, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prices_file_overrides_only_its_keys_and_rejects_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.toml");
        std::fs::write(&path, "taken = \"2027-01-01\"\nshard_hour = 0.02\n").unwrap();
        let prices = Prices::load(&path).unwrap();
        assert_eq!(prices.shard_hour, 0.02);
        assert_eq!(prices.firehose_per_gb, Prices::default().firehose_per_gb);
        std::fs::write(&path, "shard_hours = 1\n").unwrap();
        assert!(Prices::load(&path).unwrap_err().contains("shard_hours"));
    }
}
