//! Shared checks for the fuzz targets: a parser must never panic, every structured record it
//! sends must be one valid JSON value, and record offsets must move forward.

use edgeship::config::Config;
use edgeship::parse::{ParseCore, sample};
use std::path::Path;

/// A parser for `[flow.parse]` keys (built once per target).
pub fn core(keys: &str) -> ParseCore {
    let text = format!(
        "[[flow]]\nname = \"f\"\npaths = [\"/var/log/f.log\"]\nkinesis_stream = \"s\"\n[flow.parse]\n{keys}\n"
    );
    let config = Config::parse(&text, Path::new("fuzz.toml")).expect("fuzz config");
    ParseCore::new(config.flows[0].parse.clone().expect("parse table"), None)
}

/// Runs `data` through `core`; `structured`: records must be JSON.
pub fn check(core: &ParseCore, data: &[u8], structured: bool) {
    let sample = sample::run(core, Path::new("/var/log/f.log"), data, usize::MAX);
    let mut last = 0;
    for (next_offset, record) in &sample.records {
        assert!(*next_offset >= last, "offsets go backwards");
        assert!(*next_offset as usize <= data.len());
        last = *next_offset;
        if structured {
            serde_json::from_slice::<serde_json::Value>(record).expect("a record is valid JSON");
        }
    }
}

/// Defines a fuzz target for one format.
#[macro_export]
macro_rules! format_target {
    ($keys:expr, $structured:expr) => {
        static CORE: std::sync::OnceLock<edgeship::parse::ParseCore> = std::sync::OnceLock::new();
        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            let core = CORE.get_or_init(|| edgeship_fuzz::core($keys));
            edgeship_fuzz::check(core, data, $structured);
        });
    };
}
