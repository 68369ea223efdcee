//! The subcommands that need the local world (moto behind the AWS front, the Atlas simulator):
//! `demo`, `scenarios` and `local`. Built with the `local-world` feature (on by default).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
/// `atlas-privatelink local …`.
pub(crate) enum LocalCommand {
    /// Starts the local stack in the background and prints the `export` lines to use.
    Up {
        /// Run Atlas and the AWS front this many times faster than real time (give `run
        /// --local` the same factor).
        #[arg(long, default_value_t = 100.0)]
        time_scale: f64,
        /// AWS regions of the seeded cluster (a VPC is made in each).
        #[arg(long, value_delimiter = ',', default_value = "us-east-1")]
        regions: Vec<String>,
        /// Where the stack's state and log go.
        #[arg(long, default_value = ".local")]
        dir: PathBuf,
        /// The request file to write.
        #[arg(long, default_value = "local-request.json")]
        request: PathBuf,
    },
    /// What runs, where, and what was seeded.
    Status {
        /// The stack's directory.
        #[arg(long, default_value = ".local")]
        dir: PathBuf,
    },
    /// Makes your own request runnable on the local stack: seeds its cluster, creates the VPCs
    /// and secrets it names where missing, and writes it (with the local ids) to
    /// `<name>.local.json`.
    Seed {
        /// The request JSON file.
        request: PathBuf,
        /// The stack's directory.
        #[arg(long, default_value = ".local")]
        dir: PathBuf,
    },
    /// Stops exactly what `up` started.
    Down {
        /// The stack's directory.
        #[arg(long, default_value = ".local")]
        dir: PathBuf,
    },
    /// The process `up` starts (it owns moto, the AWS front and the simulator).
    #[command(hide = true)]
    Serve {
        /// Speed-up of the clock.
        #[arg(long)]
        time_scale: f64,
        /// Regions of the cluster.
        #[arg(long, value_delimiter = ',')]
        regions: Vec<String>,
        /// The stack's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The request file to write.
        #[arg(long)]
        request: PathBuf,
    },
}

/// Runs a `local` subcommand.
pub(crate) async fn local(command: LocalCommand) -> Result<ExitCode, String> {
    use atlas_privatelink::localstack;
    match command {
        LocalCommand::Up {
            time_scale,
            regions,
            dir,
            request,
        } => {
            let state = localstack::up(&dir, time_scale, &regions, &request)?;
            eprintln!(
                "local stack up (pid {}): Atlas simulator {} ({}x), AWS front {}; request {}",
                state.pid,
                state.atlas_base_url,
                state.time_scale,
                state.aws_endpoint,
                state.request.display()
            );
            println!("{}", state.exports());
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Status { dir } => {
            println!("{}", localstack::status(&dir));
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Seed { request, dir } => {
            let state = localstack::read_state(&dir)
                .ok_or("no local stack: start one with `atlas-privatelink local up`")?;
            let seeded = localstack::seed(&state, &request).await?;
            for change in &seeded.changes {
                eprintln!("  {change}");
            }
            println!("{}", seeded.request.display());
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Down { dir } => {
            match localstack::down(&dir)? {
                Some(pid) => eprintln!("local stack (pid {pid}) stopped"),
                None => eprintln!("no local stack"),
            }
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Serve {
            time_scale,
            regions,
            dir,
            request,
        } => {
            localstack::serve(&dir, time_scale, &regions, &request).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(clap::Args)]
/// `atlas-privatelink scenarios …`.
pub(crate) struct ScenarioArgs {
    /// Lists the scenarios (id, expected outcome, what it does) and runs nothing.
    #[arg(long)]
    list: bool,
    /// Runs every scenario.
    #[arg(long, conflicts_with = "ids")]
    all: bool,
    /// Turns the AWS front's rules off (moto as it is): some rows then behave differently.
    #[arg(long)]
    kind: bool,
    /// The scenarios to run.
    ids: Vec<String>,
}

/// Runs the chosen scenarios and prints their table.
pub(crate) async fn scenarios(args: ScenarioArgs) -> Result<ExitCode, String> {
    use atlas_privatelink::scenarios;
    let chosen = if args.all {
        scenarios::catalogue()
    } else {
        scenarios::select(&args.ids)?
    };
    if args.list || chosen.is_empty() {
        print!("{}", scenarios::listing(&scenarios::catalogue()));
        if !args.list {
            eprintln!("run them with --all, or name some");
        }
        return Ok(if args.list {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let started = std::time::Instant::now();
    let rows = scenarios::run(&chosen, !args.kind, |row| {
        eprintln!(
            "{} {} ({:.1} s)",
            if row.passed() { "PASS" } else { "DIFF" },
            row.id,
            row.took.as_secs_f64()
        );
    })
    .await?;
    print!("{}", scenarios::table(&rows));
    let differ = rows.iter().filter(|r| !r.passed()).count();
    eprintln!(
        "{} scenarios, {differ} differ from their expectation, in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if differ == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
