//! `host_metrics = { ... }` of a flow: the table as written ([`RawHostMetrics`], the reference
//! for its keys) and its validated form ([`HostMetricsSpec`]).

use serde::Deserialize;
use std::time::Duration;

/// `host_metrics`: ship one record of the host's health per `interval` instead of reading
/// files (exactly one of `paths` / `journal` / `host_metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHostMetrics {
    /// How often a record is taken, 1 s to 24 h. Default `"60s"`. The first one is taken a
    /// second after the flow starts (CPU usage is measured over that second).
    #[serde(
        default = "default_interval",
        deserialize_with = "crate::units::duration"
    )]
    pub interval: Duration,
    /// Records kept in memory while the pipeline cannot take them (AWS down or throttling for
    /// longer than the flow's own buffers last). Beyond this the oldest are dropped, counted in
    /// `edgeship_host_metrics_dropped_total` and logged with the times they were taken.
    /// Default `"4MiB"`, several days of records at `"60s"`.
    #[serde(
        default = "default_max_backlog_bytes",
        deserialize_with = "crate::units::byte_size"
    )]
    pub max_backlog_bytes: u64,
}

impl Default for RawHostMetrics {
    fn default() -> Self {
        RawHostMetrics {
            interval: default_interval(),
            max_backlog_bytes: default_max_backlog_bytes(),
        }
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_max_backlog_bytes() -> u64 {
    4 << 20
}

/// A validated `host_metrics` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMetricsSpec {
    pub interval: Duration,
    pub max_backlog_bytes: u64,
}

/// A problem with one key of the `host_metrics` table.
#[derive(Debug, PartialEq, Eq)]
pub struct HostMetricsSpecError {
    /// The key under the flow, e.g. `host_metrics.interval`.
    pub key: String,
    pub message: String,
    pub hint: String,
}

const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Room for a few records however many disks and interfaces the host has.
const MIN_BACKLOG_BYTES: u64 = 64 << 10;

impl HostMetricsSpec {
    pub fn from_raw(raw: &RawHostMetrics) -> Result<HostMetricsSpec, HostMetricsSpecError> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&raw.interval) {
            return Err(HostMetricsSpecError {
                key: "host_metrics.interval".into(),
                message: format!("{:?} is out of range", raw.interval),
                hint: "use 1s to 24h, e.g. interval = \"60s\"".into(),
            });
        }
        if raw.max_backlog_bytes < MIN_BACKLOG_BYTES {
            return Err(HostMetricsSpecError {
                key: "host_metrics.max_backlog_bytes".into(),
                message: format!("{} bytes is too small", raw.max_backlog_bytes),
                hint: "use at least \"64KiB\", e.g. max_backlog_bytes = \"4MiB\"".into(),
            });
        }
        Ok(HostMetricsSpec {
            interval: raw.interval,
            max_backlog_bytes: raw.max_backlog_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<HostMetricsSpec, HostMetricsSpecError> {
        let raw: RawHostMetrics = toml::from_str(toml_text).expect("parses");
        HostMetricsSpec::from_raw(&raw)
    }

    #[test]
    fn defaults_and_bounds() {
        let spec = parse("").expect("defaults are valid");
        assert_eq!(spec.interval, Duration::from_secs(60));
        assert_eq!(spec.max_backlog_bytes, 4 << 20);
        assert_eq!(
            parse("interval = \"5s\"").expect("valid").interval,
            Duration::from_secs(5)
        );
        for (text, key) in [
            ("interval = \"100ms\"", "host_metrics.interval"),
            ("interval = \"2d\"", "host_metrics.interval"),
            (
                "max_backlog_bytes = \"1KiB\"",
                "host_metrics.max_backlog_bytes",
            ),
        ] {
            assert_eq!(parse(text).expect_err(text).key, key, "{text}");
        }
    }
}
