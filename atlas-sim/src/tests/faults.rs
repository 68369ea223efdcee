//! Rate limit, queued faults, counters, media types and the control API.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::{GROUP, answer, start_instant};
use crate::reply::{V2023, V2024};
use crate::{Fault, RateLimit};

const LIST: &str = "/privateEndpoint/AWS/endpointService";

#[tokio::test]
async fn token_bucket_answers_429_with_retry_after() {
    let env = start_instant().await;
    env.sim.set_rate_limit(Some(RateLimit::new(2, 0.25)));
    let first = env.call(Method::GET, LIST, None).await;
    assert_eq!(first.header("ratelimit-limit"), Some("2"));
    assert_eq!(first.header("ratelimit-remaining"), Some("1"));
    env.call(Method::GET, LIST, None).await;
    let limited = env.call(Method::GET, LIST, None).await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, "RATE_LIMITED_TOKEN_BUCKET")
    );
    assert_eq!(limited.header("retry-after"), Some("4"));
    env.advance(4);
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    env.sim.set_rate_limit(Some(RateLimit {
        omit_retry_after: true,
        ..RateLimit::new(1, 0.25)
    }));
    let bare = env.call(Method::GET, LIST, None).await;
    assert_eq!(bare.status, 429);
    assert_eq!(bare.header("retry-after"), None);
    assert_eq!(env.sim.counters().rate_limited, 2);
}

#[tokio::test]
async fn queued_fault_is_consumed_once() {
    let env = start_instant().await;
    env.sim.inject(Fault::error("listEndpointServices", 500));
    env.sim.inject(Fault::rate_limited("getCluster", Some(7)));
    let failed = env.call(Method::GET, LIST, None).await;
    assert_eq!((failed.status, failed.code()), (500, "UNEXPECTED_ERROR"));
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    let limited = env.get_cluster("Cluster0").await;
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("7"))
    );
    let counters = env.sim.counters();
    assert_eq!(counters.requests("listEndpointServices"), 2);
    assert_eq!(counters.requests("getCluster"), 1);
    assert_eq!((counters.server_errors, counters.rate_limited), (1, 1));
}

#[tokio::test]
async fn slow_fault_delays_in_real_time() {
    let env = start_instant().await;
    env.sim.inject(Fault::slow("*", Duration::from_millis(200)));
    let started = Instant::now();
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn versioned_media_types_are_required() {
    let env = start_instant().await;
    let request = |accept: &str| {
        env.http
            .get(env.url(LIST))
            .bearer_auth(&env.token)
            .header("accept", accept)
    };
    let wrong = answer(request("application/json").send().await.expect("request")).await;
    assert_eq!((wrong.status, wrong.code()), (406, "UNSUPPORTED_VERSION"));
    assert_eq!(wrong.header("content-type"), Some("application/json"));
    let cluster = env
        .http
        .get(env.url("/clusters/Cluster0"))
        .bearer_auth(&env.token)
        .header("accept", V2023);
    assert_eq!(
        answer(cluster.send().await.expect("request")).await.status,
        406
    );
    let post = env
        .http
        .post(env.url("/privateEndpoint/endpointService"))
        .bearer_auth(&env.token)
        .header("accept", V2023)
        .header("content-type", "application/json")
        .body(json!({"providerName": "AWS", "region": "us-east-1"}).to_string());
    assert_eq!(
        answer(post.send().await.expect("request")).await.status,
        415
    );
    let unknown = env.call(Method::GET, "/nothing/here", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "RESOURCE_NOT_FOUND")
    );
    let _ = V2024;
}

#[tokio::test]
async fn control_api_over_http() {
    let env = start_instant().await;
    let base = env.sim.base_url();
    let seed = json!({"groupId": GROUP, "name": "Cluster0", "regions": ["US_EAST_1"]});
    let seeded = env
        .http
        .post(format!("{base}/__sim/clusters"))
        .json(&seed)
        .send()
        .await
        .expect("seed");
    assert_eq!(seeded.status().as_u16(), 201);
    let fault = json!({"operation": "getCluster", "kind": "error", "status": 503, "retryAfter": 2});
    let queued = env
        .http
        .post(format!("{base}/__sim/faults"))
        .json(&fault)
        .send()
        .await
        .expect("fault");
    assert_eq!(answer(queued).await.body, json!({"queued": 1}));
    let bad = json!({"operation": "nope", "kind": "error", "status": 500});
    let refused = env
        .http
        .post(format!("{base}/__sim/faults"))
        .json(&bad)
        .send()
        .await
        .expect("fault");
    assert_eq!(refused.status().as_u16(), 400);
    let scenario = json!({"delays": {"serviceAvailable": 10}, "rateLimit": null});
    let put = env
        .http
        .put(format!("{base}/__sim/scenario"))
        .json(&scenario)
        .send()
        .await
        .expect("scenario");
    let state = answer(put).await.body;
    assert_eq!(state["settings"]["delays"]["serviceAvailable"], 10.0);
    assert_eq!(
        env.get_cluster("Cluster0").await.code(),
        "SERVICE_UNAVAILABLE"
    );
    assert_eq!(env.get_cluster("Cluster0").await.status, 200);
    let counters = answer(
        env.http
            .get(format!("{base}/__sim/counters"))
            .send()
            .await
            .expect("counters"),
    )
    .await;
    assert_eq!(counters.body["requests"]["getCluster"], 2);
    assert_eq!(counters.body["serverErrors"], 1);
    let reset = env
        .http
        .post(format!("{base}/__sim/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status().as_u16(), 204);
    assert_eq!(env.get_cluster("Cluster0").await.status, 404);
    assert_eq!(
        env.sim.state()["settings"]["delays"]["serviceAvailable"],
        0.0
    );
    env.sim.shutdown().await;
}
