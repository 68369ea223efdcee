//! `atlas-privatelink`: validate a request, run the state machines locally, run the demo or the
//! realism and fault scenarios.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use asl_runner::{ExecutionStatus, RunnerConfig};
use atlas_privatelink::local::{StepInvoker, run_machine};
use atlas_privatelink::machines::Machine;
use atlas_privatelink::timeline::Timeline;
use clap::{Parser, Subcommand};
use clock::{ScaledClock, SharedClock, SystemClock};
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::context::{Context, Settings};
use privatelink_core::steps::execution_name;
use serde_json::Value;

#[cfg(feature = "local-world")]
mod local_commands;

/// Connect VPCs to a MongoDB Atlas cluster over AWS PrivateLink.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Checks a request offline; exits 0 when valid, 2 with the error name and field when not.
    Validate {
        /// The request JSON file.
        request: PathBuf,
    },
    /// Runs statemachine/provision.asl.json locally with the real step code, against the
    /// Atlas API at ATLAS_BASE_URL (or the credentials secret's baseUrl) and AWS at
    /// AWS_ENDPOINT_URL. Prints a timeline to stderr and the output JSON to stdout.
    Run(RunArgs),
    /// Runs statemachine/teardown.asl.json locally, like `run`.
    Teardown(RunArgs),
    /// Validates a request and inspects what exists (writing nothing): per endpoint what a
    /// provisioning would create, adopt, change or remove, the secret's changed keys, the
    /// pre-checks, and "nothing to do" when all is in place. Exits 2 when validate refuses the
    /// request, 1 when a check fails, else 0.
    Plan {
        /// The request JSON file.
        request: PathBuf,
        /// Print the inspection as JSON.
        #[arg(long)]
        json: bool,
        /// Inspect the local stack started by `atlas-privatelink local up` (in `--dir`).
        #[arg(long)]
        local: bool,
        /// The local stack's directory.
        #[arg(long, default_value = ".local")]
        dir: PathBuf,
    },
    /// The whole thing on this machine: moto and the Atlas simulator, a provisioning, the
    /// stored secret, and a teardown.
    #[cfg(feature = "local-world")]
    Demo,
    /// Runs the realism and fault scenarios end to end on this machine (moto, the Atlas
    /// simulator, virtual time) and prints a table: id, expected and actual outcome, what was
    /// left in AWS and Atlas, duplicates. Exits 1 if any row differs from its expectation.
    #[cfg(feature = "local-world")]
    Scenarios(local_commands::ScenarioArgs),
    /// The local world as a tool: `up` starts moto behind the AWS front and the Atlas
    /// simulator in the background, seeds a cluster, a VPC, credentials and a database user,
    /// writes local-request.json and prints the exports for `run --local`; `status` shows it;
    /// `down` stops it.
    #[cfg(feature = "local-world")]
    #[command(subcommand)]
    Local(local_commands::LocalCommand),
    /// Validates a request and starts the deployed provisioning state machine on it, under the
    /// name derived from the request (a repeat finds the same execution). Prints its ARN.
    Start {
        /// The request JSON file.
        request: PathBuf,
        /// ARN of the provisioning state machine (the stack output ProvisionStateMachineArn).
        #[arg(long)]
        state_machine: String,
    },
    /// Follows an execution in AWS until it ends: one line per state, a progress display, and
    /// the exit code from the outcome (0 succeeded, 1 otherwise).
    Watch {
        /// The execution ARN (as `start` prints it).
        execution_arn: String,
        /// Seconds between polls of the execution history.
        #[arg(long, default_value_t = 5)]
        poll_seconds: u64,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Run locally (the only mode so far).
    #[arg(long)]
    local: bool,
    /// The request JSON file.
    request: PathBuf,
    /// Execution name (default: derived from the request, so a repeat is recognised).
    #[arg(long)]
    name: Option<String>,
    /// Run waits and retry intervals this many times faster than real time; use the same
    /// factor as `atlas-sim --time-scale`.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
}

fn read_request(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

async fn run_local(machine: Machine, args: RunArgs) -> Result<ExitCode, String> {
    if !args.local {
        return Err("only --local runs exist so far; deploy with SAM to run in AWS".into());
    }
    let request = read_request(&args.request)?;
    let action = match machine {
        Machine::Provision => "provision",
        Machine::Teardown => "teardown",
    };
    let name = args
        .name
        .unwrap_or_else(|| execution_name(action, &request));
    let clock: SharedClock = if args.time_scale == 1.0 {
        SystemClock::shared()
    } else {
        Arc::new(ScaledClock::new(args.time_scale))
    };
    let ctx = Context::new(
        clock.clone(),
        AwsClients::load().await,
        Settings::from_env(),
    );
    let invoker = Arc::new(StepInvoker::new(
        Arc::new(ctx),
        atlas_privatelink::local::default_events_client().await,
    ));
    eprintln!("execution {name}");
    let config = RunnerConfig::with_clock(clock).listener(Timeline::to_stderr());
    let result = run_machine(invoker, machine, request, &name, config)
        .await
        .map_err(|e| format!("definition: {e}"))?;
    match result.status {
        ExecutionStatus::Succeeded => {
            let output = result.output.unwrap_or(Value::Null);
            println!(
                "{}",
                serde_json::to_string_pretty(&output).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        ExecutionStatus::Failed { error, cause } => {
            eprintln!(
                "{}: {}",
                error.as_deref().unwrap_or("Failed"),
                cause.as_deref().unwrap_or("")
            );
            Ok(ExitCode::from(1))
        }
        ExecutionStatus::TimedOut => {
            eprintln!("States.Timeout: the execution timed out");
            Ok(ExitCode::from(1))
        }
    }
}

fn validate(path: PathBuf) -> Result<ExitCode, String> {
    let request = read_request(&path)?;
    match privatelink_core::parse_request(&request) {
        Ok(parsed) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&parsed).unwrap_or_default()
            );
            eprintln!("valid");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {}", e.name.as_str(), e.message);
            Ok(ExitCode::from(2))
        }
    }
}

async fn sfn_client() -> aws_sdk_sfn::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(privatelink_core::aws::clients::timeouts())
        .load()
        .await;
    aws_sdk_sfn::Client::new(&config)
}

async fn start(path: PathBuf, state_machine: String) -> Result<ExitCode, String> {
    let request = read_request(&path)?;
    match privatelink_dispatcher::start(&sfn_client().await, &state_machine, &request).await {
        Ok(started) => {
            println!("{}", started.execution_arn);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {}", e.name.as_str(), e.message);
            Ok(ExitCode::from(2))
        }
    }
}

async fn watch(execution_arn: String, poll_seconds: u64) -> Result<ExitCode, String> {
    let poll = std::time::Duration::from_secs(poll_seconds.max(1));
    let outcome =
        atlas_privatelink::watch::watch(&sfn_client().await, &execution_arn, poll).await?;
    if outcome.succeeded() {
        eprintln!("SUCCEEDED");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{}: {} {}",
            outcome.status,
            outcome.error.as_deref().unwrap_or(""),
            outcome.cause.as_deref().unwrap_or("")
        );
        Ok(ExitCode::from(1))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ATLAS_PRIVATELINK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Validate { request } => validate(request),
        Command::Run(args) => run_local(Machine::Provision, args).await,
        Command::Teardown(args) => run_local(Machine::Teardown, args).await,
        Command::Plan {
            request,
            json,
            local,
            dir,
        } => match read_request(&request) {
            Ok(request) => atlas_privatelink::plan::command(&request, json, local.then_some(&*dir))
                .await
                .map(ExitCode::from),
            Err(e) => Err(e),
        },
        #[cfg(feature = "local-world")]
        Command::Demo => atlas_privatelink::demo::run()
            .await
            .map(|()| ExitCode::SUCCESS),
        #[cfg(feature = "local-world")]
        Command::Scenarios(args) => local_commands::scenarios(args).await,
        #[cfg(feature = "local-world")]
        Command::Local(command) => local_commands::local(command).await,
        Command::Start {
            request,
            state_machine,
        } => start(request, state_machine).await,
        Command::Watch {
            execution_arn,
            poll_seconds,
        } => watch(execution_arn, poll_seconds).await,
    };
    outcome.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(1)
    })
}
