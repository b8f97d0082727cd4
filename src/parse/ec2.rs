//! EC2 instance metadata via IMDSv2, for `ec2_metadata = true`: one background thread fetches
//! the instance identity document with short timeouts and refreshes it every
//! `ec2_metadata_ttl`; records take whatever is cached. Off EC2 (a Raspberry Pi) the fetch fails
//! quickly, records go out without the fields, and shipping never waits for it.
//!
//! Fields, named as the Java agent's ADDEC2METADATA: privateIp, availabilityZone, instanceId,
//! instanceType, accountId, amiId, region, metadataTimestamp. EC2 tags (which the Java agent
//! reads with `ec2:DescribeTags`) are not added.

use super::Value;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

const DEFAULT_ENDPOINT: &str = "169.254.169.254:80";
const TIMEOUT: Duration = Duration::from_millis(500);
/// Retry sooner than the TTL while the service has not answered yet.
const RETRY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
pub struct Ec2Metadata {
    cache: Arc<RwLock<Vec<(String, String)>>>,
}

/// The agent's EC2 metadata: one cache and refresher thread for all flows and reloads,
/// started when the first flow asks for it (that flow's TTL wins).
#[derive(Debug, Default)]
pub struct Ec2Source {
    started: OnceLock<Ec2Metadata>,
}

impl Ec2Source {
    pub fn metadata(&self, ttl: Duration) -> Ec2Metadata {
        self.started.get_or_init(|| Ec2Metadata::spawn(ttl)).clone()
    }
}

impl Ec2Metadata {
    /// A cache refreshed every `ttl` by a thread that only sleeps and reads, and ends once no
    /// clone of the cache is left (the agent and its flows are gone).
    pub fn spawn(ttl: Duration) -> Ec2Metadata {
        let metadata = Ec2Metadata::default();
        let cache = Arc::downgrade(&metadata.cache);
        let endpoint = endpoint();
        let spawned = std::thread::Builder::new()
            .name("ec2-metadata".into())
            .spawn(move || {
                loop {
                    let fetched = fetch(&endpoint);
                    let Some(cache) = cache.upgrade() else { return };
                    let wait = match fetched {
                        Ok(fields) => {
                            *cache.write().expect("ec2 cache lock") = fields;
                            ttl
                        }
                        Err(error) => {
                            tracing::debug!("EC2 instance metadata unavailable: {error}");
                            RETRY.min(ttl)
                        }
                    };
                    drop(cache);
                    std::thread::sleep(wait);
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("cannot start the EC2 metadata thread: {error}");
        }
        metadata
    }

    /// The cached fields (none until the first successful fetch).
    pub fn fields(&self) -> Vec<(Cow<'static, str>, Value<'static>)> {
        self.cache
            .read()
            .expect("ec2 cache lock")
            .iter()
            .map(|(k, v)| (Cow::Owned(k.clone()), Value::Str(Cow::Owned(v.clone()))))
            .collect()
    }
}

/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` (the SDKs' variable, e.g. `http://127.0.0.1:1338`).
fn endpoint() -> String {
    std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .ok()
        .map(|url| {
            url.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned()
        })
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
}

fn fetch(endpoint: &str) -> std::io::Result<Vec<(String, String)>> {
    let token = request(
        endpoint,
        "PUT /latest/api/token",
        "X-aws-ec2-metadata-token-ttl-seconds: 21600",
    )?;
    let document = request(
        endpoint,
        "GET /latest/dynamic/instance-identity/document",
        &format!("X-aws-ec2-metadata-token: {}", token.trim()),
    )?;
    let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&document)
        .map_err(|e| std::io::Error::other(format!("identity document: {e}")))?;
    let mut fields = Vec::new();
    for (ours, theirs) in [
        ("privateIp", "privateIp"),
        ("availabilityZone", "availabilityZone"),
        ("instanceId", "instanceId"),
        ("instanceType", "instanceType"),
        ("accountId", "accountId"),
        ("amiId", "imageId"),
        ("region", "region"),
    ] {
        if let Some(v) = doc.get(theirs).and_then(|v| v.as_str()) {
            fields.push((ours.to_owned(), v.to_owned()));
        }
    }
    fields.push(("metadataTimestamp".into(), super::decorate::now_rfc3339()));
    Ok(fields)
}

/// A minimal HTTP/1.0 exchange: the link-local service needs no TLS, and a full client would
/// cost binary size.
fn request(endpoint: &str, line: &str, header: &str) -> std::io::Result<String> {
    let addr: SocketAddr = endpoint
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad IMDS endpoint {endpoint:?}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "{line} HTTP/1.0\r\nHost: {endpoint}\r\n{header}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("malformed IMDS response"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(std::io::Error::other(format!("IMDS answered {status}")));
    }
    Ok(body.to_owned())
}
