//! Reading PutRecords / PutRecordBatch responses and `awsJson1.1` error responses. An answer in
//! which nothing failed is scanned (`all_delivered`); any other is parsed here in full, each
//! shard id interned by the caller.

use super::super::{EntryStatus, SendError};
use super::all_delivered::{PUT_RECORD_BATCH, PUT_RECORDS, all_delivered};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Deserialize)]
struct PutRecordsOutput<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<ResultEntry<'a>>,
}

#[derive(Deserialize)]
struct PutRecordBatchOutput<'a> {
    #[serde(rename = "RequestResponses", borrow)]
    responses: Vec<ResultEntry<'a>>,
}

#[derive(Deserialize)]
struct ResultEntry<'a> {
    #[serde(rename = "ShardId", borrow, default)]
    shard_id: Option<Cow<'a, str>>,
    #[serde(rename = "ErrorCode", borrow, default)]
    error_code: Option<Cow<'a, str>>,
    #[serde(rename = "ErrorMessage", borrow, default)]
    error_message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(rename = "Message", borrow, default)]
    message_capitalised: Option<Cow<'a, str>>,
}

/// One status per entry of a successful PutRecords response to a request of `entries` records;
/// `shard` turns a shard id into the caller's shared copy of it.
pub fn put_records(
    body: &[u8],
    entries: usize,
    mut shard: impl FnMut(&str) -> Arc<str>,
) -> Result<Vec<EntryStatus>, SendError> {
    if let Some(statuses) = all_delivered(body, &PUT_RECORDS, entries, &mut shard) {
        return Ok(statuses);
    }
    let output: PutRecordsOutput = serde_json::from_slice(body).map_err(unreadable)?;
    Ok(output
        .records
        .into_iter()
        .map(|entry| status(entry, &mut shard))
        .collect())
}

/// One status per entry of a successful PutRecordBatch response to `entries` records.
pub fn put_record_batch(body: &[u8], entries: usize) -> Result<Vec<EntryStatus>, SendError> {
    if let Some(statuses) = all_delivered(body, &PUT_RECORD_BATCH, entries, |id| Arc::from(id)) {
        return Ok(statuses);
    }
    let output: PutRecordBatchOutput = serde_json::from_slice(body).map_err(unreadable)?;
    Ok(output
        .responses
        .into_iter()
        // Firehose has no shards: a ShardId in its answer would be ignored.
        .map(|entry| {
            status(
                ResultEntry {
                    shard_id: None,
                    ..entry
                },
                &mut |id: &str| Arc::from(id),
            )
        })
        .collect())
}

fn status(entry: ResultEntry, shard: &mut impl FnMut(&str) -> Arc<str>) -> EntryStatus {
    match entry.error_code {
        Some(code) => EntryStatus::Failed {
            code: code.into_owned(),
            message: entry.error_message.map(Cow::into_owned).unwrap_or_default(),
        },
        None => EntryStatus::Delivered {
            shard_id: entry.shard_id.as_deref().map(&mut *shard),
        },
    }
}

/// The error of a non-2xx response: the code from `x-amzn-ErrorType` or the body's `__type`,
/// without the namespace (`com.amazonaws.kinesis.v20131202#`) or the trailing `:http://…`.
pub fn error(status: u16, error_type_header: Option<&str>, body: &[u8], cbor: bool) -> SendError {
    let (kind, message) = if cbor {
        super::cbor::error_fields(body)
    } else {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => (
                parsed.kind.map(Cow::into_owned),
                parsed
                    .message
                    .or(parsed.message_capitalised)
                    .map(Cow::into_owned),
            ),
            Err(_) => (None, None),
        }
    };
    let code = error_type_header
        .filter(|header| !header.is_empty())
        .or(kind.as_deref())
        .map(bare_code)
        .filter(|code| !code.is_empty());
    let message = message
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    let code = code.map(str::to_owned).unwrap_or_else(|| match status {
        413 => "RequestEntityTooLarge".to_owned(),
        s if s >= 500 => "ServiceUnavailable".to_owned(),
        s => format!("Http{s}"),
    });
    SendError::new(code, message, Some(status))
}

/// As the awsJson protocols specify: the part before the first `:`, then after the first `#`.
fn bare_code(raw: &str) -> &str {
    let before_colon = raw.split(':').next().unwrap_or(raw);
    let code = before_colon
        .split_once('#')
        .map_or(before_colon, |(_, code)| code);
    code.trim()
}

fn unreadable(error: serde_json::Error) -> SendError {
    SendError::new(
        "ResponseError",
        format!("the response could not be read: {error}"),
        Some(200),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_records_statuses_follow_the_entries() {
        let body = br#"{"FailedRecordCount":1,"Records":[
            {"SequenceNumber":"1","ShardId":"shardId-000000000001"},
            {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard"}
        ],"EncryptionType":"NONE"}"#;
        let statuses = put_records(body, 2, |id: &str| Arc::from(id)).unwrap();
        assert_eq!(
            statuses,
            vec![
                EntryStatus::Delivered {
                    shard_id: Some(Arc::from("shardId-000000000001"))
                },
                EntryStatus::Failed {
                    code: "ProvisionedThroughputExceededException".into(),
                    message: "Rate exceeded for shard".into()
                },
            ]
        );
    }

    #[test]
    fn put_record_batch_statuses_follow_the_entries() {
        let body = br#"{"FailedPutCount":1,"Encrypted":false,"RequestResponses":[
            {"RecordId":"abc"},{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"slow \"down\""}]}"#;
        let statuses = put_record_batch(body, 2).unwrap();
        assert_eq!(statuses[0], EntryStatus::Delivered { shard_id: None });
        assert_eq!(
            statuses[1],
            EntryStatus::Failed {
                code: "ServiceUnavailableException".into(),
                message: "slow \"down\"".into()
            }
        );
        assert_eq!(
            put_record_batch(b"<html>", 1).unwrap_err().code,
            "ResponseError"
        );
    }

    #[test]
    fn error_codes_are_read_from_header_or_body() {
        type Case<'a> = (u16, Option<&'a str>, &'a [u8], &'a str, &'a str);
        let table: [Case; 6] = [
            (
                400,
                Some("ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.kinesis/"),
                br#"{"__type":"ResourceNotFoundException","message":"Stream web not found"}"#,
                "ResourceNotFoundException",
                "Stream web not found",
            ),
            (
                400,
                None,
                br#"{"__type":"com.amazonaws.kinesis.v20131202#AccessDeniedException","Message":"no"}"#,
                "AccessDeniedException",
                "no",
            ),
            (
                403,
                None,
                br#"{"message":"The security token included in the request is invalid."}"#,
                "Http403",
                "The security token included in the request is invalid.",
            ),
            (503, None, b"Service Unavailable", "ServiceUnavailable", "Service Unavailable"),
            (413, None, b"", "RequestEntityTooLarge", ""),
            (400, Some(""), br#"{"__type":"SerializationException"}"#, "SerializationException", "{\"__type\":\"SerializationException\"}"),
        ];
        for (status, header, body, code, message) in table {
            let error = error(status, header, body, false);
            assert_eq!(
                (error.code.as_str(), error.message.as_str()),
                (code, message)
            );
            assert_eq!(error.http_status, Some(status));
        }
    }

    #[test]
    fn codes_are_cut_as_the_protocol_says_and_either_message_key_is_read() {
        assert_eq!(
            bare_code("aws.protocoltests#FooError:http://x/#frag"),
            "FooError"
        );
        assert_eq!(
            bare_code("FooError:http://internal.amazon.com/coral/a#b/"),
            "FooError"
        );
        let both = br#"{"__type":"X","message":"lower","Message":"upper"}"#;
        let error = error(400, None, both, false);
        assert_eq!(
            (error.code.as_str(), error.message.as_str()),
            ("X", "lower")
        );
    }
}
