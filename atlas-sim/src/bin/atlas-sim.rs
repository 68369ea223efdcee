//! `atlas-sim`: the Atlas simulator as a process.
//!
//! ```text
//! atlas-sim [--port N] [--time-scale F] [--scenario FILE.json] [--contract SPEC.yaml]
//! ```
//! Prints `listening on http://127.0.0.1:PORT` on stdout once ready, logs JSON lines on
//! stderr (`RUST_LOG` filters), and exits on SIGTERM or SIGINT. `--help` documents the control
//! endpoints and the built-in credentials.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use atlas_sim::{AtlasSim, Scenario, SimConfig};
use clap::Parser;
use clock::ScaledClock;

/// What `--help` adds after the options: how to drive the simulator once it runs.
const AFTER_HELP: &str = "\
Atlas Admin API v2 (private endpoints, clusters) at http://127.0.0.1:PORT/api/atlas/v2, its
OAuth token endpoint at /api/oauth/token.

Built-in credentials (also in SimConfig::default):
  service account  clientId sim-client-id, clientSecret sim-client-secret
  API key          publicKey simpublickey, privateKey sim-private-key-0000 (HTTP Digest)
A credentials secret for atlas-privatelink: {\"clientId\": \"sim-client-id\",
\"clientSecret\": \"sim-client-secret\", \"baseUrl\": \"http://127.0.0.1:PORT\"}.

It starts with no cluster. Control endpoints (JSON):
  PUT  /__sim/scenario   change the set-up; every field optional: clusters (seed them:
                         [{\"groupId\": \"<24 hex>\", \"name\": \"Cluster0\", \"regions\":
                         [\"US_EAST_1\"], \"clusterType\": \"SHARDED\"}]), delays (seconds:
                         serviceAvailable, serviceDelete, interfacePending, interfaceAvailable,
                         interfaceDelete, clusterIdle, remoteRegionsUpdate (default 5: a service
                         is INITIATING and its added supportedRemoteRegions pending after a
                         PATCH), regionalModeToggle (default 300: clusters UPDATING after the
                         regional mode is toggled)), outcomes, rateLimit (null: off), faults,
                         accessList (CIDRs; null: off), serviceReadyStatus, serviceAccounts,
                         apiKeys, tokenTtl, nonceTtl, regionalModeDefault (the regionalized
                         private endpoint mode of projects no PATCH has set; default false).
                         --scenario FILE applies the same document at start.
  POST /__sim/clusters   seed one cluster (the object above)
  POST /__sim/faults     queue a fault: {\"operation\": \"getCluster\", \"count\": 2,
                         \"kind\": \"error\", \"status\": 503} (kinds: error, slow, loseAnswer)
  GET  /__sim/state      every service, interface and cluster, and the settings
  GET  /__sim/counters   requests per operation, statuses, rate-limited and forbidden counts
  POST /__sim/reset      forget everything but the start configuration

State changes follow the clock (--time-scale 100: 150 s of Atlas time in 1.5 s).";

/// The Atlas simulator as a process: prints `listening on http://127.0.0.1:PORT` once ready,
/// logs JSON lines on stderr (`RUST_LOG` filters), exits on SIGTERM or SIGINT.
#[derive(Debug, Parser)]
#[command(version, about, after_help = AFTER_HELP)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Run this many times faster than real time (use the same factor for the client).
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    time_scale: f64,
    /// A scenario document (see below) applied at start.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Check every request and response against this Atlas OpenAPI spec.
    #[arg(long)]
    contract: Option<PathBuf>,
}

fn positive(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0)
        .ok_or_else(|| format!("{text}: not a positive number"))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
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
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The OpenAPI checker for `--contract`.
#[cfg(feature = "contract")]
fn load_contract(path: &std::path::Path) -> Result<Arc<dyn atlas_sim::ExchangeCheck>, String> {
    let contract = openapi_contract::Contract::load(path).map_err(|e| e.to_string())?;
    Ok(Arc::new(contract))
}

/// Built without the checker: the option stays (so `--help` and scripts see the same command
/// line) but refuses to run unchecked when a check was asked for.
#[cfg(not(feature = "contract"))]
fn load_contract(path: &std::path::Path) -> Result<Arc<dyn atlas_sim::ExchangeCheck>, String> {
    Err(format!(
        "--contract {}: this atlas-sim was built without the `contract` feature",
        path.display()
    ))
}

async fn run(args: Args) -> Result<(), String> {
    let mut config = SimConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        ..SimConfig::default()
    };
    if let Some(path) = &args.contract {
        config.contract = Some(load_contract(path)?);
    }
    let scenario = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(
                serde_json::from_str::<Scenario>(&text)
                    .map_err(|e| format!("invalid scenario {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let clock = Arc::new(ScaledClock::new(args.time_scale));
    let sim = AtlasSim::start(config, clock)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(scenario) = scenario {
        sim.apply_scenario(scenario).map_err(|e| e.to_string())?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", sim.base_url()).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    shutdown_signal().await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "atlas-sim failed");
            eprintln!("atlas-sim: {message}");
            ExitCode::FAILURE
        }
    }
}
