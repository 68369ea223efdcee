//! A local AWS Step Functions executor for Amazon States Language definitions that use the
//! JSONPath query language.
//!
//! The same `*.asl.json` files that AWS runs are loaded with [`load_definition`] (which applies
//! `${Name}` substitutions like CloudFormation's `DefinitionSubstitutions`, then parses and
//! validates the definition), and executed by a [`Runner`] whose Task states dispatch in-process
//! through a [`TaskInvoker`]. Semantics follow AWS, not other local emulators: `README.md` next
//! to this crate lists the supported features and the known deviations.
//!
//! Time goes through the workspace [`clock`] crate: with a [`clock::VirtualClock`], a
//! twenty-minute execution full of `Wait` states and `Retry` back-offs replays in milliseconds
//! and its events keep the order real time would give them.
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use asl_runner::{load_definition, FnInvoker, Runner, RunnerConfig, TaskFailure};
//! use futures::FutureExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let text = r#"{"StartAt": "Hello", "States": {"Hello": {"Type": "Task", "Resource": "${Fn}", "End": true}}}"#;
//! let subs = HashMap::from([("Fn".to_string(), "hello".to_string())]);
//! let machine = load_definition(text, &subs)?;
//! let invoker = FnInvoker::new(|resource: String, input: serde_json::Value| {
//!     async move { Ok::<_, TaskFailure>(serde_json::json!({"resource": resource, "echo": input})) }.boxed()
//! });
//! let clock = clock::VirtualClock::new();
//! let runner = Runner::new(machine, Arc::new(invoker), RunnerConfig::virtual_time(clock));
//! let result = runner.run(serde_json::json!({"a": 1})).await;
//! println!("{:?} {:?}", result.status, result.entered_states());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod branches;
mod choice;
mod concurrency;
mod context;
mod dataflow;
mod definition;
mod error;
mod events;
mod executor;
mod fields;
mod intrinsics;
mod parse;
mod paths;
mod retry;
mod substitute;
mod template;

use std::sync::Arc;

use clock::{SharedClock, SystemClock, VirtualClock};
use futures::future::BoxFuture;
use serde_json::Value;

pub use definition::StateMachine;
pub use error::{DefinitionError, DefinitionErrors, MAX_PAYLOAD_BYTES};
pub use events::{EventListener, EventType, HistoryEvent};
pub use executor::{ExecutionOptions, ExecutionResult, ExecutionStatus, Runner};

use std::collections::HashMap;

/// Loads a definition: applies `${Name}` substitutions from `substitutions` to the text (like
/// CloudFormation's `DefinitionSubstitutions`; an unresolved `${...}` is an error), then parses
/// and validates it. Every problem found is reported, each naming its state and field.
pub fn load_definition(
    text: &str,
    substitutions: &HashMap<String, String>,
) -> Result<StateMachine, DefinitionErrors> {
    let text = substitute::substitute(text, substitutions)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        DefinitionErrors(vec![DefinitionError::new(
            None,
            None,
            format!("the definition is not valid JSON: {e}"),
        )])
    })?;
    StateMachine::from_value(&value)
}

/// Why a task failed: the error name that `Retry` and `Catch` match on (for example
/// `EndpointServiceNotReady`), and a human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The error name. An empty name is reported as `States.TaskFailed`.
    pub error: String,
    /// The cause, free text (often a JSON document, as Lambda reports it).
    pub cause: String,
}

impl TaskFailure {
    /// A failure with the given error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for TaskFailure {}

/// What the runner tells a [`TaskInvoker`] about the task attempt it asks for: the execution
/// and state it belongs to (what AWS's service integrations know without the definition
/// passing it; `events:putEvents` appends the two ARNs to each entry's `Resources`, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskContext<'a> {
    /// The execution's ARN (`$$.Execution.Id`).
    pub execution_arn: &'a str,
    /// The execution's name (`$$.Execution.Name`).
    pub execution_name: &'a str,
    /// The state machine's ARN (`$$.StateMachine.Id`).
    pub state_machine_arn: &'a str,
    /// The state machine's name (`$$.StateMachine.Name`).
    pub state_machine_name: &'a str,
    /// The Task state's name (`$$.State.Name`).
    pub state_name: &'a str,
    /// Which attempt this is (`$$.State.RetryCount`: 0 for the first).
    pub retry_count: u32,
}

/// Runs the work of Task states in-process.
pub trait TaskInvoker: Send + Sync {
    /// Runs one task attempt. `resource` is the Task's `Resource` after `${...}` substitution;
    /// `input` is the task's effective input (after `InputPath` and `Parameters`). Returns the
    /// task's result, or an error whose name `Retry` and `Catch` match on.
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>>;

    /// The same, knowing the execution and state ([`TaskContext`]): what the runner calls.
    /// The default ignores the context and calls [`TaskInvoker::invoke`]; an invoker that
    /// serves a service integration needing it (or wraps one that does) overrides this.
    fn invoke_in<'a>(
        &'a self,
        task: TaskContext<'a>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        let _ = task;
        self.invoke(resource, input)
    }
}

/// A [`TaskInvoker`] made from a closure taking the resource and the input.
pub struct FnInvoker<F> {
    f: F,
}

impl<F> FnInvoker<F>
where
    F: Fn(String, Value) -> BoxFuture<'static, Result<Value, TaskFailure>> + Send + Sync,
{
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<F> TaskInvoker for FnInvoker<F>
where
    F: Fn(String, Value) -> BoxFuture<'static, Result<Value, TaskFailure>> + Send + Sync,
{
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        (self.f)(resource.to_string(), input)
    }
}

/// How a [`Runner`] runs executions.
#[derive(Clone)]
pub struct RunnerConfig {
    /// The clock for timestamps and waits (`Wait` states, `Retry` intervals, timeouts).
    /// Ignored when `virtual_clock` is set: the virtual clock is then the clock.
    pub clock: SharedClock,
    /// A virtual clock: the execution, every Parallel branch and every Map iteration then run
    /// as its participants, so waits take no wall time and events keep real-time order.
    pub virtual_clock: Option<VirtualClock>,
    /// How many Map iterations run at once when a Map's `MaxConcurrency` is 0 (unlimited) or
    /// larger than this. AWS runs up to 40 iterations of an inline Map at once; default 40.
    pub max_concurrency: usize,
    /// Seed for everything random (`States.UUID`, `States.MathRandom` without a seed, `FULL`
    /// retry jitter, default execution names). `None` seeds from the operating system.
    pub seed: Option<u64>,
    /// Region used in ARNs of the context object (default `us-east-1`).
    pub region: String,
    /// Account id used in ARNs of the context object (default `123456789012`).
    pub account_id: String,
    /// Name of the state machine in ARNs and `$$.StateMachine.Name` (default `StateMachine`).
    pub state_machine_name: String,
    /// Role ARN reported in `$$.Execution.RoleArn` and the `ExecutionStarted` event.
    pub role_arn: String,
    /// Called with every history event as it is recorded (for a live timeline).
    pub listener: Option<EventListener>,
}

impl std::fmt::Debug for RunnerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerConfig")
            .field("clock", &self.clock)
            .field("virtual_clock", &self.virtual_clock)
            .field("max_concurrency", &self.max_concurrency)
            .field("seed", &self.seed)
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("state_machine_name", &self.state_machine_name)
            .field("role_arn", &self.role_arn)
            .field("listener", &self.listener.as_ref().map(|_| "<listener>"))
            .finish()
    }
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self::real_time()
    }
}

impl RunnerConfig {
    /// Real time ([`SystemClock`]), no seed.
    pub fn real_time() -> Self {
        Self::with_clock(SystemClock::shared())
    }

    /// Time from `clock` (real or scaled); no participation in a virtual clock.
    pub fn with_clock(clock: SharedClock) -> Self {
        Self {
            clock,
            virtual_clock: None,
            max_concurrency: 40,
            seed: None,
            region: "us-east-1".to_string(),
            account_id: "123456789012".to_string(),
            state_machine_name: "StateMachine".to_string(),
            role_arn: "arn:aws:iam::123456789012:role/StepFunctionsLocal".to_string(),
            listener: None,
        }
    }

    /// Virtual time on `clock`, with a fixed seed of 0 so runs are reproducible.
    pub fn virtual_time(clock: VirtualClock) -> Self {
        let mut config = Self::with_clock(Arc::new(clock.clone()));
        config.virtual_clock = Some(clock);
        config.seed = Some(0);
        config
    }

    /// Sets the random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the event listener.
    pub fn listener(mut self, listener: impl Fn(&HistoryEvent) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Sets the state machine name used in ARNs and the context object.
    pub fn state_machine_name(mut self, name: impl Into<String>) -> Self {
        self.state_machine_name = name.into();
        self
    }

    /// Sets the default Map concurrency cap.
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.max_concurrency = max.max(1);
        self
    }
}
