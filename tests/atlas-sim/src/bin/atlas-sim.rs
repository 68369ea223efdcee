//! `atlas-sim`: the Atlas simulator as a process.
//!
//! ```text
//! atlas-sim [--port N] [--time-scale F] [--scenario FILE.json] [--contract SPEC.yaml]
//! ```
//! Prints `listening on http://127.0.0.1:PORT` on stdout once ready, logs JSON lines on
//! stderr (`RUST_LOG` filters), and exits on SIGTERM or SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use atlas_sim::{AtlasSim, Contract, Scenario, SimConfig};
use clock::ScaledClock;

const USAGE: &str = "usage: atlas-sim [--port N (0 = any)] [--time-scale F] [--scenario FILE.json] [--contract SPEC.yaml]";

#[derive(Debug, Default)]
struct Args {
    port: u16,
    time_scale: f64,
    scenario: Option<PathBuf>,
    contract: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        time_scale: 1.0,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                args.port = v
                    .parse()
                    .map_err(|_| format!("--port {v}: not a port number"))?;
            }
            "--time-scale" => {
                let v = value()?;
                args.time_scale = v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f > 0.0)
                    .ok_or_else(|| format!("--time-scale {v}: not a positive number"))?;
            }
            "--scenario" => args.scenario = Some(PathBuf::from(value()?)),
            "--contract" => args.contract = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
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

async fn run(args: Args) -> Result<(), String> {
    let mut config = SimConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        ..SimConfig::default()
    };
    if let Some(path) = &args.contract {
        let contract = Contract::load(path).map_err(|e| e.to_string())?;
        config.contract = Some(Arc::new(contract));
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
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "atlas-sim failed");
            eprintln!("atlas-sim: {message}");
            ExitCode::FAILURE
        }
    }
}
