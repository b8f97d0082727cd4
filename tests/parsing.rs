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
                serde_json::from_slice::<serde_json::Value>(line).unwrap_or_else(|e| {
                    panic!("{name}: not JSON ({e}): {}", String::from_utf8_lossy(line))
                });
            }
        }
        formats.push(name);
    }
    assert_eq!(
        formats.len(),
        11,
        "one golden directory per format: {formats:?}"
    );
}

/// The records sent for `input`, as text.
fn records(keys: &str, input: &str) -> Vec<String> {
    let out = run(&core(keys), input.as_bytes());
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

// One test per Kinesis Agent option (dataProcessingOptions and the framing keys). `append_newline = true` reproduces
// the agent's trailing "\n"; here each record is one line, so it shows as an empty line.

#[test]
fn kinesis_agent_multiline_start_pattern() {
    let core = core("multiline_start = '\\d{4}-'");
    let input = b"2026-01-01 first\n  at x\n2026-01-01 second\n";
    let sample = sample::run(&core, Path::new("/x"), input, 100);
    let got: Vec<&[u8]> = sample.records.iter().map(|(_, r)| r.as_slice()).collect();
    assert_eq!(
        got,
        [b"2026-01-01 first\n  at x".as_slice(), b"2026-01-01 second"]
    );
    // Each record's checkpoint is the end of its last line.
    assert_eq!(sample.records[0].0, 24);
}

#[test]
fn kinesis_agent_skip_header_lines() {
    let got = records("skip_header_lines = 1", "# header\nrow\n");
    assert_eq!(got, ["row"]);
}

#[test]
fn kinesis_agent_truncated_record_terminator() {
    let got = records(
        "max_record_bytes = 64\ntruncated_record_terminator = '<cut>'",
        &format!("{}\n", "y".repeat(100)),
    );
    assert_eq!(got, [format!("{}<cut>", "y".repeat(59))]);
}

#[test]
fn kinesis_agent_singleline_trim_no_trim_and_escape_new_line() {
    let input = "{\n  \"a\": 1\n}\n";
    let start = "multiline_start = '\\{'\nformat = \"single_line\"\nappend_newline = true";
    assert_eq!(records(start, input), ["{\"a\": 1}", ""]);
    let no_trim = format!("{start}\nsingle_line_trim = false");
    assert_eq!(records(&no_trim, input), ["{  \"a\": 1}", ""]);
    let escape = format!("{start}\nsingle_line_escape_newlines = true");
    assert_eq!(records(&escape, input), ["{\\n\"a\": 1\\n}", ""]);
}

#[test]
fn kinesis_agent_csvtojson() {
    let keys = "format = \"csv\"\nfield_names = [\"field1\", \"field2\", \"field3\"]\ncsv_delimiter = \"\\t\"";
    let got = records(keys, "a\tb\tc\nonly\n");
    assert_eq!(got[0], r#"{"field1":"a","field2":"b","field3":"c"}"#);
    // Missing columns are null, as in the agent.
    assert_eq!(got[1], r#"{"field1":"only","field2":null,"field3":null}"#);
    // Different on purpose: RFC 4180 quoting (the agent splits inside quotes).
    let quoted = records(
        "format = \"csv\"\nfield_names = [\"a\", \"b\"]",
        "\"x,y\",z\n",
    );
    assert_eq!(quoted, [r#"{"a":"x,y","b":"z"}"#]);
}

#[test]
fn kinesis_agent_logtojson_commonapachelog() {
    let got = records(
        "format = \"apache_common\"",
        "64.242.88.10 - - [07/Mar/2004:16:10:02 -0800] \"GET /mailman/listinfo/hsdivision HTTP/1.1\" 200 6291\n",
    );
    assert_eq!(
        got,
        [
            r#"{"host":"64.242.88.10","ident":null,"authuser":null,"datetime":"07/Mar/2004:16:10:02 -0800","request":"GET /mailman/listinfo/hsdivision HTTP/1.1","response":"200","bytes":"6291"}"#
        ]
    );
}

#[test]
fn kinesis_agent_logtojson_combinedapachelog() {
    let got = records(
        "format = \"apache_combined\"",
        "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n",
    );
    let v = json(&got[0]);
    assert_eq!(v["referer"], "http://www.example.com/start.html");
    assert_eq!(v["agent"], "Mozilla/4.08 [en] (Win98; I ;Nav)");
    assert_eq!(v["response"], "200", "values are strings, as in the agent");
}

#[test]
fn kinesis_agent_logtojson_apacheerrorlog() {
    let got = records(
        "format = \"apache_error\"",
        "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico\n",
    );
    assert_eq!(
        got,
        [
            r#"{"timestamp":"Fri Sep 09 10:42:29.902022 2011","module":"core","severity":"error","processid":"35708","threadid":"4328636416","client":"72.15.99.187","message":"File does not exist: /usr/local/apache2/htdocs/favicon.ico"}"#
        ]
    );
}

#[test]
fn kinesis_agent_logtojson_syslog() {
    let got = records(
        "format = \"syslog\"",
        "Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds)\n",
    );
    assert_eq!(
        got,
        [
            r#"{"timestamp":"Mar 12 12:00:08","hostname":"server2","program":"rcd","processid":"308","message":"Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds)"}"#
        ]
    );
}

#[test]
fn kinesis_agent_logtojson_rfc3339syslog() {
    let got = records(
        "format = \"rfc3339_syslog\"",
        "2026-11-28T14:02:03.123+00:00 server2 rcd[308]: Loaded\n",
    );
    assert_eq!(
        got,
        [
            r#"{"timestamp":"2026-11-28T14:02:03.123+00:00","hostname":"server2","program":"rcd","processid":"308","message":"Loaded"}"#
        ]
    );
}

#[test]
fn kinesis_agent_logtojson_match_pattern_with_custom_field_names() {
    let keys = r#"format = "regex"
pattern = '^([\d.]+) - - \[([\w:/]+).*\] "(\w+) /(\w+).*(\d.+)" (\d{3}) (\d+|-)'
field_names = ["host", "timestamp", "method", "path", "protocol", "status", "bytes"]"#;
    let got = records(
        keys,
        "123.45.67.89 - - [27/Oct/2000:09:27:09 -0400] \"GET /java/javaResources.html HTTP/1.0\" 200 10450\n",
    );
    let v = json(&got[0]);
    assert_eq!(v["host"], "123.45.67.89");
    assert_eq!(v["timestamp"], "27/Oct/2000:09:27:09");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "java");
    assert_eq!(v["status"], "200");
    assert_eq!(v["bytes"], "10450");
}

#[test]
fn kinesis_agent_logtojson_custom_field_names_rename_builtin_fields() {
    let keys = "format = \"syslog\"\nfield_names = [\"ts\", \"host\", \"app\", \"pid\", \"msg\"]";
    let got = records(keys, "Mar 12 12:00:08 server2 rcd[308]: hi\n");
    assert_eq!(
        got,
        [r#"{"ts":"Mar 12 12:00:08","host":"server2","app":"rcd","pid":"308","msg":"hi"}"#]
    );
}

/// The agent drops a line LOGTOJSON cannot match (its most reported support problem);
/// edgeship sends it raw by default, and drops it only when asked, counting it.
#[test]
fn kinesis_agent_logtojson_non_matching_line() {
    let input = "not apache\n";
    assert_eq!(
        records("format = \"apache_common\"", input),
        [r#"{"unparsed":"not apache"}"#]
    );
    let core = core("format = \"apache_common\"\non_failure = \"drop\"");
    let sample = sample::run(&core, Path::new("/x"), input.as_bytes(), 10);
    assert!(sample.records.is_empty());
    assert_eq!(sample.failures.len(), 1, "counted, not silent");
}

#[test]
fn kinesis_agent_addmetadata() {
    let keys = "metadata_envelope = true\nadd_read_time = true\nfields = { key = \"value\", foo = { bar = \"baz\" } }";
    let got = records(keys, "the line\n");
    let v = json(&got[0]);
    assert_eq!(v["data"], "the line");
    assert_eq!(
        v["metadata"],
        json(r#"{"foo":{"bar":"baz"},"key":"value"}"#)
    );
    let ts = v["ts"].as_str().unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
        "ISO-8601 with ms: {ts}"
    );
}

#[test]
fn kinesis_agent_addec2metadata_from_imdsv2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            use std::io::{Read, Write};
            let mut stream = stream.unwrap();
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while !buf.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                buf.push(byte[0]);
            }
            let request = String::from_utf8_lossy(&buf);
            let body = if request.starts_with("PUT /latest/api/token") {
                "TOKEN".to_owned()
            } else if request.contains("X-aws-ec2-metadata-token: TOKEN") {
                r#"{"instanceId":"i-0abc","region":"eu-west-1","availabilityZone":"eu-west-1a","instanceType":"t4g.nano","accountId":"123456789012","imageId":"ami-1","privateIp":"10.0.0.9"}"#.to_owned()
            } else {
                String::new()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    // SAFETY: no other test of this binary reads this variable.
    unsafe {
        std::env::set_var(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
    };
    let ec2 = edgeship::parse::ec2::Ec2Metadata::spawn(std::time::Duration::from_secs(3600));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ec2.fields().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let spec = core("format = \"apache_common\"").spec;
    let core = ParseCore::new(spec, Some(ec2));
    let out = run(
        &core,
        b"1.2.3.4 - - [07/Mar/2004:16:10:02 -0800] \"GET / HTTP/1.1\" 200 1\n",
    );
    let v = json(String::from_utf8(out).unwrap().trim_end());
    assert_eq!(v["host"], "1.2.3.4");
    assert_eq!(v["instanceId"], "i-0abc");
    assert_eq!(v["amiId"], "ami-1");
    assert_eq!(v["availabilityZone"], "eu-west-1a");
    assert!(v["metadataTimestamp"].is_string());
}

#[test]
fn ec2_metadata_never_blocks_when_imds_is_unreachable() {
    let ec2 = edgeship::parse::ec2::Ec2Metadata::default();
    let spec = core("format = \"json\"").spec;
    let core = ParseCore::new(spec, Some(ec2));
    let out = run(&core, b"{\"a\":1}\n");
    assert_eq!(out, b"{\"a\":1}\n");
}

mod random_input {
    use super::*;
    use proptest::prelude::*;

    const FORMATS: &[(&str, bool)] = &[
        ("format = \"line\"", false),
        ("format = \"single_line\"\nmultiline_start = '\\S'", false),
        ("format = \"csv\"\ncsv_header = true", true),
        ("format = \"json\"\nadd_offset = true", true),
        (
            "format = \"regex\"\npattern = '(?P<a>\\w+) (?P<b>.*)'",
            true,
        ),
        (
            "format = \"apache_common\"\ntypes = { response = \"int\" }",
            true,
        ),
        (
            "format = \"apache_combined\"\ntimestamp_field = \"datetime\"",
            true,
        ),
        ("format = \"apache_error\"", true),
        ("format = \"syslog\"\ntimestamp_field = \"timestamp\"", true),
        ("format = \"syslog_rfc5424\"", true),
        ("format = \"rfc3339_syslog\"", true),
        (
            "multiline_continue = '\\s'\nmax_record_bytes = 100\ntruncated_record_terminator = \"...\"\nadd_file = true",
            true,
        ),
    ];

    /// Log-like bytes: the punctuation the parsers branch on, digits, spaces, newlines, and
    /// some bytes that are not UTF-8.
    fn loggy() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                &b" "[..],
                b"\n",
                b"\r\n",
                b"-",
                b"[",
                b"]",
                b"\"",
                b"\\",
                b":",
                b"<",
                b">",
                b"{",
                b"}",
                b",",
                b"1",
                b"2026-11-28T14:02:03Z",
                b"Nov 28 14:02:03",
                b"[10/Oct/2000:13:55:36 -0700]",
                b"\"GET / HTTP/1.1\"",
                b"200",
                b"\xff",
                b"\xc3",
                b"\xe6\x97\xa5",
                b"<34>1 ",
                b"[pid 1:tid 2]",
                b"host app[12]: ",
            ])
            .prop_map(|s| s.to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ];
        prop::collection::vec(piece, 0..60).prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn every_format_survives_random_input(input in loggy()) {
            for (keys, structured) in FORMATS {
                let core = core(keys);
                let sample = sample::run(&core, Path::new("/x"), &input, usize::MAX);
                let mut last = 0;
                for (next_offset, record) in &sample.records {
                    prop_assert!(*next_offset >= last && *next_offset as usize <= input.len());
                    last = *next_offset;
                    if *structured {
                        prop_assert!(
                            serde_json::from_slice::<serde_json::Value>(record).is_ok(),
                            "{keys}: not JSON: {:?}", String::from_utf8_lossy(record)
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn validate_sample_shows_what_each_flow_sends_and_why_lines_fail() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("edgeship.toml");
    std::fs::write(
        &config,
        "[[flow]]\nname = \"web\"\npaths = [\"/var/log/web/*.log\"]\nkinesis_stream = \"s\"\n[flow.parse]\nformat = \"apache_common\"\n\n[[flow]]\nname = \"raw\"\npaths = [\"/var/log/raw/*.log\"]\nkinesis_stream = \"s\"\n",
    )
    .unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(
        &log,
        "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1\nnot an access log\nthird line\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_edgeship"))
        .args(["validate", "--config"])
        .arg(&config)
        .arg("--sample")
        .arg(&log)
        .args(["--lines", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(r#"sends (up to byte 64): {"host":"1.2.3.4""#),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILS at byte 64: expected [datetime] at byte 14"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("third line"),
        "only --lines lines: {stdout}"
    );
    assert!(stdout.contains("flow \"raw\": no [flow.parse]"), "{stdout}");
}

/// The example at the top of README "Parsing".
#[test]
fn readme_example_output() {
    let keys = "format = \"apache_combined\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"datetime\"\nexclude = ['GET /healthz']\nadd_host = true";
    let input = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326 \"-\" \"curl/8.5.0\"\n10.0.0.1 - - [10/Oct/2000:13:55:37 -0700] \"GET /healthz HTTP/1.0\" 200 2 \"-\" \"kube-probe\"\n";
    let got = records(keys, input);
    assert_eq!(got.len(), 1, "the health check is excluded");
    let (record, host) = got[0].split_once(r#","_host":"#).unwrap();
    assert_eq!(
        record,
        r#"{"host":"127.0.0.1","ident":null,"authuser":"frank","datetime":"2000-10-10T13:55:36-07:00","request":"GET /a.gif HTTP/1.0","response":200,"bytes":2326,"referer":null,"agent":"curl/8.5.0""#
    );
    assert!(host.starts_with('"') && host.ends_with("\"}"), "{host}");
}
