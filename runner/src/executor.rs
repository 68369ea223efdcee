//! Running executions: the state loop, Retry and Catch, and the Task, Pass, Choice, Wait,
//! Succeed and Fail states (Parallel and Map are in `branches`, input and output processing in
//! `dataflow`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::BoxFuture;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng as _, RngExt as _, SeedableRng};
use serde_json::Value;

use crate::concurrency::with_timeout;
use crate::context::{Env, ExecutionInfo, Random, StateInfo, format_timestamp};
use crate::definition::{
    Graph, ResultPath, Seconds, State, StateKind, StateMachine, TaskState, Transition,
};
use crate::error::{Failure, names};
use crate::events::{EventLog, EventType, HistoryEvent};
use crate::intrinsics::uuid_v4;
use crate::paths::{Data, write_at};
use crate::retry::{find_catcher, next_delay};
use crate::{RunnerConfig, TaskInvoker};

/// Runs executions of one state machine.
pub struct Runner {
    machine: StateMachine,
    invoker: Arc<dyn TaskInvoker>,
    config: RunnerConfig,
}

/// Per-execution options.
#[derive(Debug, Clone, Default)]
pub struct ExecutionOptions {
    /// The execution name (default: a UUID from the runner's random generator).
    pub name: Option<String>,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionStatus {
    /// It reached a Succeed state or a state with `"End": true`.
    Succeeded,
    /// A state failed and nothing caught the error. A Fail state without `Error`/`Cause` gives
    /// `None` for them, as in AWS.
    Failed {
        /// The error name, e.g. `States.Runtime` or `EndpointServiceFailed`.
        error: Option<String>,
        /// The cause.
        cause: Option<String>,
    },
    /// The state machine's top-level `TimeoutSeconds` ran out.
    TimedOut,
}

/// The outcome of an execution.
#[derive(Debug, Clone)]
pub struct ExecutionResult {
    /// `arn:aws:states:<region>:<account>:execution:<machine>:<name>`.
    pub execution_arn: String,
    /// The execution name.
    pub name: String,
    /// How it ended.
    pub status: ExecutionStatus,
    /// The final output (only when it succeeded).
    pub output: Option<Value>,
    /// The history, in order.
    pub events: Vec<HistoryEvent>,
    /// State transitions as AWS bills them: every state entered (inside Map iterations and
    /// Parallel branches too) plus every retry.
    pub state_transitions: u64,
    /// When the execution started, on the runner's clock.
    pub start_time: SystemTime,
    /// When it stopped, on the runner's clock.
    pub stop_time: SystemTime,
}

impl ExecutionResult {
    /// The names of the states entered, in the order they were entered.
    pub fn entered_states(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| e.event_type.is_state_entered())
            .filter_map(|e| e.state_name.as_deref())
            .collect()
    }

    /// Whether the execution succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
    }

    /// How long the execution took on the runner's clock.
    pub fn duration(&self) -> Duration {
        self.stop_time
            .duration_since(self.start_time)
            .unwrap_or_default()
    }

    /// The events of one type.
    pub fn events_of(&self, event_type: EventType) -> Vec<&HistoryEvent> {
        self.events
            .iter()
            .filter(|e| e.event_type == event_type)
            .collect()
    }
}

impl Runner {
    /// A runner for `machine` whose tasks go to `invoker`.
    pub fn new(machine: StateMachine, invoker: Arc<dyn TaskInvoker>, config: RunnerConfig) -> Self {
        let mut config = config;
        if let Some(vc) = &config.virtual_clock {
            config.clock = Arc::new(vc.clone());
        }
        config.max_concurrency = config.max_concurrency.max(1);
        Self {
            machine,
            invoker,
            config,
        }
    }

    /// The state machine this runner runs.
    pub fn machine(&self) -> &StateMachine {
        &self.machine
    }

    /// The runner's configuration.
    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// Runs one execution with `input` to its end.
    ///
    /// On a virtual clock the execution counts as a participant from this call on (not from
    /// the first poll), so several executions started before a join keep real-time order.
    pub fn run(&self, input: Value) -> BoxFuture<'_, ExecutionResult> {
        self.run_with(input, ExecutionOptions::default())
    }

    /// Runs one execution with `input` and `options` to its end (see [`Runner::run`]).
    pub fn run_with(
        &self,
        input: Value,
        options: ExecutionOptions,
    ) -> BoxFuture<'_, ExecutionResult> {
        let work = self.execute(input, options);
        match &self.config.virtual_clock {
            Some(vc) => vc.participate(work).boxed(),
            None => work.boxed(),
        }
    }

    async fn execute(&self, input: Value, options: ExecutionOptions) -> ExecutionResult {
        let seed = self.config.seed.unwrap_or_else(rand::random);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let name = options
            .name
            .unwrap_or_else(|| uuid_v4(rng.next_u64(), rng.next_u64()));
        let c = &self.config;
        let machine_arn = format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            c.region, c.account_id, c.state_machine_name
        );
        let execution_arn = format!(
            "arn:aws:states:{}:{}:execution:{}:{}",
            c.region, c.account_id, c.state_machine_name, name
        );
        let start_time = c.clock.now();
        let exec = Exec {
            runner: self,
            info: ExecutionInfo {
                id: execution_arn.clone(),
                name: name.clone(),
                input: input.clone(),
                start_time: format_timestamp(start_time),
                role_arn: c.role_arn.clone(),
                state_machine_id: machine_arn,
                state_machine_name: c.state_machine_name.clone(),
            },
            log: EventLog::new(c.listener.clone()),
            rng: Mutex::new(rng),
            transitions: AtomicU64::new(0),
        };
        let mut prev = 0;
        exec.emit(
            &mut prev,
            HistoryEvent::new(EventType::ExecutionStarted).input(&input),
        );
        let graph = &self.machine.graph;
        let outcome = match self.machine.timeout_seconds {
            Some(seconds) => {
                let run = exec.run_graph(graph, input, &mut prev);
                with_timeout(
                    &c.clock,
                    c.virtual_clock.as_ref(),
                    Duration::from_secs(seconds),
                    run,
                )
                .await
            }
            None => Some(exec.run_graph(graph, input, &mut prev).await),
        };
        let mut last = exec.log.last_id();
        let (status, output) = match outcome {
            Some(Ok(output)) => {
                exec.emit(
                    &mut last,
                    HistoryEvent::new(EventType::ExecutionSucceeded).output(&output),
                );
                (ExecutionStatus::Succeeded, Some(output))
            }
            Some(Err(failure)) => {
                exec.emit(
                    &mut last,
                    HistoryEvent::new(EventType::ExecutionFailed)
                        .failure(failure.error.as_deref(), failure.cause.as_deref()),
                );
                (
                    ExecutionStatus::Failed {
                        error: failure.error,
                        cause: failure.cause,
                    },
                    None,
                )
            }
            None => {
                exec.emit(
                    &mut last,
                    HistoryEvent::new(EventType::ExecutionTimedOut)
                        .failure(Some(names::TIMEOUT), None),
                );
                (ExecutionStatus::TimedOut, None)
            }
        };
        ExecutionResult {
            execution_arn,
            name,
            status,
            output,
            events: exec.log.take(),
            state_transitions: exec.transitions.load(Ordering::SeqCst),
            start_time,
            stop_time: c.clock.now(),
        }
    }
}

/// One running execution, shared by all its branches.
pub(crate) struct Exec<'r> {
    pub runner: &'r Runner,
    pub info: ExecutionInfo,
    pub log: EventLog,
    rng: Mutex<Xoshiro256PlusPlus>,
    pub transitions: AtomicU64,
}

impl Random for Exec<'_> {
    fn next_u64(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_u64()
    }
}

/// The state being run: its name, when it was entered, and its entered event.
pub(crate) struct Visit<'a> {
    pub name: &'a str,
    pub entered_time: String,
    pub entered_id: u64,
}

fn next_of(state: &State) -> Option<&str> {
    match &state.transition {
        Some(Transition::Next(next)) => Some(next),
        _ => None,
    }
}

impl<'r> Exec<'r> {
    pub fn config(&self) -> &RunnerConfig {
        &self.runner.config
    }

    pub fn emit(&self, prev: &mut u64, event: HistoryEvent) -> u64 {
        self.log.record(event, self.config().clock.now(), prev)
    }

    fn random_unit(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .random::<f64>()
    }

    pub fn env<'a>(
        &'a self,
        visit: &'a Visit<'a>,
        retry_count: u32,
        item: Option<(usize, &'a Value)>,
    ) -> Env<'a> {
        Env::new(
            &self.info,
            StateInfo {
                name: visit.name,
                entered_time: &visit.entered_time,
                retry_count,
                map_item: item,
            },
            self,
        )
    }

    /// A `States.Runtime` failure with AWS's wording.
    pub fn runtime(&self, visit: &Visit<'_>, detail: impl std::fmt::Display) -> Failure {
        Failure::runtime(format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {detail}",
            visit.name, visit.entered_id
        ))
    }

    /// Runs `graph` from its start with `input`; `prev` is the branch's last event.
    pub fn run_graph<'a>(
        &'a self,
        graph: &'a Graph,
        input: Value,
        prev: &'a mut u64,
    ) -> BoxFuture<'a, Result<Value, Failure>> {
        async move {
            let mut name = graph.start_at.as_str();
            let mut input = input;
            loop {
                let Some(state) = graph.states.get(name) else {
                    return Err(Failure::runtime(format!(
                        "there is no state named '{name}'"
                    )));
                };
                self.transitions.fetch_add(1, Ordering::SeqCst);
                Failure::check_size(name, "input", &input)?;
                let (next, output) = self.run_state(name, state, input, prev).await?;
                Failure::check_size(name, "output", &output)?;
                match next {
                    Some(next) => {
                        name = next;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        }
        .boxed()
    }

    async fn run_state<'a>(
        &'a self,
        name: &'a str,
        state: &'a State,
        raw: Value,
        prev: &mut u64,
    ) -> Result<(Option<&'a str>, Value), Failure> {
        let type_name = state.kind.type_name();
        let entered_time = format_timestamp(self.config().clock.now());
        let entered_id = self.emit(
            prev,
            HistoryEvent::new(EventType::entered(type_name))
                .state(name)
                .input(&raw),
        );
        let visit = Visit {
            name,
            entered_time,
            entered_id,
        };
        let exit = |prev: &mut u64, output: &Value| {
            self.emit(
                prev,
                HistoryEvent::new(EventType::exited(type_name))
                    .state(name)
                    .output(output),
            );
        };
        match &state.kind {
            StateKind::Pass { result } => {
                let env = self.env(&visit, 0, None);
                let effective = self.effective_input(&visit, &state.io, &raw, &env)?;
                let result = result.clone().unwrap_or(effective);
                let output = self.finish(&visit, &state.io, raw, result, &env)?;
                exit(prev, &output);
                Ok((next_of(state), output))
            }
            StateKind::Choice { choices, default } => {
                let env = self.env(&visit, 0, None);
                let effective = self.input_path(&visit, &state.io.input_path, &raw, &env)?;
                let data = Data {
                    input: &effective,
                    env: &env,
                };
                let mut target = None;
                for choice in choices {
                    if choice
                        .rule
                        .eval(data)
                        .map_err(|e| self.runtime(&visit, e))?
                    {
                        target = Some(choice.next.as_str());
                        break;
                    }
                }
                let Some(target) = target.or(default.as_deref()) else {
                    return Err(Failure::new(
                        names::NO_CHOICE,
                        format!("No choice rule of state '{name}' matched, and it has no Default."),
                    ));
                };
                let output = self.output_path(&visit, &state.io.output_path, effective, &env)?;
                exit(prev, &output);
                Ok((Some(target), output))
            }
            StateKind::Wait(wait) => {
                let env = self.env(&visit, 0, None);
                let effective = self.input_path(&visit, &state.io.input_path, &raw, &env)?;
                let delay = self.wait_duration(&visit, wait, &effective, &env)?;
                if !delay.is_zero() {
                    self.config().clock.sleep(delay).await;
                }
                let output = self.output_path(&visit, &state.io.output_path, effective, &env)?;
                exit(prev, &output);
                Ok((next_of(state), output))
            }
            StateKind::Succeed => {
                let env = self.env(&visit, 0, None);
                let effective = self.input_path(&visit, &state.io.input_path, &raw, &env)?;
                let output = self.output_path(&visit, &state.io.output_path, effective, &env)?;
                exit(prev, &output);
                Ok((None, output))
            }
            StateKind::Fail { error, cause } => {
                let env = self.env(&visit, 0, None);
                let data = Data {
                    input: &raw,
                    env: &env,
                };
                let error = self.fail_field(&visit, error.as_ref(), data, "ErrorPath")?;
                let cause = self.fail_field(&visit, cause.as_ref(), data, "CausePath")?;
                Err(Failure {
                    error,
                    cause,
                    catchable: true,
                })
            }
            StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_) => {
                self.run_with_handlers(&visit, state, raw, prev).await
            }
        }
    }

    /// Runs a Task, Parallel or Map state with its `Retry` and `Catch`.
    async fn run_with_handlers<'a>(
        &'a self,
        visit: &Visit<'a>,
        state: &'a State,
        raw: Value,
        prev: &mut u64,
    ) -> Result<(Option<&'a str>, Value), Failure> {
        let (retriers, catchers) = state.kind.handlers();
        let mut attempts = vec![0u64; retriers.len()];
        let mut retry_count = 0u32;
        loop {
            let attempt = match &state.kind {
                StateKind::Task(task) => {
                    self.task_attempt(visit, state, task, &raw, retry_count, prev)
                        .await
                }
                StateKind::Parallel(p) => {
                    self.parallel_attempt(visit, state, p, &raw, retry_count, prev)
                        .await
                }
                StateKind::Map(m) => {
                    self.map_attempt(visit, state, m, &raw, retry_count, prev)
                        .await
                }
                _ => Err(self.runtime(visit, "this state type has no Retry or Catch")),
            };
            let failure = match attempt {
                Ok(output) => {
                    self.emit(
                        prev,
                        HistoryEvent::new(EventType::exited(state.kind.type_name()))
                            .state(visit.name)
                            .output(&output),
                    );
                    return Ok((next_of(state), output));
                }
                Err(failure) => failure,
            };
            if let Some(delay) = next_delay(retriers, &mut attempts, &failure, &mut || {
                self.random_unit()
            }) {
                self.transitions.fetch_add(1, Ordering::SeqCst);
                retry_count = retry_count.saturating_add(1);
                self.config().clock.sleep(delay).await;
                continue;
            }
            let Some(catcher) = find_catcher(catchers, &failure) else {
                return Err(failure);
            };
            let output = match &catcher.result_path {
                ResultPath::Discard => raw,
                ResultPath::At(segments) => write_at(raw, segments, failure.error_output())
                    .map_err(|e| {
                        self.runtime(
                            visit,
                            format!("Unable to apply the catcher's ResultPath: {e}"),
                        )
                    })?,
            };
            self.emit(
                prev,
                HistoryEvent::new(EventType::exited(state.kind.type_name()))
                    .state(visit.name)
                    .output(&output),
            );
            return Ok((Some(catcher.next.as_str()), output));
        }
    }

    async fn task_attempt(
        &self,
        visit: &Visit<'_>,
        state: &State,
        task: &TaskState,
        raw: &Value,
        retry_count: u32,
        prev: &mut u64,
    ) -> Result<Value, Failure> {
        let env = self.env(visit, retry_count, None);
        let after_input_path = self.input_path(visit, &state.io.input_path, raw, &env)?;
        let timeout = match &task.timeout {
            None => None,
            Some(Seconds::Fixed(s)) => Some(*s),
            Some(Seconds::Path(path)) => Some(self.seconds_at(
                visit,
                path,
                &after_input_path,
                &env,
                "TimeoutSecondsPath",
                1,
            )?),
        };
        let effective = self.parameters(visit, &state.io, after_input_path, &env)?;
        let resource = task.resource.as_str();
        self.emit(
            prev,
            HistoryEvent::new(EventType::TaskScheduled)
                .state(visit.name)
                .resource(resource)
                .input(&effective),
        );
        self.emit(
            prev,
            HistoryEvent::new(EventType::TaskStarted)
                .state(visit.name)
                .resource(resource),
        );
        let task_context = crate::TaskContext {
            execution_arn: &self.info.id,
            execution_name: &self.info.name,
            state_machine_arn: &self.info.state_machine_id,
            state_machine_name: &self.info.state_machine_name,
            state_name: visit.name,
            retry_count,
        };
        let call = self
            .runner
            .invoker
            .invoke_in(task_context, resource, effective);
        let outcome = match timeout {
            Some(seconds) => {
                with_timeout(
                    &self.config().clock,
                    self.config().virtual_clock.as_ref(),
                    Duration::from_secs(seconds),
                    call,
                )
                .await
            }
            None => Some(call.await),
        };
        match outcome {
            None => {
                self.emit(
                    prev,
                    HistoryEvent::new(EventType::TaskTimedOut)
                        .state(visit.name)
                        .resource(resource)
                        .failure(Some(names::TIMEOUT), None),
                );
                Err(Failure {
                    error: Some(names::TIMEOUT.to_string()),
                    cause: None,
                    catchable: true,
                })
            }
            Some(Err(failure)) => {
                let error = if failure.error.is_empty() {
                    names::TASK_FAILED.to_string()
                } else {
                    failure.error
                };
                self.emit(
                    prev,
                    HistoryEvent::new(EventType::TaskFailed)
                        .state(visit.name)
                        .resource(resource)
                        .failure(Some(&error), Some(&failure.cause)),
                );
                Err(Failure::new(error, failure.cause))
            }
            Some(Ok(result)) => {
                self.emit(
                    prev,
                    HistoryEvent::new(EventType::TaskSucceeded)
                        .state(visit.name)
                        .resource(resource)
                        .output(&result),
                );
                let result = self.result_selector(visit, &state.io, result, &env)?;
                self.finish(visit, &state.io, raw.clone(), result, &env)
            }
        }
    }
}
