//! Where the external tools the tests use are, and what to do when one is missing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The clone's root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// `$TOOLS_DIR`, else `<repo>/.tools` (as `scripts/env.sh` sets it).
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("TOOLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".tools"),
    }
}

/// `Some(())` when every path exists; otherwise a note and `None`, or a panic under `CI=true`.
pub fn require_tools(what: &str, paths: &[PathBuf]) -> Option<()> {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(());
    }
    let message = format!(
        "{what}: missing {} (run scripts/install-tools.sh, or set TOOLS_DIR)",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}; CI requires these tools");
    }
    eprintln!("skipped: {message}");
    None
}

/// Runs `command` with `stdin` as its standard input, failing the test after `limit`.
/// Returns (exit success, stdout, stderr).
pub fn run_with_limit(
    mut command: Command,
    stdin: &[u8],
    limit: Duration,
) -> (bool, String, String) {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // A child that exits early closes the pipe; its exit status tells the story.
        let _ = input.write_all(&stdin);
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("child status") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{description} did not finish within {limit:?}");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    writer.join().expect("stdin writer");
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    (status.success(), stdout, stderr)
}
