//! Our own request path for the two calls that carry the data, PutRecords and PutRecordBatch:
//! the body is written straight from the entries ([`encode`], [`cbor`]; whole, or in frames
//! when large, see [`body`]), signed with the SDK's own SigV4 signer over credentials from the
//! same aws-config chain ([`credentials`], cached), sent with the same hyper + rustls (ring)
//! stack as the SDK's calls ([`super::https`]), keep-alive, and read back borrowing from the
//! response ([`response`]). The SDK builds, clones and serialises every record generically and
//! holds about three copies of a request; this path holds the entries and at most one body.
//! Everything else (ListShards, `consume`, credentials) still goes through the SDK.

mod all_delivered;
pub mod body;
pub mod cbor;
pub mod credentials;
pub mod encode;
pub mod response;

use super::SendError;
use super::aws::AwsSetupError;
use crate::config::AwsSettings;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use body::Body;
use bytes::Bytes;
use credentials::CredentialCache;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use std::time::{Duration, SystemTime};

pub use crate::config::WireProtocol;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const USER_AGENT: &str = concat!("edgeship/", env!("CARGO_PKG_VERSION"));

/// The two services this path talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Kinesis,
    Firehose,
}

impl Service {
    /// SigV4 signing name, also the endpoint prefix.
    fn name(self) -> &'static str {
        match self {
            Service::Kinesis => "kinesis",
            Service::Firehose => "firehose",
        }
    }

    fn target(self) -> &'static str {
        match self {
            Service::Kinesis => "Kinesis_20131202.PutRecords",
            Service::Firehose => "Firehose_20150804.PutRecordBatch",
        }
    }

    /// The service-specific endpoint variable the SDKs honour.
    fn endpoint_variable(self) -> &'static str {
        match self {
            Service::Kinesis => "AWS_ENDPOINT_URL_KINESIS",
            Service::Firehose => "AWS_ENDPOINT_URL_FIREHOSE",
        }
    }
}

impl WireProtocol {
    fn content_type(self) -> &'static str {
        match self {
            WireProtocol::Json => "application/x-amz-json-1.1",
            WireProtocol::Cbor => "application/x-amz-cbor-1.1",
        }
    }
}

/// A 2xx answer's body, and whether the service wrote it in CBOR (a service may answer a CBOR
/// request in JSON).
#[derive(Debug)]
pub struct Answer {
    pub body: Bytes,
    pub cbor: bool,
}

/// Where requests for one service go, and the `host` header they are signed with.
#[derive(Debug, Clone)]
struct Endpoint {
    uri: http::Uri,
    host: String,
}

/// Chooses the endpoint as the SDK does: the config file's `endpoint_url`, then the
/// service-specific variable, then the SDK config's (`AWS_ENDPOINT_URL`, profiles), then the
/// regional endpoint (`.amazonaws.com.cn` in the China regions).
fn endpoint_url(
    service: Service,
    configured: Option<&str>,
    variable: Option<String>,
    sdk_default: Option<&str>,
    region: &str,
) -> String {
    if let Some(url) = configured.map(str::to_owned).or(variable) {
        return url;
    }
    if let Some(url) = sdk_default {
        return url.to_owned();
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{}.{region}.{suffix}", service.name())
}

fn parse_endpoint(url: &str) -> Result<Endpoint, AwsSetupError> {
    let bad = |reason: &str| AwsSetupError::BadEndpoint {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("it must start with http:// or https://"));
    }
    let host = uri
        .authority()
        .ok_or_else(|| bad("it has no host"))?
        .to_string();
    Ok(Endpoint { uri, host })
}

type HttpClient = Client<super::https::Connector, Body>;

/// One HTTP client, credential cache and pair of endpoints, shared by every flow.
pub struct Wire {
    http: HttpClient,
    credentials: CredentialCache,
    region: String,
    request_timeout: Duration,
    kinesis: Endpoint,
    firehose: Endpoint,
    clock: SkewedClock,
}

/// The time requests are signed with: this machine's clock corrected by the offset of the
/// service's `Date` headers, as the SDK does. A gateway whose clock is minutes off would
/// otherwise get every request refused as signed too early or too late.
#[derive(Default)]
struct SkewedClock {
    skew_ms: std::sync::atomic::AtomicI64,
}

impl SkewedClock {
    fn now(&self) -> SystemTime {
        let skew = self.skew_ms.load(std::sync::atomic::Ordering::Relaxed);
        let magnitude = Duration::from_millis(skew.unsigned_abs());
        match skew >= 0 {
            true => SystemTime::now() + magnitude,
            false => SystemTime::now() - magnitude,
        }
    }

    /// Learns the offset from a response's `Date` header (whole seconds).
    fn learn(&self, date: &str) {
        use aws_smithy_types::date_time::{DateTime, Format};
        let Ok(server) = DateTime::from_str(date, Format::HttpDate) else {
            return;
        };
        let local = DateTime::from(SystemTime::now());
        let skew_ms = (server.secs() - local.secs()) * 1000;
        // Differences below a second are the header's rounding, not skew.
        let skew_ms = if skew_ms.abs() <= 1000 { 0 } else { skew_ms };
        self.skew_ms
            .store(skew_ms, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Wire {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        settings: &AwsSettings,
        network: &super::network::Network,
    ) -> Result<Wire, AwsSetupError> {
        let region = sdk.region().ok_or(AwsSetupError::NoRegion)?.to_string();
        let endpoint = |service: Service| {
            let variable = std::env::var(service.endpoint_variable()).ok();
            let url = endpoint_url(
                service,
                settings.endpoint_url.as_deref(),
                variable.filter(|v| !v.is_empty()),
                sdk.endpoint_url(),
                &region,
            );
            parse_endpoint(&url)
        };
        Ok(Wire {
            http: http_client(network),
            credentials: CredentialCache::new(sdk.credentials_provider()),
            kinesis: endpoint(Service::Kinesis)?,
            firehose: endpoint(Service::Firehose)?,
            region,
            request_timeout: settings.request_timeout,
            clock: SkewedClock::default(),
        })
    }

    /// Sends one signed request with `body`; the response body of a 2xx answer, else the
    /// service's error.
    pub async fn call(
        &self,
        service: Service,
        protocol: WireProtocol,
        body: Body,
    ) -> Result<Answer, SendError> {
        self.send(service, service.target(), protocol, body).await
    }

    /// Describes the stream `name` (DescribeStreamSummary, DescribeDeliveryStream): what
    /// `edgeship check` asks instead of writing.
    pub async fn describe(&self, service: Service, name: &str) -> Result<Answer, SendError> {
        let (target, key) = match service {
            Service::Kinesis => ("Kinesis_20131202.DescribeStreamSummary", "StreamName"),
            Service::Firehose => (
                "Firehose_20150804.DescribeDeliveryStream",
                "DeliveryStreamName",
            ),
        };
        let body = serde_json::to_vec(&serde_json::json!({ key: name })).expect("a JSON object");
        self.send(service, target, WireProtocol::Json, Body::whole(body))
            .await
    }

    /// The credentials requests are signed with now (fetched if none are cached).
    pub async fn credentials(&self) -> Result<Credentials, SendError> {
        self.credentials.get().await
    }

    async fn send(
        &self,
        service: Service,
        target: &str,
        protocol: WireProtocol,
        body: Body,
    ) -> Result<Answer, SendError> {
        let credentials = self.credentials.get().await?;
        let time = self.clock.now();
        let request = self.sign(service, target, protocol, credentials, body, time)?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(http_error)?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| {
                SendError::new(
                    "ConnectionError",
                    format!("reading the response: {e}"),
                    None,
                )
            })?;
            Ok::<_, SendError>((parts, body.to_bytes()))
        };
        let (parts, body) = tokio::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| {
                let message = format!(
                    "no response within {:?} (request_timeout)",
                    self.request_timeout
                );
                SendError::new("Timeout", message, None)
            })??;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(date) = header("date") {
            self.clock.learn(date);
        }
        let cbor = header("content-type").is_some_and(|t| t.contains("cbor"));
        if parts.status.is_success() {
            return Ok(Answer { body, cbor });
        }
        let error_type = header("x-amzn-errortype");
        let error = response::error(parts.status.as_u16(), error_type, &body, cbor);
        if matches!(
            error.code.as_str(),
            "ExpiredTokenException" | "ExpiredToken"
        ) {
            self.credentials.invalidate();
        }
        Err(error)
    }

    /// The POST request for `body`, signed for `time` (public for the signature test, which
    /// checks it against botocore's signer).
    pub fn signed_request(
        &self,
        service: Service,
        protocol: WireProtocol,
        credentials: Credentials,
        body: Body,
        time: SystemTime,
    ) -> Result<http::Request<Body>, SendError> {
        self.sign(service, service.target(), protocol, credentials, body, time)
    }

    fn sign(
        &self,
        service: Service,
        target: &str,
        protocol: WireProtocol,
        credentials: Credentials,
        body: Body,
        time: SystemTime,
    ) -> Result<http::Request<Body>, SendError> {
        let identity = Identity::from(credentials);
        let endpoint = match service {
            Service::Kinesis => &self.kinesis,
            Service::Firehose => &self.firehose,
        };
        let headers = [
            ("content-type", protocol.content_type()),
            ("host", endpoint.host.as_str()),
            ("x-amz-target", target),
        ];
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service.name())
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(signing_error)?
            .into();
        let uri = endpoint.uri.to_string();
        let signable = SignableRequest::new(
            "POST",
            &uri,
            headers.into_iter(),
            SignableBody::Precomputed(body.sha256_hex().to_owned()),
        )
        .map_err(signing_error)?;
        let (instructions, _signature) =
            sign(signable, &params).map_err(signing_error)?.into_parts();
        let mut builder =
            http::Request::post(endpoint.uri.clone()).header("user-agent", USER_AGENT);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let mut request = builder.body(body).map_err(signing_error)?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// Keep-alive HTTP/1.1 over the shared TLS connector.
fn http_client(network: &super::network::Network) -> HttpClient {
    Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(50))
        .build(super::https::connector(Some(CONNECT_TIMEOUT), network))
}

fn http_error(error: hyper_util::client::legacy::Error) -> SendError {
    let message = super::network::with_hint(super::error_chain(&error));
    SendError::new("ConnectionError", message, None)
}

fn signing_error(error: impl std::fmt::Display) -> SendError {
    SendError::new(
        "SigningError",
        format!("signing the request failed: {error}"),
        None,
    )
}

#[cfg(test)]
mod tests;
