//! AWS SDK setup shared by both services: rustls with ring (no aws-lc, so it cross-builds for
//! ARM), explicit timeouts, few SDK-level retries (edgeship's own loop owns long retries), and
//! conversion of SDK errors into [`SendError`].

use super::SendError;
use crate::config::{AssumeRole, AwsSettings};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    #[error(
        "no AWS region is configured: set region under [aws] in the config file, or AWS_REGION in the environment"
    )]
    NoRegion,
    #[error(
        "endpoint_url {url:?} cannot be used: {reason}; give a URL such as https://kinesis.eu-west-1.amazonaws.com or http://127.0.0.1:4567"
    )]
    BadEndpoint { url: String, reason: String },
    #[error("the proxy cannot be used: {reason}")]
    BadProxy { reason: String },
    #[error(
        "the CA file {} cannot be used: {reason}; give a PEM file of CA certificates (ca_file under [aws], or AWS_CA_BUNDLE)",
        path.display()
    )]
    BadCaFile {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error(
        "[aws.iot]: {} cannot be used: {reason}; give the device's PEM certificate (cert_file) and its private key (key_file)",
        path.display()
    )]
    BadIotFile {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The SDK config (ListShards, credentials) and the request path for the data, built from the
/// same settings.
#[derive(Clone)]
pub struct AwsClients {
    pub sdk: aws_config::SdkConfig,
    pub wire: std::sync::Arc<super::wire::Wire>,
    /// Kinesis Data Streams' `[aws] wire_protocol`.
    pub protocol: crate::config::WireProtocol,
}

impl AwsClients {
    pub async fn load(settings: &AwsSettings) -> Result<AwsClients, AwsSetupError> {
        let network = super::network::Network::from_settings(settings)?;
        let sdk = sdk_config(settings, &network).await?;
        let wire = std::sync::Arc::new(super::wire::Wire::new(&sdk, settings, &network)?);
        Ok(AwsClients {
            sdk,
            wire,
            protocol: settings.wire_protocol,
        })
    }
}

/// Loads the SDK config: config file settings first, then the standard environment variables,
/// profiles and credential chain.
pub async fn sdk_config(
    settings: &AwsSettings,
    network: &super::network::Network,
) -> Result<aws_config::SdkConfig, AwsSetupError> {
    let http_client = super::sdk_http::sdk_http_client(network.clone());
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(settings.request_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(timeouts);
    if let Some(region) = region_without_imds(settings).await? {
        loader = loader.region(region);
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(iot) = &settings.iot {
        // Replaces the whole chain: no environment, profile or instance-metadata lookups.
        let provider = super::iot::IotCredentials::new(iot, network)?;
        tracing::info!(thing = %iot.thing_name, role_alias = %iot.role_alias, "AWS credentials come from AWS IoT ({})", iot.credentials_endpoint);
        loader = loader.credentials_provider(provider);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(AwsSetupError::NoRegion);
    }
    Ok(match &settings.role {
        Some(role) => assume_role(config, role, settings.endpoint_url.is_some()).await,
        None => config,
    })
}

/// The same config signing as `role`: its credentials come from STS AssumeRole, called with
/// the credentials `config` had (the chain, a profile or AWS IoT's), and are cached and
/// refreshed by the SDK's identity cache and the data path's like any other temporary ones.
async fn assume_role(
    config: aws_config::SdkConfig,
    role: &AssumeRole,
    own_endpoint: bool,
) -> aws_config::SdkConfig {
    let base = config
        .credentials_provider()
        .expect("the loader always sets a credentials provider");
    // STS gets its own endpoint (AWS_ENDPOINT_URL_STS, a profile's, or the regional one),
    // never the endpoint_url set for Kinesis or Firehose: an endpoint set in code would be
    // taken as is, so it goes and its origin with it.
    let mut sts = config.to_builder();
    if own_endpoint {
        sts.set_endpoint_url(None);
        sts.insert_origin("endpoint_url", aws_types::origin::Origin::default());
    }
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(role.session_name.clone())
        .configure(&sts.build());
    if let Some(id) = &role.external_id {
        provider = provider.external_id(id.clone());
    }
    let provider = provider.build_from_provider(base).await;
    tracing::info!(role = %role.role_arn, session = %role.session_name, "a flow's requests are signed as an assumed role");
    config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// The region when instance metadata must not be asked: `[aws] region`, else, when the
/// credentials do not come from the instance (AWS IoT, or static keys in the environment, as
/// on a device or a server outside AWS), the environment's or the profile's, else
/// [`AwsSetupError::NoRegion`] at once rather than after an IMDS probe timing out. `None`:
/// the SDK's own chain decides (instance metadata included).
async fn region_without_imds(
    settings: &AwsSettings,
) -> Result<Option<aws_config::Region>, AwsSetupError> {
    if let Some(region) = &settings.region {
        return Ok(Some(aws_config::Region::new(region.clone())));
    }
    let static_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
    if settings.iot.is_none() && !static_keys {
        return Ok(None);
    }
    match local_region(settings.profile.as_deref()).await {
        Some((region, _)) => Ok(Some(region)),
        None => Err(AwsSetupError::NoRegion),
    }
}

/// The region from `AWS_REGION` / `AWS_DEFAULT_REGION` or the profile, and which it was.
pub async fn local_region(profile: Option<&str>) -> Option<(aws_config::Region, &'static str)> {
    use aws_config::meta::region::ProvideRegion;
    let environment = aws_config::environment::EnvironmentVariableRegionProvider::new();
    if let Some(region) = environment.region().await {
        return Some((region, "AWS_REGION / AWS_DEFAULT_REGION"));
    }
    let mut from_profile = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(name) = profile {
        from_profile = from_profile.profile_name(name);
    }
    let region = from_profile.build().region().await?;
    Some((region, "the AWS profile"))
}

/// Maps an SDK error onto the codes [`super::classify`] understands.
pub fn send_error<E>(error: SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = super::network::with_hint(DisplayErrorContext(&error).to_string());
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let text = service.err().message().unwrap_or(&message).to_owned();
            SendError::new(code, text, Some(service.raw().status().as_u16()))
        }
        SdkError::TimeoutError(_) => SendError::new("Timeout", message, None),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            SendError::new("Timeout", message, None)
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            SendError::new("ConnectionError", message, None)
        }
        SdkError::ResponseError(response) => SendError::new(
            "ResponseError",
            message,
            Some(response.raw().status().as_u16()),
        ),
        _ if message.contains("credentials") => {
            SendError::new("NoCredentials", super::error_chain(&error), None)
        }
        _ => SendError::new("ConnectionError", message, None),
    }
}
