//! The Atlas Admin API client and its operations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clock::SharedClock;
use diqwest::WithDigestAuth;
use reqwest::{Method, Url, header};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::Auth;
use crate::credentials::Credentials;
use crate::error::AtlasError;
use crate::models::{Cluster, EndpointService, InterfaceEndpoint, RegionalMode, to_atlas_region};
use crate::retry::{RawResponse, RetryPolicy, send_with_retries, transport_error};
use crate::{MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2024_08_05};

/// The public Atlas endpoint.
pub const DEFAULT_BASE_URL: &str = "https://cloud.mongodb.com";

/// Settings of an [`AtlasClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme, host and port of Atlas (no path): `https://cloud.mongodb.com`, or the simulator.
    pub base_url: String,
    /// Limit for one whole request, response body included.
    pub request_timeout: Duration,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Retry budget for 429 and 5xx.
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientConfig {
    /// The defaults with another base URL.
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::default()
        }
    }
}

/// A client for the Atlas Admin API private-endpoint operations.
///
/// Build one per process (per Lambda cold start) and reuse it: it keeps the HTTP connection
/// pool, the service-account token and the digest nonce between calls.
pub struct AtlasClient {
    http: reqwest::Client,
    api_base: Url,
    auth: Arc<Auth>,
    clock: SharedClock,
    retry: RetryPolicy,
    identity: String,
}

impl std::fmt::Debug for AtlasClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlasClient")
            .field("api_base", &self.api_base.as_str())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl AtlasClient {
    /// Builds a client. Plain `http://` is accepted only for loopback addresses (the
    /// simulator): credentials never travel unencrypted over a network.
    pub fn new(
        credentials: Credentials,
        config: ClientConfig,
        clock: SharedClock,
    ) -> Result<Self, AtlasError> {
        let base = Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|e| AtlasError::Config(format!("base URL {:?}: {e}", config.base_url)))?;
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&base) => {}
            other => {
                return Err(AtlasError::Config(format!(
                    "base URL {:?}: scheme {other} is not allowed (https, or http to 127.0.0.1)",
                    config.base_url
                )));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("atlas-privatelink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AtlasError::Config(format!("HTTP client: {e}")))?;
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| AtlasError::Config(format!("base URL: {e}")))
        };
        let api_base = join("/api/atlas/v2/")?;
        let token_url = join("/api/oauth/token")?;
        let identity = credentials.identity().to_owned();
        let auth = Auth::new(
            credentials,
            token_url.to_string(),
            http.clone(),
            clock.clone(),
            config.retry.clone(),
        );
        Ok(Self {
            http,
            api_base,
            auth: Arc::new(auth),
            clock,
            retry: config.retry,
            identity,
        })
    }

    /// Who the client acts as: the service account's client id or the API key's public key
    /// (neither is secret).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The same client (connection pool, token, digest nonce shared) with another retry policy:
    /// a poller that backs off by itself asks with fewer retries of its own.
    pub fn with_retry(&self, retry: RetryPolicy) -> Self {
        Self {
            http: self.http.clone(),
            api_base: self.api_base.clone(),
            auth: self.auth.clone(),
            clock: self.clock.clone(),
            retry,
            identity: self.identity.clone(),
        }
    }

    /// Lists the project's AWS private endpoint services.
    pub async fn list_endpoint_services(
        &self,
        group_id: &str,
    ) -> Result<Vec<EndpointService>, AtlasError> {
        let path = [
            "groups",
            group_id,
            "privateEndpoint",
            "AWS",
            "endpointService",
        ];
        self.call_json(
            "listEndpointServices",
            Method::GET,
            &path,
            MEDIA_TYPE_2023_01_01,
            None,
        )
        .await
    }

    /// Creates the project's AWS private endpoint service in `region` (either spelling).
    ///
    /// A region that has one already answers [`AtlasError::Conflict`] with
    /// [`AtlasError::is_service_already_exists_for_region`].
    pub async fn create_endpoint_service(
        &self,
        group_id: &str,
        region: &str,
    ) -> Result<EndpointService, AtlasError> {
        let body = json!({"providerName": "AWS", "region": to_atlas_region(region)});
        self.post_endpoint_service(group_id, body).await
    }

    /// Creates the project's AWS private endpoint service in `region` (either spelling) that
    /// also accepts VPC endpoints from `remote_regions` (cross-region PrivateLink).
    ///
    /// `remote_regions` are sent as given: Atlas takes its own spellings only (`US_WEST_2`;
    /// `us-west-2` is refused with 400 `INVALID_ATTRIBUTE`, see
    /// [`to_atlas_region`](crate::models::to_atlas_region)), at most 35, never the service's
    /// own region (400 `CROSS_REGION_PRIVATE_LINK_SELF_REGION`). An empty list creates the
    /// same service as [`AtlasClient::create_endpoint_service`].
    pub async fn create_endpoint_service_with_remote_regions(
        &self,
        group_id: &str,
        region: &str,
        remote_regions: &[String],
    ) -> Result<EndpointService, AtlasError> {
        let body = json!({
            "providerName": "AWS",
            "region": to_atlas_region(region),
            "supportedRemoteRegions": remote_regions,
        });
        self.post_endpoint_service(group_id, body).await
    }

    async fn post_endpoint_service(
        &self,
        group_id: &str,
        body: serde_json::Value,
    ) -> Result<EndpointService, AtlasError> {
        let path = ["groups", group_id, "privateEndpoint", "endpointService"];
        self.call_json(
            "createEndpointService",
            Method::POST,
            &path,
            MEDIA_TYPE_2023_01_01,
            Some(body),
        )
        .await
    }

    /// Replaces the remote regions of an AWS private endpoint service with `regions` (Atlas
    /// spellings; the same rules as on create) and returns the service.
    ///
    /// PATCH replaces the **whole** list: regions left out are removed, and `[]` removes them
    /// all. Atlas has no ETag or If-Match, so a read-modify-write can silently drop a region
    /// another writer added in between: serialize the writers of one service, and read the
    /// service again afterwards to check. After a change the service may show `INITIATING`
    /// for a while before a new region is usable.
    pub async fn update_endpoint_service_remote_regions(
        &self,
        group_id: &str,
        service_id: &str,
        regions: &[String],
    ) -> Result<EndpointService, AtlasError> {
        let path = [
            "groups",
            group_id,
            "privateEndpoint",
            "endpointService",
            service_id,
        ];
        let body = json!({"cloudProvider": "AWS", "supportedRemoteRegions": regions});
        self.call_json(
            "updateEndpointService",
            Method::PATCH,
            &path,
            MEDIA_TYPE_2023_01_01,
            Some(body),
        )
        .await
    }

    /// Whether the project's regionalized private endpoint mode is on.
    pub async fn get_regional_mode(&self, group_id: &str) -> Result<bool, AtlasError> {
        let mode: RegionalMode = self
            .call_json(
                "getRegionalMode",
                Method::GET,
                &regional_mode_path(group_id),
                MEDIA_TYPE_2023_01_01,
                None,
            )
            .await?;
        Ok(mode.enabled)
    }

    /// Turns the project's regionalized private endpoint mode on or off; returns the setting
    /// Atlas answers.
    ///
    /// Project-wide and disruptive: the connection strings of existing multi-region sharded
    /// clusters change, the project's clusters update for a while, and a project with a replica
    /// set cannot enable it (409, an [`AtlasError::Conflict`]: a configuration error, not
    /// something to retry).
    pub async fn set_regional_mode(
        &self,
        group_id: &str,
        enabled: bool,
    ) -> Result<bool, AtlasError> {
        let mode: RegionalMode = self
            .call_json(
                "setRegionalMode",
                Method::PATCH,
                &regional_mode_path(group_id),
                MEDIA_TYPE_2023_01_01,
                Some(json!({"enabled": enabled})),
            )
            .await?;
        Ok(mode.enabled)
    }

    /// Reads one AWS private endpoint service.
    pub async fn get_endpoint_service(
        &self,
        group_id: &str,
        service_id: &str,
    ) -> Result<EndpointService, AtlasError> {
        let path = service_path(group_id, service_id);
        self.call_json(
            "getEndpointService",
            Method::GET,
            &path,
            MEDIA_TYPE_2023_01_01,
            None,
        )
        .await
    }

    /// Deletes an AWS private endpoint service. One that is already gone counts as deleted.
    pub async fn delete_endpoint_service(
        &self,
        group_id: &str,
        service_id: &str,
    ) -> Result<(), AtlasError> {
        let path = service_path(group_id, service_id);
        self.call_delete("deleteEndpointService", &path).await
    }

    /// Links the VPC interface endpoint `vpce_id` to the service. Atlas answers 409 when it is
    /// linked already; callers treat that as success after reading it back.
    pub async fn create_interface_endpoint(
        &self,
        group_id: &str,
        service_id: &str,
        vpce_id: &str,
    ) -> Result<InterfaceEndpoint, AtlasError> {
        let mut path = service_path(group_id, service_id).to_vec();
        path.push("endpoint");
        self.call_json(
            "createInterfaceEndpoint",
            Method::POST,
            &path,
            MEDIA_TYPE_2023_01_01,
            Some(json!({"id": vpce_id})),
        )
        .await
    }

    /// Reads an interface endpoint's connection status.
    pub async fn get_interface_endpoint(
        &self,
        group_id: &str,
        service_id: &str,
        vpce_id: &str,
    ) -> Result<InterfaceEndpoint, AtlasError> {
        let path = interface_path(group_id, service_id, vpce_id);
        self.call_json(
            "getInterfaceEndpoint",
            Method::GET,
            &path,
            MEDIA_TYPE_2023_01_01,
            None,
        )
        .await
    }

    /// Unlinks an interface endpoint. One that is already gone counts as deleted.
    pub async fn delete_interface_endpoint(
        &self,
        group_id: &str,
        service_id: &str,
        vpce_id: &str,
    ) -> Result<(), AtlasError> {
        let path = interface_path(group_id, service_id, vpce_id);
        self.call_delete("deleteInterfaceEndpoint", &path).await
    }

    /// Reads a cluster (media type 2024-08-05, which has `connectionStrings.privateEndpoint`).
    pub async fn get_cluster(
        &self,
        group_id: &str,
        cluster_name: &str,
    ) -> Result<Cluster, AtlasError> {
        let path = ["groups", group_id, "clusters", cluster_name];
        self.call_json(
            "getCluster",
            Method::GET,
            &path,
            MEDIA_TYPE_2024_08_05,
            None,
        )
        .await
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &[&str],
        media_type: &'static str,
        body: Option<serde_json::Value>,
    ) -> Result<T, AtlasError> {
        let raw = self.call(operation, method, path, media_type, body).await?;
        if !(200..300).contains(&raw.status) {
            return Err(AtlasError::from_client_status(
                operation, raw.status, &raw.body,
            ));
        }
        serde_json::from_slice(&raw.body).map_err(|e| AtlasError::Decode {
            operation,
            detail: e.to_string(),
        })
    }

    async fn call_delete(&self, operation: &'static str, path: &[&str]) -> Result<(), AtlasError> {
        let raw = self
            .call(operation, Method::DELETE, path, MEDIA_TYPE_2023_01_01, None)
            .await?;
        match raw.status {
            200..=299 | 404 => Ok(()),
            status => Err(AtlasError::from_client_status(operation, status, &raw.body)),
        }
    }

    /// Sends one API call with retries; refreshes the token once if Atlas refuses it.
    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        path: &[&str],
        media_type: &'static str,
        body: Option<serde_json::Value>,
    ) -> Result<RawResponse, AtlasError> {
        let mut url = self.api_base.clone();
        url.path_segments_mut()
            .map_err(|()| AtlasError::Config("base URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(path);
        let started = Instant::now();
        let mut token_refreshed = false;
        loop {
            let bearer = match self.auth.as_ref() {
                Auth::Bearer(source) => Some(source.token().await?),
                Auth::Digest(_) => None,
            };
            let raw = send_with_retries(&self.retry, self.clock.as_ref(), operation, |_| {
                let mut request = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(header::ACCEPT, media_type);
                if let Some(body) = &body {
                    request = request
                        .header(header::CONTENT_TYPE, media_type)
                        .body(body.to_string());
                }
                let bearer = bearer.clone();
                async move {
                    match (self.auth.as_ref(), bearer) {
                        (Auth::Digest(session), _) => match request.send_digest_auth(session).await
                        {
                            Ok(response) => RawResponse::from_send(Ok(response)).await,
                            Err(diqwest::error::Error::Reqwest(e)) => Err(transport_error(e)),
                            // Anything else is the challenge itself (missing, unreadable): no
                            // retry makes it readable, so it is a refusal now, not an outage.
                            Err(other) => Ok(unreadable_challenge(&other)),
                        },
                        (Auth::Bearer(_), Some(token)) => {
                            RawResponse::from_send(request.bearer_auth(token.expose()).send().await)
                                .await
                        }
                        (Auth::Bearer(_), None) => {
                            Err(crate::retry::TransportError("no token".into()))
                        }
                    }
                }
            })
            .await;
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    tracing::warn!(operation, error = %e, elapsed_ms = started.elapsed().as_millis() as u64, "atlas call failed");
                    return Err(e);
                }
            };
            if raw.status == 401
                && !token_refreshed
                && let (Auth::Bearer(source), Some(stale)) = (self.auth.as_ref(), bearer)
            {
                // Revoked or expired early: one fresh token, one more try.
                source.invalidate(&stale).await;
                token_refreshed = true;
                continue;
            }
            tracing::info!(
                operation,
                status = raw.status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "atlas call"
            );
            return Ok(raw);
        }
    }
}

/// The answer standing for a Digest challenge the client cannot use: a 401 whose detail says
/// why (the challenge text is Atlas's, never a secret), which becomes `AtlasAuthFailed`.
fn unreadable_challenge(error: &diqwest::error::Error) -> RawResponse {
    let body = serde_json::json!({
        "error": 401,
        "errorCode": "DIGEST_CHALLENGE_UNREADABLE",
        "detail": format!(
            "the Digest challenge could not be used ({error}): is the base URL an Atlas Admin API, and are these API keys?"
        ),
    });
    RawResponse {
        status: 401,
        retry_after: None,
        body: body.to_string().into_bytes(),
    }
}

fn service_path<'a>(group_id: &'a str, service_id: &'a str) -> [&'a str; 6] {
    [
        "groups",
        group_id,
        "privateEndpoint",
        "AWS",
        "endpointService",
        service_id,
    ]
}

fn regional_mode_path(group_id: &str) -> [&str; 4] {
    ["groups", group_id, "privateEndpoint", "regionalMode"]
}

fn interface_path<'a>(group_id: &'a str, service_id: &'a str, vpce_id: &'a str) -> Vec<&'a str> {
    let mut path = service_path(group_id, service_id).to_vec();
    path.extend(["endpoint", vpce_id]);
    path
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;

    fn creds() -> Credentials {
        Credentials::ApiKey {
            public_key: "pub".into(),
            private_key: Secret::new("TOPSECRET"),
        }
    }

    #[test]
    fn refuses_plain_http_beyond_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "https://cloud.mongodb.com/",
        ] {
            AtlasClient::new(
                creds(),
                ClientConfig::with_base_url(ok),
                clock::SystemClock::shared(),
            )
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["http://cloud.mongodb.com", "ftp://127.0.0.1", "not a url"] {
            let err = AtlasClient::new(
                creds(),
                ClientConfig::with_base_url(bad),
                clock::SystemClock::shared(),
            )
            .expect_err(bad);
            assert_eq!(err.error_name(), "InvalidRequest");
        }
    }

    /// A server answering every request with `answer` (a whole HTTP/1.1 response), counting
    /// the requests.
    async fn stub(
        answer: &'static str,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), count)
    }

    #[tokio::test]
    async fn an_unreadable_digest_challenge_is_a_prompt_auth_failure() {
        let (url, requests) = stub(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest this-is-not-a-challenge\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let client = AtlasClient::new(
            creds(),
            ClientConfig::with_base_url(&url),
            clock::SystemClock::shared(),
        )
        .expect("client");
        let started = std::time::Instant::now();
        let err = client
            .list_endpoint_services("5f0c0c0c0c0c0c0c0c0c0c0c")
            .await
            .expect_err("refused");
        assert_eq!(err.error_name(), "AtlasAuthFailed", "{err}");
        assert!(err.to_string().contains("Digest challenge"), "{err}");
        assert!(requests.load(std::sync::atomic::Ordering::SeqCst) <= 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_base_url_without_a_token_endpoint_says_so() {
        let (url, _) = stub("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        let client = AtlasClient::new(
            Credentials::ServiceAccount {
                client_id: "mdb_sa_id".into(),
                client_secret: Secret::new("TOPSECRET"),
            },
            ClientConfig::with_base_url(&url),
            clock::SystemClock::shared(),
        )
        .expect("client");
        let err = client
            .list_endpoint_services("5f0c0c0c0c0c0c0c0c0c0c0c")
            .await
            .expect_err("no token endpoint");
        let text = err.to_string();
        assert!(text.contains("404") && text.contains("base URL"), "{text}");
        assert!(!text.contains("TOPSECRET"));
    }

    /// A server answering every request with `answer` and keeping each request's text (head
    /// and body).
    async fn recording_stub(
        answer: String,
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let log = log.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut text = Vec::new();
                    let mut buf = vec![0u8; 8192];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        text.extend_from_slice(&buf[..n]);
                        let request = String::from_utf8_lossy(&text).into_owned();
                        let Some(head_end) = request.find("\r\n\r\n") else {
                            continue;
                        };
                        let length = request[..head_end]
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if text.len() < head_end + 4 + length {
                            continue;
                        }
                        log.lock().expect("log").push(request);
                        text.clear();
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), seen)
    }

    fn ok_json(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {MEDIA_TYPE_2023_01_01}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn remote_regions_are_patched_as_a_whole_list_with_the_versioned_media_type() {
        let service = r#"{"id":"0123456789abcdef01234567","cloudProvider":"AWS","status":"INITIATING","regionName":"us-east-1","supportedRemoteRegions":["US_WEST_2"]}"#;
        let (url, seen) = recording_stub(ok_json(service)).await;
        let client = AtlasClient::new(
            creds(),
            ClientConfig::with_base_url(&url),
            clock::SystemClock::shared(),
        )
        .expect("client");
        let regions = vec!["US_WEST_2".to_owned()];
        let answered = client
            .update_endpoint_service_remote_regions(
                "5f0c0c0c0c0c0c0c0c0c0c0c",
                "0123456789abcdef01234567",
                &regions,
            )
            .await
            .expect("patched");
        assert_eq!(answered.supported_remote_regions, regions);
        client
            .update_endpoint_service_remote_regions(
                "5f0c0c0c0c0c0c0c0c0c0c0c",
                "0123456789abcdef01234567",
                &[],
            )
            .await
            .expect("cleared");
        client
            .create_endpoint_service_with_remote_regions(
                "5f0c0c0c0c0c0c0c0c0c0c0c",
                "us-east-1",
                &regions,
            )
            .await
            .expect("created");
        let requests = seen.lock().expect("log").clone();
        assert_eq!(requests.len(), 3, "{requests:#?}");
        let patch = &requests[0];
        assert!(
            patch.starts_with("PATCH /api/atlas/v2/groups/5f0c0c0c0c0c0c0c0c0c0c0c/privateEndpoint/endpointService/0123456789abcdef01234567 HTTP/1.1"),
            "{patch}"
        );
        let lower = patch.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("content-type: {MEDIA_TYPE_2023_01_01}")),
            "{patch}"
        );
        assert!(
            lower.contains(&format!("accept: {MEDIA_TYPE_2023_01_01}")),
            "{patch}"
        );
        assert!(
            patch.ends_with(r#"{"cloudProvider":"AWS","supportedRemoteRegions":["US_WEST_2"]}"#),
            "{patch}"
        );
        assert!(
            requests[1].ends_with(r#"{"cloudProvider":"AWS","supportedRemoteRegions":[]}"#),
            "an empty list is sent, not left out: {}",
            requests[1]
        );
        assert!(requests[2].starts_with("POST /api/atlas/v2/groups/5f0c0c0c0c0c0c0c0c0c0c0c/privateEndpoint/endpointService HTTP/1.1"));
        assert!(
            requests[2].ends_with(r#"{"providerName":"AWS","region":"US_EAST_1","supportedRemoteRegions":["US_WEST_2"]}"#),
            "{}",
            requests[2]
        );
    }

    #[tokio::test]
    async fn regional_mode_get_and_patch() {
        let (url, seen) = recording_stub(ok_json(r#"{"enabled":true}"#)).await;
        let client = AtlasClient::new(
            creds(),
            ClientConfig::with_base_url(&url),
            clock::SystemClock::shared(),
        )
        .expect("client");
        assert!(
            client
                .get_regional_mode("5f0c0c0c0c0c0c0c0c0c0c0c")
                .await
                .expect("get")
        );
        assert!(
            client
                .set_regional_mode("5f0c0c0c0c0c0c0c0c0c0c0c", true)
                .await
                .expect("set")
        );
        let requests = seen.lock().expect("log").clone();
        assert!(requests[0].starts_with(
            "GET /api/atlas/v2/groups/5f0c0c0c0c0c0c0c0c0c0c0c/privateEndpoint/regionalMode HTTP/1.1"
        ));
        assert!(requests[1].starts_with(
            "PATCH /api/atlas/v2/groups/5f0c0c0c0c0c0c0c0c0c0c0c/privateEndpoint/regionalMode HTTP/1.1"
        ));
        assert!(
            requests[1].ends_with(r#"{"enabled":true}"#),
            "{}",
            requests[1]
        );
    }

    #[tokio::test]
    async fn a_regional_mode_conflict_is_a_conflict_not_retried() {
        let body = r#"{"error":409,"errorCode":"SOME_CONFLICT","detail":"replica set","reason":"Conflict"}"#;
        let answer = format!(
            "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (url, seen) = recording_stub(answer).await;
        let client = AtlasClient::new(
            creds(),
            ClientConfig::with_base_url(&url),
            clock::SystemClock::shared(),
        )
        .expect("client");
        let err = client
            .set_regional_mode("5f0c0c0c0c0c0c0c0c0c0c0c", true)
            .await
            .expect_err("conflict");
        assert!(err.is_conflict(), "{err}");
        assert_eq!(err.error_name(), "InvalidRequest");
        assert_eq!(seen.lock().expect("log").len(), 1, "a 409 is not retried");
    }

    #[test]
    fn debug_shows_identity_not_secret() {
        let client = AtlasClient::new(
            creds(),
            ClientConfig::with_base_url("http://127.0.0.1:1"),
            clock::SystemClock::shared(),
        )
        .expect("client");
        let text = format!("{client:?}");
        assert!(
            text.contains("pub") && !text.contains("TOPSECRET"),
            "{text}"
        );
    }
}
