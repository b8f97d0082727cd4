//! The one TLS connector both request paths use (the data path in [`wire`](super::wire), the
//! SDK's calls through [`sdk_http`](super::sdk_http)): HTTP/1.1 over rustls with ring and the
//! system's roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured by rustls-native-certs).
//! No HTTP/2: Kinesis and Firehose answer HTTP/1.1, and h2 would cost about 250 KB of binary.

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub type Connector = HttpsConnector<HttpConnector>;

/// A connector giving up on a TCP connection after `connect_timeout` (`None`: never).
pub fn connector(connect_timeout: Option<Duration>) -> Connector {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(connect_timeout);
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config().as_ref().clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}

/// Loaded once: reading the system's roots takes milliseconds and warns on bad files.
fn tls_config() -> &'static Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::warn!("loading the system's CA certificates: {error}");
        }
        let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    })
}
