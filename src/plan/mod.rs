//! `edgeship plan`: measures each flow's log rates ([`sample`]) and turns them into shards,
//! billed units and monthly cost per aggregation mode ([`estimate`], [`prices`]).

pub mod estimate;
pub mod prices;
pub mod sample;
pub mod scrape;

use crate::config::{Config, Flow};
use estimate::{Mode, ModePlan};
use prices::Prices;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// One flow's measurement and plan (the `--json` shape).
#[derive(Debug, Serialize)]
pub struct FlowPlan {
    pub name: String,
    pub lines_per_sec: f64,
    pub bytes_per_sec: f64,
    pub peak_lines_per_sec: f64,
    pub peak_bytes_per_sec: f64,
    /// Compressed size over original size of the sampled data with gzip.
    pub gzip_ratio: f64,
    pub modes: BTreeMap<&'static str, ModePlan>,
    pub firehose_cost_usd_month: f64,
}

#[derive(Debug, Serialize)]
pub struct Plan {
    pub sampled_secs: f64,
    pub flows: Vec<FlowPlan>,
    pub prices: Prices,
}

/// Samples the file flows of `config` for `duration` (from their files, or from a running
/// agent's `metrics` URL) and plans each.
pub fn plan(
    config: &Config,
    duration: Duration,
    prices: Prices,
    metrics: Option<&str>,
) -> Result<Plan, String> {
    let flows: Vec<&Flow> = config
        .flows
        .iter()
        .filter(|f| f.journal.is_none() && f.host_metrics.is_none())
        .collect();
    let growth = match metrics {
        Some(url) => {
            let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
            scrape::sample(url, &names, duration)?
        }
        None => sample::sample(&flows, duration),
    };
    let plans = flows
        .iter()
        .zip(growth)
        .map(|(flow, growth)| flow_plan(flow, &growth, &prices))
        .collect();
    Ok(Plan {
        sampled_secs: duration.as_secs_f64(),
        flows: plans,
        prices,
    })
}

fn flow_plan(flow: &Flow, growth: &sample::Growth, prices: &Prices) -> FlowPlan {
    let (mean, peak) = (growth.mean(), growth.peak());
    let age = flow.limits.max_age.as_secs_f64().max(0.001);
    let ratio = gzip_ratio(&growth.sample);
    let modes = Mode::ALL
        .iter()
        .map(|&m| {
            (
                m.name(),
                estimate::plan_mode(mean, peak, m, age, ratio, prices),
            )
        })
        .collect();
    let round = |x: f64| (x * 10.0).round() / 10.0;
    FlowPlan {
        name: flow.name.clone(),
        lines_per_sec: round(mean.lines),
        bytes_per_sec: round(mean.bytes),
        peak_lines_per_sec: round(peak.lines),
        peak_bytes_per_sec: round(peak.bytes),
        gzip_ratio: (ratio * 1000.0).round() / 1000.0,
        modes,
        firehose_cost_usd_month: estimate::firehose_cost(mean, age, prices),
    }
}

/// gzip (level 6) size over the original; 1 without data.
fn gzip_ratio(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 1.0;
    }
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    let _ = encoder.write_all(data);
    let compressed = encoder.finish().map(|v| v.len()).unwrap_or(data.len());
    (compressed as f64 / data.len() as f64).min(1.0)
}

/// The plan as a table per flow.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "measured for {:.0} s; prices: {} (monthly = 30 days)",
        plan.sampled_secs, plan.prices.taken
    );
    for flow in &plan.flows {
        let _ = writeln!(
            out,
            "\nflow {:?}: {:.1} lines/s, {} /s (peak second {:.0} lines, {}), gzip to {:.0}%",
            flow.name,
            flow.lines_per_sec,
            human(flow.bytes_per_sec),
            flow.peak_lines_per_sec,
            human(flow.peak_bytes_per_sec),
            flow.gzip_ratio * 100.0
        );
        let _ = writeln!(
            out,
            "  {:<11} {:>10} {:>7} {:>16} {:>13} {:>11}",
            "mode", "records/s", "shards", "PUT units/month", "provisioned", "on-demand"
        );
        for (name, m) in &flow.modes {
            let _ = writeln!(
                out,
                "  {name:<11} {:>10.1} {:>7} {:>16.0} {:>12.2}$ {:>10.2}$",
                m.records_per_sec,
                m.shards,
                m.put_units_per_month,
                m.cost_provisioned_usd_month,
                m.cost_on_demand_usd_month
            );
        }
        let _ = writeln!(
            out,
            "  firehose (newline-packed): {:.2}$ per month",
            flow.firehose_cost_usd_month
        );
    }
    if plan.flows.is_empty() {
        let _ = writeln!(
            out,
            "no flow reads files (journal and host_metrics flows are not planned)"
        );
    }
    out
}

fn human(bytes: f64) -> String {
    bytesize::ByteSize::b(bytes as u64)
        .display()
        .iec()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_every_mode_and_firehose() {
        let growth = sample::Growth {
            intervals: vec![(1.0, 1000, 200_000), (1.0, 1000, 200_000)],
            sample: b"GET / 200\n".repeat(100),
        };
        let config = Config::parse(
            "[[flow]]\nname = \"web\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\n",
            std::path::Path::new("/e.toml"),
        )
        .unwrap();
        let flow = flow_plan(&config.flows[0], &growth, &Prices::default());
        assert_eq!(flow.lines_per_sec, 1000.0);
        assert_eq!(flow.modes["none"].shards, 2);
        assert!(flow.gzip_ratio < 0.2);
        let plan = Plan {
            sampled_secs: 2.0,
            flows: vec![flow],
            prices: Prices::default(),
        };
        let text = text(&plan);
        for mode in ["none", "lines", "kpl", "lines_gzip", "firehose"] {
            assert!(text.contains(mode), "{text}");
        }
    }
}
