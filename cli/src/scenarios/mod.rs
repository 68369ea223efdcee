//! `atlas-privatelink scenarios`: every realism and fault scenario of the test suite, end to
//! end on the local world (virtual time, the real step code, the state machine files), one
//! row each: what was expected, what happened, what was left in AWS and Atlas after the
//! scenario's last teardown or rollback, and what existed twice.
//!
//! Each scenario builds its own [`LocalWorld`](devstack::LocalWorld) (its own project, VPCs,
//! simulator and clock) on one shared moto, so they run concurrently.
//!
//! What a row checks:
//! * **actual**: the outcome of the scenario's last execution (earlier ones are checked as
//!   steps of the scenario; a wrong one is a problem of the row);
//! * **left over**: what exists of ours once every request that succeeded has been torn down
//!   and Atlas has had 10 minutes to finish deleting; nothing is expected, whatever the
//!   outcome (a rollback must leave nothing either);
//! * **duplicates**: looked at before that teardown: more than one VPC endpoint in a VPC,
//!   one endpoint service in a region, or one interface per VPC endpoint.

mod access;
mod day_two;
mod dispatch;
mod faults;
mod harness;
mod limits;
mod realism;
mod secrets;

pub use faults::crash_steps;

use std::time::{Duration, Instant};

use devstack::{Moto, Realism};
use futures::StreamExt;
use futures::future::BoxFuture;

/// How a scenario should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The last execution succeeds.
    Succeeds,
    /// The last execution fails with this error name.
    Fails(&'static str),
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Succeeds => f.write_str("succeeded"),
            Expected::Fails(error) => write!(f, "fails {error}"),
        }
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actual {
    /// The last execution succeeded.
    Succeeded,
    /// The last execution failed with `error`, after rolling back if `rolled_back`.
    Failed {
        /// The error name.
        error: String,
        /// Whether the execution went through its Rollback state.
        rolled_back: bool,
    },
    /// The scenario could not be run (set-up failed, an execution timed out): the message.
    Broken(String),
}

impl std::fmt::Display for Actual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actual::Succeeded => f.write_str("succeeded"),
            Actual::Failed {
                error,
                rolled_back: true,
            } => write!(f, "rolled back {error}"),
            Actual::Failed { error, .. } => write!(f, "failed {error}"),
            Actual::Broken(message) => write!(f, "broken: {message}"),
        }
    }
}

/// What running a scenario found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How its last execution ended.
    pub actual: Actual,
    /// What was left of ours after its final teardown or rollback (`"1 VPC endpoint"`, …).
    pub left: Vec<String>,
    /// What existed twice (`"2 VPC endpoints in vpc-…"`, …).
    pub duplicates: Vec<String>,
    /// Checks of the scenario's own that failed (an earlier execution ending otherwise than
    /// it should, say).
    pub problems: Vec<String>,
}

impl Outcome {
    /// An outcome for a scenario that could not be run.
    pub fn broken(message: String) -> Self {
        Self {
            actual: Actual::Broken(message),
            left: Vec::new(),
            duplicates: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// What a scenario runs in: the shared moto and the rules of the AWS front.
pub struct Env {
    /// The moto server every scenario's world uses.
    pub moto: Moto,
    /// `false` under `--kind`: the AWS front's rules are off ([`Realism::kind`]) and a
    /// scenario's own adjustments of them are not applied.
    pub realistic: bool,
}

impl Env {
    /// The rules for a scenario: `adjust` applied to the realistic ones, or the kind ones.
    pub fn realism(&self, adjust: impl FnOnce(Realism) -> Realism) -> Realism {
        if self.realistic {
            adjust(Realism::realistic())
        } else {
            Realism::kind()
        }
    }
}

/// What a scenario's body returns: its outcome, or why it could not be run.
pub type Run<'a> = BoxFuture<'a, Result<Outcome, String>>;

/// A scenario's body: runs it in `env` with `arg` (the step, for the `crash-after-…` rows).
pub type RunFn = for<'a> fn(&'a Env, &'static str) -> Run<'a>;

/// One row of the catalogue.
pub struct Scenario {
    /// The id (`eventual-consistency`, `crash-after-link-endpoint`, …).
    pub id: String,
    /// How it should end.
    pub expected: Expected,
    /// One line saying what it does.
    pub description: String,
    /// Its body.
    pub run: RunFn,
    /// The argument given to `run`.
    pub arg: &'static str,
}

impl Scenario {
    fn new(id: &str, expected: Expected, description: &str, run: RunFn) -> Self {
        Self {
            id: id.to_owned(),
            expected,
            description: description.to_owned(),
            run,
            arg: "",
        }
    }
}

/// Every scenario, in the order the table shows them.
pub fn catalogue() -> Vec<Scenario> {
    let mut all = realism::scenarios();
    all.extend(access::scenarios());
    all.extend(secrets::scenarios());
    all.extend(limits::scenarios());
    all.extend(dispatch::scenarios());
    all.extend(faults::scenarios());
    all.extend(day_two::scenarios());
    all
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario's id.
    pub id: String,
    /// How it should have ended.
    pub expected: Expected,
    /// What it found.
    pub outcome: Outcome,
    /// Wall time it took.
    pub took: Duration,
}

impl Row {
    /// The outcome is the expected one, nothing was left, nothing existed twice, and every
    /// check of the scenario held.
    pub fn passed(&self) -> bool {
        let outcome = &self.outcome;
        let as_expected = match (&self.expected, &outcome.actual) {
            (Expected::Succeeds, Actual::Succeeded) => true,
            (Expected::Fails(want), Actual::Failed { error, .. }) => want == error,
            _ => false,
        };
        as_expected
            && outcome.left.is_empty()
            && outcome.duplicates.is_empty()
            && outcome.problems.is_empty()
    }
}

/// How many scenarios run at once: each one's Atlas simulator and AWS front are in-process,
/// so the limit is moto (one Python process) and the runtime's threads.
pub const CONCURRENCY: usize = 6;

/// Runs `scenarios` on one moto started for them, `CONCURRENCY` at a time, calling
/// `progress` as each ends; returns the rows in the order given.
pub async fn run(
    scenarios: &[Scenario],
    realistic: bool,
    progress: impl Fn(&Row),
) -> Result<Vec<Row>, String> {
    let env = Env {
        moto: Moto::start()?,
        realistic,
    };
    let mut rows: Vec<(usize, Row)> = futures::stream::iter(scenarios.iter().enumerate())
        .map(|(i, scenario)| {
            let env = &env;
            async move {
                let started = Instant::now();
                let outcome = (scenario.run)(env, scenario.arg)
                    .await
                    .unwrap_or_else(Outcome::broken);
                let row = Row {
                    id: scenario.id.clone(),
                    expected: scenario.expected,
                    outcome,
                    took: started.elapsed(),
                };
                (i, row)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .inspect(|(_, row)| progress(row))
        .collect()
        .await;
    env.moto.stop();
    rows.sort_by_key(|(i, _)| *i);
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

/// Runs the whole catalogue (what `scenarios --all` runs).
pub async fn run_all(realistic: bool, progress: impl Fn(&Row)) -> Result<Vec<Row>, String> {
    run(&catalogue(), realistic, progress).await
}

/// The scenarios named by `ids`, in the catalogue's order; an unknown id is an error.
pub fn select(ids: &[String]) -> Result<Vec<Scenario>, String> {
    let all = catalogue();
    if let Some(unknown) = ids.iter().find(|id| !all.iter().any(|s| &s.id == *id)) {
        return Err(format!(
            "no scenario {unknown:?}; `atlas-privatelink scenarios --list` lists them"
        ));
    }
    Ok(all.into_iter().filter(|s| ids.contains(&s.id)).collect())
}

/// The catalogue as `--list` shows it: id, expectation, description, aligned.
pub fn listing(scenarios: &[Scenario]) -> String {
    let rows: Vec<[String; 3]> = scenarios
        .iter()
        .map(|s| [s.id.clone(), s.expected.to_string(), s.description.clone()])
        .collect();
    aligned(&["id", "expected", "what it does"], &rows)
}

/// The results as a Markdown table: id | expected | actual | left over | duplicates |
/// verdict | time, then one line per failed check of a scenario.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let list = |items: &[String]| {
                if items.is_empty() {
                    "none".to_owned()
                } else {
                    items.join(", ")
                }
            };
            [
                r.id.clone(),
                r.expected.to_string(),
                r.outcome.actual.to_string(),
                list(&r.outcome.left),
                list(&r.outcome.duplicates),
                if r.passed() { "PASS" } else { "DIFF" }.to_owned(),
                format!("{:.1} s", r.took.as_secs_f64()),
            ]
        })
        .collect();
    let mut text = aligned(
        &[
            "id",
            "expected",
            "actual",
            "left over",
            "duplicates",
            "verdict",
            "time",
        ],
        &cells,
    );
    for row in rows {
        for problem in &row.outcome.problems {
            text.push_str(&format!("- {}: {problem}\n", row.id));
        }
    }
    text
}

/// A Markdown table whose columns are padded to their widest cell, so it reads as is too.
fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut text = line(header.iter().map(|h| (*h).to_owned()).collect());
    text.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        text.push_str(&line(row.to_vec()));
    }
    text
}
