//! The section's tables: the goal row beside its goals, the fleet row beside it, and the Atlas
//! requests by operation.

use std::fmt::Write as _;

use atlas_sim::RateLimit;

use super::{
    MAX_ATLAS_REQUESTS, MAX_RATE_LIMITED_SHARE, MAX_RATIO, REGION, ROLE_NAME, ScaleFigures,
};
use crate::common::verdict;

/// A row's outcome as the table shows it.
pub type Outcome = Result<ScaleFigures, String>;

/// The section's tables: the goal row beside its goals, and the fleet row (if run) beside it;
/// then the Atlas requests of each concurrent phase by operation.
pub fn table(goal: &Outcome, fleet: Option<&Outcome>, limit: RateLimit) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## 3. Scale: provisionings at once ({REGION}), rate limit: token bucket of {} requests per project, refilled at {:.0}/min, 429 + Retry-After; one VPC per target account, reached through {ROLE_NAME}\n",
        limit.capacity,
        limit.refill_per_second * 60.0
    );
    let heading = |o: &Outcome, fallback: &str| match o {
        Ok(f) => format!(
            "{} ({} projects x {} VPCs)",
            thousands(f.executions() as u64),
            f.projects,
            f.vpcs
        ),
        Err(_) => fallback.to_owned(),
    };
    let mut header = format!("| measure | {} | goal |", heading(goal, "goal row"));
    let mut rule = "|---|---|---|".to_owned();
    if let Some(fleet) = fleet {
        header.push_str(&format!(" {} |", heading(fleet, "fleet row")));
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    // Succeeded: the fleet row's one goal is beside its figure.
    let succeeded = |o: &Outcome| match o {
        Ok(f) => format!(
            "{}/{} ({} finished{})",
            f.succeeded,
            f.executions(),
            f.finished,
            if f.timed_out { ", time box hit" } else { "" }
        ),
        Err(_) => "not measured".to_owned(),
    };
    let mut text = format!(
        "| succeeded / finished | {} | {} |",
        succeeded(goal),
        goal.as_ref().map_or_else(
            |_| "—".to_owned(),
            |f| format!("all: {}", verdict(f.all_succeeded()))
        )
    );
    if let Some(fleet) = fleet {
        let mark = fleet.as_ref().map_or(String::new(), |f| {
            format!(": {}", verdict(f.all_succeeded()))
        });
        text.push_str(&format!(" {}{mark} |", succeeded(fleet)));
    }
    let _ = writeln!(out, "{text}");
    // One line of the table: the goal row's value and goal, and the fleet row's value.
    let mut line = |measure: &str,
                    value: &dyn Fn(&ScaleFigures) -> String,
                    goal_of: &dyn Fn(&ScaleFigures) -> String| {
        let cell = |o: &Outcome| match o {
            Ok(f) => value(f),
            Err(_) => "not measured".to_owned(),
        };
        let mut text = format!(
            "| {measure} | {} | {} |",
            cell(goal),
            goal.as_ref().map_or_else(|_| "—".to_owned(), goal_of)
        );
        if let Some(fleet) = fleet {
            text.push_str(&format!(" {} |", cell(fleet)));
        }
        let _ = writeln!(out, "{text}");
    };
    line(
        "simulated wall: all at once vs one run",
        &|f| {
            format!(
                "{}{:.0} s vs {:.0} s = {:.2}x",
                if f.timed_out { "time box hit at " } else { "" },
                f.all_runs,
                f.single_run,
                f.ratio()
            )
        },
        &|f| {
            format!(
                "<= {MAX_RATIO}x: {}",
                verdict(f.ratio() <= MAX_RATIO && f.all_succeeded())
            )
        },
    );
    line(
        "429s / Atlas requests",
        &|f| {
            format!(
                "{} / {} = {:.1} %",
                thousands(f.rate_limited),
                thousands(f.atlas_requests),
                f.rate_limited_share() * 100.0
            )
        },
        &|f| {
            format!(
                "<= {:.0} %: {}",
                MAX_RATE_LIMITED_SHARE * 100.0,
                verdict(f.rate_limited_share() <= MAX_RATE_LIMITED_SHARE)
            )
        },
    );
    line(
        "Atlas requests (concurrent phase)",
        &|f| thousands(f.atlas_requests),
        &|f| {
            format!(
                "<= {}: {}",
                thousands(MAX_ATLAS_REQUESTS),
                verdict(f.atlas_requests <= MAX_ATLAS_REQUESTS)
            )
        },
    );
    line(
        "Atlas requests / 429s per execution",
        &|f| {
            format!(
                "{:.1} / {:.1}",
                f.per_execution(f.atlas_requests),
                f.per_execution(f.rate_limited)
            )
        },
        &|_| "—".to_owned(),
    );
    line(
        "endpoint services per project",
        &|f| compact(&f.services_per_project),
        &|f| {
            format!(
                "exactly 1: {}",
                verdict(f.services_per_project.iter().all(|&n| n == 1))
            )
        },
    );
    line(
        "interface endpoints in Atlas",
        &|f| f.interfaces.to_string(),
        &|f| {
            format!(
                "{}: {}",
                f.executions(),
                verdict(f.interfaces == f.executions())
            )
        },
    );
    line(
        "leaked: VPC endpoints / security groups / orphan Atlas interfaces",
        &|f| {
            format!(
                "{} / {} / {}{}",
                f.leaked_vpc_endpoints,
                f.leaked_security_groups,
                f.orphan_interfaces,
                cut_off(f)
            )
        },
        &|f| format!("0: {}", verdict(f.leaks() == 0)),
    );
    line(
        "connection-string secrets: in the target accounts / in the stack's account",
        &|f| {
            format!(
                "{} / {}{}",
                f.secrets_in_targets,
                f.secrets_in_own_account,
                cut_off(f)
            )
        },
        &|f| {
            format!(
                "one per success / 0: {}",
                verdict(f.secrets_in_targets == f.succeeded && f.secrets_in_own_account == 0)
            )
        },
    );
    line(
        "seeded VPCs visible in the stack's account; first/last owned by their account",
        &|f| {
            format!(
                "{}; {}",
                f.visible_in_own_account,
                if f.owners_checked { "yes" } else { "no" }
            )
        },
        &|f| {
            format!(
                "0; yes: {}",
                verdict(f.visible_in_own_account == 0 && f.owners_checked)
            )
        },
    );
    line(
        "step attempts (per execution); failed, by step",
        &|f| {
            let failed: usize = f.failed_attempts.values().sum();
            let by_step = f
                .failed_attempts
                .iter()
                .map(|(step, n)| format!("{step} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{} ({:.1}); {failed}{}",
                thousands(f.attempts as u64),
                f.per_execution(f.attempts as u64),
                if by_step.is_empty() {
                    String::new()
                } else {
                    format!(": {by_step}")
                }
            )
        },
        &|_| "—".to_owned(),
    );
    line(
        "AWS calls through the front (per execution)",
        &|f| {
            let total = f.aws_calls.get("total").copied().unwrap_or(0);
            format!("{} ({:.1})", thousands(total), f.per_execution(total))
        },
        &|_| "—".to_owned(),
    );
    line(
        "AWS calls per execution by service",
        &|f| {
            f.aws_calls
                .iter()
                .filter(|(service, n)| *service != "total" && **n > 0)
                .map(|(service, n)| format!("{service} {:.1}", f.per_execution(*n)))
                .collect::<Vec<_>>()
                .join(", ")
        },
        &|_| "—".to_owned(),
    );
    line(
        "real time: concurrent phase (per execution; per AWS call)",
        &|f| {
            let calls = f.aws_calls.get("total").copied().unwrap_or(0).max(1);
            format!(
                "{:.1} s ({:.3} s; {:.1} ms){}",
                f.real.as_secs_f64(),
                f.real.as_secs_f64() / f.executions().max(1) as f64,
                f.real.as_secs_f64() * 1000.0 / calls as f64,
                if f.timed_out { " (time box hit)" } else { "" }
            )
        },
        &|_| "—".to_owned(),
    );
    line(
        "real time: seeding (per account)",
        &|f| {
            format!(
                "{:.1} s ({:.3} s)",
                f.seeding.as_secs_f64(),
                f.seeding.as_secs_f64() / f.executions().max(1) as f64
            )
        },
        &|_| "—".to_owned(),
    );

    // Atlas requests by operation.
    let rows: Vec<&ScaleFigures> = std::iter::once(goal)
        .chain(fleet)
        .filter_map(|o| o.as_ref().ok())
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "\nAtlas requests of the concurrent phase by operation (total, per execution):\n"
        );
        let mut header = "| operation |".to_owned();
        let mut rule = "|---|".to_owned();
        for f in &rows {
            header.push_str(&format!(" {} |", thousands(f.executions() as u64)));
            rule.push_str("---|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        let operations: std::collections::BTreeSet<&String> =
            rows.iter().flat_map(|f| f.by_operation.keys()).collect();
        for op in operations {
            let mut text = format!("| {op} |");
            for f in &rows {
                let n = f.by_operation.get(op).copied().unwrap_or(0);
                text.push_str(&format!(" {} ({:.2}) |", thousands(n), f.per_execution(n)));
            }
            let _ = writeln!(out, "{text}");
        }
    }

    for (name, o) in std::iter::once(("goal row", goal)).chain(fleet.map(|f| ("fleet row", f))) {
        match o {
            Ok(f) => {
                for why in &f.failures {
                    let _ = writeln!(out, "\n{name} failure: {why}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "\n{name} failed: {e}");
            }
        }
    }
    out
}

/// A note for what a row left behind when the time box cut its runs off (what they had
/// made is still there: not a leak of the workflow).
pub(super) fn cut_off(f: &ScaleFigures) -> &'static str {
    if f.timed_out {
        " (runs cut off by the time box)"
    } else {
        ""
    }
}

/// `[1, 1, 1, 1]`, or `20 x 1` for a long run of ones (the fleet's 20 projects).
pub(super) fn compact(values: &[usize]) -> String {
    if values.len() > 8 && values.iter().all(|&n| n == values[0]) {
        format!("{} x {}", values.len(), values[0])
    } else {
        format!("{values:?}")
    }
}

/// `12,345`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
