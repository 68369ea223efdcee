//! End to end: the state machine files, run by the local runner with the real step code,
//! against moto and the Atlas simulator on virtual time.

use std::sync::Arc;
use std::time::Duration;

use asl_runner::{ExecutionResult, ExecutionStatus, TaskFailure, TaskInvoker};
use atlas_privatelink::local::StepInvoker;
use atlas_privatelink::machines::{Machine, step_of};
use atlas_sim::{Fault, Outcome};
use clock::Clock;
use futures::future::BoxFuture;
use integration_tests::world::{Network, World, assert_succeeded, failure, make_network};
use privatelink_core::steps::Step;
use serde_json::{Value, json};

fn error_of(result: &ExecutionResult) -> Option<&str> {
    failure(result).map(|(error, _)| error)
}

/// Counts what exists of ours: VPC endpoints, security groups (per network), services and
/// links in Atlas.
async fn inventory(w: &World, networks: &[Network]) -> (usize, usize, usize, usize) {
    let mut vpces = 0;
    let mut groups = 0;
    for n in networks {
        vpces += w.vpc_endpoints(n).await.len();
        groups += w.our_security_groups(n).await.len();
    }
    (
        vpces,
        groups,
        w.atlas.sim.services(&w.project_id).len(),
        w.atlas.sim.interfaces(&w.project_id).len(),
    )
}

#[tokio::test]
async fn provision_then_teardown_leaves_nothing() {
    let w = World::new(&["us-east-1"]).await;
    let up = w.execute(Machine::Provision, w.request(), "up").await;
    assert_succeeded(&up);
    let output = up.output.as_ref().expect("output");
    assert_eq!(output["secretName"], json!(w.secret_name()));
    assert!(w.secret_json().await.expect("secret")["connectionStringPrivateSrv"].is_string());
    assert_eq!(inventory(&w, &w.networks).await, (1, 1, 1, 1));

    let down = w.execute(Machine::Teardown, w.request(), "down").await;
    assert_succeeded(&down);
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    assert_eq!(inventory(&w, &w.networks).await, (0, 0, 0, 0));
    w.atlas.assert_contract_clean();
}

#[tokio::test]
async fn a_second_provision_of_the_same_request_creates_nothing_new() {
    let w = World::new(&["us-east-1"]).await;
    assert_succeeded(&w.execute(Machine::Provision, w.request(), "first").await);
    let creates = w.atlas.sim.counters().requests("createEndpointService");
    let again = w.execute(Machine::Provision, w.request(), "second").await;
    assert_succeeded(&again);
    assert_eq!(inventory(&w, &w.networks).await, (1, 1, 1, 1));
    assert_eq!(
        w.atlas.sim.counters().requests("createEndpointService"),
        creates
    );
    assert_eq!(w.secret_versions().await, 1);
    // Nothing new: the Wait states wait 0 s the second time, and nothing polls.
    let took = again
        .stop_time
        .duration_since(again.start_time)
        .unwrap_or_default();
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn two_requests_racing_on_one_region_share_one_endpoint_service() {
    let w = World::new(&["us-east-1"]).await;
    let second_vpc = make_network("us-east-1", &format!("{}-b", w.project_id)).await;
    let first = w.request();
    let mut second = w.request();
    second["endpoints"][0]["vpcId"] = json!(second_vpc.vpc_id);
    second["endpoints"][0]["subnetIds"] = json!(second_vpc.subnet_ids);
    second["secret"] = json!({"name": format!("{}-b", w.secret_name())});
    let (a, b) = tokio::join!(
        w.execute(Machine::Provision, first, "racer-a"),
        w.execute(Machine::Provision, second, "racer-b")
    );
    assert_succeeded(&a);
    assert_succeeded(&b);
    assert_eq!(
        w.atlas.sim.services(&w.project_id).len(),
        1,
        "one service per region"
    );
    assert_eq!(w.atlas.sim.interfaces(&w.project_id).len(), 2);
    let networks = [w.networks[0].clone(), second_vpc];
    let (vpces, groups, _, _) = inventory(&w, &networks).await;
    assert_eq!((vpces, groups), (2, 2));
}

#[tokio::test]
async fn rate_limit_storms_and_server_error_bursts_are_ridden_through() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas
        .sim
        .set_rate_limit(Some(atlas_sim::RateLimit::new(3, 0.2)));
    for op in [
        "listEndpointServices",
        "getEndpointService",
        "getInterfaceEndpoint",
        "getCluster",
    ] {
        w.atlas.sim.inject(Fault::error(op, 500).times(3));
        w.atlas.sim.inject(Fault::error(op, 503).times(2));
    }
    let result = w.execute(Machine::Provision, w.request(), "storm").await;
    assert_succeeded(&result);
    let counters = w.atlas.sim.counters();
    assert!(counters.rate_limited > 0, "the token bucket throttled us");
    assert!(counters.server_errors >= 20, "{counters:?}");
    assert_eq!(inventory(&w, &w.networks).await, (1, 1, 1, 1));
}

#[tokio::test]
async fn a_rejected_endpoint_is_rolled_back_and_the_execution_fails_with_its_name() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceRejected { vpce_id: None });
    let result = w.execute(Machine::Provision, w.request(), "rejected").await;
    assert_eq!(
        error_of(&result),
        Some("InterfaceEndpointRejected"),
        "{:?}",
        result.status
    );
    let states = result.entered_states();
    assert!(states.contains(&"Rollback"), "{states:?}");
    assert!(!states.contains(&"StoreConnectionStrings"));
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    assert_eq!(
        inventory(&w, &w.networks).await,
        (0, 0, 0, 0),
        "leaked resources"
    );
    assert!(w.secret_json().await.is_none());
}

#[tokio::test]
async fn an_invalid_request_fails_before_anything_is_created() {
    let w = World::new(&["us-east-1"]).await;
    let mut request = w.request();
    request["endpoints"][0]["subnetId"] = json!("subnet-0123456789abcdef0");
    let result = w.execute(Machine::Provision, request, "typo").await;
    assert_eq!(error_of(&result), Some("InvalidRequest"));
    match &result.status {
        ExecutionStatus::Failed { cause, .. } => {
            assert!(
                cause.as_deref().unwrap_or("").contains("subnetId"),
                "{cause:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Refused at validation: the refusal is published (PrivateEndpointFailed), nothing else.
    assert_eq!(
        result.entered_states(),
        vec![
            "Validate",
            "RejectedWhilePlanning",
            "PublishRejected",
            "RequestRejected"
        ]
    );
    assert_eq!(inventory(&w, &w.networks).await, (0, 0, 0, 0));
}

/// Runs the real step, then fails the task as if the function crashed after its side effect
/// (the first time the chosen step runs).
struct CrashAfter {
    inner: StepInvoker,
    step: &'static str,
    crashed: std::sync::atomic::AtomicBool,
}

impl TaskInvoker for CrashAfter {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        self.call(None, resource, input)
    }

    fn invoke_in<'a>(
        &'a self,
        task: asl_runner::TaskContext<'a>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        self.call(Some(task), resource, input)
    }
}

impl CrashAfter {
    fn call<'a>(
        &'a self,
        task: Option<asl_runner::TaskContext<'a>>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let output = match task {
                Some(task) => self.inner.invoke_in(task, resource, input).await?,
                None => self.inner.invoke(resource, input).await?,
            };
            if step_of(resource).map(|s| s.name()) == Some(self.step)
                && !self.crashed.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                return Err(TaskFailure::new(
                    "States.TaskFailed",
                    "injected crash after the side effect",
                ));
            }
            Ok(output)
        })
    }
}

#[tokio::test]
async fn a_failure_after_each_step_then_a_rerun_succeeds_with_one_of_each() {
    for step in Step::ENDPOINT
        .iter()
        .chain(&[Step::StoreConnectionStrings])
        .map(|s| s.name())
    {
        let w = World::new(&["us-east-1"]).await;
        let crashing = Arc::new(CrashAfter {
            inner: StepInvoker::new(w.ctx.clone(), w.eventbridge.clone()),
            step,
            crashed: false.into(),
        });
        let first = w
            .execute_with(crashing, Machine::Provision, w.request(), "crashing")
            .await;
        assert_eq!(
            error_of(&first),
            Some("States.TaskFailed"),
            "crash after {step}"
        );
        let rerun = w.execute(Machine::Provision, w.request(), "rerun").await;
        assert_succeeded(&rerun);
        let (vpces, groups, services, links) = inventory(&w, &w.networks).await;
        assert_eq!(
            (vpces, groups, services, links),
            (1, 1, 1, 1),
            "after a crash after {step}"
        );
        // One secret, holding the endpoint that exists now. (After a crash after the store
        // step, rollback scheduled the secret's deletion and the re-run restored it with new
        // content: a second version.)
        let secret = w.secret_json().await.expect("secret");
        assert_eq!(
            secret["vpcEndpointIds"].as_str(),
            w.vpc_endpoints(&w.networks[0])
                .await
                .first()
                .map(String::as_str),
            "after a crash after {step}"
        );
        if step != "store-connection-strings" {
            assert_eq!(w.secret_versions().await, 1, "after a crash after {step}");
        }
    }
}

#[tokio::test]
async fn a_multi_region_cluster_gets_its_strings_once_both_regions_are_linked() {
    let w = World::new(&["us-east-1", "eu-west-1"]).await;
    let result = w.execute(Machine::Provision, w.request(), "multi").await;
    assert_succeeded(&result);
    let secret = w.secret_json().await.expect("secret");
    assert_eq!(
        secret["vpcEndpointIds"]
            .as_str()
            .map(|s| s.split(',').count()),
        Some(2)
    );
    assert_eq!(
        w.atlas.sim.services(&w.project_id).len(),
        2,
        "one service per region"
    );
    let started = result.start_time;
    assert!(w.atlas.clock.since(started) > Duration::from_secs(150));
}
