//! The EventBridge rules' patterns match the example events and not near misses, and both rules
//! invoke the dispatcher with a dead-letter queue and the Lambda permission for exactly that
//! rule. A small EventBridge matcher does the matching: exact values and nested objects, which
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

    // Both rules invoke the dispatcher, which lets EventBridge do so for exactly these rules.
    for (rule_name, rule) in [
        ("PrivateEndpointRequestedRule", request_rule),
        ("ControlTowerAccountCreatedRule", tower_rule),
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
