//! Starting executions as the deployed stack does: the dispatcher against moto's Step
//! Functions API (which records executions but does not run them), then the execution it
//! started run here under that name.

use std::time::Duration;

use privatelink_dispatcher::{VendingSettings, dispatch, start};
use serde_json::{Value, json};

use super::harness::Trial;
use super::{Env, Expected, Run, Scenario};
use crate::machines::{Machine, local_substitutions};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "duplicate-event",
            Expected::Succeeds,
            "EventBridge delivers the request's event twice: one execution is started and run",
            duplicate_event,
        ),
        Scenario::new(
            "execution-name-reuse",
            Expected::Succeeds,
            "the first execution of a request failed; the event again starts <name>-2, which succeeds",
            execution_name_reuse,
        ),
    ]
}

/// moto's Step Functions API with a provision state machine of the scenario's own.
struct Sfn {
    client: aws_sdk_sfn::Client,
    arn: String,
}

impl Sfn {
    async fn create(t: &Trial<'_>, env: &Env) -> Result<Self, String> {
        let client =
            aws_sdk_sfn::Client::new(&env.moto.sdk_config(devstack::world::HOME_REGION).await);
        let definition = local_substitutions().into_iter().fold(
            Machine::Provision.definition().to_owned(),
            |text, (var, arn)| text.replace(&format!("${{{var}}}"), &arn),
        );
        let created = client
            .create_state_machine()
            .name(format!("provision-{}", t.world.project_id))
            .definition(definition)
            .role_arn("arn:aws:iam::123456789012:role/atlas-privatelink-states")
            .send()
            .await
            .map_err(|e| format!("CreateStateMachine: {e}"))?;
        Ok(Self {
            arn: created.state_machine_arn().to_owned(),
            client,
        })
    }

    async fn executions(&self) -> Result<usize, String> {
        let out = self
            .client
            .list_executions()
            .state_machine_arn(&self.arn)
            .send()
            .await
            .map_err(|e| format!("ListExecutions: {e}"))?;
        Ok(out.executions().len())
    }
}

/// The event an application puts on the bus for `request`.
fn event(request: &Value) -> Value {
    json!({"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
           "source": "atlas-privatelink", "detail-type": "PrivateEndpointRequested",
           "account": "123456789012", "region": "us-east-1", "time": "2026-11-23T12:00:00Z",
           "resources": [], "detail": request})
}

/// Account vending is not used by these events; the dispatcher still needs its settings.
fn no_vending() -> VendingSettings {
    VendingSettings {
        project_id: "5f0c0c0c0c0c0c0c0c0c0c0c".into(),
        cluster_name: "Shared0".into(),
        regions: vec!["us-east-1".into()],
        vpc_tag: ("network".into(), "workloads".into()),
        role_name: "AtlasPrivateLinkRole".into(),
    }
}

fn duplicate_event<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let sfn = Sfn::create(&t, env).await?;
        let request = t.world.request();
        let event = event(&request);
        let mut started = Vec::new();
        for _ in 0..2 {
            let outcome = dispatch(&sfn.client, &sfn.arn, &no_vending(), &event)
                .await
                .map_err(|e| format!("dispatch: {e}"))?;
            started.push(outcome.ok_or("the event started nothing")?);
        }
        let (first, second) = (&started[0], &started[1]);
        t.check(
            !first.duplicate && second.duplicate && first.execution_arn == second.execution_arn,
            || format!("the second delivery was not recognised: {first:?} {second:?}"),
        );
        let executions = sfn.executions().await?;
        t.check(executions == 1, || {
            format!("{executions} executions started")
        });
        let result = t.execute(Machine::Provision, &request, &first.name).await?;
        t.finish(&result).await
    })
}

fn execution_name_reuse<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let sfn = Sfn::create(&t, env).await?;
        let request = t.world.request();
        let sim = t.world.stack.sim.clone();
        let start_one = || async {
            start(&sfn.client, &sfn.arn, &request)
                .await
                .map_err(|e| format!("start: {e}"))
        };
        let first = start_one().await?;
        sim.set_outcome(atlas_sim::Outcome::InterfaceRejected { vpce_id: None });
        let failed = t.execute(Machine::Provision, &request, &first.name).await?;
        t.expect_failure(&failed, "InterfaceEndpointRejected", "the first attempt");
        // moto does not run executions: end it there as Step Functions did when it failed.
        sfn.client
            .stop_execution()
            .execution_arn(&first.execution_arn)
            .send()
            .await
            .map_err(|e| format!("StopExecution: {e}"))?;
        sim.clear_outcomes();
        t.world.sleep(Duration::from_secs(600)).await;
        let second = start_one().await?;
        let expected_name = format!("{}-2", first.name);
        t.check(!second.duplicate && second.name == expected_name, || {
            format!("the second attempt is {second:?}, not a new {expected_name}")
        });
        let executions = sfn.executions().await?;
        t.check(executions == 2, || {
            format!("{executions} executions, not 2")
        });
        let result = t
            .execute(Machine::Provision, &request, &second.name)
            .await?;
        t.finish(&result).await
    })
}
