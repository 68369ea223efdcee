//! Each state type on its own.

use std::time::Duration;

use asl_runner::{EventType, ExecutionStatus};
use serde_json::json;

use crate::*;

#[tokio::test]
async fn pass_result_including_falsy_values() {
    for result in [
        json!(0),
        json!(false),
        json!(""),
        json!(null),
        json!({"a": 1}),
    ] {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}});
        let (r, _) = run(def, echo(), json!({"in": 1})).await;
        assert_eq!(
            output(&r),
            result,
            "Pass Result {result} must be used, not ignored"
        );
    }
    // Without Result, Pass passes its (effective) input; ResultPath "$" replaces the input.
    let def =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "ResultPath": "$", "End": true}}});
    let (r, _) = run(def, echo(), json!({"in": 1})).await;
    assert_eq!(output(&r), json!({"in": 1}));
    assert_eq!(
        types(&r),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn task_calls_the_invoker_with_the_resource_and_effective_input() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "validate", "Payload.$": "$"}, "End": true}}});
    let (r, script, _) = run_script(def, json!({"x": 1}), |s| {
        s.on("arn:aws:states:::lambda:invoke", |_, input, _| async move {
            Ok(json!({"Payload": input["Payload"].clone(), "StatusCode": 200}))
        })
    })
    .await;
    assert_eq!(output(&r), json!({"Payload": {"x": 1}, "StatusCode": 200}));
    assert_eq!(
        script.calls()[0].input,
        json!({"FunctionName": "validate", "Payload": {"x": 1}})
    );
    assert_eq!(
        types(&r),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let scheduled = &r.events_of(EventType::TaskScheduled)[0];
    assert_eq!(
        scheduled.resource.as_deref(),
        Some("arn:aws:states:::lambda:invoke")
    );
    assert_eq!(r.state_transitions, 1);
}

#[tokio::test]
async fn task_failure_keeps_its_error_name() {
    let def = json!({"StartAt": "T", "States": {"T": task("svc")}});
    let (r, _, _) = run_script(def, json!({}), |s| {
        s.on("svc", |_, _, _| async {
            Err(TaskFailure::new("EndpointServiceFailed", "status FAILED"))
        })
    })
    .await;
    assert_eq!(
        failed(&r),
        ("EndpointServiceFailed".into(), "status FAILED".into())
    );
    assert_eq!(types(&r).last(), Some(&"ExecutionFailed"));
    assert!(
        r.events_of(EventType::TaskFailed)[0].error.as_deref() == Some("EndpointServiceFailed")
    );
}

#[tokio::test]
async fn choice_picks_the_first_matching_rule_then_default() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.status", "StringEquals": "AVAILABLE", "Next": "Ready"},
            {"And": [{"Variable": "$.status", "IsPresent": true}, {"Variable": "$.status", "StringMatches": "PENDING*"}], "Next": "Pending"}
        ], "Default": "Other"},
        "Ready": {"Type": "Pass", "Result": "ready", "End": true},
        "Pending": {"Type": "Pass", "Result": "pending", "End": true},
        "Other": {"Type": "Pass", "Result": "other", "End": true}
    }});
    for (status, expected) in [
        ("AVAILABLE", "ready"),
        ("PENDING_ACCEPTANCE", "pending"),
        ("FAILED", "other"),
    ] {
        let (r, _) = run(def.clone(), echo(), json!({"status": status})).await;
        assert_eq!(output(&r), json!(expected));
        assert_eq!(
            r.entered_states(),
            [
                "C",
                match expected {
                    "ready" => "Ready",
                    "pending" => "Pending",
                    _ => "Other",
                }
            ]
        );
    }
}

#[tokio::test]
async fn choice_without_match_or_default_fails() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": 1, "Next": "D"}]},
        "D": {"Type": "Succeed"}
    }});
    let (r, _) = run(def.clone(), echo(), json!({"a": 2})).await;
    assert_eq!(failed(&r).0, "States.NoChoiceMatched");
    let (r, _) = run(def, echo(), json!({})).await;
    let (error, cause) = failed(&r);
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.contains("Invalid path '$.a'") && cause.contains("state 'C'"),
        "{cause}"
    );
}

#[tokio::test]
async fn wait_variants_take_virtual_time() {
    let def = json!({"StartAt": "W1", "States": {
        "W1": {"Type": "Wait", "Seconds": 10, "Next": "W2"},
        "W2": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "W3"},
        "W3": {"Type": "Wait", "Timestamp": "2024-01-01T00:01:00Z", "Next": "W4"},
        "W4": {"Type": "Wait", "TimestampPath": "$.until", "Next": "W5"},
        "W5": {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z", "End": true}
    }});
    let input = json!({"delay": 20, "until": "2024-01-01T00:02:30.500Z"});
    let (r, clock) = run(def, echo(), input.clone()).await;
    assert_eq!(output(&r), input);
    assert_eq!(clock.elapsed(), Duration::from_millis(150_500));
    assert_eq!(r.duration(), Duration::from_millis(150_500));
    let exits: Vec<u64> = r
        .events_of(EventType::WaitStateExited)
        .iter()
        .map(|e| {
            e.timestamp
                .duration_since(origin())
                .expect("after origin")
                .as_millis() as u64
        })
        .collect();
    assert_eq!(exits, [10_000, 30_000, 60_000, 150_500, 150_500]);
}

#[tokio::test]
async fn wait_with_a_bad_seconds_path_is_a_runtime_error() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.d", "End": true}}});
    for input in [json!({"d": -1}), json!({"d": "5"}), json!({})] {
        let (r, _) = run(def.clone(), echo(), input).await;
        assert_eq!(failed(&r).0, "States.Runtime");
    }
}

#[tokio::test]
async fn succeed_applies_input_and_output_paths() {
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}});
    let (r, _) = run(def, echo(), json!({"a": {"b": 7}})).await;
    assert_eq!(output(&r), json!(7));
    assert_eq!(
        types(&r),
        [
            "ExecutionStarted",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn fail_with_literals_paths_intrinsics_or_nothing() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "because"}}});
    let (r, _) = run(def, echo(), json!({})).await;
    assert_eq!(failed(&r), ("Boom".into(), "because".into()));
    assert_eq!(
        types(&r),
        ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    );

    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e",
        "CausePath": "States.Format('step {} failed: {}', $.step, $.why)"}}});
    let (r, _) = run(
        def,
        echo(),
        json!({"e": "InterfaceEndpointRejected", "step": 7, "why": "REJECTED"}),
    )
    .await;
    assert_eq!(
        failed(&r),
        (
            "InterfaceEndpointRejected".into(),
            "step 7 failed: REJECTED".into()
        )
    );

    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail"}}});
    let (r, _) = run(def, echo(), json!({})).await;
    assert_eq!(
        r.status,
        ExecutionStatus::Failed {
            error: None,
            cause: None
        },
        "no invented defaults"
    );

    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e"}}});
    let (r, _) = run(def, echo(), json!({"e": 5})).await;
    assert_eq!(failed(&r).0, "States.Runtime");
}

#[tokio::test]
async fn execution_timeout_stops_a_long_run() {
    let def = json!({"TimeoutSeconds": 30, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let (r, clock) = run(def, echo(), json!({})).await;
    assert_eq!(r.status, ExecutionStatus::TimedOut);
    assert_eq!(clock.elapsed(), Duration::from_secs(30));
    assert_eq!(
        types(&r),
        ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    );
}

#[tokio::test]
async fn real_time_runs_without_a_virtual_clock() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "Next": "T"}, "T": task("x")}});
    let runner = asl_runner::Runner::new(
        machine(def),
        echo(),
        asl_runner::RunnerConfig::real_time().seed(1),
    );
    let r = runner.run(json!({"k": "v"})).await;
    assert_eq!(output(&r), json!({"k": "v"}));
    assert_eq!(r.entered_states(), ["W", "T"]);
}

#[tokio::test]
async fn a_state_output_over_256_kib_fails_the_execution_even_with_a_catch() {
    let big = "x".repeat(asl_runner::MAX_PAYLOAD_BYTES);
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:big",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}}});
    let (r, _, _) = run_script(def, json!({}), |s| {
        let big = big.clone();
        s.on(
            "arn:aws:lambda:us-east-1:000000000000:function:big",
            move |_, _, _| {
                let big = big.clone();
                async move { Ok(json!({"blob": big})) }
            },
        )
    })
    .await;
    match &r.status {
        ExecutionStatus::Failed { error, cause } => {
            assert_eq!(error.as_deref(), Some("States.DataLimitExceeded"));
            assert!(
                cause.as_deref().unwrap_or("").contains("'T' output"),
                "{cause:?}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // Just under the limit is fine.
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let fits = json!({"b": "x".repeat(asl_runner::MAX_PAYLOAD_BYTES - 16)});
    let (r, _) = run(def, echo(), fits).await;
    assert!(r.succeeded(), "{:?}", r.status);
}
