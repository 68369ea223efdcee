//! `atlas-privatelink demo`: a whole provisioning and teardown on this machine. Starts moto and
//! the Atlas simulator (virtual time, realistic delays), seeds a VPC, subnets, a cluster and
//! the Atlas credentials, runs `provision.asl.json` with the real step code, prints the
//! timeline and the stored secret (password masked), tears everything down, and stops what it
//! started.

use std::sync::Arc;
use std::time::{Duration, Instant};

use asl_runner::{ExecutionResult, ExecutionStatus, RunnerConfig};
use atlas_sim::{ClusterSeed, SimConfig};
use clock::VirtualClock;
use devstack::{
    DevStack, Moto, Realism, create_credentials_secret, create_database_user_secret, create_network,
};
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::context::{Context, Settings};
use serde_json::{Value, json};

use crate::local::{StepInvoker, run_machine};
use crate::machines::Machine;
use crate::timeline::Timeline;

const PROJECT: &str = "6566d2a1e5f2b34c9a0d1e7f";
const REGION: &str = "us-east-1";

/// Runs the demo; the error says what failed.
pub async fn run() -> Result<(), String> {
    let wall = Instant::now();
    eprintln!(
        "== starting moto (EC2, Secrets Manager) behind the AWS front (realistic rules), and the Atlas simulator"
    );
    let moto = Moto::start()?;
    let clock = VirtualClock::new();
    let stack = DevStack::start(
        &moto,
        Arc::new(clock.clone()),
        SimConfig::default(),
        Realism::realistic(),
    )
    .await?;
    let result = provision_and_teardown(&stack, &clock).await;
    stack.shutdown().await;
    moto.stop();
    eprintln!(
        "== done in {:.1} s of wall time ({:.0} s of simulated time)",
        wall.elapsed().as_secs_f64(),
        clock.elapsed().as_secs_f64()
    );
    result
}

async fn provision_and_teardown(stack: &DevStack, clock: &VirtualClock) -> Result<(), String> {
    let sim = &stack.sim;
    let config = stack.sdk_config(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    eprintln!("== seeding: a VPC with two subnets, cluster Cluster0 in US_EAST_1, credentials");
    let network = create_network(&ec2, REGION, "demo").await?;
    sim.seed_cluster(ClusterSeed::new(PROJECT, "Cluster0", &["US_EAST_1"]))
        .map_err(|e| format!("seed cluster: {e}"))?;
    let credentials = create_credentials_secret(
        &secrets,
        "demo/atlas-credentials",
        "sim-client-id",
        "sim-client-secret",
        &sim.base_url(),
    )
    .await?;
    let db_user = create_database_user_secret(
        &secrets,
        "demo/app-database-user",
        "app",
        "demo-password-123",
    )
    .await?;
    let request = json!({
        "atlas": {"projectId": PROJECT, "clusterName": "Cluster0", "credentialsSecretArn": credentials},
        "endpoints": [{"region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids}],
        "secret": {"databaseUserSecretArn": db_user},
        "tags": {"team": "platform", "env": "demo"}
    });
    eprintln!(
        "== request\n{}",
        serde_json::to_string_pretty(&request).unwrap_or_default()
    );
    let ctx = Arc::new(Context::new(
        Arc::new(clock.clone()),
        // Through the AWS front: eventual consistency, client tokens, zones, and EC2 reporting
        // the endpoint pending → pendingAcceptance → available as Atlas accepts it.
        AwsClients::from_config(config),
        Settings {
            secret_recovery_days: 7,
            atlas_request_timeout: Duration::from_secs(10),
            ..Settings::default()
        },
    ));
    let invoker = Arc::new(StepInvoker::new(ctx));

    eprintln!("== provisioning (statemachine/provision.asl.json)");
    let provisioned = execute(
        &invoker,
        clock,
        Machine::Provision,
        &request,
        "demo-provision",
    )
    .await?;
    let secret_name = provisioned
        .output
        .as_ref()
        .and_then(|o| o.get("secretName"))
        .and_then(Value::as_str)
        .ok_or("the execution output names no secret")?
        .to_owned();
    let stored = secrets
        .get_secret_value()
        .secret_id(&secret_name)
        .send()
        .await
        .map_err(|e| format!("GetSecretValue: {e}"))?;
    let stored: Value = serde_json::from_str(stored.secret_string().unwrap_or("{}"))
        .map_err(|e| format!("secret is not JSON: {e}"))?;
    println!("Secret {secret_name}:");
    println!(
        "{}",
        serde_json::to_string_pretty(&mask(stored)).unwrap_or_default()
    );
    eprintln!(
        "== state transitions: {}, Atlas API calls: {}",
        provisioned.state_transitions,
        sim.counters().total_requests()
    );

    eprintln!("== tearing down (statemachine/teardown.asl.json)");
    execute(
        &invoker,
        clock,
        Machine::Teardown,
        &request,
        "demo-teardown",
    )
    .await?;
    Ok(())
}

async fn execute(
    invoker: &Arc<StepInvoker>,
    clock: &VirtualClock,
    machine: Machine,
    request: &Value,
    name: &str,
) -> Result<ExecutionResult, String> {
    let config = RunnerConfig::virtual_time(clock.clone()).listener(Timeline::to_stderr());
    let result = run_machine(invoker.clone(), machine, request.clone(), name, config)
        .await
        .map_err(|e| format!("{machine:?} definition: {e}"))?;
    match &result.status {
        ExecutionStatus::Succeeded => Ok(result),
        ExecutionStatus::Failed { error, cause } => Err(format!(
            "{machine:?} failed: {} {}",
            error.as_deref().unwrap_or(""),
            cause.as_deref().unwrap_or("")
        )),
        ExecutionStatus::TimedOut => Err(format!("{machine:?} timed out")),
    }
}

/// The secret as shown to a person: the password masked.
pub fn mask(mut secret: Value) -> Value {
    if let Some(password) = secret.get_mut("password") {
        *password = json!("********");
    }
    secret
}
