//! The EventBridge rules' patterns match the example events and not near misses, and the rules
//! invoke the dispatcher with a dead-letter queue and the Lambda permission for exactly that
//! rule; the drift schedule invokes it with the payload it takes for a sweep. A small EventBridge matcher does the matching: exact values and nested objects, which
//! is all our patterns use (anything else is refused, not half-understood).

use serde_json::{Value, json};

use super::{TEMPLATE, load_template, of_type, read_json, resource, target_of};

/// Whether `event` matches an EventBridge `pattern`, for the parts of the pattern language our
/// rules use: arrays of exact values (a match when the event's value, or one of the values of
/// an event array, is in the list) and nested objects. A pattern using anything else (`prefix`,
/// `anything-but`, `exists`, numeric ranges, …) panics rather than being half-understood.
fn matches(pattern: &Value, event: &Value) -> bool {
    let pattern = pattern
        .as_object()
        .unwrap_or_else(|| panic!("a pattern is an object: {pattern}"));
    pattern.iter().all(|(key, expected)| {
        let Some(actual) = event.get(key) else {
            return false;
        };
        match expected {
            Value::Object(_) => actual.is_object() && matches(expected, actual),
            Value::Array(values) => {
                if let Some(filter) = values.iter().find(|v| v.is_object() || v.is_array()) {
                    panic!("content filter {filter} in the pattern is not supported here");
                }
                match actual {
                    Value::Array(items) => items.iter().any(|item| values.contains(item)),
                    Value::Object(_) => false,
                    scalar => values.contains(scalar),
                }
            }
            other => {
                panic!("pattern value {other} for {key}: EventBridge wants an array or an object")
            }
        }
    })
}

#[test]
fn the_matcher_follows_eventbridge() {
    let pattern = json!({"source": ["a", "b"], "detail": {"x": ["1"], "y": [true]}});
    assert!(matches(
        &pattern,
        &json!({"source": "a", "detail": {"x": "1", "y": true, "z": 0}})
    ));
    assert!(matches(
        &pattern,
        &json!({"source": "b", "detail": {"x": ["0", "1"], "y": [true]}})
    ));
    assert!(!matches(
        &pattern,
        &json!({"source": "c", "detail": {"x": "1", "y": true}})
    ));
    assert!(!matches(
        &pattern,
        &json!({"source": "a", "detail": {"x": "1"}})
    ));
    assert!(!matches(
        &pattern,
        &json!({"source": "a", "detail": {"x": {"1": 1}, "y": true}})
    ));
    assert!(!matches(&pattern, &json!({"source": "a", "detail": "x"})));
    assert!(!matches(&pattern, &json!({"source": "a"})));
    let unsupported = std::panic::catch_unwind(|| {
        matches(
            &json!({"source": [{"prefix": "a"}]}),
            &json!({"source": "ab"}),
        )
    });
    assert!(
        unsupported.is_err(),
        "content filters are refused, not ignored"
    );
}

/// A copy of `event` with the value at `pointer` replaced (or removed, for `None`).
fn with(event: &Value, pointer: &str, value: Option<Value>) -> Value {
    let mut copy = event.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let parent = copy
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"));
    assert!(parent.contains_key(key), "the example has {pointer}");
    match value {
        Some(v) => parent.insert(key.to_owned(), v),
        None => parent.remove(key),
    };
    copy
}

#[test]
fn event_rules_match_the_example_events_and_not_near_misses() {
    let template = load_template(TEMPLATE);
    let request_rule = resource(&template, "PrivateEndpointRequestedRule");
    let tower_rule = resource(&template, "ControlTowerAccountCreatedRule");
    let request_pattern = &request_rule["Properties"]["EventPattern"];
    let tower_pattern = &tower_rule["Properties"]["EventPattern"];
    let request_event = read_json("examples/eventbridge-event.json");
    let tower_event = read_json("examples/control-tower-event.json");

    assert!(
        matches(request_pattern, &request_event),
        "the request rule misses examples/eventbridge-event.json"
    );
    assert!(
        matches(tower_pattern, &tower_event),
        "the Control Tower rule misses examples/control-tower-event.json"
    );
    assert!(!matches(request_pattern, &tower_event));
    assert!(!matches(tower_pattern, &request_event));

    let request_misses = [
        (
            "another detail-type",
            with(
                &request_event,
                "/detail-type",
                Some(json!("PrivateEndpointRemoved")),
            ),
        ),
        (
            "detail-type in another case",
            with(
                &request_event,
                "/detail-type",
                Some(json!("privateendpointrequested")),
            ),
        ),
        (
            "another source",
            with(
                &request_event,
                "/source",
                Some(json!("atlas-privatelink.test")),
            ),
        ),
        ("no source", with(&request_event, "/source", None)),
    ];
    for (what, event) in &request_misses {
        assert!(
            !matches(request_pattern, event),
            "the request rule matches {what}"
        );
    }
    let status = "/detail/serviceEventDetails/createManagedAccountStatus";
    let tower_misses = [
        (
            "state FAILED",
            with(
                &tower_event,
                &format!("{status}/state"),
                Some(json!("FAILED")),
            ),
        ),
        (
            "state IN_PROGRESS",
            with(
                &tower_event,
                &format!("{status}/state"),
                Some(json!("IN_PROGRESS")),
            ),
        ),
        (
            "UpdateManagedAccount",
            with(
                &tower_event,
                "/detail/eventName",
                Some(json!("UpdateManagedAccount")),
            ),
        ),
        (
            "an API call, not a service event",
            with(
                &tower_event,
                "/detail-type",
                Some(json!("AWS API Call via CloudTrail")),
            ),
        ),
        (
            "another source",
            with(&tower_event, "/source", Some(json!("aws.organizations"))),
        ),
        ("no status", with(&tower_event, status, None)),
    ];
    for (what, event) in &tower_misses {
        assert!(
            !matches(tower_pattern, event),
            "the Control Tower rule matches {what}"
        );
    }

    // The rules invoke the dispatcher, which lets EventBridge do so for exactly these rules.
    let rotation_rule = resource(&template, "DatabaseUserRotatedRule");
    for (rule_name, rule) in [
        ("PrivateEndpointRequestedRule", request_rule),
        ("ControlTowerAccountCreatedRule", tower_rule),
        ("DatabaseUserRotatedRule", rotation_rule),
    ] {
        let targets = rule["Properties"]["Targets"].as_array().expect("Targets");
        assert_eq!(targets.len(), 1, "{rule_name}: one target");
        assert_eq!(
            target_of(&targets[0]["Arn"]),
            Some("DispatcherFunction"),
            "{rule_name}"
        );
        assert!(
            targets[0]["DeadLetterConfig"]["Arn"].is_object(),
            "{rule_name}: dead-letter queue"
        );
        let permitted = of_type(&template, "AWS::Lambda::Permission")
            .into_iter()
            .any(|(_, permission)| {
                let p = &permission["Properties"];
                p["Action"] == "lambda:InvokeFunction"
                    && p["Principal"] == "events.amazonaws.com"
                    && target_of(&p["FunctionName"]) == Some("DispatcherFunction")
                    && p["SourceArn"] == json!({"Fn::GetAtt": [rule_name, "Arn"]})
                    // Created exactly when the rule is.
                    && permission.get("Condition") == rule.get("Condition")
            });
        assert!(
            permitted,
            "{rule_name}: no Lambda permission for EventBridge from this rule"
        );
    }
}

#[test]
fn the_rotation_rule_and_the_drift_schedule_reach_the_dispatcher_with_what_it_accepts() {
    use privatelink_dispatcher::Trigger;

    let template = load_template(TEMPLATE);
    let rule = resource(&template, "DatabaseUserRotatedRule");
    let pattern = &rule["Properties"]["EventPattern"];
    let rotation = read_json("examples/rotation-succeeded-event.json");
    assert!(
        matches(pattern, &rotation),
        "the rotation rule misses examples/rotation-succeeded-event.json"
    );
    for other in [
        "examples/eventbridge-event.json",
        "examples/control-tower-event.json",
    ] {
        assert!(!matches(pattern, &read_json(other)), "{other}");
    }
    let misses = [
        (
            "a rotation that failed",
            with(
                &rotation,
                "/detail/eventName",
                Some(json!("RotationFailed")),
            ),
        ),
        (
            "a rotation that started",
            with(
                &rotation,
                "/detail/eventName",
                Some(json!("RotationStarted")),
            ),
        ),
        (
            "an API call (PutSecretValue and the like)",
            with(
                &rotation,
                "/detail-type",
                Some(json!("AWS API Call via CloudTrail")),
            ),
        ),
        (
            "another source",
            with(&rotation, "/source", Some(json!("aws.kms"))),
        ),
    ];
    for (what, event) in &misses {
        assert!(!matches(pattern, event), "the rotation rule matches {what}");
    }
    // What the rule passes, the dispatcher reads as a rotation of the example's secret.
    match Trigger::from_event(&rotation) {
        Some(Ok(Trigger::Rotation(r))) => assert_eq!(
            Some(r.secret_id.as_str()),
            rotation["detail"]["additionalEventData"]["SecretId"].as_str()
        ),
        other => panic!("the dispatcher does not take the example rotation: {other:?}"),
    }
    // Its dead letters are accepted by the queue's policy, like the other rules'.
    let policy = resource(&template, "DispatchDeadLetterQueuePolicy");
    let sources = policy["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]
        ["aws:SourceArn"]
        .to_string();
    assert!(sources.contains("DatabaseUserRotatedRule"), "{sources}");

    // The drift schedule: off when DriftCheckIntervalHours is 0, on time (no flexible
    // window), the dispatcher as its target, through a role of its own, with the payload the
    // dispatcher takes for a sweep once Scheduler has filled in the tick's time.
    let schedule = resource(&template, "DriftCheckSchedule");
    assert_eq!(schedule["Type"], "AWS::Scheduler::Schedule");
    assert_eq!(schedule["Condition"], "DriftCheckEnabled");
    assert_eq!(
        template["Conditions"]["DriftCheckEnabled"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "DriftCheckIntervalHours"}, "0"]}]})
    );
    let props = &schedule["Properties"];
    assert_eq!(props["FlexibleTimeWindow"]["Mode"], "OFF");
    let expression = props["ScheduleExpression"].to_string();
    assert!(
        expression.contains("rate(1 hour)")
            && expression.contains("rate(${DriftCheckIntervalHours} hours)"),
        "{expression}"
    );
    let target = &props["Target"];
    assert_eq!(target_of(&target["Arn"]), Some("DispatcherFunction"));
    assert_eq!(
        target_of(&target["RoleArn"]),
        Some("DriftCheckSchedulerRole")
    );
    assert!(target["RetryPolicy"]["MaximumRetryAttempts"].as_u64() > Some(0));
    let input = target["Input"].as_str().expect("a fixed Input");
    assert!(input.contains("<aws.scheduler.scheduled-time>"), "{input}");
    let tick: Value = serde_json::from_str(
        &input.replace("<aws.scheduler.scheduled-time>", "2025-11-23T12:00:00Z"),
    )
    .expect("the Input is JSON");
    assert_eq!(
        Trigger::from_event(&tick),
        Some(Ok(Trigger::Schedule {
            scheduled_time: "2025-11-23T12:00:00Z".into()
        }))
    );
    // Scheduler assumes that role, for this account only.
    let role = resource(&template, "DriftCheckSchedulerRole");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "scheduler.amazonaws.com");
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!({"Ref": "AWS::AccountId"})
    );
}
