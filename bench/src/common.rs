//! What the sections share: a task invoker that records every step invocation (virtual start
//! and end, real duration), the local stack, statistics and a small seeded RNG.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use asl_runner::{
    ExecutionOptions, ExecutionResult, Runner, RunnerConfig, TaskFailure, TaskInvoker,
};
use atlas_privatelink::local::StepInvoker;
use atlas_privatelink::machines::{Machine, step_of};
use clock::VirtualClock;
use devstack::DevStack;
use futures::future::BoxFuture;
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::context::{Context, Polling, Settings};

use serde_json::Value;

/// One task attempt, as Lambda would bill it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The step (Lambda function).
    pub step: String,
    /// Virtual time the attempt started.
    pub start: SystemTime,
    /// Virtual time it ended.
    pub end: SystemTime,
    /// Real time the in-process step took.
    pub wall: Duration,
    /// It succeeded.
    pub ok: bool,
}

impl Invocation {
    /// What Lambda would bill: the (virtual) time the step spent waiting, polling included,
    /// plus the real time its code ran (virtual time stands still while code runs).
    pub fn billed(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default() + self.wall
    }
}

/// The CLI's in-process [`StepInvoker`], recording each attempt's times.
pub struct RecordingInvoker {
    ctx: Arc<Context>,
    inner: StepInvoker,
    log: Mutex<Vec<Invocation>>,
}

impl RecordingInvoker {
    /// An invoker on `ctx`, publishing the state machines' events with `events`
    /// ([`events`]).
    pub fn new(ctx: Arc<Context>, events: aws_sdk_eventbridge::Client) -> Self {
        Self {
            inner: StepInvoker::new(ctx.clone(), events),
            ctx,
            log: Mutex::new(Vec::new()),
        }
    }

    /// Every attempt so far, and a fresh log.
    pub fn take(&self) -> Vec<Invocation> {
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

impl TaskInvoker for RecordingInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        self.call(None, resource, input)
    }

    fn invoke_in<'a>(
        &'a self,
        task: asl_runner::TaskContext<'a>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        self.call(Some(task), resource, input)
    }
}

impl RecordingInvoker {
    /// One attempt through the inner invoker (told the execution when the runner told this
    /// one), recorded.
    fn call<'a>(
        &'a self,
        task: Option<asl_runner::TaskContext<'a>>,
        resource: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let start = self.ctx.clock.now();
            let wall = Instant::now();
            let result = match task {
                Some(task) => self.inner.invoke_in(task, resource, input).await,
                None => self.inner.invoke(resource, input).await,
            };
            let record = Invocation {
                step: step_of(resource).map_or(resource, |s| s.name()).to_owned(),
                start,
                end: self.ctx.clock.now(),
                wall: wall.elapsed(),
                ok: result.is_ok(),
            };
            if let Ok(mut log) = self.log.lock() {
                log.push(record);
            }
            result
        })
    }
}

/// EventBridge on the stack's AWS front (moto's default bus), for the state machines'
/// completion events.
pub async fn events(stack: &DevStack) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&stack.sdk_config("us-east-1").await)
}

/// A step context on the stack's AWS front and `clock` with the default (production)
/// settings, the polling ones overridable by the same environment variables as the Lambda
/// functions' (`ATLAS_POLL_SECONDS`, …). The front makes moto behave like AWS (EC2 reports
/// acceptance from the simulator's links, eventual consistency, zones, client tokens).
pub async fn context(stack: &DevStack, clock: &VirtualClock) -> Arc<Context> {
    let config = stack.sdk_config("us-east-1").await;
    // The stack's claims table, as deployed (a failure shows up as the runs' errors).
    let _ = devstack::create_claims_table(
        &aws_sdk_dynamodb::Client::new(&config),
        devstack::CLAIMS_TABLE,
    )
    .await;
    Arc::new(Context::new(
        Arc::new(clock.clone()),
        AwsClients::from_config(config),
        Settings {
            polling: Polling::from_env(),
            claims_table: Some(devstack::CLAIMS_TABLE.to_owned()),
            ..Settings::default()
        },
    ))
}

/// A runner of `provision.asl.json` on virtual time.
pub fn provision_runner(
    invoker: Arc<RecordingInvoker>,
    clock: &VirtualClock,
) -> Result<Runner, String> {
    let definition = Machine::Provision
        .load()
        .map_err(|e| format!("provision definition: {e}"))?;
    Ok(Runner::new(
        definition,
        invoker,
        RunnerConfig::virtual_time(clock.clone()).state_machine_name(Machine::Provision.name()),
    ))
}

/// Runs one execution named `name`.
pub async fn execute(runner: &Runner, input: Value, name: &str) -> ExecutionResult {
    runner
        .run_with(
            input,
            ExecutionOptions {
                name: Some(name.to_owned()),
            },
        )
        .await
}

/// Failure text of an execution, or `None` when it succeeded.
pub fn failure(result: &ExecutionResult) -> Option<String> {
    match &result.status {
        asl_runner::ExecutionStatus::Succeeded => None,
        asl_runner::ExecutionStatus::Failed { error, cause } => Some(format!(
            "{} {}",
            error.as_deref().unwrap_or(""),
            cause.as_deref().unwrap_or("")
        )),
        asl_runner::ExecutionStatus::TimedOut => Some("timed out".to_owned()),
    }
}

/// A 24-hex Atlas project id made from `tag` and `n`, unique within a bench run.
pub fn project_id(tag: u32, n: u32) -> String {
    let pid = std::process::id();
    format!("{pid:08x}{tag:08x}{n:08x}")
}

/// Seconds from `earlier` to `later`, negative when `later` is before.
pub fn secs_between(earlier: SystemTime, later: SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The median (upper median for an even count) of `values`; 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

/// Nearest-rank percentile of `values`; 0 when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The largest of `values`; 0 when empty.
pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// SplitMix64: a tiny, well-known seeded generator, so the drawn delays depend on the seed only.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration uniform in `low..=high` seconds, to the millisecond.
    pub fn secs_in(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low * 1000 + self.next_u64() % ((high - low) * 1000 + 1))
    }
}

/// PASS or MISS.
pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}
