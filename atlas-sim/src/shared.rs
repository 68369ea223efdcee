//! The simulator's state shared by the HTTP handlers and the Rust handle.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use clock::SharedClock;
use serde_json::{Value, json};

use crate::SimError;
use crate::auth::AuthState;
use crate::cluster::{ClusterRec, ClusterSeed};
use crate::config::{Scenario, SimConfig, access_list};
use crate::exchange::{ExchangeCheck, Violation};
use crate::faults::{Counters, Fault, FaultQueue};
use crate::rate_limit::RateLimiter;
use crate::state::World;

/// Locks a mutex, recovering the data if another thread panicked while holding it (every
/// update here leaves the data consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Everything behind the simulator.
pub(crate) struct Shared {
    pub clock: SharedClock,
    pub contract: Option<Arc<dyn ExchangeCheck>>,
    initial: SimConfig,
    pub settings: Mutex<SimConfig>,
    pub world: Mutex<World>,
    pub auth: Mutex<AuthState>,
    pub faults: Mutex<FaultQueue>,
    pub limiter: Mutex<RateLimiter>,
    pub counters: Mutex<Counters>,
    pub violations: Mutex<Vec<Violation>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("clock", &self.clock)
            .field("contract", &self.contract.is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(config: SimConfig, clock: SharedClock) -> Self {
        Self {
            clock,
            contract: config.contract.clone(),
            initial: config.clone(),
            settings: Mutex::new(config),
            world: Mutex::new(World::default()),
            auth: Mutex::new(AuthState::default()),
            faults: Mutex::new(FaultQueue::default()),
            limiter: Mutex::new(RateLimiter::default()),
            counters: Mutex::new(Counters::default()),
            violations: Mutex::new(Vec::new()),
        }
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The world with finished deletions swept away.
    pub fn world(&self) -> MutexGuard<'_, World> {
        let mut world = lock(&self.world);
        world.sweep(self.now());
        world
    }

    pub fn seed_cluster(&self, seed: ClusterSeed) -> Result<Value, SimError> {
        let group = seed.group_id.clone();
        let name = seed.name.clone();
        let cluster = ClusterRec::from_seed(seed).map_err(SimError::InvalidCluster)?;
        let regional_default = lock(&self.settings).regional_mode_default;
        let mut world = self.world();
        world
            .seed_cluster(cluster, regional_default)
            .map_err(SimError::InvalidCluster)?;
        world
            .cluster_json(&group, &name, self.now(), regional_default)
            .map_err(|failure| SimError::InvalidCluster(failure.detail))
    }

    pub fn inject(&self, fault: Fault) {
        if !fault.is_known_operation() {
            tracing::warn!(operation = %fault.operation, "fault for an unknown operation will never match");
        }
        lock(&self.faults).push(fault);
    }

    /// Applies a scenario; clusters are validated before anything changes.
    pub fn apply_scenario(&self, scenario: Scenario) -> Result<(), SimError> {
        let clusters = scenario
            .clusters
            .unwrap_or_default()
            .into_iter()
            .map(ClusterRec::from_seed)
            .collect::<Result<Vec<_>, _>>()
            .map_err(SimError::InvalidCluster)?;
        let regional_default = scenario
            .regional_mode_default
            .unwrap_or_else(|| lock(&self.settings).regional_mode_default);
        {
            let world = self.world();
            for cluster in &clusters {
                world
                    .check_seed(cluster, regional_default)
                    .map_err(SimError::InvalidCluster)?;
            }
        }
        if let Some(fault) = scenario
            .faults
            .iter()
            .flatten()
            .find(|f| !f.is_known_operation())
        {
            return Err(SimError::InvalidScenario(format!(
                "unknown operation {:?} in a fault",
                fault.operation
            )));
        }
        {
            let mut settings = lock(&self.settings);
            if let Some(patch) = &scenario.delays {
                settings.delays = patch.apply(settings.delays);
            }
            if let Some(outcomes) = scenario.outcomes {
                settings.outcomes = outcomes;
            }
            if let Some(rate_limit) = scenario.rate_limit {
                settings.rate_limit = rate_limit;
            }
            if let Some(ready) = scenario.service_ready_status {
                settings.service_ready_status = ready;
            }
            if let Some(accounts) = scenario.service_accounts {
                settings.service_accounts = accounts;
            }
            if let Some(keys) = scenario.api_keys {
                settings.api_keys = keys;
            }
            if let Some(ttl) = scenario.token_ttl {
                settings.token_ttl = ttl;
            }
            if let Some(ttl) = scenario.nonce_ttl {
                settings.nonce_ttl = ttl;
            }
            if let Some(list) = scenario.access_list {
                settings.access_list = list;
            }
            settings.regional_mode_default = regional_default;
        }
        let mut world = self.world();
        for cluster in clusters {
            world
                .seed_cluster(cluster, regional_default)
                .map_err(SimError::InvalidCluster)?;
        }
        drop(world);
        for fault in scenario.faults.into_iter().flatten() {
            self.inject(fault);
        }
        Ok(())
    }

    /// Back to the configuration given at start, with no services, clusters, faults, counters
    /// or violations. Issued tokens and nonces stay valid.
    pub fn reset(&self) {
        *lock(&self.settings) = self.initial.clone();
        *lock(&self.world) = World::default();
        *lock(&self.faults) = FaultQueue::default();
        lock(&self.limiter).clear();
        *lock(&self.counters) = Counters::default();
        lock(&self.violations).clear();
    }

    pub fn record_violations(&self, violations: &[Violation]) {
        if violations.is_empty() {
            return;
        }
        for v in violations {
            tracing::warn!(operation = %v.operation, message = %v.message, "contract violation");
        }
        lock(&self.counters).contract_violations += violations.len() as u64;
        lock(&self.violations).extend_from_slice(violations);
    }

    /// The `GET /__sim/state` document.
    pub fn snapshot(&self) -> Value {
        let now = self.now();
        // Settings before the world, never the world then the settings: requests lock them in
        // that order.
        let regional_default = lock(&self.settings).regional_mode_default;
        let world = self.world();
        let services: Vec<_> = world.services.iter().map(|s| s.view(now)).collect();
        let interfaces = world.interface_views(None, now);
        let clusters = world.clusters_json(now, regional_default);
        let regional_modes = world.regional_modes(now);
        drop(world);
        let settings = lock(&self.settings);
        let violations: Vec<Value> = lock(&self.violations)
            .iter()
            .map(|v| json!({"operation": v.operation, "message": v.message}))
            .collect();
        json!({
            "now": now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
            "services": services,
            "interfaces": interfaces,
            "clusters": clusters,
            "regionalModes": regional_modes,
            "faults": lock(&self.faults).pending(),
            "settings": {
                "delays": settings.delays,
                "outcomes": settings.outcomes,
                "rateLimit": settings.rate_limit,
                "serviceReadyStatus": settings.service_ready_status,
                "tokenTtl": settings.token_ttl.as_secs_f64(),
                "nonceTtl": settings.nonce_ttl.as_secs_f64(),
                "accessList": access_list::to_strings(settings.access_list.as_deref()),
                "linkGate": settings.link_gate.is_some(),
                "regionalModeDefault": settings.regional_mode_default,
            },
            "contractViolations": violations,
        })
    }
}
