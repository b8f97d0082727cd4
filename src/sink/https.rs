//! The one connector both request paths use (the data path in [`wire`](super::wire), the SDK's
//! calls through [`sdk_http`](super::sdk_http)): HTTP/1.1 over rustls with ring, trusting what
//! [`Network`] says, directly or through the proxy (an HTTP CONNECT tunnel, so TLS runs end to
//! end with AWS). No HTTP/2: Kinesis and Firehose answer HTTP/1.1, and h2 would cost about
//! 250 KB of binary.

use super::network::Network;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

pub type Connector = HttpsConnector<Route>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connector giving up on a TCP connection (to the endpoint or the proxy) after
/// `connect_timeout` (`None`: never).
pub fn connector(connect_timeout: Option<Duration>, network: &Network) -> Connector {
    connector_with_tls(connect_timeout, network, network.tls.as_ref().clone())
}

/// Like [`connector`], with a TLS config of its own (IoT's client certificate).
pub fn connector_with_tls(
    connect_timeout: Option<Duration>,
    network: &Network,
    tls: rustls::ClientConfig,
) -> Connector {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(connect_timeout);
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    let route = Route {
        tcp,
        proxy: network.proxy.clone(),
    };
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(route)
}

/// TCP to the endpoint, or a tunnel through the proxy where the proxy rules say so.
#[derive(Clone)]
pub struct Route {
    tcp: HttpConnector,
    proxy: Option<Arc<Matcher>>,
}

impl tower_service::Service<http::Uri> for Route {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: http::Uri) -> Self::Future {
        let intercept = self.proxy.as_ref().and_then(|m| m.intercept(&target));
        let mut tcp = self.tcp.clone();
        match intercept {
            None => Box::pin(async move { Ok(tcp.call(target).await?) }),
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move { Ok(tunnel.call(target).await?) })
            }
        }
    }
}
