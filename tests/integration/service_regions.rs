//! Validate against the cluster for cross-region endpoints and multi-region sharded clusters:
//! which service region an endpoint links to, and the regionalized private endpoint mode
//! (never switched without the request's consent).

use atlas_sim::ClusterSeed;
use integration_tests::world::{World, make_network};
use privatelink_core::ErrorName;
use privatelink_core::request::AwsRegion;
use serde_json::{Value, json};

fn region(name: &str) -> AwsRegion {
    AwsRegion::from_aws_name(name).expect("a supported region")
}

/// The world's request plus an endpoint in us-west-2 (where the cluster has no nodes).
async fn with_remote_vpc(w: &World, service_region: Option<&str>) -> Value {
    let remote = make_network("us-west-2", &w.project_id).await;
    let mut request = w.request();
    let mut endpoint = json!({
        "region": "us-west-2",
        "vpcId": remote.vpc_id,
        "subnetIds": remote.subnet_ids,
    });
    if let Some(service_region) = service_region {
        endpoint["serviceRegion"] = json!(service_region);
    }
    request["endpoints"]
        .as_array_mut()
        .expect("endpoints")
        .push(endpoint);
    request
}

#[tokio::test]
async fn a_vpc_outside_the_clusters_regions_links_to_the_service_region_it_names() {
    let w = World::new(&["us-east-1"]).await;
    let plan = w
        .validate("cross", with_remote_vpc(&w, Some("us-east-1")).await)
        .await
        .expect("valid");
    let [home, remote] = plan.endpoints.as_slice() else {
        panic!("two endpoints: {:?}", plan.endpoints);
    };
    assert_eq!(
        (home.region, home.service_region),
        (region("us-east-1"), region("us-east-1"))
    );
    assert!(!home.is_cross_region());
    assert_eq!(
        (remote.region, remote.service_region),
        (region("us-west-2"), region("us-east-1"))
    );
    assert!(remote.is_cross_region());
}

#[tokio::test]
async fn without_a_service_region_the_error_names_the_field_and_the_clusters_regions() {
    let w = World::new(&["us-east-1"]).await;
    let err = w
        .validate("no-service", with_remote_vpc(&w, None).await)
        .await
        .expect_err("the cluster has no nodes in us-west-2");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(
        err.message.starts_with("endpoints[1].region"),
        "{}",
        err.message
    );
    assert!(err.message.contains("us-east-1"), "{}", err.message);
    assert!(err.message.contains("serviceRegion"), "{}", err.message);
    let err = w
        .validate("bad-service", with_remote_vpc(&w, Some("eu-west-1")).await)
        .await
        .expect_err("the cluster has no nodes in eu-west-1 either");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(
        err.message.starts_with("endpoints[1].serviceRegion"),
        "{}",
        err.message
    );
}

/// A multi-region sharded cluster in a project of its own (no replica set beside it).
async fn sharded_world() -> (World, Value) {
    let w = World::new(&["us-east-1", "eu-west-1"]).await;
    let project = devstack::world::new_project_id();
    w.atlas
        .sim
        .seed_cluster(ClusterSeed::new(&project, "Cluster0", &["us-east-1", "eu-west-1"]).sharded())
        .expect("seeded");
    let mut request = w.request();
    request["atlas"]["projectId"] = json!(project);
    (w, request)
}

#[tokio::test]
async fn a_multi_region_sharded_cluster_needs_consent_to_turn_on_regional_mode() {
    let (w, mut request) = sharded_world().await;
    let project = request["atlas"]["projectId"]
        .as_str()
        .expect("project")
        .to_owned();
    let err = w
        .validate("no-consent", request.clone())
        .await
        .expect_err("regional mode is off");
    assert_eq!(err.name, ErrorName::RegionalModeRequired);
    assert!(
        err.message.contains("enableRegionalMode"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("connection strings"),
        "{}",
        err.message
    );
    let parsed = serde_json::from_value(request.clone()).expect("request");
    let atlas = w.ctx.atlas(&parsed).await.expect("client");
    assert!(
        !atlas.get_regional_mode(&project).await.expect("read"),
        "left off"
    );

    request["atlas"]["enableRegionalMode"] = json!(true);
    w.validate("consent", request.clone())
        .await
        .expect("valid once turned on");
    assert!(atlas.get_regional_mode(&project).await.expect("read"));
    // Once on, a request without consent passes too: nothing is switched.
    request["atlas"]
        .as_object_mut()
        .expect("atlas")
        .remove("enableRegionalMode");
    w.validate("already-on", request).await.expect("valid");
}

#[tokio::test]
async fn atlas_refusing_regional_mode_beside_a_replica_set_names_the_field() {
    // The world's own project: its replica set Cluster0 forbids the mode.
    let w = World::new(&["us-east-1", "eu-west-1"]).await;
    w.atlas
        .sim
        .seed_cluster(
            ClusterSeed::new(&w.project_id, "Sharded0", &["us-east-1", "eu-west-1"]).sharded(),
        )
        .expect("seeded");
    let mut request = w.request();
    request["atlas"]["clusterName"] = json!("Sharded0");
    request["atlas"]["enableRegionalMode"] = json!(true);
    let err = w
        .validate("refused", request)
        .await
        .expect_err("Atlas refuses");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(
        err.message.starts_with("atlas.enableRegionalMode"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_multi_region_replica_set_does_not_need_regional_mode() {
    let w = World::new(&["us-east-1", "eu-west-1"]).await;
    w.validate("replica-set", w.request())
        .await
        .expect("valid without regional mode");
}
