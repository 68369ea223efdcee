//! A stateful simulator of the MongoDB Atlas Admin API v2 private-endpoint operations, for
//! tests, benchmarks and the local demo.
//!
//! It serves, under `/api/atlas/v2`, the AWS private endpoint service and interface endpoint
//! operations (cross-region `supportedRemoteRegions` included, with its PATCH), the project's
//! regionalized private endpoint mode (GET/PATCH `…/privateEndpoint/regionalMode`) and the
//! cluster GET (version 2024-08-05), with both Atlas authentication schemes
//! (service-account OAuth tokens from `POST /api/oauth/token`, and HTTP Digest API keys),
//! versioned media types, `ApiError` bodies, a per-project token-bucket rate limiter, an
//! optional organization API access list, queued faults and scripted outcomes. A [`LinkGate`]
//! (`SimConfig::link_gate`) lets a simulated AWS side fail links made while a VPC endpoint is
//! still being created, as Atlas does; in the other direction, [`SimHandle::service_regions`]
//! tells the simulated AWS side which regions a service accepts VPC endpoints from. A control
//! API under `/__sim` (and the same methods on
//! [`SimHandle`]) seeds clusters, queues faults, changes the scenario and reads counters.
//!
//! Every state change is computed from [`Clock::now`](clock::Clock::now) when a request reads
//! it: nothing runs in the background, so a [`VirtualClock`](clock::VirtualClock) shared with
//! a test makes a 150-second provisioning take no wall time. Only the "slow response" fault
//! waits in real time.
//!
//! With [`SimConfig::contract`] set (an [`ExchangeCheck`]: the OpenAPI checker of the
//! `openapi-contract` crate with the default `contract` feature), every request and response
//! is checked against the Atlas spec and the violations are recorded.
//!
//! Error codes the simulator answers with (all in `ApiError` bodies, `application/json`):
//! `PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION` (409), `PRIVATE_ENDPOINT_ALREADY_EXISTS`
//! (409), `PRIVATE_ENDPOINT_SERVICE_NOT_READY` (400),
//! `CANNOT_DELETE_PRIVATE_ENDPOINT_SERVICE_WITH_ENDPOINTS` (400), `INVALID_PROVIDER` (400),
//! `INVALID_ATTRIBUTE`, `CROSS_REGION_PRIVATE_LINK_SELF_REGION`, `PROVIDER_UNSUPPORTED` (400,
//! `supportedRemoteRegions`), `REGIONALIZED_PRIVATE_ENDPOINTS_REQUIRE_SHARDED_CLUSTERS` and
//! `CANNOT_DISABLE_REGIONALIZED_PRIVATE_ENDPOINTS_WITH_MULTIPLE_ENDPOINTS` (409, the regional
//! mode; the simulator's own codes, Atlas's are not known),
//! `INVALID_REGION` (400), `VALIDATION_ERROR` (400), `INVALID_JSON` (400),
//! `SERVERLESS_INSTANCE_RETIRED` (400), `UNAUTHORIZED` (401), `PRIVATE_ENDPOINT_SERVICE_NOT_FOUND`,
//! `PRIVATE_ENDPOINT_NOT_FOUND`, `CLUSTER_NOT_FOUND`, `RESOURCE_NOT_FOUND` (404),
//! `UNSUPPORTED_VERSION` (406), `UNSUPPORTED_MEDIA_TYPE` (415), `CONTRACT_VIOLATION` (422 for a
//! request, 500 for a response), `RATE_LIMITED_TOKEN_BUCKET` (429), `UNEXPECTED_ERROR` (500),
//! `SERVICE_UNAVAILABLE` (503), `IP_ADDRESS_NOT_ON_ACCESS_LIST` (403, when an API access list is
//! set and the caller's address is not on it).
#![warn(missing_docs)]

mod auth;
mod cluster;
mod config;
#[cfg(feature = "contract")]
mod contract;
mod control;
mod delays;
mod exchange;
mod faults;
mod ids;
mod outcome;
mod pipeline;
mod rate_limit;
mod regional;
mod remote;
mod reply;
mod routes;
mod seconds;
mod shared;
mod state;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;
use clock::SharedClock;
use ipnet::IpNet;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::REALM;
pub use cluster::{ClusterSeed, ClusterType};
pub use config::{ApiKey, Scenario, ServiceAccount, SimConfig};
pub use delays::{Delays, DelaysPatch};
pub use exchange::{ExchangeCheck, Violation};
pub use faults::{Counters, Fault, FaultAction, OPERATIONS};
pub use ids::{atlas_region, aws_region};
pub use outcome::{LinkGate, Outcome, ReadyStatus};
pub use rate_limit::RateLimit;
pub use state::{InterfaceView, ServiceRegionsView, ServiceView};

use shared::{Shared, lock};

/// The simulator could not start or refused a change.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A cluster seed is invalid.
    #[error("invalid cluster: {0}")]
    InvalidCluster(String),
    /// A scenario is invalid.
    #[error("invalid scenario: {0}")]
    InvalidScenario(String),
}

/// The simulator.
#[derive(Debug)]
pub struct AtlasSim;

impl AtlasSim {
    /// Starts a simulator on `config.listen` (default `127.0.0.1:0`) whose state changes follow
    /// `clock`.
    pub async fn start(config: SimConfig, clock: SharedClock) -> Result<SimHandle, SimError> {
        let listen = config.listen;
        let shared = Arc::new(Shared::new(config, clock));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: listen,
            source,
        })?;
        let app = Router::new()
            .route("/api/oauth/token", post(pipeline::token))
            .merge(control::router())
            .fallback(pipeline::atlas_api)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // With the peer address, which the API access list needs.
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulator server stopped");
            }
        });
        tracing::info!(%addr, "atlas simulator listening");
        Ok(SimHandle {
            inner: Arc::new(HandleInner {
                shared,
                addr,
                stop: Mutex::new(Some(stop)),
                server: Mutex::new(Some(server)),
            }),
        })
    }
}

#[derive(Debug)]
struct HandleInner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<()>>>,
}

/// A running simulator. Clones share it.
#[derive(Debug, Clone)]
pub struct SimHandle {
    inner: Arc<HandleInner>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`: what `https://cloud.mongodb.com` is to a real client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The clock the simulator runs on.
    pub fn clock(&self) -> SharedClock {
        self.inner.shared.clock.clone()
    }

    /// Seeds (or replaces) a cluster; returns its description.
    pub fn seed_cluster(&self, seed: ClusterSeed) -> Result<Value, SimError> {
        self.inner.shared.seed_cluster(seed)
    }

    /// Queues a fault. A fault naming an unknown operation (see [`OPERATIONS`]) never matches;
    /// a warning is logged.
    pub fn inject(&self, fault: Fault) {
        self.inner.shared.inject(fault);
    }

    /// Adds an outcome for services created / interfaces linked from now on.
    pub fn set_outcome(&self, outcome: Outcome) {
        lock(&self.inner.shared.settings).outcomes.push(outcome);
    }

    /// Removes every outcome.
    pub fn clear_outcomes(&self) {
        lock(&self.inner.shared.settings).outcomes.clear();
    }

    /// Turns the rate limiter on (or off with `None`).
    pub fn set_rate_limit(&self, rate_limit: Option<RateLimit>) {
        lock(&self.inner.shared.settings).rate_limit = rate_limit;
    }

    /// Sets the organization's API access list (`None`: no access list, every address is
    /// allowed). Atlas API calls from an address outside every network of the list get 403
    /// `IP_ADDRESS_NOT_ON_ACCESS_LIST`; the token endpoint is not subject to it.
    pub fn set_access_list(&self, access_list: Option<Vec<IpNet>>) {
        lock(&self.inner.shared.settings).access_list = access_list;
    }

    /// Sets the delays of changes started from now on.
    pub fn set_delays(&self, delays: Delays) {
        lock(&self.inner.shared.settings).delays = delays;
    }

    /// Applies a scenario (as `PUT /__sim/scenario` does).
    pub fn apply_scenario(&self, scenario: Scenario) -> Result<(), SimError> {
        self.inner.shared.apply_scenario(scenario)
    }

    /// Back to the start configuration, with an empty world; tokens and nonces stay valid.
    pub fn reset(&self) {
        self.inner.shared.reset();
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        lock(&self.inner.shared.counters).clone()
    }

    /// The endpoint services of a project, as they are now.
    pub fn services(&self, group: &str) -> Vec<ServiceView> {
        let now = self.inner.shared.now();
        let world = self.inner.shared.world();
        world.services_of(group).map(|s| s.view(now)).collect()
    }

    /// The interface endpoints of a project, as they are now.
    pub fn interfaces(&self, group: &str) -> Vec<InterfaceView> {
        let now = self.inner.shared.now();
        self.inner.shared.world().interface_views(Some(group), now)
    }

    /// The interface endpoint `vpce_id`, in whichever project, as it is now.
    pub fn interface(&self, vpce_id: &str) -> Option<InterfaceView> {
        let now = self.inner.shared.now();
        self.inner
            .shared
            .world()
            .interface_views(None, now)
            .into_iter()
            .find(|i| i.interface_endpoint_id == vpce_id)
    }

    /// Which AWS regions the endpoint service `service` accepts VPC endpoints from now:
    /// `service` is its 24-hex id or its AWS `endpointServiceName`
    /// (`com.amazonaws.vpce.<region>.vpce-svc-…`), in whichever project; `None` if there is no
    /// such service (or it is gone).
    ///
    /// For the simulated AWS side, which decides with it whether a cross-region
    /// `CreateVpcEndpoint` from a region succeeds ([`ServiceRegionsView::serves`]), as the
    /// simulator asks that side through the [`LinkGate`] in the other direction. A remote
    /// region added by a PATCH is [pending](ServiceRegionsView::is_pending) for
    /// [`Delays::remote_regions_update`] first. Unlike the gate, this is called from outside
    /// the simulator, so it may be called at any time.
    pub fn service_regions(&self, service: &str) -> Option<ServiceRegionsView> {
        let now = self.inner.shared.now();
        self.inner.shared.world().service_regions(service, now)
    }

    /// The project's regionalized private endpoint mode, as `GET …/regionalMode` answers it.
    pub fn regional_mode(&self, group: &str) -> bool {
        let default = lock(&self.inner.shared.settings).regional_mode_default;
        self.inner
            .shared
            .world()
            .regional_mode(group, default)
            .enabled
    }

    /// A cluster's description as `GET …/clusters/{name}` would return it.
    pub fn cluster(&self, group: &str, name: &str) -> Option<Value> {
        let now = self.inner.shared.now();
        let default = lock(&self.inner.shared.settings).regional_mode_default;
        self.inner
            .shared
            .world()
            .cluster_json(group, name, now, default)
            .ok()
    }

    /// The `GET /__sim/state` document.
    pub fn state(&self) -> Value {
        self.inner.shared.snapshot()
    }

    /// Every contract violation found so far.
    pub fn contract_violations(&self) -> Vec<Violation> {
        lock(&self.inner.shared.violations).clone()
    }

    /// Stops accepting connections and waits for the server to finish (in-flight requests
    /// complete). Later calls return at once.
    pub async fn shutdown(&self) {
        if let Some(stop) = lock(&self.inner.stop).take() {
            let _ = stop.send(());
        }
        let server = lock(&self.inner.server).take();
        if let Some(server) = server {
            let _ = server.await;
        }
    }
}
