//! Section 2: detection lag, Atlas calls, transitions and cost per run of `provision.asl.json`
//! under seeded provisioning delays, beside the polling cadences the peers publish.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_sim::{ClusterSeed, Delays, SimConfig, SimHandle};
use clock::VirtualClock;
use devstack::{Acceptance, DevStack, Moto, Realism, create_credentials_secret, create_network};
use serde_json::{Value, json};

use crate::common::{
    Invocation, RecordingInvoker, SplitMix64, context, events, execute, failure, max, median,
    project_id, provision_runner, secs_between, verdict,
};

/// Lambda memory the model bills (MB).
pub const MEMORY_MB: f64 = 128.0;
/// arm64 Lambda price per GB-second (us-east-1).
pub const PRICE_GB_S: f64 = 0.000_013_333_4;
/// Lambda price per request.
pub const PRICE_REQUEST: f64 = 0.20 / 1_000_000.0;
/// Step Functions Standard price per state transition.
pub const PRICE_TRANSITION: f64 = 0.025 / 1000.0;
/// DynamoDB on-demand price per write request unit (us-east-1): the list price before the
/// November 2024 cut ($1.25 per million; half that since), the higher one, so the cost is an
/// upper bound (aws.amazon.com/dynamodb/pricing/on-demand).
pub const PRICE_DDB_WRITE: f64 = 1.25 / 1_000_000.0;
/// DynamoDB on-demand price per read request unit, likewise ($0.25 per million before the cut).
pub const PRICE_DDB_READ: f64 = 0.25 / 1_000_000.0;
/// The endpoint service delay (fixed by the issue).
pub const SERVICE_DELAY: Duration = Duration::from_secs(150);

/// The delays of one run.
#[derive(Debug, Clone, Copy)]
pub struct Draw {
    /// Link → interface `AVAILABLE`.
    pub interface: Duration,
    /// Interface `AVAILABLE` → cluster `IDLE`.
    pub cluster_idle: Duration,
}

/// The per-run delays for `runs` runs from `seed`: interface 120–300 s, cluster IDLE 60–300 s.
pub fn draws(seed: u64, runs: usize) -> Vec<Draw> {
    let mut rng = SplitMix64::new(seed);
    (0..runs)
        .map(|_| Draw {
            interface: rng.secs_in(120, 300),
            cluster_idle: rng.secs_in(60, 300),
        })
        .collect()
}

/// What one design did over the runs.
#[derive(Debug, Default, Clone)]
pub struct DesignFigures {
    /// Name of the design.
    pub name: String,
    /// Lag per run and phase (service, interface, cluster IDLE), seconds.
    pub lags: [Vec<f64>; 3],
    /// Atlas API calls per run.
    pub calls: Vec<f64>,
    /// State transitions per run (ours only).
    pub transitions: Vec<f64>,
    /// Lambda GB-seconds per run (ours only).
    pub gb_s: Vec<f64>,
    /// Lambda invocations per run (ours only).
    pub invocations: Vec<f64>,
    /// DynamoDB calls per run (ours only).
    pub dynamo: Vec<f64>,
    /// Cost per run, USD (ours only).
    pub cost: Vec<f64>,
    /// Provisioning time per run (simulated seconds).
    pub total: Vec<f64>,
    /// Atlas requests per operation, summed over the runs (ours only).
    pub by_operation: BTreeMap<String, u64>,
    /// DynamoDB calls per `dynamodb:Action`, summed over the runs (ours only).
    pub dynamo_by_action: BTreeMap<String, u64>,
}

/// A peer's published polling cadence.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// Name and source.
    pub name: &'static str,
    /// First service poll after creation.
    pub service_first: f64,
    /// Later service polls.
    pub service_every: f64,
    /// Interface polls.
    pub interface_every: f64,
    /// Cluster polls.
    pub cluster_every: f64,
}

/// The cadences the issue lists.
pub const PEERS: [Cadence; 4] = [
    Cadence {
        name: "Terraform provider (5s then 10s / 10s / 10s)",
        service_first: 5.0,
        service_every: 10.0,
        interface_every: 10.0,
        cluster_every: 10.0,
    },
    Cadence {
        name: "Atlas CLI watch (4s)",
        service_first: 4.0,
        service_every: 4.0,
        interface_every: 4.0,
        cluster_every: 4.0,
    },
    Cadence {
        name: "Kubernetes operator (10s)",
        service_first: 10.0,
        service_every: 10.0,
        interface_every: 10.0,
        cluster_every: 10.0,
    },
    Cadence {
        name: "CloudFormation (20s)",
        service_first: 20.0,
        service_every: 20.0,
        interface_every: 20.0,
        cluster_every: 20.0,
    },
];

/// Calls a peer makes besides polls: a token, create the service, create the interface.
pub const PEER_FIXED_CALLS: f64 = 3.0;

/// First poll at `start + first + k·every` (k ≥ 0) at or after `ready`; returns (poll time,
/// number of polls).
fn first_poll(start: f64, first: f64, every: f64, ready: f64) -> (f64, f64) {
    let t0 = start + first;
    if t0 >= ready {
        return (t0, 1.0);
    }
    let k = ((ready - t0) / every).ceil();
    (t0 + k * every, k + 1.0)
}

/// A peer on the drawn delays, analytically: sequential phases, each polled at its cadence
/// from the moment the previous one was seen; the link is made when the service is seen.
pub fn simulate_peer(peer: &Cadence, draws: &[Draw]) -> DesignFigures {
    let mut f = DesignFigures {
        name: peer.name.to_owned(),
        ..DesignFigures::default()
    };
    for d in draws {
        let service_ready = SERVICE_DELAY.as_secs_f64();
        let (seen_service, polls_s) =
            first_poll(0.0, peer.service_first, peer.service_every, service_ready);
        let interface_ready = seen_service + d.interface.as_secs_f64();
        let (seen_interface, polls_i) = first_poll(
            seen_service,
            peer.interface_every,
            peer.interface_every,
            interface_ready,
        );
        let idle = interface_ready + d.cluster_idle.as_secs_f64();
        let (seen_idle, polls_c) =
            first_poll(seen_interface, peer.cluster_every, peer.cluster_every, idle);
        f.lags[0].push(seen_service - service_ready);
        f.lags[1].push(seen_interface - interface_ready);
        f.lags[2].push(seen_idle - idle);
        f.calls.push(polls_s + polls_i + polls_c + PEER_FIXED_CALLS);
        f.total.push(seen_idle);
    }
    f
}

/// The billed GB-seconds of `invocations`: each rounded up to 1 ms, at [`MEMORY_MB`].
pub fn gb_seconds(invocations: &[Invocation]) -> f64 {
    invocations
        .iter()
        .map(|i| (i.billed().as_micros() as f64 / 1000.0).ceil().max(1.0) / 1000.0)
        .sum::<f64>()
        * (MEMORY_MB / 1024.0)
}

/// DynamoDB calls of the stack (the claims and the shared Atlas reads), as the AWS front counted
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DynamoCalls {
    /// `GetItem` calls (strongly consistent reads).
    pub reads: u64,
    /// Every other item call (conditional puts and updates, deletes).
    pub writes: u64,
}

impl DynamoCalls {
    /// The calls the front has seen so far.
    pub fn of(stack: &DevStack) -> Self {
        Self::from_actions(&stack.models().calls_by_action("dynamodb:"))
    }

    /// The calls of a count per `dynamodb:Action`.
    pub fn from_actions(actions: &BTreeMap<String, u64>) -> Self {
        let reads = actions.get("dynamodb:GetItem").copied().unwrap_or(0);
        Self {
            reads,
            writes: actions.values().sum::<u64>().saturating_sub(reads),
        }
    }

    /// The calls made since `before`.
    pub fn since(self, before: Self) -> Self {
        Self {
            reads: self.reads.saturating_sub(before.reads),
            writes: self.writes.saturating_sub(before.writes),
        }
    }

    /// Their price: one request unit each. The items of a run are under 1 KB (one write unit
    /// a write), and a strongly consistent read of up to 4 KB is one read unit (DynamoDB
    /// developer guide, "Read/write capacity mode").
    pub fn cost(self) -> f64 {
        self.reads as f64 * PRICE_DDB_READ + self.writes as f64 * PRICE_DDB_WRITE
    }

    /// All calls.
    pub fn total(self) -> u64 {
        self.reads + self.writes
    }
}

/// `name mean, …` of counts summed over `runs` runs.
fn means(counts: &BTreeMap<String, u64>, runs: usize) -> String {
    let runs = runs.max(1) as f64;
    counts
        .iter()
        .map(|(name, n)| format!("{name} {:.1}", *n as f64 / runs))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Cost of one run: Step Functions, Lambda and DynamoDB.
pub fn cost(transitions: f64, invocations: f64, gb_s: f64, dynamo: DynamoCalls) -> f64 {
    transitions * PRICE_TRANSITION + invocations * PRICE_REQUEST + gb_s * PRICE_GB_S + dynamo.cost()
}

struct Lab {
    /// Names this design's projects: the designs run on one moto, whose claims table (and
    /// the shared Atlas reads in it) outlives each design's stack, and each stack's virtual
    /// clock starts again at the real time, so a design reusing another's project ids would
    /// take that design's cached answers (read "later" on its clock) as fresh.
    tag: u32,
    stack: Arc<DevStack>,
    sim: SimHandle,
    clock: VirtualClock,
    credentials: String,
}

/// Runs our state machine once per draw (one fresh project, VPC and cluster per run, the
/// run's delays set on the simulator before it starts) under each EC2 acceptance model (when
/// EC2 reports the endpoint `available`: AWS does not document it), and the peers on the same
/// draws.
pub async fn run(moto: &Moto, seed: u64, runs: usize) -> Result<Vec<DesignFigures>, String> {
    let draws = draws(seed, runs);
    let mut all = Vec::new();
    for (acceptance, name) in [
        (
            Acceptance::WhenAtlasAvailable,
            "ours: provision.asl.json (EC2 available with Atlas AVAILABLE)",
        ),
        (
            Acceptance::AtAcceptance,
            "ours: provision.asl.json (EC2 available at acceptance)",
        ),
    ] {
        all.push(run_ours(moto, &draws, acceptance, name).await?);
    }
    all.extend(PEERS.iter().map(|p| simulate_peer(p, &draws)));
    Ok(all)
}

async fn run_ours(
    moto: &Moto,
    draws: &[Draw],
    acceptance: Acceptance,
    name: &str,
) -> Result<DesignFigures, String> {
    let runs = draws.len();
    let clock = VirtualClock::new();
    let stack = Arc::new(
        DevStack::start(
            moto,
            Arc::new(clock.clone()),
            SimConfig::default(),
            Realism::realistic().with_acceptance(acceptance),
        )
        .await?,
    );
    let sim = stack.sim.clone();
    let sdk = moto.sdk_config("us-east-1").await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let credentials = create_credentials_secret(
        &secrets,
        &format!(
            "bench/lag/{}/{acceptance:?}/atlas-credentials",
            std::process::id()
        ),
        "sim-client-id",
        "sim-client-secret",
        &sim.base_url(),
    )
    .await?;
    let lab = Lab {
        tag: 0x1a9 + acceptance as u32,
        stack: stack.clone(),
        sim: sim.clone(),
        clock,
        credentials,
    };
    let mut ours = DesignFigures {
        name: name.to_owned(),
        ..DesignFigures::default()
    };
    let wall = Instant::now();
    for (i, draw) in draws.iter().enumerate() {
        one_run(moto, &lab, i, draw, &mut ours).await?;
        eprintln!(
            "   lag run {}/{runs} ({acceptance:?}): interface {:.1} s, cluster IDLE {:.1} s -> lags {:.1} / {:.1} / {:.1} s, {} Atlas calls, {} transitions ({:.1} s into the design)",
            i + 1,
            draw.interface.as_secs_f64(),
            draw.cluster_idle.as_secs_f64(),
            ours.lags[0][i],
            ours.lags[1][i],
            ours.lags[2][i],
            ours.calls[i],
            ours.transitions[i],
            wall.elapsed().as_secs_f64()
        );
    }
    stack.shutdown().await;
    Ok(ours)
}

async fn one_run(
    moto: &Moto,
    lab: &Lab,
    i: usize,
    draw: &Draw,
    figures: &mut DesignFigures,
) -> Result<(), String> {
    let project = project_id(lab.tag, i as u32);
    let sdk = moto.sdk_config("us-east-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let network = create_network(&ec2, "us-east-1", &project).await?;
    lab.sim
        .seed_cluster(ClusterSeed::new(&project, "Cluster0", &["US_EAST_1"]))
        .map_err(|e| format!("seed cluster: {e}"))?;
    lab.sim.set_delays(Delays {
        service_available: SERVICE_DELAY,
        interface_pending: Duration::from_secs(30).min(draw.interface),
        interface_available: draw.interface,
        cluster_idle: draw.cluster_idle,
        ..Delays::default()
    });
    let request = json!({
        "atlas": {"projectId": project, "clusterName": "Cluster0", "credentialsSecretArn": lab.credentials},
        "endpoints": [{"region": "us-east-1", "vpcId": network.vpc_id, "subnetIds": network.subnet_ids}],
        "tags": {"team": "bench"}
    });
    // A fresh context per run: every run fetches its own Atlas token, as a cold function would.
    let invoker = Arc::new(RecordingInvoker::new(
        context(&lab.stack, &lab.clock).await,
        events(&lab.stack).await,
    ));
    let runner = provision_runner(invoker.clone(), &lab.clock)?;
    let before = lab.sim.counters();
    let dynamo_before = lab.stack.models().calls_by_action("dynamodb:");
    let result = execute(&runner, request, &format!("bench-lag-{i}")).await;
    let after = lab.sim.counters();
    let mut dynamo_run = lab.stack.models().calls_by_action("dynamodb:");
    for (action, n) in &mut dynamo_run {
        *n = n.saturating_sub(dynamo_before.get(action).copied().unwrap_or(0));
    }
    let dynamo = DynamoCalls::from_actions(&dynamo_run);
    for (action, n) in dynamo_run {
        *figures.dynamo_by_action.entry(action).or_default() += n;
    }
    if let Some(why) = failure(&result) {
        return Err(format!("lag run {i} failed: {why}"));
    }
    let invocations = invoker.take();
    let first = |step: &str, ok: bool| -> Result<&Invocation, String> {
        invocations
            .iter()
            .find(|inv| inv.step == step && (inv.ok || !ok))
            .ok_or_else(|| format!("run {i}: no successful {step}"))
    };
    // When the simulator reached each state: the record's creation time plus its delay.
    let service_created = first("ensure-endpoint-service", true)?.start;
    let service_ready = service_created + SERVICE_DELAY;
    // link-endpoint first waits for AWS to finish creating the endpoint, then links: the
    // link is made when the step ends.
    let linked = first("link-endpoint", true)?.end;
    let interface_ready = linked + draw.interface;
    let idle = interface_ready + draw.cluster_idle;
    // When the workflow acted on it: the observing step's success (its TaskSucceeded time).
    let seen_service = first("get-service-name", true)?.end;
    let seen_interface = first("verify-endpoint", true)?.end;
    let seen_idle = first("store-connection-strings", true)?.end;
    check_sim_agrees(&lab.sim, &project, &invocations)?;
    figures.lags[0].push(secs_between(service_ready, seen_service));
    figures.lags[1].push(secs_between(interface_ready, seen_interface));
    figures.lags[2].push(secs_between(idle, seen_idle));
    figures
        .calls
        .push((after.total_requests() - before.total_requests()) as f64);
    for (op, n) in &after.requests {
        let diff = n - before.requests(op);
        if diff > 0 {
            *figures.by_operation.entry(op.clone()).or_default() += diff;
        }
    }
    let transitions = result.state_transitions as f64;
    let gb_s = gb_seconds(&invocations);
    let count = invocations.len() as f64;
    figures.transitions.push(transitions);
    figures.gb_s.push(gb_s);
    figures.invocations.push(count);
    figures.dynamo.push(dynamo.total() as f64);
    figures.cost.push(cost(transitions, count, gb_s, dynamo));
    figures
        .total
        .push(secs_between(result.start_time, result.stop_time));
    Ok(())
}

/// The simulator's own view agrees that the run ended with the service and interface ready.
fn check_sim_agrees(
    sim: &SimHandle,
    project: &str,
    invocations: &[Invocation],
) -> Result<(), String> {
    let services = sim.services(project);
    let interfaces = sim.interfaces(project);
    let service_ok = services
        .iter()
        .any(|s| s.status == "AVAILABLE" && s.endpoint_service_name.is_some());
    let interface_ok = interfaces
        .iter()
        .any(|i| i.connection_status == "AVAILABLE");
    if !(service_ok && interface_ok) || invocations.is_empty() {
        return Err(format!(
            "simulator disagrees for {project}: services {services:?}, interfaces {interfaces:?}"
        ));
    }
    Ok(())
}

fn fmt_phase(values: &[f64]) -> String {
    format!("{:.1}", median(values))
}

/// The section's table.
pub fn table(figures: &[DesignFigures], seed: u64, runs: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## 2. Detection lag and cost ({runs} runs, seed {seed}; service 150 s, interface 120-300 s, cluster IDLE 60-300 s after AVAILABLE)\n"
    );
    let _ = writeln!(
        out,
        "| design | median lag service / interface / IDLE (s) | max lag (s) | Atlas calls (median) | transitions | Lambda invocations | GB-s | DynamoDB calls | $/run | provisioning (median s) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for f in figures {
        let all: Vec<f64> = f.lags.iter().flatten().copied().collect();
        let ours = !f.transitions.is_empty();
        let dash = || "—".to_owned();
        let _ = writeln!(
            out,
            "| {} | {} / {} / {} | {:.1} | {:.0} | {} | {} | {} | {} | {} | {:.0} |",
            f.name,
            fmt_phase(&f.lags[0]),
            fmt_phase(&f.lags[1]),
            fmt_phase(&f.lags[2]),
            max(&all),
            median(&f.calls),
            if ours {
                format!("{:.0}", median(&f.transitions))
            } else {
                dash()
            },
            if ours {
                format!("{:.0}", median(&f.invocations))
            } else {
                dash()
            },
            if ours {
                format!("{:.4}", median(&f.gb_s))
            } else {
                dash()
            },
            if ours {
                format!("{:.0}", median(&f.dynamo))
            } else {
                dash()
            },
            if ours {
                format!("{:.5}", median(&f.cost))
            } else {
                dash()
            },
            median(&f.total),
        );
    }
    let terraform = figures.iter().find(|f| f.transitions.is_empty());
    for ours in figures.iter().filter(|f| !f.transitions.is_empty()) {
        let Some(terraform) = terraform else { break };
        let _ = writeln!(out, "\nGoals ({}):", ours.name);
        for (phase, lags) in ["service", "interface", "cluster IDLE"]
            .iter()
            .zip(&ours.lags)
        {
            let m = median(lags);
            let _ = writeln!(
                out,
                "- median lag {phase} <= 2 s: {:.1} s -> {}",
                m,
                verdict(m <= 2.0)
            );
        }
        let (oc, tc) = (median(&ours.calls), median(&terraform.calls));
        let _ = writeln!(
            out,
            "- Atlas calls <= Terraform's: {oc:.0} vs {tc:.0} -> {}",
            verdict(oc <= tc)
        );
        let c = median(&ours.cost);
        let _ = writeln!(
            out,
            "- cost <= $0.001 per run: ${c:.5} -> {}",
            verdict(c <= 0.001)
        );
    }
    if let Some(ours) = figures.first() {
        let _ = writeln!(
            out,
            "\nOur Atlas calls per run by operation (mean): {}",
            means(&ours.by_operation, runs)
        );
        for design in figures.iter().filter(|d| !d.dynamo_by_action.is_empty()) {
            let _ = writeln!(
                out,
                "Our DynamoDB calls per run by action (mean; {}): {}",
                design.name,
                means(&design.dynamo_by_action, runs)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nModel: lag = time the observing step succeeded (get-service-name, verify-endpoint, store-connection-strings) minus the time the simulator reached the state (creation/link time + delay). \
Our Atlas calls are every request the simulator received (token, list, create, GETs, retries); a peer's are its polls + {PEER_FIXED_CALLS:.0} (token, create service, create interface), polls at its cadence from the moment the previous phase was seen (peers: analytic, same drawn delays; the service takes exactly 150 s, so a cadence dividing 150 s sees it with no lag). \
GB-s = sum over Lambda invocations of (virtual time the step spent, polling sleeps included, + the real time its code ran), each rounded up to 1 ms, x {MEMORY_MB:.0} MB (no cold-start init billed); \
$/run = transitions x $0.025/1000 + invocations x $0.20/1M + GB-s x $0.0000133334 (arm64) + DynamoDB calls (the claims and the shared Atlas reads, counted by the AWS front) at $0.25/1M reads and $1.25/1M writes (one request unit each: items under 1 KB)."
    );
    out
}

/// For the JSON summary.
pub fn to_json(figures: &[DesignFigures]) -> Value {
    Value::Array(
        figures
            .iter()
            .map(|f| {
                json!({
                    "design": f.name,
                    "medianLag": [median(&f.lags[0]), median(&f.lags[1]), median(&f.lags[2])],
                    "maxLag": max(&f.lags.iter().flatten().copied().collect::<Vec<_>>()),
                    "atlasCalls": median(&f.calls),
                    "transitions": median(&f.transitions),
                    "gbSeconds": median(&f.gb_s),
                    "costPerRun": median(&f.cost),
                })
            })
            .collect(),
    )
}
