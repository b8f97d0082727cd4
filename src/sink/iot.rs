//! AWS IoT Core's credential provider for devices: the device's X.509 certificate (mutual TLS)
//! and a role alias are exchanged for temporary credentials at the account's
//! `iot:CredentialProvider` endpoint (`GET /role-aliases/<alias>/credentials` with the
//! `x-amzn-iot-thingname` header). The callers' caches (the SDK's identity cache, the data
//! path's [`CredentialCache`](super::wire::credentials::CredentialCache)) refresh them before
//! `expiration`.

use super::aws::AwsSetupError;
use super::network::{Network, load_certificates};
use super::wire::body::Body;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[aws.iot]`: credentials from AWS IoT Core for a device with a certificate. When set, the
/// other credential sources (environment, profiles, instance metadata) are not consulted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIot {
    /// The account's credential provider host, `aws iot describe-endpoint --endpoint-type
    /// iot:CredentialProvider`, e.g. `"c2sxxxxxxxxxxx.credentials.iot.eu-west-1.amazonaws.com"`
    /// (optionally `host:port`).
    pub credentials_endpoint: String,
    /// The role alias whose role the credentials are for, e.g. `"edgeship-role-alias"`.
    pub role_alias: String,
    /// The thing the certificate is attached to (sent as `x-amzn-iot-thingname`).
    pub thing_name: String,
    /// The device certificate (PEM), e.g. `"/etc/edgeship/device.pem.crt"`.
    pub cert_file: PathBuf,
    /// Its private key (PEM), readable by the edgeship user only.
    pub key_file: PathBuf,
    /// CA certificates (PEM) for the endpoint, added to the system's roots (AWS's endpoints
    /// are signed by Amazon Trust Services, which the system trusts). Default: none.
    pub ca_file: Option<PathBuf>,
}

/// How long one credentials request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct IotCredentials {
    url: http::Uri,
    settings: RawIot,
    /// The wire's body type, though the request has none: one instantiation of hyper's client
    /// code fewer in the binary.
    client: Client<super::https::Connector, Body>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    credentials: Issued,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issued {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

impl IotCredentials {
    pub fn new(settings: &RawIot, network: &Network) -> Result<IotCredentials, AwsSetupError> {
        let bad = |path: &Path, reason: String| AwsSetupError::BadIotFile {
            path: path.to_owned(),
            reason,
        };
        let chain = load_certificates(&settings.cert_file).map_err(|e| match e {
            AwsSetupError::BadCaFile { path, reason } => bad(&path, reason),
            other => other,
        })?;
        let key = PrivateKeyDer::from_pem_file(&settings.key_file)
            .map_err(|e| bad(&settings.key_file, e.to_string()))?;
        warn_if_readable_by_others(&settings.key_file);
        let mut roots = network.roots.as_ref().clone();
        if let Some(ca) = &settings.ca_file {
            roots.add_parsable_certificates(load_certificates(ca)?);
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| {
            bad(
                &settings.key_file,
                format!("it does not fit the certificate: {e}"),
            )
        })?;
        let connector =
            super::https::connector_with_tls(Some(Duration::from_secs(5)), network, tls);
        let url = format!(
            "https://{}/role-aliases/{}/credentials",
            settings.credentials_endpoint.trim_end_matches('/'),
            settings.role_alias
        );
        let url = url.parse().map_err(|e| AwsSetupError::BadEndpoint {
            url: url.clone(),
            reason: format!("[aws.iot] credentials_endpoint: {e}"),
        })?;
        Ok(IotCredentials {
            url,
            settings: settings.clone(),
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
        })
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let request = http::Request::get(self.url.clone())
            .header("x-amzn-iot-thingname", &self.settings.thing_name)
            .body(Body::whole(Vec::new()))
            .expect("a valid request");
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| self.failed(format!("no answer within {REQUEST_TIMEOUT:?}")))?
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.failed(format!("reading the answer failed: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(self.refused(status, &body));
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| self.failed(format!("the answer is not credentials: {e}")))?;
        let issued = answer.credentials;
        let expiry = humantime::parse_rfc3339(&issued.expiration)
            .map_err(|e| self.failed(format!("expiration {:?}: {e}", issued.expiration)))?;
        Ok(Credentials::new(
            issued.access_key_id,
            issued.secret_access_key,
            Some(issued.session_token),
            Some(expiry),
            "AWS IoT credential provider",
        ))
    }
}

impl IotCredentials {
    fn failed(&self, what: String) -> CredentialsError {
        CredentialsError::provider_error(format!(
            "AWS IoT credentials from {} for thing {:?}: {what}",
            self.settings.credentials_endpoint, self.settings.thing_name
        ))
    }

    fn unreachable(&self, error: &hyper_util::client::legacy::Error) -> CredentialsError {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        let hint = if text.contains("alert") || text.contains("certificate") {
            "the endpoint refused the TLS handshake: cert_file must be an active certificate registered in AWS IoT in this account and region, with key_file its key"
        } else {
            "check credentials_endpoint (aws iot describe-endpoint --endpoint-type iot:CredentialProvider) and the network path to it"
        };
        self.failed(super::network::with_hint(format!("{hint} ({text})")))
    }

    fn refused(&self, status: http::StatusCode, body: &[u8]) -> CredentialsError {
        let said = String::from_utf8_lossy(body);
        let hint = refusal_hint(status.as_u16(), &self.settings.role_alias);
        self.failed(format!("{hint} (HTTP {status}: {})", said.trim()))
    }
}

/// What a refusal of the credential endpoint means, by status (AWS IoT's documented answers).
pub fn refusal_hint(status: u16, role_alias: &str) -> String {
    match status {
        400 => "the request was refused: check thing_name (it must be the thing the certificate is attached to)".into(),
        401 => "the device certificate was not accepted: it must be active and registered in this account and region".into(),
        403 => format!("not allowed: attach the certificate to the thing, and to the certificate a policy allowing iot:AssumeRoleWithCertificate on role alias {role_alias:?}; the role must trust credentials.iot.amazonaws.com"),
        404 => format!("role alias {role_alias:?} does not exist in this account and region: check role_alias and credentials_endpoint"),
        _ => "the credential endpoint failed; retrying".into(),
    }
}

impl ProvideCredentials for IotCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.fetch())
    }
}

/// A device's private key must not be readable by other users: warn (edgeship still starts).
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "the IoT private key is readable by other users (mode {:o}): chmod 600 it (owned by the edgeship user)", mode & 0o777);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_what_to_fix() {
        for (status, expected) in [
            (400, "thing_name"),
            (401, "certificate was not accepted"),
            (403, "iot:AssumeRoleWithCertificate on role alias \"edge\""),
            (404, "role alias \"edge\" does not exist"),
            (500, "retrying"),
        ] {
            let hint = refusal_hint(status, "edge");
            assert!(hint.contains(expected), "{status}: {hint}");
        }
    }
}
