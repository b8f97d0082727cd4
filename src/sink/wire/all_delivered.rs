//! The common answer, read without a JSON parser: a PutRecords / PutRecordBatch response in which
//! every entry succeeded. Parsing those with serde took a fifth of the agent's CPU in `none` mode
//! (one ~90-byte result object per 200-byte line); scanning for the one key each result carries
//! takes a few percent of that. Anything unusual (a failure anywhere, another count of results, a
//! shard id with an escape) returns `None` and the full parser in `response` reads the body, so
//! this path can only ever be a faster way to the same statuses.

use super::super::EntryStatus;
use memchr::memmem;
use std::sync::Arc;

/// What marks each result and the whole answer in one response type.
pub struct Shape {
    /// The key every successful result has, with its opening quote: `"ShardId":"`.
    pub result_key: &'static [u8],
    /// The answer's failure count: `"FailedRecordCount":`.
    pub failed_count_key: &'static [u8],
    /// Whether the result key's value is a shard id to report.
    pub reports_shard: bool,
}

pub const PUT_RECORDS: Shape = Shape {
    result_key: br#""ShardId":""#,
    failed_count_key: br#""FailedRecordCount":"#,
    reports_shard: true,
};

pub const PUT_RECORD_BATCH: Shape = Shape {
    result_key: br#""RecordId":""#,
    failed_count_key: br#""FailedPutCount":"#,
    reports_shard: false,
};

/// `expected` statuses, all delivered, if `body` is an answer in which nothing failed and which
/// holds exactly `expected` results; `None` otherwise. `shard` interns a shard id.
pub fn all_delivered(
    body: &[u8],
    shape: &Shape,
    expected: usize,
    mut shard: impl FnMut(&str) -> Arc<str>,
) -> Option<Vec<EntryStatus>> {
    // A key's bytes cannot occur inside a JSON string (its quotes would be escaped), so
    // every match below is a key.
    if memmem::find(body, br#""ErrorCode""#).is_some() || !reports_no_failure(body, shape) {
        return None;
    }
    let mut statuses = Vec::with_capacity(expected);
    let mut last: Option<(&[u8], Arc<str>)> = None;
    let finder = memmem::Finder::new(shape.result_key);
    for at in finder.find_iter(body) {
        if statuses.len() == expected {
            return None;
        }
        let shard_id = if shape.reports_shard {
            let value = &body[at + shape.result_key.len()..];
            let id = &value[..memchr::memchr(b'"', value)?];
            if id.contains(&b'\\') {
                return None;
            }
            Some(match &last {
                Some((bytes, shared)) if *bytes == id => shared.clone(),
                _ => {
                    let shared = shard(std::str::from_utf8(id).ok()?);
                    last = Some((id, shared.clone()));
                    shared
                }
            })
        } else {
            None
        };
        statuses.push(EntryStatus::Delivered { shard_id });
    }
    (statuses.len() == expected).then_some(statuses)
}

/// The failure count is present and zero (`0` followed by something other than a digit).
fn reports_no_failure(body: &[u8], shape: &Shape) -> bool {
    let Some(at) = memmem::find(body, shape.failed_count_key) else {
        return false;
    };
    let value = &body[at + shape.failed_count_key.len()..];
    value.first() == Some(&b'0') && !value.get(1).is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(id: &str) -> Arc<str> {
        Arc::from(id)
    }

    fn records(ids: &[&str]) -> String {
        let results: Vec<String> = ids
            .iter()
            .map(|id| format!(r#"{{"SequenceNumber":"4959","ShardId":"{id}"}}"#))
            .collect();
        format!(
            r#"{{"FailedRecordCount":0,"Records":[{}],"EncryptionType":"NONE"}}"#,
            results.join(",")
        )
    }

    #[test]
    fn a_clean_answer_gives_one_delivered_status_per_result() {
        let body = records(&["shardId-000000000001", "shardId-000000000001", "shardId-2"]);
        let statuses = all_delivered(body.as_bytes(), &PUT_RECORDS, 3, shared).unwrap();
        let ids: Vec<_> = statuses
            .iter()
            .map(|s| match s {
                EntryStatus::Delivered { shard_id } => shard_id.as_deref().unwrap().to_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            ["shardId-000000000001", "shardId-000000000001", "shardId-2"]
        );
        let batch = r#"{"Encrypted":false,"FailedPutCount":0,"RequestResponses":[{"RecordId":"a/b+c"},{"RecordId":"d"}]}"#;
        assert_eq!(
            all_delivered(batch.as_bytes(), &PUT_RECORD_BATCH, 2, shared),
            Some(vec![EntryStatus::Delivered { shard_id: None }; 2])
        );
    }

    #[test]
    fn anything_unusual_goes_to_the_full_parser() {
        let clean = records(&["s-1", "s-1"]);
        let failed = r#"{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"s-1"},{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"x"}]}"#;
        // A proxy that fails entries without updating the count must not pass for success.
        let miscounted = failed.replace(r#""FailedRecordCount":1"#, r#""FailedRecordCount":0"#);
        let table: [(&str, &str, usize); 8] = [
            ("fewer results than entries", &clean, 3),
            ("more results than entries", &clean, 1),
            ("a failed entry", failed, 2),
            ("a failed entry, count left at 0", &miscounted, 2),
            ("count 10", &clean.replace(":0,", ":10,"), 2),
            (
                "no count",
                &clean.replace(r#""FailedRecordCount":0,"#, ""),
                2,
            ),
            (
                "spaced keys",
                &clean.replace(r#""ShardId":"#, r#""ShardId": "#),
                2,
            ),
            ("escaped id", &clean.replace("s-1", r"s\u002d1"), 2),
        ];
        for (what, body, expected) in table {
            assert_eq!(
                all_delivered(body.as_bytes(), &PUT_RECORDS, expected, shared),
                None,
                "{what}"
            );
        }
    }

    #[test]
    fn agrees_with_the_full_parser_on_every_clean_answer() {
        for n in 0..40 {
            let ids: Vec<String> = (0..n).map(|i| format!("shardId-{:012}", i % 3)).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let body = records(&refs);
            let fast = all_delivered(body.as_bytes(), &PUT_RECORDS, n, shared);
            let full = super::super::response::put_records(body.as_bytes(), n, shared).unwrap();
            assert_eq!(fast, Some(full), "{n} results");
        }
    }
}
