//! The request pipeline of the Atlas API: contract check of the request, authentication,
//! media types, rate limit, queued faults, the operation, contract check of the response.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Bytes, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::{TokenRefusal, Verdict, digest_challenge};
use crate::faults::FaultAction;
use crate::rate_limit::Admission;
use crate::reply::{JSON, Reply, V2023, media_types};
use crate::routes::{API_BASE, Op, dispatch};
use crate::shared::{Shared, lock};

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whole seconds, rounded up, at least 1.
fn whole_seconds(duration: Duration) -> u64 {
    (duration.as_secs() + u64::from(duration.subsec_nanos() > 0)).max(1)
}

/// Every request that is not `/__sim` or the token endpoint.
pub(crate) async fn atlas_api(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let method = parts.method.as_str().to_owned();
    let op = Op::classify(&parts.method, &path);
    if let Some(op) = &op {
        lock(&shared.counters).count_request(op.name());
    }
    let is_api = path == API_BASE || path.starts_with(&format!("{API_BASE}/"));
    let content_type = header_str(&parts.headers, header::CONTENT_TYPE).map(str::to_owned);
    let accept = header_str(&parts.headers, header::ACCEPT).map(str::to_owned);
    let reply = match to_bytes(body, MAX_BODY).await {
        Err(_) => Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "INVALID_REQUEST_BODY",
            "The body is too large.",
        ),
        Ok(_) if !is_api => Reply::error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            format!("No resource at {path}."),
        ),
        Ok(bytes) => {
            let json: Option<Value> = serde_json::from_slice(&bytes).ok();
            let request_violations = shared.contract.as_ref().map(|contract| {
                contract.check_request(
                    &method,
                    &path,
                    content_type.as_deref(),
                    accept.as_deref(),
                    json.as_ref(),
                )
            });
            match request_violations.filter(|v| !v.is_empty()) {
                Some(violations) => {
                    shared.record_violations(&violations);
                    let detail: Vec<String> =
                        violations.iter().map(|v| v.message.clone()).collect();
                    Reply::error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "CONTRACT_VIOLATION",
                        detail.join("; "),
                    )
                }
                None => {
                    let reply = process(&shared, &parts, op.as_ref(), &bytes, json.as_ref()).await;
                    check_response(&shared, &method, &path, accept.as_deref(), reply)
                }
            }
        }
    };
    let status = reply.status.as_u16();
    lock(&shared.counters).count_status(status);
    tracing::info!(
        method = %method,
        path = %path,
        operation = op.as_ref().map(Op::name).unwrap_or("-"),
        status,
        error_code = reply.error_code().unwrap_or(""),
        "atlas api"
    );
    reply.into_response()
}

/// Replaces a reply that breaks the spec by a 500.
fn check_response(
    shared: &Shared,
    method: &str,
    path: &str,
    accept: Option<&str>,
    reply: Reply,
) -> Reply {
    let Some(contract) = &shared.contract else {
        return reply;
    };
    let violations = contract.check_response(
        method,
        path,
        accept,
        reply.status.as_u16(),
        reply.content_type,
        reply.body.as_ref(),
    );
    if violations.is_empty() {
        return reply;
    }
    shared.record_violations(&violations);
    let detail: Vec<String> = violations.iter().map(|v| v.message.clone()).collect();
    Reply::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "CONTRACT_VIOLATION",
        format!(
            "The simulator's response breaks the spec: {}",
            detail.join("; ")
        ),
    )
}

/// Authentication, API access list, media types, rate limit, faults, then the operation.
async fn process(
    shared: &Shared,
    parts: &Parts,
    op: Option<&Op>,
    bytes: &Bytes,
    json: Option<&Value>,
) -> Reply {
    if let Some(refusal) = authenticate(shared, parts) {
        return refusal;
    }
    // After authentication: the access list belongs to the organization of the caller's
    // credentials, so Atlas must know who calls before it can apply it (a Digest client still
    // gets its 401 challenge first).
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(refusal) = check_access_list(shared, peer) {
        return refusal;
    }
    let Some(op) = op else {
        let detail = format!("No resource at {} {}.", parts.method, parts.uri.path());
        return Reply::error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", detail);
    };
    let wanted = op.media_type();
    if !media_types(header_str(&parts.headers, header::ACCEPT))
        .iter()
        .any(|m| m == wanted)
    {
        return Reply::error(
            StatusCode::NOT_ACCEPTABLE,
            "UNSUPPORTED_VERSION",
            format!("{} needs the header Accept: {wanted}.", op.name()),
        );
    }
    if op.has_body() {
        let content_type = media_types(header_str(&parts.headers, header::CONTENT_TYPE));
        if content_type.first().map(String::as_str) != Some(V2023) {
            return Reply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("{} needs the header Content-Type: {V2023}.", op.name()),
            );
        }
        if json.is_none() {
            let detail = if bytes.is_empty() {
                "The request body is missing."
            } else {
                "The request body is not valid JSON."
            };
            return Reply::error(StatusCode::BAD_REQUEST, "INVALID_JSON", detail);
        }
    }
    let mut rate_headers = Vec::new();
    let rate_limit = lock(&shared.settings).rate_limit;
    if let Some(limit) = rate_limit {
        match lock(&shared.limiter).admit(&limit, op.group(), shared.now()) {
            Admission::Allowed { limit, remaining } => {
                rate_headers.push(("ratelimit-limit", limit.to_string()));
                rate_headers.push(("ratelimit-remaining", remaining.to_string()));
            }
            Admission::Limited {
                limit: capacity,
                retry_after,
            } => {
                let mut reply = Reply::error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITED_TOKEN_BUCKET",
                    "Rate limit exceeded for this project; retry later.",
                )
                .with_header(
                    header::HeaderName::from_static("ratelimit-limit"),
                    capacity.to_string(),
                )
                .with_header(header::HeaderName::from_static("ratelimit-remaining"), "0");
                if !limit.omit_retry_after {
                    reply = reply
                        .with_header(header::RETRY_AFTER, whole_seconds(retry_after).to_string());
                }
                return reply;
            }
        }
    }
    let reply = with_fault(shared, op.name(), || {
        dispatch(shared, op, json).unwrap_or_else(Reply::from)
    })
    .await;
    rate_headers
        .into_iter()
        .fold(reply, |reply, (name, value)| {
            reply.with_header(header::HeaderName::from_static(name), value)
        })
}

/// Applies the next queued fault for `operation`: an error answers instead of `answer`, a
/// slow fault delays it (real time, to exercise client timeouts), none answers at once.
async fn with_fault(shared: &Shared, operation: &str, answer: impl FnOnce() -> Reply) -> Reply {
    let fault = lock(&shared.faults).take(operation);
    match fault {
        Some(FaultAction::Error {
            status,
            retry_after,
        }) => fault_reply(status, retry_after),
        Some(FaultAction::Slow { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            answer()
        }
        Some(FaultAction::LoseAnswer { status }) => {
            let _carried_out = answer();
            fault_reply(status, None)
        }
        None => answer(),
    }
}

/// The answer of an error fault.
fn fault_reply(status: u16, retry_after: Option<u64>) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        429 => "RATE_LIMITED_TOKEN_BUCKET",
        503 => "SERVICE_UNAVAILABLE",
        500..=599 => "UNEXPECTED_ERROR",
        _ => "SIMULATED_ERROR",
    };
    let reply = Reply::error(status, code, "Injected fault (simulated).");
    match retry_after {
        Some(secs) => reply.with_header(header::RETRY_AFTER, secs.to_string()),
        None => reply,
    }
}

/// The 403 answer when an API access list is in force and the caller's address is on none of
/// its networks.
///
/// Atlas's answer (terraform-provider-mongodbatlas issue 1048; mongodb/docs commit 563b63e, the
/// mongocli troubleshooting page): HTTP 403, `errorCode` `IP_ADDRESS_NOT_ON_ACCESS_LIST`,
/// `reason` `Forbidden`, `detail` "IP address <ip> is not allowed to access this resource.".
/// The operations we serve all document 403 with an `ApiError` body.
fn check_access_list(shared: &Shared, peer: Option<IpAddr>) -> Option<Reply> {
    let settings = lock(&shared.settings);
    let list = settings.access_list.as_ref()?;
    // An IPv4 client of a dual-stack socket shows as `::ffff:a.b.c.d`; the list names it as
    // IPv4.
    let peer = peer.map(|ip| ip.to_canonical());
    if peer.is_some_and(|ip| list.iter().any(|net| net.contains(&ip))) {
        return None;
    }
    // The server is always started with connection info, so an unknown address is a bug;
    // refusing keeps the access list closed rather than open.
    let shown = peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    // Atlas also puts the address in `parameters` (`["<ip>"]`), but the spec types the items of
    // `ApiError.parameters` as objects, so a string there fails the contract check; like every
    // other error of the simulator, this one leaves `parameters` empty.
    Some(Reply::error(
        StatusCode::FORBIDDEN,
        "IP_ADDRESS_NOT_ON_ACCESS_LIST",
        format!("IP address {shown} is not allowed to access this resource."),
    ))
}

/// The 401 answer, unless the request carries valid credentials.
fn authenticate(shared: &Shared, parts: &Parts) -> Option<Reply> {
    let (keys, nonce_ttl) = {
        let settings = lock(&shared.settings);
        (settings.api_keys.clone(), settings.nonce_ttl)
    };
    let uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or_else(|| parts.uri.path());
    let now = shared.now();
    let mut auth = lock(&shared.auth);
    let authorization = header_str(&parts.headers, header::AUTHORIZATION);
    match auth.verify(
        parts.method.as_str(),
        uri,
        authorization,
        &keys,
        now,
        nonce_ttl,
    ) {
        Verdict::Allowed(who) => {
            tracing::debug!(principal = %who, "authenticated");
            None
        }
        Verdict::BadToken { detail } => Some(
            Reply::error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", detail)
                .with_header(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""),
        ),
        Verdict::Challenge { stale, detail } => {
            let nonce = auth.new_nonce(now, nonce_ttl);
            lock(&shared.counters).digest_challenges += 1;
            Some(
                Reply::error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", detail)
                    .with_header(header::WWW_AUTHENTICATE, digest_challenge(&nonce, stale)),
            )
        }
    }
}

/// `POST /api/oauth/token`: client credentials in Basic auth, `grant_type=client_credentials`.
///
/// The API access list does not apply here: "IP access lists apply to using service account
/// access tokens, not creating or revoking them. You can generate a token from any IP address"
/// (Atlas docs, "Generate Service Account Token",
/// <https://www.mongodb.com/docs/atlas/api/service-accounts/generate-oauth2-token>).
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    lock(&shared.counters).count_request("token");
    let reply = with_fault(&shared, "token", || issue(&shared, &headers, &body)).await;
    let status = reply.status.as_u16();
    lock(&shared.counters).count_status(status);
    tracing::info!(
        path = "/api/oauth/token",
        operation = "token",
        status,
        "token endpoint"
    );
    reply.into_response()
}

fn issue(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Reply {
    let (accounts, ttl, max_live) = {
        let settings = lock(&shared.settings);
        (
            settings.service_accounts.clone(),
            settings.token_ttl,
            settings.max_tokens_per_client,
        )
    };
    let form = String::from_utf8_lossy(body);
    let authorization = header_str(headers, header::AUTHORIZATION);
    let issued = lock(&shared.auth).issue_token(
        authorization,
        &form,
        &accounts,
        shared.now(),
        ttl,
        max_live,
    );
    match issued {
        Ok(token) => {
            lock(&shared.counters).tokens_issued += 1;
            Reply::json(
                StatusCode::OK,
                JSON,
                json!({"access_token": token, "expires_in": ttl.as_secs(), "token_type": "Bearer"}),
            )
            .with_header(header::CACHE_CONTROL, "no-store")
        }
        Err(TokenRefusal::InvalidClient) => {
            Reply::json(StatusCode::UNAUTHORIZED, JSON, json!({"error": "invalid_client"}))
        }
        Err(TokenRefusal::TooManyTokens { retry_after }) => Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            JSON,
            json!({
                "error": "too_many_tokens",
                "error_description": "This service account already has the maximum number of live access tokens.",
            }),
        )
        .with_header(header::RETRY_AFTER, whole_seconds(retry_after).to_string()),
    }
}
