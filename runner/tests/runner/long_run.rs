//! A twenty-minute, Wait- and Retry-heavy provisioning-like execution, replayed on virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl_runner::{EventType, HistoryEvent, Runner, RunnerConfig};
use clock::VirtualClock;
use serde_json::json;

use crate::*;

fn definition() -> Value {
    json!({
        "StartAt": "Validate",
        "States": {
            "Validate": {"Type": "Task", "Resource": "validate", "ResultPath": null, "Next": "EnsureService"},
            "EnsureService": {"Type": "Task", "Resource": "ensureService", "ResultPath": "$.service", "Next": "GetServiceName"},
            "GetServiceName": {"Type": "Task", "Resource": "getServiceName", "ResultPath": "$.serviceName",
                "Retry": [{"ErrorEquals": ["EndpointServiceNotReady"], "IntervalSeconds": 10, "BackoffRate": 1.5,
                           "MaxDelaySeconds": 60, "MaxAttempts": 50}],
                "Next": "Regions"},
            "Regions": {"Type": "Map", "ItemsPath": "$.endpoints", "ResultPath": "$.endpoints",
                "ItemProcessor": {"StartAt": "CreateEndpoint", "States": {
                    "CreateEndpoint": {"Type": "Task", "Resource": "createEndpoint", "ResultPath": "$.created", "Next": "Check"},
                    "Check": {"Type": "Task", "Resource": "check", "ResultPath": "$.status", "Next": "Available?"},
                    "Available?": {"Type": "Choice", "Choices": [
                        {"Variable": "$.status", "StringEquals": "AVAILABLE", "Next": "EndpointDone"}], "Default": "PollWait"},
                    "PollWait": {"Type": "Wait", "Seconds": 30, "Next": "Check"},
                    "EndpointDone": {"Type": "Succeed"}
                }},
                "Next": "WaitForStrings"},
            "WaitForStrings": {"Type": "Wait", "Seconds": 300, "Next": "GetConnectionStrings"},
            "GetConnectionStrings": {"Type": "Task", "Resource": "getConnectionStrings", "ResultPath": "$.secret",
                "Retry": [{"ErrorEquals": ["ConnectionStringsNotReady"], "IntervalSeconds": 60, "BackoffRate": 1, "MaxAttempts": 20}],
                "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }
    })
}

fn secs(clock: &VirtualClock) -> f64 {
    clock.elapsed().as_secs_f64()
}

fn script(s: Script) -> Script {
    s.on("validate", |_, _, _| async { Ok(json!({"valid": true})) })
        .on("ensureService", |_, _, _| async { Ok(json!({"id": "svc-1", "created": true})) })
        .on("getServiceName", |_, _, clock| async move {
            if secs(&clock) >= 150.0 {
                Ok(json!("com.amazonaws.vpce.us-east-1.vpce-svc-1"))
            } else {
                Err(TaskFailure::new("EndpointServiceNotReady", "INITIATING"))
            }
        })
        .on("createEndpoint", |_, _, clock| async move { Ok(json!({"at": secs(&clock)})) })
        .on("check", |_, input, clock| async move {
            let created = input["created"]["at"].as_f64().unwrap_or(0.0);
            let ready_after = input["readyAfter"].as_f64().unwrap_or(0.0);
            Ok(json!(if secs(&clock) - created >= ready_after { "AVAILABLE" } else { "PENDING" }))
        })
        .on("getConnectionStrings", |_, _, clock| async move {
            if secs(&clock) >= 1200.0 {
                Ok(json!({"connectionStringPrivateSrv": "mongodb+srv://cluster0-pl-0.example.mongodb.net"}))
            } else {
                Err(TaskFailure::new("ConnectionStringsNotReady", "cluster not IDLE"))
            }
        })
}

#[tokio::test]
async fn twenty_minutes_replay_on_virtual_time_in_real_time_order() {
    let clock = VirtualClock::starting_at(origin());
    let script = Arc::new(script(Script::new(&clock)));
    let live: Arc<Mutex<Vec<HistoryEvent>>> = Arc::default();
    let sink = live.clone();
    let config = RunnerConfig::virtual_time(clock.clone())
        .listener(move |e| sink.lock().expect("live").push(e.clone()));
    let runner = Runner::new(machine(definition()), script.clone(), config);
    let input = json!({"endpoints": [{"region": "us-east-1", "readyAfter": 200}, {"region": "eu-west-1", "readyAfter": 120}]});
    let r = runner.run(input).await;

    let out = output(&r);
    assert_eq!(
        out["secret"]["connectionStringPrivateSrv"],
        "mongodb+srv://cluster0-pl-0.example.mongodb.net"
    );
    assert_eq!(out["endpoints"][0]["status"], "AVAILABLE");
    assert_eq!(out["endpoints"][1]["status"], "AVAILABLE");

    // Service name: attempts back off 10, 15, 22.5, 33.75, 50.625 then the 60 s cap.
    assert_eq!(
        script.times("getServiceName"),
        [0.0, 10.0, 25.0, 47.5, 81.25, 131.875, 191.875]
    );
    // The endpoints poll every 30 s from 191.875 s: eu-west-1 is ready after 120 s, us-east-1 after 200 s.
    let checks = script.times("check");
    assert_eq!(checks.len(), 5 + 8);
    assert_eq!(checks.first(), Some(&191.875));
    assert_eq!(checks.last(), Some(&401.875));
    // Then 300 s of waiting and one-minute retries until the strings appear at 20 min.
    let strings = script.times("getConnectionStrings");
    assert_eq!(strings.first(), Some(&701.875));
    assert_eq!(strings.last(), Some(&1241.875));
    assert_eq!(strings.len(), 10);
    assert_eq!(clock.elapsed(), Duration::from_millis(1_241_875));
    assert_eq!(r.duration(), Duration::from_millis(1_241_875));

    // Events come in time order, and the faster region's iteration finishes first.
    assert!(
        r.events
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp),
        "timestamps never go back"
    );
    assert!(r.events.windows(2).all(|w| w[0].id + 1 == w[1].id));
    let finished: Vec<Option<usize>> = r
        .events_of(EventType::MapIterationSucceeded)
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(finished, [Some(1), Some(0)]);
    let entered = r.entered_states();
    assert_eq!(
        entered[..4],
        ["Validate", "EnsureService", "GetServiceName", "Regions"]
    );
    assert_eq!(
        entered[entered.len() - 3..],
        ["WaitForStrings", "GetConnectionStrings", "Done"]
    );
    assert_eq!(entered.iter().filter(|s| **s == "PollWait").count(), 4 + 7);
    // 7 top-level states, 2 × (CreateEndpoint + EndpointDone), 13 × (Check + Choice),
    // 11 PollWait, plus 6 + 9 retries.
    assert_eq!(r.state_transitions, 7 + 4 + 26 + 11 + 15);
    assert_eq!(r.events_of(EventType::ExecutionSucceeded).len(), 1);

    // The listener saw the same history, live.
    assert_eq!(*live.lock().expect("live"), r.events);
}

#[tokio::test]
async fn concurrent_executions_share_one_virtual_clock() {
    // Two executions on one clock: their waits interleave as they would in real time.
    let clock = VirtualClock::starting_at(origin());
    let def = |seconds: u64| json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": true}}});
    let a = Runner::new(
        machine(def(100)),
        echo(),
        RunnerConfig::virtual_time(clock.clone()),
    );
    let b = Runner::new(
        machine(def(40)),
        echo(),
        RunnerConfig::virtual_time(clock.clone()),
    );
    let (ra, rb) = clock
        .idle_while(async { tokio::join!(a.run(json!({})), b.run(json!({}))) })
        .await;
    assert_eq!(ra.duration(), Duration::from_secs(100));
    assert_eq!(rb.duration(), Duration::from_secs(40));
    assert_eq!(clock.elapsed(), Duration::from_secs(100));
}
