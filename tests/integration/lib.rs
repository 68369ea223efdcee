//! Shared set-up for the integration tests: an in-process Atlas simulator on a virtual clock,
//! with every exchange checked against the Atlas OpenAPI spec; a moto server for AWS; a world
//! (VPC, subnets, cluster, credentials) for the workflow steps; and log capture.
#![warn(missing_docs)]

pub mod moto;
pub mod tools;
pub mod world;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_api::{AtlasClient, ClientConfig, Credentials, RetryPolicy, Secret};
use atlas_sim::{AtlasSim, ExchangeCheck, SimConfig, SimHandle};
use clock::VirtualClock;
use openapi_contract::Contract;

/// The simulator's default service account (see `SimConfig::default`).
pub fn service_account() -> Credentials {
    Credentials::ServiceAccount {
        client_id: "sim-client-id".into(),
        client_secret: Secret::new("sim-client-secret"),
    }
}

/// The simulator's default API key (see `SimConfig::default`).
pub fn api_key() -> Credentials {
    Credentials::ApiKey {
        public_key: "simpublickey".into(),
        private_key: Secret::new("sim-private-key-0000"),
    }
}

/// Every secret value the tests use, for "never logged" checks.
pub const SECRET_VALUES: [&str; 2] = ["sim-client-secret", "sim-private-key-0000"];

/// The Atlas spec, loaded once, as the simulator's exchange check (`SimConfig::contract`).
/// `None` (with a note on stderr) when it is not on this machine and CI is not set; under
/// `CI=true` a missing spec fails the test that asks for it.
pub fn contract() -> Option<Arc<dyn ExchangeCheck>> {
    static CONTRACT: std::sync::OnceLock<Option<Arc<dyn ExchangeCheck>>> =
        std::sync::OnceLock::new();
    CONTRACT
        .get_or_init(|| match Contract::locate() {
            Some(path) => match Contract::load(&path) {
                Ok(c) => Some(Arc::new(c) as Arc<dyn ExchangeCheck>),
                Err(e) => panic!("the Atlas spec at {} does not load: {e}", path.display()),
            },
            None => None,
        })
        .clone()
        .or_else(|| {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "the Atlas OpenAPI spec was not found (set ATLAS_OPENAPI_SPEC or put it at \
                     ../shared/atlas/openapi-privatelink.yaml); CI requires the contract checks"
                );
            }
            eprintln!("note: Atlas OpenAPI spec not found; contract checks skipped");
            None
        })
}

/// An in-process simulator on a virtual clock, checked against the spec.
pub struct AtlasHarness {
    /// The clock shared by the simulator and the clients.
    pub clock: VirtualClock,
    /// The running simulator.
    pub sim: SimHandle,
}

impl AtlasHarness {
    /// Starts a simulator with `config`, adding the contract check when the spec is present.
    pub async fn start(mut config: SimConfig) -> Self {
        config.contract = contract();
        let clock = VirtualClock::new();
        let sim = AtlasSim::start(config, Arc::new(clock.clone()))
            .await
            .expect("simulator starts");
        Self { clock, sim }
    }

    /// Starts a simulator with the default configuration.
    pub async fn default_sim() -> Self {
        Self::start(SimConfig::default()).await
    }

    /// The client config pointing at the simulator, with short timeouts.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            base_url: self.sim.base_url(),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            retry: RetryPolicy::default(),
        }
    }

    /// A client of the simulator on the shared virtual clock.
    pub fn client(&self, credentials: Credentials) -> AtlasClient {
        self.client_with(credentials, self.client_config())
    }

    /// A client with a custom configuration.
    pub fn client_with(&self, credentials: Credentials, config: ClientConfig) -> AtlasClient {
        AtlasClient::new(credentials, config, Arc::new(self.clock.clone())).expect("client")
    }

    /// Fails the test if any request or response broke the Atlas spec.
    pub fn assert_contract_clean(&self) {
        let violations = self.sim.contract_violations();
        assert!(
            violations.is_empty(),
            "exchanges that break the Atlas spec:\n{violations:#?}"
        );
    }
}

/// Log lines captured from `tracing` (JSON, as in Lambda).
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Writes a log line into the current thread's capture buffer, if it has one.
struct ThreadCapture;

impl Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(LogBuffer(b)) = c.borrow().as_ref()
                && let Ok(mut b) = b.lock()
            {
                b.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops capturing when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

/// Captures the `tracing` output (DEBUG and above, JSON lines as in Lambda) of the current
/// thread until the guard is dropped. Use it in a current-thread runtime, so the simulator's
/// tasks log on the same thread.
///
/// One global subscriber serves every test of the process: per-thread default subscribers
/// miss events whose call sites another thread registered first.
pub fn capture_logs() -> (CaptureGuard, LogBuffer) {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(|| ThreadCapture)
            .try_init();
    });
    let buffer = LogBuffer::default();
    CAPTURE.with(|c| *c.borrow_mut() = Some(buffer.clone()));
    (CaptureGuard(()), buffer)
}
