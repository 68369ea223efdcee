//! A world for the workflow steps: devstack's [`LocalWorld`] (the Atlas simulator and the AWS
//! front on one virtual clock, a cluster, a VPC per region, the Atlas credentials secret, the
//! claims table), the one the demo and the scenarios use, plus what only the tests need on
//! top: a [`Context`] wired to it, step runners that retry as the state machine does, and
//! helpers that panic with a message instead of returning errors.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use atlas_sim::SimConfig;
use clock::Clock;
use devstack::world::HOME_REGION;
use devstack::{LocalWorld, Realism, WorldSpec, create_network};
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::context::{Context, Polling, Settings};
use privatelink_core::state::{EndpointWork, ExecutionState, Plan};
use privatelink_core::steps::{Step, run_step};
use privatelink_core::{ErrorName, StepError};
use serde_json::{Value, json};

use crate::AtlasHarness;
use crate::moto::moto;

/// A fresh project id (what [`LocalWorld`] gives each world), for tests that need one of
/// their own without a world.
pub use devstack::world::new_project_id as unique_project_id;

pub use devstack::Network;

/// Everything a step test needs. The seeded world's fields and methods (`project_id`,
/// `networks`, `stack`, `request()`, …) are reached through [`Deref`] to [`LocalWorld`], so the
/// tests and the other users of the local world share one set-up.
pub struct World {
    /// The seeded local world.
    pub local: LocalWorld<'static>,
    /// The world's simulator and virtual clock, with the tests' client and contract helpers.
    pub atlas: AtlasHarness,
    /// The steps' context (the AWS front before moto, the simulator, the virtual clock).
    pub ctx: Arc<Context>,
    /// EventBridge on the AWS front: where the state machines' `events:putEvents` goes (the
    /// world's event tap, `events`, reads the events back).
    pub eventbridge: aws_sdk_eventbridge::Client,
}

impl Deref for World {
    type Target = LocalWorld<'static>;

    fn deref(&self) -> &Self::Target {
        &self.local
    }
}

/// EC2 client on moto itself in `region` (no AWS front: to seed and to look at what exists).
pub async fn ec2(region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&moto().sdk_config(region).await)
}

/// Secrets Manager client on moto itself in `region`.
pub async fn secrets(region: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto().sdk_config(region).await)
}

/// Creates a VPC (10.42.0.0/16) with two subnets, tagged `team=<tag>`: a VPC beside the
/// world's (another team's, or a second one under a tag of its own).
pub async fn make_network(region: &str, tag: &str) -> Network {
    create_network(&ec2(region).await, region, tag)
        .await
        .expect("network")
}

/// A context on the world's AWS front (moto behaving like AWS: eventual consistency, client
/// tokens, zones, acceptance states following the simulator's links) and its clock.
async fn context(world: &LocalWorld<'_>, settings: Settings) -> Arc<Context> {
    Arc::new(Context::new(
        Arc::new(world.clock.clone()),
        AwsClients::from_config(world.stack.sdk_config(HOME_REGION).await),
        settings,
    ))
}

impl World {
    /// A world with a replica set in `regions` (AWS names) and a VPC in each.
    pub async fn new(regions: &[&str]) -> Self {
        Self::with_sim(SimConfig::default(), regions).await
    }

    /// The same with a given simulator configuration.
    pub async fn with_sim(config: SimConfig, regions: &[&str]) -> Self {
        Self::with_realism(config, Realism::realistic(), regions).await
    }

    /// The same with given rules of the AWS front. The simulator checks every exchange
    /// against the Atlas spec when it is present.
    pub async fn with_realism(mut config: SimConfig, realism: Realism, regions: &[&str]) -> Self {
        config.contract = crate::contract();
        let spec = WorldSpec {
            sim: config,
            ..WorldSpec::new(regions).realism(realism)
        };
        let local = LocalWorld::start(moto(), spec)
            .await
            .expect("local world starts");
        let atlas = AtlasHarness {
            clock: local.clock.clone(),
            sim: local.stack.sim.clone(),
        };
        let settings = Settings {
            secret_recovery_days: 7,
            // Shorter than the demo's: a test waits less for an Atlas call that hangs.
            atlas_request_timeout: Duration::from_secs(5),
            claims_table: Some(devstack::CLAIMS_TABLE.to_owned()),
            ..Settings::default()
        };
        let ctx = context(&local, settings).await;
        let eventbridge = atlas_privatelink::local::world_events(&local).await;
        Self {
            local,
            atlas,
            ctx,
            eventbridge,
        }
    }

    /// The same world with other polling settings (e.g. [`Polling::single_probe`], so a step
    /// answers `…NotReady` at once instead of waiting inside the call).
    pub async fn with_polling(mut self, polling: Polling) -> Self {
        let settings = Settings {
            polling,
            ..self.ctx.settings.clone()
        };
        self.ctx = context(&self.local, settings).await;
        self
    }

    /// Runs one step.
    pub async fn step(&self, name: &str, input: Value) -> Result<Value, StepError> {
        run_step(&self.ctx, name, input).await
    }

    /// Runs one step, retrying `…NotReady` every `interval` of virtual time (as the state
    /// machine's Retry does) up to `budget`.
    pub async fn step_until_ready(
        &self,
        name: &str,
        input: Value,
        interval: Duration,
        budget: Duration,
    ) -> Result<Value, StepError> {
        let started = self.atlas.clock.now();
        loop {
            match self.step(name, input.clone()).await {
                Err(e) if is_not_ready(e.name) && self.atlas.clock.since(started) < budget => {
                    self.atlas.clock.sleep(interval).await;
                }
                other => return other,
            }
        }
    }

    /// Runs the per-endpoint step `name` once on `work`; on success records its output in
    /// `work` (as the Map iteration's ResultPath does) and returns it.
    pub async fn step_on(&self, name: &str, work: &mut EndpointWork) -> Result<Value, StepError> {
        let out = self
            .step(name, serde_json::to_value(&*work).expect("work"))
            .await?;
        apply(work, name, out.clone());
        Ok(out)
    }

    /// Runs the per-endpoint step `name` on `work` as the state machine would (retrying
    /// `…NotReady`), records its output, and panics if it fails.
    pub async fn step_until_ready_on(&self, name: &str, work: &mut EndpointWork) {
        let input = serde_json::to_value(&*work).expect("work");
        let out = self
            .step_until_ready(
                name,
                input,
                Duration::from_secs(10),
                Duration::from_secs(3600),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        apply(work, name, out);
    }

    /// Validates `request` under `execution`.
    pub async fn validate(&self, execution: &str, request: Value) -> Result<Plan, StepError> {
        let out = self
            .step(
                "validate",
                json!({"execution": execution, "request": request}),
            )
            .await?;
        Ok(serde_json::from_value(out).expect("plan"))
    }

    /// Runs the per-endpoint steps of one Map iteration, stopping at the first error; returns
    /// the work item as far as it got.
    pub async fn provision_endpoint(
        &self,
        mut work: EndpointWork,
    ) -> (EndpointWork, Result<(), StepError>) {
        let long = Duration::from_secs(3600);
        for step in Step::ENDPOINT.map(Step::name) {
            let input = serde_json::to_value(&work).expect("work");
            match self
                .step_until_ready(step, input, Duration::from_secs(10), long)
                .await
            {
                Ok(out) => apply(&mut work, step, out),
                Err(e) => return (work, Err(e)),
            }
        }
        (work, Ok(()))
    }

    /// The whole provisioning, as the state machine runs it: validate → each endpoint →
    /// store. Returns the execution state (as far as it got) and the outcome.
    pub async fn provision(
        &self,
        execution: &str,
    ) -> (Option<ExecutionState>, Result<(), StepError>) {
        let plan = match self.validate(execution, self.request()).await {
            Ok(plan) => plan,
            Err(e) => return (None, Err(e)),
        };
        let mut state = plan.state(Vec::new());
        for work in (0..plan.endpoints.len()).filter_map(|i| plan.work(i)) {
            let (work, outcome) = self.provision_endpoint(work).await;
            state.endpoints.push(work.result);
            if let Err(e) = outcome {
                return (Some(state), Err(e));
            }
        }
        let input = serde_json::to_value(&state).expect("state");
        match self
            .step_until_ready(
                "store-connection-strings",
                input,
                Duration::from_secs(30),
                Duration::from_secs(7200),
            )
            .await
        {
            Ok(out) => {
                state.secret = Some(serde_json::from_value(out).expect("secret out"));
                (Some(state), Ok(()))
            }
            Err(e) => (Some(state), Err(e)),
        }
    }

    /// Live (not deleted) VPC endpoints in a network's VPC ([`LocalWorld::vpc_endpoints`],
    /// failing the test if EC2 cannot say).
    pub async fn vpc_endpoints(&self, network: &Network) -> Vec<String> {
        self.local
            .vpc_endpoints(network)
            .await
            .expect("describe endpoints")
    }

    /// Security groups of a network's VPC created by the workflow
    /// ([`LocalWorld::our_security_groups`], failing the test if EC2 cannot say).
    pub async fn our_security_groups(&self, network: &Network) -> Vec<String> {
        self.local
            .our_security_groups(network)
            .await
            .expect("describe groups")
    }

    /// The default secret name of this world's request.
    pub fn secret_name(&self) -> String {
        privatelink_core::parse_request(&self.request())
            .expect("the world's request is valid")
            .secret
            .name
            .to_string()
    }

    /// The stored secret's JSON, if it exists.
    pub async fn secret_json(&self) -> Option<Value> {
        let region = &self.networks[0].region;
        let out = self
            .secrets(region)
            .await
            .get_secret_value()
            .secret_id(self.secret_name())
            .send()
            .await
            .ok()?;
        serde_json::from_str(out.secret_string()?).ok()
    }

    /// Number of versions of the stored secret.
    pub async fn secret_versions(&self) -> usize {
        let region = &self.networks[0].region;
        self.secrets(region)
            .await
            .list_secret_version_ids()
            .secret_id(self.secret_name())
            .send()
            .await
            .map(|o| o.versions().len())
            .unwrap_or(0)
    }
}

/// The error name and cause of a failed execution.
pub fn failure(result: &asl_runner::ExecutionResult) -> Option<(&str, &str)> {
    match &result.status {
        asl_runner::ExecutionStatus::Failed { error, cause } => Some((
            error.as_deref().unwrap_or(""),
            cause.as_deref().unwrap_or(""),
        )),
        _ => None,
    }
}

/// Fails the test, with the states entered, unless the execution succeeded.
pub fn assert_succeeded(result: &asl_runner::ExecutionResult) {
    assert!(
        result.succeeded(),
        "execution failed: {:?}\nstates: {:?}",
        result.status,
        result.entered_states()
    );
}

/// Records a step's output in the work item, as the state machine's ResultPath does.
pub fn apply(work: &mut EndpointWork, step: &str, out: Value) {
    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("step output shape")
    }
    match step {
        "ensure-endpoint-service" => work.service = Some(parse(out)),
        "get-service-name" => work.service_name = Some(parse(out)),
        "configure-security-groups" => work.security_groups = Some(parse(out)),
        "create-vpc-endpoint" => work.vpc_endpoint = Some(parse(out)),
        "link-endpoint" => work.link = Some(parse(out)),
        "verify-endpoint" => work.verified = Some(parse(out)),
        other => panic!("not a per-endpoint step: {other}"),
    }
}

fn is_not_ready(name: ErrorName) -> bool {
    matches!(
        name,
        ErrorName::EndpointServiceNotReady
            | ErrorName::InterfaceEndpointNotReady
            | ErrorName::ConnectionStringsNotReady
    )
}

impl World {
    /// Runs a state machine file on this world with the real steps, on the virtual clock.
    pub async fn execute(
        &self,
        machine: atlas_privatelink::machines::Machine,
        request: Value,
        name: &str,
    ) -> asl_runner::ExecutionResult {
        self.execute_with(
            Arc::new(atlas_privatelink::local::StepInvoker::new(
                self.ctx.clone(),
                self.eventbridge.clone(),
            )),
            machine,
            request,
            name,
        )
        .await
    }

    /// The same with a given task invoker (to inject failures).
    pub async fn execute_with(
        &self,
        invoker: Arc<dyn asl_runner::TaskInvoker>,
        machine: atlas_privatelink::machines::Machine,
        request: Value,
        name: &str,
    ) -> asl_runner::ExecutionResult {
        let definition = machine.load().expect("definition loads");
        // Under the machine's own name, as deployed: its ARNs are in the events it publishes,
        // and the IAM test finds the state machine's role by it.
        let runner = asl_runner::Runner::new(
            definition,
            invoker,
            asl_runner::RunnerConfig::virtual_time(self.atlas.clock.clone())
                .state_machine_name(machine.name()),
        );
        runner
            .run_with(
                request,
                asl_runner::ExecutionOptions {
                    name: Some(name.to_owned()),
                },
            )
            .await
    }
}
