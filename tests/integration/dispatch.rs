//! The dispatcher and the CLI's start/watch against moto's Step Functions API: deterministic
//! execution names, bad events starting nothing, Control Tower events turned into requests.

use std::time::Duration;

use atlas_privatelink::machines::{Machine, local_substitutions};
use integration_tests::moto::moto;
use privatelink_dispatcher::{VendingSettings, dispatch};
use serde_json::{Value, json};

async fn sfn() -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::new(&moto().sdk_config("us-east-1").await)
}

/// A provision state machine in moto, named uniquely for the test.
pub(crate) async fn state_machine(sfn: &aws_sdk_sfn::Client, name: &str) -> String {
    try_state_machine(sfn, name)
        .await
        .expect("create state machine")
}

/// The provision state machine created on moto as `name`, or `None` when moto refuses (a
/// machine of that name exists).
pub(crate) async fn try_state_machine(sfn: &aws_sdk_sfn::Client, name: &str) -> Option<String> {
    let mut definition = Machine::Provision.definition().to_owned();
    for (var, arn) in local_substitutions() {
        definition = definition.replace(&format!("${{{var}}}"), &arn);
    }
    sfn.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/atlas-privatelink-states")
        .send()
        .await
        .ok()
        .map(|out| out.state_machine_arn().to_owned())
}

async fn executions(sfn: &aws_sdk_sfn::Client, arn: &str) -> usize {
    sfn.list_executions()
        .state_machine_arn(arn)
        .send()
        .await
        .expect("list executions")
        .executions()
        .len()
}

fn request(project: &str) -> Value {
    json!({
        "atlas": {"projectId": project, "clusterName": "Cluster0"},
        "endpoints": [{"region": "us-east-1", "vpcId": "vpc-0123456789abcdef0",
                       "subnetIds": ["subnet-0123456789abcdef0"]}]
    })
}

fn custom_event(detail: Value) -> Value {
    json!({"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
           "source": "atlas-privatelink", "detail-type": "PrivateEndpointRequested",
           "account": "123456789012", "region": "us-east-1", "time": "2026-11-23T12:00:00Z",
           "resources": [], "detail": detail})
}

fn control_tower_event(state: &str) -> Value {
    json!({"version": "0", "id": "999cccaa-eaaa-0000-1111-123456789012",
           "source": "aws.controltower", "detail-type": "AWS Service Event via CloudTrail",
           "account": "123456789012", "region": "us-east-1", "time": "2026-11-23T12:00:00Z",
           "detail": {"eventName": "CreateManagedAccount", "eventSource": "controltower.amazonaws.com",
                      "serviceEventDetails": {"createManagedAccountStatus": {
                          "organizationalUnit": {"organizationalUnitName": "Workloads", "organizationalUnitId": "ou-abcd-12345678"},
                          "account": {"accountName": "team-a-prod", "accountId": "210987654321"},
                          "state": state, "message": "AWS Control Tower successfully created a managed account.",
                          "requestedTimestamp": "2026-11-23T11:40:00Z", "completedTimestamp": "2026-11-23T11:59:00Z"}}}})
}

fn vending() -> VendingSettings {
    VendingSettings {
        project_id: "5f0c0c0c0c0c0c0c0c0c0c0c".into(),
        cluster_name: "Shared0".into(),
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        vpc_tag: ("network".into(), "workloads".into()),
        role_name: "AtlasPrivateLinkRole".into(),
    }
}

#[tokio::test]
async fn a_duplicated_event_starts_one_execution() {
    let sfn = sfn().await;
    let arn = state_machine(&sfn, "dispatch-dup").await;
    let event = custom_event(request("6a6a6a6a6a6a6a6a6a6a6a6a"));
    let first = dispatch(&sfn, &arn, &vending(), &event)
        .await
        .expect("dispatch")
        .expect("started");
    let second = dispatch(&sfn, &arn, &vending(), &event)
        .await
        .expect("dispatch")
        .expect("started");
    assert!(!first.duplicate && second.duplicate, "{first:?} {second:?}");
    assert_eq!(
        (&first.name, &first.execution_arn),
        (&second.name, &second.execution_arn),
        "same name, same execution"
    );
    assert!(
        first.name.starts_with("provision-6a6a6a6a-Cluster0-"),
        "{}",
        first.name
    );
    assert_eq!(executions(&sfn, &arn).await, 1);
    // Another request is another execution.
    let other = custom_event(request("7b7b7b7b7b7b7b7b7b7b7b7b"));
    dispatch(&sfn, &arn, &vending(), &other)
        .await
        .expect("dispatch")
        .expect("started");
    assert_eq!(executions(&sfn, &arn).await, 2);
}

#[tokio::test]
async fn an_event_for_a_request_whose_execution_ended_starts_the_next_attempt() {
    let sfn = sfn().await;
    let arn = state_machine(&sfn, "dispatch-again").await;
    let event = custom_event(request("9d9d9d9d9d9d9d9d9d9d9d9d"));
    let first = dispatch(&sfn, &arn, &vending(), &event)
        .await
        .expect("dispatch")
        .expect("started");
    // The execution ends (failed, aborted, torn down since): its name stays taken.
    sfn.stop_execution()
        .execution_arn(&first.execution_arn)
        .send()
        .await
        .expect("stop");
    let second = dispatch(&sfn, &arn, &vending(), &event)
        .await
        .expect("dispatch")
        .expect("started");
    assert!(!second.duplicate);
    assert_eq!(second.name, format!("{}-2", first.name));
    assert_eq!(executions(&sfn, &arn).await, 2);
    // A duplicate of that event while the second attempt runs starts nothing.
    let third = dispatch(&sfn, &arn, &vending(), &event)
        .await
        .expect("dispatch")
        .expect("started");
    assert!(third.duplicate);
    assert_eq!(third.execution_arn, second.execution_arn);
    assert_eq!(executions(&sfn, &arn).await, 2);
}

#[tokio::test]
async fn bad_events_start_nothing() {
    let sfn = sfn().await;
    let arn = state_machine(&sfn, "dispatch-bad").await;
    let mut typo = request("6a6a6a6a6a6a6a6a6a6a6a6a");
    typo["endpoints"][0]["subnetId"] = json!(["subnet-0123456789abcdef0"]);
    let mut other_source = custom_event(request("6a6a6a6a6a6a6a6a6a6a6a6a"));
    other_source["source"] = json!("someone.else");
    for event in [
        custom_event(typo),
        custom_event(json!("not an object")),
        other_source,
        control_tower_event("FAILED"),
    ] {
        let outcome = dispatch(&sfn, &arn, &vending(), &event)
            .await
            .expect("dispatch");
        assert_eq!(outcome, None, "{event}");
    }
    assert_eq!(executions(&sfn, &arn).await, 0);
}

#[tokio::test]
async fn a_new_control_tower_account_gets_a_request_built_for_it() {
    let sfn = sfn().await;
    let arn = state_machine(&sfn, "dispatch-vending").await;
    let started = dispatch(&sfn, &arn, &vending(), &control_tower_event("SUCCEEDED"))
        .await
        .expect("dispatch")
        .expect("started");
    let described = sfn
        .describe_execution()
        .execution_arn(&started.execution_arn)
        .send()
        .await
        .expect("describe");
    let input: Value = serde_json::from_str(described.input().expect("input")).expect("json");
    assert_eq!(input["aws"]["accountId"], json!("210987654321"));
    assert_eq!(
        input["aws"]["roleArn"],
        json!("arn:aws:iam::210987654321:role/AtlasPrivateLinkRole")
    );
    assert_eq!(input["endpoints"][1]["region"], json!("eu-west-1"));
    assert_eq!(
        input["endpoints"][0]["vpcTag"],
        json!({"key": "network", "value": "workloads"})
    );
    privatelink_core::parse_request(&input).expect("the built request is valid");
}

#[tokio::test]
async fn start_is_idempotent_and_watch_reports_the_outcome() {
    let sfn = sfn().await;
    let arn = state_machine(&sfn, "start-watch").await;
    let request = request("8c8c8c8c8c8c8c8c8c8c8c8c");
    let started = privatelink_dispatcher::start(&sfn, &arn, &request)
        .await
        .expect("start");
    let again = privatelink_dispatcher::start(&sfn, &arn, &request)
        .await
        .expect("start again");
    assert_eq!(started.execution_arn, again.execution_arn);
    assert!(again.duplicate);
    // moto does not run executions; its history for one is a canned success.
    let outcome =
        atlas_privatelink::watch::watch(&sfn, &started.execution_arn, Duration::from_millis(10))
            .await
            .expect("watch");
    assert!(outcome.succeeded(), "{outcome:?}");

    let mut other = request.clone();
    other["tags"] = json!({"run": "aborted"});
    let aborted = privatelink_dispatcher::start(&sfn, &arn, &other)
        .await
        .expect("start");
    sfn.stop_execution()
        .execution_arn(&aborted.execution_arn)
        .send()
        .await
        .expect("stop");
    let outcome =
        atlas_privatelink::watch::watch(&sfn, &aborted.execution_arn, Duration::from_millis(10))
            .await
            .expect("watch");
    assert_eq!(outcome.status, "ABORTED");
    assert!(!outcome.succeeded());

    let mut invalid = request.clone();
    invalid["atlas"]["projectId"] = json!("nope");
    let err = privatelink_dispatcher::start(&sfn, &arn, &invalid)
        .await
        .expect_err("invalid");
    assert_eq!(err.name, privatelink_core::ErrorName::InvalidRequest);
    assert!(
        err.message.starts_with("atlas.projectId"),
        "{}",
        err.message
    );
}

#[test]
fn the_example_events_become_valid_requests() {
    let read = |name: &str| -> Value {
        let path = integration_tests::tools::repo_root()
            .join("examples")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).expect("example")).expect("json")
    };
    for (name, check_account) in [
        ("eventbridge-event.json", false),
        ("control-tower-event.json", true),
    ] {
        let request = privatelink_dispatcher::request_from_event(&read(name), &vending())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        privatelink_core::parse_request(&request).unwrap_or_else(|e| panic!("{name}: {e}"));
        if check_account {
            assert!(
                request["aws"]["roleArn"]
                    .as_str()
                    .is_some_and(|r| r.ends_with(":role/AtlasPrivateLinkRole"))
            );
        }
    }
    privatelink_core::parse_request(&read("console-input.json")).expect("console input");
}
