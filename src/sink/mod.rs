//! Sending batches to AWS. The client sits behind [`PutClient`], one small trait, so the
//! retry and partial-failure logic in [`deliver`] is unit-tested against a scripted fake and
//! integration-tested against real emulators through [`kinesis`] and [`firehose`].

pub mod aws;
pub mod deliver;
pub mod firehose;
pub mod https;
pub mod iot;
pub mod kinesis;
pub mod network;
pub mod observer;
pub mod rate_limit;
pub mod sdk_http;
pub mod shard_map;
pub mod shards;
pub mod wire;

use crate::aggregate::Entry;
use std::future::Future;

/// Outcome of one entry of a request that got a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryStatus {
    /// Stored; Kinesis also says in which shard.
    Delivered {
        shard_id: Option<std::sync::Arc<str>>,
    },
    Failed {
        code: String,
        message: String,
    },
}

/// A whole request failed (no per-entry results).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SendError {
    /// The AWS error code, or a local name such as `Timeout` or `ConnectionError`.
    pub code: String,
    pub message: String,
    pub http_status: Option<u16>,
}

impl SendError {
    pub fn new(
        code: impl Into<String>,
        message: impl Into<String>,
        http_status: Option<u16>,
    ) -> SendError {
        SendError {
            code: code.into(),
            message: message.into(),
            http_status,
        }
    }
}

/// One PutRecords / PutRecordBatch call.
pub trait PutClient: Send + Sync + 'static {
    /// Sends `entries` as one request. On a response, returns one status per entry in request
    /// order (HTTP 200 with failed entries is *not* success: see [`EntryStatus::Failed`]).
    fn put(
        &self,
        entries: &[&Entry],
    ) -> impl Future<Output = Result<Vec<EntryStatus>, SendError>> + Send;
    /// Human description of the destination, for logs: `kinesis stream "web"`.
    fn destination(&self) -> &str;
}

/// What to do after a whole-request error. The single place that interprets error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient (timeouts, connection errors, 5xx, internal failures): retry with backoff.
    Transient,
    /// The service asks us to slow down: retry with backoff.
    Throttled,
    /// Configuration or permission problem: retry after a long pause, log loudly but rarely.
    /// The data stays unacknowledged until it is fixed.
    Config,
    /// The request itself is invalid (e.g. a record too large): resending it unchanged cannot
    /// succeed; narrow it down to single records.
    Invalid,
}

pub fn classify(error: &SendError) -> ErrorClass {
    match error.code.as_str() {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "LimitExceededException"
        | "KMSThrottlingException"
        | "ServiceUnavailableException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "SlowDown"
        | "RequestThrottled" => ErrorClass::Throttled,
        "InternalFailure"
        | "InternalFailureException"
        | "ServiceUnavailable"
        | "Timeout"
        | "ConnectionError"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "ResponseError" => ErrorClass::Transient,
        "InvalidArgumentException" | "ValidationException" | "SerializationException" => {
            ErrorClass::Invalid
        }
        _ if error.http_status == Some(413) => ErrorClass::Invalid,
        _ if error.http_status.is_some_and(|s| s >= 500) => ErrorClass::Transient,
        // Access, missing stream, KMS state, bad credentials and anything unknown: keep the data
        // and retry slowly rather than drop it.
        _ => ErrorClass::Config,
    }
}

/// An error and its sources on one line (the credential chain's errors say which sources it
/// tried), without the `Debug` dump the SDK's `DisplayErrorContext` appends.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// What to do when the credential chain finds nothing: shown before the chain's own account
/// of what it tried, which is long.
pub const NO_CREDENTIALS_HINT: &str = "no AWS credentials were found: give the service some (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in a systemd drop-in, a profile in its ~/.aws, [aws.iot] device certificates, or an instance or task role), then run `edgeship check`";

/// A hint for the operator, per error code.
pub fn hint_for(code: &str, destination: &str) -> String {
    match code {
        "ResourceNotFoundException" => format!(
            "{destination} does not exist in this region/account: create it or fix the stream name and [aws] region"
        ),
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationToken"
        | "InvalidClientTokenId" => {
            format!(
                "the AWS credentials are missing, invalid or not allowed to write to {destination}: check the credential chain and grant kinesis:PutRecords / firehose:PutRecordBatch"
            )
        }
        "NoCredentials" => NO_CREDENTIALS_HINT.to_owned(),
        c if c.starts_with("KMS") || c.starts_with("InvalidKMS") => format!(
            "the KMS key encrypting {destination} is unusable: check the key's state and the kms:GenerateDataKey permission"
        ),
        _ => "the data is kept and retried; check the message above".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, status: Option<u16>) -> SendError {
        SendError::new(code, "", status)
    }

    #[test]
    fn classification_follows_the_facts_table() {
        let table = [
            (
                "ProvisionedThroughputExceededException",
                Some(400),
                ErrorClass::Throttled,
            ),
            ("KMSThrottlingException", Some(400), ErrorClass::Throttled),
            ("InternalFailureException", Some(500), ErrorClass::Transient),
            ("Whatever", Some(503), ErrorClass::Transient),
            ("Timeout", None, ErrorClass::Transient),
            ("ResourceNotFoundException", Some(400), ErrorClass::Config),
            ("AccessDeniedException", Some(400), ErrorClass::Config),
            ("KMSDisabledException", Some(400), ErrorClass::Config),
            ("InvalidArgumentException", Some(400), ErrorClass::Invalid),
            ("Unknown", Some(413), ErrorClass::Invalid),
        ];
        for (code, status, class) in table {
            assert_eq!(classify(&err(code, status)), class, "{code} {status:?}");
        }
    }
}
