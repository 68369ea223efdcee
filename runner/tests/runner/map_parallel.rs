//! Map (concurrency, item selection, failures) and Parallel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asl_runner::EventType;
use clock::Clock;
use serde_json::json;

use crate::*;

fn map_def(max_concurrency: u64) -> Value {
    json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.endpoints", "MaxConcurrency": max_concurrency,
        "ItemSelector": {"region.$": "$$.Map.Item.Value.region", "index.$": "$$.Map.Item.Index", "project.$": "$.projectId"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": "work", "End": true}}},
        "ResultPath": "$.results", "End": true}}})
}

fn endpoints(n: usize) -> Value {
    let items: Vec<Value> = (0..n).map(|i| json!({"region": format!("r{i}")})).collect();
    json!({"projectId": "p", "endpoints": items})
}

/// Each item sleeps 10 s on the clock; tracks the peak number running at once.
fn tracked(peak: Arc<AtomicUsize>) -> impl FnOnce(Script) -> Script {
    let running = Arc::new(AtomicUsize::new(0));
    move |s| {
        s.on("work", move |_, input, clock| {
            let (running, peak) = (running.clone(), peak.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                clock.sleep(Duration::from_secs(10)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(json!({"done": input["region"].clone(), "index": input["index"].clone()}))
            }
        })
    }
}

#[tokio::test]
async fn map_runs_items_concurrently_up_to_max_concurrency() {
    for (max, expected_peak, expected_seconds) in [(2u64, 2usize, 30u64), (0, 5, 10), (1, 1, 50)] {
        let peak = Arc::new(AtomicUsize::new(0));
        let (r, script, clock) =
            run_script(map_def(max), endpoints(5), tracked(peak.clone())).await;
        let out = output(&r);
        let results = out["results"].as_array().expect("results");
        assert_eq!(results.len(), 5);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(
                result,
                &json!({"done": format!("r{i}"), "index": i}),
                "results keep item order"
            );
        }
        assert_eq!(
            peak.load(Ordering::SeqCst),
            expected_peak,
            "MaxConcurrency {max}"
        );
        assert_eq!(
            clock.elapsed(),
            Duration::from_secs(expected_seconds),
            "MaxConcurrency {max}"
        );
        assert_eq!(
            script.calls()[0].input,
            json!({"region": "r0", "index": 0, "project": "p"})
        );
        assert_eq!(r.events_of(EventType::MapIterationSucceeded).len(), 5);
        assert_eq!(r.events_of(EventType::MapStateStarted)[0].length, Some(5));
        assert_eq!(r.state_transitions, 6);
    }
}

#[tokio::test]
async fn config_caps_unbounded_map_concurrency() {
    let peak = Arc::new(AtomicUsize::new(0));
    let clock = clock::VirtualClock::starting_at(origin());
    let script = Arc::new(tracked(peak.clone())(Script::new(&clock)));
    let config = asl_runner::RunnerConfig::virtual_time(clock.clone()).max_concurrency(3);
    let runner = asl_runner::Runner::new(machine(map_def(0)), script, config);
    assert!(runner.run(endpoints(7)).await.succeeded());
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    assert_eq!(clock.elapsed(), Duration::from_secs(30));
}

#[tokio::test]
async fn a_failing_iteration_fails_the_map_and_cancels_the_rest() {
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "MaxConcurrency": 2, "ItemsPath": "$.items",
              "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "work", "End": true}}},
              "Catch": [{"ErrorEquals": ["RegionBroken"], "ResultPath": "$.error", "Next": "Rollback"}],
              "End": true},
        "Rollback": {"Type": "Pass", "End": true}}});
    let (r, script, clock) = run_script(def, json!({"items": [1, 2, 3, 4, 5]}), |s| {
        s.on("work", |_, input, clock| async move {
            let n = input.as_u64().unwrap_or(0);
            clock.sleep(Duration::from_secs(n * 10)).await;
            if n == 2 {
                Err(TaskFailure::new("RegionBroken", "item 2"))
            } else {
                Ok(input)
            }
        })
    })
    .await;
    // Item 1 finishes at 10 s and item 3 starts then; item 2 fails at 20 s while item 3 runs.
    assert_eq!(clock.elapsed(), Duration::from_secs(20));
    assert_eq!(
        script.times("work"),
        [0.0, 0.0, 10.0],
        "queued items 4 and 5 never start"
    );
    assert_eq!(
        output(&r),
        json!({"items": [1, 2, 3, 4, 5], "error": {"Error": "RegionBroken", "Cause": "item 2"}})
    );
    let aborted: Vec<Option<usize>> = r
        .events_of(EventType::MapIterationAborted)
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(aborted, [Some(2)]);
    let failed_iterations: Vec<Option<usize>> = r
        .events_of(EventType::MapIterationFailed)
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(failed_iterations, [Some(1)]);
    assert_eq!(r.events_of(EventType::MapStateFailed).len(), 1);
    assert_eq!(
        r.entered_states(),
        ["M", "Work", "Work", "Work", "Rollback"]
    );

    // A ResultPath cannot be applied to an array input: that is a runtime error, not caught.
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}},
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rollback"}], "End": true},
        "Rollback": {"Type": "Pass", "End": true}}});
    let (r, _) = run(def, echo(), json!([1])).await;
    assert_eq!(failed(&r).0, "States.Runtime");
}

#[tokio::test]
async fn legacy_iterator_and_parameters() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.xs",
        "Parameters": {"x.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}});
    let (r, _) = run(def, echo(), json!({"xs": ["a", "b"]})).await;
    assert_eq!(output(&r), json!([{"x": "a", "i": 0}, {"x": "b", "i": 1}]));
}

#[tokio::test]
async fn map_over_an_empty_array_and_a_non_array() {
    let (r, _) = run(
        map_def(0),
        echo(),
        json!({"projectId": "p", "endpoints": []}),
    )
    .await;
    assert_eq!(output(&r)["results"], json!([]));
    let (r, _) = run(
        map_def(0),
        echo(),
        json!({"projectId": "p", "endpoints": {"not": "array"}}),
    )
    .await;
    let (error, cause) = failed(&r);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("must reference a JSON array"), "{cause}");
}

#[tokio::test]
async fn parallel_branches_and_result_selector() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel",
        "Parameters": {"id.$": "$.id"},
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 5, "Next": "A2"}, "A2": {"Type": "Pass", "Result": "a", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "b", "End": true}}}
        ],
        "ResultSelector": {"a.$": "$[0]", "b.$": "$[1].id"},
        "ResultPath": "$.parallel", "End": true}}});
    let (r, script, clock) = run_script(def, json!({"id": 9}), |s| {
        s.on("b", |_, input, clock| async move {
            clock.sleep(Duration::from_secs(2)).await;
            Ok(input)
        })
    })
    .await;
    assert_eq!(output(&r), json!({"id": 9, "parallel": {"a": "a", "b": 9}}));
    assert_eq!(script.calls()[0].input, json!({"id": 9}));
    assert_eq!(clock.elapsed(), Duration::from_secs(5));
    // Real-time order: B's task ends at 2 s, before A's wait ends at 5 s.
    let order: Vec<String> = r
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.event_type,
                EventType::TaskSucceeded | EventType::WaitStateExited
            )
        })
        .map(|e| e.event_type.to_string())
        .collect();
    assert_eq!(order, ["TaskSucceeded", "WaitStateExited"]);
    assert_eq!(r.state_transitions, 4);
    assert_eq!(
        types(&r)[..3],
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted"
        ]
    );
    assert_eq!(
        types(&r)[types(&r).len() - 3..],
        [
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn a_failing_branch_fails_the_parallel_and_can_be_retried_or_caught() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel",
              "Branches": [
                {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 100, "End": true}}},
                {"StartAt": "Boom", "States": {"Boom": {"Type": "Task", "Resource": "boom", "End": true}}}
              ],
              "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}],
              "End": true},
        "Handle": {"Type": "Pass", "End": true}}});
    let (r, script, clock) = run_script(def, json!({}), |s| {
        s.on("boom", |_, _, clock| async move {
            clock.sleep(Duration::from_secs(3)).await;
            Err(TaskFailure::new("Flaky", "no"))
        })
    })
    .await;
    assert_eq!(
        script.times("boom"),
        [0.0, 4.0],
        "the whole Parallel is retried"
    );
    assert_eq!(
        clock.elapsed(),
        Duration::from_secs(7),
        "the slow branch is cancelled each time"
    );
    assert_eq!(
        output(&r),
        json!({"error": {"Error": "Flaky", "Cause": "no"}})
    );
    assert_eq!(r.events_of(EventType::ParallelStateFailed).len(), 2);
}

#[tokio::test]
async fn fail_state_inside_a_branch_propagates_its_error() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ItemBad", "Cause": "x"}}},
        "End": true}}});
    let (r, _) = run(def, echo(), json!([1])).await;
    assert_eq!(failed(&r), ("ItemBad".into(), "x".into()));
}
