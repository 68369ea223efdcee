//! Fault injection: queued one-shot faults, and the counters of what the simulator has seen
//! and sent.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The operation names faults and counters use.
pub const OPERATIONS: &[&str] = &[
    "createEndpointService",
    "updateEndpointService",
    "getRegionalMode",
    "setRegionalMode",
    "listEndpointServices",
    "getEndpointService",
    "deleteEndpointService",
    "createInterfaceEndpoint",
    "getInterfaceEndpoint",
    "deleteInterfaceEndpoint",
    "getCluster",
    "getServerlessInstance",
    "token",
];

/// A queued fault: the next `count` requests of `operation` (or of any operation, `"*"`)
/// get `action` instead of (or, for a delay, before) their normal answer.
///
/// JSON: `{"operation":"getCluster","count":2,"kind":"error","status":503,"retryAfter":5}` or
/// `{"operation":"*","kind":"slow","delayMs":3000}` (`count` defaults to 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// An operation name from [`OPERATIONS`], or `"*"`.
    pub operation: String,
    /// How many requests it applies to.
    #[serde(default = "one")]
    pub count: u32,
    /// What happens.
    #[serde(flatten)]
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum FaultAction {
    /// Answer `status` with an ApiError: 500 `UNEXPECTED_ERROR`, 503 `SERVICE_UNAVAILABLE`,
    /// 429 `RATE_LIMITED_TOKEN_BUCKET`; `Retry-After` when `retry_after` is set.
    Error {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Wait `delay_ms` real milliseconds, then answer normally (to exercise client timeouts).
    Slow {
        /// Real-time delay.
        delay_ms: u64,
    },
    /// Carry the request out, then answer `status` instead of its result: the answer is lost
    /// on the way back (a timeout, a connection reset), as any network can do. The caller
    /// cannot tell whether anything was made.
    LoseAnswer {
        /// HTTP status answered instead (502, 503, 504, …).
        status: u16,
    },
}

impl Fault {
    /// One request of `operation` gets `status` (500, 503, …).
    pub fn error(operation: impl Into<String>, status: u16) -> Self {
        Self {
            operation: operation.into(),
            count: 1,
            action: FaultAction::Error {
                status,
                retry_after: None,
            },
        }
    }

    /// One request of `operation` gets 429 with `Retry-After: retry_after` (if given).
    pub fn rate_limited(operation: impl Into<String>, retry_after: Option<u64>) -> Self {
        Self {
            operation: operation.into(),
            count: 1,
            action: FaultAction::Error {
                status: 429,
                retry_after,
            },
        }
    }

    /// One request of `operation` is answered after `delay` of real time.
    pub fn slow(operation: impl Into<String>, delay: Duration) -> Self {
        Self {
            operation: operation.into(),
            count: 1,
            action: FaultAction::Slow {
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            },
        }
    }

    /// One request of `operation` is carried out, but its answer is lost (answered `status`).
    pub fn lose_answer(operation: impl Into<String>, status: u16) -> Self {
        Self {
            operation: operation.into(),
            count: 1,
            action: FaultAction::LoseAnswer { status },
        }
    }

    /// The same fault for `count` requests.
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    /// Whether the operation name is one the simulator knows (or `"*"`).
    pub fn is_known_operation(&self) -> bool {
        self.operation == "*" || OPERATIONS.contains(&self.operation.as_str())
    }
}

/// Faults waiting for their requests.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: Vec<Fault>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.queue.push(fault);
        }
    }

    /// Takes one use of the first fault matching `operation`.
    pub fn take(&mut self, operation: &str) -> Option<FaultAction> {
        let index = self
            .queue
            .iter()
            .position(|f| f.operation == "*" || f.operation == operation)?;
        let fault = &mut self.queue[index];
        fault.count -= 1;
        let action = fault.action.clone();
        if fault.count == 0 {
            self.queue.remove(index);
        }
        Some(action)
    }

    pub fn pending(&self) -> Vec<Fault> {
        self.queue.clone()
    }
}

/// What the simulator has seen and sent, for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// HTTP requests received per operation name (including unauthenticated first tries of a
    /// Digest exchange, and requests refused by the rate limiter or a fault).
    pub requests: BTreeMap<String, u64>,
    /// 429 answers sent (token bucket, faults, token endpoint limit).
    pub rate_limited: u64,
    /// 5xx answers sent (faults and contract violations of responses).
    pub server_errors: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Digest challenges (`WWW-Authenticate: Digest …`) sent.
    pub digest_challenges: u64,
    /// 401 answers sent (API and token endpoint).
    pub unauthorized: u64,
    /// 403 answers sent (callers outside the API access list).
    #[serde(default)]
    pub forbidden: u64,
    /// Contract violations found (requests and responses).
    pub contract_violations: u64,
}

impl Counters {
    /// Requests received for `operation`.
    pub fn requests(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    /// Requests received for all operations.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    pub(crate) fn count_request(&mut self, operation: &str) {
        *self.requests.entry(operation.to_owned()).or_default() += 1;
    }

    pub(crate) fn count_status(&mut self, status: u16) {
        match status {
            429 => self.rate_limited += 1,
            401 => self.unauthorized += 1,
            403 => self.forbidden += 1,
            500..=599 => self.server_errors += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_by_name_and_run_out() {
        let mut queue = FaultQueue::default();
        queue.push(Fault::error("getCluster", 500).times(2));
        queue.push(Fault::slow("*", Duration::from_millis(5)));
        assert!(queue.take("getCluster").is_some());
        assert!(matches!(
            queue.take("token"),
            Some(FaultAction::Slow { delay_ms: 5 })
        ));
        assert!(queue.take("getCluster").is_some());
        assert_eq!(queue.take("getCluster"), None);
    }

    #[test]
    fn fault_json_shape() {
        let fault: Fault = serde_json::from_str(
            r#"{"operation":"token","kind":"error","status":503,"retryAfter":4}"#,
        )
        .expect("valid fault");
        assert_eq!(fault.count, 1);
        assert_eq!(
            fault.action,
            FaultAction::Error {
                status: 503,
                retry_after: Some(4)
            }
        );
    }
}
