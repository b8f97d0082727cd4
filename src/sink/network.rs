//! How edgeship reaches AWS, for both request paths: the certificates it trusts (the system's
//! roots plus `[aws] ca_file` and `AWS_CA_BUNDLE`) and the proxy (`[aws] proxy`, else
//! `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`, with `NO_PROXY`, either case, as curl reads
//! them). The decisions are functions of the settings and the environment, tested by table.

use super::aws::AwsSetupError;
use crate::config::AwsSettings;
use hyper_util::client::proxy::matcher::Matcher;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Addresses only the host itself can reach (EC2 instance metadata, ECS and EKS container
/// credentials): never sent to a proxy.
const ALWAYS_DIRECT: &str =
    "169.254.169.254,169.254.170.2,169.254.170.23,fd00:ec2::254,fd00:ec2::23";

/// The TLS roots and proxy both request paths use.
#[derive(Clone)]
pub struct Network {
    /// The system's roots plus the extra CAs (for TLS configs of their own: IoT's client
    /// certificate).
    pub roots: Arc<rustls::RootCertStore>,
    pub tls: Arc<rustls::ClientConfig>,
    pub proxy: Option<Arc<Matcher>>,
}

/// The proxy settings chosen, before they become a [`Matcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyChoice {
    pub https: Option<String>,
    pub http: Option<String>,
    pub no_proxy: String,
    /// Where they came from, for the log line: `[aws] proxy` or the variable's name.
    pub from: String,
}

impl Network {
    /// The system's roots, no proxy (what the settings give when none of them is set).
    pub fn direct() -> Network {
        let roots = roots(Vec::new());
        Network {
            tls: tls_config(&roots),
            roots,
            proxy: None,
        }
    }

    pub fn from_settings(settings: &AwsSettings) -> Result<Network, AwsSetupError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut extra = Vec::new();
        let bundle = env("AWS_CA_BUNDLE").map(PathBuf::from);
        for path in settings.ca_file.iter().chain(bundle.iter()) {
            extra.extend(load_certificates(path)?);
        }
        let proxy = choose_proxy(settings.proxy.as_ref().map(|p| p.0.as_str()), &env)
            .map_err(|reason| AwsSetupError::BadProxy { reason })?;
        if let Some(choice) = &proxy {
            let shown = choice
                .https
                .as_deref()
                .or(choice.http.as_deref())
                .unwrap_or("");
            tracing::info!(no_proxy = %choice.no_proxy, "AWS requests go through the proxy {} (from {})", redact(shown), choice.from);
        }
        let roots = roots(extra);
        Ok(Network {
            tls: tls_config(&roots),
            roots,
            proxy: proxy.map(|choice| Arc::new(matcher(&choice))),
        })
    }
}

/// `[aws] proxy` wins; else the standard variables (upper case first, as curl). Proxies are
/// reached over plain HTTP (CONNECT then carries TLS end to end), so `https://` proxies are
/// refused with a hint rather than failing every request.
pub fn choose_proxy(
    configured: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProxyChoice>, String> {
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| env(n).map(|v| (v, n.to_string())))
    };
    let no_proxy = match first(&["NO_PROXY", "no_proxy"]) {
        Some((list, _)) => format!("{list},{ALWAYS_DIRECT}"),
        None => ALWAYS_DIRECT.to_owned(),
    };
    let (https, http, from) = if let Some(url) = configured {
        (
            Some(url.to_owned()),
            Some(url.to_owned()),
            "[aws] proxy".to_owned(),
        )
    } else {
        let all = first(&["ALL_PROXY", "all_proxy"]);
        let https = first(&["HTTPS_PROXY", "https_proxy"]).or_else(|| all.clone());
        let http = first(&["HTTP_PROXY", "http_proxy"]).or(all);
        let from = https
            .iter()
            .chain(http.iter())
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>();
        if from.is_empty() {
            return Ok(None);
        }
        let from = from.join(", ");
        (https.map(|(v, _)| v), http.map(|(v, _)| v), from)
    };
    for url in https.iter().chain(http.iter()) {
        check_proxy_url(url).map_err(|why| format!("{} ({from}): {why}", redact(url)))?;
    }
    Ok(Some(ProxyChoice {
        https,
        http,
        no_proxy,
        from,
    }))
}

/// `http://[user:pass@]host[:port]` (a bare `host:port` is read as `http://`).
pub fn check_proxy_url(url: &str) -> Result<(), String> {
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|e| format!("not a URL ({e}); use http://host:port"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err("proxies reached over TLS are not supported; use the proxy's plain http://host:port (requests to AWS stay TLS end to end through CONNECT)".into());
        }
        Some(other) => {
            return Err(format!(
                "{other}:// proxies are not supported; use http://host:port"
            ));
        }
        None => return Err("no scheme; use http://host:port".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("no host; use http://host:port".into());
    }
    Ok(())
}

/// The URL with any password replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let shown = match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{user}:***@{host}")
        }
        None => authority.to_owned(),
    };
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{scheme}{shown}{path}")
}

fn matcher(choice: &ProxyChoice) -> Matcher {
    let mut builder = Matcher::builder().no(choice.no_proxy.as_str());
    if let Some(url) = &choice.https {
        builder = builder.https(url.as_str());
    }
    if let Some(url) = &choice.http {
        builder = builder.http(url.as_str());
    }
    builder.build()
}

pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, AwsSetupError> {
    let bad = |reason: String| AwsSetupError::BadCaFile {
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certificates.is_empty() {
        return Err(bad(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certificates)
}

/// The system's roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured by rustls-native-certs)
/// plus `extra`.
fn roots(extra: Vec<CertificateDer<'static>>) -> Arc<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!("loading the system's CA certificates: {error}");
    }
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    let (_added, ignored) = roots.add_parsable_certificates(extra);
    if ignored > 0 {
        tracing::warn!(
            "{ignored} certificates of ca_file / AWS_CA_BUNDLE are not usable as CAs and were skipped"
        );
    }
    Arc::new(roots)
}

/// TLS with ring and `roots`, no client certificate.
fn tls_config(roots: &Arc<rustls::RootCertStore>) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    Arc::new(config)
}

/// `message`, followed by what to do where its text shows a known cause.
pub fn with_hint(mut message: String) -> String {
    if let Some(hint) = hint(&message) {
        message.push_str("; ");
        message.push_str(hint);
    }
    message
}

/// What to do about a connection error, where its text shows a known cause.
pub fn hint(message: &str) -> Option<&'static str> {
    const HINTS: [(&str, &str); 4] = [
        (
            "UnknownIssuer",
            "the endpoint's certificate is signed by a CA this machine does not trust: for a private CA or a TLS-inspecting proxy, set ca_file under [aws] (or AWS_CA_BUNDLE) to the CA's PEM file",
        ),
        (
            "NotValidForName",
            "the endpoint's certificate is for another host name: check endpoint_url / AWS_ENDPOINT_URL",
        ),
        (
            "proxy authorization required",
            "the proxy wants credentials: give them in its URL, http://user:password@host:port",
        ),
        (
            "tunnel error: unsuccessful",
            "the proxy refused to open a tunnel (CONNECT): it must allow CONNECT to the endpoint's port (443 for AWS)",
        ),
    ];
    HINTS
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map(|(_, hint)| *hint)
}

#[cfg(test)]
mod tests;
