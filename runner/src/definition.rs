//! The parsed, validated form of a state machine definition, `Retry` and `Catch` entries
//! included: plain data, built by `parse` (which also holds [`StateMachine::from_value`]) and
//! read by the executor and `retry`. It depends only on the modules of the values it holds
//! (choice rules, paths, templates, intrinsics), never on its parser or its users, so neither
//! forms a cycle with it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use crate::choice::Choice;
use crate::intrinsics::Intrinsic;
use crate::paths::{Path, Segment};
use crate::template::Template;

/// A loaded and validated state machine, ready to run with a [`crate::Runner`].
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) graph: Arc<Graph>,
    pub(crate) comment: Option<String>,
    pub(crate) timeout_seconds: Option<u64>,
}

impl StateMachine {
    /// The top-level `Comment`, if any.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The top-level `StartAt` state.
    pub fn start_at(&self) -> &str {
        &self.graph.start_at
    }

    /// The names of every state, including those inside Parallel branches and Map processors,
    /// sorted.
    pub fn state_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.graph.collect_names(&mut names);
        names.sort();
        names
    }

    /// Every distinct Task `Resource`, sorted (useful to check an invoker covers them all).
    pub fn task_resources(&self) -> Vec<String> {
        let mut resources = Vec::new();
        self.graph.collect_resources(&mut resources);
        resources.sort();
        resources.dedup();
        resources
    }
}

/// A set of states with a start: the whole machine, a Parallel branch or a Map processor.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub start_at: String,
    pub states: HashMap<String, State>,
}

impl Graph {
    fn collect_names(&self, out: &mut Vec<String>) {
        for (name, state) in &self.states {
            out.push(name.clone());
            for graph in state.kind.children() {
                graph.collect_names(out);
            }
        }
    }

    fn collect_resources(&self, out: &mut Vec<String>) {
        for state in self.states.values() {
            if let StateKind::Task(task) = &state.kind {
                out.push(task.resource.clone());
            }
            for graph in state.kind.children() {
                graph.collect_resources(out);
            }
        }
    }
}

/// Where a state goes when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(String),
    End,
}

/// `InputPath`/`OutputPath`: a path, or `null` (an empty object).
#[derive(Debug, Clone)]
pub(crate) enum IoPath {
    Path(Path),
    Null,
}

/// `ResultPath`: where the result goes in the raw input, or `null` (discard the result).
#[derive(Debug, Clone)]
pub(crate) enum ResultPath {
    At(Vec<Segment>),
    Discard,
}

/// Input and output processing fields, each at its default when absent.
#[derive(Debug, Clone)]
pub(crate) struct Io {
    pub input_path: IoPath,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub output_path: IoPath,
}

impl Default for Io {
    fn default() -> Self {
        Io {
            input_path: IoPath::Path(Path::whole_input()),
            parameters: None,
            result_selector: None,
            result_path: ResultPath::At(Vec::new()),
            output_path: IoPath::Path(Path::whole_input()),
        }
    }
}

/// One state.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub kind: StateKind,
    pub io: Io,
    pub transition: Option<Transition>,
}

#[derive(Debug, Clone)]
pub(crate) enum StateKind {
    Pass {
        result: Option<Value>,
    },
    Task(TaskState),
    Choice {
        choices: Vec<Choice>,
        default: Option<String>,
    },
    Wait(WaitFor),
    Succeed,
    Fail {
        error: Option<FailField>,
        cause: Option<FailField>,
    },
    Parallel(ParallelState),
    Map(MapState),
}

impl StateKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice { .. } => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail { .. } => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }

    fn children(&self) -> Vec<&Graph> {
        match self {
            StateKind::Parallel(p) => p.branches.iter().map(|b| b.as_ref()).collect(),
            StateKind::Map(m) => vec![m.processor.as_ref()],
            _ => Vec::new(),
        }
    }

    /// Retriers and catchers of the states that have them.
    pub fn handlers(&self) -> (&[Retrier], &[Catcher]) {
        match self {
            StateKind::Task(t) => (&t.retry, &t.catch),
            StateKind::Parallel(p) => (&p.retry, &p.catch),
            StateKind::Map(m) => (&m.retry, &m.catch),
            _ => (&[], &[]),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TaskState {
    pub resource: String,
    pub timeout: Option<Seconds>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

/// A number of seconds, given literally or by a reference path.
#[derive(Debug, Clone)]
pub(crate) enum Seconds {
    Fixed(u64),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    Seconds(Seconds),
    Timestamp(OffsetDateTime),
    TimestampPath(Path),
}

/// `Error`/`Cause` of a Fail state: literal, or `ErrorPath`/`CausePath` (a path or an intrinsic).
#[derive(Debug, Clone)]
pub(crate) enum FailField {
    Literal(String),
    Path(Path),
    Intrinsic(Box<Intrinsic>),
}

#[derive(Debug, Clone)]
pub(crate) struct ParallelState {
    pub branches: Vec<Arc<Graph>>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Clone)]
pub(crate) struct MapState {
    pub items_path: Path,
    pub item_selector: Option<Template>,
    pub max_concurrency: Seconds,
    pub processor: Arc<Graph>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

/// How a retrier spreads its delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    Full,
}

/// One entry of `Retry`.
#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

/// One entry of `Catch`.
#[derive(Debug, Clone)]
pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub next: String,
    pub result_path: ResultPath,
}
