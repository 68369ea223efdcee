//! Where the external tools the tests use are, and what to do when one is missing.

use std::path::{Path, PathBuf};

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
