//! `atlas-privatelink demo`: a whole provisioning and teardown on this machine. Starts moto and
//! the Atlas simulator (virtual time, realistic delays), seeds a VPC, subnets, a cluster and
//! the Atlas credentials, runs `provision.asl.json` with the real step code, prints the
//! timeline, the stored secret (password masked) and the completion events each execution
//! published (read back from moto's EventBridge), tears everything down, and stops what it
//! started.

use std::sync::Arc;
use std::time::Instant;

use asl_runner::{ExecutionResult, ExecutionStatus, RunnerConfig};
use devstack::{LocalWorld, Moto, WorldSpec};
use serde_json::{Value, json};

use crate::local::{StepInvoker, run_machine, world_context, world_events};
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
    let result = in_world(&moto, wall).await;
    moto.stop();
    result
}

async fn in_world(moto: &Moto, wall: Instant) -> Result<(), String> {
    eprintln!("== seeding: a VPC with two subnets, cluster Cluster0 in US_EAST_1, credentials");
    let spec = WorldSpec {
        project_id: Some(PROJECT.to_owned()),
        label: Some("demo".to_owned()),
        ..WorldSpec::new(&[REGION]).database_user("app", "demo-password-123")
    };
    let world = LocalWorld::start(moto, spec).await?;
    let result = provision_and_teardown(&world).await;
    world.shutdown().await;
    eprintln!(
        "== done in {:.1} s of wall time ({:.0} s of simulated time)",
        wall.elapsed().as_secs_f64(),
        world.clock.elapsed().as_secs_f64()
    );
    result
}

async fn provision_and_teardown(world: &LocalWorld<'_>) -> Result<(), String> {
    let mut request = world.request();
    request["tags"] = json!({"team": "platform", "env": "demo"});
    eprintln!(
        "== request\n{}",
        serde_json::to_string_pretty(&request).unwrap_or_default()
    );
    let invoker = Arc::new(StepInvoker::new(
        world_context(world).await,
        world_events(world).await,
    ));

    eprintln!("== provisioning (statemachine/provision.asl.json)");
    let provisioned = execute(
        &invoker,
        world,
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
    let stored = world
        .secrets(REGION)
        .await
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
        world.stack.sim.counters().total_requests()
    );
    print_events(world, &provisioned).await?;

    eprintln!("== tearing down (statemachine/teardown.asl.json)");
    let torn_down = execute(
        &invoker,
        world,
        Machine::Teardown,
        &request,
        "demo-teardown",
    )
    .await?;
    print_events(world, &torn_down).await?;
    Ok(())
}

/// The events `result`'s execution published (EventBridge, source `atlas-privatelink`), one
/// line each: detail type and ids, never a secret's content.
async fn print_events(world: &LocalWorld<'_>, result: &ExecutionResult) -> Result<(), String> {
    let events = world.events_of(&result.execution_arn).await?;
    eprintln!("== events published: {}", events.len());
    for event in events {
        eprintln!("   {}", event.summary());
    }
    Ok(())
}

async fn execute(
    invoker: &Arc<StepInvoker>,
    world: &LocalWorld<'_>,
    machine: Machine,
    request: &Value,
    name: &str,
) -> Result<ExecutionResult, String> {
    let config = RunnerConfig::virtual_time(world.clock.clone()).listener(Timeline::to_stderr());
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
