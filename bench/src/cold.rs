//! Section 1: cold start of every Lambda function (the one release binary, host build, as each
//! function's `ATLAS_PRIVATELINK_FUNCTION` selects it) against a small
//! local Runtime API: process start → first `GET /2018-06-01/runtime/invocation/next`, peak
//! RSS at that moment, binary and zip sizes; beside a bare `lambda_runtime` hello world. Then
//! the first invocation: the Runtime API hands out an empty event (`{}`) and times its answer
//! (a response, or an error: no step accepts `{}`), which is where the functions now build
//! their AWS configuration and clients.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::mpsc;

use privatelink_lambdas::{BINARY, FUNCTION_ENV, Function};

use crate::common::{median, percentile, verdict};

/// The baseline binary.
pub const HELLO: &str = "bench-hello";

/// The reference: the AWS configuration and one SDK client built on the first invocation,
/// then an answer (`bench/reference`): the work no AWS-calling function avoids.
pub const REFERENCE: &str = "bench-reference";

/// Goal: spawn → first answer at most this many times the reference's.
const REFERENCE_GOAL: f64 = 1.3;

/// Goal: peak RSS through the first answer, MiB.
const RSS_GOAL_MIB: f64 = 16.0;

/// One binary's figures.
#[derive(Debug, Default, Clone)]
pub struct ColdFigures {
    /// Binary name.
    pub name: String,
    /// Spawn → first `next`, milliseconds, per start.
    pub starts_ms: Vec<f64>,
    /// VmHWM once the first event was answered (the peak through the first invocation), KiB,
    /// per start.
    pub rss_kib: Vec<f64>,
    /// Spawn → the first event's response or error posted, milliseconds, per start: what a
    /// cold start costs the caller (Lambda bills the init and the invocation alike).
    pub answer_ms: Vec<f64>,
    /// First event handed out → its response or error posted, milliseconds, per start.
    pub first_invocation_ms: Vec<f64>,
    /// Size of the host binary.
    pub binary_bytes: Option<u64>,
    /// Size of `$CARGO_TARGET_DIR/lambda/<name>/bootstrap.zip` (arm64, scripts/package.sh).
    pub zip_bytes: Option<u64>,
    /// Size of the arm64 release binary, when cargo-lambda built it.
    pub arm64_bytes: Option<u64>,
    /// Starts that got no event or no answer within 10 s (counted, not measured).
    pub lost: Vec<String>,
    /// Why it could not be measured.
    pub error: Option<String>,
}

/// The Lambda functions: every step of the catalogue and the dispatcher.
pub fn lambda_functions() -> Vec<String> {
    Function::all()
        .into_iter()
        .map(|f| f.name().to_owned())
        .collect()
}

/// The binary a figure's row runs: the baseline's own, else the one Lambda binary.
fn binary_of(name: &str) -> &str {
    match name {
        HELLO => HELLO,
        REFERENCE => REFERENCE,
        _ => BINARY,
    }
}

/// What the local Runtime API saw.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// A `next` request; `true` when an event was handed out in answer.
    Next(Instant, bool),
    /// The event's response or error.
    Answered(Instant),
}

/// `next`: the first request of each start gets an empty event at once; later ones are held,
/// as the Lambda service holds the long poll while no event is queued.
async fn next_handler(
    tx: mpsc::UnboundedSender<Seen>,
    event_pending: Arc<AtomicBool>,
) -> (StatusCode, HeaderMap, &'static str) {
    let now = Instant::now();
    if event_pending.swap(false, Ordering::SeqCst) {
        let _ = tx.send(Seen::Next(now, true));
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + 60_000;
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        put("lambda-runtime-aws-request-id", "bench-request".to_owned());
        put("lambda-runtime-deadline-ms", deadline.to_string());
        put(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:bench".to_owned(),
        );
        put("content-type", "application/json".to_owned());
        return (StatusCode::OK, headers, "{}");
    }
    let _ = tx.send(Seen::Next(now, false));
    tokio::time::sleep(Duration::from_secs(120)).await;
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        HeaderMap::new(),
        "bench over",
    )
}

fn vm_hwm_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Measures `starts` cold starts of every binary in `names` (round robin, so noise hits all
/// alike) from `bin_dir`.
pub async fn run(
    bin_dir: &Path,
    lambda_dir: &Path,
    arm64_dir: &Path,
    names: &[String],
    starts: usize,
) -> Result<Vec<ColdFigures>, String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Seen>();
    let event_pending = Arc::new(AtomicBool::new(false));
    let answered = {
        let tx = tx.clone();
        move || {
            let _ = tx.send(Seen::Answered(Instant::now()));
            async { StatusCode::ACCEPTED }
        }
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", {
            let event_pending = event_pending.clone();
            get(move || next_handler(tx.clone(), event_pending.clone()))
        })
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(answered.clone()),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(answered));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("runtime API listener: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("runtime API address: {e}"))?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let mut figures: Vec<ColdFigures> = names
        .iter()
        .map(|name| {
            let path = bin_dir.join(binary_of(name));
            let zip = lambda_dir.join(binary_of(name)).join("bootstrap.zip");
            ColdFigures {
                name: name.clone(),
                binary_bytes: std::fs::metadata(&path).ok().map(|m| m.len()),
                zip_bytes: std::fs::metadata(&zip).ok().map(|m| m.len()),
                arm64_bytes: std::fs::metadata(arm64_dir.join(binary_of(name)))
                    .ok()
                    .map(|m| m.len()),
                error: (!path.exists()).then(|| format!("not built: {}", path.display())),
                ..ColdFigures::default()
            }
        })
        .collect();
    for round in 0..starts {
        for f in figures.iter_mut().filter(|f| f.error.is_none()) {
            let name = f.name.clone();
            event_pending.store(true, Ordering::SeqCst);
            if let Err(e) = one_start(
                &bin_dir.join(binary_of(&name)),
                &name,
                addr.port(),
                &mut rx,
                f,
            )
            .await
            {
                // One start lost is reported and the others still count; a binary that
                // loses more than a few is not measured.
                f.lost.push(e);
                if f.lost.len() > 3 {
                    f.error = f.lost.last().cloned();
                }
            }
        }
        if (round + 1) % 5 == 0 {
            eprintln!("   cold start round {}/{starts}", round + 1);
        }
    }
    server.abort();
    Ok(figures)
}

async fn one_start(
    path: &PathBuf,
    name: &str,
    port: u16,
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    f: &mut ColdFigures,
) -> Result<(), String> {
    while rx.try_recv().is_ok() {}
    let started = Instant::now();
    let mut child = Command::new(path)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env(FUNCTION_ENV, name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env(
            "ATLAS_CREDENTIALS_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-AbCdEf",
        )
        .env(
            "PROVISION_STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:000000000000:stateMachine:bench",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", path.display()))?;
    // A held `next` of the previous start (its process asked again right after answering,
    // before it was killed) may be seen late: only this start's event and answer count.
    let arrived = tokio::time::timeout(
        Duration::from_secs(10),
        seen(rx, |s| matches!(s, Seen::Next(_, true))),
    )
    .await;
    let answered = tokio::time::timeout(
        Duration::from_secs(10),
        seen(rx, |s| matches!(s, Seen::Answered(_))),
    )
    .await;
    // The high-water mark once the first event is answered: init and the first invocation.
    let rss = vm_hwm_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let Ok(Some(Seen::Next(at, true))) = arrived else {
        return Err("no Runtime API `next` request within 10 s".to_owned());
    };
    f.starts_ms
        .push(at.saturating_duration_since(started).as_secs_f64() * 1000.0);
    if let Some(rss) = rss {
        f.rss_kib.push(rss);
    }
    match answered {
        Ok(Some(Seen::Answered(done))) => {
            f.first_invocation_ms
                .push(done.saturating_duration_since(at).as_secs_f64() * 1000.0);
            f.answer_ms
                .push(done.saturating_duration_since(started).as_secs_f64() * 1000.0);
            Ok(())
        }
        _ => Err("the first event got no response or error within 10 s".to_owned()),
    }
}

/// The next message `wanted` accepts, skipping others (`None` once the channel closes).
async fn seen(rx: &mut mpsc::UnboundedReceiver<Seen>, wanted: fn(&Seen) -> bool) -> Option<Seen> {
    while let Some(s) = rx.recv().await {
        if wanted(&s) {
            return Some(s);
        }
    }
    None
}

fn mb(bytes: Option<u64>, missing: &str) -> String {
    bytes.map_or_else(
        || missing.to_owned(),
        |b| format!("{:.2}", b as f64 / 1_000_000.0),
    )
}

/// The median of `name`'s `pick`, or 0 when it was not measured.
fn median_of(figures: &[ColdFigures], name: &str, pick: fn(&ColdFigures) -> &Vec<f64>) -> f64 {
    figures
        .iter()
        .find(|f| f.name == name && f.error.is_none())
        .map_or(0.0, |f| median(pick(f)))
}

/// The section's table: spawn → first answer beside the reference's (the goal), and the
/// older measure (spawn → first `next`) beside hello-world's, for scale.
pub fn table(figures: &[ColdFigures], starts: usize) -> String {
    let hello_next = median_of(figures, HELLO, |f| &f.starts_ms);
    let reference = median_of(figures, REFERENCE, |f| &f.answer_ms);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## 1. Cold start (release profile, host build; {starts} starts each, round robin)\n\n\
Spawn -> first answer: the process starts, asks the local Runtime API for an event (`next`), gets `{{}}`, and posts its response or error. \
The reference (`bench/reference`) builds the AWS configuration and one SDK client on its first invocation and answers: the work no AWS-calling function avoids. \
Goal: <= {REFERENCE_GOAL}x the reference and peak RSS (VmHWM once the first event is answered) <= {RSS_GOAL_MIB} MiB.\n"
    );
    let _ = writeln!(
        out,
        "| binary | spawn -> answer ms (median) | p90 ms | x reference | peak RSS MiB | spawn -> next ms | x hello (next) | first invocation ms | binary MB (host) | binary MB (arm64) | zip MB (arm64) | goal |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut worst: f64 = 0.0;
    let mut worst_rss: f64 = 0.0;
    let mut worst_zip: Option<u64> = None;
    for f in figures {
        if let Some(e) = &f.error {
            let _ = writeln!(
                out,
                "| {} | — | — | — | — | — | — | — | {} | {} | {} | {e} |",
                f.name,
                mb(f.binary_bytes, "—"),
                mb(f.arm64_bytes, "—"),
                mb(f.zip_bytes, "not packaged")
            );
            continue;
        }
        let answer = median(&f.answer_ms);
        let ratio = if reference > 0.0 {
            answer / reference
        } else {
            f64::NAN
        };
        let rss = median(&f.rss_kib) / 1024.0;
        let ours = f.name != HELLO && f.name != REFERENCE;
        if ours {
            worst = worst.max(ratio);
            worst_rss = worst_rss.max(rss);
            worst_zip = worst_zip.max(f.zip_bytes);
        }
        let next = median(&f.starts_ms);
        let goal = match f.name.as_str() {
            HELLO => "scale".to_owned(),
            REFERENCE => "reference".to_owned(),
            _ => verdict(
                ratio <= REFERENCE_GOAL
                    && rss <= RSS_GOAL_MIB
                    && f.zip_bytes.is_none_or(|z| z <= 8_000_000),
            )
            .to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} | {:.1} | {} | {} | {} | {goal} |",
            f.name,
            answer,
            percentile(&f.answer_ms, 90.0),
            ratio,
            rss,
            next,
            if hello_next > 0.0 {
                next / hello_next
            } else {
                f64::NAN
            },
            median(&f.first_invocation_ms),
            mb(f.binary_bytes, "—"),
            mb(f.arm64_bytes, "—"),
            if ours {
                mb(f.zip_bytes, "not packaged")
            } else {
                "—".to_owned()
            },
        );
    }
    if reference > 0.0 && worst > 0.0 {
        let _ = writeln!(
            out,
            "\nWorst function: spawn -> answer {worst:.2}x the reference ({}), peak RSS {worst_rss:.1} MiB ({})",
            verdict(worst <= REFERENCE_GOAL),
            verdict(worst_rss <= RSS_GOAL_MIB)
        );
    } else {
        let _ = writeln!(
            out,
            "\nNo ratio: the reference or the Lambda binary was not measured (MISS)"
        );
    }
    for f in figures
        .iter()
        .filter(|f| !f.lost.is_empty() && f.error.is_none())
    {
        let _ = writeln!(
            out,
            "{}: {} of {starts} starts lost, not counted ({})",
            f.name,
            f.lost.len(),
            f.lost.join("; ")
        );
    }
    match worst_zip {
        Some(z) => {
            let _ = writeln!(
                out,
                "Largest zip: {:.2} MB ({})",
                z as f64 / 1_000_000.0,
                verdict(z <= 8_000_000)
            );
        }
        None => {
            let _ = writeln!(out, "Zips: not packaged (run ./scripts/package.sh first)");
        }
    }
    out
}
