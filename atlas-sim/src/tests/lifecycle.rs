//! Services, interfaces and clusters over time.

use reqwest::Method;
use serde_json::json;

use super::{GROUP, start, start_instant, vpce};
use crate::{ClusterSeed, Outcome, SimConfig};

#[tokio::test]
async fn service_becomes_available_with_a_name_after_the_delay() {
    let env = start(SimConfig::default()).await;
    let created = env.create_service("US_EAST_1").await;
    assert_eq!(created.status, 200);
    assert_eq!(created.header("content-type"), Some(crate::reply::V2023));
    assert_eq!(created.body["status"], "INITIATING");
    assert_eq!(created.body["regionName"], "us-east-1");
    assert_eq!(created.body["endpointServiceName"], json!(null));
    assert_eq!(created.body["interfaceEndpoints"], json!([]));
    assert!(
        created.body.get("errorMessage").is_none(),
        "absent, not null"
    );
    let id = created.body["id"].as_str().unwrap_or("").to_owned();
    env.advance(149);
    assert_eq!(env.get_service(&id).await.body["status"], "INITIATING");
    env.advance(1);
    let ready = env.get_service(&id).await;
    assert_eq!(ready.body["status"], "AVAILABLE");
    let name = ready.body["endpointServiceName"].as_str().unwrap_or("");
    assert!(
        name.starts_with("com.amazonaws.vpce.us-east-1.vpce-svc-") && name.len() == 55,
        "{name}"
    );
    let list = env
        .call(Method::GET, "/privateEndpoint/AWS/endpointService", None)
        .await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    let azure = env
        .call(Method::GET, "/privateEndpoint/AZURE/endpointService", None)
        .await;
    assert_eq!(azure.body, json!([]));
}

#[tokio::test]
async fn second_service_in_a_region_conflicts() {
    let env = start_instant().await;
    assert_eq!(env.create_service("us-east-1").await.status, 200);
    let again = env.create_service("US_EAST_1").await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.code(),
        "PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION"
    );
    assert_eq!(again.header("content-type"), Some("application/json"));
    assert_eq!(env.create_service("eu-west-1").await.status, 200);
    let azure = json!({"providerName": "AZURE", "region": "eastus"});
    let refused = env
        .call(
            Method::POST,
            "/privateEndpoint/endpointService",
            Some(azure),
        )
        .await;
    assert_eq!((refused.status, refused.code()), (400, "INVALID_PROVIDER"));
}

#[tokio::test]
async fn failed_service_outcome() {
    let env = start_instant().await;
    env.sim.set_outcome(Outcome::ServiceFailed {
        region: "US_EAST_1".into(),
        message: None,
    });
    let id = env.ready_service("us-east-1").await;
    let service = env.get_service(&id).await;
    assert_eq!(service.body["status"], "FAILED");
    assert!(service.body["errorMessage"].is_string());
    let link = env.link(&id, &vpce(1)).await;
    assert_eq!(
        (link.status, link.code()),
        (400, "PRIVATE_ENDPOINT_SERVICE_NOT_READY")
    );
}

#[tokio::test]
async fn interface_goes_pending_then_available() {
    let env = start(SimConfig::default()).await;
    let id = env.ready_service("us-east-1").await;
    let linked = env.link(&id, &vpce(1)).await;
    assert_eq!(linked.status, 200);
    assert_eq!(linked.body["connectionStatus"], "PENDING_ACCEPTANCE");
    assert_eq!(linked.body["deleteRequested"], false);
    assert_eq!(
        env.link(&id, &vpce(1)).await.code(),
        "PRIVATE_ENDPOINT_ALREADY_EXISTS"
    );
    assert_eq!(
        env.get_service(&id).await.body["interfaceEndpoints"],
        json!([vpce(1)])
    );
    env.advance(30);
    let pending = env.interface(Method::GET, &id, &vpce(1)).await;
    assert_eq!(pending.body["connectionStatus"], "PENDING");
    env.advance(90);
    let available = env.interface(Method::GET, &id, &vpce(1)).await;
    assert_eq!(available.body["connectionStatus"], "AVAILABLE");
    assert_eq!(env.interface(Method::GET, &id, &vpce(2)).await.status, 404);
}

#[tokio::test]
async fn rejected_outcome() {
    let env = start(SimConfig::default()).await;
    env.sim.set_outcome(Outcome::InterfaceRejected {
        vpce_id: Some(vpce(7)),
    });
    let id = env.ready_service("us-east-1").await;
    env.link(&id, &vpce(7)).await;
    env.link(&id, &vpce(8)).await;
    env.advance(30);
    let rejected = env.interface(Method::GET, &id, &vpce(7)).await;
    assert_eq!(rejected.body["connectionStatus"], "REJECTED");
    assert!(rejected.body["errorMessage"].is_string());
    assert_eq!(
        env.interface(Method::GET, &id, &vpce(8)).await.body["connectionStatus"],
        "PENDING"
    );
}

#[tokio::test]
async fn removing_the_last_interface_removes_the_service() {
    let env = start(SimConfig::default()).await;
    let id = env.ready_service("us-east-1").await;
    env.link(&id, &vpce(1)).await;
    env.advance(120);
    let delete = env.interface(Method::DELETE, &id, &vpce(1)).await;
    assert_eq!(delete.status, 204);
    assert_eq!(delete.header("content-type"), Some(crate::reply::V2023));
    let deleting = env.interface(Method::GET, &id, &vpce(1)).await;
    assert_eq!(deleting.body["connectionStatus"], "DELETING");
    assert_eq!(deleting.body["deleteRequested"], true);
    env.advance(20);
    assert_eq!(env.interface(Method::GET, &id, &vpce(1)).await.status, 404);
    assert_eq!(
        env.get_service(&id).await.code(),
        "PRIVATE_ENDPOINT_SERVICE_NOT_FOUND"
    );
    assert!(env.sim.services(GROUP).is_empty());
}

#[tokio::test]
async fn service_without_interfaces_is_deleted_after_the_delay() {
    let env = start(SimConfig::default()).await;
    let id = env.ready_service("us-west-2").await;
    let path = format!("/privateEndpoint/AWS/endpointService/{id}");
    assert_eq!(env.call(Method::DELETE, &path, None).await.status, 204);
    assert_eq!(env.get_service(&id).await.body["status"], "DELETING");
    env.advance(60);
    assert_eq!(env.get_service(&id).await.status, 404);
}

#[tokio::test]
async fn cluster_strings_need_every_region_and_idle() {
    let env = start(SimConfig::default()).await;
    env.sim
        .seed_cluster(ClusterSeed::new(
            GROUP,
            "Cluster0",
            &["US_EAST_1", "us-west-2"],
        ))
        .expect("seeded");
    let east = env.ready_service("us-east-1").await;
    let west = env.ready_service("us-west-2").await;
    env.link(&east, &vpce(1)).await;
    env.advance(120);
    let one_region = env.get_cluster("Cluster0").await;
    assert_eq!(one_region.header("content-type"), Some(crate::reply::V2024));
    assert_eq!(one_region.body["stateName"], "UPDATING");
    env.advance(180);
    assert_eq!(env.get_cluster("Cluster0").await.body["stateName"], "IDLE");
    assert!(
        env.get_cluster("Cluster0").await.body["connectionStrings"]["privateEndpoint"].is_null()
    );
    env.link(&west, &vpce(2)).await;
    env.advance(120);
    let updating = env.get_cluster("Cluster0").await;
    assert_eq!(updating.body["stateName"], "UPDATING");
    assert!(updating.body["connectionStrings"]["privateEndpoint"].is_null());
    env.advance(180);
    let idle = env.get_cluster("Cluster0").await;
    let entries = &idle.body["connectionStrings"]["privateEndpoint"];
    assert_eq!(entries.as_array().map(Vec::len), Some(1), "{}", idle.body);
    assert_eq!(entries[0]["type"], "MONGOD");
    assert_eq!(
        entries[0]["endpoints"][1],
        json!({"endpointId": vpce(2), "providerName": "AWS", "region": "US_WEST_2"})
    );
    assert!(
        entries[0]["connectionString"]
            .as_str()
            .unwrap_or("")
            .starts_with("mongodb://pl-0-us-east-1.")
    );
    assert!(entries[0]["srvShardOptimizedConnectionString"].is_null());
    assert_eq!(env.get_cluster("Nope").await.status, 404);
}

#[tokio::test]
async fn sharded_cluster_zips_endpoints_per_region() {
    let env = start_instant().await;
    env.sim
        .seed_cluster(ClusterSeed::new(GROUP, "Shards", &["us-east-1"]).sharded())
        .expect("seeded");
    let id = env.ready_service("us-east-1").await;
    env.link(&id, &vpce(1)).await;
    env.link(&id, &vpce(2)).await;
    let cluster = env.get_cluster("Shards").await;
    let entries = &cluster.body["connectionStrings"]["privateEndpoint"];
    assert_eq!(entries.as_array().map(Vec::len), Some(2));
    assert_eq!(entries[1]["type"], "MONGOS");
    assert_eq!(entries[1]["endpoints"][0]["endpointId"], vpce(2));
    assert!(entries[1]["srvShardOptimizedConnectionString"].is_string());
}

#[tokio::test]
async fn deleting_again_while_deleting_answers_204_and_changes_nothing() {
    let env = start(SimConfig::default()).await;
    let id = env.ready_service("us-east-1").await;
    env.link(&id, &vpce(1)).await;
    env.link(&id, &vpce(2)).await;
    env.advance(120);
    assert_eq!(
        env.interface(Method::DELETE, &id, &vpce(1)).await.status,
        204
    );
    env.advance(10);
    let again = env.interface(Method::DELETE, &id, &vpce(1)).await;
    assert_eq!(again.status, 204);
    assert_eq!(again.body, json!(null));
    // The second request does not restart the removal: gone 20 s after the first.
    env.advance(10);
    assert_eq!(env.interface(Method::GET, &id, &vpce(1)).await.status, 404);
    assert_eq!(
        env.interface(Method::DELETE, &id, &vpce(1)).await.code(),
        "PRIVATE_ENDPOINT_NOT_FOUND"
    );

    let west = env.ready_service("us-west-2").await;
    let path = format!("/privateEndpoint/AWS/endpointService/{west}");
    assert_eq!(env.call(Method::DELETE, &path, None).await.status, 204);
    env.advance(30);
    let again = env.call(Method::DELETE, &path, None).await;
    assert_eq!(again.status, 204);
    assert_eq!(env.get_service(&west).await.body["status"], "DELETING");
    env.advance(30);
    assert_eq!(env.get_service(&west).await.status, 404);
    assert_eq!(
        env.call(Method::DELETE, &path, None).await.code(),
        "PRIVATE_ENDPOINT_SERVICE_NOT_FOUND"
    );
}
