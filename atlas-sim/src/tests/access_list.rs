//! The organization's API access list: 403 `IP_ADDRESS_NOT_ON_ACCESS_LIST` for callers outside
//! it, set through the handle, the scenario or the start configuration.

use ipnet::IpNet;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Answer, Env, answer, start, start_instant};
use crate::SimConfig;

const LIST: &str = "/privateEndpoint/AWS/endpointService";

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter()
        .map(|n| n.parse().expect("a valid constant network"))
        .collect()
}

/// Asserts the Atlas refusal of 127.0.0.1.
fn assert_refused(refused: &Answer) {
    assert_eq!(
        (refused.status, refused.code()),
        (403, "IP_ADDRESS_NOT_ON_ACCESS_LIST"),
        "{}",
        refused.body
    );
    assert_eq!(
        refused.body["detail"],
        "IP address 127.0.0.1 is not allowed to access this resource."
    );
    assert_eq!(refused.body["reason"], "Forbidden");
    // Atlas sends `["127.0.0.1"]`, which the spec's `ApiError` does not allow.
    assert_eq!(refused.body["parameters"], json!([]));
    assert_eq!(refused.header("content-type"), Some("application/json"));
}

async fn put_scenario(env: &Env, scenario: Value) -> Answer {
    let response = env
        .http
        .put(format!("{}/__sim/scenario", env.sim.base_url()))
        .json(&scenario)
        .send()
        .await
        .expect("scenario");
    answer(response).await
}

#[tokio::test]
async fn access_list_set_through_the_handle() {
    let env = start_instant().await;
    env.sim.set_access_list(Some(nets(&["198.51.100.7/32"])));
    assert_refused(&env.call(Method::GET, LIST, None).await);
    assert_refused(&env.get_cluster("Cluster0").await);
    // Tokens can be fetched from anywhere; only their use is checked.
    assert_eq!(
        env.fetch_token("sim-client-id", "sim-client-secret")
            .await
            .status,
        200
    );
    // Without credentials the caller is unknown, so the 401 comes first.
    let anonymous = env
        .http
        .get(env.url(LIST))
        .header("accept", crate::reply::V2023)
        .send()
        .await
        .expect("request");
    assert_eq!(answer(anonymous).await.status, 401);
    let counters = env.sim.counters();
    assert_eq!(counters.forbidden, 2);
    assert_eq!(counters.requests("listEndpointServices"), 2);
    env.sim
        .set_access_list(Some(nets(&["198.51.100.7/32", "127.0.0.0/8"])));
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    env.sim.set_access_list(Some(Vec::new()));
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 403);
    env.sim.set_access_list(None);
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    assert_eq!(env.sim.counters().forbidden, 3);
}

#[tokio::test]
async fn access_list_set_through_the_scenario() {
    let env = start_instant().await;
    let state = put_scenario(&env, json!({"accessList": ["198.51.100.7/32"]})).await;
    assert_eq!(state.status, 200);
    assert_eq!(
        state.body["settings"]["accessList"],
        json!(["198.51.100.7/32"])
    );
    assert_refused(&env.call(Method::GET, LIST, None).await);
    // A scenario without the field leaves the list alone.
    assert_eq!(put_scenario(&env, json!({})).await.status, 200);
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 403);
    // A bare address is a one-address network.
    let state = put_scenario(&env, json!({"accessList": ["127.0.0.0/8", "::1"]})).await;
    assert_eq!(
        state.body["settings"]["accessList"],
        json!(["127.0.0.0/8", "::1/128"])
    );
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    let bad = put_scenario(&env, json!({"accessList": ["not-a-network"]})).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    put_scenario(&env, json!({"accessList": ["198.51.100.7/32"]})).await;
    let off = put_scenario(&env, json!({"accessList": null})).await;
    assert_eq!(off.body["settings"]["accessList"], Value::Null);
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
}

#[tokio::test]
async fn access_list_from_the_start_configuration_survives_reset() {
    let env = start(SimConfig {
        delays: crate::Delays::instant(),
        access_list: Some(nets(&["198.51.100.7/32"])),
        ..SimConfig::default()
    })
    .await;
    assert_refused(&env.call(Method::GET, LIST, None).await);
    env.sim.set_access_list(None);
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 200);
    env.sim.reset();
    assert_eq!(env.call(Method::GET, LIST, None).await.status, 403);
}

/// Needs the OpenAPI checker, hence the feature.
#[cfg(feature = "contract")]
#[tokio::test]
async fn access_list_refusal_meets_the_contract() {
    use openapi_contract::Contract;

    let Some(path) = Contract::locate() else {
        println!("spec not found, skipping");
        return;
    };
    let contract = Contract::load(&path).expect("the spec loads");
    let env = start(SimConfig {
        delays: crate::Delays::instant(),
        contract: Some(std::sync::Arc::new(contract)),
        access_list: Some(nets(&["198.51.100.7/32"])),
        ..SimConfig::default()
    })
    .await;
    assert_refused(&env.call(Method::GET, LIST, None).await);
    assert_refused(&env.create_service("us-east-1").await);
    assert_refused(&env.get_cluster("Cluster0").await);
    let path = format!(
        "{LIST}/0123456789abcdef01234567/endpoint/{}",
        super::vpce(1)
    );
    assert_refused(&env.call(Method::DELETE, &path, None).await);
    assert_eq!(env.sim.contract_violations(), Vec::new());
}
