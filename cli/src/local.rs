//! Local execution: the state machine files run by `asl-runner`, their tasks dispatched
//! in-process to the same step code the Lambda functions run, errors keeping their names.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use asl_runner::{
    DefinitionErrors, ExecutionOptions, ExecutionResult, Runner, RunnerConfig, TaskFailure,
    TaskInvoker,
};
use futures::future::BoxFuture;
use privatelink_core::context::Context;
use serde_json::Value;

use crate::machines::{Machine, step_of};

/// Runs Task states in-process with [`Step::run`](privatelink_core::steps::Step::run), counting invocations per step.
pub struct StepInvoker {
    ctx: Arc<Context>,
    invocations: Mutex<BTreeMap<String, u64>>,
}

impl StepInvoker {
    /// An invoker on `ctx`.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            invocations: Mutex::new(BTreeMap::new()),
        }
    }

    /// How many times each step ran (Lambda invocations, in AWS).
    pub fn invocations(&self) -> BTreeMap<String, u64> {
        self.invocations
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }
}

impl TaskInvoker for StepInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let step = step_of(resource).ok_or_else(|| {
                TaskFailure::new(
                    "States.TaskFailed",
                    format!("no local function for {resource}"),
                )
            })?;
            if let Ok(mut counts) = self.invocations.lock() {
                *counts.entry(step.name().to_owned()).or_default() += 1;
            }
            // Each step is its own Lambda function with its own role in AWS: the AWS calls
            // made inside are that function's (devstack's recorder attributes them so).
            #[cfg(feature = "local-world")]
            let output =
                devstack::recorder::in_function(step.name(), step.run(&self.ctx, input)).await;
            #[cfg(not(feature = "local-world"))]
            let output = step.run(&self.ctx, input).await;
            output.map_err(|e| TaskFailure::new(e.name.as_str(), e.message))
        })
    }
}

/// The steps' context on a local world: its clock, and AWS through the world's front (eventual
/// consistency, client tokens, zones, and EC2 reporting the endpoint pending →
/// pendingAcceptance → available as Atlas accepts it), with a 7-day secret recovery window.
#[cfg(feature = "local-world")]
pub async fn world_context(world: &devstack::LocalWorld<'_>) -> Arc<Context> {
    use privatelink_core::aws::clients::AwsClients;
    use privatelink_core::context::Settings;
    Arc::new(Context::new(
        Arc::new(world.clock.clone()),
        AwsClients::from_config(world.stack.sdk_config(devstack::world::HOME_REGION).await),
        Settings {
            secret_recovery_days: 7,
            atlas_request_timeout: std::time::Duration::from_secs(10),
            claims_table: Some(devstack::CLAIMS_TABLE.to_owned()),
            ..Settings::default()
        },
    ))
}

/// Runs `machine` on `input` under the execution name `name`.
pub async fn run_machine(
    invoker: Arc<StepInvoker>,
    machine: Machine,
    input: Value,
    name: &str,
    config: RunnerConfig,
) -> Result<ExecutionResult, DefinitionErrors> {
    run_machine_with(invoker, machine, input, name, config).await
}

/// The same with any task invoker (one that injects failures around the real steps, say).
pub async fn run_machine_with(
    invoker: Arc<dyn TaskInvoker>,
    machine: Machine,
    input: Value,
    name: &str,
    config: RunnerConfig,
) -> Result<ExecutionResult, DefinitionErrors> {
    let definition = machine.load()?;
    let runner = Runner::new(
        definition,
        invoker,
        config.state_machine_name(machine.name()),
    );
    Ok(runner
        .run_with(
            input,
            ExecutionOptions {
                name: Some(name.to_owned()),
            },
        )
        .await)
}
