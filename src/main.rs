//! The `edgeship` command line. Maps errors to exit codes: 78 for configuration problems
//! (sysexits EX_CONFIG, so systemd's ExecStartPre shows them), 1 for everything else.

use anyhow::Context;
use clap::Parser;
use edgeship::cli::{Cli, Command};
use edgeship::config::{Config, ConfigError, EXIT_CONFIG};
use edgeship::shutdown::Shutdown;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => run(&config),
        Command::Validate {
            config,
            sample,
            lines,
        } => validate(&config).and_then(|()| match sample {
            Some(file) => validate_sample(&config, &file, lines),
            None => Ok(()),
        }),
        Command::Check { config } => check(&config),
        Command::Plan {
            config,
            duration,
            json,
            prices,
            metrics,
        } => plan(
            &config,
            duration,
            json,
            prices.as_deref(),
            metrics.as_deref(),
        ),
        Command::Generate(args) => generate(args),
        Command::ImportKinesisAgent { path } => edgeship::import::import(&path)
            .map(|toml| print!("{toml}"))
            .map_err(Into::into),
        Command::Status { config } => Config::load(&config)
            .map(|c| print!("{}", edgeship::status::report(&c)))
            .map_err(Into::into),
        Command::Consume {
            stream,
            region,
            endpoint_url,
        } => consume(stream, region, endpoint_url),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("edgeship: {error:#}");
            let is_config = error.chain().any(|cause| {
                cause.downcast_ref::<ConfigError>().is_some()
                    || cause
                        .downcast_ref::<edgeship::pipeline::RunError>()
                        .is_some_and(|e| e.is_config())
            });
            ExitCode::from(if is_config { EXIT_CONFIG as u8 } else { 1 })
        }
    }
}

fn init_logging(level: &str) {
    edgeship::logging::init(level);
}

/// Request buffers are megabytes. With glibc's defaults they raise its dynamic mmap threshold
/// and then stay cached in per-thread arenas after use (RSS measured at ~200 MiB while shipping
/// 5 MiB requests); a fixed threshold returns them to the OS, so memory stays bounded. It sits
/// above the read buffers (64 KiB plus a partial line; 256 KiB before 2026-12-07): at 256 KiB
/// every read buffer was its own mmap, faulted in page by page and unmapped with a TLB shootdown on every core, which
/// cost a third of the CPU of one-record-per-line shipping and varied with scheduling (peers
/// bench, es-none: 164-178 MB per CPU-second at 256 KiB, 216-246 at 1 MiB). At 4 MiB the
/// default requests' bodies (~1.4 MB) are reused from the heap too instead of being faulted in
/// and unmapped each time (4-5% of `kpl`'s CPU in a profile): in three interleaved pairs of
/// `cargo bench --bench throughput` `lines` gained 6% (median), the other modes and peak RSS
/// stayed within the noise. A fixed mmap threshold also pins the trim threshold at 128 KiB, so
/// freeing a body at the top of an arena handed its pages back and the next body faulted them in
/// again under base64 (4-6% of `kpl`'s CPU in a profile). At 2 MiB (above one default body) in
/// interleaved rounds of that bench `kpl` took 11% less CPU per byte (3.49 -> 3.12 CPU-seconds
/// per GiB, medians) and `lines` 17% less, for up to 1.3 MiB more peak RSS in `lines`; at 4 MiB
/// the gain was the same and RSS 2.3 MiB higher. One arena, shared by the runtime's workers and
/// the tailer threads: with two, each kept up to the trim threshold of free pages of its
/// own; in five runs per mode (300 MB to a local TLS endpoint, 2026-12-07) the median peak RSS
/// fell 1.7 MB in `kpl`, 2.4 MB in `lines` and 0.6 MB in `none`, at the same CPU.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    init_logging(config.log_level.name());
    runtime()?.block_on(async {
        let shutdown = Shutdown::default();
        shutdown
            .listen_for_signals()
            .context("cannot install signal handlers")?;
        edgeship::pipeline::run(config, shutdown).await?;
        Ok(())
    })
}

fn validate(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let report = runtime()?.block_on(edgeship::validate::report(&config));
    print!("{report}");
    Ok(())
}

fn check(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    init_logging("warn");
    let report = runtime()?.block_on(edgeship::check::report(&config));
    print!("{}", report.text);
    match report.failed {
        0 => Ok(()),
        _ => anyhow::bail!("{}", report.verdict),
    }
}

fn plan(
    path: &Path,
    duration: std::time::Duration,
    json: bool,
    prices: Option<&Path>,
    metrics: Option<&str>,
) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let prices = match prices {
        Some(file) => edgeship::plan::prices::Prices::load(file).map_err(anyhow::Error::msg)?,
        None => edgeship::plan::prices::Prices::default(),
    };
    if !json {
        let from = metrics.unwrap_or("the flows' files");
        eprintln!("measuring {from} for {duration:?} ...");
    }
    let plan =
        edgeship::plan::plan(&config, duration, prices, metrics).map_err(anyhow::Error::msg)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", edgeship::plan::text(&plan));
    }
    Ok(())
}

fn generate(args: edgeship::cli::GenerateArgs) -> anyhow::Result<()> {
    let format = edgeship::generate::Format::named(&args.format, args.template.as_deref())
        .map_err(anyhow::Error::msg)?;
    let options = edgeship::generate::GenerateOptions {
        format,
        rate: args.rate,
        duration: args.duration,
        output: args.output,
        rotate_every: args.rotate_every,
        line_bytes: args.line_bytes,
        seed: args.seed,
        numbered: args.numbered,
    };
    if !(options.rate > 0.0 && options.rate.is_finite()) {
        anyhow::bail!("--rate must be a number of lines per second above 0");
    }
    let written = edgeship::generate::run(&options)
        .with_context(|| format!("cannot write {}", options.output.display()))?;
    eprintln!(
        "wrote {} lines ({} bytes) to {} over {:?}, {} rotations",
        written.lines,
        written.bytes,
        options.output.display(),
        options.duration,
        written.rotated.len()
    );
    Ok(())
}

fn validate_sample(path: &Path, file: &Path, lines: usize) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let report = edgeship::validate::sample(&config, file, lines)
        .with_context(|| format!("cannot read {}", file.display()))?;
    print!("{report}");
    Ok(())
}

fn consume(
    stream: String,
    region: Option<String>,
    endpoint_url: Option<String>,
) -> anyhow::Result<()> {
    init_logging("warn");
    let settings = edgeship::config::AwsSettings {
        region,
        endpoint_url,
        profile: None,
        request_timeout: std::time::Duration::from_secs(60),
        permanent_error_backoff: std::time::Duration::from_secs(60),
        wire_protocol: edgeship::config::WireProtocol::Json,
        proxy: None,
        ca_file: None,
        iot: None,
        role: None,
    };
    runtime()?.block_on(async {
        let network = edgeship::sink::network::Network::from_settings(&settings)?;
        let sdk = edgeship::sink::aws::sdk_config(&settings, &network).await?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        match edgeship::consume::consume(&sdk, &stream, &mut out).await {
            Ok(summary) => {
                eprintln!(
                    "edgeship: {} records read from {stream:?} ({} Kinesis records, {} KPL aggregates, {} compressed)",
                    summary.printed, summary.records, summary.aggregates, summary.compressed
                );
                if summary.outside_shard_range > 0 {
                    eprintln!(
                        "edgeship: warning: {} aggregated records have a hash key outside the hash range of the shard that stored them; KCL 2.x/3.x consumers silently drop such aggregates",
                        summary.outside_shard_range
                    );
                }
            }
            // `edgeship consume | head` is fine.
            Err(edgeship::consume::ConsumeError::Output(e))
                if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(error) => return Err(error.into()),
        }
        Ok(())
    })
}
