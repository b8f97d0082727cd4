//! `edgeship validate`: what a flow will do and what stands in its way, checked on the machine
//! it will run on: the files each flow matches (and those it cannot read or will never read),
//! whether a journal flow's journalctl runs and can read the journal,
//! directories that do not exist yet, the state directory, and where the AWS region comes from.
//! Problems that would stop `run` are errors; the rest are warnings that name what to change.

use crate::config::{Compression, Config, Flow};
use crate::parse::FailurePolicy;
use crate::tail::discovery;
use std::fmt::Write as _;
use std::path::Path;

/// The report printed by `edgeship validate` for a config that parsed.
pub async fn report(config: &Config) -> String {
    let mut out = format!("config {} is valid\n", config.source.display());
    let _ = writeln!(out, "{}", region_line(config).await);
    let _ = writeln!(out, "{}", state_dir_line(&config.state_dir));
    for flow in &config.flows {
        flow_report(flow, &mut out);
    }
    out
}

/// Where `run` will take the region from, without asking the network.
async fn region_line(config: &Config) -> String {
    if let Some(region) = &config.aws.region {
        return format!("region {region} (from [aws] region)");
    }
    if let Some((region, source)) =
        crate::sink::aws::local_region(config.aws.profile.as_deref()).await
    {
        return format!("region {region} (from {source})");
    }
    "warning: no region in [aws] region, AWS_REGION or the AWS profile; on EC2 it comes from instance metadata, elsewhere `run` stops (exit 78): set region under [aws]".to_owned()
}

/// Whether the state directory exists and is writable, or can be created.
fn state_dir_line(dir: &Path) -> String {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => format!("warning: state_dir {shown} is not a directory"),
        Ok(_) if !writable(dir) => format!(
            "warning: state_dir {shown} is not writable by this user; checkpoints cannot be saved (the package creates it for the edgeship user)"
        ),
        Ok(_) => format!("state_dir {shown} (writable)"),
        Err(_) => match dir.ancestors().skip(1).find(|a| a.exists()) {
            Some(parent) if writable(parent) => {
                format!("state_dir {shown} does not exist yet and will be created")
            }
            _ => format!(
                "warning: state_dir {shown} does not exist and cannot be created by this user; create it (owned by the user edgeship runs as)"
            ),
        },
    }
}

fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access reads a NUL-terminated path and touches nothing else.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// What `[flow.aws]` changes; unset keys are `[aws]`'s.
fn flow_aws_line(aws: &crate::config::FlowAws) -> String {
    let mut parts = Vec::new();
    if let Some(region) = &aws.region {
        parts.push(format!("region {region}"));
    }
    if let Some(url) = &aws.endpoint_url {
        parts.push(format!("endpoint {url}"));
    }
    if let Some(profile) = &aws.profile {
        parts.push(format!("profile {profile}"));
    }
    if let Some(role) = &aws.role {
        let external = if role.external_id.is_some() {
            ", with external_id"
        } else {
            ""
        };
        parts.push(format!(
            "assumes {} as session {:?}{external}",
            role.role_arn, role.session_name
        ));
    }
    parts.push("the rest from [aws]".to_owned());
    parts.join(", ")
}

fn flow_report(flow: &Flow, out: &mut String) {
    let compression = match flow.limits.compression {
        Compression::Gzip { level } => format!(", compression gzip level {level}"),
        Compression::Zstd => ", compression zstd".to_owned(),
        Compression::None => String::new(),
    };
    let start = match (&flow.journal, &flow.host_metrics) {
        (None, None) => format!(", start_at {}", flow.start_at),
        _ => String::new(), // their own report says where they start
    };
    let _ = writeln!(
        out,
        "flow {:?} -> {} (aggregation {}{compression}{start})",
        flow.name, flow.destination, flow.aggregation
    );
    if let Some(aws) = &flow.aws {
        let _ = writeln!(out, "  aws: {}", flow_aws_line(aws));
    }
    for also in &flow.fanout {
        let _ = writeln!(
            out,
            "  also -> {} as {:?} (aggregation {}, compression {}), from the same read",
            also.destination,
            also.name,
            also.aggregation,
            also.limits.compression.name()
        );
    }
    if let Some(parse) = &flow.parse {
        let on_failure = match &parse.on_failure {
            FailurePolicy::SendRaw => "send_raw".to_owned(),
            FailurePolicy::Drop => "drop".to_owned(),
            FailurePolicy::DeadLetter { path, .. } => format!("dead_letter to {}", path.display()),
        };
        let multiline = if parse.frame.is_multiline() {
            "on"
        } else {
            "off"
        };
        let _ = writeln!(
            out,
            "  parse: format {}, multiline {multiline}, on_failure {on_failure}",
            parse.format.name()
        );
    }
    if let Some(journal) = &flow.journal {
        for line in crate::journal::check::report(journal) {
            let _ = writeln!(out, "{line}");
        }
        return;
    }
    if let Some(spec) = &flow.host_metrics {
        let _ = writeln!(out, "{}", crate::host::probe::report(spec));
        return;
    }
    for pattern in &flow.files.paths {
        let root = discovery::literal_root(pattern);
        if !root.is_dir() {
            let _ = writeln!(
                out,
                "  warning: directory {} of {pattern:?} does not exist (files are picked up when it appears; check the path)",
                root.display()
            );
        }
    }
    files_report(flow, out);
}

fn files_report(flow: &Flow, out: &mut String) {
    let scan = discovery::scan(&flow.files);
    for (dir, error) in &scan.errors {
        let _ = writeln!(out, "  warning: cannot list {}: {error}", dir.display());
    }
    for (path, kind) in &scan.not_files {
        let _ = writeln!(
            out,
            "  skipped: {} is {kind}, not a regular file",
            path.display()
        );
    }
    if scan.files.is_empty() {
        let _ = writeln!(
            out,
            "  no files match {:?} yet (they are picked up when they appear)",
            flow.files.paths
        );
    }
    for file in &scan.files {
        let _ = match std::fs::File::open(file) {
            Ok(_) => writeln!(out, "  {}", file.display()),
            Err(error) => writeln!(out, "  {} (NOT READABLE: {error})", file.display()),
        };
    }
}

/// `validate --sample FILE --lines N`: what each flow with `[flow.parse]` makes of the first
/// lines of a file. Reads only those lines.
pub fn sample(config: &Config, file: &Path, lines: usize) -> std::io::Result<String> {
    /// Enough for the lines shown, bounded whatever their length.
    const MAX_SAMPLE_BYTES: u64 = 64 * 1024 * 1024;
    let data = crate::parse::sample::read_head(file, lines, MAX_SAMPLE_BYTES)?;
    let mut out = format!("\nsample: first {lines} lines of {}\n", file.display());
    for flow in &config.flows {
        let Some(spec) = &flow.parse else {
            let _ = writeln!(
                out,
                "flow {:?}: no [flow.parse]: lines are sent as read",
                flow.name
            );
            continue;
        };
        let _ = writeln!(out, "flow {:?}:", flow.name);
        let core = crate::parse::ParseCore::new(spec.clone(), None);
        let sample = crate::parse::sample::run(&core, file, &data, lines);
        out.push_str(&crate::parse::sample::render(&sample));
    }
    Ok(out)
}
