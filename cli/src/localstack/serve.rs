//! `local serve`: the process behind `local up`. It owns moto (which dies with it), the AWS
//! front and the Atlas simulator, on one scaled clock, seeds the world, writes the request and
//! the state file, and runs until SIGTERM or Ctrl-C.

use std::path::Path;
use std::sync::Arc;

use atlas_sim::{ClusterSeed, SimConfig};
use clock::{ScaledClock, SharedClock};
use devstack::{
    CLAIMS_TABLE, DevStack, Moto, Realism, create_claims_table, create_credentials_secret,
    create_database_user_secret, create_network,
};
use serde_json::json;

use super::{State, state_path};

const HOME_REGION: &str = "us-east-1";

/// Runs the local stack until it is told to stop; see the module documentation.
pub async fn serve(
    dir: &Path,
    time_scale: f64,
    regions: &[String],
    request_path: &Path,
) -> Result<(), String> {
    let moto = Moto::start()?;
    let clock: SharedClock = Arc::new(ScaledClock::new(time_scale));
    let stack = DevStack::start(&moto, clock, SimConfig::default(), Realism::realistic()).await?;
    let result = seed_and_wait(&moto, &stack, dir, time_scale, regions, request_path).await;
    let _ = std::fs::remove_file(state_path(dir));
    stack.shutdown().await;
    moto.stop();
    result
}

async fn seed_and_wait(
    moto: &Moto,
    stack: &DevStack,
    dir: &Path,
    time_scale: f64,
    regions: &[String],
    request_path: &Path,
) -> Result<(), String> {
    let home = moto.sdk_config(HOME_REGION).await;
    create_claims_table(&aws_sdk_dynamodb::Client::new(&home), CLAIMS_TABLE).await?;
    let project = devstack::world::new_project_id();
    let atlas_regions: Vec<String> = regions.iter().map(|r| atlas_sim::atlas_region(r)).collect();
    let atlas_regions: Vec<&str> = atlas_regions.iter().map(String::as_str).collect();
    stack
        .sim
        .seed_cluster(ClusterSeed::new(&project, "Cluster0", &atlas_regions))
        .map_err(|e| format!("seed cluster: {e}"))?;
    let mut endpoints = Vec::new();
    for region in regions {
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config(region).await);
        let network = create_network(&ec2, region, "local").await?;
        endpoints.push(json!({"region": region, "vpcId": network.vpc_id,
                              "subnetIds": network.subnet_ids}));
    }
    let secrets = aws_sdk_secretsmanager::Client::new(&home);
    let credentials = create_credentials_secret(
        &secrets,
        "local/atlas-credentials",
        "sim-client-id",
        "sim-client-secret",
        &stack.sim.base_url(),
    )
    .await?;
    let database_user = create_database_user_secret(
        &secrets,
        "local/app-database-user",
        "app",
        "local-password-1",
    )
    .await?;
    let request = json!({
        "atlas": {"projectId": project, "clusterName": "Cluster0",
                  "credentialsSecretArn": credentials},
        "endpoints": endpoints,
        "secret": {"databaseUserSecretArn": database_user},
        "tags": {"env": "local"}
    });
    let text = serde_json::to_string_pretty(&request).map_err(|e| e.to_string())?;
    std::fs::write(request_path, text + "\n")
        .map_err(|e| format!("{}: {e}", request_path.display()))?;
    let state = State {
        pid: std::process::id(),
        aws_endpoint: stack.front.endpoint(),
        moto_endpoint: moto.endpoint.clone(),
        atlas_base_url: stack.sim.base_url(),
        time_scale,
        project_id: project,
        cluster: "Cluster0".to_owned(),
        regions: regions.to_vec(),
        request: std::fs::canonicalize(request_path).unwrap_or_else(|_| request_path.to_owned()),
    };
    // Written whole, then renamed: `up` never reads half a file.
    let partial = dir.join("state.json.partial");
    let text = serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?;
    std::fs::write(&partial, text).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, state_path(dir)).map_err(|e| e.to_string())?;
    eprintln!("local stack ready: {}", state.exports());
    stop_signal().await;
    eprintln!("stopping the local stack");
    Ok(())
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
