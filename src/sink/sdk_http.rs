//! The HTTP client the AWS SDK sends its own calls through (ListShards, DescribeStream*,
//! STS, IMDS and container credentials, `consume`): hyper's HTTP/1.1 client over the shared
//! TLS connector ([`super::https`]), so the SDK and the data path make TLS the same way and the
//! SDK's default client (with HTTP/2) is not linked.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::Client;
use std::collections::HashMap;
use std::error::Error;
use std::sync::Mutex;
use std::time::Duration;

/// The client for `aws_config`'s loader.
pub fn sdk_http_client(network: super::network::Network) -> SharedHttpClient {
    SharedHttpClient::new(SdkHttpClient {
        network,
        connectors: Mutex::default(),
    })
}

/// The connect and read timeouts a connector was made for.
type Timeouts = (Option<Duration>, Option<Duration>);

/// One connector per distinct timeout setting (the SDK asks with its settings per call; IMDS
/// probes with a 1 s connect timeout, services with the configured ones).
struct SdkHttpClient {
    network: super::network::Network,
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl std::fmt::Debug for SdkHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SdkHttpClient")
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().expect("connector lock");
        connectors
            .entry(key)
            .or_insert_with(|| {
                SharedHttpConnector::new(SdkConnector {
                    client: Client::builder(hyper_util::rt::TokioExecutor::new())
                        .pool_timer(hyper_util::rt::TokioTimer::new())
                        .pool_idle_timeout(Duration::from_secs(50))
                        .build(super::https::connector(key.0, &self.network)),
                    read_timeout: key.1,
                })
            })
            .clone()
    }
}

#[derive(Debug, Clone)]
struct SdkConnector {
    client: Client<super::https::Connector, SdkBody>,
    /// Until the response's head arrives (as the SDK's own client applies it).
    read_timeout: Option<Duration>,
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let (client, read_timeout) = (self.client.clone(), self.read_timeout);
        HttpConnectorFuture::new(async move {
            let response = client.request(request);
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, response)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => response.await,
            };
            let response = response.map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The SDK retries timeouts and I/O errors (a dropped keep-alive connection) and reports the
/// rest; the classes follow its own client's.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let hyper_error = find::<hyper::Error>(&error);
    if hyper_error.is_some_and(hyper::Error::is_timeout) {
        return ConnectorError::timeout(error.into());
    }
    if hyper_error.is_some_and(|e| e.is_user()) {
        return ConnectorError::user(error.into());
    }
    let io = error.is_connect()
        || find::<std::io::Error>(&error).is_some()
        || hyper_error.is_some_and(|e| e.is_closed() || e.is_canceled());
    if io {
        return ConnectorError::io(error.into());
    }
    if hyper_error.is_some_and(hyper::Error::is_incomplete_message) {
        return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
    }
    ConnectorError::other(error.into(), None)
}

fn find<'a, E: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}
