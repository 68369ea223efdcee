//! The AWS front: an HTTP endpoint that clients use as `AWS_ENDPOINT_URL`, which forwards
//! every request to moto and applies the rules of [`Realism`](crate::Realism) that moto does
//! not follow. Because it sits on the wire, the rules hold for any client (the workflow, the
//! AWS CLI, a test), and the SDK parses the errors exactly as it parses AWS's.
//!
//! EC2 and STS speak the query protocol (form parameters in, XML out); everything else
//! (Secrets Manager, Step Functions) passes through untouched: moto already follows the rules
//! the workflow depends on there (client request tokens, execution names; see
//! `tests/integration/realism.rs`).

mod ec2;
mod models;
mod query;
mod sts;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;
use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;
use xmltree::Element;

pub use ec2::Caller;
pub use models::AwsModels;
pub use query::Params;

/// Largest request body forwarded.
const MAX_BODY: usize = 16 << 20;

/// moto, as the front reaches it.
#[derive(Debug, Clone)]
pub struct Upstream {
    http: reqwest::Client,
    endpoint: String,
}

impl Upstream {
    /// An EC2 query to moto on behalf of `caller` (same account and region); the parsed
    /// answer, or `None` if moto did not answer with a success.
    pub(crate) async fn ec2(
        &self,
        caller: &Caller,
        params: &[(String, String)],
    ) -> Option<Element> {
        let mut form: Vec<(String, String)> = params.to_vec();
        form.push(("Version".to_owned(), "2016-11-15".to_owned()));
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let answer = self
            .http
            .post(&self.endpoint)
            .header(header::AUTHORIZATION, &caller.authorization)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .ok()?;
        if !answer.status().is_success() {
            return None;
        }
        query::parse(&answer.bytes().await.ok()?)
    }
}

struct FrontState {
    upstream: Upstream,
    models: Arc<AwsModels>,
}

/// A running AWS front; see the module documentation. Stops when dropped.
#[derive(Debug)]
pub struct AwsFront {
    addr: SocketAddr,
    models: Arc<AwsModels>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl AwsFront {
    /// Starts a front on a free loopback port (or `listen`), forwarding to moto at
    /// `moto_endpoint` (`http://127.0.0.1:PORT`) under `models`.
    pub async fn start(
        moto_endpoint: &str,
        models: Arc<AwsModels>,
        listen: Option<SocketAddr>,
    ) -> Result<AwsFront, String> {
        let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("AWS front: cannot listen on {listen}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("AWS front: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| format!("AWS front: HTTP client: {e}"))?;
        let state = Arc::new(FrontState {
            upstream: Upstream {
                http,
                endpoint: moto_endpoint.trim_end_matches('/').to_owned(),
            },
            models: models.clone(),
        });
        let app = Router::new().fallback(handle).with_state(state);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "AWS front stopped");
            }
        });
        tracing::debug!(%addr, moto = moto_endpoint, "AWS front listening");
        Ok(AwsFront {
            addr,
            models,
            stop: Mutex::new(Some(stop)),
        })
    }

    /// `http://127.0.0.1:PORT`: what clients use as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The rules and what the front has seen (to deny a role, say).
    pub fn models(&self) -> &Arc<AwsModels> {
        &self.models
    }

    /// SDK configuration pointing at the front, with dummy credentials, in `region`.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(
                "testing", "testing", None, None, "devstack",
            ))
            .load()
            .await
    }

    /// Stops serving.
    pub fn shutdown(&self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
    }
}

impl Drop for AwsFront {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The caller of a SigV4-signed request: access key, region, service.
fn caller_of(headers: &HeaderMap) -> Option<(Caller, String)> {
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    // AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/ec2/aws4_request, …
    let scope = authorization
        .split("Credential=")
        .nth(1)?
        .split(',')
        .next()?;
    let mut parts = scope.split('/');
    let access_key = parts.next()?.to_owned();
    let _date = parts.next()?;
    let region = parts.next()?.to_owned();
    let service = parts.next()?.to_owned();
    Some((
        Caller {
            authorization: authorization.to_owned(),
            access_key,
            region,
        },
        service,
    ))
}

async fn handle(State(front): State<Arc<FrontState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let caller = caller_of(&parts.headers);
    let params = Params::parse(&body);
    if let Some((_, service)) = &caller {
        // The query protocol names the action in the body, the JSON one in `X-Amz-Target`
        // (`DynamoDB_20120810.GetItem`).
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|t| t.to_str().ok())
            .and_then(|t| t.rsplit('.').next());
        let action = params.get("Action").or(target).unwrap_or("(unknown)");
        front.models.count_call(service, action);
    }
    let ours = match &caller {
        Some((caller, service)) if service == "ec2" => {
            front
                .models
                .before_ec2(&front.upstream, caller, &params)
                .await
        }
        Some((_, service)) if service == "sts" => front.models.before_sts(&params),
        _ => None,
    };
    if let Some(reply) = ours {
        front.models.count(&reply.code);
        tracing::debug!(action = params.get("Action").unwrap_or(""), status = %reply.status, "AWS front answered");
        return xml_response(reply.status, reply.body);
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut forward = front
        .upstream
        .http
        .request(
            parts.method.clone(),
            format!("{}{path}", front.upstream.endpoint),
        )
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH && name != header::CONNECTION {
            forward = forward.header(name, value);
        }
    }
    let answer = match forward.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("moto did not answer: {e}")).into_response();
        }
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let request_id = answer.headers().get("x-amzn-requestid").cloned();
    let Ok(bytes) = answer.bytes().await else {
        return (StatusCode::BAD_GATEWAY, "moto's answer broke off").into_response();
    };
    let bytes = match &caller {
        Some((caller, service)) if service == "ec2" => {
            front.models.after_ec2(caller, &params, status, bytes)
        }
        _ => bytes,
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Some(id) = request_id {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

fn xml_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}
