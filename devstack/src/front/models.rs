//! The state the front keeps to make moto behave like AWS: what was created when, the client
//! tokens seen, the roles that cannot be assumed yet. Shared with the Atlas simulator, which
//! asks it (as its [`LinkGate`]) whether a VPC endpoint can be accepted yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use atlas_sim::{LinkGate, SimHandle};
use axum::body::Bytes;
use clock::SharedClock;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::realism::Realism;

/// A VPC endpoint to a provider's (Atlas's) service, created through the front.
#[derive(Debug, Clone)]
pub(crate) struct EndpointRec {
    /// Until then AWS is still creating it (`pending`); Atlas cannot accept it.
    pub creating_until: SystemTime,
    /// Atlas accepted it at some point (so, once unlinked, AWS shows it `rejected`).
    pub ever_accepted: bool,
}

#[derive(Debug)]
pub(crate) struct State {
    pub rng: StdRng,
    /// Ids not yet visible to other calls, with the time they become visible.
    pub hidden: HashMap<String, SystemTime>,
    /// Client tokens: (access key, region, token) → (parameters, the answer given).
    pub tokens: HashMap<(String, String, String), (String, Bytes)>,
    /// VPC endpoints to provider services.
    pub endpoints: HashMap<String, EndpointRec>,
    /// Roles AssumeRole refuses, until when (`None`: for good).
    pub denied_roles: HashMap<String, Option<SystemTime>>,
    /// Answers the front gave itself, by error code (or `replay` for a client-token replay).
    pub answers: HashMap<String, u64>,
    /// Calls received, by `service:Action` (`dynamodb:GetItem`, `ec2:DescribeVpcEndpoints`).
    pub calls: HashMap<String, u64>,
}

/// The rules in force and what the front has seen; see the module documentation.
#[derive(Debug)]
pub struct AwsModels {
    pub(crate) realism: Realism,
    pub(crate) clock: SharedClock,
    pub(crate) sim: Mutex<Option<SimHandle>>,
    pub(crate) state: Mutex<State>,
}

impl AwsModels {
    /// Rules on `clock` (the one the Atlas simulator and the workflow use).
    pub fn new(realism: Realism, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                rng: StdRng::seed_from_u64(realism.seed),
                hidden: HashMap::new(),
                tokens: HashMap::new(),
                endpoints: HashMap::new(),
                denied_roles: HashMap::new(),
                answers: HashMap::new(),
                calls: HashMap::new(),
            }),
            realism,
            clock,
            sim: Mutex::new(None),
        })
    }

    /// The rules in force.
    pub fn realism(&self) -> &Realism {
        &self.realism
    }

    /// Connects the Atlas simulator, whose links decide EC2's acceptance states.
    pub fn attach_simulator(&self, sim: SimHandle) {
        if let Ok(mut slot) = self.sim.lock() {
            *slot = Some(sim);
        }
    }

    /// Makes AssumeRole of `role_arn` answer `AccessDenied`, for good (`until: None`) or until
    /// that time: a role that does not exist yet in a vended account, or a trust policy that
    /// does not trust the caller.
    pub fn deny_role(&self, role_arn: &str, until: Option<SystemTime>) {
        self.lock().denied_roles.insert(role_arn.to_owned(), until);
    }

    /// How many times the front answered with `code` itself (an AWS error code such as
    /// `InvalidGroup.NotFound`, or `replay` for an answer replayed for a client token).
    pub fn answers(&self, code: &str) -> u64 {
        self.lock().answers.get(code).copied().unwrap_or(0)
    }

    /// Calls received whose `service:Action` starts with `prefix` (`"dynamodb:"`: every
    /// DynamoDB call), answered by the front or by moto: what the benchmark prices.
    pub fn calls(&self, prefix: &str) -> u64 {
        self.calls_by_action(prefix).values().sum()
    }

    /// Calls received whose `service:Action` starts with `prefix`, per `service:Action`.
    pub fn calls_by_action(&self, prefix: &str) -> std::collections::BTreeMap<String, u64> {
        self.lock()
            .calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    pub(crate) fn count_call(&self, service: &str, action: &str) {
        *self
            .lock()
            .calls
            .entry(format!("{service}:{action}"))
            .or_default() += 1;
    }

    pub(crate) fn count(&self, code: &str) {
        *self.lock().answers.entry(code.to_owned()).or_default() += 1;
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub(crate) fn simulator(&self) -> Option<SimHandle> {
        self.sim.lock().ok().and_then(|s| s.clone())
    }

    /// A random duration in `[low, high]`, from the seeded generator.
    pub(crate) fn draw(state: &mut State, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return low;
        }
        let span = (high - low).as_secs_f64();
        low + Duration::from_secs_f64(state.rng.random_range(0.0..=span))
    }

    /// Hides a new id from other calls for a random time up to the configured delay.
    pub(crate) fn hide(&self, id: &str) {
        let Some((low, high)) = self.realism.ec2_visibility_delay else {
            return;
        };
        let now = self.now();
        let mut state = self.lock();
        let delay = Self::draw(&mut state, low, high);
        if !delay.is_zero() {
            state.hidden.insert(id.to_owned(), now + delay);
        }
    }

    /// Whether `id` is not yet visible.
    pub(crate) fn is_hidden(&self, id: &str) -> bool {
        let now = self.now();
        self.lock().hidden.get(id).is_some_and(|until| now < *until)
    }
}

/// Atlas can accept a VPC endpoint only once AWS has finished creating it: a link made while
/// it is still `pending` fails with AWS's "operation in progress" error, and the endpoint
/// stays `pendingAcceptance` (terraform-provider-mongodbatlas#590).
impl LinkGate for AwsModels {
    fn admit(&self, vpce_id: &str, now: SystemTime) -> Result<(), String> {
        let state = self.lock();
        match state.endpoints.get(vpce_id) {
            // The shape of the message Atlas showed in that issue.
            Some(rec) if now < rec.creating_until => Err(format!(
                "Failed to accept interface endpoint {vpce_id}: code={{InvalidParameter}}: Cannot \
                 modify VPC Endpoint {vpce_id} at this time because there is an idempotent \
                 operation going on"
            )),
            _ => Ok(()),
        }
    }
}
