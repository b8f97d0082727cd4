//! Credentials for signing, fetched from the aws-config chain once and reused until shortly
//! before they expire. The SDK clients do this through their identity cache; our own request
//! path needs the same, or every request would run the chain (a file read, an STS or an
//! instance-metadata call).

use super::super::SendError;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

/// Credentials this close to their expiry are refreshed before the next request: a request
/// signed now must still be valid when it arrives, and a refresh that fails leaves minutes to
/// retry (the SDK's own cache waits until 10 s before expiry).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// Credentials without an expiry (keys in a file or the environment) are loaded again this
/// often, as the SDK does, so that rotated keys are picked up without a restart.
pub const RELOAD_STATIC_AFTER: Duration = Duration::from_secs(15 * 60);
/// A load taking longer than this fails (the SDK's default too): a hung provider must not hold
/// every request.
const LOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed refresh, valid credentials are used this long before the next attempt.
const RETRY_REFRESH_AFTER: Duration = Duration::from_secs(10);

struct Cached {
    credentials: Credentials,
    fetched_at: SystemTime,
    /// A refresh failed: the next one waits until then.
    retry_at: Option<SystemTime>,
}

pub struct CredentialCache {
    provider: Option<SharedCredentialsProvider>,
    cached: RwLock<Option<Cached>>,
    /// Serialises refreshes: many requests that find stale credentials fetch once.
    refreshing: tokio::sync::Mutex<()>,
    now: fn() -> SystemTime,
}

impl CredentialCache {
    pub fn new(provider: Option<SharedCredentialsProvider>) -> CredentialCache {
        CredentialCache::with_clock(provider, SystemTime::now)
    }

    pub fn with_clock(
        provider: Option<SharedCredentialsProvider>,
        now: fn() -> SystemTime,
    ) -> CredentialCache {
        CredentialCache {
            provider,
            cached: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            now,
        }
    }

    /// Credentials valid for at least [`REFRESH_BEFORE_EXPIRY`], fetched only when the cached
    /// ones are missing, about to expire or (without an expiry) older than
    /// [`RELOAD_STATIC_AFTER`]. A failed refresh falls back to cached credentials that have not
    /// expired yet, and is retried after [`RETRY_REFRESH_AFTER`].
    pub async fn get(&self) -> Result<Credentials, SendError> {
        if let Some(fresh) = self.usable() {
            return Ok(fresh);
        }
        let _refreshing = self.refreshing.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(fresh) = self.usable() {
            return Ok(fresh);
        }
        let now = (self.now)();
        match self.fetch().await {
            Ok(credentials) => {
                let fetched = Cached {
                    credentials: credentials.clone(),
                    fetched_at: now,
                    retry_at: None,
                };
                *self.cached.write().expect("credential lock") = Some(fetched);
                Ok(credentials)
            }
            Err(error) => {
                let mut cached = self.cached.write().expect("credential lock");
                let Some(old) = cached.as_mut().filter(|c| !self.expired(&c.credentials)) else {
                    return Err(error);
                };
                if old.retry_at.is_none() {
                    tracing::warn!(
                        "refreshing the AWS credentials failed ({error}); signing with the current ones until they expire, retrying every {RETRY_REFRESH_AFTER:?}"
                    );
                }
                old.retry_at = Some(now + RETRY_REFRESH_AFTER);
                Ok(old.credentials.clone())
            }
        }
    }

    /// Forgets the cached credentials (the service said they expired): the next request loads
    /// them again.
    pub fn invalidate(&self) {
        *self.cached.write().expect("credential lock") = None;
    }

    async fn fetch(&self) -> Result<Credentials, SendError> {
        let Some(provider) = &self.provider else {
            return Err(no_credentials("no credential provider is configured"));
        };
        match tokio::time::timeout(LOAD_TIMEOUT, provider.provide_credentials()).await {
            Ok(result) => result.map_err(|e| no_credentials(&crate::sink::error_chain(&e))),
            Err(_) => Err(no_credentials(&format!(
                "the credential provider did not answer within {LOAD_TIMEOUT:?}"
            ))),
        }
    }

    /// The cached credentials if no refresh is due.
    fn usable(&self) -> Option<Credentials> {
        let cached = self.cached.read().expect("credential lock");
        let cached = cached.as_ref()?;
        let now = (self.now)();
        let backing_off = cached.retry_at.is_some_and(|at| now < at);
        let due = match cached.credentials.expiry() {
            Some(expiry) => expiry <= now + REFRESH_BEFORE_EXPIRY,
            None => cached.fetched_at + RELOAD_STATIC_AFTER <= now,
        };
        let valid = !self.expired(&cached.credentials);
        (valid && (!due || backing_off)).then(|| cached.credentials.clone())
    }

    fn expired(&self, credentials: &Credentials) -> bool {
        credentials
            .expiry()
            .is_some_and(|expiry| expiry <= (self.now)())
    }
}

fn no_credentials(detail: &str) -> SendError {
    SendError::new(
        "NoCredentials",
        format!("no AWS credentials could be loaded: {detail}"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::future;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

    /// Hands out credentials that expire `lifetime` after the fake clock's now.
    #[derive(Debug)]
    struct Counting {
        fetches: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
        fail_after: usize,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.fetches.fetch_add(1, SeqCst);
            if n >= self.fail_after {
                return future::ProvideCredentials::ready(Err(
                    aws_credential_types::provider::error::CredentialsError::not_loaded("gone"),
                ));
            }
            let mut credentials = Credentials::new(format!("AKID{n}"), "secret", None, None, "t");
            if let Some(lifetime) = self.lifetime {
                *credentials.expiry_mut() = Some(fake_now() + lifetime);
            }
            future::ProvideCredentials::ready(Ok(credentials))
        }
    }

    static CLOCK_SECS: AtomicU64 = AtomicU64::new(1_000_000);

    fn fake_now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(CLOCK_SECS.load(SeqCst))
    }

    fn cache(lifetime: Option<Duration>, fail_after: usize) -> (CredentialCache, Arc<AtomicUsize>) {
        let fetches = Arc::new(AtomicUsize::new(0));
        let provider = Counting {
            fetches: fetches.clone(),
            lifetime,
            fail_after,
        };
        let shared = SharedCredentialsProvider::new(provider);
        (CredentialCache::with_clock(Some(shared), fake_now), fetches)
    }

    // One test drives the shared fake clock, so the cases run in sequence.
    #[tokio::test]
    async fn credentials_are_fetched_once_and_refreshed_before_expiry() {
        let (static_keys, fetches) = cache(None, usize::MAX);
        for _ in 0..1000 {
            assert_eq!(static_keys.get().await.unwrap().access_key_id(), "AKID0");
        }
        assert_eq!(fetches.load(SeqCst), 1, "static keys: one fetch");

        let (expiring, fetches) = cache(Some(Duration::from_secs(3600)), usize::MAX);
        expiring.get().await.unwrap();
        CLOCK_SECS.fetch_add(3600 - 301, SeqCst);
        assert_eq!(expiring.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(fetches.load(SeqCst), 1, "still 301 s left: no refresh");
        CLOCK_SECS.fetch_add(2, SeqCst);
        assert_eq!(expiring.get().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(fetches.load(SeqCst), 2, "refreshed 299 s before expiry");

        let (failing, fetches) = cache(Some(Duration::from_secs(3600)), 1);
        failing.get().await.unwrap();
        CLOCK_SECS.fetch_add(3600 - 60, SeqCst);
        let kept = failing.get().await.unwrap();
        assert_eq!(
            kept.access_key_id(),
            "AKID0",
            "a failed refresh keeps valid ones"
        );
        CLOCK_SECS.fetch_add(61, SeqCst);
        let error = failing.get().await.unwrap_err();
        assert_eq!(error.code, "NoCredentials");
        assert!(error.message.contains("gone"), "{}", error.message);
        assert_eq!(fetches.load(SeqCst), 3);

        let none = CredentialCache::new(None);
        assert_eq!(none.get().await.unwrap_err().code, "NoCredentials");
    }
}
