//! The workflow steps against moto and the Atlas simulator: happy path, idempotency, crashes,
//! races, rollback, validation against AWS, and the secret.

use std::time::Duration;

use atlas_sim::{Fault, Outcome};
use clock::Clock;
use integration_tests::world::{World, apply, ec2, make_network, secrets};
use integration_tests::{SECRET_VALUES, capture_logs};
use privatelink_core::ErrorName;
use privatelink_core::context::Polling;
use privatelink_core::state::{EndpointWork, Plan};
use privatelink_core::steps::Step;
use serde_json::{Value, json};

fn work_from_plan(plan: &Plan, i: usize) -> EndpointWork {
    plan.work(i).expect("endpoint in plan")
}

#[tokio::test]
async fn provisions_and_stores_the_connection_strings() {
    let w = World::new(&["us-east-1"]).await;
    let (state, outcome) = w.provision("exec-1").await;
    outcome.expect("provisioned");
    let state = state.expect("state");
    let work = &state.endpoints[0];
    assert!(work.service.as_ref().expect("service").created);
    assert!(work.security_groups.as_ref().expect("sg").created);
    assert!(work.vpc_endpoint.as_ref().expect("vpce").created);
    assert!(work.link.as_ref().expect("link").created);
    assert_eq!(
        work.verified.as_ref().expect("verified").connection_status,
        "AVAILABLE"
    );

    let secret = w.secret_json().await.expect("secret stored");
    let vpce = &work.vpc_endpoint.as_ref().expect("vpce").vpc_endpoint_id;
    assert!(
        secret["connectionStringPrivateSrv"]
            .as_str()
            .expect("srv")
            .starts_with("mongodb+srv://")
    );
    assert!(
        secret["connectionStringPrivate"]
            .as_str()
            .expect("std")
            .starts_with("mongodb://")
    );
    assert_eq!(secret["projectId"], json!(w.project_id));
    assert_eq!(secret["clusterName"], json!("Cluster0"));
    assert_eq!(secret["vpcEndpointIds"], json!(vpce));
    assert!(state.secret.as_ref().expect("secret out").created);

    let net = &w.networks[0];
    assert_eq!(w.vpc_endpoints(net).await, vec![vpce.clone()]);
    assert_eq!(w.our_security_groups(net).await.len(), 1);
    assert_eq!(w.atlas.sim.services(&w.project_id).len(), 1);
    assert_eq!(w.secret_versions().await, 1);
    w.atlas.assert_contract_clean();
}

#[tokio::test]
async fn a_second_run_creates_nothing_and_adopts_everything() {
    let w = World::new(&["us-east-1"]).await;
    w.provision("exec-1").await.1.expect("first run");
    let (state, outcome) = w.provision("exec-2").await;
    outcome.expect("second run");
    let state = state.expect("state");
    let work = &state.endpoints[0];
    assert!(!work.service.as_ref().expect("service").created);
    assert!(!work.security_groups.as_ref().expect("sg").created);
    assert!(!work.vpc_endpoint.as_ref().expect("vpce").created);
    assert!(!work.link.as_ref().expect("link").created);
    assert!(!state.secret.as_ref().expect("secret").created);
    let net = &w.networks[0];
    assert_eq!(w.vpc_endpoints(net).await.len(), 1);
    assert_eq!(w.our_security_groups(net).await.len(), 1);
    assert_eq!(w.atlas.sim.services(&w.project_id).len(), 1);
    assert_eq!(w.atlas.sim.interfaces(&w.project_id).len(), 1);
    assert_eq!(
        w.secret_versions().await,
        1,
        "unchanged content, no new version"
    );
}

#[tokio::test]
async fn each_step_run_twice_gives_the_same_result() {
    let w = World::new(&["us-east-1"]).await;
    let plan = w.validate("exec-twice", w.request()).await.expect("plan");
    let again = w
        .validate("exec-twice", w.request())
        .await
        .expect("plan again");
    assert_eq!(plan, again);
    let mut work = work_from_plan(&plan, 0);
    for step in Step::ENDPOINT.map(Step::name) {
        let input = serde_json::to_value(&work).expect("work");
        let first = w
            .step_until_ready(
                step,
                input.clone(),
                Duration::from_secs(10),
                Duration::from_secs(3600),
            )
            .await
            .expect(step);
        let second = w.step(step, input).await.expect(step);
        if step == "ensure-endpoint-service" {
            // The second call finds what the first made and, through this execution's claim
            // on the region's service, knows it is its own (Atlas services carry no tags).
            assert_eq!(second["created"], json!(true), "{step}");
            assert_eq!(first["serviceId"], second["serviceId"], "{step}");
        } else if step == "link-endpoint" {
            // The second call finds the link the first made and adopts it: Atlas links carry
            // no tags, so a repeated call cannot tell "made by this execution" from "before".
            assert_eq!(second["created"], json!(false), "{step}");
            let key = if step == "link-endpoint" {
                "connectionStatus"
            } else {
                "serviceId"
            };
            assert_eq!(first[key], second[key], "{step}");
        } else {
            assert_eq!(first, second, "{step} is not idempotent");
        }
        apply(&mut work, step, first);
    }
    let net = &w.networks[0];
    assert_eq!(w.vpc_endpoints(net).await.len(), 1);
    assert_eq!(w.our_security_groups(net).await.len(), 1);
    assert_eq!(w.atlas.sim.services(&w.project_id).len(), 1);
}

/// A crash right after each side effect (the step's output is lost), then the whole
/// execution runs again under a new name: one of each resource, and success.
#[tokio::test]
async fn a_crash_after_any_side_effect_then_a_rerun_makes_one_of_each() {
    let steps = Step::ENDPOINT.map(Step::name);
    for crash_at in 0..steps.len() {
        let w = World::new(&["us-east-1"]).await;
        let plan = w.validate("exec-crashed", w.request()).await.expect("plan");
        let mut work = work_from_plan(&plan, 0);
        for step in &steps[..=crash_at] {
            let input = serde_json::to_value(&work).expect("work");
            let out = w
                .step_until_ready(
                    step,
                    input,
                    Duration::from_secs(10),
                    Duration::from_secs(3600),
                )
                .await
                .expect(step);
            apply(&mut work, step, out);
        }
        // The output of the last step is lost with the crash; the execution is started again.
        let (state, outcome) = w.provision("exec-rerun").await;
        outcome.unwrap_or_else(|e| panic!("re-run after a crash at {}: {e}", steps[crash_at]));
        let state = state.expect("state");
        let net = &w.networks[0];
        assert_eq!(
            w.vpc_endpoints(net).await.len(),
            1,
            "crash at {}",
            steps[crash_at]
        );
        assert_eq!(
            w.our_security_groups(net).await.len(),
            1,
            "crash at {}",
            steps[crash_at]
        );
        assert_eq!(
            w.atlas.sim.services(&w.project_id).len(),
            1,
            "crash at {}",
            steps[crash_at]
        );
        assert_eq!(
            w.atlas.sim.interfaces(&w.project_id).len(),
            1,
            "crash at {}",
            steps[crash_at]
        );
        assert!(state.secret.is_some());
    }
}

#[tokio::test]
async fn racing_runs_share_one_endpoint_service() {
    let w = World::new(&["us-east-1"]).await;
    let plan = w.validate("exec-a", w.request()).await.expect("plan");
    let a = serde_json::to_value(work_from_plan(&plan, 0)).expect("work");
    let mut b = a.clone();
    b["execution"] = json!("exec-b");
    // The loser of the claim waits (EndpointServiceNotReady, retried as the state machine
    // does) until the winner's service exists, then adopts it.
    let every = Duration::from_secs(10);
    let budget = Duration::from_secs(600);
    let (ra, rb) = tokio::join!(
        w.step_until_ready("ensure-endpoint-service", a, every, budget),
        w.step_until_ready("ensure-endpoint-service", b, every, budget)
    );
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(ra["serviceId"], rb["serviceId"], "both adopt one service");
    let created = [&ra, &rb]
        .iter()
        .filter(|r| r["created"] == json!(true))
        .count();
    assert_eq!(created, 1, "exactly one run created it: {ra} {rb}");
    assert_eq!(w.atlas.sim.services(&w.project_id).len(), 1);
    assert!(
        w.atlas.sim.counters().requests("createEndpointService") >= 1,
        "at least one create was attempted"
    );
}

#[tokio::test]
async fn rejected_interface_rolls_back_everything_this_run_made() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceRejected { vpce_id: None });
    let (state, outcome) = w.provision("exec-rejected").await;
    let err = outcome.expect_err("rejected");
    assert_eq!(err.name, ErrorName::InterfaceEndpointRejected, "{err}");
    let state = state.expect("state");
    let removed = w
        .step("rollback", serde_json::to_value(&state).expect("state"))
        .await
        .expect("rollback");
    assert_eq!(
        removed["vpcEndpoints"].as_array().map(Vec::len),
        Some(1),
        "{removed}"
    );
    // Atlas finishes deleting in the background.
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    let net = &w.networks[0];
    assert!(
        w.vpc_endpoints(net).await.is_empty(),
        "VPC endpoint left behind"
    );
    assert!(
        w.our_security_groups(net).await.is_empty(),
        "security group left behind"
    );
    assert!(
        w.atlas.sim.interfaces(&w.project_id).is_empty(),
        "link left behind"
    );
    assert!(
        w.atlas.sim.services(&w.project_id).is_empty(),
        "endpoint service left behind"
    );
    assert!(w.secret_json().await.is_none());
    // A second rollback is harmless.
    w.step("rollback", serde_json::to_value(&state).expect("state"))
        .await
        .expect("rollback again");
    w.atlas.assert_contract_clean();
}

#[tokio::test]
async fn adopted_resources_survive_rollback() {
    let w = World::new(&["us-east-1"]).await;
    let net = w.networks[0].clone();
    // A service that exists before the run (made by hand, say), and a group to attach.
    let client = w.atlas.client(integration_tests::service_account());
    let existing = client
        .create_endpoint_service(&w.project_id, "us-east-1")
        .await
        .expect("pre-existing service");
    w.atlas.clock.sleep(Duration::from_secs(200)).await;
    // Another VPC's endpoint uses it: Atlas keeps a service while it has interface endpoints.
    client
        .create_interface_endpoint(&w.project_id, &existing.id, "vpce-0aaaaaaaaaaaaaaaa")
        .await
        .expect("someone else's link");
    let ec2 = ec2(&net.region).await;
    let attach = ec2
        .create_security_group()
        .vpc_id(&net.vpc_id)
        .group_name("app-clients")
        .description("pre-existing")
        .send()
        .await
        .expect("sg")
        .group_id()
        .expect("id")
        .to_owned();
    let mut request = w.request();
    request["endpoints"][0]["securityGroups"] =
        json!({"create": false, "attachSecurityGroupIds": [attach]});
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceRejected { vpce_id: None });
    let plan = w.validate("exec-adopt", request).await.expect("plan");
    let (work, outcome) = w.provision_endpoint(work_from_plan(&plan, 0)).await;
    assert_eq!(
        outcome.expect_err("rejected").name,
        ErrorName::InterfaceEndpointRejected
    );
    assert!(!work.service.as_ref().expect("service").created, "adopted");
    let state = plan.state(vec![work]);
    w.step("rollback", serde_json::to_value(&state).expect("state"))
        .await
        .expect("rollback");
    w.atlas.clock.sleep(Duration::from_secs(60)).await;
    let groups = ec2
        .describe_security_groups()
        .group_ids(&attach)
        .send()
        .await
        .expect("attached group still there");
    assert_eq!(groups.security_groups().len(), 1);
    assert!(
        w.vpc_endpoints(&net).await.is_empty(),
        "our endpoint is gone"
    );
    let services = w.atlas.sim.services(&w.project_id);
    assert!(
        services.iter().any(|s| s.id == existing.id),
        "the adopted service survives: {services:?}"
    );
}

#[tokio::test]
async fn validation_against_aws_names_the_field_and_creates_nothing() {
    let w = World::new(&["us-east-1"]).await;
    let other = make_network("us-east-1", "elsewhere").await;
    let net = &w.networks[0];
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "subnet of another VPC",
            json!({"region": "us-east-1", "vpcId": net.vpc_id, "subnetIds": [net.subnet_ids[0], other.subnet_ids[0]]}),
            "endpoints[0].subnetIds[1]:",
        ),
        (
            "unknown VPC",
            json!({"region": "us-east-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": [net.subnet_ids[0]]}),
            "endpoints[0].vpcId:",
        ),
        (
            "unknown subnet",
            json!({"region": "us-east-1", "vpcId": net.vpc_id, "subnetIds": ["subnet-0123456789abcdef0"]}),
            "endpoints[0].subnetIds[0]:",
        ),
        (
            "region without nodes",
            json!({"region": "eu-west-1", "vpcId": net.vpc_id, "subnetIds": [net.subnet_ids[0]]}),
            "endpoints[0].region:",
        ),
        (
            "VPC tag matching nothing",
            json!({"region": "us-east-1", "vpcTag": {"key": "team", "value": "nobody"}}),
            "endpoints[0].vpcTag:",
        ),
        (
            "attach a group of another VPC",
            json!({"region": "us-east-1", "vpcId": net.vpc_id, "subnetIds": [net.subnet_ids[0]],
                   "securityGroups": {"create": false, "attachSecurityGroupIds": ["sg-0123456789abcdef0"]}}),
            "endpoints[0].securityGroups.attachSecurityGroupIds[0]:",
        ),
    ];
    for (what, endpoint, field) in cases {
        let mut request = w.request();
        request["endpoints"] = json!([endpoint]);
        let err = w.validate("exec-invalid", request).await.expect_err(what);
        assert_eq!(err.name, ErrorName::InvalidRequest, "{what}: {err}");
        assert!(err.message.starts_with(field), "{what}: {}", err.message);
    }
    let mut wrong_cluster = w.request();
    wrong_cluster["atlas"]["clusterName"] = json!("NoSuchCluster");
    let err = w
        .validate("exec-invalid", wrong_cluster)
        .await
        .expect_err("cluster");
    assert!(err.message.starts_with("atlas.clusterName:"), "{err}");

    let counters = w.atlas.sim.counters();
    assert_eq!(
        counters.requests("createEndpointService"),
        0,
        "nothing created in Atlas"
    );
    assert!(w.vpc_endpoints(net).await.is_empty());
    assert!(w.our_security_groups(net).await.is_empty());
}

#[tokio::test]
async fn vpc_and_subnets_are_found_by_tag() {
    let w = World::new(&["us-east-1"]).await;
    let mut request = w.request();
    request["endpoints"] =
        json!([{"region": "us-east-1", "vpcTag": {"key": "team", "value": w.project_id}}]);
    let plan = w.validate("exec-tag", request).await.expect("plan");
    let net = &w.networks[0];
    assert_eq!(plan.endpoints[0].vpc_id, net.vpc_id);
    let mut found = plan.endpoints[0].subnet_ids.clone();
    found.sort();
    let mut expected = net.subnet_ids.clone();
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(plan.endpoints[0].vpc_cidrs, vec!["10.42.0.0/16".to_owned()]);
}

#[tokio::test]
async fn a_multi_region_cluster_gets_strings_only_when_both_regions_are_linked() {
    let w = World::new(&["us-east-1", "eu-west-1"]).await;
    let mut one_region = w.request();
    one_region["endpoints"] = json!([one_region["endpoints"][0].clone()]);
    let err = w
        .validate("exec-partial", one_region)
        .await
        .expect_err("needs both regions");
    assert!(
        err.message.starts_with("endpoints:") && err.message.contains("EU_WEST_1"),
        "{err}"
    );

    let plan = w.validate("exec-multi", w.request()).await.expect("plan");
    let (first, outcome) = w.provision_endpoint(work_from_plan(&plan, 0)).await;
    outcome.expect("first region");
    let partial = plan.state(vec![first.clone()]);
    w.atlas.clock.sleep(Duration::from_secs(3600)).await;
    let err = w
        .step(
            "store-connection-strings",
            serde_json::to_value(&partial).expect("state"),
        )
        .await
        .expect_err("one region is not enough");
    assert_eq!(err.name, ErrorName::InvalidRequest, "{err}");

    let (state, outcome) = w.provision("exec-multi").await;
    outcome.expect("both regions");
    let secret = w.secret_json().await.expect("secret");
    let ids = secret["vpcEndpointIds"].as_str().expect("ids");
    assert_eq!(ids.split(',').count(), 2, "{secret}");
    assert!(secret["connectionStringPrivateSrv"].is_string());
    assert_eq!(
        state
            .expect("state")
            .secret
            .expect("secret")
            .connection_string_sets,
        1
    );
}

#[tokio::test]
async fn strings_wait_for_the_cluster_to_be_idle() {
    let w = World::new(&["us-east-1"])
        .await
        .with_polling(Polling::single_probe())
        .await;
    let plan = w.validate("exec-idle", w.request()).await.expect("plan");
    let (work, outcome) = w.provision_endpoint(work_from_plan(&plan, 0)).await;
    outcome.expect("endpoint");
    let state = plan.state(vec![work]);
    // Right after AVAILABLE the cluster is still UPDATING; one probe says so.
    let err = w
        .step(
            "store-connection-strings",
            serde_json::to_value(&state).expect("state"),
        )
        .await
        .expect_err("not yet");
    assert_eq!(err.name, ErrorName::ConnectionStringsNotReady, "{err}");
    w.atlas.clock.sleep(Duration::from_secs(3600)).await;
    w.step(
        "store-connection-strings",
        serde_json::to_value(&state).expect("state"),
    )
    .await
    .expect("stored once idle");
}

#[tokio::test]
async fn polling_steps_wait_inside_one_call_at_their_cadence() {
    let w = World::new(&["us-east-1"]).await;
    let polling = w.ctx.settings.polling.clone();
    let plan = w.validate("exec-poll", w.request()).await.expect("plan");
    let mut work = work_from_plan(&plan, 0);
    let out = w
        .step_on("ensure-endpoint-service", &mut work)
        .await
        .expect("service");
    assert_eq!(
        out["firstPollAfterSeconds"],
        json!(polling.service_min.as_secs())
    );
    // Asked at once, get-service-name polls Atlas inside the call until the service is ready
    // (150 s in the simulator), one read per cadence.
    let reads = w.atlas.sim.counters().requests("getEndpointService");
    let started = w.atlas.clock.now();
    w.step_on("get-service-name", &mut work)
        .await
        .expect("service name");
    let waited = w.atlas.clock.since(started);
    let polls = w.atlas.sim.counters().requests("getEndpointService") - reads;
    assert!(waited >= Duration::from_secs(149), "{waited:?}");
    let expected = (waited.as_secs_f64() / polling.atlas_every.as_secs_f64()).round() as u64 + 1;
    assert!(polls.abs_diff(expected) <= 1, "{polls} reads in {waited:?}");
    for name in [
        "configure-security-groups",
        "create-vpc-endpoint",
        "link-endpoint",
    ] {
        w.step_on(name, &mut work).await.expect(name);
    }
    assert_eq!(
        work.link.as_ref().map(|l| l.first_poll_after_seconds),
        Some(polling.interface_min.as_secs())
    );
    // verify-endpoint asks EC2 while the endpoint is pending (EC2 reports acceptance from the
    // simulator, as AWS does), Atlas only at the slow cadence meanwhile (to see a link Atlas
    // will never accept), and Atlas once more when EC2 says available.
    let reads = w.atlas.sim.counters().requests("getInterfaceEndpoint");
    let started = w.atlas.clock.now();
    let out = w
        .step_on("verify-endpoint", &mut work)
        .await
        .expect("verified");
    let pending = w.atlas.clock.since(started);
    assert_eq!(out["vpcEndpointState"], json!("available"));
    assert_eq!(
        out["clusterPollAfterSeconds"],
        json!(polling.cluster_update_min.as_secs())
    );
    let slow_reads = (pending.as_secs_f64() / polling.atlas_slow_every.as_secs_f64()).ceil() as u64;
    let atlas_reads = w.atlas.sim.counters().requests("getInterfaceEndpoint") - reads;
    assert!(
        atlas_reads.abs_diff(slow_reads + 1) <= 1,
        "{atlas_reads} Atlas reads in {pending:?} of waiting"
    );
    // store-connection-strings polls the cluster until it publishes the strings.
    let reads = w.atlas.sim.counters().requests("getCluster");
    w.step(
        "store-connection-strings",
        serde_json::to_value(plan.state(vec![work])).expect("state"),
    )
    .await
    .expect("stored once idle");
    assert!(w.atlas.sim.counters().requests("getCluster") - reads > 2);
}

#[tokio::test]
async fn a_polling_step_hands_back_to_the_state_machine_when_its_budget_is_spent() {
    let w = World::new(&["us-east-1"]).await;
    let budget = Duration::from_secs(20);
    let w = w
        .with_polling(Polling {
            budget,
            ..Polling::default()
        })
        .await;
    let plan = w.validate("exec-budget", w.request()).await.expect("plan");
    let mut work = work_from_plan(&plan, 0);
    w.step_on("ensure-endpoint-service", &mut work)
        .await
        .expect("service");
    let started = w.atlas.clock.now();
    let err = w
        .step_on("get-service-name", &mut work)
        .await
        .expect_err("not within 20 s");
    assert_eq!(err.name, ErrorName::EndpointServiceNotReady, "{err}");
    let waited = w.atlas.clock.since(started);
    assert!(
        waited <= budget && waited >= budget - Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn the_secret_merges_the_database_user_and_only_changes_with_content() {
    let w = World::new(&["us-east-1"]).await;
    let region = &w.networks[0].region;
    let sm = secrets(region).await;
    let user = sm
        .create_secret()
        .name(format!("db-user-{}", w.project_id))
        .secret_string(json!({"username": "app", "password": "pa55-word-TOPSECRET"}).to_string())
        .send()
        .await
        .expect("db user secret");
    let mut request = w.request();
    request["secret"] = json!({"databaseUserSecretArn": user.arn().expect("arn")});

    let (guard, logs) = capture_logs();
    let plan = w.validate("exec-db", request).await.expect("plan");
    let (work, outcome) = w.provision_endpoint(work_from_plan(&plan, 0)).await;
    outcome.expect("endpoint");
    w.atlas.clock.sleep(Duration::from_secs(3600)).await;
    let state = plan.state(vec![work]);
    let input = serde_json::to_value(&state).expect("state");
    w.step("store-connection-strings", input.clone())
        .await
        .expect("store");
    w.step("store-connection-strings", input)
        .await
        .expect("store again");
    drop(guard);
    let secret = w.secret_json().await.expect("secret");
    assert_eq!(secret["username"], json!("app"));
    assert_eq!(secret["password"], json!("pa55-word-TOPSECRET"));
    assert_eq!(w.secret_versions().await, 1, "same content, one version");
    let text = logs.text();
    for secret in SECRET_VALUES.iter().chain(&["pa55-word-TOPSECRET"]) {
        assert!(!text.contains(secret), "{secret} logged");
    }
}

#[tokio::test]
async fn atlas_throttling_and_outages_are_ridden_through() {
    let w = World::new(&["us-east-1"]).await;
    for op in [
        "listEndpointServices",
        "createEndpointService",
        "getEndpointService",
        "createInterfaceEndpoint",
        "getCluster",
    ] {
        w.atlas
            .sim
            .inject(Fault::rate_limited(op, Some(3)).times(2));
        w.atlas.sim.inject(Fault::error(op, 503));
    }
    let (_, outcome) = w.provision("exec-storm").await;
    outcome.expect("rode through 429s and 503s");
    assert!(w.atlas.sim.counters().rate_limited >= 10);
    assert!(w.secret_json().await.is_some());
}

#[tokio::test]
async fn a_failed_service_is_terminal() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas.sim.set_outcome(Outcome::ServiceFailed {
        region: "us-east-1".into(),
        message: Some("capacity".into()),
    });
    let (state, outcome) = w.provision("exec-failed").await;
    assert_eq!(
        outcome.expect_err("failed").name,
        ErrorName::EndpointServiceFailed
    );
    let state = state.expect("state");
    w.step("rollback", serde_json::to_value(&state).expect("state"))
        .await
        .expect("rollback");
    assert!(w.vpc_endpoints(&w.networks[0]).await.is_empty());
    let started = w.atlas.clock.now();
    assert!(w.atlas.clock.since(started) < Duration::from_secs(1));
}

#[tokio::test]
async fn teardown_removes_everything_the_request_made() {
    let w = World::new(&["us-east-1"]).await;
    w.provision("exec-up").await.1.expect("provisioned");
    let plan = w.validate("exec-down", w.request()).await.expect("plan");
    for i in 0..plan.endpoints.len() {
        let work = serde_json::to_value(plan.work(i)).expect("work");
        w.step_until_ready(
            "teardown-endpoint",
            work.clone(),
            Duration::from_secs(15),
            Duration::from_secs(7200),
        )
        .await
        .expect("teardown endpoint");
        // Again: nothing left to do, still success.
        w.step("teardown-endpoint", work)
            .await
            .expect("teardown again");
    }
    let state = serde_json::to_value(plan.state(Vec::new())).expect("state");
    w.step("teardown-secret", state.clone())
        .await
        .expect("teardown secret");
    w.step("teardown-secret", state)
        .await
        .expect("teardown secret again");
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    let net = &w.networks[0];
    assert!(w.vpc_endpoints(net).await.is_empty());
    assert!(w.our_security_groups(net).await.is_empty());
    assert!(w.atlas.sim.interfaces(&w.project_id).is_empty());
    assert!(w.atlas.sim.services(&w.project_id).is_empty());
    let described = secrets(&net.region)
        .await
        .describe_secret()
        .secret_id(w.secret_name())
        .send()
        .await
        .expect("secret still described during its recovery window");
    assert!(described.deleted_date().is_some(), "scheduled for deletion");
    w.atlas.assert_contract_clean();
}

#[tokio::test]
async fn a_role_in_the_target_account_is_assumed() {
    let w = World::new(&["us-east-1"]).await;
    let mut request = w.request();
    // moto's default account; STS AssumeRole goes to moto like every other AWS call.
    request["aws"] = json!({"accountId": "123456789012",
                            "roleArn": "arn:aws:iam::123456789012:role/atlas-privatelink-target"});
    let plan = w.validate("exec-role", request).await.expect("plan");
    let (work, outcome) = w.provision_endpoint(work_from_plan(&plan, 0)).await;
    outcome.expect("provisioned through the assumed role");
    assert!(work.vpc_endpoint.as_ref().expect("vpce").created);
}

/// Errors that guide (issue 14): where a missing resource was looked for, a missing
/// database-user secret found before anything is made, and what teardown removed.
#[tokio::test]
async fn errors_say_where_they_looked_and_teardown_says_what_it_removed() {
    let w = World::new(&["us-east-1"]).await;
    let mut request = w.request();
    request["endpoints"][0]["vpcId"] = json!("vpc-0123456789abcdef0");
    let err = w
        .validate("nowhere", request)
        .await
        .expect_err("no such VPC");
    assert!(
        err.message.starts_with("endpoints[0].vpcId: ")
            && err
                .message
                .contains("the functions' own account, region us-east-1"),
        "{err}"
    );

    let mut request = w.request();
    request["secret"] = json!({"databaseUserSecretArn":
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-user-AbCdEf"});
    let result = w
        .execute(
            atlas_privatelink::machines::Machine::Provision,
            request,
            "no-user",
        )
        .await;
    let (error, cause) = integration_tests::world::failure(&result).expect("failed");
    assert_eq!(error, "InvalidRequest");
    assert!(
        cause.starts_with("secret.databaseUserSecretArn: "),
        "{cause}"
    );
    assert_eq!(
        result.entered_states(),
        [
            "Validate",
            "RejectedWhilePlanning",
            "PublishRejected",
            "RequestRejected"
        ]
    );
    assert!(w.vpc_endpoints(&w.networks[0]).await.is_empty());

    let up = w
        .execute(
            atlas_privatelink::machines::Machine::Provision,
            w.request(),
            "up",
        )
        .await;
    integration_tests::world::assert_succeeded(&up);
    let down = w
        .execute(
            atlas_privatelink::machines::Machine::Teardown,
            w.request(),
            "down",
        )
        .await;
    integration_tests::world::assert_succeeded(&down);
    let output = down.output.expect("output");
    let links = &output["removed"][0]["links"];
    assert_eq!(links.as_array().map(Vec::len), Some(1), "{output}");
}
