//! Local execution: the state machine files run by `asl-runner`, their tasks dispatched
//! in-process to the same step code the Lambda functions run, errors keeping their names; the
//! `events:putEvents` integration sends its entries to EventBridge (moto's, in the local world)
//! as Step Functions does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use asl_runner::{
    DefinitionErrors, ExecutionOptions, ExecutionResult, Runner, RunnerConfig, TaskContext,
    TaskFailure, TaskInvoker,
};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::future::BoxFuture;
use privatelink_core::context::Context;
use serde_json::{Value, json};

use crate::machines::{Machine, PUT_EVENTS, step_of};

/// Runs Task states in-process with [`Step::run`](privatelink_core::steps::Step::run),
/// counting invocations per step, and serves the `events:putEvents` integration
/// ([`put_events`]) with an EventBridge client.
pub struct StepInvoker {
    ctx: Arc<Context>,
    events: aws_sdk_eventbridge::Client,
    invocations: Mutex<BTreeMap<String, u64>>,
}

impl StepInvoker {
    /// An invoker on `ctx`, publishing events with `events`.
    pub fn new(ctx: Arc<Context>, events: aws_sdk_eventbridge::Client) -> Self {
        Self {
            ctx,
            events,
            invocations: Mutex::new(BTreeMap::new()),
        }
    }

    /// How many times each step ran (Lambda invocations, in AWS); `events:putEvents` calls
    /// count under [`PUT_EVENTS`].
    pub fn invocations(&self) -> BTreeMap<String, u64> {
        self.invocations
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    fn count(&self, name: &str) {
        if let Ok(mut counts) = self.invocations.lock() {
            *counts.entry(name.to_owned()).or_default() += 1;
        }
    }
}

impl TaskInvoker for StepInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            if resource == PUT_EVENTS {
                // Step Functions appends the execution's ARNs: without them, no faithful event.
                return Err(TaskFailure::new(
                    "States.TaskFailed",
                    "events:putEvents needs the execution (TaskInvoker::invoke_in)",
                ));
            }
            let step = step_of(resource).ok_or_else(|| {
                TaskFailure::new(
                    "States.TaskFailed",
                    format!("no local function for {resource}"),
                )
            })?;
            self.count(step.name());
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

    fn invoke_in<'a>(
        &'a self,
        task: TaskContext<'a>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        if resource != PUT_EVENTS {
            return self.invoke(resource, input);
        }
        Box::pin(async move {
            self.count(PUT_EVENTS);
            // The state machine's own role makes this call in AWS (its policy grants
            // events:PutEvents): devstack's recorder files it under the state machine.
            #[cfg(feature = "local-world")]
            let output = devstack::recorder::in_function(
                &state_machine_function(task.state_machine_name),
                put_events(&self.events, task, input),
            )
            .await;
            #[cfg(not(feature = "local-world"))]
            let output = put_events(&self.events, task, input).await;
            output
        })
    }
}

/// The name under which devstack's recorder files the AWS calls a state machine makes itself
/// (its service integrations, under the state machine's role): `state-machine:<name>`.
pub fn state_machine_function(state_machine_name: &str) -> String {
    format!("{STATE_MACHINE_FUNCTION_PREFIX}{state_machine_name}")
}

/// Prefix of [`state_machine_function`] names.
pub const STATE_MACHINE_FUNCTION_PREFIX: &str = "state-machine:";

/// Serves `arn:aws:states:::events:putEvents` (request-response) as Step Functions' optimized
/// integration does (<https://docs.aws.amazon.com/step-functions/latest/dg/connect-eventbridge.html>):
/// the task's input is a `PutEvents` request (`{"Entries": [{"Source", "DetailType", "Detail",
/// "EventBusName", "Resources", "TraceHeader"}]}`; no `Time`: EventBridge stamps the call); a JSON `Detail` is sent serialized
/// to a string; the execution ARN and the state machine ARN are appended to each entry's
/// `Resources`; the result is the `PutEvents` response (`{"Entries": [{"EventId": …}],
/// "FailedEntryCount": 0}`). A response with failed entries fails the task with
/// `EventBridge.FailedEntry`; any other error is `EventBridge.<the service's error code>`
/// (`EventBridge.SdkClientException` when the call did not get an answer).
pub async fn put_events(
    client: &aws_sdk_eventbridge::Client,
    task: TaskContext<'_>,
    input: Value,
) -> Result<Value, TaskFailure> {
    let entries = put_events_entries(&task, &input)?;
    let answer = client
        .put_events()
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_eventbridge::error::ProvideErrorMetadata;
            let service = e.as_service_error();
            let code = service
                .and_then(|s| s.code())
                .unwrap_or("SdkClientException")
                .to_owned();
            let message = service
                .and_then(|s| s.message())
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string());
            TaskFailure::new(format!("EventBridge.{code}"), message)
        })?;
    let result = json!({
        "Entries": answer.entries().iter().map(|entry| {
            let mut out = serde_json::Map::new();
            if let Some(id) = entry.event_id() {
                out.insert("EventId".to_owned(), json!(id));
            }
            if let Some(code) = entry.error_code() {
                out.insert("ErrorCode".to_owned(), json!(code));
            }
            if let Some(message) = entry.error_message() {
                out.insert("ErrorMessage".to_owned(), json!(message));
            }
            Value::Object(out)
        }).collect::<Vec<_>>(),
        "FailedEntryCount": answer.failed_entry_count(),
    });
    if answer.failed_entry_count() > 0 {
        return Err(TaskFailure::new(
            "EventBridge.FailedEntry",
            result.to_string(),
        ));
    }
    Ok(result)
}

/// The `PutEvents` entries of a putEvents task input, as Step Functions sends them.
fn put_events_entries(
    task: &TaskContext<'_>,
    input: &Value,
) -> Result<Vec<PutEventsRequestEntry>, TaskFailure> {
    let invalid = |what: String| TaskFailure::new("States.Runtime", what);
    let entries = input
        .get("Entries")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("events:putEvents: the input has no Entries array".to_owned()))?;
    let text = |entry: &Value, field: &str| -> Result<Option<String>, TaskFailure> {
        match entry.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!(
                "events:putEvents: Entries[].{field} must be a string"
            ))),
        }
    };
    entries
        .iter()
        .map(|entry| {
            let detail = match entry.get("Detail") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                // A JSON Detail goes to EventBridge as its JSON text.
                Some(other) => Some(other.to_string()),
            };
            let mut resources: Vec<String> = match entry.get("Resources") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|r| {
                        r.as_str().map(str::to_owned).ok_or_else(|| {
                            invalid(
                                "events:putEvents: Entries[].Resources must hold strings"
                                    .to_owned(),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(invalid(
                        "events:putEvents: Entries[].Resources must be an array".to_owned(),
                    ));
                }
            };
            resources.push(task.execution_arn.to_owned());
            resources.push(task.state_machine_arn.to_owned());
            Ok(PutEventsRequestEntry::builder()
                .set_source(text(entry, "Source")?)
                .set_detail_type(text(entry, "DetailType")?)
                .set_detail(detail)
                .set_event_bus_name(text(entry, "EventBusName")?)
                .set_trace_header(text(entry, "TraceHeader")?)
                .set_resources(Some(resources))
                .build())
        })
        .collect()
}

/// An EventBridge client for `run --local` against AWS (the usual configuration chain), for
/// [`StepInvoker::new`].
pub async fn default_events_client() -> aws_sdk_eventbridge::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_eventbridge::Client::new(&config)
}

/// An EventBridge client on a local world (moto, through the AWS front), for
/// [`StepInvoker::new`]: the events land on moto's buses, where devstack's event tap reads
/// them.
#[cfg(feature = "local-world")]
pub async fn world_events(world: &devstack::LocalWorld<'_>) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&world.stack.sdk_config(devstack::world::HOME_REGION).await)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskContext<'static> {
        TaskContext {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e",
            execution_name: "e",
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            state_machine_name: "m",
            state_name: "PublishReady",
            retry_count: 0,
        }
    }

    #[test]
    fn entries_carry_a_json_detail_as_text_and_the_execution_s_arns() {
        let input = json!({"Entries": [
            {"Source": "atlas-privatelink", "DetailType": "PrivateEndpointReady",
             "EventBusName": "default", "Detail": {"a": [1, null], "b": "x"},
             "Resources": ["arn:aws:secretsmanager:us-east-1:1:secret:s"]},
            {"Source": "s", "DetailType": "T", "Detail": "{\"already\":\"text\"}"}
        ]});
        let entries = put_events_entries(&task(), &input).expect("entries");
        assert_eq!(entries.len(), 2);
        let first = &entries[0];
        assert_eq!(first.source(), Some("atlas-privatelink"));
        assert_eq!(first.detail_type(), Some("PrivateEndpointReady"));
        assert_eq!(first.event_bus_name(), Some("default"));
        let detail: Value = serde_json::from_str(first.detail().expect("detail")).expect("JSON");
        assert_eq!(detail, json!({"a": [1, null], "b": "x"}));
        assert_eq!(
            first.resources(),
            [
                "arn:aws:secretsmanager:us-east-1:1:secret:s",
                task().execution_arn,
                task().state_machine_arn
            ]
        );
        assert_eq!(entries[1].detail(), Some("{\"already\":\"text\"}"));
        assert_eq!(entries[1].resources().len(), 2);
    }

    #[test]
    fn a_malformed_request_is_a_runtime_error_naming_the_field() {
        for (input, field) in [
            (json!({}), "Entries"),
            (json!({"Entries": [{"Source": 1}]}), "Source"),
            (json!({"Entries": [{"Resources": "x"}]}), "Resources"),
        ] {
            let e = put_events_entries(&task(), &input).expect_err("malformed");
            assert_eq!(e.error, "States.Runtime");
            assert!(e.cause.contains(field), "{}", e.cause);
        }
    }

    #[tokio::test]
    async fn put_events_without_the_execution_is_refused() {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .build();
        let invoker = StepInvoker::new(
            Arc::new(Context::new(
                clock::SystemClock::shared(),
                privatelink_core::aws::clients::AwsClients::from_config(
                    aws_config::SdkConfig::builder().build(),
                ),
                privatelink_core::context::Settings::default(),
            )),
            aws_sdk_eventbridge::Client::from_conf(config),
        );
        let e = invoker
            .invoke(PUT_EVENTS, json!({"Entries": []}))
            .await
            .expect_err("needs the execution");
        assert!(e.cause.contains("invoke_in"), "{e}");
    }
}
