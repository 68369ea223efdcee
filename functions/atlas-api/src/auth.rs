//! Authentication: a cached OAuth token for service accounts, HTTP Digest for API keys.

use std::time::{Duration, SystemTime};

use clock::SharedClock;
use diqwest::DigestAuthSession;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::credentials::{Credentials, Secret};
use crate::error::AtlasError;
use crate::retry::{RawResponse, RetryPolicy, send_with_retries};

/// How requests are authenticated.
pub(crate) enum Auth {
    /// `Authorization: Bearer` with a token from the service account.
    Bearer(TokenSource),
    /// HTTP Digest with an API key; the session caches the server's nonce so most calls need
    /// no extra challenge round trip.
    Digest(DigestAuthSession),
}

impl Auth {
    pub(crate) fn new(
        credentials: Credentials,
        token_url: String,
        http: reqwest::Client,
        clock: SharedClock,
        retry: RetryPolicy,
    ) -> Self {
        match credentials {
            Credentials::ServiceAccount {
                client_id,
                client_secret,
            } => Auth::Bearer(TokenSource {
                client_id,
                client_secret,
                token_url,
                http,
                clock,
                retry,
                cache: Mutex::new(None),
            }),
            Credentials::ApiKey {
                public_key,
                private_key,
            } => Auth::Digest(DigestAuthSession::new(public_key, private_key.expose())),
        }
    }
}

/// Fetches service-account tokens and keeps the current one until shortly before it expires.
///
/// Atlas allows 100 live tokens per service account and rate-limits the token endpoint, so one
/// token serves every call of this client (and, with the client kept in a static, every warm
/// invocation of a Lambda function).
pub(crate) struct TokenSource {
    client_id: String,
    client_secret: Secret,
    token_url: String,
    http: reqwest::Client,
    clock: SharedClock,
    retry: RetryPolicy,
    /// Held across a fetch, so concurrent callers wait for one fetch instead of each starting one.
    cache: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    value: Secret,
    refresh_at: SystemTime,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    /// The current token, fetching a new one when there is none or it is about to expire.
    pub(crate) async fn token(&self) -> Result<Secret, AtlasError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if let Some(token) = cache.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch().await?;
        let value = fresh.value.clone();
        *cache = Some(fresh);
        Ok(value)
    }

    /// Forgets `stale` (Atlas refused it), unless another caller already replaced it.
    pub(crate) async fn invalidate(&self, stale: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|t| &t.value == stale) {
            *cache = None;
        }
    }

    async fn fetch(&self) -> Result<CachedToken, AtlasError> {
        const OP: &str = "token";
        let raw = send_with_retries(&self.retry, self.clock.as_ref(), OP, |_| {
            let request = self
                .http
                .post(&self.token_url)
                .basic_auth(&self.client_id, Some(self.client_secret.expose()))
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&[("grant_type", "client_credentials")]);
            async move { RawResponse::from_send(request.send().await).await }
        })
        .await?;
        if raw.status == 404 {
            // No token endpoint there: the credentials were never looked at.
            return Err(AtlasError::Auth {
                operation: OP,
                status: raw.status,
                code: "NOT_FOUND".to_owned(),
                detail: format!(
                    "{} answered 404 Not Found: the base URL is probably wrong (it is the \
                     Atlas host, https://cloud.mongodb.com, or the simulator's address; set by \
                     the credentials secret's baseUrl or ATLAS_BASE_URL)",
                    self.token_url
                ),
            });
        }
        if raw.status != 200 {
            return Err(AtlasError::Auth {
                operation: OP,
                status: raw.status,
                code: token_error_code(&raw.body),
                detail: format!(
                    "the token endpoint refused service account {}",
                    self.client_id
                ),
            });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&raw.body).map_err(|e| AtlasError::Decode {
                operation: OP,
                detail: format!("token response: {e}"),
            })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        // Refresh with a margin: a tenth of the lifetime, at most five minutes, so a token
        // never expires between our check and Atlas's.
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        let now = self.clock.now();
        tracing::info!(
            operation = OP,
            client_id = %self.client_id,
            expires_in_s = lifetime.as_secs(),
            "fetched a service account token"
        );
        Ok(CachedToken {
            value: Secret::new(parsed.access_token),
            refresh_at: now + lifetime - margin,
        })
    }
}

/// The OAuth error code (`invalid_client`, …) of a token-endpoint error body, if any.
fn token_error_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_default()
}
