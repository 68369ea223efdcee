//! Definitions are validated when loaded; unsupported features are errors naming state and field.

use std::collections::HashMap;

use asl_runner::{DefinitionErrors, StateMachine, load_definition};
use serde_json::{Value, json};

fn errors(definition: Value) -> DefinitionErrors {
    match StateMachine::from_value(&definition) {
        Ok(_) => panic!("expected the definition to be rejected: {definition}"),
        Err(e) => e,
    }
}

fn assert_rejected(definition: Value, needles: &[&str]) {
    let e = errors(definition);
    for needle in needles {
        assert!(e.mentions(needle), "expected '{needle}' in:\n{e}");
    }
}

#[test]
fn unsupported_features_are_named() {
    assert_rejected(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        &["field 'QueryLanguage'", "JSONata is not supported"],
    );
    assert_rejected(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "End": true}}}),
        &[
            "state 'A', field 'QueryLanguage'",
            "state 'A', field 'Output': is a JSONata field",
        ],
    );
    assert_rejected(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
            "ItemBatcher": {"MaxItemsPerBatch": 2}, "ResultWriter": {}, "ToleratedFailurePercentage": 5,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}),
        &[
            "state 'M', field 'ItemReader': belongs to Distributed Map",
            "state 'M', field 'ItemBatcher'",
            "state 'M', field 'ResultWriter'",
            "state 'M', field 'ToleratedFailurePercentage'",
            "state 'M', field 'ItemProcessor.ProcessorConfig.Mode': Distributed Map",
            "state 'M', field 'ItemProcessor.ProcessorConfig.ExecutionType'",
        ],
    );
    assert_rejected(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Credentials": {"RoleArn": "x"}, "HeartbeatSeconds": 60, "End": true}}}),
        &[
            "state 'T', field 'Resource': the .waitForTaskToken callback pattern is not supported",
            "state 'T', field 'Credentials'",
            "state 'T', field 'HeartbeatSeconds'",
        ],
    );
    assert_rejected(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:approve", "End": true}}}),
        &["state 'T', field 'Resource': Activities are not supported"],
    );
    assert_rejected(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"x": 1}, "End": true}}}),
        &["state 'A', field 'Assign': workflow variables"],
    );
}

#[test]
fn unknown_and_misplaced_fields_are_errors() {
    assert_rejected(
        json!({"StartAt": "A", "Bogus": 1, "States": {"A": {"Type": "Pass", "Resultpath": "$.x", "Seconds": 5, "End": true,
            "Retry": [{"ErrorEquals": ["X"], "Intervalseconds": 3}]}}}),
        &[
            "field 'Bogus': unknown top-level field",
            "state 'A', field 'Resultpath': unknown field",
            "state 'A', field 'Seconds': is not allowed in a Pass state",
            "state 'A', field 'Retry': is not allowed in a Pass state",
        ],
    );
    assert_rejected(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["X"], "Intervalseconds": 3, "BackoffRate": 0.5, "JitterStrategy": "SOME"}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "T", "Bogus": true}, {"ErrorEquals": ["States.Nope"], "Next": "T"}]}}}),
        &[
            "field 'Retry[0].Intervalseconds': unknown field in a retrier",
            "field 'Retry[0].BackoffRate'",
            "field 'Retry[0].JitterStrategy'",
            "field 'Catch[0].Bogus'",
            "a catcher for States.ALL must be the last one",
            "unknown error name 'States.Nope'",
        ],
    );
}

#[test]
fn structure_is_checked() {
    assert_rejected(
        json!({"StartAt": "Nowhere", "States": {
            "A": {"Type": "Pass", "Next": "Missing"},
            "B": {"Type": "Pass"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "Gone"}], "Default": "Lost"},
            "D": {"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Away"}]},
            "E": {"Type": "Succeed", "Next": "A"},
            "F": {"Type": "Wait", "End": true},
            "G": {"Type": "Banana", "End": true},
            "H": {"Type": "Pass", "Next": "A", "End": true},
            "P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "A", "States": {"X": {"Type": "Pass", "Next": "A"}}}]}
        }}),
        &[
            "field 'StartAt': 'Nowhere' is not a state",
            "state 'A', field 'Next': 'Missing' is not a state",
            "state 'B': a non-terminal state needs either Next",
            "state 'C', field 'Choices[0].Next': 'Gone'",
            "state 'C', field 'Default': 'Lost'",
            "state 'D', field 'Catch[0].Next': 'Away'",
            "state 'E', field 'Next': a Succeed state is terminal",
            "state 'F': a Wait state needs exactly one of",
            "state 'G', field 'Type': unknown state type 'Banana'",
            "state 'H', field 'Next': a state cannot have both",
            "state 'P', field 'Branches[0].StartAt': 'A' is not a state of this branch",
            "state 'X', field 'Next': 'A' is not a state in the same scope",
        ],
    );
    assert_rejected(
        json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}]}}}),
        &["state 'A': state names must be unique"],
    );
}

#[test]
fn paths_and_templates_are_checked() {
    assert_rejected(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "ResultPath": "$.items[*]", "InputPath": "$.a[", "Parameters": {"x.$": 3, "y.$": "nope",
                  "z.$": "States.Format('{}')", "w.$": "States.Nope()"}, "Next": "B"},
            "B": {"Type": "Pass", "ResultPath": "$$.Execution", "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$..items", "ItemProcessor": {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}, "End": true}
        }}),
        &[
            "state 'A', field 'ResultPath': '$.items[*]' must be a reference path",
            "state 'A', field 'InputPath': '$.a[' is not a valid JSONPath",
            "state 'A', field 'Parameters'",
            "state 'B', field 'ResultPath'",
            "state 'M', field 'ItemsPath': '$..items' must be a reference path",
        ],
    );
    for (param, needle) in [
        (json!({"x.$": 3}), "must be a string"),
        (json!({"y.$": "nope"}), "must be a path"),
        (json!({"z.$": "States.Format('{}')"}), "placeholder"),
        (
            json!({"w.$": "States.Nope()"}),
            "unknown intrinsic function 'States.Nope'",
        ),
    ] {
        assert_rejected(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": param, "End": true}}}),
            &[needle],
        );
    }
}

#[test]
fn substitutions_are_applied_before_parsing() {
    let text = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${ValidateFn}", "End": true}}}"#;
    let subs = HashMap::from([(
        "ValidateFn".to_string(),
        "arn:aws:lambda:us-east-1:123456789012:function:validate".to_string(),
    )]);
    let machine = load_definition(text, &subs).expect("loads");
    assert_eq!(
        machine.task_resources(),
        ["arn:aws:lambda:us-east-1:123456789012:function:validate"]
    );
    assert_eq!(machine.state_names(), ["T"]);
    let e = load_definition(text, &HashMap::new()).expect_err("unresolved");
    assert!(e.mentions("unresolved substitution '${ValidateFn}'"), "{e}");
    let e = load_definition("{not json", &HashMap::new()).expect_err("bad json");
    assert!(e.mentions("not valid JSON"), "{e}");
}

#[test]
fn a_valid_definition_with_everything_loads() {
    let def = json!({
        "Comment": "all supported features", "Version": "1.0", "QueryLanguage": "JSONPath", "TimeoutSeconds": 7200,
        "StartAt": "Validate",
        "States": {
            "Validate": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Comment": "c",
                "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "ResultSelector": {"r.$": "$.Payload"},
                "ResultPath": "$.validated", "OutputPath": "$", "InputPath": "$", "TimeoutSeconds": 60,
                "Retry": [{"ErrorEquals": ["AtlasRateLimited", "AwsThrottled"], "IntervalSeconds": 2, "MaxAttempts": 6,
                           "BackoffRate": 2.0, "MaxDelaySeconds": 60, "JitterStrategy": "FULL", "Comment": "c"}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fail", "Comment": "c"}],
                "Next": "Regions"},
            "Regions": {"Type": "Map", "ItemsPath": "$.endpoints", "MaxConcurrency": 4,
                "ItemSelector": {"e.$": "$$.Map.Item.Value"}, "ResultPath": "$.regions",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Wait",
                    "States": {"Wait": {"Type": "Wait", "SecondsPath": "$.e.delay", "Next": "ItemDone"}, "ItemDone": {"Type": "Succeed"}}},
                "Next": "Both"},
            "Both": {"Type": "Parallel", "ResultPath": null, "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}}], "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Not": {"Variable": "$.ok", "BooleanEquals": false}, "Next": "Done"}], "Default": "Fail"},
            "Done": {"Type": "Succeed"},
            "Fail": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
        }
    });
    let m = StateMachine::from_value(&def).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.start_at(), "Validate");
    assert_eq!(m.comment(), Some("all supported features"));
    assert_eq!(m.state_names().len(), 9);
}
