//! The completion events (`docs/events/`): every example validates against its schema, and
//! the state machines, run locally, publish what the schemas and the README promise: read back
//! from moto's EventBridge through devstack's event tap (`LocalWorld::events_of`).

use std::path::PathBuf;
use std::time::Duration;

use asl_runner::ExecutionResult;
use atlas_privatelink::machines::Machine;
use atlas_sim::Outcome;
use clock::Clock;
use devstack::PublishedEvent;
use integration_tests::world::{World, assert_succeeded, failure};
use privatelink_core::steps::Step;
use serde_json::{Value, json};

/// The detail types, one schema and one example each.
const DETAIL_TYPES: [&str; 5] = [
    "PrivateEndpointReady",
    "PrivateEndpointFailed",
    "PrivateEndpointTornDown",
    "PrivateEndpointDrifted",
    "PrivateEndpointRepaired",
];

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/events")
}

fn read_json(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema of `detail_type`'s detail, compiled (draft 2020-12).
fn validator(detail_type: &str) -> jsonschema::Validator {
    let schema = read_json(&docs().join(format!("{detail_type}.schema.json")));
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "{detail_type}: draft 2020-12"
    );
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{detail_type}: {e}"))
}

/// Fails the test with every violation when `detail` does not match its type's schema.
fn assert_valid(detail_type: &str, detail: &Value) {
    let errors: Vec<String> = validator(detail_type)
        .iter_errors(detail)
        .map(|e| format!("{e} at {}", e.instance_path().as_str()))
        .collect();
    assert!(
        errors.is_empty(),
        "{detail_type} detail does not match its schema:\n{}\n{detail:#}",
        errors.join("\n")
    );
}

#[test]
fn every_example_is_a_whole_event_whose_detail_validates_against_its_schema() {
    for detail_type in DETAIL_TYPES {
        let example = read_json(&docs().join(format!("examples/{detail_type}.json")));
        for field in [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        ] {
            assert!(
                example.get(field).is_some(),
                "{detail_type} example: {field}"
            );
        }
        assert_eq!(example["detail-type"], detail_type);
        assert_eq!(example["source"], devstack::events::EVENT_SOURCE);
        assert_valid(detail_type, &example["detail"]);
        // What a subscriber's rule gets, parsed as devstack's tap parses deliveries.
        let parsed = PublishedEvent::parse(&example.to_string()).expect("parses");
        assert!(
            parsed.resources.iter().any(|r| r.contains(":execution:")),
            "{detail_type} example: the execution ARN in resources"
        );
    }
    // A schema rejects what its detail type never carries.
    assert!(
        !validator("PrivateEndpointReady").is_valid(&json!({"execution": "x"})),
        "the Ready schema requires its fields"
    );
}

/// The events `result`'s execution published, oldest first.
async fn events_of(w: &World, result: &ExecutionResult) -> Vec<PublishedEvent> {
    w.events_of(&result.execution_arn)
        .await
        .expect("events read back")
}

/// The one event `result`'s execution published, checked against its schema.
async fn only_event(w: &World, result: &ExecutionResult) -> PublishedEvent {
    let events = events_of(w, result).await;
    assert_eq!(
        events.len(),
        1,
        "one event from {}: {:?}",
        result.execution_arn,
        events.iter().map(|e| &e.detail_type).collect::<Vec<_>>()
    );
    let event = events.into_iter().next().expect("one event");
    assert_eq!(event.source, "atlas-privatelink");
    assert_valid(&event.detail_type, &event.detail);
    // Step Functions appends the execution ARN and the state machine ARN.
    let n = event.resources.len();
    assert!(n >= 2, "{:?}", event.resources);
    assert_eq!(event.resources[n - 2], result.execution_arn);
    assert!(
        event.resources[n - 1].contains(":stateMachine:"),
        "{:?}",
        event.resources
    );
    assert_eq!(event.detail["executionArn"], json!(result.execution_arn));
    assert_eq!(event.detail["execution"], json!(result.name));
    event
}

/// An execution name of this world only (worlds share one moto, and every tap sees every
/// world's events: the execution ARN tells them apart).
fn name(w: &World, what: &str) -> String {
    format!("{what}-{}", w.project_id)
}

#[tokio::test]
async fn a_provisioning_publishes_one_ready_event_naming_its_secret_endpoints_and_durations() {
    let w = World::new(&["us-east-1"]).await;
    let result = w
        .execute(Machine::Provision, w.request(), &name(&w, "ready"))
        .await;
    assert_succeeded(&result);
    let event = only_event(&w, &result).await;
    assert_eq!(event.detail_type, "PrivateEndpointReady");
    let output = result.output.as_ref().expect("output");
    let d = &event.detail;
    assert_eq!(d["operation"], "provision");
    assert_eq!(d["secretArn"], output["secretArn"]);
    assert!(
        d["secretArn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:secretsmanager:")),
        "{d}"
    );
    assert_eq!(d["secretName"], json!(w.secret_name()));
    let endpoints = w.vpc_endpoints(&w.networks[0]).await;
    assert_eq!(d["vpcEndpointIds"], json!(endpoints));
    let request = privatelink_core::parse_request(&w.request()).expect("valid");
    assert_eq!(d["requestKey"], json!(request.owner_key()));
    assert_eq!(d["projectId"], json!(w.project_id));
    assert_eq!(d["clusterName"], json!(w.cluster));
    let durations = &d["durations"];
    for phase in [
        "validateSeconds",
        "endpointsSeconds",
        "connectionStringsSeconds",
        "totalSeconds",
    ] {
        assert!(durations[phase].is_number(), "{phase}: {durations}");
    }
    let total = durations["totalSeconds"].as_f64().expect("number");
    assert!(total > 0.0, "{durations}");
    // Nothing secret in the event.
    let text = event.envelope.to_string();
    for secret in integration_tests::SECRET_VALUES {
        assert!(!text.contains(secret), "the event holds a credential");
    }
    assert!(
        !text.contains("mongodb://"),
        "the event holds a connection string"
    );
}

#[tokio::test]
async fn a_failed_provisioning_publishes_failed_with_the_error_and_what_was_rolled_back() {
    let w = World::new(&["us-east-1"]).await;
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceRejected { vpce_id: None });
    let result = w
        .execute(Machine::Provision, w.request(), &name(&w, "rejected"))
        .await;
    assert_eq!(
        failure(&result).map(|f| f.0),
        Some("InterfaceEndpointRejected")
    );
    let event = only_event(&w, &result).await;
    assert_eq!(event.detail_type, "PrivateEndpointFailed");
    let d = &event.detail;
    assert_eq!(d["stage"], "provision");
    assert_eq!(d["operation"], "provision");
    assert_eq!(d["error"], "InterfaceEndpointRejected");
    assert!(d["cause"].is_string(), "{d}");
    assert_eq!(d["projectId"], json!(w.project_id));
    let rolled_back = &d["rolledBack"];
    let removed = rolled_back["vpcEndpoints"]
        .as_array()
        .unwrap_or_else(|| panic!("rolledBack names the VPC endpoints: {rolled_back}"));
    assert_eq!(removed.len(), 1, "{rolled_back}");
    assert_eq!(
        rolled_back["securityGroups"].as_array().map(Vec::len),
        Some(1),
        "{rolled_back}"
    );
    w.atlas.sim.clear_outcomes();
}

#[tokio::test]
async fn a_rejected_request_publishes_failed_at_the_validate_stage_and_nothing_else() {
    let w = World::new(&["us-east-1"]).await;
    let mut request = w.request();
    request["endpoints"][0]["colour"] = json!("blue");
    let result = w
        .execute(Machine::Provision, request, &name(&w, "invalid"))
        .await;
    assert_eq!(failure(&result).map(|f| f.0), Some("InvalidRequest"));
    let event = only_event(&w, &result).await;
    assert_eq!(event.detail_type, "PrivateEndpointFailed");
    let d = &event.detail;
    assert_eq!(d["stage"], "validate");
    assert_eq!(d["error"], "InvalidRequest");
    assert!(
        d["cause"].as_str().is_some_and(|c| c.contains("colour")),
        "the cause names the field: {d}"
    );
    assert_eq!(d["rolledBack"], Value::Null);
    assert!(w.inventory().await.expect("inventory").is_empty());
}

/// Tags the world's secret `atlas-privatelink:protect=true`.
async fn protect(w: &World, secret_arn: &str) {
    w.secrets("us-east-1")
        .await
        .tag_resource()
        .secret_id(secret_arn)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("atlas-privatelink:protect")
                .value("true")
                .build(),
        )
        .send()
        .await
        .expect("TagResource");
}

#[tokio::test]
async fn teardowns_publish_torn_down_and_a_protected_secret_refuses_without_force() {
    let w = World::new(&["us-east-1"]).await;
    let up = w
        .execute(Machine::Provision, w.request(), &name(&w, "up"))
        .await;
    assert_succeeded(&up);
    let secret_arn = up.output.as_ref().expect("output")["secretArn"]
        .as_str()
        .expect("secret ARN")
        .to_owned();
    protect(&w, &secret_arn).await;
    let before = w.inventory().await.expect("inventory").counts();
    assert_eq!(before, (1, 1, 1, 1));

    // Protected: refused at validation, nothing removed, the refusal published.
    let refused = w
        .execute(Machine::Teardown, w.request(), &name(&w, "down-protected"))
        .await;
    assert_eq!(failure(&refused).map(|f| f.0), Some("DeletionProtected"));
    let event = only_event(&w, &refused).await;
    assert_eq!(event.detail_type, "PrivateEndpointFailed");
    assert_eq!(event.detail["operation"], "teardown");
    assert_eq!(event.detail["stage"], "validate");
    assert_eq!(event.detail["error"], "DeletionProtected");
    assert_eq!(event.detail["rolledBack"], Value::Null);
    assert_eq!(w.inventory().await.expect("inventory").counts(), before);
    assert!(w.secret_json().await.is_some(), "the secret is still there");

    // With force: torn down, published.
    let mut forced = w.request();
    forced["force"] = json!(true);
    let down = w
        .execute(Machine::Teardown, forced, &name(&w, "down-forced"))
        .await;
    assert_succeeded(&down);
    let event = only_event(&w, &down).await;
    assert_eq!(event.detail_type, "PrivateEndpointTornDown");
    let d = &event.detail;
    assert_eq!(d["operation"], "teardown");
    let request = privatelink_core::parse_request(&w.request()).expect("valid");
    assert_eq!(d["requestKey"], json!(request.owner_key()));
    let removed = d["removed"].as_array().expect("removed per endpoint");
    assert_eq!(removed.len(), 1, "{d}");
    assert_eq!(removed[0]["vpcEndpoints"].as_array().map(Vec::len), Some(1));
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    assert!(
        w.inventory().await.expect("inventory").is_empty(),
        "torn down"
    );

    // A plain teardown of an unprotected request publishes TornDown too. (Provisioning again
    // restores the secret scheduled for deletion, with its tags: take the protection off.)
    let again = w
        .execute(Machine::Provision, w.request(), &name(&w, "up-again"))
        .await;
    assert_succeeded(&again);
    w.secrets("us-east-1")
        .await
        .untag_resource()
        .secret_id(&secret_arn)
        .tag_keys("atlas-privatelink:protect")
        .send()
        .await
        .expect("UntagResource");
    let down = w
        .execute(Machine::Teardown, w.request(), &name(&w, "down"))
        .await;
    assert_succeeded(&down);
    assert_eq!(
        only_event(&w, &down).await.detail_type,
        "PrivateEndpointTornDown"
    );
}

#[tokio::test]
async fn a_plan_publishes_nothing() {
    if Step::from_name("inspect").is_none() {
        eprintln!("SKIPPED: the inspect step (plan mode) is not in the catalogue yet");
        return;
    }
    let w = World::new(&["us-east-1"]).await;
    let mut request = w.request();
    request["mode"] = json!("plan");
    let result = w
        .execute(Machine::Provision, request, &name(&w, "plan"))
        .await;
    assert_succeeded(&result);
    assert!(
        events_of(&w, &result).await.is_empty(),
        "a plan publishes no event"
    );
    // And a plan whose request is refused publishes nothing either.
    let mut request = w.request();
    request["mode"] = json!("plan");
    request["endpoints"][0]["colour"] = json!("blue");
    let result = w
        .execute(Machine::Provision, request, &name(&w, "plan-invalid"))
        .await;
    assert_eq!(failure(&result).map(|f| f.0), Some("InvalidRequest"));
    assert!(events_of(&w, &result).await.is_empty());
}

#[tokio::test]
async fn moto_delivers_a_rule_s_events_to_its_sqs_target() {
    // The tap itself, without a state machine: what a subscriber's rule does in AWS.
    let w = World::new(&["us-east-1"]).await;
    let execution = format!(
        "arn:aws:states:us-east-1:123456789012:execution:tap:{}",
        w.project_id
    );
    w.eventbridge
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("atlas-privatelink")
                .detail_type("PrivateEndpointReady")
                .detail(json!({"probe": w.project_id}).to_string())
                .resources(&execution)
                .build(),
        )
        .entries(
            // Another source: the rule's pattern leaves it out.
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("someone-else")
                .detail_type("PrivateEndpointReady")
                .detail("{}")
                .resources(&execution)
                .build(),
        )
        .send()
        .await
        .expect("PutEvents");
    let events = w.events_of(&execution).await.expect("read back");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].detail, json!({"probe": w.project_id}));
    assert_eq!(events[0].detail_type, "PrivateEndpointReady");
}
