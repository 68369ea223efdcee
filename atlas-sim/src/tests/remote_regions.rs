//! Cross-region PrivateLink (`supportedRemoteRegions`) and the regionalized private endpoint
//! mode, over HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Answer, Env, GROUP, start, vpce};
use crate::{ClusterSeed, Delays, Scenario, SimConfig};

const SERVICES: &str = "/privateEndpoint/endpointService";
const REGIONAL: &str = "/privateEndpoint/regionalMode";

/// Default delays, with the remote-region update and the toggle set apart from the rest.
async fn start_sim() -> Env {
    start(SimConfig {
        delays: Delays {
            remote_regions_update: std::time::Duration::from_secs(10),
            regional_mode_toggle: std::time::Duration::from_secs(120),
            ..Delays::default()
        },
        ..SimConfig::default()
    })
    .await
}

impl Env {
    async fn create_with_remote(&self, region: &str, remote: Value) -> Answer {
        let body =
            json!({"providerName": "AWS", "region": region, "supportedRemoteRegions": remote});
        self.call(Method::POST, SERVICES, Some(body)).await
    }

    async fn patch_remote(&self, id: &str, remote: Value) -> Answer {
        let body = json!({"cloudProvider": "AWS", "supportedRemoteRegions": remote});
        self.call(Method::PATCH, &format!("{SERVICES}/{id}"), Some(body))
            .await
    }

    async fn set_regional(&self, enabled: bool) -> Answer {
        self.call(Method::PATCH, REGIONAL, Some(json!({"enabled": enabled})))
            .await
    }
}

fn id_of(answer: &Answer) -> String {
    answer.body["id"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn remote_regions_are_kept_from_create_and_replaced_wholesale_by_patch() {
    let env = start_sim().await;
    let created = env
        .create_with_remote("us-east-1", json!(["US_WEST_2", "EU_WEST_1"]))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        created.body["supportedRemoteRegions"],
        json!(["US_WEST_2", "EU_WEST_1"])
    );
    let id = id_of(&created);
    env.advance(150);
    let listed = env
        .call(Method::GET, "/privateEndpoint/AWS/endpointService", None)
        .await;
    assert_eq!(
        listed.body[0]["supportedRemoteRegions"],
        json!(["US_WEST_2", "EU_WEST_1"])
    );
    let ready = env.get_service(&id).await;
    assert_eq!(ready.body["status"], "AVAILABLE");
    let name = ready.body["endpointServiceName"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let view = env.sim.service_regions(&name).expect("found by name");
    assert_eq!(view.endpoint_service_id, id);
    assert!(view.serves("us-west-2") && view.serves("EU_WEST_1") && view.serves("us-east-1"));
    assert!(!view.serves("ap-south-1"));

    // Replaced, not merged: EU_WEST_1 goes, AP_SOUTH_1 comes (pending for a while).
    let patched = env
        .patch_remote(&id, json!(["US_WEST_2", "AP_SOUTH_1"]))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        patched.body["supportedRemoteRegions"],
        json!(["US_WEST_2", "AP_SOUTH_1"])
    );
    assert_eq!(patched.body["status"], "INITIATING");
    assert_eq!(patched.body["endpointServiceName"], json!(name));
    let view = env.sim.service_regions(&id).expect("found by id");
    assert!(view.serves("us-west-2"), "a kept region stays served");
    assert!(!view.serves("eu-west-1"), "a removed region at once");
    assert!(!view.serves("ap-south-1") && view.is_pending("ap-south-1"));
    // A link is refused while the change applies, as while the service is first created.
    let link = env.link(&id, &vpce(1)).await;
    assert_eq!(
        (link.status, link.code()),
        (400, "PRIVATE_ENDPOINT_SERVICE_NOT_READY")
    );
    env.advance(10);
    assert_eq!(env.get_service(&id).await.body["status"], "AVAILABLE");
    let view = env.sim.service_regions(&id).expect("found");
    assert!(view.serves("ap-south-1") && !view.is_pending("ap-south-1"));

    // [] and null both clear; a PATCH that changes nothing starts no INITIATING phase.
    let cleared = env.patch_remote(&id, json!([])).await;
    assert_eq!(cleared.body["supportedRemoteRegions"], json!([]));
    env.advance(10);
    let same = env.patch_remote(&id, Value::Null).await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["supportedRemoteRegions"], json!([]));
    assert_eq!(same.body["status"], "AVAILABLE");
    env.patch_remote(&id, json!(["US_WEST_2"])).await;
    let cleared = env
        .call(
            Method::PATCH,
            &format!("{SERVICES}/{id}"),
            Some(json!({"cloudProvider": "AWS"})),
        )
        .await;
    assert_eq!(cleared.body["supportedRemoteRegions"], json!([]));
    assert!(
        env.sim.services(GROUP)[0]
            .supported_remote_regions
            .is_empty()
    );
    assert!(env.sim.service_regions("vpce-svc-unknown").is_none());
}

#[tokio::test]
async fn remote_regions_are_validated_with_atlas_error_codes() {
    let env = start_sim().await;
    for (remote, code) in [
        (json!(["us-west-2"]), "INVALID_ATTRIBUTE"),
        (
            json!(["US_EAST_1"]),
            "CROSS_REGION_PRIVATE_LINK_SELF_REGION",
        ),
        (json!(vec!["US_WEST_2"; 36]), "INVALID_ATTRIBUTE"),
    ] {
        let refused = env.create_with_remote("us-east-1", remote.clone()).await;
        assert_eq!((refused.status, refused.code()), (400, code), "{remote}");
    }
    assert!(env.sim.services(GROUP).is_empty(), "nothing created");
    let azure = json!({"providerName": "AZURE", "region": "eastus", "supportedRemoteRegions": ["US_WEST_2"]});
    let refused = env.call(Method::POST, SERVICES, Some(azure)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (400, "PROVIDER_UNSUPPORTED")
    );

    let id = id_of(
        &env.create_with_remote("us-east-1", json!(["US_WEST_2"]))
            .await,
    );
    env.advance(150);
    for (remote, code) in [
        (json!(["eu-west-1"]), "INVALID_ATTRIBUTE"),
        (
            json!(["US_WEST_2", "US_EAST_1"]),
            "CROSS_REGION_PRIVATE_LINK_SELF_REGION",
        ),
        (json!(vec!["EU_WEST_1"; 36]), "INVALID_ATTRIBUTE"),
    ] {
        let refused = env.patch_remote(&id, remote.clone()).await;
        assert_eq!((refused.status, refused.code()), (400, code), "{remote}");
    }
    let gcp = json!({"cloudProvider": "GCP", "supportedRemoteRegions": ["US_WEST_2"]});
    let refused = env
        .call(Method::PATCH, &format!("{SERVICES}/{id}"), Some(gcp))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (400, "PROVIDER_UNSUPPORTED")
    );
    let service = env.get_service(&id).await;
    assert_eq!(service.body["supportedRemoteRegions"], json!(["US_WEST_2"]));
    assert_eq!(
        service.body["status"], "AVAILABLE",
        "a refused PATCH changes nothing"
    );
    let missing = env
        .patch_remote("0123456789abcdef01234567", json!(["US_WEST_2"]))
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "PRIVATE_ENDPOINT_SERVICE_NOT_FOUND")
    );
}

#[tokio::test]
async fn regional_mode_defaults_off_and_refuses_replica_sets() {
    let env = start_sim().await;
    let mode = env.call(Method::GET, REGIONAL, None).await;
    assert_eq!(
        (mode.status, mode.body.clone()),
        (200, json!({"enabled": false}))
    );
    env.sim
        .seed_cluster(ClusterSeed::new(GROUP, "Replica", &["us-east-1"]))
        .expect("seed");
    let refused = env.set_regional(true).await;
    assert_eq!(refused.status, 409);
    assert_eq!(
        refused.code(),
        "REGIONALIZED_PRIVATE_ENDPOINTS_REQUIRE_SHARDED_CLUSTERS"
    );
    assert!(!env.sim.regional_mode(GROUP));
    // Disabling what is off is fine even with a replica set.
    assert_eq!(env.set_regional(false).await.status, 200);

    // Another project, all sharded: enabled; then no replica set can be created there.
    let other = "0123456789abcdef01234567";
    env.sim
        .seed_cluster(ClusterSeed::new(other, "Sharded", &["us-east-1"]).sharded())
        .expect("seed");
    let url = format!(
        "{}/api/atlas/v2/groups/{other}{REGIONAL}",
        env.sim.base_url()
    );
    let enabled = env
        .http
        .patch(url)
        .bearer_auth(&env.token)
        .header("accept", crate::reply::V2023)
        .header("content-type", crate::reply::V2023)
        .body(r#"{"enabled":true}"#)
        .send()
        .await
        .expect("patch");
    assert_eq!(enabled.status().as_u16(), 200);
    assert!(env.sim.regional_mode(other));
    let err = env
        .sim
        .seed_cluster(ClusterSeed::new(other, "Replica", &["us-east-1"]))
        .expect_err("no replica sets once enabled");
    assert!(err.to_string().contains("replica sets"), "{err}");
}

#[tokio::test]
async fn toggling_updates_the_clusters_then_changes_multi_region_sharded_strings() {
    let env = start_sim().await;
    env.sim
        .seed_cluster(ClusterSeed::new(GROUP, "Geo", &["us-east-1", "eu-west-1"]).sharded())
        .expect("seed");
    env.sim
        .seed_cluster(ClusterSeed::new(GROUP, "Local", &["us-east-1"]).sharded())
        .expect("seed");
    let east = env.ready_service("us-east-1").await;
    let west = env.ready_service("eu-west-1").await;
    assert_eq!(env.link(&east, &vpce(1)).await.status, 200);
    assert_eq!(env.link(&west, &vpce(2)).await.status, 200);
    env.advance(120 + 180);
    let before = env.get_cluster("Geo").await.body;
    let local_before = env.get_cluster("Local").await.body["connectionStrings"].clone();
    assert_eq!(before["stateName"], "IDLE");
    let entries = before["connectionStrings"]["privateEndpoint"].clone();
    assert_eq!(
        entries.as_array().map(Vec::len),
        Some(1),
        "one entry for both endpoints: {entries}"
    );
    assert_eq!(entries[0]["endpoints"].as_array().map(Vec::len), Some(2));

    assert_eq!(env.set_regional(true).await.body, json!({"enabled": true}));
    assert_eq!(
        env.call(Method::GET, REGIONAL, None).await.body,
        json!({"enabled": true})
    );
    let during = env.get_cluster("Geo").await.body;
    assert_eq!(during["stateName"], "UPDATING");
    assert!(during["connectionStrings"].get("privateEndpoint").is_none());
    env.advance(119);
    assert_eq!(env.get_cluster("Local").await.body["stateName"], "UPDATING");
    env.advance(1);
    let after = env.get_cluster("Geo").await.body;
    assert_eq!(after["stateName"], "IDLE");
    let entries = after["connectionStrings"]["privateEndpoint"].clone();
    assert_eq!(
        entries.as_array().map(Vec::len),
        Some(2),
        "one per endpoint: {entries}"
    );
    let srv: Vec<&str> = entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["srvConnectionString"].as_str())
        .collect();
    let old_srv = before["connectionStrings"]["privateEndpoint"][0]["srvConnectionString"]
        .as_str()
        .unwrap_or("");
    assert!(!srv.contains(&old_srv), "{srv:?} vs {old_srv}");
    assert_eq!(entries[0]["endpoints"][0]["endpointId"], json!(vpce(1)));
    assert_eq!(entries[1]["endpoints"][0]["region"], "EU_WEST_1");
    // A single-region sharded cluster keeps its strings.
    assert_eq!(
        env.get_cluster("Local").await.body["connectionStrings"],
        local_before
    );

    // Back off: allowed with one endpoint per region; strings come back after the toggle.
    assert_eq!(env.set_regional(false).await.status, 200);
    env.advance(120);
    let back = env.get_cluster("Geo").await.body;
    assert_eq!(back["connectionStrings"], before["connectionStrings"]);
}

#[tokio::test]
async fn regional_mode_cannot_be_disabled_while_the_endpoints_need_it() {
    let env = start(SimConfig {
        regional_mode_default: true,
        delays: Delays::instant(),
        ..SimConfig::default()
    })
    .await;
    let mode = env.call(Method::GET, REGIONAL, None).await;
    assert_eq!(
        mode.body,
        json!({"enabled": true}),
        "the configured default"
    );
    let east = env.ready_service("us-east-1").await;
    let west = env.ready_service("us-west-2").await;
    for (service, n) in [(&east, 1), (&east, 2), (&west, 3)] {
        assert_eq!(env.link(service, &vpce(n)).await.status, 200);
    }
    let refused = env.set_regional(false).await;
    assert_eq!(refused.status, 409);
    assert_eq!(
        refused.code(),
        "CANNOT_DISABLE_REGIONALIZED_PRIVATE_ENDPOINTS_WITH_MULTIPLE_ENDPOINTS"
    );
    env.interface(Method::DELETE, &east, &vpce(2)).await;
    assert_eq!(env.set_regional(false).await.status, 200);
}

#[tokio::test]
async fn the_scenario_sets_the_new_knobs() {
    let env = start_sim().await;
    let scenario: Scenario = serde_json::from_value(json!({
        "regionalModeDefault": true,
        "delays": {"remoteRegionsUpdate": 3, "regionalModeToggle": 7},
    }))
    .expect("scenario");
    env.sim.apply_scenario(scenario).expect("applied");
    assert!(env.sim.regional_mode(GROUP));
    let state = env.sim.state();
    assert_eq!(state["settings"]["regionalModeDefault"], true);
    assert_eq!(state["settings"]["delays"]["remoteRegionsUpdate"], 3.0);
    assert_eq!(state["settings"]["delays"]["regionalModeToggle"], 7.0);
    let replica = serde_json::from_value::<Scenario>(json!({
        "clusters": [{"groupId": GROUP, "name": "Replica", "regions": ["US_EAST_1"]}]
    }))
    .expect("scenario");
    assert!(env.sim.apply_scenario(replica).is_err());
}
