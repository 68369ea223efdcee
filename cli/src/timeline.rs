//! The live timeline: one line per state entered, task failure, Map iteration and outcome,
//! with the time since the execution started (virtual time in local runs).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use asl_runner::{EventType, HistoryEvent};

/// Formats history events as timeline lines, relative to the execution's start
/// (`ExecutionStarted`): whatever ran before it (starting moto, loading the AWS configuration,
/// seeding) is not part of the execution and never shows in its times.
#[derive(Default)]
pub struct Timeline {
    started: Mutex<Option<SystemTime>>,
}

impl Timeline {
    /// The line for `event`, or `None` for events the timeline leaves out (exits, scheduling).
    pub fn line(&self, event: &HistoryEvent) -> Option<String> {
        let started = {
            let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
            if event.event_type == EventType::ExecutionStarted {
                *started = Some(event.timestamp);
            }
            *started.get_or_insert(event.timestamp)
        };
        let at = event
            .timestamp
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        let kind = event.event_type.as_str();
        let state = event.state_name.as_deref().unwrap_or("");
        let what = match kind {
            "ExecutionStarted" => "execution started".to_owned(),
            "ExecutionSucceeded" => "execution succeeded".to_owned(),
            "ExecutionFailed" => format!(
                "execution FAILED: {} {}",
                event.error.as_deref().unwrap_or(""),
                event.cause.as_deref().unwrap_or("")
            ),
            "MapIterationStarted" => {
                format!("{state} iteration {} started", event.index.unwrap_or(0))
            }
            "MapIterationFailed" => {
                format!("{state} iteration {} failed", event.index.unwrap_or(0))
            }
            "TaskFailed" => format!(
                "{state}: {} ({})",
                event.error.as_deref().unwrap_or("error"),
                shorten(event.cause.as_deref().unwrap_or(""), 120)
            ),
            k if k.ends_with("StateEntered") => format!("-> {state}"),
            _ => return None,
        };
        Some(format!("[{:>9.1}s] {what}", at))
    }

    /// A listener that writes the timeline to stderr.
    pub fn to_stderr() -> impl Fn(&HistoryEvent) + Send + Sync + 'static {
        let timeline = Arc::new(Timeline::default());
        move |event| {
            if let Some(line) = timeline.line(event) {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event(event_type: EventType, state: Option<&str>, at: SystemTime) -> HistoryEvent {
        HistoryEvent {
            timestamp: at,
            state_name: state.map(str::to_owned),
            ..HistoryEvent::new(event_type)
        }
    }

    #[test]
    fn times_count_from_the_execution_start() {
        let timeline = Timeline::default();
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // An event from before the execution (a listener attached early) must not become the
        // zero of the timeline.
        let early = event(EventType::PassStateEntered, Some("Warm"), epoch);
        let _ = timeline.line(&early);
        let start = epoch + Duration::from_secs(202);
        let started = event(EventType::ExecutionStarted, None, start);
        assert_eq!(
            timeline.line(&started).as_deref(),
            Some("[      0.0s] execution started")
        );
        let entered = event(
            EventType::TaskStateEntered,
            Some("Validate"),
            start + Duration::from_millis(1500),
        );
        assert_eq!(
            timeline.line(&entered).as_deref(),
            Some("[      1.5s] -> Validate")
        );
    }
}
