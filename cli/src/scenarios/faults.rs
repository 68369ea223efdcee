//! Concurrency and faults, as in `tests/integration/e2e.rs`: racing executions, Atlas
//! throttling and server errors, and a function crashing right after each step's side effect.

use atlas_sim::{Fault, RateLimit};
use privatelink_core::steps::Step;
use serde_json::json;

use super::harness::{AfterStep, Trial};
use super::realism::in_network;
use super::{Env, Expected, Run, Scenario};
use crate::machines::Machine;

/// The steps after which a crash is injected: every step with a side effect that leaves the
/// Map iteration, and the store.
pub fn crash_steps() -> Vec<&'static str> {
    Step::ENDPOINT
        .into_iter()
        .chain([Step::StoreConnectionStrings])
        .map(Step::name)
        .collect()
}

pub(super) fn scenarios() -> Vec<Scenario> {
    let mut all = vec![
        Scenario::new(
            "racing-executions",
            Expected::Succeeds,
            "two requests for two VPCs in one region at once share one endpoint service",
            racing_executions,
        ),
        Scenario::new(
            "atlas-429-storm",
            Expected::Succeeds,
            "Atlas's rate limit at 3 requests and 0.2/s: throttled throughout, ridden through",
            atlas_429_storm,
        ),
        Scenario::new(
            "service-answer-lost",
            Expected::Fails("InvalidRequest"),
            "Atlas creates the endpoint service but the answer is lost; the run then fails (subnets in no supported zone): the service is still known as the run's (its claim) and removed",
            service_answer_lost,
        ),
        Scenario::new(
            "atlas-5xx",
            Expected::Succeeds,
            "bursts of 500 and 503 on every read Atlas serves, ridden through",
            atlas_5xx,
        ),
    ];
    for step in crash_steps() {
        all.push(Scenario {
            arg: step,
            ..Scenario::new(
                &format!("crash-after-{step}"),
                Expected::Succeeds,
                &format!(
                    "the function crashes right after {step}'s side effect; the re-run makes one of each"
                ),
                crash_after,
            )
        });
    }
    all
}

fn racing_executions<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let network = t.world.add_network("us-east-1", &['a', 'b']).await?;
        let first = t.world.request();
        let mut second = in_network(&t, &network);
        let first_secret = Trial::secret_name(&first).unwrap_or_default();
        second["secret"] = json!({"name": format!("{first_secret}-b")});
        let (a, b) = futures::join!(
            t.run(Machine::Provision, &first, "racer-a"),
            t.run(Machine::Provision, &second, "racer-b")
        );
        let (a, b) = (a?, b?);
        t.record(Machine::Provision, &first, &a);
        t.record(Machine::Provision, &second, &b);
        t.expect_success(&a, "racer a");
        let services = t.world.services().len();
        let interfaces = t.world.interfaces().len();
        t.check((services, interfaces) == (1, 2), || {
            format!("{services} services and {interfaces} interfaces, not 1 and 2")
        });
        t.finish(&b).await
    })
}

fn atlas_429_storm<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let sim = t.world.stack.sim.clone();
        sim.set_rate_limit(Some(RateLimit::new(3, 0.2)));
        let result = t.provision("storm").await?;
        let throttled = sim.counters().rate_limited;
        t.check(throttled > 0, || "Atlas never throttled".to_owned());
        t.finish(&result).await
    })
}

fn atlas_5xx<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let sim = t.world.stack.sim.clone();
        for op in [
            "listEndpointServices",
            "getEndpointService",
            "getInterfaceEndpoint",
            "getCluster",
        ] {
            sim.inject(Fault::error(op, 500).times(3));
            sim.inject(Fault::error(op, 503).times(2));
        }
        let result = t.provision("bursts").await?;
        let errors = sim.counters().server_errors;
        t.check(errors >= 20, || {
            format!("only {errors} server errors served")
        });
        t.finish(&result).await
    })
}

fn service_answer_lost<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let sim = t.world.stack.sim.clone();
        sim.inject(Fault::lose_answer("createEndpointService", 503));
        // A failure before any link: removing a link would take the service with it anyway.
        let network = t.world.add_network("us-east-1", &['e', 'f']).await?;
        let request = in_network(&t, &network);
        let result = t
            .execute(Machine::Provision, &request, "answer-lost")
            .await?;
        let creates = sim.counters().requests("createEndpointService");
        t.check(creates >= 2, || {
            format!("the create was not retried after the lost answer ({creates} calls)")
        });
        t.finish(&result).await
    })
}

fn crash_after<'a>(env: &'a Env, step: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let request = t.world.request();
        let crashing = AfterStep::crash(t.invoker.clone(), step);
        let first = t
            .execute_with(crashing, Machine::Provision, &request, "crashing")
            .await?;
        t.expect_failure(&first, "States.TaskFailed", "the crashing run");
        let rerun = t.execute(Machine::Provision, &request, "rerun").await?;
        let counts = t.world.inventory().await?.counts();
        t.check(counts == (1, 1, 1, 1), || {
            format!("(VPC endpoints, groups, services, interfaces) = {counts:?}, not one of each")
        });
        // The secret holds the endpoint that exists now, not one the crashed run made.
        let name = Trial::secret_name(&request).unwrap_or_default();
        let stored = t.secret_json(&name).await;
        let network = t.world.networks[0].clone();
        let live = t.vpc_endpoints(&network).await;
        let named = stored
            .as_ref()
            .and_then(|s| s["vpcEndpointIds"].as_str())
            .map(str::to_owned);
        t.check(named.as_ref() == live.first(), || {
            format!("the secret names {named:?}, the VPC has {live:?}")
        });
        t.finish(&rerun).await
    })
}
