//! Golden tests of every format (`tests/golden/<format>/{parse.toml,input.log,expected.jsonl}`)
//! and one test per Kinesis Agent option, all through the same code the parse stage runs.
//! `UPDATE_GOLDEN=1 cargo test --test parsing` rewrites the expected files (review the diff).

use edgeship::config::Config;
use edgeship::parse::{ParseCore, sample};
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// A parser from `[flow.parse]` keys (and optional extra `[[flow]]` keys before them).
pub fn core(parse_keys: &str) -> ParseCore {
    let text = format!(
        "[[flow]]\nname = \"t\"\npaths = [\"/var/log/t.log\"]\nkinesis_stream = \"s\"\n[flow.parse]\n{parse_keys}\n"
    );
    let config = Config::parse(&text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"));
    ParseCore::new(config.flows[0].parse.clone().unwrap(), None)
}

/// Every record the parser sends for `input`, one per line.
fn run(core: &ParseCore, input: &[u8]) -> Vec<u8> {
    let sample = sample::run(core, Path::new("/var/log/t.log"), input, usize::MAX);
    let mut out = Vec::new();
    for (_, record) in sample.records {
        out.extend_from_slice(&record);
        out.push(b'\n');
    }
    out
}

#[test]
fn golden_outputs_per_format() {
    let mut formats = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let keys = std::fs::read_to_string(dir.join("parse.toml")).unwrap();
        let input = std::fs::read(dir.join("input.log")).unwrap();
        let got = run(&core(&keys), &input);
        let expected_path = dir.join("expected.jsonl");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read(&expected_path).unwrap();
        assert!(
            got == expected,
            "{name}: output differs from {}:\n{}",
            expected_path.display(),
            String::from_utf8_lossy(&got)
        );
        if !matches!(name.as_str(), "line" | "single_line") {
            for line in got.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                serde_json::from_slice::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", String::from_utf8_lossy(line)));
            }
        }
        formats.push(name);
    }
    assert_eq!(formats.len(), 11, "one golden directory per format: {formats:?}");
}
