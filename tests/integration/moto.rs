//! A moto server (EC2, Secrets Manager) shared by the tests of this process.
//!
//! Started on first use on a free loopback port, from `$MOTO_SERVER_BIN` or the venv that
//! `scripts/install-tools.sh` makes. It dies with the test process: it runs under a small shell
//! that kills it when our end of its stdin pipe closes, which happens however we exit.
//! Tests share it and stay independent by working in VPCs and secret names of their own.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;

/// The running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    _child: Mutex<Child>,
}

fn moto_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("MOTO_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/moto_server")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The shared moto server, started on first call.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let bin = moto_binary();
        assert!(
            bin.exists(),
            "moto_server not found at {}: run ./scripts/install-tools.sh (or scripts/test.sh)",
            bin.display()
        );
        let port = free_port();
        // `cat` returns when the test process exits (its stdin pipe closes); then moto is killed.
        let script = r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & m=$!; cat >/dev/null; kill $m"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&bin)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(stderr) = child.stderr.take() {
                    for line in BufReader::new(stderr)
                        .lines()
                        .map_while(Result::ok)
                        .take(20)
                    {
                        err.push_str(&line);
                        err.push('\n');
                    }
                }
                panic!("moto_server did not start on port {port} in 30 s\n{err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _child: Mutex::new(child),
        }
    })
}

impl Moto {
    /// SDK configuration pointing at moto, with dummy credentials, in `region`.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .timeout_config(privatelink_core::aws::clients::timeouts())
            .load()
            .await
    }
}
