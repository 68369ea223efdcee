//! `atlas-privatelink-bench`: the benchmark command behind `./scripts/bench.sh`.
//!
//! Sections (each can be run alone):
//! 1. cold start of every Lambda binary vs a bare `lambda_runtime` hello world;
//! 2. detection lag, Atlas calls, transitions and cost per run vs the peers' polling cadences;
//! 3. many provisionings at once under the simulator's rate limit: a goal row (200) and a
//!    fleet row (1,000), one VPC per target account;
//! 4. what one `verify` (the drift check) costs, in sync and after drift.
//!
//! The tables go to stdout (Markdown); progress goes to stderr. Goals are reported as
//! PASS/MISS here, never asserted in tests.

mod cold;
mod common;
mod lag;
mod scale;
mod verify;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use devstack::Moto;

/// Benchmarks of atlas-privatelink: cold start, detection lag and cost, scale.
#[derive(Debug, Parser)]
#[command(name = "atlas-privatelink-bench")]
struct Args {
    /// Sections to run: any of `cold`, `lag`, `scale`, `verify` (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "cold,lag,scale,verify")]
    sections: Vec<String>,
    /// Leave out the cold-start section (it needs a release build).
    #[arg(long)]
    skip_cold_start: bool,
    /// Runs of the detection-lag section.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Seed of the drawn provisioning delays.
    #[arg(long, default_value_t = 20_260_122)]
    seed: u64,
    /// Atlas projects of the scale section's goal row.
    #[arg(long, default_value_t = 4)]
    projects: usize,
    /// VPCs (target accounts) per project of the scale section's goal row.
    #[arg(long, default_value_t = 50)]
    vpcs: usize,
    /// Atlas projects of the scale section's fleet row (0: no fleet row).
    #[arg(long, default_value_t = 20)]
    fleet_projects: usize,
    /// VPCs (target accounts) per project of the scale section's fleet row.
    #[arg(long, default_value_t = 50)]
    fleet_vpcs: usize,
    /// Simulator rate limit in the scale section: bucket size per project.
    #[arg(long, default_value_t = 100)]
    rate_capacity: u32,
    /// Simulator rate limit in the scale section: refill, requests per minute per project.
    #[arg(long, default_value_t = 100.0)]
    rate_per_minute: f64,
    /// Real-time bound of the concurrent phase of the scale section's goal row, seconds.
    #[arg(long, default_value_t = 300)]
    scale_time_box: u64,
    /// Real-time bound of the concurrent phase of the scale section's fleet row, seconds.
    #[arg(long, default_value_t = 900)]
    fleet_time_box: u64,
    /// Starts per binary in the cold-start section.
    #[arg(long, default_value_t = 21)]
    starts: usize,
    /// Directory of the release binaries (default `$CARGO_TARGET_DIR/release`).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.0} GiB", kib / 1024.0 / 1024.0)
        });
    format!(
        "{} {}, {cpus} CPUs ({model}){mem}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let wants = |s: &str| args.sections.iter().any(|x| x == s);
    let total = Instant::now();
    let mut report = format!("# atlas-privatelink benchmark\n\nMachine: {}\n", machine());
    let mut ok = true;

    if wants("cold") && !args.skip_cold_start {
        eprintln!("== 1. cold start");
        let bin_dir = args
            .bin_dir
            .clone()
            .unwrap_or_else(|| target_dir().join("release"));
        let mut names = vec![cold::HELLO.to_owned(), cold::REFERENCE.to_owned()];
        names.extend(cold::lambda_functions());
        let lambda_dir = target_dir().join("lambda");
        let arm64_dir = target_dir().join("aarch64-unknown-linux-gnu/release");
        match cold::run(&bin_dir, &lambda_dir, &arm64_dir, &names, args.starts).await {
            Ok(figures) => report.push_str(&format!("\n{}", cold::table(&figures, args.starts))),
            Err(e) => {
                ok = false;
                report.push_str(&format!("\n## 1. Cold start\n\nnot measured: {e}\n"));
            }
        }
    } else {
        report.push_str("\n## 1. Cold start\n\nskipped\n");
    }

    let needs_moto = wants("lag") || wants("scale") || wants("verify");
    let moto = if needs_moto {
        match Moto::start() {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("moto: {e}");
                ok = false;
                None
            }
        }
    } else {
        None
    };

    if wants("lag") {
        eprintln!("== 2. detection lag ({} runs)", args.runs);
        let started = Instant::now();
        match &moto {
            Some(moto) => match lag::run(moto, args.seed, args.runs).await {
                Ok(figures) => {
                    report.push_str(&format!("\n{}", lag::table(&figures, args.seed, args.runs)));
                    eprintln!("   {}", lag::to_json(&figures));
                }
                Err(e) => {
                    ok = false;
                    report.push_str(&format!("\n## 2. Detection lag\n\nfailed: {e}\n"));
                }
            },
            None => report.push_str("\n## 2. Detection lag\n\nnot run: no moto\n"),
        }
        report.push_str(&format!(
            "\n(section 2 took {:.1} s real)\n",
            started.elapsed().as_secs_f64()
        ));
    }

    if wants("scale") {
        let fleet = args.fleet_projects > 0 && args.fleet_vpcs > 0;
        eprintln!(
            "== 3. scale ({} x {}{})",
            args.projects,
            args.vpcs,
            if fleet {
                format!("; fleet {} x {}", args.fleet_projects, args.fleet_vpcs)
            } else {
                String::new()
            }
        );
        let started = Instant::now();
        let limit = scale::rate_limit(args.rate_capacity, args.rate_per_minute);
        match &moto {
            Some(moto) => {
                let goal = scale::Row {
                    projects: args.projects,
                    vpcs: args.vpcs,
                    tag: scale::GOAL_TAG,
                    time_box: Duration::from_secs(args.scale_time_box),
                };
                let goal = scale::run(moto, goal, limit).await;
                let fleet = if fleet {
                    eprintln!(
                        "== 3. scale, fleet row ({} x {})",
                        args.fleet_projects, args.fleet_vpcs
                    );
                    let row = scale::Row {
                        projects: args.fleet_projects,
                        vpcs: args.fleet_vpcs,
                        tag: scale::FLEET_TAG,
                        time_box: Duration::from_secs(args.fleet_time_box),
                    };
                    Some(scale::run(moto, row, limit).await)
                } else {
                    None
                };
                ok &= goal.is_ok() && fleet.as_ref().is_none_or(Result::is_ok);
                report.push_str(&format!("\n{}", scale::table(&goal, fleet.as_ref(), limit)));
            }
            None => report.push_str("\n## 3. Scale\n\nnot run: no moto\n"),
        }
        report.push_str(&format!(
            "\n(section 3 took {:.1} s real)\n",
            started.elapsed().as_secs_f64()
        ));
    }
    if wants("verify") {
        eprintln!("== 4. verify");
        match &moto {
            Some(moto) => match verify::run(moto).await {
                Ok(figures) => {
                    report.push_str(&format!("\n{}", verify::table(&figures)));
                    eprintln!("   {}", verify::to_json(&figures));
                }
                Err(e) => {
                    ok = false;
                    report.push_str(&format!("\n## 4. One verify\n\nfailed: {e}\n"));
                }
            },
            None => report.push_str("\n## 4. One verify\n\nnot run: no moto\n"),
        }
    }
    if let Some(moto) = &moto {
        moto.stop();
    }
    report.push_str(&format!(
        "\nBenchmark took {:.1} s.\n",
        total.elapsed().as_secs_f64()
    ));
    println!("{report}");
    if !ok {
        std::process::exit(1);
    }
}
