//! One host-health record: what [`probe`](super::probe) read, as plain data, and the JSON it
//! becomes. No I/O here: the figures are computed from readings, so tests can pin them.

use serde::Serialize;
use std::time::{Duration, SystemTime};

/// One record. Field names say their unit; byte counts are exact, ratios rounded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// When it was taken, RFC 3339 (UTC, milliseconds: unique per record at any interval).
    pub timestamp: String,
    pub host: String,
    pub uptime_secs: u64,
    pub load: Load,
    pub cpu: Cpu,
    pub memory: Memory,
    pub swap: Swap,
    /// One per mounted file system.
    pub disks: Vec<Disk>,
    /// One per network interface.
    pub network: Vec<Interface>,
    /// Sensors the kernel exposes (hwmon, thermal zones); empty where there are none.
    pub temperatures: Vec<Temperature>,
}

/// The run-queue load averages (`/proc/loadavg`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Load {
    #[serde(rename = "1m")]
    pub one: f64,
    #[serde(rename = "5m")]
    pub five: f64,
    #[serde(rename = "15m")]
    pub fifteen: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cpu {
    /// Busy share of all cores since the previous record, 0-100.
    pub usage_percent: f64,
    pub cores: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Memory {
    pub total_bytes: u64,
    /// What applications can still get without swapping (`MemAvailable`).
    pub available_bytes: u64,
    pub used_bytes: u64,
    pub used_percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Swap {
    pub total_bytes: u64,
    pub used_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disk {
    pub mount: String,
    pub filesystem: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub used_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interface {
    pub name: String,
    /// Since the interface came up (the kernel's counters).
    pub rx_bytes_total: u64,
    pub tx_bytes_total: u64,
    /// Since the previous record.
    pub rx_bytes_per_sec: u64,
    pub tx_bytes_per_sec: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Temperature {
    pub sensor: String,
    pub celsius: f64,
    /// The sensor's critical threshold, where the kernel gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_celsius: Option<f64>,
}

impl Sample {
    /// The record: one line of JSON (no newline).
    pub fn encode(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self).expect("a sample always serialises");
    }
}

/// `part` of `whole` in percent, one decimal; 0 when `whole` is 0 (an empty or virtual mount).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    round(part as f64 * 100.0 / whole as f64, 1)
}

/// Bytes per second over `elapsed` (0 over no time: a first reading).
pub fn per_second(bytes: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0;
    }
    (bytes as f64 / secs).round() as u64
}

/// `value` rounded to `decimals` places (sensor and load readings carry float noise).
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// RFC 3339 in UTC, to the millisecond.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        for (part, whole, expected) in [(1, 3, 33.3), (0, 0, 0.0), (5, 5, 100.0), (2, 3, 66.7)] {
            assert_eq!(percent(part, whole), expected, "{part}/{whole}");
        }
        assert_eq!(per_second(3000, Duration::from_secs(2)), 1500);
        assert_eq!(per_second(3000, Duration::ZERO), 0);
        assert_eq!(per_second(1000, Duration::from_millis(1500)), 667);
        assert_eq!(round(0.099_999_99, 2), 0.1);
        assert_eq!(round(47.849_998, 1), 47.8);
        assert_eq!(
            timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_766_800)),
            "2025-12-03T13:00:00.000Z"
        );
    }

    #[test]
    fn encodes_one_json_line_with_units_in_the_names() {
        let sample = Sample {
            timestamp: "2026-12-03T12:00:00Z".into(),
            host: "gw-17".into(),
            uptime_secs: 3600,
            load: Load {
                one: 0.5,
                five: 0.25,
                fifteen: 0.1,
            },
            cpu: Cpu {
                usage_percent: 12.5,
                cores: 4,
            },
            memory: Memory {
                total_bytes: 1000,
                available_bytes: 600,
                used_bytes: 400,
                used_percent: 40.0,
            },
            swap: Swap {
                total_bytes: 0,
                used_bytes: 0,
            },
            disks: vec![Disk {
                mount: "/".into(),
                filesystem: "ext4".into(),
                total_bytes: 100,
                available_bytes: 25,
                used_percent: 75.0,
            }],
            network: vec![Interface {
                name: "eth0".into(),
                rx_bytes_total: 10,
                tx_bytes_total: 20,
                rx_bytes_per_sec: 1,
                tx_bytes_per_sec: 2,
            }],
            temperatures: vec![Temperature {
                sensor: "cpu_thermal temp1".into(),
                celsius: 48.2,
                critical_celsius: None,
            }],
        };
        let mut out = Vec::new();
        sample.encode(&mut out);
        let text = String::from_utf8(out).expect("utf-8");
        assert!(!text.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["load"]["1m"], 0.5);
        assert_eq!(value["disks"][0]["used_percent"], 75.0);
        assert_eq!(value["network"][0]["tx_bytes_per_sec"], 2);
        assert_eq!(value["temperatures"][0]["celsius"], 48.2);
        assert!(value["temperatures"][0].get("critical_celsius").is_none());
        assert_eq!(value["memory"]["available_bytes"], 600);
    }
}
