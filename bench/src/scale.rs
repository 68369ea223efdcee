//! Section 3: many provisionings at once — projects × VPCs in one region, one moto, one
//! simulator with its per-project token-bucket rate limit on, one virtual clock.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl_runner::{ExecutionOptions, ExecutionResult};
use atlas_sim::{ClusterSeed, RateLimit, SimConfig};
use clock::{Clock, VirtualClock};
use devstack::{DevStack, Moto, Network, Realism, create_credentials_secret, create_network};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};

use crate::common::{
    RecordingInvoker, context, events, execute, failure, project_id, provision_runner,
    secs_between, verdict,
};

const REGION: &str = "us-east-1";

/// The token bucket of the simulator: `capacity` requests, refilled at `per_minute` a minute,
/// per project (default 100 and 100/min: Atlas's documented Admin API limit of 100 requests
/// per minute per project).
pub fn rate_limit(capacity: u32, per_minute: f64) -> RateLimit {
    RateLimit::new(capacity, per_minute / 60.0)
}

/// The figures of the section.
#[derive(Debug, Default)]
pub struct ScaleFigures {
    /// Projects × VPCs.
    pub projects: usize,
    /// VPCs per project.
    pub vpcs: usize,
    /// Executions that succeeded.
    pub succeeded: usize,
    /// Executions that finished (succeeded or failed) within the time box.
    pub finished: usize,
    /// Failures, first few.
    pub failures: Vec<String>,
    /// Endpoint services per project.
    pub services_per_project: Vec<usize>,
    /// Interface endpoints in Atlas, all projects.
    pub interfaces: usize,
    /// Live VPC endpoints beyond one per succeeded VPC (or any for a failed one).
    pub leaked_vpc_endpoints: usize,
    /// Workflow security groups beyond one per succeeded VPC (or any for a failed one).
    pub leaked_security_groups: usize,
    /// Atlas interfaces whose VPC endpoint does not exist.
    pub orphan_interfaces: usize,
    /// 429 answers.
    pub rate_limited: u64,
    /// Atlas requests during the concurrent runs.
    pub atlas_requests: u64,
    /// Simulated time of one run alone (seconds).
    pub single_run: f64,
    /// Simulated time of all runs at once, first start to last stop (seconds).
    pub all_runs: f64,
    /// Real time of the concurrent runs.
    pub real: Duration,
    /// The time box ran out.
    pub timed_out: bool,
    /// The simulator's rate limit.
    pub limit: Option<RateLimit>,
}

/// Runs the section; `time_box` bounds the concurrent phase in real time.
pub async fn run(
    moto: &Moto,
    projects: usize,
    vpcs: usize,
    limit: RateLimit,
    time_box: Duration,
) -> Result<ScaleFigures, String> {
    let clock = VirtualClock::new();
    let stack = DevStack::start(
        moto,
        Arc::new(clock.clone()),
        SimConfig {
            rate_limit: Some(limit),
            ..SimConfig::default()
        },
        Realism::realistic(),
    )
    .await?;
    let sim = stack.sim.clone();
    let sdk = moto.sdk_config(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let credentials = create_credentials_secret(
        &secrets,
        &format!("bench/scale/{}/atlas-credentials", std::process::id()),
        "sim-client-id",
        "sim-client-secret",
        &sim.base_url(),
    )
    .await?;
    let invoker = Arc::new(RecordingInvoker::new(
        context(&stack, &clock).await,
        events(&stack).await,
    ));
    let runner = Arc::new(provision_runner(invoker.clone(), &clock)?);

    // One run alone, on its own project, as the reference.
    let solo = project_id(0x5c0, 0);
    sim.seed_cluster(ClusterSeed::new(&solo, "Cluster0", &["US_EAST_1"]))
        .map_err(|e| format!("seed cluster: {e}"))?;
    let network = create_network(&ec2, REGION, &solo).await?;
    let result = execute(
        &runner,
        request(&solo, &credentials, &network),
        "bench-scale-solo",
    )
    .await;
    if let Some(why) = failure(&result) {
        return Err(format!("the single reference run failed: {why}"));
    }
    let single_run = secs_between(result.start_time, result.stop_time);
    eprintln!("   single run: {single_run:.0} s simulated");

    // The fleet: projects × VPCs.
    let mut fleet: Vec<(String, Network)> = Vec::new();
    let seeding = Instant::now();
    for p in 0..projects {
        let project = project_id(0x5ca, p as u32);
        sim.seed_cluster(ClusterSeed::new(&project, "Cluster0", &["US_EAST_1"]))
            .map_err(|e| format!("seed cluster: {e}"))?;
        let networks: Vec<Result<Network, String>> = futures::stream::iter(0..vpcs)
            .map(|_| create_network(&ec2, REGION, &project))
            .buffer_unordered(8)
            .collect()
            .await;
        for n in networks {
            fleet.push((project.clone(), n?));
        }
    }
    eprintln!(
        "   seeded {projects} projects x {vpcs} VPCs in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let before = sim.counters();
    let real = Instant::now();
    let started_at = clock.now();
    // `run_with` counts each execution as a participant of the clock at once, so none of them
    // lets time run ahead before the others have started.
    let mut running: FuturesUnordered<_> = fleet
        .iter()
        .enumerate()
        .map(|(i, (project, network))| {
            runner.run_with(
                request(project, &credentials, network),
                ExecutionOptions {
                    name: Some(format!("bench-scale-{i}")),
                },
            )
        })
        .collect();
    let mut results: Vec<ExecutionResult> = Vec::new();
    let deadline = tokio::time::Instant::now() + time_box;
    let mut timed_out = false;
    loop {
        match tokio::time::timeout_at(deadline, running.next()).await {
            Ok(Some(result)) => {
                results.push(result);
                if results.len().is_multiple_of(50) {
                    eprintln!(
                        "   {} executions finished ({:.1} s real, {:.0} s simulated)",
                        results.len(),
                        real.elapsed().as_secs_f64(),
                        secs_between(started_at, clock.now())
                    );
                }
            }
            Ok(None) => break,
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    drop(running);
    let real = real.elapsed();
    let after = sim.counters();

    let mut f = ScaleFigures {
        projects,
        vpcs,
        finished: results.len(),
        timed_out,
        limit: Some(limit),
        real,
        single_run,
        rate_limited: after.rate_limited - before.rate_limited,
        atlas_requests: after.total_requests() - before.total_requests(),
        ..ScaleFigures::default()
    };
    let mut succeeded_vpcs = HashSet::new();
    let mut last_stop = started_at;
    for r in &results {
        last_stop = last_stop.max(r.stop_time);
        match failure(r) {
            None => {
                f.succeeded += 1;
                if let Some(i) = r
                    .name
                    .strip_prefix("bench-scale-")
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    succeeded_vpcs.insert(fleet[i].1.vpc_id.clone());
                }
            }
            Some(why) if f.failures.len() < 5 => f.failures.push(format!("{}: {why}", r.name)),
            Some(_) => {}
        }
    }
    if timed_out {
        last_stop = last_stop.max(clock.now());
    }
    f.all_runs = secs_between(started_at, last_stop);

    // What is left in Atlas and in AWS.
    let mut live_vpces = HashSet::new();
    let counts: Vec<Result<Leftovers, String>> =
        futures::stream::iter(fleet.iter().map(|(_, n)| n.clone()))
            .map(|n| {
                let ec2 = ec2.clone();
                async move {
                    let (endpoints, groups) = leftovers(&ec2, &n.vpc_id).await?;
                    Ok((n.vpc_id, endpoints, groups))
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    for c in counts {
        let (vpc, endpoints, groups) = c?;
        let expected = usize::from(succeeded_vpcs.contains(&vpc));
        f.leaked_vpc_endpoints += endpoints.len().saturating_sub(expected);
        f.leaked_security_groups += groups.saturating_sub(expected);
        live_vpces.extend(endpoints);
    }
    for p in 0..projects {
        let project = project_id(0x5ca, p as u32);
        f.services_per_project.push(sim.services(&project).len());
        let interfaces = sim.interfaces(&project);
        f.interfaces += interfaces.len();
        f.orphan_interfaces += interfaces
            .iter()
            .filter(|i| !live_vpces.contains(&i.interface_endpoint_id))
            .count();
    }
    stack.shutdown().await;
    Ok(f)
}

/// A VPC, its live VPC endpoints and its number of workflow security groups.
type Leftovers = (String, Vec<String>, usize);

fn request(project: &str, credentials: &str, network: &Network) -> Value {
    json!({
        "atlas": {"projectId": project, "clusterName": "Cluster0", "credentialsSecretArn": credentials},
        "endpoints": [{"region": network.region, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids}],
        "tags": {"team": "bench-scale"}
    })
}

/// Live VPC endpoints of a VPC, and the number of workflow security groups in it.
async fn leftovers(ec2: &aws_sdk_ec2::Client, vpc: &str) -> Result<(Vec<String>, usize), String> {
    use aws_sdk_ec2::types::Filter;
    let filter = || Filter::builder().name("vpc-id").values(vpc).build();
    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(filter())
        .send()
        .await
        .map_err(|e| format!("DescribeVpcEndpoints: {e}"))?;
    let endpoints = endpoints
        .vpc_endpoints()
        .iter()
        .filter(|e| {
            !e.state()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
        })
        .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
        .collect();
    let groups = ec2
        .describe_security_groups()
        .filters(filter())
        .send()
        .await
        .map_err(|e| format!("DescribeSecurityGroups: {e}"))?;
    let groups = groups
        .security_groups()
        .iter()
        .filter(|g| {
            g.group_name()
                .is_some_and(|n| n.starts_with("atlas-privatelink-"))
        })
        .count();
    Ok((endpoints, groups))
}

/// The section's table.
pub fn table(f: &ScaleFigures) -> String {
    let total = f.projects * f.vpcs;
    let ratio = if f.single_run > 0.0 {
        f.all_runs / f.single_run
    } else {
        0.0
    };
    let one_each = f.services_per_project.iter().all(|&n| n == 1);
    let leaks = f.leaked_vpc_endpoints + f.leaked_security_groups + f.orphan_interfaces;
    let rl = f.limit.unwrap_or_else(|| rate_limit(100, 100.0));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## 3. Scale: {total} provisionings at once ({} projects x {} VPCs, {REGION}), rate limit: token bucket of {} requests per project, refilled at {:.0}/min, 429 + Retry-After\n",
        f.projects,
        f.vpcs,
        rl.capacity,
        rl.refill_per_second * 60.0
    );
    let _ = writeln!(out, "| measure | value | goal |");
    let _ = writeln!(out, "|---|---|---|");
    let _ = writeln!(
        out,
        "| succeeded | {}/{total}{} | all: {} |",
        f.succeeded,
        if f.timed_out {
            format!(" (time box hit, {} finished)", f.finished)
        } else {
            String::new()
        },
        verdict(f.succeeded == total)
    );
    let _ = writeln!(
        out,
        "| endpoint services per project | {:?} | exactly 1: {} |",
        f.services_per_project,
        verdict(one_each)
    );
    let _ = writeln!(
        out,
        "| interface endpoints in Atlas | {} | {total}: {} |",
        f.interfaces,
        verdict(f.interfaces == total)
    );
    let _ = writeln!(
        out,
        "| leaked: VPC endpoints / security groups / orphan Atlas interfaces | {} / {} / {} | 0: {} |",
        f.leaked_vpc_endpoints,
        f.leaked_security_groups,
        f.orphan_interfaces,
        verdict(leaks == 0)
    );
    let _ = writeln!(
        out,
        "| 429s seen / Atlas requests | {} / {} | — |",
        f.rate_limited, f.atlas_requests
    );
    let _ = writeln!(
        out,
        "| simulated wall: all at once vs one run | {:.0} s vs {:.0} s = {ratio:.2}x | <= 1.2x: {} |",
        f.all_runs,
        f.single_run,
        verdict(ratio <= 1.2 && f.succeeded == total)
    );
    let _ = writeln!(
        out,
        "| real wall time (concurrent phase) | {:.1} s | — |",
        f.real.as_secs_f64()
    );
    for why in &f.failures {
        let _ = writeln!(out, "\nfailure: {why}");
    }
    out
}
