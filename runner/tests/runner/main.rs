//! Executor tests: one test binary with a module per area.

mod context;
mod io;
mod long_run;
mod map_parallel;
mod retry_catch;
mod states;
mod validation;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use asl_runner::{
    ExecutionResult, ExecutionStatus, FnInvoker, Runner, RunnerConfig, StateMachine, TaskFailure,
    TaskInvoker,
};
use clock::{Clock, VirtualClock};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// 2024-01-01T00:00:00Z: virtual clocks start here so timestamps are predictable.
pub fn origin() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

pub fn machine(definition: Value) -> StateMachine {
    StateMachine::from_value(&definition).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `definition` on a fresh virtual clock starting at [`origin`].
pub async fn run(
    definition: Value,
    invoker: Arc<dyn TaskInvoker>,
    input: Value,
) -> (ExecutionResult, VirtualClock) {
    let clock = VirtualClock::starting_at(origin());
    let runner = Runner::new(
        machine(definition),
        invoker,
        RunnerConfig::virtual_time(clock.clone()),
    );
    (runner.run(input).await, clock)
}

/// An invoker that echoes its input.
pub fn echo() -> Arc<dyn TaskInvoker> {
    Arc::new(FnInvoker::new(|_resource: String, input: Value| {
        async move { Ok(input) }.boxed()
    }))
}

/// A call the [`Script`] invoker received.
#[derive(Debug, Clone)]
pub struct Call {
    pub resource: String,
    pub input: Value,
    /// Virtual seconds since the clock's origin when the call started.
    pub at: f64,
}

type Handler = Arc<
    dyn Fn(usize, Value, VirtualClock) -> BoxFuture<'static, Result<Value, TaskFailure>>
        + Send
        + Sync,
>;

/// An invoker with one handler per resource, recording every call with its virtual time.
pub struct Script {
    pub clock: VirtualClock,
    pub calls: Arc<Mutex<Vec<Call>>>,
    handlers: HashMap<String, Handler>,
}

impl Script {
    pub fn new(clock: &VirtualClock) -> Self {
        Self {
            clock: clock.clone(),
            calls: Arc::default(),
            handlers: HashMap::new(),
        }
    }

    /// Adds a handler: it gets the 0-based number of the call to this resource, the input and
    /// the clock.
    pub fn on<F, Fut>(mut self, resource: &str, f: F) -> Self
    where
        F: Fn(usize, Value, VirtualClock) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Value, TaskFailure>> + Send + 'static,
    {
        self.handlers.insert(
            resource.to_string(),
            Arc::new(move |n, input, clock| f(n, input, clock).boxed()),
        );
        self
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    pub fn times(&self, resource: &str) -> Vec<f64> {
        self.calls()
            .into_iter()
            .filter(|c| c.resource == resource)
            .map(|c| c.at)
            .collect()
    }
}

impl TaskInvoker for Script {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        let at = self.clock.since(origin()).as_secs_f64();
        let n = {
            let mut calls = self.calls.lock().expect("calls");
            let n = calls.iter().filter(|c| c.resource == resource).count();
            calls.push(Call {
                resource: resource.to_string(),
                input: input.clone(),
                at,
            });
            n
        };
        match self.handlers.get(resource) {
            Some(handler) => handler(n, input, self.clock.clone()),
            None => async move {
                Err(TaskFailure::new(
                    "NoHandler",
                    format!("no handler for {resource}"),
                ))
            }
            .boxed(),
        }
    }
}

/// Runs `definition` with a [`Script`] built by `build` on a fresh virtual clock.
pub async fn run_script(
    definition: Value,
    input: Value,
    build: impl FnOnce(Script) -> Script,
) -> (ExecutionResult, Arc<Script>, VirtualClock) {
    let clock = VirtualClock::starting_at(origin());
    let script = Arc::new(build(Script::new(&clock)));
    let runner = Runner::new(
        machine(definition),
        script.clone(),
        RunnerConfig::virtual_time(clock.clone()),
    );
    (runner.run(input).await, script, clock)
}

pub fn failed(result: &ExecutionResult) -> (String, String) {
    match &result.status {
        ExecutionStatus::Failed { error, cause } => (
            error.clone().unwrap_or_default(),
            cause.clone().unwrap_or_default(),
        ),
        other => panic!(
            "expected a failure, got {other:?} with output {:?}",
            result.output
        ),
    }
}

pub fn output(result: &ExecutionResult) -> Value {
    assert!(
        result.succeeded(),
        "expected success, got {:?}",
        result.status
    );
    result.output.clone().unwrap_or(Value::Null)
}

/// Event types in order, as strings.
pub fn types(result: &ExecutionResult) -> Vec<&'static str> {
    result
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect()
}

pub fn task(resource: &str) -> Value {
    json!({"Type": "Task", "Resource": resource, "End": true})
}
