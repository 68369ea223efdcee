//! The context object (`$$`).

use asl_runner::{ExecutionOptions, Runner, RunnerConfig};
use clock::VirtualClock;
use serde_json::json;

use crate::*;

#[tokio::test]
async fn execution_state_and_state_machine_fields() {
    let def = json!({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 90, "Next": "Ctx"},
        "Ctx": {"Type": "Pass", "Parameters": {
            "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input",
            "start.$": "$$.Execution.StartTime", "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime",
            "retries.$": "$$.State.RetryCount", "machine.$": "$$.StateMachine.Id", "machineName.$": "$$.StateMachine.Name",
            "whole.$": "$$.Execution.Input.request"}, "End": true}}});
    let clock = VirtualClock::starting_at(origin());
    let runner = Runner::new(
        machine(def),
        echo(),
        RunnerConfig::virtual_time(clock).state_machine_name("provision"),
    );
    let r = runner
        .run_with(
            json!({"request": {"a": 1}}),
            ExecutionOptions {
                name: Some("run-42".into()),
            },
        )
        .await;
    assert_eq!(
        output(&r),
        json!({
            "id": "arn:aws:states:us-east-1:123456789012:execution:provision:run-42",
            "name": "run-42",
            "input": {"request": {"a": 1}},
            "start": "2024-01-01T00:00:00.000Z",
            "state": "Ctx",
            "entered": "2024-01-01T00:01:30.000Z",
            "retries": 0,
            "machine": "arn:aws:states:us-east-1:123456789012:stateMachine:provision",
            "machineName": "provision",
            "whole": {"a": 1}
        })
    );
    assert_eq!(
        r.execution_arn,
        "arn:aws:states:us-east-1:123456789012:execution:provision:run-42"
    );
}

#[tokio::test]
async fn execution_input_inside_map_is_the_execution_input() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.xs",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Parameters": {"exec.$": "$$.Execution.Input.tag", "item.$": "$", "state.$": "$$.State.Name"}, "End": true}}},
        "End": true}}});
    let (r, _) = run(def, echo(), json!({"tag": "T", "xs": [1]})).await;
    assert_eq!(output(&r), json!([{"exec": "T", "item": 1, "state": "P"}]));
}

#[tokio::test]
async fn map_item_is_only_in_the_item_selector_and_task_token_is_absent() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"i.$": "$$.Map.Item.Index"}, "End": true}}});
    let (r, _) = run(def, echo(), json!({})).await;
    assert_eq!(failed(&r).0, "States.Runtime");
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"t.$": "$$.Task.Token"}, "End": true}}});
    let (r, _) = run(def, echo(), json!({})).await;
    let (error, cause) = failed(&r);
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.contains("$$.Task.Token") && cause.contains("context object"),
        "{cause}"
    );
}

#[tokio::test]
async fn default_execution_names_are_uuids_reproducible_by_seed() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name", "u.$": "States.UUID()"}, "End": true}}});
    let name = |seed: u64| {
        let def = def.clone();
        async move {
            let runner = Runner::new(
                machine(def),
                echo(),
                RunnerConfig::virtual_time(VirtualClock::starting_at(origin())).seed(seed),
            );
            output(&runner.run(json!({})).await)
        }
    };
    let a = name(1).await;
    assert_eq!(a, name(1).await);
    assert_ne!(a, name(2).await);
    assert_eq!(a["n"].as_str().map(str::len), Some(36));
    assert_ne!(a["n"], a["u"]);
}

/// A [`asl_runner::TaskContext`], owned: execution ARN and name, state machine ARN and name,
/// state name, retry count.
type Seen = (String, String, String, String, String, u32);

/// Records the [`asl_runner::TaskContext`] of every task attempt.
struct ContextRecorder {
    seen: std::sync::Mutex<Vec<Seen>>,
}

impl TaskInvoker for ContextRecorder {
    fn invoke<'a>(
        &'a self,
        _resource: &'a str,
        _input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        async {
            Err(TaskFailure::new(
                "NoContext",
                "the runner must call invoke_in",
            ))
        }
        .boxed()
    }

    fn invoke_in<'a>(
        &'a self,
        task: asl_runner::TaskContext<'a>,
        _resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        let attempt = task.retry_count;
        self.seen.lock().expect("seen").push((
            task.execution_arn.to_owned(),
            task.execution_name.to_owned(),
            task.state_machine_arn.to_owned(),
            task.state_machine_name.to_owned(),
            task.state_name.to_owned(),
            attempt,
        ));
        async move {
            if attempt == 0 {
                Err(TaskFailure::new("Again", "first attempt fails"))
            } else {
                Ok(input)
            }
        }
        .boxed()
    }
}

#[tokio::test]
async fn task_invokers_are_told_the_execution_the_state_machine_and_the_attempt() {
    let def = json!({"StartAt": "Publish", "States": {"Publish": {"Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Retry": [{"ErrorEquals": ["Again"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "End": true}}});
    let recorder = Arc::new(ContextRecorder {
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let runner = Runner::new(
        machine(def),
        recorder.clone(),
        RunnerConfig::virtual_time(VirtualClock::starting_at(origin()))
            .state_machine_name("provision"),
    );
    let r = runner
        .run_with(
            json!({}),
            ExecutionOptions {
                name: Some("run-7".into()),
            },
        )
        .await;
    assert!(r.succeeded(), "{:?}", r.status);
    let execution = "arn:aws:states:us-east-1:123456789012:execution:provision:run-7";
    let machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:provision";
    let seen = recorder.seen.lock().expect("seen").clone();
    let expected = |attempt| {
        (
            execution.to_owned(),
            "run-7".to_owned(),
            machine_arn.to_owned(),
            "provision".to_owned(),
            "Publish".to_owned(),
            attempt,
        )
    };
    assert_eq!(seen, vec![expected(0), expected(1)]);
    assert_eq!(r.execution_arn, execution);
}
