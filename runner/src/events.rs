//! The execution history: events named and shaped like those of AWS's `GetExecutionHistory`.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::context::format_timestamp;

/// Called with every event as it is recorded.
pub type EventListener = Arc<dyn Fn(&HistoryEvent) + Send + Sync>;

macro_rules! event_types {
    ($($variant:ident),* $(,)?) => {
        /// The type of a history event; the names are AWS's.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum EventType { $($variant),* }

        impl EventType {
            /// The AWS name, e.g. `TaskStateEntered`.
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => stringify!($variant)),* }
            }
        }
    };
}

event_types! {
    ExecutionStarted, ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut,
    PassStateEntered, PassStateExited,
    TaskStateEntered, TaskStateExited,
    ChoiceStateEntered, ChoiceStateExited,
    WaitStateEntered, WaitStateExited,
    SucceedStateEntered, SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered, ParallelStateExited,
    MapStateEntered, MapStateExited,
    TaskScheduled, TaskStarted, TaskSucceeded, TaskFailed, TaskTimedOut,
    ParallelStateStarted, ParallelStateSucceeded, ParallelStateFailed, ParallelStateAborted,
    MapStateStarted, MapStateSucceeded, MapStateFailed, MapStateAborted,
    MapIterationStarted, MapIterationSucceeded, MapIterationFailed, MapIterationAborted,
}

impl EventType {
    /// The `…StateEntered` event of a state type.
    pub(crate) fn entered(type_name: &str) -> EventType {
        match type_name {
            "Pass" => EventType::PassStateEntered,
            "Task" => EventType::TaskStateEntered,
            "Choice" => EventType::ChoiceStateEntered,
            "Wait" => EventType::WaitStateEntered,
            "Succeed" => EventType::SucceedStateEntered,
            "Fail" => EventType::FailStateEntered,
            "Parallel" => EventType::ParallelStateEntered,
            _ => EventType::MapStateEntered,
        }
    }

    /// The `…StateExited` event of a state type (Fail states have none).
    pub(crate) fn exited(type_name: &str) -> EventType {
        match type_name {
            "Pass" => EventType::PassStateExited,
            "Task" => EventType::TaskStateExited,
            "Choice" => EventType::ChoiceStateExited,
            "Wait" => EventType::WaitStateExited,
            "Succeed" => EventType::SucceedStateExited,
            "Parallel" => EventType::ParallelStateExited,
            _ => EventType::MapStateExited,
        }
    }

    /// Whether this is a `…StateEntered` event.
    pub fn is_state_entered(self) -> bool {
        self.as_str().ends_with("StateEntered")
    }

    /// Whether this is a `…StateExited` event.
    pub fn is_state_exited(self) -> bool {
        self.as_str().ends_with("StateExited")
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of the execution history. Fields that do not apply to the event type are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// 1-based, in recording order.
    pub id: u64,
    /// The event before this one in the same branch of the execution (0 for the first).
    pub previous_event_id: u64,
    /// When the event happened, on the runner's clock.
    pub timestamp: SystemTime,
    /// What happened.
    pub event_type: EventType,
    /// The state (for state, task, Map and Parallel events).
    pub state_name: Option<String>,
    /// The input (state entered, execution started, task scheduled: the task's parameters).
    pub input: Option<Value>,
    /// The output (state exited, task succeeded, execution succeeded).
    pub output: Option<Value>,
    /// The error name (failures).
    pub error: Option<String>,
    /// The cause (failures).
    pub cause: Option<String>,
    /// The Task resource (task events).
    pub resource: Option<String>,
    /// The Map iteration index (iteration events).
    pub index: Option<usize>,
    /// The number of Map items (`MapStateStarted`).
    pub length: Option<usize>,
}

impl HistoryEvent {
    /// An event of `event_type` with every other field empty (id 0, the Unix epoch): the
    /// runner fills them in as it records; listeners' tests build their events from it.
    pub fn new(event_type: EventType) -> Self {
        HistoryEvent {
            id: 0,
            previous_event_id: 0,
            timestamp: SystemTime::UNIX_EPOCH,
            event_type,
            state_name: None,
            input: None,
            output: None,
            error: None,
            cause: None,
            resource: None,
            index: None,
            length: None,
        }
    }

    pub(crate) fn state(mut self, name: &str) -> Self {
        self.state_name = Some(name.to_string());
        self
    }

    pub(crate) fn input(mut self, input: &Value) -> Self {
        self.input = Some(input.clone());
        self
    }

    pub(crate) fn output(mut self, output: &Value) -> Self {
        self.output = Some(output.clone());
        self
    }

    pub(crate) fn failure(mut self, error: Option<&str>, cause: Option<&str>) -> Self {
        self.error = error.map(str::to_string);
        self.cause = cause.map(str::to_string);
        self
    }

    pub(crate) fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_string());
        self
    }

    pub(crate) fn index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    pub(crate) fn length(mut self, length: usize) -> Self {
        self.length = Some(length);
        self
    }

    /// A one-line summary for a timeline, e.g. `TaskStateEntered GetServiceName`.
    pub fn summary(&self) -> String {
        let mut line = self.event_type.as_str().to_string();
        if let Some(name) = &self.state_name {
            line.push(' ');
            line.push_str(name);
        }
        if let Some(index) = self.index {
            line.push_str(&format!(" [{index}]"));
        }
        if let Some(resource) = &self.resource {
            line.push_str(&format!(" ({resource})"));
        }
        if let Some(error) = &self.error {
            line.push_str(&format!(": {error}"));
        }
        line
    }

    /// The event as AWS's `GetExecutionHistory` would show it (details object per type, inputs
    /// and outputs as JSON text).
    pub fn to_aws_json(&self) -> Value {
        let text = |v: &Option<Value>| v.as_ref().map(|v| Value::String(v.to_string()));
        let mut details = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                details.insert(key.to_string(), value);
            }
        };
        let resource = self.resource.as_deref().map(split_resource);
        match self.event_type {
            EventType::ExecutionStarted => {
                put("input", text(&self.input));
            }
            EventType::ExecutionSucceeded => put("output", text(&self.output)),
            EventType::MapStateStarted => put("length", self.length.map(Value::from)),
            EventType::MapIterationStarted
            | EventType::MapIterationSucceeded
            | EventType::MapIterationFailed
            | EventType::MapIterationAborted => {
                put("name", self.state_name.clone().map(Value::String));
                put("index", self.index.map(Value::from));
            }
            EventType::TaskScheduled
            | EventType::TaskStarted
            | EventType::TaskSucceeded
            | EventType::TaskFailed
            | EventType::TaskTimedOut => {
                if let Some((kind, name)) = resource {
                    put("resourceType", Some(Value::String(kind)));
                    put("resource", Some(Value::String(name)));
                }
                if self.event_type == EventType::TaskScheduled {
                    put("parameters", text(&self.input));
                }
                put("output", text(&self.output));
            }
            t if t.is_state_entered() => {
                put("name", self.state_name.clone().map(Value::String));
                put("input", text(&self.input));
            }
            t if t.is_state_exited() => {
                put("name", self.state_name.clone().map(Value::String));
                put("output", text(&self.output));
            }
            _ => {}
        }
        put("error", self.error.clone().map(Value::String));
        put("cause", self.cause.clone().map(Value::String));
        let mut event = json!({
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": format_timestamp(self.timestamp),
            "type": self.event_type.as_str(),
        });
        if !details.is_empty()
            && let Value::Object(map) = &mut event
        {
            map.insert(details_key(self.event_type), Value::Object(details));
        }
        event
    }
}

/// `TaskStateEntered` → `stateEnteredEventDetails`, `TaskFailed` → `taskFailedEventDetails`…
fn details_key(event_type: EventType) -> String {
    let name = event_type.as_str();
    let base = if event_type.is_state_entered() {
        "StateEntered"
    } else if event_type.is_state_exited() {
        "StateExited"
    } else {
        name
    };
    let mut chars = base.chars();
    let first = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_default();
    format!("{first}{}EventDetails", chars.as_str())
}

/// `arn:aws:states:::lambda:invoke` → (`lambda`, `invoke`); anything else → (`task`, resource).
fn split_resource(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::")
        && let Some((kind, name)) = rest.split_once(':')
    {
        return (kind.to_string(), name.to_string());
    }
    if resource.contains(":lambda:") {
        return ("lambda".to_string(), resource.to_string());
    }
    ("task".to_string(), resource.to_string())
}

/// The history being recorded, shared by every branch of an execution.
pub(crate) struct EventLog {
    events: Mutex<Vec<HistoryEvent>>,
    listener: Option<EventListener>,
}

impl EventLog {
    pub fn new(listener: Option<EventListener>) -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            listener,
        }
    }

    /// Records `event` at `at`, after `*previous` (which becomes the new event's id).
    pub fn record(&self, mut event: HistoryEvent, at: SystemTime, previous: &mut u64) -> u64 {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        event.id = events.len() as u64 + 1;
        event.previous_event_id = *previous;
        event.timestamp = at;
        *previous = event.id;
        if let Some(listener) = &self.listener {
            listener(&event);
        }
        events.push(event);
        *previous
    }

    /// The id of the last event recorded (0 if none).
    pub fn last_id(&self) -> u64 {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).len() as u64
    }

    pub fn take(&self) -> Vec<HistoryEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_json_shape() {
        let mut e = HistoryEvent::new(EventType::TaskStateEntered)
            .state("A")
            .input(&json!({"x": 1}));
        e.id = 2;
        e.previous_event_id = 1;
        let v = e.to_aws_json();
        assert_eq!(v["type"], "TaskStateEntered");
        assert_eq!(v["stateEnteredEventDetails"]["name"], "A");
        assert_eq!(v["stateEnteredEventDetails"]["input"], "{\"x\":1}");
        let f = HistoryEvent::new(EventType::TaskFailed)
            .resource("arn:aws:states:::lambda:invoke")
            .failure(Some("Boom"), Some("why"));
        let v = f.to_aws_json();
        assert_eq!(v["taskFailedEventDetails"]["resourceType"], "lambda");
        assert_eq!(v["taskFailedEventDetails"]["resource"], "invoke");
        assert_eq!(v["taskFailedEventDetails"]["error"], "Boom");
        assert_eq!(
            f.summary(),
            "TaskFailed (arn:aws:states:::lambda:invoke): Boom"
        );
    }
}
