#![no_main]
//! `import-kinesis-agent`: never panics, and whatever it converts is valid TOML.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/nonexistent/agent.json");
    if let Ok(converted) = edgeship::import::convert(path, text, false) {
        toml::from_str::<toml::Table>(&converted).expect("the importer writes valid TOML");
    }
});
