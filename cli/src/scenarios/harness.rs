//! What every scenario does around its own story: a world of its own, executions of the state
//! machine files with the real steps, its checks, and the final count (duplicates, teardown of
//! what succeeded, what was left).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use asl_runner::{
    ExecutionResult, ExecutionStatus, RunnerConfig, TaskContext, TaskFailure, TaskInvoker,
};
use devstack::{LocalWorld, WorldSpec};
use futures::future::BoxFuture;
use privatelink_core::context::Context;
use serde_json::Value;

use super::{Actual, Env, Outcome};
use crate::local::{StepInvoker, run_machine_with, world_context, world_events};
use crate::machines::{Machine, step_of};

/// How long Atlas gets to finish deleting (a service goes with its last interface) before
/// what is left is counted.
const SETTLE: Duration = Duration::from_secs(600);

/// One scenario's world and bookkeeping.
pub(super) struct Trial<'m> {
    /// The world.
    pub world: LocalWorld<'m>,
    /// The steps' context on it.
    pub ctx: Arc<Context>,
    /// The real steps.
    pub invoker: Arc<StepInvoker>,
    problems: Vec<String>,
    /// Requests provisioned and not torn down yet: `finish` tears them down.
    provisioned: Vec<Value>,
    /// Every request run: `finish` looks for their secrets.
    requests: Vec<Value>,
}

impl<'m> Trial<'m> {
    /// A world made from `spec` (its rules replaced by the kind ones under `--kind`).
    pub async fn start(env: &'m Env, mut spec: WorldSpec) -> Result<Self, String> {
        if !env.realistic {
            spec.realism = devstack::Realism::kind();
        }
        let world = LocalWorld::start(&env.moto, spec).await?;
        let ctx = world_context(&world).await;
        Ok(Self {
            invoker: Arc::new(StepInvoker::new(ctx.clone(), world_events(&world).await)),
            ctx,
            world,
            problems: Vec::new(),
            provisioned: Vec::new(),
            requests: Vec::new(),
        })
    }

    /// A world with a cluster in us-east-1, under `env`'s rules as `adjust` changes them.
    pub async fn us_east_1(
        env: &'m Env,
        adjust: impl FnOnce(devstack::Realism) -> devstack::Realism,
    ) -> Result<Self, String> {
        Self::start(
            env,
            WorldSpec::new(&["us-east-1"]).realism(env.realism(adjust)),
        )
        .await
    }

    /// Runs `machine` on `request` under `name` with the real steps, and records it.
    pub async fn execute(
        &mut self,
        machine: Machine,
        request: &Value,
        name: &str,
    ) -> Result<ExecutionResult, String> {
        self.execute_with(self.invoker.clone(), machine, request, name)
            .await
    }

    /// The same through `invoker` (one that injects a failure, say).
    pub async fn execute_with(
        &mut self,
        invoker: Arc<dyn TaskInvoker>,
        machine: Machine,
        request: &Value,
        name: &str,
    ) -> Result<ExecutionResult, String> {
        let result = self.run_with(invoker, machine, request, name).await?;
        self.record(machine, request, &result);
        Ok(result)
    }

    /// Runs `machine` on `request` under `name` with the real steps without recording it
    /// (for executions run side by side; [`Trial::record`] them afterwards).
    pub async fn run(
        &self,
        machine: Machine,
        request: &Value,
        name: &str,
    ) -> Result<ExecutionResult, String> {
        self.run_with(self.invoker.clone(), machine, request, name)
            .await
    }

    async fn run_with(
        &self,
        invoker: Arc<dyn TaskInvoker>,
        machine: Machine,
        request: &Value,
        name: &str,
    ) -> Result<ExecutionResult, String> {
        let config = RunnerConfig::virtual_time(self.world.clock.clone());
        run_machine_with(invoker, machine, request.clone(), name, config)
            .await
            .map_err(|e| format!("{machine:?} definition: {e}"))
    }

    /// Notes what an execution did to the world: a provisioned request is torn down at the
    /// end, a torn-down one no longer.
    pub fn record(&mut self, machine: Machine, request: &Value, result: &ExecutionResult) {
        if !self.requests.contains(request) {
            self.requests.push(request.clone());
        }
        if !result.succeeded() {
            return;
        }
        match machine {
            Machine::Provision if !self.provisioned.contains(request) => {
                self.provisioned.push(request.clone());
            }
            Machine::Teardown => self.provisioned.retain(|r| r != request),
            Machine::Provision => {}
        }
    }

    /// Records `problem` unless `ok`.
    pub fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(problem());
        }
    }

    /// Records a problem unless `result` succeeded; `what` names the execution.
    pub fn expect_success(&mut self, result: &ExecutionResult, what: &str) {
        let actual = Actual::of(result);
        self.check(actual == Actual::Succeeded, || format!("{what}: {actual}"));
    }

    /// Records a problem unless `result` failed with `error`; returns its cause.
    pub fn expect_failure(&mut self, result: &ExecutionResult, error: &str, what: &str) -> String {
        let (name, cause) = failure(result);
        self.check(name == error, || {
            format!("{what}: expected {error}, got {}", Actual::of(result))
        });
        cause
    }

    /// Provisions the world's own request under `name`.
    pub async fn provision(&mut self, name: &str) -> Result<ExecutionResult, String> {
        let request = self.world.request();
        self.execute(Machine::Provision, &request, name).await
    }

    /// Records a problem unless the world's first VPC has exactly one VPC endpoint; `when`
    /// says at which point of the scenario.
    pub async fn expect_one_endpoint(&mut self, when: &str) {
        let network = self.world.networks[0].clone();
        let endpoints = self.vpc_endpoints(&network).await;
        self.check(endpoints.len() == 1, || {
            format!("{} VPC endpoints {when}", endpoints.len())
        });
    }

    /// Live VPC endpoints of `network`, or a problem recorded and none.
    pub async fn vpc_endpoints(&mut self, network: &devstack::Network) -> Vec<String> {
        match self.world.vpc_endpoints(network).await {
            Ok(ids) => ids,
            Err(e) => {
                self.problems.push(e);
                Vec::new()
            }
        }
    }

    /// The default secret name of `request`.
    pub fn secret_name(request: &Value) -> Option<String> {
        privatelink_core::parse_request(request)
            .ok()
            .map(|r| r.secret.name.to_string())
    }

    /// The JSON stored in the secret `name`, if it can be read.
    pub async fn secret_json(&self, name: &str) -> Option<Value> {
        let out = self
            .world
            .secrets(devstack::world::HOME_REGION)
            .await
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .ok()?;
        serde_json::from_str(out.secret_string()?).ok()
    }

    /// Ends the scenario on `last` (the execution whose outcome is the row's): counts
    /// duplicates, tears down every request still provisioned, lets Atlas finish, counts
    /// what is left (secrets included), and stops the world.
    pub async fn finish(mut self, last: &ExecutionResult) -> Result<Outcome, String> {
        let duplicates = self.world.inventory().await?.duplicates();
        let provisioned = std::mem::take(&mut self.provisioned);
        for (i, request) in provisioned.iter().enumerate().rev() {
            let down = self
                .execute(Machine::Teardown, request, &format!("final-teardown-{i}"))
                .await?;
            self.expect_success(&down, "final teardown");
        }
        self.world.sleep(SETTLE).await;
        let mut left = self.world.inventory().await?.leftovers();
        for request in &self.requests {
            if let Some(name) = Self::secret_name(request)
                && self.secret_json(&name).await.is_some()
            {
                left.push(format!("secret {name}"));
            }
        }
        self.world.shutdown().await;
        Ok(Outcome {
            actual: Actual::of(last),
            left,
            duplicates,
            problems: self.problems,
        })
    }
}

impl Actual {
    /// How an execution ended.
    pub fn of(result: &ExecutionResult) -> Self {
        match &result.status {
            ExecutionStatus::Succeeded => Actual::Succeeded,
            ExecutionStatus::Failed { error, .. } => Actual::Failed {
                error: error.clone().unwrap_or_default(),
                rolled_back: result.entered_states().contains(&"Rollback"),
            },
            ExecutionStatus::TimedOut => Actual::Broken("the execution timed out".to_owned()),
        }
    }
}

/// The error name and cause of a failed execution (empty for one that did not fail).
pub(super) fn failure(result: &ExecutionResult) -> (String, String) {
    match &result.status {
        ExecutionStatus::Failed { error, cause } => (
            error.clone().unwrap_or_default(),
            cause.clone().unwrap_or_default(),
        ),
        _ => (String::new(), String::new()),
    }
}

/// What [`AfterStep`] runs: given the step's input and output, an error fails the task.
pub(super) type Hook =
    Box<dyn Fn(Value, Value) -> BoxFuture<'static, Result<(), TaskFailure>> + Send + Sync>;

/// The real steps, with `hook` run right after the first successful run of `step` (after its
/// side effect, before the state machine sees its output).
pub(super) struct AfterStep {
    inner: Arc<StepInvoker>,
    step: &'static str,
    hook: Hook,
    fired: AtomicBool,
}

impl AfterStep {
    /// Wraps `inner`.
    pub fn new(inner: Arc<StepInvoker>, step: &'static str, hook: Hook) -> Arc<Self> {
        Arc::new(Self {
            inner,
            step,
            hook,
            fired: AtomicBool::new(false),
        })
    }

    /// The function crashes (`States.TaskFailed`) once, right after `step`'s side effect.
    pub fn crash(inner: Arc<StepInvoker>, step: &'static str) -> Arc<Self> {
        Self::new(
            inner,
            step,
            Box::new(|_, _| {
                Box::pin(async {
                    Err(TaskFailure::new(
                        "States.TaskFailed",
                        "injected crash after the side effect",
                    ))
                })
            }),
        )
    }
}

impl TaskInvoker for AfterStep {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        self.call(None, resource, input)
    }

    fn invoke_in<'a>(
        &'a self,
        task: TaskContext<'a>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        self.call(Some(task), resource, input)
    }
}

impl AfterStep {
    /// The inner invoker's answer (told the execution when the runner told this one), then
    /// the hook after the watched step's first run.
    fn call<'a>(
        &'a self,
        task: Option<TaskContext<'a>>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let watched =
                (step_of(resource).map(|s| s.name()) == Some(self.step)).then(|| input.clone());
            let output = match task {
                Some(task) => self.inner.invoke_in(task, resource, input).await?,
                None => self.inner.invoke(resource, input).await?,
            };
            if let Some(input) = watched
                && !self.fired.swap(true, Ordering::SeqCst)
            {
                (self.hook)(input, output.clone()).await?;
            }
            Ok(output)
        })
    }
}
