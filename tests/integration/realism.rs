//! The workflow under the local world's realism models (`devstack::Realism`): each test sets
//! up a rule of AWS or Atlas that moto or a kind simulator would not enforce, and shows the
//! workflow surviving it. Each failed on the code before the models were enforced.

use std::time::Duration;

use atlas_privatelink::machines::Machine;
use atlas_sim::{Outcome, SimConfig};
use clock::Clock;
use devstack::{Realism, create_subnet};
use integration_tests::world::{World, assert_succeeded, ec2, failure as error_of, secrets};
use privatelink_core::ports::SdkSecrets;
use privatelink_core::state::VpcEndpointOut;
use privatelink_core::steps::{SecretTarget, write_secret_to};
use serde_json::{Value, json};

/// Realistic rules with fixed delays, so a test does not depend on a draw.
fn fixed(visible_after: u64, created_after: u64) -> Realism {
    Realism::realistic().with_fixed_delays(
        Duration::from_secs(visible_after),
        Duration::from_secs(created_after),
    )
}

#[tokio::test]
async fn new_ids_that_ec2_does_not_show_yet_are_waited_for() {
    let w = World::with_realism(SimConfig::default(), fixed(4, 0), &["us-east-1"]).await;
    let result = w
        .execute(Machine::Provision, w.request(), "invisible")
        .await;
    assert_succeeded(&result);
    let models = w.stack.models();
    assert!(
        models.answers("InvalidGroup.NotFound") > 0,
        "the group was hidden at least once"
    );
    assert!(
        models.answers("InvalidVpcEndpointId.NotFound") > 0,
        "the endpoint was hidden at least once"
    );
    w.atlas.assert_contract_clean();
}

#[tokio::test]
async fn rollback_removes_what_ec2_does_not_show_yet() {
    // The link is refused at once, before the new endpoint is visible: rollback must not take
    // "not found" for "gone".
    let w = World::with_realism(SimConfig::default(), fixed(20, 0), &["us-east-1"]).await;
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceRejected { vpce_id: None });
    let result = w
        .execute(Machine::Provision, w.request(), "hidden-rollback")
        .await;
    assert_eq!(
        error_of(&result).map(|e| e.0),
        Some("InterfaceEndpointRejected")
    );
    w.atlas.clock.sleep(Duration::from_secs(120)).await;
    assert!(
        w.vpc_endpoints(&w.networks[0]).await.is_empty(),
        "no VPC endpoint left"
    );
    assert!(
        w.our_security_groups(&w.networks[0]).await.is_empty(),
        "no group left"
    );
}

#[tokio::test]
async fn client_tokens_are_per_execution_so_a_vpc_can_be_provisioned_again() {
    let w = World::new(&["us-east-1"]).await;
    assert_succeeded(&w.execute(Machine::Provision, w.request(), "first").await);
    assert_succeeded(&w.execute(Machine::Teardown, w.request(), "down").await);
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    let again = w.execute(Machine::Provision, w.request(), "again").await;
    assert_succeeded(&again);
    assert_eq!(w.vpc_endpoints(&w.networks[0]).await.len(), 1);
    assert_eq!(w.stack.models().answers("IdempotentParameterMismatch"), 0);
}

#[tokio::test]
async fn provision_after_a_rollback_gets_a_new_endpoint() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceRejected { vpce_id: None });
    let failed = w.execute(Machine::Provision, w.request(), "rejected").await;
    assert_eq!(
        error_of(&failed).map(|e| e.0),
        Some("InterfaceEndpointRejected")
    );
    w.atlas.sim.clear_outcomes();
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    let again = w
        .execute(Machine::Provision, w.request(), "after-rollback")
        .await;
    assert_succeeded(&again);
    assert_eq!(w.vpc_endpoints(&w.networks[0]).await.len(), 1);
}

/// A VPC with subnets in the given zones of us-east-1.
async fn network_in_zones(w: &World, zones: &[char]) -> (String, Vec<String>) {
    let client = ec2("us-east-1").await;
    let vpc = client
        .create_vpc()
        .cidr_block("10.43.0.0/16")
        .send()
        .await
        .expect("vpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let mut subnets = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        subnets.push(
            create_subnet(
                &client,
                &vpc,
                &format!("10.43.{i}.0/24"),
                &format!("us-east-1{zone}"),
                &w.project_id,
            )
            .await
            .expect("subnet"),
        );
    }
    (vpc, subnets)
}

#[tokio::test]
async fn only_subnets_in_zones_the_service_supports_are_used_one_per_zone() {
    let w = World::new(&["us-east-1"]).await;
    // a and b are supported (a twice), e is not.
    let (vpc, subnets) = network_in_zones(&w, &['e', 'a', 'a', 'b']).await;
    let mut request = w.request();
    request["endpoints"][0]["vpcId"] = json!(vpc);
    request["endpoints"][0]["subnetIds"] = json!(subnets);
    let plan = w.validate("zones", request).await.expect("valid");
    let mut work = plan.work(0).expect("work");
    for step in [
        "ensure-endpoint-service",
        "get-service-name",
        "configure-security-groups",
    ] {
        w.step_until_ready_on(step, &mut work).await;
    }
    let out: VpcEndpointOut = serde_json::from_value(
        w.step_on("create-vpc-endpoint", &mut work)
            .await
            .expect("created"),
    )
    .expect("output");
    assert_eq!(out.subnet_ids, vec![subnets[1].clone(), subnets[3].clone()]);
}

#[tokio::test]
async fn no_subnet_in_a_supported_zone_is_an_error_naming_the_field() {
    let w = World::new(&["us-east-1"]).await;
    let (vpc, subnets) = network_in_zones(&w, &['e', 'f']).await;
    let mut request = w.request();
    request["endpoints"][0]["vpcId"] = json!(vpc);
    request["endpoints"][0]["subnetIds"] = json!(subnets);
    let result = w.execute(Machine::Provision, request, "no-zone").await;
    let (error, cause) = error_of(&result).expect("failed");
    assert_eq!(error, "InvalidRequest");
    assert!(cause.starts_with("endpoints[0].subnetIds: "), "{cause}");
    assert!(
        cause.contains("us-east-1a"),
        "names the service's zones: {cause}"
    );
}

#[tokio::test]
async fn the_link_waits_until_aws_has_created_the_endpoint() {
    let w = World::with_realism(SimConfig::default(), fixed(0, 45), &["us-east-1"]).await;
    let result = w
        .execute(Machine::Provision, w.request(), "created-first")
        .await;
    assert_succeeded(&result);
    let interfaces = w.atlas.sim.interfaces(&w.project_id);
    assert_eq!(interfaces.len(), 1);
    assert!(interfaces[0].accepted, "{interfaces:?}");
}

#[tokio::test]
async fn a_failed_interface_ends_promptly_with_atlas_reason() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceFailed { vpce_id: None });
    let started = w.atlas.clock.now();
    let result = w.execute(Machine::Provision, w.request(), "failed").await;
    let (error, cause) = error_of(&result).expect("failed");
    assert_eq!(error, "InterfaceEndpointFailed", "{cause}");
    assert!(
        cause.contains("simulated"),
        "carries Atlas's errorMessage: {cause}"
    );
    let took = w.atlas.clock.since(started);
    assert!(
        took < Duration::from_secs(900),
        "ended after {took:?}, not after the 2 h budget"
    );
}

#[tokio::test]
async fn a_link_atlas_could_not_accept_while_aws_was_busy_is_made_again() {
    // The service has another endpoint already, so removing the failed one keeps it.
    let w = World::with_realism(SimConfig::default(), fixed(0, 60), &["us-east-1"]).await;
    assert_succeeded(&w.execute(Machine::Provision, w.request(), "first").await);
    let (vpc, subnets) = network_in_zones(&w, &['a', 'b']).await;
    let mut request = w.request();
    request["endpoints"][0]["vpcId"] = json!(vpc);
    request["endpoints"][0]["subnetIds"] = json!(subnets);
    request["secret"] = json!({"name": format!("{}/second", w.secret_name())});
    let plan = w.validate("second", request).await.expect("valid");
    let mut work = plan.work(0).expect("work");
    for step in [
        "ensure-endpoint-service",
        "get-service-name",
        "configure-security-groups",
        "create-vpc-endpoint",
    ] {
        w.step_until_ready_on(step, &mut work).await;
    }
    // Link at once, as the old workflow did, while AWS is still creating the endpoint.
    let vpce = work
        .vpc_endpoint
        .as_ref()
        .expect("vpce")
        .vpc_endpoint_id
        .clone();
    let service = work.service.as_ref().expect("service").service_id.clone();
    let atlas = w.atlas.client(integration_tests::service_account());
    atlas
        .create_interface_endpoint(&w.project_id, &service, &vpce)
        .await
        .expect("link");
    let failed = w.atlas.sim.interface(&vpce).expect("linked");
    assert_eq!(failed.connection_status, "FAILED");
    assert!(!failed.accepted);
    work.link = Some(privatelink_core::state::LinkOut {
        connection_status: "FAILED".into(),
        created: true,
        first_poll_after_seconds: 0,
    });
    w.step_until_ready_on("verify-endpoint", &mut work).await;
    let relinked = w.atlas.sim.interface(&vpce).expect("linked again");
    assert_eq!(relinked.connection_status, "AVAILABLE");
}

#[tokio::test]
async fn the_access_list_denial_names_the_ip_to_allow() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas
        .sim
        .set_access_list(Some(vec!["198.51.100.7/32".parse().expect("cidr")]));
    let result = w.execute(Machine::Provision, w.request(), "denied").await;
    let (error, cause) = error_of(&result).expect("failed");
    assert_eq!(error, "AtlasAccessListDenied", "{cause}");
    assert!(cause.contains("127.0.0.1"), "{cause}");
    assert!(w.vpc_endpoints(&w.networks[0]).await.is_empty());
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_named_at_once() {
    let w = World::new(&["us-east-1"]).await;
    let role = "arn:aws:iam::123456789012:role/AtlasPrivateLinkRole";
    w.stack.models().deny_role(role, None);
    let mut request = w.request();
    request["aws"] = json!({"roleArn": role});
    let started = w.atlas.clock.now();
    let result = w.execute(Machine::Provision, request, "denied-role").await;
    let (error, cause) = error_of(&result).expect("failed");
    assert_eq!(error, "InvalidRequest", "{cause}");
    assert!(
        cause.starts_with("aws.roleArn: ") && cause.contains(role),
        "{cause}"
    );
    assert!(w.atlas.clock.since(started) < Duration::from_secs(60));
}

#[tokio::test]
async fn ingress_sources_added_to_a_request_later_are_applied() {
    let w = World::new(&["us-east-1"]).await;
    let mut request = w.request();
    request["endpoints"][0]["securityGroups"] = json!({"allowFromCidrs": ["10.42.1.0/24"]});
    let plan = w
        .validate("ingress-1", request.clone())
        .await
        .expect("valid");
    let mut work = plan.work(0).expect("work");
    w.step_on("configure-security-groups", &mut work)
        .await
        .expect("first");
    request["endpoints"][0]["securityGroups"] =
        json!({"allowFromCidrs": ["10.42.1.0/24", "10.42.2.0/24"]});
    let plan = w.validate("ingress-2", request).await.expect("valid");
    let mut work = plan.work(0).expect("work");
    let out = w
        .step_on("configure-security-groups", &mut work)
        .await
        .expect("second");
    let group = out["ownGroupId"].as_str().expect("group").to_owned();
    let described = ec2("us-east-1")
        .await
        .describe_security_groups()
        .group_ids(&group)
        .send()
        .await
        .expect("describe");
    let cidrs: Vec<String> = described
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .flat_map(|p| p.ip_ranges())
        .filter_map(|r| r.cidr_ip().map(str::to_owned))
        .collect();
    assert!(cidrs.contains(&"10.42.2.0/24".to_owned()), "{cidrs:?}");
}

#[tokio::test]
async fn secret_content_a_b_a_ends_with_a_current() {
    let w = World::new(&["us-east-1"]).await;
    let client = secrets("us-east-1").await;
    let port = SdkSecrets::new(client.clone());
    let name = format!("{}/aba", w.secret_name());
    let target = SecretTarget {
        name: &name,
        kms_key_id: None,
        tags: &[],
        execution: "aba",
        owner: "owner",
    };
    for content in ["A", "B", "A"] {
        write_secret_to(&port, &target, content)
            .await
            .expect("write");
    }
    let current = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("read");
    assert_eq!(current.secret_string(), Some("A"));
    // Writing A again changes nothing.
    let versions = || async {
        client
            .list_secret_version_ids()
            .secret_id(&name)
            .send()
            .await
            .expect("list")
            .versions()
            .len()
    };
    let before = versions().await;
    write_secret_to(&port, &target, "A").await.expect("write");
    assert_eq!(versions().await, before);
}

/// moto follows these AWS rules itself, so the front leaves them alone; if a moto upgrade
/// stops following them, this test says so.
#[tokio::test]
async fn moto_follows_the_step_functions_name_and_secret_token_rules() {
    let config = integration_tests::moto::moto()
        .sdk_config("us-east-1")
        .await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let machine = sfn
        .create_state_machine()
        .name(format!(
            "names-{}",
            integration_tests::world::unique_project_id()
        ))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/states")
        .send()
        .await
        .expect("machine")
        .state_machine_arn()
        .to_owned();
    let start = || {
        sfn.start_execution()
            .state_machine_arn(&machine)
            .name("x")
            .input("{}")
            .send()
    };
    let first = start().await.expect("start");
    // Same name and input while running: the same execution (Step Functions StartExecution).
    let again = start().await.expect("idempotent start");
    assert_eq!(again.execution_arn(), first.execution_arn());
    sfn.stop_execution()
        .execution_arn(first.execution_arn())
        .send()
        .await
        .expect("stop");
    // A closed execution's name stays taken (90 days in AWS).
    let reused = start().await;
    let code = reused
        .err()
        .and_then(|e| aws_sdk_sfn::error::ProvideErrorMetadata::code(&e).map(str::to_owned));
    assert_eq!(code.as_deref(), Some("ExecutionAlreadyExists"));

    // PutSecretValue with a token already used for the same value is ignored.
    let client = secrets("us-east-1").await;
    let name = format!("tokens-{}", integration_tests::world::unique_project_id());
    let a = "a".repeat(32);
    client
        .create_secret()
        .name(&name)
        .secret_string("A")
        .client_request_token(&a)
        .send()
        .await
        .expect("create");
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("B")
        .client_request_token("b".repeat(32))
        .send()
        .await
        .expect("B");
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("A")
        .client_request_token(&a)
        .send()
        .await
        .expect("A again");
    let current: Value = json!(
        client
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .expect("read")
            .secret_string()
    );
    assert_eq!(current, json!("B"), "AWSCURRENT did not move");
}

#[tokio::test]
async fn a_vended_account_whose_role_appears_late_is_waited_for() {
    let w = World::new(&["us-east-1"]).await;
    let role = "arn:aws:iam::123456789012:role/atlas-privatelink-target";
    let ready_at = w.atlas.clock.now() + Duration::from_secs(600);
    w.stack.models().deny_role(role, Some(ready_at));
    let request = |role: &str, wait: u32| {
        let mut request = w.request();
        request["aws"] = json!({"roleArn": role, "waitForAccountSeconds": wait});
        request["endpoints"][0] = json!({"region": "us-east-1",
                                         "vpcTag": {"key": "team", "value": w.project_id}});
        request
    };
    // Without a wait, the missing role is the request's fault, at once.
    let now = w
        .execute(Machine::Provision, request(role, 0), "no-wait")
        .await;
    assert_eq!(error_of(&now).map(|e| e.0), Some("InvalidRequest"));
    // With one, validation retries until the role can be assumed.
    let started = w.atlas.clock.now();
    let result = w
        .execute(Machine::Provision, request(role, 1800), "vended")
        .await;
    assert_succeeded(&result);
    let validations = result
        .entered_states()
        .iter()
        .filter(|s| **s == "Validate")
        .count();
    assert_eq!(validations, 1, "one state, retried inside");
    assert!(w.atlas.clock.since(started) >= Duration::from_secs(500));
    // A wait that runs out ends as the request's fault (another role: the first one's
    // credentials are cached now, as in a warm Lambda).
    let never = "arn:aws:iam::123456789012:role/never-there";
    w.stack.models().deny_role(never, None);
    let given_up = w
        .execute(Machine::Provision, request(never, 120), "gave-up")
        .await;
    let (error, cause) = error_of(&given_up).expect("failed");
    assert_eq!(error, "InvalidRequest", "{cause}");
    assert!(cause.starts_with("aws.roleArn: "), "{cause}");
}

#[tokio::test]
async fn two_requests_on_one_cluster_keep_their_own_secrets() {
    let w = World::new(&["us-east-1"]).await;
    let (vpc, subnets) = network_in_zones(&w, &['a', 'b']).await;
    let first = w.request();
    let mut second = w.request();
    second["endpoints"][0]["vpcId"] = json!(vpc);
    second["endpoints"][0]["subnetIds"] = json!(subnets);
    assert_succeeded(&w.execute(Machine::Provision, first.clone(), "one").await);
    assert_succeeded(&w.execute(Machine::Provision, second.clone(), "two").await);
    let name_of = |r: &Value| {
        privatelink_core::parse_request(r)
            .expect("valid")
            .secret
            .name
            .to_string()
    };
    let (a, b) = (name_of(&first), name_of(&second));
    assert_ne!(a, b, "per-request default names");
    let read = |name: String| async move {
        let out = secrets("us-east-1")
            .await
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .ok()?;
        serde_json::from_str::<Value>(out.secret_string()?).ok()
    };
    let b_before = read(b.clone()).await.expect("second secret");
    // The same name given explicitly to a third request is refused, naming the field.
    let mut third = second.clone();
    third["endpoints"][0]["vpcId"] = json!(w.networks[0].vpc_id);
    third["endpoints"][0]["subnetIds"] = json!(w.networks[0].subnet_ids);
    third["secret"] = json!({"name": b});
    let refused = w.execute(Machine::Provision, third, "three").await;
    let (error, cause) = error_of(&refused).expect("failed");
    assert_eq!(error, "InvalidRequest");
    assert!(cause.starts_with("secret.name: "), "{cause}");
    // Tearing the first down leaves the second's strings as they were.
    assert_succeeded(&w.execute(Machine::Teardown, first, "one-down").await);
    assert_eq!(read(b).await, Some(b_before));
}

/// The regions of the largest request: ten, each with zones `a` and `b` in moto.
const TEN_REGIONS: [&str; 10] = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// The largest valid request: every list at its limit (documented in the README, "The
/// request"): 10 endpoints, 16 subnets each, 60 CIDRs to allow, 40 tags of the longest keys
/// and values.
fn largest_request(w: &World, subnets: &[Vec<String>]) -> Value {
    use privatelink_core::request::{
        MAX_ALLOW_FROM, MAX_ENDPOINTS, MAX_SUBNETS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS,
        MAX_USER_TAGS,
    };
    assert_eq!(w.networks.len(), MAX_ENDPOINTS);
    let cidrs: Vec<String> = (0..MAX_ALLOW_FROM)
        .map(|i| format!("10.{}.0.0/16", 100 + i))
        .collect();
    let tags: serde_json::Map<String, Value> = (0..MAX_USER_TAGS)
        .map(|i| {
            let key = format!("{i:02}{}", "k".repeat(MAX_TAG_KEY_CHARS - 2));
            (key, json!("v".repeat(MAX_TAG_VALUE_CHARS)))
        })
        .collect();
    let mut request = w.request();
    request["endpoints"] = json!(
        w.networks
            .iter()
            .zip(subnets)
            .map(|(n, subnets)| {
                assert_eq!(subnets.len(), MAX_SUBNETS);
                json!({"region": n.region, "vpcId": n.vpc_id, "subnetIds": subnets,
                   "securityGroups": {"allowFromCidrs": cidrs}})
            })
            .collect::<Vec<_>>()
    );
    request["tags"] = Value::Object(tags);
    request
}

#[tokio::test]
async fn the_largest_valid_request_runs_end_to_end_within_the_payload_limit() {
    let w = World::new(&TEN_REGIONS).await;
    let mut subnets = Vec::new();
    for n in &w.networks {
        let client = ec2(&n.region).await;
        let mut ids = n.subnet_ids.clone();
        for i in ids.len()..privatelink_core::request::MAX_SUBNETS {
            let zone = format!("{}{}", n.region, ['a', 'b'][i % 2]);
            ids.push(
                create_subnet(
                    &client,
                    &n.vpc_id,
                    &format!("10.42.{}.0/24", 10 + i),
                    &zone,
                    "big",
                )
                .await
                .expect("subnet"),
            );
        }
        subnets.push(ids);
    }
    let request = largest_request(&w, &subnets);
    let size = request.to_string().len();
    let result = w.execute(Machine::Provision, request, "largest").await;
    assert_succeeded(&result);
    let largest = result
        .events
        .iter()
        .filter_map(|e| e.input.as_ref().or(e.output.as_ref()))
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(0);
    eprintln!(
        "largest request: {size} bytes of input; largest state input or output: {largest} bytes"
    );
    assert!(largest <= asl_runner::MAX_PAYLOAD_BYTES);
}

#[tokio::test]
async fn an_endpoint_service_whose_creation_answer_was_lost_is_still_rolled_back() {
    let w = World::new(&["us-east-1"]).await;
    // Atlas creates the service but the answer is lost; the client's retry gets a 409.
    w.atlas
        .sim
        .inject(atlas_sim::Fault::lose_answer("createEndpointService", 503));
    // The execution then fails before any link (which would take the service with it when
    // removed): its subnets are in no zone the service supports.
    let (vpc, subnets) = network_in_zones(&w, &['e', 'f']).await;
    let mut request = w.request();
    request["endpoints"][0]["vpcId"] = json!(vpc);
    request["endpoints"][0]["subnetIds"] = json!(subnets);
    let result = w.execute(Machine::Provision, request, "lost-answer").await;
    assert_eq!(error_of(&result).map(|e| e.0), Some("InvalidRequest"));
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    assert!(
        w.atlas.sim.services(&w.project_id).is_empty(),
        "the service this execution created is removed: {:?}",
        w.atlas.sim.services(&w.project_id)
    );
}

#[tokio::test]
async fn a_security_group_found_through_a_duplicate_name_is_ours_only_by_its_tag() {
    let w = World::new(&["us-east-1"]).await;
    let network = &w.networks[0];
    let client = ec2("us-east-1").await;
    // A group of the deterministic name, made by another execution.
    let tags = [
        (
            "atlas-privatelink:created-by".to_owned(),
            "another-execution".to_owned(),
        ),
        ("atlas-privatelink:request-key".to_owned(), "k".to_owned()),
    ];
    let made = privatelink_core::aws::ec2::create_security_group(
        &client,
        &network.vpc_id,
        "atlas-privatelink-race",
        "d",
        &tags,
        "another-execution",
    )
    .await
    .expect("made");
    // This execution's create meets the duplicate name: the group is the other one's.
    let found = privatelink_core::aws::ec2::create_security_group(
        &client,
        &network.vpc_id,
        "atlas-privatelink-race",
        "d",
        &tags,
        "this-execution",
    )
    .await
    .expect("found through the duplicate");
    assert_eq!(found.id, made.id);
    assert_eq!(found.created_by.as_deref(), Some("another-execution"));
}

#[tokio::test]
async fn two_executions_racing_on_one_security_group_make_one_creator() {
    let w = World::with_realism(SimConfig::default(), Realism::kind(), &["us-east-1"]).await;
    let work = |execution: &str| {
        let w = &w;
        let execution = execution.to_owned();
        async move {
            let plan = w.validate(&execution, w.request()).await.expect("plan");
            let mut work = plan.work(0).expect("work");
            w.step_on("configure-security-groups", &mut work)
                .await
                .expect("configured")
        }
    };
    let (a, b) = tokio::join!(work("sg-race-a"), work("sg-race-b"));
    assert_eq!(a["ownGroupId"], b["ownGroupId"], "one group");
    let creators = [&a, &b]
        .iter()
        .filter(|o| o["created"] == json!(true))
        .count();
    assert_eq!(creators, 1, "{a} {b}");
}

/// Cross-region PrivateLink on the AWS front (`Realism::cross_region_rules`): a VPC endpoint
/// in us-west-2 to the us-east-1 service needs `ServiceRegion`, and the service must list
/// us-west-2 in its `supportedRemoteRegions` (and have applied it); then the zone rule does not
/// apply (zone `d` is not among the service's zones).
#[tokio::test]
async fn a_cross_region_endpoint_needs_the_service_region_and_the_services_consent() {
    let w = World::new(&["us-east-1"]).await;
    let request = w.request();
    let plan = w.validate("cross", request).await.expect("valid");
    let mut work = plan.work(0).expect("work");
    for step in ["ensure-endpoint-service", "get-service-name"] {
        w.step_until_ready_on(step, &mut work).await;
    }
    let service_id = work.service.as_ref().expect("service").service_id.clone();
    let name = work
        .service_name
        .as_ref()
        .expect("service name")
        .endpoint_service_name
        .clone();
    assert!(name.starts_with("com.amazonaws.vpce.us-east-1."), "{name}");
    let remote = w.ec2("us-west-2").await;
    let vpc = remote
        .create_vpc()
        .cidr_block("10.77.0.0/16")
        .send()
        .await
        .expect("vpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let subnet = create_subnet(&remote, &vpc, "10.77.0.0/24", "us-west-2d", &w.project_id)
        .await
        .expect("subnet");
    let front = aws_sdk_ec2::Client::new(&w.stack.sdk_config("us-west-2").await);
    let create = |service_region: Option<&str>| {
        front
            .create_vpc_endpoint()
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
            .vpc_id(&vpc)
            .service_name(&name)
            .subnet_ids(&subnet)
            .set_service_region(service_region.map(str::to_owned))
            .send()
    };
    let code = |result: Result<_, aws_sdk_ec2::error::SdkError<_, _>>| {
        use aws_sdk_ec2::error::ProvideErrorMetadata;
        match result {
            Ok(_) => "created".to_owned(),
            Err(e) => e.code().unwrap_or("no code").to_owned(),
        }
    };
    // Without ServiceRegion, us-west-2 has no such service.
    assert_eq!(code(create(None).await), "InvalidServiceName");
    // With it, the service does not list us-west-2 yet.
    assert_eq!(code(create(Some("us-east-1")).await), "InvalidServiceName");
    // Listed, but not applied yet.
    let atlas = w.ctx.atlas(&plan.request).await.expect("atlas client");
    let updated = atlas
        .update_endpoint_service_remote_regions(
            plan.request.atlas.project_id.as_str(),
            &service_id,
            &["US_WEST_2".to_owned()],
        )
        .await
        .expect("patched");
    assert_eq!(updated.supported_remote_regions, ["US_WEST_2"]);
    assert_eq!(code(create(Some("us-east-1")).await), "InvalidServiceName");
    // Applied: created, in a zone the service does not serve in its own region.
    w.atlas.clock.sleep(Duration::from_secs(60)).await;
    assert_eq!(code(create(Some("us-east-1")).await), "created");
    // A service region that is not the service's own is refused as well.
    assert_eq!(code(create(Some("eu-west-1")).await), "InvalidServiceName");
}
