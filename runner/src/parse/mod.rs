//! Parsing and validation of definitions. Every problem is collected (not just the first), and
//! each names its state and field. Unsupported features are errors, never silently skipped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::choice::parse_choices;
use crate::definition::{
    Graph, Io, IoPath, ResultPath, Seconds, State, StateKind, StateMachine, Transition,
};
use crate::error::{DefinitionErrors, Diag};
use crate::fields::Obj;
use crate::paths::{Path, Root};
use crate::template::Template;

mod handlers;
mod kinds;

/// The longest state name AWS accepts.
const MAX_NAME: usize = 80;
/// The largest value AWS accepts for intervals, attempts and timeouts.
const MAX_SECONDS: u64 = 99_999_999;

/// Error names with the `States.` prefix that the language defines.
const KNOWN_STATES_ERRORS: [&str; 16] = [
    "States.ALL",
    "States.HeartbeatTimeout",
    "States.Timeout",
    "States.TaskFailed",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ParameterPathFailure",
    "States.QueryEvaluationError",
    "States.BranchFailed",
    "States.NoChoiceMatched",
    "States.IntrinsicFailure",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.DataLimitExceeded",
];

/// The input/output fields of Task, Parallel and Map states (the ones with a result).
const TASK_IO: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
];

/// Every field name a JSONPath state may have, of any type.
const ASL_FIELDS: [&str; 32] = [
    "Type",
    "Comment",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Resource",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "Result",
    "Choices",
    "Default",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Error",
    "ErrorPath",
    "Cause",
    "CausePath",
    "Branches",
    "ItemsPath",
    "ItemSelector",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ItemProcessor",
    "Iterator",
];

/// Why a field that was not read is an error.
fn unread_reason(field: &str, type_name: &str) -> String {
    match field {
        "Arguments" | "Output" | "Items" => {
            "is a JSONata field: asl-runner supports only the JSONPath query language".into()
        }
        "Assign" => "workflow variables (Assign) are not supported by asl-runner".into(),
        "ItemReader"
        | "ItemBatcher"
        | "ResultWriter"
        | "ToleratedFailurePercentage"
        | "ToleratedFailurePercentagePath"
        | "ToleratedFailureCount"
        | "ToleratedFailureCountPath"
        | "Label" => "belongs to Distributed Map, which asl-runner does not support".into(),
        "Credentials" => "cross-account task Credentials are not supported by asl-runner".into(),
        "HeartbeatSeconds" | "HeartbeatSecondsPath" => {
            "task heartbeats (callback and activity tasks) are not supported by asl-runner".into()
        }
        f if ASL_FIELDS.contains(&f) => format!("is not allowed in a {type_name} state"),
        _ => "unknown field".into(),
    }
}

// The entry point lives here rather than in `definition`, so that `definition` (plain data)
// does not depend on its parser.
impl StateMachine {
    /// Parses and validates a definition already read as JSON (no substitutions applied).
    pub fn from_value(value: &Value) -> Result<StateMachine, DefinitionErrors> {
        parse_machine(value)
    }
}

fn parse_machine(value: &Value) -> Result<StateMachine, DefinitionErrors> {
    let mut p = Parser::default();
    let Some(map) = value.as_object() else {
        p.diag
            .err(None, None, "the definition must be a JSON object");
        return Err(DefinitionErrors(p.diag.errors));
    };
    let obj = Obj::new(map);
    let comment = p.string(None, &obj, "Comment");
    if let Some(version) = obj.get("Version")
        && version.as_str() != Some("1.0")
    {
        p.diag.err(None, Some("Version"), "must be \"1.0\"");
    }
    p.query_language(None, &obj);
    let timeout_seconds = match obj.get("TimeoutSeconds") {
        None => None,
        Some(v) => {
            let seconds = uint(v).filter(|s| (1..=MAX_SECONDS).contains(s));
            if seconds.is_none() {
                p.diag
                    .err(None, Some("TimeoutSeconds"), "must be a positive integer");
            }
            seconds
        }
    };
    let graph = p.graph(&obj, None, "");
    for field in obj.unread() {
        let reason = match field {
            "Assign" | "Arguments" | "Output" => unread_reason(field, ""),
            _ => "unknown top-level field".to_string(),
        };
        p.diag.err(None, Some(field), reason);
    }
    match graph {
        Some(graph) if p.diag.errors.is_empty() => Ok(StateMachine {
            graph: Arc::new(graph),
            comment,
            timeout_seconds,
        }),
        _ => Err(DefinitionErrors(p.diag.errors)),
    }
}

#[derive(Default)]
struct Parser {
    diag: Diag,
    /// Every state name seen so far: names must be unique in the whole machine.
    names: HashSet<String>,
}

fn uint(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.0e15)
            .map(|f| f as u64)
    })
}

impl Parser {
    fn string(&mut self, state: Option<&str>, obj: &Obj<'_>, field: &str) -> Option<String> {
        let value = obj.get(field)?;
        match value.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.diag.err(state, Some(field), "must be a string");
                None
            }
        }
    }

    fn query_language(&mut self, state: Option<&str>, obj: &Obj<'_>) {
        match obj.get("QueryLanguage").map(|v| v.as_str()) {
            None | Some(Some("JSONPath")) => {}
            Some(Some("JSONata")) => self.diag.err(
                state,
                Some("QueryLanguage"),
                "JSONata is not supported by asl-runner: use the JSONPath query language",
            ),
            Some(_) => self
                .diag
                .err(state, Some("QueryLanguage"), "must be \"JSONPath\""),
        }
    }

    /// Parses `StartAt` and `States` of `obj`; `owner` is the Parallel or Map state that holds
    /// this graph (and `prefix` the field path to it), or `None` for the top level.
    fn graph(&mut self, obj: &Obj<'_>, owner: Option<&str>, prefix: &str) -> Option<Graph> {
        let field = |name: &str| format!("{prefix}{name}");
        let start_at = match obj.get("StartAt").map(|v| v.as_str()) {
            Some(Some(s)) => Some(s.to_string()),
            Some(None) => {
                self.diag
                    .err(owner, Some(&field("StartAt")), "must be a string");
                None
            }
            None => {
                self.diag.err(owner, Some(&field("StartAt")), "is required");
                None
            }
        };
        let states_map = match obj.get("States").map(|v| v.as_object()) {
            Some(Some(m)) if !m.is_empty() => Some(m),
            Some(_) => {
                self.diag.err(
                    owner,
                    Some(&field("States")),
                    "must be a non-empty object of states",
                );
                None
            }
            None => {
                self.diag.err(owner, Some(&field("States")), "is required");
                None
            }
        };
        let states_map = states_map?;
        let mut states = HashMap::new();
        for (name, value) in states_map {
            if name.is_empty() || name.chars().count() > MAX_NAME {
                self.diag.err(
                    Some(name),
                    None,
                    format!("a state name must be 1 to {MAX_NAME} characters long"),
                );
            }
            if !self.names.insert(name.clone()) {
                self.diag.err(
                    Some(name),
                    None,
                    "state names must be unique in the whole state machine",
                );
            }
            if let Some(state) = self.state(name, value) {
                states.insert(name.clone(), state);
            }
        }
        let start_at = start_at?;
        if !states_map.contains_key(&start_at) {
            self.diag.err(
                owner,
                Some(&field("StartAt")),
                format!(
                    "'{start_at}' is not a state{}",
                    if owner.is_some() {
                        " of this branch"
                    } else {
                        ""
                    }
                ),
            );
        }
        for (name, state) in &states {
            for (target_field, target) in targets(state) {
                if !states_map.contains_key(target) {
                    self.diag.err(
                        Some(name),
                        Some(&target_field),
                        format!("'{target}' is not a state in the same scope"),
                    );
                }
            }
        }
        Some(Graph { start_at, states })
    }

    fn state(&mut self, name: &str, value: &Value) -> Option<State> {
        let Some(map) = value.as_object() else {
            self.diag.err(Some(name), None, "a state must be an object");
            return None;
        };
        let obj = Obj::new(map);
        obj.get("Comment");
        self.query_language(Some(name), &obj);
        let type_name = match obj.get("Type").map(|v| v.as_str()) {
            Some(Some(t)) => t.to_string(),
            Some(None) => {
                self.diag.err(Some(name), Some("Type"), "must be a string");
                return None;
            }
            None => {
                self.diag.err(Some(name), Some("Type"), "is required");
                return None;
            }
        };
        let n = Some(name);
        let mut io = Io::default();
        let (kind, terminal) = match type_name.as_str() {
            "Pass" => {
                self.io(
                    name,
                    &obj,
                    &mut io,
                    &["InputPath", "OutputPath", "Parameters", "ResultPath"],
                );
                (
                    Some(StateKind::Pass {
                        result: obj.get("Result").cloned(),
                    }),
                    false,
                )
            }
            "Task" => {
                self.io(name, &obj, &mut io, TASK_IO);
                (self.task(name, &obj).map(StateKind::Task), false)
            }
            "Choice" => {
                self.io(name, &obj, &mut io, &["InputPath", "OutputPath"]);
                let choices = obj
                    .get("Choices")
                    .map(|c| parse_choices(&mut self.diag, name, c));
                if choices.is_none() {
                    self.diag.err(n, Some("Choices"), "is required");
                }
                let default = self.string(n, &obj, "Default");
                for field in ["Next", "End"] {
                    if obj.get(field).is_some() {
                        self.diag.err(
                            n,
                            Some(field),
                            "a Choice state has no Next or End: use Choices and Default",
                        );
                    }
                }
                (
                    choices.map(|choices| StateKind::Choice { choices, default }),
                    true,
                )
            }
            "Wait" => {
                self.io(name, &obj, &mut io, &["InputPath", "OutputPath"]);
                (self.wait(name, &obj).map(StateKind::Wait), false)
            }
            "Succeed" => {
                self.io(name, &obj, &mut io, &["InputPath", "OutputPath"]);
                (Some(StateKind::Succeed), true)
            }
            "Fail" => (Some(self.fail(name, &obj)), true),
            "Parallel" => {
                self.io(name, &obj, &mut io, TASK_IO);
                (self.parallel(name, &obj).map(StateKind::Parallel), false)
            }
            "Map" => {
                self.io(
                    name,
                    &obj,
                    &mut io,
                    &["InputPath", "OutputPath", "ResultSelector", "ResultPath"],
                );
                (self.map(name, &obj).map(StateKind::Map), false)
            }
            other => {
                self.diag.err(
                    n,
                    Some("Type"),
                    format!("unknown state type '{other}' (expected Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map)"),
                );
                return None;
            }
        };
        let transition = if terminal {
            if matches!(type_name.as_str(), "Succeed" | "Fail") {
                for field in ["Next", "End"] {
                    if obj.get(field).is_some() {
                        self.diag.err(
                            n,
                            Some(field),
                            format!("a {type_name} state is terminal: it has no Next or End"),
                        );
                    }
                }
            }
            None
        } else {
            self.transition(name, &obj)
        };
        for field in obj.unread() {
            self.diag
                .err(n, Some(field), unread_reason(field, &type_name));
        }
        Some(State {
            kind: kind?,
            io,
            transition,
        })
    }

    fn transition(&mut self, name: &str, obj: &Obj<'_>) -> Option<Transition> {
        let next = self.string(Some(name), obj, "Next");
        let end = match obj.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.diag
                    .err(Some(name), Some("End"), "must be true or false");
                false
            }
        };
        match (next, end) {
            (Some(next), false) => Some(Transition::Next(next)),
            (None, true) => Some(Transition::End),
            (Some(_), true) => {
                self.diag.err(
                    Some(name),
                    Some("Next"),
                    "a state cannot have both Next and \"End\": true",
                );
                None
            }
            (None, false) => {
                self.diag.err(
                    Some(name),
                    None,
                    "a non-terminal state needs either Next or \"End\": true",
                );
                None
            }
        }
    }

    /// Reads the input/output processing fields listed in `allowed`.
    fn io(&mut self, name: &str, obj: &Obj<'_>, io: &mut Io, allowed: &[&str]) {
        let n = Some(name);
        for &field in allowed {
            let Some(value) = obj.get(field) else {
                continue;
            };
            match field {
                "InputPath" | "OutputPath" => {
                    let parsed = match value {
                        Value::Null => Some(IoPath::Null),
                        Value::String(text) => match Path::parse(text) {
                            Ok(path) => Some(IoPath::Path(path)),
                            Err(e) => {
                                self.diag.err(n, Some(field), e);
                                None
                            }
                        },
                        _ => {
                            self.diag.err(n, Some(field), "must be a path or null");
                            None
                        }
                    };
                    if let Some(parsed) = parsed {
                        if field == "InputPath" {
                            io.input_path = parsed;
                        } else {
                            io.output_path = parsed;
                        }
                    }
                }
                "ResultPath" => {
                    if let Some(rp) = self.result_path(n, field, value) {
                        io.result_path = rp;
                    }
                }
                "Parameters" | "ResultSelector" => match Template::parse(value) {
                    Ok(template) => {
                        if field == "Parameters" {
                            io.parameters = Some(template);
                        } else {
                            io.result_selector = Some(template);
                        }
                    }
                    Err(e) => self.diag.err(n, Some(field), e),
                },
                _ => {}
            }
        }
    }

    fn result_path(
        &mut self,
        state: Option<&str>,
        field: &str,
        value: &Value,
    ) -> Option<ResultPath> {
        match value {
            Value::Null => Some(ResultPath::Discard),
            Value::String(text) => {
                let parsed = Path::parse_reference(text).and_then(|path| match (path.root(), path.segments()) {
                    (Root::Input, Some(segments)) => Ok(ResultPath::At(segments.to_vec())),
                    _ => Err(format!("'{text}' must be a reference path into the state input ('$...'), not the context object")),
                });
                parsed
                    .map_err(|e| self.diag.err(state, Some(field), e))
                    .ok()
            }
            _ => {
                self.diag
                    .err(state, Some(field), "must be a reference path or null");
                None
            }
        }
    }

    fn reference_path(&mut self, state: &str, obj: &Obj<'_>, field: &str) -> Option<Path> {
        let text = self.string(Some(state), obj, field)?;
        Path::parse_reference(&text)
            .map_err(|e| self.diag.err(Some(state), Some(field), e))
            .ok()
    }

    /// A number of seconds from `field` (an integer ≥ `min`) or `path_field` (a reference path).
    fn seconds(
        &mut self,
        state: &str,
        obj: &Obj<'_>,
        field: &str,
        path_field: &str,
        min: u64,
    ) -> Option<Seconds> {
        let fixed = obj.get(field).map(|v| {
            let s = uint(v).filter(|s| (min..=MAX_SECONDS).contains(s));
            if s.is_none() {
                self.diag.err(
                    Some(state),
                    Some(field),
                    format!("must be an integer from {min} to {MAX_SECONDS}"),
                );
            }
            s
        });
        let path = obj
            .get(path_field)
            .map(|_| self.reference_path(state, obj, path_field));
        match (fixed, path) {
            (Some(_), Some(_)) => {
                self.diag.err(
                    Some(state),
                    Some(path_field),
                    format!("cannot be used together with {field}"),
                );
                None
            }
            (Some(f), None) => f.map(Seconds::Fixed),
            (None, Some(p)) => p.map(Seconds::Path),
            (None, None) => None,
        }
    }
}

/// Every state name `state` may move to, with the field that names it.
fn targets(state: &State) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    if let Some(Transition::Next(next)) = &state.transition {
        out.push(("Next".to_string(), next.as_str()));
    }
    if let StateKind::Choice { choices, default } = &state.kind {
        for (i, choice) in choices.iter().enumerate() {
            out.push((format!("Choices[{i}].Next"), choice.next.as_str()));
        }
        if let Some(default) = default {
            out.push(("Default".to_string(), default.as_str()));
        }
    }
    for (i, catcher) in state.kind.handlers().1.iter().enumerate() {
        out.push((format!("Catch[{i}].Next"), catcher.next.as_str()));
    }
    out
}
