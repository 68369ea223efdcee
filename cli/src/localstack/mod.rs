//! `atlas-privatelink local up | status | down`: the local world as a user tool. `up` starts,
//! in the background, moto behind the AWS front and the Atlas simulator on a scaled clock
//! (`local serve`, which owns them), seeds a cluster, a VPC with subnets in two zones, the
//! Atlas credentials and a database-user secret and the claims table, writes a ready
//! `local-request.json`, and prints the `export` lines that point `run --local` and
//! `teardown --local` at it. `seed REQUEST.json` makes a user's own request runnable on it.
//! `down` stops exactly what `up` started.

mod seed;
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use seed::{Seeded, seed};
pub use serve::serve;

/// What `local serve` runs and seeded, as `local up` and `local status` read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Process id of `local serve` (it owns moto, the front and the simulator).
    pub pid: u32,
    /// The AWS front (`AWS_ENDPOINT_URL`).
    pub aws_endpoint: String,
    /// moto itself (for looking at what exists).
    pub moto_endpoint: String,
    /// The Atlas simulator (`ATLAS_BASE_URL`).
    pub atlas_base_url: String,
    /// Speed-up of the simulator's and the front's clock (give `run --local` the same).
    pub time_scale: f64,
    /// The seeded project.
    pub project_id: String,
    /// The seeded cluster and its AWS regions.
    pub cluster: String,
    /// The cluster's regions.
    pub regions: Vec<String>,
    /// The ready request file.
    pub request: PathBuf,
}

impl State {
    /// The `export` lines for a shell.
    pub fn exports(&self) -> String {
        format!(
            "export AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing ATLAS_BASE_URL={} CLAIMS_TABLE={}",
            self.aws_endpoint,
            self.atlas_base_url,
            devstack::CLAIMS_TABLE
        )
    }
}

/// The state file in `dir`.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

/// Reads the state of a running local stack, if there is one.
pub fn read_state(dir: &Path) -> Option<State> {
    let text = std::fs::read_to_string(state_path(dir)).ok()?;
    serde_json::from_str(&text).ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// `local up`: starts `local serve` in the background and waits until it has seeded the world.
pub fn up(
    dir: &Path,
    time_scale: f64,
    regions: &[String],
    request: &Path,
) -> Result<State, String> {
    if let Some(state) = read_state(dir).filter(|s| alive(s.pid)) {
        return Err(format!(
            "a local stack runs already (pid {}); `atlas-privatelink local down` stops it",
            state.pid
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(state_path(dir));
    let log = std::fs::File::create(dir.join("serve.log"))
        .map_err(|e| format!("{}: {e}", dir.join("serve.log").display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let mut command = Command::new(exe);
    command
        .args(["local", "serve", "--time-scale", &time_scale.to_string()])
        .arg("--dir")
        .arg(dir)
        .arg("--request")
        .arg(request)
        .arg("--regions")
        .arg(regions.join(","))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    // Its own process group: the terminal's Ctrl-C to `up` (or its exit) does not stop it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("start local serve: {e}"))?;
    let started = Instant::now();
    loop {
        if let Some(state) = read_state(dir) {
            return Ok(state);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "local serve stopped ({status}); see {}",
                dir.join("serve.log").display()
            ));
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            return Err(format!(
                "local serve did not become ready in 120 s; see {}",
                dir.join("serve.log").display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `local down`: stops what `up` started (SIGTERM to `local serve`, which stops moto, the front
/// and the simulator) and waits until it is gone.
pub fn down(dir: &Path) -> Result<Option<u32>, String> {
    let Some(state) = read_state(dir) else {
        return Ok(None);
    };
    if alive(state.pid) {
        let status = Command::new("kill")
            .arg(state.pid.to_string())
            .status()
            .map_err(|e| format!("kill {}: {e}", state.pid))?;
        if !status.success() {
            return Err(format!("kill {} failed", state.pid));
        }
        let started = Instant::now();
        while alive(state.pid) && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if alive(state.pid) {
            return Err(format!(
                "local serve (pid {}) did not stop in 20 s",
                state.pid
            ));
        }
    }
    let _ = std::fs::remove_file(state_path(dir));
    Ok(Some(state.pid))
}

/// `local status`: what runs, where, and what was seeded.
pub fn status(dir: &Path) -> String {
    match read_state(dir) {
        None => "no local stack (start one with `atlas-privatelink local up`)".to_owned(),
        Some(state) => format!(
            "local stack {} (pid {}), time scale {}\n  AWS front     {}\n  moto          {}\n  Atlas         {}\n  project       {}, cluster {} in {}\n  request       {}\n{}",
            if alive(state.pid) {
                "running"
            } else {
                "NOT running"
            },
            state.pid,
            state.time_scale,
            state.aws_endpoint,
            state.moto_endpoint,
            state.atlas_base_url,
            state.project_id,
            state.cluster,
            state.regions.join(", "),
            state.request.display(),
            state.exports()
        ),
    }
}
