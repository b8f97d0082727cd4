//! Logging to stderr, shaped for where stderr goes. On a terminal: the usual coloured lines. Under
//! systemd (`JOURNAL_STREAM` is set when stderr is the journal) each line starts with the
//! `<N>` syslog priority that journald turns into the entry's priority (ERROR=3, WARN=4,
//! INFO=6, DEBUG/TRACE=7), without a timestamp of its own (the journal adds one). Elsewhere:
//! plain text, no ANSI escapes. `RUST_LOG` overrides the configured level.
//!
//! The filter is `tracing_subscriber`'s `Targets` (`level` and `target=level` directives, the
//! forms the CLI help documents), not `EnvFilter`: span and field directives are the one thing
//! `EnvFilter` adds, and its regex machinery cost 167 KB of binary.

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Prefixes each event with its journald priority.
struct JournalPriority(Format<tracing_subscriber::fmt::format::Full, ()>);

impl<S, N> FormatEvent<S, N> for JournalPriority
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// The syslog priority journald files an event under.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Changes the level of the installed subscriber (a reload of `log_level`); false when
/// `RUST_LOG` decides the filter or no subscriber was installed.
pub fn set_level(level: &str) -> bool {
    match RELOAD.get() {
        Some(reload) if env_filter().is_none() => {
            reload(level);
            true
        }
        _ => false,
    }
}

/// Swaps the filter of the installed subscriber. Global because the subscriber is.
type Reload = Box<dyn Fn(&str) + Send + Sync>;
static RELOAD: std::sync::OnceLock<Reload> = std::sync::OnceLock::new();

/// `RUST_LOG`, when set, not empty and valid.
fn env_filter() -> Option<Targets> {
    let value = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    value.trim().parse().ok()
}

/// The filter for `level`, with the SDK's own logs kept to errors.
fn filter(level: &str) -> Targets {
    // The SDK logs every failed credential or connection attempt at WARN; during an outage of
    // hours that floods the journal. edgeship reports those failures itself, rate-limited and
    // with a hint, so the SDK's own lines are kept to errors.
    let quiet = [
        "aws_config",
        "aws_smithy_runtime",
        "aws_runtime",
        "hyper_util",
        "rustls",
    ];
    let default = level
        .parse()
        .unwrap_or(tracing::level_filters::LevelFilter::INFO);
    Targets::new()
        .with_default(default)
        .with_targets(quiet.map(|target| (target, Level::ERROR)))
}

/// Installs the global subscriber; `level` is the config's `log_level`.
pub fn init(level: &str) {
    let (initial, from_env) = match env_filter() {
        Some(filter) => (filter, true),
        None => (filter(level), false),
    };
    let (reloadable, handle) = tracing_subscriber::reload::Layer::new(initial);
    if !from_env {
        let _ = RELOAD.set(Box::new(move |level| {
            let _ = handle.reload(filter(level));
        }));
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let registry = tracing_subscriber::registry().with(reloadable);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        let format = Format::default()
            .without_time()
            .with_target(false)
            .with_ansi(false);
        let layer = layer.with_ansi(false).event_format(JournalPriority(format));
        let _ = registry.with(layer).try_init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let _ = registry.with(layer.with_ansi(ansi)).try_init();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn levels_map_to_journal_priorities() {
        use tracing::Level;
        assert_eq!(super::priority(Level::ERROR), 3);
        assert_eq!(super::priority(Level::WARN), 4);
        assert_eq!(super::priority(Level::INFO), 6);
        assert_eq!(super::priority(Level::TRACE), 7);
    }

    #[test]
    fn the_configured_level_applies_to_edgeship_and_the_sdk_logs_only_errors() {
        use tracing::Level;
        let filter = super::filter("debug");
        assert!(filter.would_enable("edgeship::sink::deliver", &Level::DEBUG));
        assert!(!filter.would_enable("edgeship::sink::deliver", &Level::TRACE));
        assert!(!filter.would_enable("aws_config::imds::client", &Level::WARN));
        assert!(filter.would_enable("aws_config::imds::client", &Level::ERROR));
        assert!(!filter.would_enable("rustls::conn", &Level::WARN));
    }

    #[test]
    fn rust_log_takes_levels_and_target_directives() {
        use tracing::Level;
        let filter: tracing_subscriber::filter::Targets = "warn,edgeship=trace".parse().unwrap();
        assert!(filter.would_enable("edgeship::tail", &Level::TRACE));
        assert!(!filter.would_enable("hyper_util::client", &Level::INFO));
        assert!(
            "edgeship=loud"
                .parse::<tracing_subscriber::filter::Targets>()
                .is_err()
        );
    }
}
