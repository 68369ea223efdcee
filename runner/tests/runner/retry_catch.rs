//! Retry (back-off on the virtual clock), Catch, and task timeouts.

use std::time::Duration;

use asl_runner::{EventType, Runner, RunnerConfig};
use clock::{Clock, VirtualClock};
use serde_json::json;

use crate::*;

/// Fails `failures` times with `error`, then succeeds.
fn flaky(failures: usize, error: &'static str) -> impl FnOnce(Script) -> Script {
    move |s| {
        s.on("svc", move |n, input, _| async move {
            if n < failures {
                Err(TaskFailure::new(error, format!("attempt {n}")))
            } else {
                Ok(json!({"ok": true, "attempt": n, "retryCount": input["retryCount"].clone()}))
            }
        })
    }
}

#[tokio::test]
async fn exponential_backoff_on_virtual_time() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "svc",
        "Parameters": {"retryCount.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["EndpointServiceNotReady"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}],
        "End": true}}});
    let (r, script, clock) = run_script(def, json!({}), flaky(3, "EndpointServiceNotReady")).await;
    assert_eq!(
        output(&r),
        json!({"ok": true, "attempt": 3, "retryCount": 3})
    );
    // Attempts at 0, then after waits of 2, 4 and 8 seconds.
    assert_eq!(script.times("svc"), [0.0, 2.0, 6.0, 14.0]);
    assert_eq!(clock.elapsed(), Duration::from_secs(14));
    assert_eq!(
        r.state_transitions, 4,
        "one state entered plus three retries"
    );
    assert_eq!(r.events_of(EventType::TaskFailed).len(), 3);
    assert_eq!(r.events_of(EventType::TaskScheduled).len(), 4);
    assert_eq!(
        r.entered_states(),
        ["T"],
        "a retry does not enter the state again"
    );
}

#[tokio::test]
async fn retries_run_out_then_the_error_propagates() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "svc",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}], "End": true}}});
    let (r, script, _) = run_script(def, json!({}), flaky(10, "AtlasUnavailable")).await;
    assert_eq!(failed(&r), ("AtlasUnavailable".into(), "attempt 2".into()));
    assert_eq!(script.times("svc"), [0.0, 1.0, 3.0]);
}

#[tokio::test]
async fn max_delay_caps_the_backoff() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "svc",
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 5, "BackoffRate": 3, "MaxAttempts": 5, "MaxDelaySeconds": 30}],
        "End": true}}});
    let (r, script, _) = run_script(def, json!({}), flaky(5, "AwsThrottled")).await;
    assert!(r.succeeded());
    // Waits 5, 15, 30 (45 capped), 30, 30.
    assert_eq!(script.times("svc"), [0.0, 5.0, 20.0, 50.0, 80.0, 110.0]);
}

#[tokio::test]
async fn max_attempts_zero_never_retries_and_the_next_retrier_is_not_used() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "svc",
        "Retry": [{"ErrorEquals": ["InvalidRequest"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"]}], "End": true}}});
    let (r, script, _) = run_script(def, json!({}), flaky(1, "InvalidRequest")).await;
    assert_eq!(failed(&r).0, "InvalidRequest");
    assert_eq!(script.times("svc"), [0.0]);
}

#[tokio::test]
async fn full_jitter_is_reproducible_with_a_seed() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "svc",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "MaxAttempts": 4, "JitterStrategy": "FULL"}], "End": true}}});
    let times = |seed: u64| {
        let def = def.clone();
        async move {
            let clock = VirtualClock::starting_at(origin());
            let script = std::sync::Arc::new(flaky(4, "X")(Script::new(&clock)));
            let runner = Runner::new(
                machine(def),
                script.clone(),
                RunnerConfig::virtual_time(clock).seed(seed),
            );
            assert!(runner.run(json!({})).await.succeeded());
            script.times("svc")
        }
    };
    let a = times(7).await;
    assert_eq!(a, times(7).await, "same seed, same delays");
    assert_ne!(a, times(8).await, "another seed, other delays");
    let full = [10.0, 20.0, 40.0, 80.0];
    for (i, pair) in a.windows(2).enumerate() {
        let delay = pair[1] - pair[0];
        assert!(
            delay >= 0.0 && delay <= full[i],
            "delay {delay} within [0, {}]",
            full[i]
        );
    }
}

#[tokio::test]
async fn catch_with_result_path_keeps_the_input() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "svc",
              "Catch": [{"ErrorEquals": ["Other"], "Next": "Wrong"},
                        {"ErrorEquals": ["InterfaceEndpointRejected"], "ResultPath": "$.error", "Next": "Rollback"}],
              "End": true},
        "Wrong": {"Type": "Fail"},
        "Rollback": {"Type": "Pass", "End": true}
    }});
    let (r, _, _) = run_script(
        def,
        json!({"vpce": "vpce-1"}),
        flaky(1, "InterfaceEndpointRejected"),
    )
    .await;
    assert_eq!(
        output(&r),
        json!({"vpce": "vpce-1", "error": {"Error": "InterfaceEndpointRejected", "Cause": "attempt 0"}})
    );
    assert_eq!(r.entered_states(), ["T", "Rollback"]);
    let types = types(&r);
    let failed_at = types
        .iter()
        .position(|t| *t == "TaskFailed")
        .expect("TaskFailed");
    assert_eq!(types[failed_at + 1], "TaskStateExited");
}

#[tokio::test]
async fn catch_without_result_path_replaces_and_null_discards() {
    for (result_path, expected) in [
        (None, json!({"Error": "Boom", "Cause": "attempt 0"})),
        (Some(json!(null)), json!({"in": 1})),
    ] {
        let mut catcher = json!({"ErrorEquals": ["States.ALL"], "Next": "Done"});
        if let Some(rp) = result_path {
            catcher["ResultPath"] = rp;
        }
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "svc", "Catch": [catcher], "End": true},
            "Done": {"Type": "Succeed"}}});
        let (r, _, _) = run_script(def, json!({"in": 1}), flaky(1, "Boom")).await;
        assert_eq!(output(&r), expected);
    }
}

#[tokio::test]
async fn retry_then_catch() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "svc",
              "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 3, "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}], "End": true},
        "Done": {"Type": "Succeed"}}});
    let (r, script, _) = run_script(def, json!({}), flaky(5, "Flaky")).await;
    assert_eq!(script.times("svc"), [0.0, 3.0]);
    assert_eq!(output(&r)["err"]["Error"], "Flaky");
}

/// A task that sleeps `seconds` on the virtual clock.
fn slow(seconds: u64) -> impl FnOnce(Script) -> Script {
    move |s| {
        s.on("svc", move |_, _, clock| async move {
            clock.sleep(Duration::from_secs(seconds)).await;
            Ok(json!("done"))
        })
    }
}

#[tokio::test]
async fn task_timeout_on_the_clock() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "svc", "TimeoutSeconds": 5,
        "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}], "End": true}}});
    let (r, script, clock) = run_script(def, json!({}), slow(60)).await;
    assert_eq!(failed(&r).0, "States.Timeout");
    assert_eq!(script.times("svc"), [0.0, 6.0]);
    assert_eq!(clock.elapsed(), Duration::from_secs(11));
    assert_eq!(r.events_of(EventType::TaskTimedOut).len(), 2);

    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "svc", "TimeoutSecondsPath": "$.limit", "End": true}}});
    let (r, _, clock) = run_script(def, json!({"limit": 120}), slow(60)).await;
    assert_eq!(output(&r), json!("done"));
    assert_eq!(clock.elapsed(), Duration::from_secs(60));
}

#[tokio::test]
async fn task_failed_does_not_match_timeouts() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "svc", "TimeoutSeconds": 1,
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"}, {"ErrorEquals": ["States.Timeout"], "Next": "Right"}],
              "End": true},
        "Wrong": {"Type": "Fail", "Error": "Wrong"},
        "Right": {"Type": "Succeed"}}});
    let (r, _, _) = run_script(def, json!({}), slow(10)).await;
    assert_eq!(output(&r), json!({"Error": "States.Timeout"}));
    assert_eq!(r.entered_states(), ["T", "Right"]);
}
