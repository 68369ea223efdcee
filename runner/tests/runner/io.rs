//! Input and output processing: InputPath, Parameters, ResultSelector, ResultPath, OutputPath.

use serde_json::json;

use crate::*;

fn lookup() -> impl FnOnce(Script) -> Script {
    |s| {
        s.on("lookup", |_, input, _| async move {
            Ok(json!({"service": {"id": "svc-1", "status": "AVAILABLE"}, "echo": input, "meta": 1}))
        })
    }
}

#[tokio::test]
async fn the_full_pipeline() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "lookup",
        "InputPath": "$.request",
        "Parameters": {"project.$": "$.projectId", "fixed": "yes", "regions.$": "$.endpoints[*].region"},
        "ResultSelector": {"serviceId.$": "$.service.id", "sent.$": "$.echo"},
        "ResultPath": "$.result",
        "OutputPath": "$.result",
        "End": true}}});
    let input = json!({"request": {"projectId": "p1", "endpoints": [{"region": "us-east-1"}, {"region": "eu-west-1"}]}, "other": 1});
    let (r, script, _) = run_script(def, input, lookup()).await;
    assert_eq!(
        script.calls()[0].input,
        json!({"project": "p1", "fixed": "yes", "regions": ["us-east-1", "eu-west-1"]})
    );
    assert_eq!(
        output(&r),
        json!({"serviceId": "svc-1", "sent": {"project": "p1", "fixed": "yes", "regions": ["us-east-1", "eu-west-1"]}})
    );
}

#[tokio::test]
async fn result_path_merges_into_the_raw_input() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "lookup",
        "InputPath": "$.a", "ResultSelector": {"id.$": "$.service.id"}, "ResultPath": "$.a.service", "End": true}}});
    let (r, _, _) = run_script(def, json!({"a": {"x": 1}, "b": 2}), lookup()).await;
    assert_eq!(
        output(&r),
        json!({"a": {"x": 1, "service": {"id": "svc-1"}}, "b": 2})
    );
}

#[tokio::test]
async fn result_path_null_discards_and_dollar_replaces() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "lookup", "ResultPath": null, "End": true}}});
    let (r, _, _) = run_script(def, json!({"keep": true}), lookup()).await;
    assert_eq!(output(&r), json!({"keep": true}));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "lookup", "ResultPath": "$",
        "ResultSelector": {"s.$": "$.service.status"}, "End": true}}});
    let (r, _, _) = run_script(def, json!({"keep": true}), lookup()).await;
    assert_eq!(
        output(&r),
        json!({"s": "AVAILABLE"}),
        "an explicit \"$\" replaces the input, no literal '$' key"
    );
}

#[tokio::test]
async fn null_input_and_output_paths_give_empty_objects() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": null, "ResultPath": "$.r", "End": true}}});
    let (r, _) = run(def, echo(), json!({"x": 1})).await;
    assert_eq!(output(&r), json!({"x": 1, "r": {}}));
    let def =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": null, "End": true}}});
    let (r, _) = run(def, echo(), json!({"x": 1})).await;
    assert_eq!(output(&r), json!({}));
}

#[tokio::test]
async fn pass_parameters_with_intrinsics_and_context() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {
            "name.$": "States.Format('atlas/{}/{}/privatelink', $.projectId, $.clusterName)",
            "state.$": "$$.State.Name",
            "count.$": "States.ArrayLength($.subnets)",
            "nested": {"first.$": "States.ArrayGetItem($.subnets, 0)"}
        },
        "ResultPath": "$.secret", "End": true}}});
    let (r, _) = run(
        def,
        echo(),
        json!({"projectId": "p", "clusterName": "c", "subnets": ["s1", "s2"]}),
    )
    .await;
    assert_eq!(
        output(&r)["secret"],
        json!({"name": "atlas/p/c/privatelink", "state": "P", "count": 2, "nested": {"first": "s1"}})
    );
}

#[tokio::test]
async fn path_failures_are_runtime_errors_that_catch_cannot_catch() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "lookup", "Parameters": {"id.$": "$.missing"},
              "Retry": [{"ErrorEquals": ["States.ALL"]}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}
    }});
    let (r, script, _) = run_script(def, json!({"a": 1}), lookup()).await;
    let (error, cause) = failed(&r);
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.contains("'$.missing'") && cause.contains("'id.$'") && cause.contains("state 'T'"),
        "{cause}"
    );
    assert!(script.calls().is_empty());
    assert_eq!(r.entered_states(), ["T"]);

    for (field, value) in [
        ("ResultPath", "$.a.b"),
        ("OutputPath", "$.nope"),
        ("InputPath", "$.nope"),
    ] {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "lookup", field: value,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": true}, "C": {"Type": "Succeed"}}});
        let (r, _, _) = run_script(def, json!({"a": "scalar"}), lookup()).await;
        assert_eq!(failed(&r).0, "States.Runtime", "{field}");
    }
}

#[tokio::test]
async fn wildcard_paths_give_arrays_even_when_empty() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"ids.$": "$.items[*].id", "none.$": "$.items[?(@.id > 5)].id"}, "End": true}}});
    let (r, _) = run(def, echo(), json!({"items": [{"id": 1}, {"id": 2}]})).await;
    assert_eq!(output(&r), json!({"ids": [1, 2], "none": []}));
}
