//! Section 3: many provisionings at once under Atlas's rate limit, on one virtual clock, one
//! moto and, per row, one Atlas simulator with its per-project token bucket on.
//!
//! Two rows, each a fresh stack (simulator, AWS front, clock) on the same moto:
//! * the goal row, default 200 executions (4 projects × 50 VPCs), each figure beside its goal:
//!   all succeed, simulated wall ≤ 1.12× one run alone, 429s ≤ 5 % of the Atlas requests, at
//!   most 1,500 Atlas requests; and nothing left over (one endpoint service per project, one
//!   interface per VPC, no leaked VPC endpoint, security group or orphan interface);
//! * the fleet row, default 1,000 executions (20 projects × 50 VPCs; `--fleet-projects 0`
//!   leaves it out), whose only goal is that all succeed: it shows how the Atlas requests, the
//!   429s and the real time per execution grow with the fleet.
//!
//! Both rows seed their VPCs the way account vending (Control Tower) makes them: one VPC per
//! target account, reached through a role (`aws.roleArn`, [`ROLE_NAME`]), so the executions
//! assume that role (`ctx.aws.for_region`) as in production and their security groups, VPC
//! endpoints and connection-string secret land in the target account (the table checks both:
//! no seeded VPC is visible to the stack's own account, and each secret is in its target
//! account, none in the stack's). The goal row keeps its meaning: 4 Atlas projects × 50 VPCs
//! under the per-project rate limit, and where the VPCs live changes no Atlas request. The
//! one-run reference of each row goes through a role too, so the ratio compares like with like.
//!
//! Why per account: moto (one Python process) answers a filtered Describe by scanning every
//! resource of the caller's account, so with all VPCs in one account each call's cost grew
//! with the fleet (1,000 VPCs: moto at 100 % CPU, nothing finished in 20 min); per account the
//! scan is one VPC's. Two more things would grow with the number of accounts in one process,
//! and [`fleet_context`] keeps them flat, as they are in AWS: moto finds the account of an
//! access key by scanning every account's keys (the workflow's clients name it in moto's
//! `x-moto-account-id` header instead), and the SDK's credentials cache, shared by all the
//! clients of one process, holds 64 roles (here it holds the fleet's, as each Lambda container
//! holds its own). So the real time per AWS call, and per execution, should be about the same
//! in both rows; the real time is moto's, and the table shows the AWS calls per execution
//! beside it.

mod accounts;
mod table;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl_runner::{ExecutionOptions, ExecutionResult};
use atlas_sim::{ClusterSeed, RateLimit, SimConfig};
use clock::{Clock, VirtualClock};
use devstack::{DevStack, Moto, Realism, create_credentials_secret};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use accounts::{
    Leftovers, Seeder, Target, fleet_context, leftovers, owner, request, secrets_of,
    visible_in_own_account,
};
pub use table::table;

use crate::common::{
    RecordingInvoker, context, events, failure, project_id, provision_runner, secs_between,
};

const REGION: &str = "us-east-1";

/// The role each target account has for the functions (the name README's account vending
/// uses).
pub const ROLE_NAME: &str = "AtlasPrivateLinkRole";

/// The goal row's goals.
const MAX_RATIO: f64 = 1.12;
const MAX_RATE_LIMITED_SHARE: f64 = 0.05;
const MAX_ATLAS_REQUESTS: u64 = 1_500;

/// Parallel AWS calls while seeding and checking (moto answers one at a time anyway).
const AWS_PARALLEL: usize = 8;

/// The token bucket of the simulator: `capacity` requests, refilled at `per_minute` a minute,
/// per project (default 100 and 100/min: Atlas's documented Admin API limit of 100 requests
/// per minute per project).
pub fn rate_limit(capacity: u32, per_minute: f64) -> RateLimit {
    RateLimit::new(capacity, per_minute / 60.0)
}

/// One row of the section: its size and where its projects and accounts come from.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Atlas projects.
    pub projects: usize,
    /// VPCs (target accounts) per project.
    pub vpcs: usize,
    /// Tag of the row's project ids ([`project_id`]) and first four digits of its account
    /// ids, so the rows never share a project or an account in the one moto.
    pub tag: u32,
    /// Real-time bound of the concurrent phase.
    pub time_box: Duration,
}

impl Row {
    /// Executions of the row.
    pub fn executions(&self) -> usize {
        self.projects * self.vpcs
    }

    /// The 12-digit account of VPC `n` of the row.
    fn account(&self, n: usize) -> String {
        format!("{:04}{n:08}", self.tag % 10_000)
    }

    /// The account of the row's one-run reference (beyond any fleet index).
    fn solo_account(&self) -> String {
        self.account(99_999_999)
    }

    fn project(&self, p: usize) -> String {
        project_id(self.tag, p as u32)
    }

    fn solo_project(&self) -> String {
        project_id(self.tag, u32::MAX)
    }
}

/// The goal row's tag (its accounts are `2000xxxxxxxx`).
pub const GOAL_TAG: u32 = 2000;
/// The fleet row's tag (its accounts are `1000xxxxxxxx`).
pub const FLEET_TAG: u32 = 1000;

/// The figures of one row.
#[derive(Debug, Default)]
pub struct ScaleFigures {
    /// Projects.
    pub projects: usize,
    /// VPCs per project.
    pub vpcs: usize,
    /// Executions that succeeded.
    pub succeeded: usize,
    /// Executions that finished (succeeded or failed) within the time box.
    pub finished: usize,
    /// Failures, first few.
    pub failures: Vec<String>,
    /// Real time the seeding took (a role assumed, a VPC and two subnets per account).
    pub seeding: Duration,
    /// Seeded VPCs the stack's own account can see (each should be in its target account
    /// only).
    pub visible_in_own_account: usize,
    /// The owner (account) of the first and last seeded VPC, through their roles, is their
    /// target account.
    pub owners_checked: bool,
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
    /// Connection-string secrets found in the target accounts (one per succeeded execution
    /// expected).
    pub secrets_in_targets: usize,
    /// Connection-string secrets of the row's projects in the stack's own account (0
    /// expected: the secret goes where the role leads).
    pub secrets_in_own_account: usize,
    /// 429 answers during the concurrent phase.
    pub rate_limited: u64,
    /// Atlas requests during the concurrent phase.
    pub atlas_requests: u64,
    /// The same, per operation.
    pub by_operation: BTreeMap<String, u64>,
    /// Step attempts (task invocations) during the concurrent phase.
    pub attempts: usize,
    /// Of those, the failed ones by step (the state machine retries them).
    pub failed_attempts: BTreeMap<String, usize>,
    /// AWS calls through the stack's front during the concurrent phase, by service (and
    /// `total`): what moto had to answer, which is where the real time goes.
    pub aws_calls: BTreeMap<String, u64>,
    /// Simulated time of one run alone (seconds).
    pub single_run: f64,
    /// Simulated time of all runs at once, first start to last stop (seconds).
    pub all_runs: f64,
    /// Real time of the concurrent phase.
    pub real: Duration,
    /// The time box ran out.
    pub timed_out: bool,
}

impl ScaleFigures {
    fn executions(&self) -> usize {
        self.projects * self.vpcs
    }

    fn ratio(&self) -> f64 {
        if self.single_run > 0.0 {
            self.all_runs / self.single_run
        } else {
            0.0
        }
    }

    fn rate_limited_share(&self) -> f64 {
        if self.atlas_requests == 0 {
            0.0
        } else {
            self.rate_limited as f64 / self.atlas_requests as f64
        }
    }

    fn per_execution(&self, n: u64) -> f64 {
        n as f64 / self.executions().max(1) as f64
    }

    fn leaks(&self) -> usize {
        self.leaked_vpc_endpoints + self.leaked_security_groups + self.orphan_interfaces
    }

    fn all_succeeded(&self) -> bool {
        self.succeeded == self.executions()
    }
}

/// Runs one row on a fresh stack over `moto`.
pub async fn run(moto: &Moto, row: Row, limit: RateLimit) -> Result<ScaleFigures, String> {
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
    let result = measure(moto, &stack, &clock, row).await;
    stack.shutdown().await;
    result
}

async fn measure(
    moto: &Moto,
    stack: &DevStack,
    clock: &VirtualClock,
    row: Row,
) -> Result<ScaleFigures, String> {
    let sim = stack.sim.clone();
    let seeder = Seeder {
        moto: moto.sdk_config(REGION).await,
        front: stack.sdk_config(REGION).await,
    };
    // The Atlas credentials live in the stack's own account (the default one), as deployed.
    let own_secrets = aws_sdk_secretsmanager::Client::new(&seeder.moto);
    let credentials = create_credentials_secret(
        &own_secrets,
        &format!(
            "bench/scale/{}/{}/atlas-credentials",
            std::process::id(),
            row.tag
        ),
        "sim-client-id",
        "sim-client-secret",
        &sim.base_url(),
    )
    .await?;
    let invoker = Arc::new(RecordingInvoker::new(
        fleet_context(stack, context(stack, clock).await).await,
        events(stack).await,
    ));
    let runner = Arc::new(provision_runner(invoker.clone(), clock)?);

    // One run alone, on its own project and account, as the reference.
    let solo = seeder
        .target(row.solo_project(), row.solo_account())
        .await?;
    sim.seed_cluster(ClusterSeed::new(&solo.project, "Cluster0", &["US_EAST_1"]))
        .map_err(|e| format!("seed cluster: {e}"))?;
    let result = runner
        .run_with(
            request(&solo, &credentials),
            ExecutionOptions {
                name: Some(format!("bench-scale-{}-solo", row.tag)),
            },
        )
        .await;
    if let Some(why) = failure(&result) {
        return Err(format!("the single reference run failed: {why}"));
    }
    let single_run = secs_between(result.start_time, result.stop_time);
    eprintln!("   single run: {single_run:.0} s simulated");

    // The fleet: projects × VPCs, one VPC per target account.
    let seeding = Instant::now();
    for p in 0..row.projects {
        sim.seed_cluster(ClusterSeed::new(row.project(p), "Cluster0", &["US_EAST_1"]))
            .map_err(|e| format!("seed cluster: {e}"))?;
    }
    let seeded: Vec<Result<Target, String>> = futures::stream::iter(0..row.executions())
        .map(|n| seeder.target(row.project(n / row.vpcs), row.account(n)))
        .buffered(AWS_PARALLEL)
        .collect()
        .await;
    let fleet = seeded
        .into_iter()
        .collect::<Result<Vec<Target>, String>>()?;
    let seeding = seeding.elapsed();
    eprintln!(
        "   seeded {} projects x {} VPCs, one account each, in {:.1} s",
        row.projects,
        row.vpcs,
        seeding.as_secs_f64()
    );
    let visible_in_own_account = visible_in_own_account(&seeder.moto, &fleet).await?;
    let mut owners_checked = true;
    for t in [fleet.first(), fleet.last()].into_iter().flatten() {
        owners_checked &= owner(&t.ec2, &t.network.vpc_id).await?.as_deref() == Some(&t.account);
    }
    eprintln!(
        "   seeded VPCs visible in the stack's own account: {visible_in_own_account}; first and last owned by their target account: {owners_checked}"
    );

    // The attempts of the reference run and the seeding are not the concurrent phase's.
    invoker.take();
    let before = sim.counters();
    let aws_before = aws_calls(stack);
    let real = Instant::now();
    let started_at = clock.now();
    // `run_with` counts each execution as a participant of the clock at once, so none of them
    // lets time run ahead before the others have started.
    let mut running: FuturesUnordered<_> = fleet
        .iter()
        .enumerate()
        .map(|(i, target)| {
            runner.run_with(
                request(target, &credentials),
                ExecutionOptions {
                    name: Some(format!("bench-scale-{}-{i}", row.tag)),
                },
            )
        })
        .collect();
    let mut results: Vec<ExecutionResult> = Vec::new();
    let deadline = tokio::time::Instant::now() + row.time_box;
    let progress_every = (row.executions() / 10).max(25);
    let mut timed_out = false;
    loop {
        match tokio::time::timeout_at(deadline, running.next()).await {
            Ok(Some(result)) => {
                results.push(result);
                if results.len().is_multiple_of(progress_every) {
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
    let aws_after = aws_calls(stack);
    let attempts = invoker.take();
    let mut failed_attempts: BTreeMap<String, usize> = BTreeMap::new();
    for a in attempts.iter().filter(|a| !a.ok) {
        *failed_attempts.entry(a.step.clone()).or_default() += 1;
    }
    let by_operation: BTreeMap<String, u64> = after
        .requests
        .iter()
        .map(|(op, n)| (op.clone(), n.saturating_sub(before.requests(op))))
        .filter(|(_, n)| *n > 0)
        .collect();

    let mut f = ScaleFigures {
        projects: row.projects,
        vpcs: row.vpcs,
        finished: results.len(),
        timed_out,
        real,
        seeding,
        visible_in_own_account,
        owners_checked,
        single_run,
        rate_limited: after.rate_limited.saturating_sub(before.rate_limited),
        atlas_requests: by_operation.values().sum(),
        by_operation,
        attempts: attempts.len(),
        failed_attempts,
        aws_calls: aws_after
            .iter()
            .map(|(service, n)| {
                let was = aws_before.get(service).copied().unwrap_or(0);
                (service.clone(), n.saturating_sub(was))
            })
            .collect(),
        ..ScaleFigures::default()
    };
    let prefix = format!("bench-scale-{}-", row.tag);
    let mut succeeded = HashSet::new();
    let mut last_stop = started_at;
    for r in &results {
        last_stop = last_stop.max(r.stop_time);
        match failure(r) {
            None => {
                f.succeeded += 1;
                if let Some(i) = r
                    .name
                    .strip_prefix(&prefix)
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    succeeded.insert(i);
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

    // What is left in AWS (in each target account, through its role) and in Atlas.
    let checks = Instant::now();
    let found: Vec<Result<Leftovers, String>> = futures::stream::iter(fleet.iter())
        .map(leftovers)
        .buffered(AWS_PARALLEL)
        .collect()
        .await;
    let mut live_vpces = HashSet::new();
    for (i, found) in found.into_iter().enumerate() {
        let found = found?;
        let expected = usize::from(succeeded.contains(&i));
        f.leaked_vpc_endpoints += found.endpoints.len().saturating_sub(expected);
        f.leaked_security_groups += found.groups.saturating_sub(expected);
        f.secrets_in_targets += found.secrets;
        live_vpces.extend(found.endpoints);
    }
    let projects: Vec<String> = (0..row.projects).map(|p| row.project(p)).collect();
    f.secrets_in_own_account = secrets_of(&own_secrets, &projects).await?;
    for project in &projects {
        f.services_per_project.push(sim.services(project).len());
        let interfaces = sim.interfaces(project);
        f.interfaces += interfaces.len();
        f.orphan_interfaces += interfaces
            .iter()
            .filter(|i| !live_vpces.contains(&i.interface_endpoint_id))
            .count();
    }
    eprintln!(
        "   leftovers checked in {:.1} s",
        checks.elapsed().as_secs_f64()
    );
    Ok(f)
}

/// The services whose calls the table shows (the SigV4 names the front counts by).
const AWS_SERVICES: [&str; 5] = ["ec2", "dynamodb", "secretsmanager", "sts", "events"];

/// AWS calls the front has seen so far, by service of [`AWS_SERVICES`], the rest as `other`,
/// and `total`.
fn aws_calls(stack: &DevStack) -> BTreeMap<String, u64> {
    let models = stack.models();
    let total = models.calls("");
    let mut calls: BTreeMap<String, u64> = AWS_SERVICES
        .iter()
        .map(|service| (service.to_string(), models.calls(&format!("{service}:"))))
        .collect();
    let named: u64 = calls.values().sum();
    calls.insert("other".to_owned(), total.saturating_sub(named));
    calls.insert("total".to_owned(), total);
    calls
}

#[cfg(test)]
mod tests {
    use super::accounts::MOTO_DEFAULT_ACCOUNT;
    use super::table::{compact, thousands};
    use super::*;

    #[test]
    fn accounts_are_twelve_digits_and_apart_per_row() {
        let row = |tag| Row {
            projects: 20,
            vpcs: 50,
            tag,
            time_box: Duration::from_secs(1),
        };
        let (goal, fleet) = (row(GOAL_TAG), row(FLEET_TAG));
        assert_eq!(goal.account(0), "200000000000");
        assert_eq!(fleet.account(999), "100000000999");
        assert_eq!(fleet.solo_account(), "100099999999");
        assert!(
            [goal.account(0), fleet.account(0), fleet.solo_account()]
                .iter()
                .all(|a| a.len() == 12 && a != MOTO_DEFAULT_ACCOUNT)
        );
    }

    #[test]
    fn figures_are_written_for_reading() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_500), "1,500");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(compact(&[1, 1, 1, 1]), "[1, 1, 1, 1]");
        assert_eq!(compact(&[1; 20]), "20 x 1");
    }
}
