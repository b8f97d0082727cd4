//! One agent flow (`filePattern`, `kinesisStream` or `deliveryStream`, ...) -> one `[[flow]]`, with `[flow.parse]` when the flow has
//! framing or processing options.

use super::Object;
use super::processing::{self, Parse};
use super::value::{Toml, millis, number, string, toml_str};
use std::path::Path;

/// Per-flow keys with no edgeship equivalent, and why.
const EXPLAINED: &[(&str, &str)] = &[
    (
        "fileFooterPattern",
        "edgeship does not stop reading at a footer line; use [flow.parse] exclude to drop footer lines",
    ),
    (
        "publishQueueCapacity",
        "edgeship's queues are small and fixed: the log file is the buffer",
    ),
    (
        "retryInitialBackoffMillis",
        "edgeship backs off with jitter per request (and per shard with rate_limit)",
    ),
    ("retryMaxBackoffMillis", "see retryInitialBackoffMillis"),
    (
        "waitOnEmptyPublishQueueMillis",
        "no publish queue; batch_max_age bounds the wait",
    ),
    ("waitOnFullPublishQueueMillis", "no publish queue"),
    (
        "waitOnFullRetryQueueMillis",
        "no retry queue (the agent never read it either)",
    ),
    (
        "log.emitInternalMetrics",
        "edgeship logs a per-flow summary every status_interval",
    ),
];

const MAPPED: &[&str] = &[
    "filePattern",
    "kinesisStream",
    "deliveryStream",
    "initialPosition",
    "maxBufferAgeMillis",
    "maxBufferSizeRecords",
    "maxBufferSizeBytes",
    "partitionKeyOption",
    "aggregatedRecordSizeBytes",
    "minTimeBetweenFilePollsMillis",
    "maxTimeBetweenFileTrackerRefreshMillis",
    "multiLineStartPattern",
    "skipHeaderLines",
    "truncatedRecordTerminator",
    "dataProcessingOptions",
];

pub fn convert(
    index: usize,
    source: &Path,
    flow: &Object,
    names: &mut Vec<String>,
    out: &mut Toml,
) -> Result<(), String> {
    let get = |key: &str| flow.get(key);
    let pattern = get("filePattern")
        .and_then(string)
        .ok_or("filePattern is missing (the agent requires it)")?;
    let (stream, firehose) = destination(flow)?;
    let name = unique_name(&stream, names);
    out.table("[[flow]]");
    out.comment(&format!(
        "agent.json flows[{index}] ({}).",
        source.display()
    ));
    out.key("name", &toml_str(&name), None);
    out.key("paths", &format!("[{}]", toml_str(pattern)), Some("The agent globs the file name only; edgeship globs whole paths (a superset). The agent always skipped .gz/.bz2/.zip files."));
    out.key("exclude", "[\"*.gz\", \"*.bz2\", \"*.zip\"]", None);
    if firehose && get("kinesisStream").is_some() {
        out.comment("agent.json sets both kinesisStream and deliveryStream; the agent used Firehose, so this does too.");
    }
    out.key(
        if firehose {
            "firehose_stream"
        } else {
            "kinesis_stream"
        },
        &toml_str(&stream),
        None,
    );
    let start = match get("initialPosition").and_then(string) {
        None | Some("END_OF_FILE") => "end",
        Some("START_OF_FILE") => "beginning",
        Some(other) => {
            return Err(format!(
                "initialPosition {other:?} is not END_OF_FILE or START_OF_FILE (case-sensitive)"
            ));
        }
    };
    out.key(
        "start_at",
        &toml_str(start),
        Some("agent.json initialPosition (default END_OF_FILE)."),
    );
    sending(flow, firehose, out)?;
    polling(flow, out)?;
    explain_rest(flow, out);
    let parse = processing::convert(flow)?;
    write_parse(&parse, out);
    Ok(())
}

fn destination(flow: &Object) -> Result<(String, bool), String> {
    let kinesis = flow.get("kinesisStream").and_then(string);
    let firehose = flow.get("deliveryStream").and_then(string);
    match (kinesis, firehose) {
        (_, Some(f)) => Ok((f.to_owned(), true)),
        (Some(k), None) => Ok((k.to_owned(), false)),
        (None, None) => Err("neither kinesisStream nor deliveryStream is set".into()),
    }
}

fn unique_name(stream: &str, names: &mut Vec<String>) -> String {
    let base: String = stream
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    names.push(name.clone());
    name
}

fn sending(flow: &Object, firehose: bool, out: &mut Toml) -> Result<(), String> {
    let num = |key: &str| -> Result<Option<i64>, String> {
        flow.get(key)
            .map(|v| number(v).ok_or(format!("{key} is not a number")))
            .transpose()
    };
    let age = num("maxBufferAgeMillis")?.unwrap_or(60_000);
    out.key("batch_max_age", &millis(age.clamp(1, 900_000)), Some("agent.json maxBufferAgeMillis (agent default 60000 ms, imported explicitly; edgeship's own default is 1s)."));
    if let Some(records) = num("maxBufferSizeRecords")? {
        out.key(
            "batch_max_records",
            &records.clamp(1, 500).to_string(),
            None,
        );
    }
    if let Some(bytes) = num("maxBufferSizeBytes")? {
        let floor = if firehose { 1000 * 1024 } else { 1024 * 1024 };
        if bytes >= floor {
            out.key(
                "batch_max_bytes",
                &bytes
                    .min(if firehose { 4 << 20 } else { 5 << 20 })
                    .to_string(),
                Some("agent.json maxBufferSizeBytes."),
            );
        } else {
            out.comment(&format!("agent.json maxBufferSizeBytes = {bytes}: not imported, edgeship requests hold at least one full-size record ({floor} bytes)."));
        }
    }
    match flow.get("partitionKeyOption").and_then(string) {
        None | Some("RANDOM") if !firehose => out.key("partition_key", "\"random\"", None),
        Some("DETERMINISTIC") if !firehose => out.key("partition_key", "\"deterministic\"", Some("agent.json partitionKeyOption DETERMINISTIC: the MD5 of each record, as the agent's (which hashed the line with its trailing \\n, so keys differ unless append_newline = true).")),
        Some(other) if !firehose && other != "RANDOM" => return Err(format!("partitionKeyOption {other:?} is not RANDOM or DETERMINISTIC")),
        _ => {}
    }
    let packed = num("aggregatedRecordSizeBytes")?.filter(|n| *n > 0);
    match packed {
        Some(n) if firehose && flow.get("multiLineStartPattern").is_none() => {
            out.key("aggregation", "\"lines\"", Some("agent.json aggregatedRecordSizeBytes: whole lines packed into records."));
            out.key("record_target_bytes", &n.clamp(1024, 1000 * 1024).to_string(), None);
        }
        Some(_) => {
            out.comment("agent.json aggregatedRecordSizeBytes: ignored, as by the agent (Kinesis flow or multiLineStartPattern).");
            if firehose {
                out.key("aggregation", "\"none\"", None);
            }
        }
        None if firehose => out.key("aggregation", "\"none\"", Some("The agent sent one line per Firehose record (aggregatedRecordSizeBytes unset); edgeship's Firehose default would pack lines.")),
        None => {}
    }
    out.comment("The agent sent each line WITH its trailing \\n; unpacked edgeship records omit it. If consumers depend on it, set append_newline = true in [flow.parse].");
    Ok(())
}

fn polling(flow: &Object, out: &mut Toml) -> Result<(), String> {
    for (key, ours) in [
        ("minTimeBetweenFilePollsMillis", "poll_interval"),
        ("maxTimeBetweenFileTrackerRefreshMillis", "scan_interval"),
    ] {
        if let Some(v) = flow.get(key) {
            let ms = number(v).ok_or(format!("{key} is not a number"))?;
            out.key(
                ours,
                &millis(ms.max(1)),
                Some(&format!("agent.json {key}.")),
            );
        }
    }
    Ok(())
}

fn explain_rest(flow: &Object, out: &mut Toml) {
    for key in flow.keys() {
        if MAPPED.contains(&key.as_str()) {
            continue;
        }
        match EXPLAINED.iter().find(|(k, _)| k == key) {
            Some((_, why)) => out.comment(&format!("agent.json {key}: not imported: {why}.")),
            None => out.comment(&format!(
                "agent.json {key}: unknown flow key (the Java agent ignores it too); not imported."
            )),
        }
    }
}

fn write_parse(parse: &Parse, out: &mut Toml) {
    if parse.keys.is_empty() && parse.notes.is_empty() {
        return;
    }
    out.table("[flow.parse]");
    for note in &parse.notes {
        out.comment(note);
    }
    for (key, value, note) in &parse.keys {
        out.key(key, value, note.as_deref());
    }
}
