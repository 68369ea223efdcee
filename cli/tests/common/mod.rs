//! What the CLI tests share: running the binary a user runs, in a directory of its own, and
//! stopping the local stack however a test ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `atlas-privatelink ARGS` in `dir` with `env` added.
pub fn cli(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atlas-privatelink"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("atlas-privatelink runs")
}

/// `export A=1 B=2` → `[(A, 1), (B, 2)]`.
pub fn exports(line: &str) -> Vec<(String, String)> {
    line.trim()
        .trim_start_matches("export ")
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Stops the stack however the test ends.
pub struct Down<'a>(pub &'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        if self.0.join(".local/state.json").exists() {
            let _ = cli(self.0, &["local", "down"], &[]);
        }
    }
}

/// A directory of its own (`atlas-privatelink-<name>-<pid>` in the temp dir) with
/// `local up --time-scale 200` run in it: the directory, and the `export` lines `up` printed.
/// Stop the stack with a [`Down`] on the directory.
pub fn local_up(name: &str) -> (PathBuf, Vec<(String, String)>) {
    let dir = std::env::temp_dir().join(format!("atlas-privatelink-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let up = cli(&dir, &["local", "up", "--time-scale", "200"], &[]);
    if !up.status.success() {
        // Stop whatever part started before the assertion fails.
        drop(Down(&dir));
        panic!("local up: {}", String::from_utf8_lossy(&up.stderr));
    }
    let env = exports(&String::from_utf8_lossy(&up.stdout));
    (dir, env)
}
