//! Cross-region PrivateLink through the workflow steps: a VPC in us-west-2 reaching the
//! cluster's us-east-1 endpoint service. The AWS front refuses the VPC endpoint unless it
//! names the service's region and the service lists (and serves) the VPC's region
//! (`Realism::cross_region_rules`); the simulator applies a change of `supportedRemoteRegions`
//! for a while before the region is served, and replaces the list wholesale on PATCH.

use std::time::Duration;

use atlas_api::models::EndpointService;
use integration_tests::world::World;
use privatelink_core::state::{EndpointWork, Plan};
use serde_json::{Value, json};

const HOME: &str = "us-east-1";

/// A request for the world's us-east-1 VPC and, cross-region, for `remote` (each
/// `(region, network)`) linking to the us-east-1 service.
fn request(w: &World, remote: &[&devstack::Network]) -> Value {
    let mut request = w.request();
    let endpoints = request["endpoints"]
        .as_array_mut()
        .expect("the world's request lists endpoints");
    for n in remote {
        endpoints.push(json!({
            "region": n.region, "serviceRegion": HOME,
            "vpcId": n.vpc_id, "subnetIds": n.subnet_ids
        }));
    }
    request
}

async fn plan(w: &World, execution: &str, request: Value) -> Plan {
    w.validate(execution, request)
        .await
        .unwrap_or_else(|e| panic!("validate accepts a cross-region endpoint: {e}"))
}

/// The project's us-east-1 service, as Atlas answers it.
async fn home_service(w: &World, plan: &Plan) -> EndpointService {
    let atlas = w.ctx.atlas(&plan.request).await.expect("atlas client");
    let services = atlas
        .list_endpoint_services(&w.project_id)
        .await
        .expect("services");
    services
        .into_iter()
        .find(|s| s.region_name.as_deref() == Some(HOME))
        .expect("the us-east-1 service")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn a_cross_region_endpoint_is_made_in_its_region_and_linked_on_the_home_service() {
    let w = World::new(&[HOME]).await;
    // Subnets in zones a and d: d is not among the service's zones in its own region, which
    // does not matter across regions.
    let west = w
        .add_network("us-west-2", &['a', 'd'])
        .await
        .expect("us-west-2 network");
    let plan = plan(&w, "xr-one", request(&w, &[&west])).await;
    let cross = &plan.endpoints[1];
    assert_eq!(
        (cross.region.as_str(), cross.service_region.as_str()),
        ("us-west-2", HOME)
    );
    assert!(cross.is_cross_region());
    let mut done: Vec<EndpointWork> = Vec::new();
    for i in 0..plan.endpoints.len() {
        let (work, outcome) = w.provision_endpoint(plan.work(i).expect("work")).await;
        outcome.unwrap_or_else(|e| panic!("endpoint {i}: {e}"));
        done.push(work);
    }
    let (east, west_work) = (&done[0], &done[1]);
    // One service for both, the us-east-1 one.
    let service = home_service(&w, &plan).await;
    for work in [east, west_work] {
        assert_eq!(
            work.service.as_ref().map(|s| s.service_id.as_str()),
            Some(service.id.as_str())
        );
    }
    let named = west_work.service_name.as_ref().expect("service name");
    assert!(named.remote_region_added, "this execution added us-west-2");
    assert!(
        !east
            .service_name
            .as_ref()
            .expect("service name")
            .remote_region_added
    );
    assert_eq!(service.supported_remote_regions, ["US_WEST_2"]);
    // The VPC endpoint is in the us-west-2 VPC, to the us-east-1 service (the front refuses it
    // without ServiceRegion = us-east-1), in both subnets.
    let vpce = west_work.vpc_endpoint.as_ref().expect("vpc endpoint");
    assert!(vpce.created);
    assert_eq!(
        sorted(vpce.subnet_ids.clone()),
        sorted(west.subnet_ids.clone())
    );
    let described = w
        .ec2("us-west-2")
        .await
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&vpce.vpc_endpoint_id)
        .send()
        .await
        .expect("described in us-west-2");
    let found = described.vpc_endpoints().first().expect("the endpoint");
    assert_eq!(found.vpc_id(), Some(west.vpc_id.as_str()));
    assert_eq!(
        found.service_name(),
        service.endpoint_service_name.as_deref()
    );
    // Linked on the us-east-1 service, and verified.
    assert!(
        service.interface_endpoints.contains(&vpce.vpc_endpoint_id),
        "{:?}",
        service.interface_endpoints
    );
    assert!(west_work.link.is_some());
    assert!(west_work.verified.is_some());
    // The registry knows the request uses us-west-2.
    let users = registry(&w, &service.id, "US_WEST_2").await;
    assert_eq!(users, [cross.request_key.as_str()]);
}

/// The request keys registered as users of `region` on `service_id`, from the claims table.
async fn registry(w: &World, service_id: &str, region: &str) -> Vec<String> {
    let ddb = aws_sdk_dynamodb::Client::new(&w.stack.sdk_config(HOME).await);
    let out = ddb
        .get_item()
        .table_name(devstack::CLAIMS_TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!(
                "remote-region-users#{}#{service_id}#{region}",
                w.project_id
            )),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem");
    match out.item().and_then(|i| i.get("users")) {
        Some(aws_sdk_dynamodb::types::AttributeValue::Ss(users)) => sorted(users.clone()),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn two_executions_add_their_regions_concurrently_and_teardown_removes_only_its_own() {
    let w = World::new(&[HOME]).await;
    let west = w
        .add_network("us-west-2", &['a', 'b'])
        .await
        .expect("us-west-2 network");
    let euw = w
        .add_network("eu-west-1", &['a', 'b'])
        .await
        .expect("eu-west-1 network");
    let plan_a = plan(&w, "xr-a", request(&w, &[&west])).await;
    let plan_b = plan(&w, "xr-b", request(&w, &[&euw])).await;
    // The home VPC's endpoint first: its link keeps the service when a remote one goes.
    let (_, home) = w.provision_endpoint(plan_a.work(0).expect("work")).await;
    home.expect("the us-east-1 endpoint");

    // A writer outside the product lists a region of its own: the service applies it for a
    // few seconds, so both executions below find it INITIATING, wait the same cadence and
    // read it again at the same virtual moment: their read-modify-writes overlap.
    let id = home_service(&w, &plan_a).await.id;
    w.ctx
        .atlas(&plan_a.request)
        .await
        .expect("atlas client")
        .update_endpoint_service_remote_regions(&w.project_id, &id, &["AP_SOUTH_1".to_owned()])
        .await
        .expect("outside PATCH");
    // Both executions add their region to one service at the same time.
    let adds = |mut work: EndpointWork| {
        let w = &w;
        async move {
            for step in ["ensure-endpoint-service", "get-service-name"] {
                w.step_until_ready_on(step, &mut work).await;
            }
            work
        }
    };
    let (a, b) = tokio::join!(
        w.atlas
            .clock
            .participate(adds(plan_a.work(1).expect("work a"))),
        w.atlas
            .clock
            .participate(adds(plan_b.work(1).expect("work b")))
    );
    let service = home_service(&w, &plan_a).await;
    assert_eq!(
        sorted(service.supported_remote_regions.clone()),
        ["AP_SOUTH_1", "EU_WEST_1", "US_WEST_2"],
        "no region lost"
    );
    for work in [&a, &b] {
        assert!(
            work.service_name
                .as_ref()
                .expect("service name")
                .remote_region_added
        );
    }
    assert_eq!(
        w.atlas.sim.counters().requests("updateEndpointService"),
        3,
        "the outside one, then one each: the lease serialized the read-modify-writes, so \
         neither overwrote the other's region and had to add it again"
    );

    // Execution a goes on to a working endpoint; then its teardown takes out us-west-2 only.
    let mut a = a;
    for step in [
        "configure-security-groups",
        "create-vpc-endpoint",
        "link-endpoint",
        "verify-endpoint",
    ] {
        w.step_until_ready_on(step, &mut a).await;
    }
    let removed = w
        .step_until_ready(
            "teardown-endpoint",
            serde_json::to_value(&a).expect("work"),
            Duration::from_secs(10),
            Duration::from_secs(3600),
        )
        .await
        .expect("torn down");
    assert_eq!(
        removed["vpcEndpoints"].as_array().map(Vec::len),
        Some(1),
        "{removed}"
    );
    let service = home_service(&w, &plan_a).await;
    assert_eq!(
        sorted(service.supported_remote_regions.clone()),
        ["AP_SOUTH_1", "EU_WEST_1"]
    );
    assert!(registry(&w, &service.id, "US_WEST_2").await.is_empty());
    assert_eq!(
        registry(&w, &service.id, "EU_WEST_1").await,
        [plan_b.endpoints[1].request_key.as_str()]
    );
}

/// The secret `name` holds, as JSON.
async fn secret_at(w: &World, name: &str) -> Value {
    let out = w
        .secrets(HOME)
        .await
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .expect("the secret exists");
    serde_json::from_str(out.secret_string().expect("a string")).expect("JSON")
}

#[tokio::test]
async fn a_cross_region_request_runs_end_to_end_and_teardown_takes_its_region_out() {
    use atlas_privatelink::machines::Machine;
    use integration_tests::world::{assert_succeeded, make_network};
    let w = World::new(&[HOME]).await;
    let remote = make_network("us-west-2", &format!("{}-west", w.project_id)).await;
    let mut input = request(&w, &[&remote]);
    let secret = format!("{}/cross", w.secret_name());
    input["secret"] = json!({"name": secret});
    assert_succeeded(
        &w.execute(Machine::Provision, input.clone(), "cross-up")
            .await,
    );

    // Both endpoints are in the stored strings; the remote one was made in its own region.
    let stored = secret_at(&w, &secret).await;
    let ids = stored["vpcEndpointIds"].as_str().expect("vpcEndpointIds");
    let remote_ids = w.vpc_endpoints(&remote).await;
    assert_eq!(remote_ids.len(), 1, "one endpoint in us-west-2");
    assert!(ids.contains(&remote_ids[0]), "{ids} lacks {remote_ids:?}");
    assert_eq!(ids.split(',').count(), 2, "{ids}");
    assert!(
        stored["connectionStringPrivateSrv"]
            .as_str()
            .is_some_and(|s| s.starts_with("mongodb+srv://")),
        "{stored}"
    );
    let plan = plan(&w, "look", input.clone()).await;
    assert_eq!(
        home_service(&w, &plan).await.supported_remote_regions,
        ["US_WEST_2"]
    );

    // Both links go, so Atlas removes the service with its last one and the remote region
    // with it (the unit tests show a region taken out of a service that stays).
    assert_succeeded(&w.execute(Machine::Teardown, input, "cross-down").await);
    assert!(
        w.vpc_endpoints(&remote).await.is_empty(),
        "us-west-2 endpoint left"
    );
    let atlas = w.ctx.atlas(&plan.request).await.expect("atlas client");
    let services = atlas
        .list_endpoint_services(&w.project_id)
        .await
        .expect("services");
    // The service went with its last link, or stays without the region.
    assert!(
        services
            .iter()
            .all(|s| s.supported_remote_regions.is_empty()),
        "{services:?}"
    );
}

#[tokio::test]
async fn with_consent_regional_mode_is_turned_on_and_each_endpoint_gets_its_own_strings() {
    use atlas_privatelink::machines::Machine;
    use atlas_sim::ClusterSeed;
    use integration_tests::world::assert_succeeded;
    let w = World::new(&["us-east-1", "eu-west-1"]).await;
    // A multi-region sharded cluster in a project of its own (no replica set beside it).
    let project = devstack::world::new_project_id();
    w.atlas
        .sim
        .seed_cluster(ClusterSeed::new(&project, "Cluster0", &["us-east-1", "eu-west-1"]).sharded())
        .expect("seeded");
    let mut input = w.request();
    input["atlas"]["projectId"] = json!(project);
    input["atlas"]["enableRegionalMode"] = json!(true);
    let secret = format!("{}/sharded", w.secret_name());
    input["secret"] = json!({"name": secret});
    assert_succeeded(
        &w.execute(Machine::Provision, input.clone(), "regional")
            .await,
    );

    let parsed = serde_json::from_value(input).expect("request");
    let atlas = w.ctx.atlas(&parsed).await.expect("atlas client");
    assert!(atlas.get_regional_mode(&project).await.expect("read"));
    // One private string set per endpoint: keyed as usual, the second with suffix 1.
    let stored = secret_at(&w, &secret).await;
    let first = stored["connectionStringPrivateSrv"]
        .as_str()
        .expect("first set");
    let second = stored["connectionStringPrivateSrv1"]
        .as_str()
        .expect("second set");
    assert_ne!(first, second, "{stored}");
}
