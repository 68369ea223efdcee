//! HTTP tests of the simulator, on a [`VirtualClock`] so no test waits for real.

mod access_list;
mod auth;
mod faults;
mod lifecycle;
mod link_gate;
mod remote_regions;

use std::sync::Arc;
use std::time::Duration;

use clock::VirtualClock;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::reply::{V2023, V2024};
use crate::{AtlasSim, SimConfig, SimHandle};

/// The project used by the tests.
pub(crate) const GROUP: &str = "5f0c6a2b9e1d4c3b2a190807";

/// A running simulator, its clock, and a client holding an access token.
pub(crate) struct Env {
    pub sim: SimHandle,
    pub clock: VirtualClock,
    pub http: reqwest::Client,
    pub token: String,
}

/// An answer: status, headers, JSON body (`Null` if none).
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body["errorCode"].as_str().unwrap_or("")
    }
}

pub(crate) fn vpce(n: u64) -> String {
    format!("vpce-{n:017x}")
}

pub(crate) async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// Starts a simulator with `config` and fetches a token for the default service account.
pub(crate) async fn start(config: SimConfig) -> Env {
    let clock = VirtualClock::new();
    let sim = AtlasSim::start(config, Arc::new(clock.clone()))
        .await
        .expect("simulator starts");
    let http = reqwest::Client::new();
    let mut env = Env {
        sim,
        clock,
        http,
        token: String::new(),
    };
    let token = env.fetch_token("sim-client-id", "sim-client-secret").await;
    assert_eq!(token.status, 200, "{}", token.body);
    env.token = token.body["access_token"].as_str().unwrap_or("").to_owned();
    env
}

/// Starts a simulator whose changes are instant.
pub(crate) async fn start_instant() -> Env {
    start(SimConfig {
        delays: crate::Delays::instant(),
        ..SimConfig::default()
    })
    .await
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/atlas/v2/groups/{GROUP}{path}", self.sim.base_url())
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub async fn fetch_token(&self, id: &str, secret: &str) -> Answer {
        let response = self
            .http
            .post(format!("{}/api/oauth/token", self.sim.base_url()))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .expect("token request");
        answer(response).await
    }

    /// A private-endpoint call with the bearer token and the 2023-01-01 media type.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("accept", V2023);
        if let Some(body) = body {
            request = request.header("content-type", V2023).body(body.to_string());
        }
        answer(request.send().await.expect("request")).await
    }

    pub async fn get_cluster(&self, name: &str) -> Answer {
        let request = self
            .http
            .get(self.url(&format!("/clusters/{name}")))
            .bearer_auth(&self.token)
            .header("accept", V2024);
        answer(request.send().await.expect("request")).await
    }

    pub async fn create_service(&self, region: &str) -> Answer {
        let body = json!({"providerName": "AWS", "region": region});
        self.call(Method::POST, "/privateEndpoint/endpointService", Some(body))
            .await
    }

    pub async fn get_service(&self, id: &str) -> Answer {
        let path = format!("/privateEndpoint/AWS/endpointService/{id}");
        self.call(Method::GET, &path, None).await
    }

    pub async fn link(&self, service: &str, vpce: &str) -> Answer {
        let path = format!("/privateEndpoint/AWS/endpointService/{service}/endpoint");
        self.call(Method::POST, &path, Some(json!({"id": vpce})))
            .await
    }

    pub async fn interface(&self, method: Method, service: &str, vpce: &str) -> Answer {
        let path = format!("/privateEndpoint/AWS/endpointService/{service}/endpoint/{vpce}");
        self.call(method, &path, None).await
    }

    /// Creates a service and waits (virtually) until it is available; returns its id.
    pub async fn ready_service(&self, region: &str) -> String {
        let created = self.create_service(region).await;
        assert_eq!(created.status, 200, "{}", created.body);
        self.advance(150);
        created.body["id"].as_str().unwrap_or("").to_owned()
    }
}
