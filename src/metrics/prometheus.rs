//! Prometheus text exposition (format 0.0.4) of every flow's counters and gauges, the
//! checkpoint age and the process footprint. Names follow the conventions: `edgeship_` prefix,
//! `_total` for counters, units in the name.

use super::FlowStats;
use super::process::ProcessUsage;
use crate::checkpoint::CheckpointView;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One metric family: its samples as (labels, value).
struct Family<'a> {
    name: &'a str,
    kind: &'a str,
    help: &'a str,
    samples: Vec<(String, f64)>,
}

fn write_family(out: &mut String, family: &Family<'_>) {
    let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
    let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
    for (labels, value) in &family.samples {
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{}{labels} {value}", family.name);
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn flow_label(flow: &FlowStats) -> String {
    format!("flow=\"{}\"", escape(&flow.flow))
}

/// Picks one counter out of a flow's stats.
type Field = fn(&FlowStats) -> &AtomicU64;

/// Counters read straight from an atomic of every flow: name, help, field.
const COUNTERS: &[(&str, &str, Field)] = &[
    ("edgeship_lines_read_total", "Lines read from files.", |f| {
        &f.lines_read
    }),
    ("edgeship_read_bytes_total", "Bytes read from files.", |f| {
        &f.bytes_read
    }),
    (
        "edgeship_lines_delivered_total",
        "Lines acknowledged by AWS.",
        |f| &f.lines_delivered,
    ),
    (
        "edgeship_records_sent_total",
        "Kinesis/Firehose records acknowledged by AWS.",
        |f| &f.records_delivered,
    ),
    (
        "edgeship_sent_bytes_total",
        "Bytes acknowledged by AWS (data plus partition keys).",
        |f| &f.bytes_delivered,
    ),
    (
        "edgeship_sent_uncompressed_bytes_total",
        "edgeship_sent_bytes_total counted before compression; the two differ only for flows with compression.",
        |f| &f.bytes_delivered_uncompressed,
    ),
    (
        "edgeship_request_body_bytes_total",
        "Encoded request bodies sent (JSON with base64 data, or CBOR), retries included: the bytes on the wire before HTTP and TLS framing.",
        |f| &f.request_body_bytes,
    ),
    (
        "edgeship_put_payload_units_total",
        "Provisioned-stream PUT payload units of the delivered records (25 KB per record, rounded up).",
        |f| &f.put_payload_units,
    ),
    (
        "edgeship_requests_total",
        "PutRecords / PutRecordBatch calls, retries included.",
        |f| &f.requests,
    ),
    (
        "edgeship_entries_sent_total",
        "Entries in all requests, retries included.",
        |f| &f.entries_sent,
    ),
    (
        "edgeship_entries_retried_total",
        "Entries sent again after a failure (only failed entries are resent).",
        |f| &f.entries_resent,
    ),
    (
        "edgeship_entries_throttled_total",
        "Entries refused for throttling.",
        |f| &f.entries_throttled,
    ),
    (
        "edgeship_lines_truncated_total",
        "Lines longer than the record limit, truncated.",
        |f| &f.lines_truncated,
    ),
    (
        "edgeship_skipped_bytes_total",
        "Bytes start_at = \"end\" skipped while the checkpoint file was unreadable (perhaps shipped before, perhaps not).",
        |f| &f.bytes_skipped_unverified,
    ),
    (
        "edgeship_records_undeliverable_total",
        "Records the service rejected as invalid even alone (counted, not resent).",
        |f| &f.records_undeliverable,
    ),
    (
        "edgeship_data_loss_events_total",
        "Times data was physically gone before it could be read (deleted or truncated first); each is logged with the file and byte range.",
        |f| &f.data_loss_events,
    ),
    (
        "edgeship_spooled_bytes_total",
        "Bytes of deleted files still held open at a stop, saved into the spool and shipped after the restart.",
        |f| &f.bytes_spooled,
    ),
    (
        "edgeship_copies_recognised_total",
        "Copies and compressed rotations of already shipped files, recognised by content and not shipped again.",
        |f| &f.copies_recognised,
    ),
    (
        "edgeship_read_errors_total",
        "Errors reading or listing files.",
        |f| &f.read_errors,
    ),
    (
        "edgeship_journal_restarts_total",
        "Journal flows: times journalctl ended or could not start and was started again (each logged, rate-limited).",
        |f| &f.journal_restarts,
    ),
    (
        "edgeship_journal_gaps_total",
        "Journal flows: resumes whose checkpointed entry had been vacuumed; the entries between were never shipped (each logged with the time range).",
        |f| &f.journal_gaps,
    ),
    (
        "edgeship_host_metrics_dropped_total",
        "Host-metrics flows: records dropped because the backlog was full or could not be saved at a stop (each logged with the times taken).",
        |f| &f.host_metrics_dropped,
    ),
    (
        "edgeship_parse_failures_total",
        "Records that did not parse ([flow.parse]), sent raw, dropped or dead-lettered per on_failure.",
        |f| &f.parse_failures,
    ),
    (
        "edgeship_records_filtered_total",
        "Records not sent because of [flow.parse] include/exclude.",
        |f| &f.records_filtered,
    ),
    (
        "edgeship_partition_key_fallbacks_total",
        "Records sent with a random partition key because the field of their key template was missing.",
        |f| &f.partition_key_fallbacks,
    ),
];

/// Renders everything.
pub fn render(
    flows: &[Arc<FlowStats>],
    checkpoints: &CheckpointView,
    process: ProcessUsage,
) -> String {
    let mut out = String::new();
    for (name, help, field) in COUNTERS {
        let samples = flows
            .iter()
            .map(|f| (flow_label(f), field(f).load(Relaxed) as f64))
            .collect();
        write_family(
            &mut out,
            &Family {
                name,
                kind: "counter",
                help,
                samples,
            },
        );
    }
    let errors = flows
        .iter()
        .flat_map(|f| {
            let map = f.errors_by_code.lock().expect("stats lock").clone();
            map.into_iter().map(move |(code, n)| {
                (
                    format!("{},code=\"{}\"", flow_label(f), escape(&code)),
                    n as f64,
                )
            })
        })
        .collect();
    write_family(
        &mut out,
        &Family {
            name: "edgeship_errors_total",
            kind: "counter",
            help: "Failed entries and requests by AWS error code (each is retried unless undeliverable).",
            samples: errors,
        },
    );
    let lost = flows
        .iter()
        .flat_map(|f| {
            let map = f.bytes_lost.lock().expect("stats lock").clone();
            map.into_iter().map(move |(reason, n)| {
                (format!("{},reason=\"{reason}\"", flow_label(f)), n as f64)
            })
        })
        .collect();
    write_family(
        &mut out,
        &Family {
            name: "edgeship_lost_bytes_total",
            kind: "counter",
            help: "Bytes that will never be shipped, by reason.",
            samples: lost,
        },
    );
    gauges(&mut out, flows, checkpoints);
    process_families(&mut out, process);
    out
}

fn gauges(out: &mut String, flows: &[Arc<FlowStats>], checkpoints: &CheckpointView) {
    let lag_bytes = flows
        .iter()
        .map(|f| {
            let acked = checkpoints.acked(&f.flow);
            let sizes = f.file_sizes.lock().expect("stats lock");
            let lag: u64 = sizes
                .iter()
                .map(|(key, size)| size.saturating_sub(acked.get(key).copied().unwrap_or(0)))
                .sum();
            (flow_label(f), lag as f64)
        })
        .collect();
    write_family(
        out,
        &Family {
            name: "edgeship_lag_bytes",
            kind: "gauge",
            help: "Bytes in tracked files not yet acknowledged (size minus checkpointed offset).",
            samples: lag_bytes,
        },
    );
    let per_flow = |value: fn(&FlowStats) -> f64| {
        flows
            .iter()
            .map(|f| (flow_label(f), value(f)))
            .collect::<Vec<_>>()
    };
    write_family(
        out,
        &Family {
            name: "edgeship_lag_seconds",
            kind: "gauge",
            help: "How long the oldest unacknowledged line has been waiting.",
            samples: per_flow(FlowStats::lag_seconds),
        },
    );
    let tracked = |f: &FlowStats| {
        f.files_added
            .load(Relaxed)
            .saturating_sub(f.files_released.load(Relaxed)) as f64
    };
    write_family(
        out,
        &Family {
            name: "edgeship_files_tracked",
            kind: "gauge",
            help: "Files being tailed.",
            samples: per_flow(tracked),
        },
    );
    write_family(
        out,
        &Family {
            name: "edgeship_files_open",
            kind: "gauge",
            help: "Files held open (every tracked file, until it is released).",
            samples: per_flow(tracked),
        },
    );
    write_family(
        out,
        &Family {
            name: "edgeship_checkpoint_age_seconds",
            kind: "gauge",
            help: "Time since checkpoints were last written.",
            samples: vec![(String::new(), checkpoints.age().as_secs_f64())],
        },
    );
}

fn process_families(out: &mut String, process: ProcessUsage) {
    let one = |value: f64| vec![(String::new(), value)];
    write_family(
        out,
        &Family {
            name: "edgeship_process_resident_memory_bytes",
            kind: "gauge",
            help: "Resident memory of the agent.",
            samples: one(process.resident_bytes as f64),
        },
    );
    write_family(
        out,
        &Family {
            name: "edgeship_process_cpu_seconds_total",
            kind: "counter",
            help: "CPU time used by the agent (user plus system).",
            samples: one(process.cpu_seconds),
        },
    );
    write_family(
        out,
        &Family {
            name: "edgeship_process_open_fds",
            kind: "gauge",
            help: "Open file descriptors of the agent.",
            samples: one(process.open_fds as f64),
        },
    );
}
