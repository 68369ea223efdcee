//! The control API under `/__sim` (not part of Atlas, no authentication).
//!
//! * `GET /__sim/counters` → [`Counters`](crate::Counters)
//! * `GET /__sim/state` → services, interfaces, clusters, pending faults, settings, violations
//! * `POST /__sim/clusters` with a [`ClusterSeed`](crate::ClusterSeed) → 201 and the cluster
//! * `POST /__sim/faults` with a [`Fault`](crate::Fault) or an array of them → `{"queued": n}`
//! * `PUT /__sim/scenario` with a [`Scenario`](crate::Scenario) → the new state (its knobs
//!   include `regionalModeDefault` and the delays `remoteRegionsUpdate` and
//!   `regionalModeToggle`)
//! * `POST /__sim/reset` → 204

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::cluster::ClusterSeed;
use crate::config::Scenario;
use crate::faults::Fault;
use crate::reply::{JSON, Reply};
use crate::shared::{Shared, lock};

/// The `/__sim` routes.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sim/counters", get(counters))
        .route("/__sim/state", get(state))
        .route("/__sim/clusters", post(clusters))
        .route("/__sim/faults", post(faults))
        .route("/__sim/scenario", put(scenario))
        .route("/__sim/reset", post(reset))
}

fn ok(status: StatusCode, body: Value) -> Response {
    Reply::json(status, JSON, body).into_response()
}

fn bad(detail: impl Into<String>) -> Response {
    Reply::error(StatusCode::BAD_REQUEST, "INVALID_CONTROL_REQUEST", detail).into_response()
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    let counters = lock(&shared.counters).clone();
    ok(StatusCode::OK, json!(counters))
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    ok(StatusCode::OK, shared.snapshot())
}

async fn clusters(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let seed: ClusterSeed = match parse(&body) {
        Ok(seed) => seed,
        Err(message) => return bad(message),
    };
    match shared.seed_cluster(seed) {
        Ok(cluster) => ok(StatusCode::CREATED, cluster),
        Err(e) => bad(e.to_string()),
    }
}

async fn faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let value: Value = match parse(&body) {
        Ok(value) => value,
        Err(message) => return bad(message),
    };
    let list = if value.is_array() {
        value
    } else {
        Value::Array(vec![value])
    };
    let faults: Vec<Fault> = match serde_json::from_value(list) {
        Ok(faults) => faults,
        Err(e) => return bad(format!("invalid fault: {e}")),
    };
    if let Some(fault) = faults.iter().find(|f| !f.is_known_operation()) {
        return bad(format!("unknown operation {:?}", fault.operation));
    }
    let queued = faults.len();
    for fault in faults {
        shared.inject(fault);
    }
    ok(StatusCode::OK, json!({ "queued": queued }))
}

async fn scenario(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let scenario: Scenario = match parse(&body) {
        Ok(scenario) => scenario,
        Err(message) => return bad(message),
    };
    match shared.apply_scenario(scenario) {
        Ok(()) => ok(StatusCode::OK, shared.snapshot()),
        Err(e) => bad(e.to_string()),
    }
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset();
    StatusCode::NO_CONTENT.into_response()
}
