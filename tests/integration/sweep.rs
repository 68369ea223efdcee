//! The day-two triggers against moto (Secrets Manager and Step Functions): the drift sweep finds
//! the product's connection-string secrets by their owner tag and starts one `verify` execution
//! per request, once per schedule tick; a rotated database-user secret starts a verify
//! execution of exactly the requests that use it. Everything goes through
//! [`privatelink_dispatcher::handle`], as the Lambda function's events do.

use aws_sdk_secretsmanager::types::Tag;
use integration_tests::moto::moto;
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::aws::secrets::TAG_OWNER;
use privatelink_dispatcher::sweep::REQUEST_KEY;
use privatelink_dispatcher::{DriftSettings, VendingSettings, handle};
use serde_json::{Value, json};

use crate::dispatch::state_machine;

/// No other test keeps secrets in this region of the shared moto, so the sweep sees only
/// this test's secrets.
const REGION: &str = "eu-north-1";

/// A request whose secret lives in [`REGION`].
fn request(project: &str, vpc: &str, secret: &str, database_user: Option<&str>) -> Value {
    let mut request = json!({
        "atlas": {"projectId": project, "clusterName": "Cluster0"},
        "endpoints": [{"region": REGION, "vpcId": vpc, "subnetIds": ["subnet-0123456789abcdef0"]}],
        "secret": {"name": secret},
        "tags": {"team": "orders"}
    });
    if let Some(arn) = database_user {
        request["secret"]["databaseUserSecretArn"] = json!(arn);
    }
    request
}

/// Creates a secret with `value` and, when given, the owner tag; returns its ARN.
async fn create_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &Value,
    owner: Option<&str>,
) -> String {
    secrets
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .set_tags(owner.map(|o| vec![Tag::builder().key(TAG_OWNER).value(o).build()]))
        .send()
        .await
        .expect("create secret")
        .arn()
        .expect("an ARN")
        .to_owned()
}

/// A connection-string secret as the store step writes it, holding `request` (validated).
async fn store(secrets: &aws_sdk_secretsmanager::Client, request: &Value, tagged: bool) {
    let parsed = privatelink_core::parse_request(request).expect("a valid request");
    let value = json!({
        "connectionStringPrivate": "mongodb://pl-0-eu-north-1.example.mongodb.net:1024",
        "username": "app", "password": "sweep-password-value",
        REQUEST_KEY: serde_json::to_string(&parsed).expect("JSON"),
    });
    let owner = parsed.owner_key();
    create_secret(
        secrets,
        parsed.secret.name.as_str(),
        &value,
        tagged.then_some(owner.as_str()),
    )
    .await;
}

/// `(name, input)` of every execution of `machine`.
async fn executions(sfn: &aws_sdk_sfn::Client, machine: &str) -> Vec<(String, Value)> {
    let listed = sfn
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .expect("list executions");
    let mut out = Vec::new();
    for e in listed.executions() {
        let described = sfn
            .describe_execution()
            .execution_arn(e.execution_arn())
            .send()
            .await
            .expect("describe");
        let input = serde_json::from_str(described.input().unwrap_or("null")).expect("JSON");
        out.push((e.name().to_owned(), input));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn rotation_event(id: &str, secret_arn: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "AWS Service Event via CloudTrail",
           "source": "aws.secretsmanager", "account": "123456789012",
           "time": "2026-11-23T15:00:00Z", "region": REGION, "resources": [],
           "detail": {"eventSource": "secretsmanager.amazonaws.com",
                      "eventName": "RotationSucceeded", "requestParameters": null,
                      "responseElements": null, "additionalEventData": {"SecretId": secret_arn},
                      "eventType": "AwsServiceEvent"}})
}

#[tokio::test]
async fn the_sweep_verifies_each_request_once_per_tick_and_a_rotation_only_its_users() {
    let (_capture, logs) = integration_tests::capture_logs();
    let sfn = aws_sdk_sfn::Client::new(&moto().sdk_config("us-east-1").await);
    let machine = state_machine(&sfn, "sweep-verify").await;
    let config = moto().sdk_config(REGION).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let aws = AwsClients::from_config(config);
    let drift = DriftSettings::parse(REGION, "", "atlas-privatelink-target", "us-east-1");
    let vending = VendingSettings::default();
    let run = |event: Value| {
        let (sfn, aws, machine, vending, drift) = (&sfn, &aws, &machine, &vending, &drift);
        async move {
            handle(sfn, aws, machine, vending, drift, &event)
                .await
                .expect("handled")
        }
    };

    // Two provisioned requests (one merges a database user), a secret holding a request but
    // not tagged as ours, and one of ours without a readable request.
    let db_user = create_secret(
        &secrets,
        "atlas/sweep/db-user",
        &json!({"username": "app", "password": "sweep-password-value"}),
        None,
    )
    .await;
    let plain = request(
        "5a5a5a5a5a5a5a5a5a5a5a5a",
        "vpc-0a5a5a5a5a5a5a5a5",
        "atlas/sweep/plain",
        None,
    );
    let with_user = request(
        "5b5b5b5b5b5b5b5b5b5b5b5b",
        "vpc-0b5b5b5b5b5b5b5b5",
        "atlas/sweep/with-user",
        Some(&db_user),
    );
    store(&secrets, &plain, true).await;
    store(&secrets, &with_user, true).await;
    let untagged = request(
        "5c5c5c5c5c5c5c5c5c5c5c5c",
        "vpc-0c5c5c5c5c5c5c5c5",
        "atlas/sweep/untagged",
        None,
    );
    store(&secrets, &untagged, false).await;
    create_secret(
        &secrets,
        "atlas/sweep/no-request",
        &json!({"connectionStringPrivate": "mongodb://x", "password": "sweep-password-value"}),
        Some("0123456789abcdef"),
    )
    .await;

    // A tick: one verify execution per request, with the request as input in verify mode.
    let tick = json!({"action": "verify-all", "scheduledTime": "2026-11-23T12:00:00Z"});
    let summary = run(tick.clone()).await;
    assert_eq!(
        summary,
        json!({"verifyStarted": 2, "alreadyStarted": 0, "skipped": 1, "notAffected": 0, "busy": 0, "failed": 0})
    );
    let started = executions(&sfn, &machine).await;
    assert_eq!(started.len(), 2, "{started:#?}");
    let mut projects = Vec::new();
    for (name, input) in &started {
        assert!(
            name.starts_with("verify-5") && name.ends_with("-t202611231200"),
            "{name}"
        );
        assert!(name.len() <= 80);
        assert_eq!(input["mode"], "verify", "{input}");
        assert!(input.get("password").is_none() && input.get(REQUEST_KEY).is_none());
        privatelink_core::parse_request(input).expect("the input is a valid request");
        projects.push(
            input["atlas"]["projectId"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    projects.sort();
    assert_eq!(
        projects,
        ["5a5a5a5a5a5a5a5a5a5a5a5a", "5b5b5b5b5b5b5b5b5b5b5b5b"]
    );

    // The same tick again (a retried invocation): nothing new.
    let again = run(tick).await;
    assert_eq!(again["verifyStarted"], 0);
    assert_eq!(again["alreadyStarted"], 2);
    assert_eq!(executions(&sfn, &machine).await.len(), 2);

    // The database user was rotated: its one user is verified, once per event.
    let event = rotation_event("3c9e1f7a-5b2d-4e8f-a6c0-9d1b2e3f4a5c", &db_user);
    let rotated = run(event.clone()).await;
    assert_eq!(
        rotated,
        json!({"verifyStarted": 1, "alreadyStarted": 0, "skipped": 1, "notAffected": 1, "busy": 0, "failed": 0})
    );
    let after = executions(&sfn, &machine).await;
    assert_eq!(after.len(), 3, "{after:#?}");
    let new: Vec<&(String, Value)> = after
        .iter()
        .filter(|(name, _)| name.ends_with("-r3c9e1f7a5b2d"))
        .collect();
    assert_eq!(new.len(), 1, "{after:#?}");
    assert_eq!(new[0].1["mode"], "verify");
    assert_eq!(new[0].1["secret"]["databaseUserSecretArn"], json!(db_user));
    let redelivered = run(event).await;
    assert_eq!(redelivered["verifyStarted"], 0);
    assert_eq!(redelivered["alreadyStarted"], 1);
    // Named by its name alone (no suffix), the rotated secret is still found.
    let by_name = run(rotation_event(
        "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6",
        "atlas/sweep/db-user",
    ))
    .await;
    assert_eq!(by_name["verifyStarted"], 1);
    assert_eq!(executions(&sfn, &machine).await.len(), 4);

    // A request being torn down is never verified: a verify would re-create what the teardown
    // removes. (moto's executions stay RUNNING.)
    let teardown = crate::dispatch::try_state_machine(&sfn, "sweep-teardown")
        .await
        .expect("a teardown machine");
    sfn.start_execution()
        .state_machine_arn(&teardown)
        .name("tearing-down-with-user")
        .input(with_user.to_string())
        .send()
        .await
        .expect("StartExecution");
    let watching = drift
        .clone()
        .map(|d| d.with_teardown_state_machine(&teardown));
    let during_teardown = handle(
        &sfn,
        &aws,
        &machine,
        &vending,
        &watching,
        &rotation_event("9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", &db_user),
    )
    .await
    .expect("handled");
    assert_eq!(during_teardown["verifyStarted"], 0, "{during_teardown}");
    assert_eq!(during_teardown["busy"], 1, "{during_teardown}");
    assert_eq!(executions(&sfn, &machine).await.len(), 4);

    // Another secret's rotation, and a payload the dispatcher cannot act on, start nothing.
    let unrelated = run(rotation_event(
        "0f0e0d0c-0b0a-4909-8807-060504030201",
        "arn:aws:secretsmanager:eu-north-1:123456789012:secret:atlas/other-AbCdEf",
    ))
    .await;
    assert_eq!(unrelated["verifyStarted"], 0);
    assert_eq!(unrelated["notAffected"], 2);
    let no_time = run(json!({"action": "verify-all"})).await;
    assert_eq!(no_time, json!({"started": false}));
    assert_eq!(executions(&sfn, &machine).await.len(), 4);

    // The skipped secret is named in the logs; no secret value is, anywhere.
    let logs = logs.text();
    assert!(logs.contains("atlas/sweep/no-request"), "{logs}");
    assert!(!logs.contains("sweep-password-value"), "{logs}");
}
