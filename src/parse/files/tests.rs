use super::*;
use crate::parse::raw::RawParse;
use crate::parse::spec::ParseSpec;
use std::time::Duration;

/// The spec of `[flow.parse]` with these keys, with the line limit of a default Streams flow.
pub(crate) fn spec(parse_keys: &str) -> Arc<ParseSpec> {
    let raw: RawParse = toml::from_str(&parse_keys.replace("[[flow.parse.", "[[")).unwrap();
    let max_line = crate::kinesis::limits::KINESIS_DEFAULT_RECORD_BYTES
        - crate::kinesis::limits::KINESIS_MAX_PARTITION_KEY_BYTES as u64
        - 1;
    Arc::new(ParseSpec::from_raw(&raw, max_line).unwrap())
}

fn parser(keys: &str) -> FileParser {
    FileParser::new(ParseCore::new(spec(keys), None), 1 << 20)
}

/// A chunk of `lines` (each + "\n") starting at `start` in file inode 1.
fn chunk(start: u64, lines: &[&str]) -> Chunk {
    let mut data = Vec::new();
    let mut out = Vec::new();
    for line in lines {
        let begin = data.len() as u32;
        data.extend_from_slice(line.as_bytes());
        out.push(Line {
            start: begin,
            end: data.len() as u32,
            next_offset: start + data.len() as u64 + 1,
        });
        data.push(b'\n');
    }
    Chunk {
        file: Arc::new(FileRef {
            key: FileKey { dev: 1, inode: 1 },
            path: "/l/a.log".into(),
            head: None,
        }),
        mark: None,
        end_offset: start + data.len() as u64,
        data: data.into(),
        lines: out,
        start_offset: start,
        released: false,
    }
}

fn texts(chunk: &Chunk) -> Vec<String> {
    chunk
        .lines
        .iter()
        .map(|l| String::from_utf8_lossy(chunk.line(l)).into_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_held_multiline_record_holds_the_checkpoint_at_its_first_line() {
    let mut p = parser("multiline_start = '^\\d'\nmultiline_flush = \"2s\"");
    let mut report = Report::default();
    let out = p.push(
        &chunk(0, &["1 a", " x", "2 b", " y"]),
        Instant::now(),
        &mut report,
    );
    assert_eq!(texts(&out), ["1 a\n x"]);
    assert_eq!(
        out.lines[0].next_offset, 7,
        "the record ends after its last line"
    );
    assert_eq!(
        out.end_offset, 7,
        "progress stops where the held record starts"
    );
    assert_eq!(report.lines_absorbed, 1);

    // Nothing due yet; then the flush timeout sends the held record with the file's progress.
    assert!(p.flush(Some(Instant::now()), &mut report).is_empty());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(p.deadline(), Some(Instant::now()));
    let flushed = p.flush(Some(Instant::now()), &mut report);
    assert_eq!(texts(&flushed[0]), ["2 b\n y"]);
    assert_eq!(flushed[0].end_offset, 14);
    assert_eq!(p.deadline(), None);
}

#[tokio::test(start_paused = true)]
async fn a_released_file_flushes_its_held_record() {
    let mut p = parser("multiline_start = '^\\d'");
    let mut report = Report::default();
    let mut c = chunk(0, &["1 a", " x"]);
    c.released = true;
    let out = p.push(&c, Instant::now(), &mut report);
    assert_eq!(texts(&out), ["1 a\n x"]);
    assert_eq!(out.end_offset, 7);
    assert!(out.released);
}

#[tokio::test(start_paused = true)]
async fn header_lines_are_skipped_only_from_offset_zero() {
    let mut report = Report::default();
    let mut p = parser("skip_header_lines = 2");
    let out = p.push(
        &chunk(0, &["h1", "h2", "data"]),
        Instant::now(),
        &mut report,
    );
    assert_eq!(texts(&out), ["data"]);
    assert_eq!(out.end_offset, 11);
    let mut p = parser("skip_header_lines = 2");
    let out = p.push(&chunk(100, &["x", "y"]), Instant::now(), &mut report);
    assert_eq!(texts(&out), ["x", "y"]);
}

#[tokio::test(start_paused = true)]
async fn csv_header_names_the_columns_of_its_file() {
    let mut report = Report::default();
    let mut p = parser("format = \"csv\"\ncsv_header = true");
    let out = p.push(
        &chunk(0, &["id,name", "1,\"a, b\""]),
        Instant::now(),
        &mut report,
    );
    assert_eq!(texts(&out), [r#"{"id":"1","name":"a, b"}"#]);
}

#[tokio::test(start_paused = true)]
async fn failure_policies_send_raw_drop_and_count() {
    let mut report = Report::default();
    let mut p = parser("format = \"json\"");
    let out = p.push(
        &chunk(0, &["{\"a\":1}", "oops"]),
        Instant::now(),
        &mut report,
    );
    assert_eq!(texts(&out), ["{\"a\":1}", "{\"unparsed\":\"oops\"}"]);
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].written);

    let mut report = Report::default();
    let mut p = parser("format = \"json\"\non_failure = \"drop\"");
    let out = p.push(
        &chunk(0, &["{\"a\":1}", "oops"]),
        Instant::now(),
        &mut report,
    );
    assert_eq!(texts(&out), ["{\"a\":1}"]);
    assert_eq!((report.failures.len(), report.lines_absorbed), (1, 1));
    assert_eq!(
        out.end_offset, 13,
        "a dropped record's bytes are still checkpointed"
    );
}

#[tokio::test(start_paused = true)]
async fn filters_redaction_and_metadata() {
    let mut report = Report::default();
    let mut p = parser(
        "exclude = ['health']\nadd_file = true\nadd_offset = true\nfields = { env = \"prod\" }\n[[flow.parse.redact]]\npattern = 'pw=\\S+'\nreplacement = 'pw=***'",
    );
    let out = p.push(
        &chunk(0, &["GET /health", "login pw=hunter2 ok"]),
        Instant::now(),
        &mut report,
    );
    assert_eq!(
        texts(&out),
        [r#"{"message":"login pw=*** ok","env":"prod","_file":"/l/a.log","_offset":12}"#]
    );
    assert_eq!(report.filtered, 1);
}

/// The tailer marks the bytes before a chunk's end for the checkpoint; when progress is cut back
/// to a held record's start, the mark must describe that offset instead.
#[tokio::test(start_paused = true)]
async fn the_checkpoint_mark_follows_the_progress_actually_reported() {
    use crate::tail::Mark;
    let mut p = parser("multiline_start = '^\\d'");
    let mut report = Report::default();
    let mut c = chunk(0, &["1 a", " x", "2 b"]);
    c.mark = Some(Mark::ending(c.end_offset, &c.data));
    let tail_mark = c.mark;
    let out = p.push(&c, Instant::now(), &mut report);
    assert_eq!(out.end_offset, 7);
    assert_eq!(out.mark, Some(Mark::ending(7, &c.data[..7])));
    tokio::time::advance(Duration::from_secs(5)).await;
    let flushed = p.flush(Some(Instant::now()), &mut report);
    assert_eq!(flushed[0].end_offset, 11);
    assert_eq!(
        flushed[0].mark, tail_mark,
        "the flush reaches the tailer's own mark"
    );
}

#[tokio::test(start_paused = true)]
async fn failures_carry_the_redacted_record() {
    let mut report = Report::default();
    let mut p = parser(
        "format = \"json\"\non_failure = \"drop\"\n[[flow.parse.redact]]\npattern = 'pw=\\S+'",
    );
    p.push(&chunk(0, &["oops pw=hunter2"]), Instant::now(), &mut report);
    assert_eq!(report.failures[0].record, b"oops [REDACTED]");
}

#[tokio::test(start_paused = true)]
async fn an_output_over_the_record_limit_stays_valid_json() {
    let mut report = Report::default();
    let core = ParseCore::new(spec("add_file = true"), None);
    let mut p = FileParser::new(core, 100);
    let line = "\"".repeat(90);
    let out = p.push(&chunk(0, &[&line]), Instant::now(), &mut report);
    let record = out.line(&out.lines[0]);
    assert!(record.len() <= 100, "{}", record.len());
    let value: serde_json::Value = serde_json::from_slice(record).unwrap();
    assert_eq!(value["truncated"], true);
    assert_eq!(report.truncated, 1);
}
