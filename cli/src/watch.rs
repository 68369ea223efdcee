//! `atlas-privatelink watch`: follows a Step Functions execution in AWS, one line per state
//! entered or task failure, with a spinner showing the current state while it runs.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use indicatif::{ProgressBar, ProgressStyle};

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    /// Error name, for failures.
    pub error: Option<String>,
    /// Cause, for failures.
    pub cause: Option<String>,
}

impl Outcome {
    /// Whether it succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED"
    }
}

/// The timeline line for an event, if it gets one.
pub fn describe(event: &HistoryEvent) -> Option<String> {
    let kind = event.r#type();
    let entered = event.state_entered_event_details().map(|d| d.name());
    match kind {
        HistoryEventType::ExecutionStarted => Some("execution started".into()),
        HistoryEventType::ExecutionSucceeded => Some("execution succeeded".into()),
        HistoryEventType::ExecutionFailed => event.execution_failed_event_details().map(|d| {
            format!(
                "execution FAILED: {} {}",
                d.error().unwrap_or(""),
                d.cause().unwrap_or("")
            )
        }),
        HistoryEventType::ExecutionAborted => Some("execution aborted".into()),
        HistoryEventType::ExecutionTimedOut => Some("execution timed out".into()),
        HistoryEventType::LambdaFunctionFailed => {
            event.lambda_function_failed_event_details().map(|d| {
                format!(
                    "  {}: {}",
                    d.error().unwrap_or("error"),
                    d.cause().unwrap_or("")
                )
            })
        }
        HistoryEventType::TaskFailed => event.task_failed_event_details().map(|d| {
            format!(
                "  {}: {}",
                d.error().unwrap_or("error"),
                d.cause().unwrap_or("")
            )
        }),
        _ => entered.map(|name| format!("-> {name}")),
    }
}

/// The outcome a terminal history event records.
fn terminal(event: &HistoryEvent) -> Option<Outcome> {
    let outcome = |status: &str, error: Option<&str>, cause: Option<&str>| Outcome {
        status: status.to_owned(),
        error: error.map(str::to_owned),
        cause: cause.map(str::to_owned),
    };
    match event.r#type() {
        HistoryEventType::ExecutionSucceeded => Some(outcome("SUCCEEDED", None, None)),
        HistoryEventType::ExecutionFailed => {
            let d = event.execution_failed_event_details();
            Some(outcome(
                "FAILED",
                d.and_then(|d| d.error()),
                d.and_then(|d| d.cause()),
            ))
        }
        HistoryEventType::ExecutionAborted => Some(outcome("ABORTED", None, None)),
        HistoryEventType::ExecutionTimedOut => Some(outcome("TIMED_OUT", None, None)),
        _ => None,
    }
}

/// Follows `execution_arn` until it ends, printing its timeline to stderr; polls every `poll`.
pub async fn watch(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
    poll: Duration,
) -> Result<Outcome, String> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let mut last_seen = 0i64;
    let mut ended: Option<Outcome> = None;
    loop {
        let mut pages = sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .include_execution_data(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("GetExecutionHistory: {e}"))?;
            for event in page.events() {
                if event.id() <= last_seen {
                    continue;
                }
                last_seen = event.id();
                if let Some(name) = event.state_entered_event_details().map(|d| d.name()) {
                    spinner.set_message(name.to_owned());
                }
                if let Some(line) = describe(event) {
                    let at = started.elapsed().as_secs_f64();
                    spinner.suspend(|| eprintln!("[{at:>9.1}s] {line}"));
                }
                if let Some(outcome) = terminal(event) {
                    ended = Some(outcome);
                }
            }
        }
        let described = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|e| format!("DescribeExecution: {e}"))?;
        if *described.status() != ExecutionStatus::Running {
            spinner.finish_and_clear();
            return Ok(Outcome {
                status: described.status().as_str().to_owned(),
                error: described.error().map(str::to_owned),
                cause: described.cause().map(str::to_owned),
            });
        }
        // The history has the last word when the description lags behind it.
        if let Some(outcome) = ended {
            spinner.finish_and_clear();
            return Ok(outcome);
        }
        tokio::time::sleep(poll).await;
    }
}
