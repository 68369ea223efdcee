//! The moto server (PyPI) that stores the local world's AWS resources: EC2, Secrets Manager,
//! STS, Step Functions, EventBridge and SQS (the event tap). Clients do not talk to it
//! directly but through the [`AwsFront`](crate::front::AwsFront), which makes it behave like
//! AWS.
//!
//! moto is started on a free loopback port from `$MOTO_SERVER_BIN` or the venv that
//! `scripts/install-tools.sh` makes. It dies with this process: it runs under a small shell
//! that kills it when our end of its stdin pipe closes, which happens however we exit.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Mutex<Option<Child>>,
}

/// Where `moto_server` is: `$MOTO_SERVER_BIN`, else `$TOOLS_DIR/venv/bin`, else the first
/// `moto_server` on `PATH` (the README's local sequence puts `.tools/venv/bin` there), else
/// `.tools/venv/bin` of the repository this was built from.
pub fn moto_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("MOTO_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    if let Some(tools) = std::env::var_os("TOOLS_DIR") {
        return PathBuf::from(tools).join("venv/bin/moto_server");
    }
    // A binary built in another checkout (CI's, a colleague's) must not send us there.
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("moto_server"))
            .find(|bin| bin.is_file())
    });
    on_path.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/moto_server")
    })
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

impl Moto {
    /// Starts a moto server on a free loopback port and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        let bin = moto_binary();
        if !bin.exists() {
            return Err(format!(
                "moto_server not found at {}: run ./scripts/install-tools.sh",
                bin.display()
            ));
        }
        let port = free_port()?;
        // `cat` returns when this process exits (its stdin pipe closes); then moto is killed.
        let script = r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & m=$!; cat >/dev/null; kill $m"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&bin)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                return Err(format!("moto_server did not start on port {port} in 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Mutex::new(Some(child)),
        })
    }

    /// Stops the server (it also stops when this process exits).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) {
            // Closing the pipe makes the wrapper kill moto.
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }

    /// A moto server shared by every caller in this process (tests), started on first use.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("{e}")))
    }
    /// SDK configuration pointing at moto itself (no AWS front), with dummy credentials, in
    /// `region`: for seeding and for looking at what exists.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }
}
