//! The rules of AWS and Atlas that moto or a kind simulator would not enforce (the AWS front's
//! [`Realism`] and the simulator's outcomes), as in `tests/integration/realism.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl_runner::TaskFailure;
use atlas_sim::Outcome as SimOutcome;
use clock::Clock;
use devstack::Realism;
use privatelink_core::state::{EndpointWork, VpcEndpointOut};
use serde_json::{Value, json};

use super::harness::{AfterStep, Trial, failure};
use super::{Env, Expected, Run, Scenario};
use crate::machines::Machine;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "eventual-consistency",
            Expected::Succeeds,
            "new security groups and VPC endpoints stay invisible to EC2 reads for 4 s; the steps wait for them",
            eventual_consistency,
        ),
        Scenario::new(
            "client-token-reprovision",
            Expected::Succeeds,
            "provision, tear down, provision the same VPC again: EC2 client tokens are per execution",
            client_token_reprovision,
        ),
        Scenario::new(
            "rollback-reprovision",
            Expected::Succeeds,
            "Atlas rejects the interface (rolled back), then the same request gets a new endpoint",
            rollback_reprovision,
        ),
        Scenario::new(
            "unsupported-az",
            Expected::Fails("InvalidRequest"),
            "the VPC's subnets are only in zones the endpoint service does not support (e, f)",
            unsupported_az,
        ),
        Scenario::new(
            "link-while-pending",
            Expected::Succeeds,
            "AWS takes 45 s to create the VPC endpoint; the link waits until Atlas can accept it",
            link_while_pending,
        ),
        Scenario::new(
            "link-failed-busy-relinked",
            Expected::Succeeds,
            "a link made while AWS was still creating the endpoint FAILED in Atlas; verify makes it again",
            link_failed_busy_relinked,
        ),
        Scenario::new(
            "link-failed",
            Expected::Fails("InterfaceEndpointFailed"),
            "Atlas reports the interface FAILED: rolled back promptly with Atlas's reason",
            link_failed,
        ),
    ]
}

/// Realistic rules with fixed delays (new ids visible after `visible_after` s, endpoints
/// created in `created_after` s), so a scenario does not depend on a draw.
fn fixed(realism: Realism, visible_after: u64, created_after: u64) -> Realism {
    realism.with_fixed_delays(
        Duration::from_secs(visible_after),
        Duration::from_secs(created_after),
    )
}

fn eventual_consistency<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| fixed(r, 4, 0)).await?;
        let result = t.provision("invisible").await?;
        if env.realistic {
            let models = t.world.stack.models().clone();
            for code in ["InvalidGroup.NotFound", "InvalidVpcEndpointId.NotFound"] {
                t.check(models.answers(code) > 0, || {
                    format!("EC2 never answered {code}: a new id was never hidden")
                });
            }
        }
        t.finish(&result).await
    })
}

fn client_token_reprovision<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let request = t.world.request();
        let first = t.execute(Machine::Provision, &request, "first").await?;
        t.expect_success(&first, "the first provision");
        let down = t.execute(Machine::Teardown, &request, "down").await?;
        t.expect_success(&down, "the teardown");
        t.world.sleep(Duration::from_secs(600)).await;
        let again = t.execute(Machine::Provision, &request, "again").await?;
        t.expect_one_endpoint("after provisioning again").await;
        let mismatches = t
            .world
            .stack
            .models()
            .answers("IdempotentParameterMismatch");
        t.check(mismatches == 0, || {
            format!("EC2 answered IdempotentParameterMismatch {mismatches} times")
        });
        t.finish(&again).await
    })
}

fn rollback_reprovision<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let request = t.world.request();
        let sim = t.world.stack.sim.clone();
        sim.set_outcome(SimOutcome::InterfaceRejected { vpce_id: None });
        let rejected = t.execute(Machine::Provision, &request, "rejected").await?;
        t.expect_failure(&rejected, "InterfaceEndpointRejected", "the rejected run");
        sim.clear_outcomes();
        t.world.sleep(Duration::from_secs(600)).await;
        let again = t
            .execute(Machine::Provision, &request, "after-rollback")
            .await?;
        t.expect_one_endpoint("after the re-run").await;
        t.finish(&again).await
    })
}

/// The world's request with its endpoint in `network` instead.
pub(super) fn in_network(t: &Trial<'_>, network: &devstack::Network) -> Value {
    let mut request = t.world.request();
    request["endpoints"][0]["vpcId"] = json!(network.vpc_id);
    request["endpoints"][0]["subnetIds"] = json!(network.subnet_ids);
    request
}

fn unsupported_az<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let network = t.world.add_network("us-east-1", &['e', 'f']).await?;
        let request = in_network(&t, &network);
        let result = t.execute(Machine::Provision, &request, "no-zone").await?;
        let (_, cause) = failure(&result);
        t.check(
            cause.starts_with("endpoints[0].subnetIds: ") && cause.contains("us-east-1a"),
            || format!("the cause names neither the field nor the service's zones: {cause}"),
        );
        t.finish(&result).await
    })
}

fn link_while_pending<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| fixed(r, 0, 45)).await?;
        let result = t.provision("created-first").await?;
        let interfaces = t.world.interfaces();
        t.check(
            interfaces.len() == 1 && interfaces.iter().all(|i| i.accepted),
            || format!("the interface was not accepted: {interfaces:?}"),
        );
        t.finish(&result).await
    })
}

fn link_failed_busy_relinked<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| fixed(r, 0, 60)).await?;
        // The service has another endpoint already, so removing the failed link keeps it.
        let first = t.world.request();
        let up = t.execute(Machine::Provision, &first, "first").await?;
        t.expect_success(&up, "the first request");
        let network = t.world.add_network("us-east-1", &['a', 'b']).await?;
        let mut second = in_network(&t, &network);
        let first_secret = Trial::secret_name(&first).unwrap_or_default();
        second["secret"] = json!({"name": format!("{first_secret}/second")});
        let early_status = Arc::new(Mutex::new(None));
        let hook = link_at_once(&t, early_status.clone());
        let invoker = AfterStep::new(t.invoker.clone(), "create-vpc-endpoint", hook);
        let result = t
            .execute_with(invoker, Machine::Provision, &second, "second")
            .await?;
        let early = early_status.lock().ok().and_then(|s| s.clone());
        if env.realistic {
            t.check(early.as_deref() == Some("FAILED"), || {
                format!("the early link was {early:?}, not FAILED")
            });
        }
        for vpce in t.vpc_endpoints(&network).await {
            let status = t
                .world
                .stack
                .sim
                .interface(&vpce)
                .map(|i| i.connection_status);
            t.check(status.as_deref() == Some("AVAILABLE"), || {
                format!("{vpce} is {status:?} in Atlas, not AVAILABLE")
            });
        }
        t.finish(&result).await
    })
}

/// A hook for create-vpc-endpoint that links the new endpoint in Atlas at once, as the old
/// workflow did, while AWS is still creating it; `status` gets the interface's status
/// right after.
fn link_at_once(t: &Trial<'_>, status: Arc<Mutex<Option<String>>>) -> super::harness::Hook {
    let ctx = t.ctx.clone();
    let sim = t.world.stack.sim.clone();
    let broken = |e: String| TaskFailure::new("States.TaskFailed", e);
    Box::new(move |input, output| {
        let (ctx, sim, status) = (ctx.clone(), sim.clone(), status.clone());
        Box::pin(async move {
            let work: EndpointWork =
                serde_json::from_value(input).map_err(|e| broken(e.to_string()))?;
            let vpce: VpcEndpointOut =
                serde_json::from_value(output).map_err(|e| broken(e.to_string()))?;
            let service = work
                .service
                .as_ref()
                .ok_or_else(|| broken("no service in the work item".to_owned()))?;
            let atlas = ctx
                .atlas(&work.request)
                .await
                .map_err(|e| TaskFailure::new(e.name.as_str(), e.message))?;
            atlas
                .create_interface_endpoint(
                    &work.request.atlas.project_id,
                    &service.service_id,
                    &vpce.vpc_endpoint_id,
                )
                .await
                .map_err(|e| broken(e.to_string()))?;
            if let Ok(mut status) = status.lock() {
                *status = sim
                    .interface(&vpce.vpc_endpoint_id)
                    .map(|i| i.connection_status);
            }
            Ok(())
        })
    })
}

fn link_failed<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        t.world
            .stack
            .sim
            .set_outcome(SimOutcome::InterfaceFailed { vpce_id: None });
        let started = t.world.clock.now();
        let result = t.provision("failed").await?;
        let took = t.world.clock.since(started);
        let (_, cause) = failure(&result);
        t.check(cause.contains("simulated"), || {
            format!("the cause does not carry Atlas's errorMessage: {cause}")
        });
        t.check(took < Duration::from_secs(900), || {
            format!("ended after {took:?}, not promptly")
        });
        t.finish(&result).await
    })
}
