//! The command line's definition, in the library so the packaging step can generate the man
//! pages and shell completions from it (`packaging/assets.rs`) without adding their generators
//! to the binary.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub const DEFAULT_CONFIG: &str = "/etc/edgeship/edgeship.toml";

/// The long help's (and the man page's) account of files, signals, exit codes and environment.
const ABOUT_RUNNING: &str = "\
Files:
  /etc/edgeship/edgeship.toml
      The config (--config, EDGESHIP_CONFIG). An annotated example is
      /usr/share/doc/edgeship/edgeship.toml.example.
  /var/lib/edgeship/
      state_dir: checkpoints.json (what AWS acknowledged, per file) and
      the spool of deleted files' unshipped lines.

Signals (run):
  SIGHUP
      Reload the config: changed flows restart from their checkpoints.
  SIGTERM, SIGINT
      Stop reading, flush, wait up to shutdown_timeout for AWS, write
      the final checkpoint. A second signal abandons in-flight requests
      (they are sent again after the restart).

Exit status:
  0 success, 78 a configuration error (the message names the key),
  1 anything else.

Environment:
  EDGESHIP_CONFIG   the config file
  AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ...
                    the AWS SDK's usual settings
  AWS_ENDPOINT_URL  an endpoint override (e.g. a local emulator)
  RUST_LOG          a log filter overriding log_level (edgeship=debug)";

#[derive(Parser)]
#[command(
    name = "edgeship",
    version,
    about = "Ships log files to Amazon Kinesis Data Streams and Firehose, at least once",
    after_long_help = ABOUT_RUNNING
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run in the foreground until SIGTERM/SIGINT.
    Run {
        /// Config file.
        #[arg(long, short, env = "EDGESHIP_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Check the config and list the files each flow matches now; non-zero exit on error.
    Validate {
        /// Config file.
        #[arg(long, short, env = "EDGESHIP_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Also show what each flow with [flow.parse] would send for the first lines of this
        /// file, and which lines fail to parse and why.
        #[arg(long, value_name = "FILE")]
        sample: Option<PathBuf>,
        /// How many lines of the sample file to parse.
        #[arg(long, default_value_t = 20, requires = "sample")]
        lines: usize,
    },
    /// Resolve each flow's credentials and describe its stream (DescribeStreamSummary,
    /// DescribeDeliveryStream), then say per flow what works and what to fix. Ships nothing;
    /// exit 1 if a flow cannot ship.
    Check {
        /// Config file.
        #[arg(long, short, env = "EDGESHIP_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Measure how fast each flow's files grow, then print per aggregation mode the records,
    /// shards, PUT payload units and monthly cost (provisioned, on-demand, Firehose).
    Plan {
        /// Config file.
        #[arg(long, short, env = "EDGESHIP_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// How long to measure, e.g. "60s".
        #[arg(long = "for", value_parser = humantime::parse_duration, default_value = "60s")]
        duration: std::time::Duration,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// A TOML file overriding the built-in us-east-1 prices (keys: taken, shard_hour,
        /// put_units_per_million, on_demand_stream_hour, on_demand_per_gb, firehose_per_gb).
        #[arg(long, value_name = "FILE")]
        prices: Option<PathBuf>,
        /// Read the rates from a running agent's metrics endpoint instead of the files, e.g.
        /// http://127.0.0.1:9898/metrics (no compression ratio then: gzip_ratio is 1).
        #[arg(long, value_name = "URL")]
        metrics: Option<String>,
    },
    /// Write realistic log lines at a chosen rate into a file, for load tests: every format
    /// the parsers read, or a template with Kinesis-Data-Generator-style placeholders.
    Generate(GenerateArgs),
    /// Convert a Kinesis Agent agent.json (and the agent.d/ directory beside it) to edgeship
    /// TOML on stdout, with a comment for every setting that is not mapped exactly.
    ImportKinesisAgent {
        /// Path of agent.json, e.g. /etc/aws-kinesis/agent.json.
        path: PathBuf,
    },
    /// Show every file's acknowledged offset, size and lag (and live figures if [metrics] is on).
    Status {
        /// Config file.
        #[arg(long, short, env = "EDGESHIP_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print every record of a Kinesis stream (all shards, from the oldest), one per line.
    Consume {
        /// Stream name.
        #[arg(long)]
        stream: String,
        /// AWS region (default: AWS_REGION / profile).
        #[arg(long)]
        region: Option<String>,
        /// Endpoint override (default: AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_KINESIS).
        #[arg(long)]
        endpoint_url: Option<String>,
    },
}

/// `edgeship generate`'s options.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// apache_combined, apache_common, syslog, syslog_rfc5424, json, csv or template.
    #[arg(long)]
    pub format: String,
    /// Lines per second, e.g. 500 or 0.5.
    #[arg(long)]
    pub rate: f64,
    /// How long to write, e.g. "60s" or "10m"; rate x duration lines in all.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// The file to append to (created if missing).
    #[arg(long)]
    pub output: PathBuf,
    /// Rename the file to FILE.1, FILE.2, ... and start a new one this often (like
    /// logrotate's `create`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub rotate_every: Option<std::time::Duration>,
    /// Pad each line to this many bytes (without the newline) in its free text.
    #[arg(long)]
    pub line_bytes: Option<usize>,
    /// Same seed, same bytes (line times then start at 2026-01-01T00:00:00Z).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Put each line's number (seq0, seq1, ...) in its free text, to check that every line
    /// arrived, once.
    #[arg(long)]
    pub numbered: bool,
    /// With --format template: the line, e.g. '{"user":"u{{random.number(1,50)}}","at":"{{date.now}}"}'.
    #[arg(long)]
    pub template: Option<String>,
}
