//! What a function reads from its environment: the Atlas credentials secret, the secret
//! recovery window, the IAM scope, the claims table, and how the polling steps wait. The
//! template sets these per function (the catalogue's `settings()` lists them).

use std::time::Duration;

/// Settings from the function's environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ATLAS_CREDENTIALS_SECRET_ARN`: the Atlas credentials secret used when the request names
    /// none.
    pub default_credentials_secret: Option<String>,
    /// `ATLAS_BASE_URL`: overrides the Atlas URL (the simulator, in local runs). A `baseUrl` in
    /// the credentials secret wins over it.
    pub atlas_base_url: Option<String>,
    /// `SECRET_RECOVERY_DAYS`: recovery window of secrets deleted by teardown (7–30, default 7).
    pub secret_recovery_days: i64,
    /// Timeouts of Atlas calls.
    pub atlas_request_timeout: Duration,
    /// How the polling steps wait inside one invocation.
    pub polling: Polling,
    /// What the stack's IAM lets the functions touch (checked by validate).
    pub scope: crate::request::IamScope,
    /// `CLAIMS_TABLE`: the DynamoDB table of endpoint-service claims (`aws::claims`); `None`:
    /// no claims (a service whose creation answer was lost is then adopted, not removed).
    pub claims_table: Option<String>,
    /// `INTERFACE_ENDPOINT_QUOTA`: how many interface VPC endpoints a VPC may have (inspect's
    /// `interfaceEndpointQuota` check). Default 50, AWS's default quota "Interface VPC
    /// endpoints per VPC" (adjustable; <https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-limits-endpoints.html>).
    pub interface_endpoint_quota: usize,
}

/// AWS's default quota of interface VPC endpoints per VPC (PrivateLink guide, "AWS
/// PrivateLink quotas": <https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-limits-endpoints.html>).
pub const DEFAULT_INTERFACE_ENDPOINT_QUOTA: usize = 50;

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_credentials_secret: None,
            atlas_base_url: None,
            secret_recovery_days: 7,
            atlas_request_timeout: Duration::from_secs(30),
            polling: Polling::default(),
            scope: crate::request::IamScope::default(),
            claims_table: None,
            interface_endpoint_quota: DEFAULT_INTERFACE_ENDPOINT_QUOTA,
        }
    }
}

/// The polling design (README, "How the workflow waits"): the state machine sleeps through the
/// known minimum of each Atlas phase in a `Wait` state (one transition), then the step polls
/// inside one invocation at a short cadence, because a second of 128 MB Lambda costs ~1/15 of
/// a state transition. The VPC endpoint's EC2 state is polled instead of Atlas while it is
/// not `available` (it costs no Atlas call). Polling slows down on Atlas 429s.
#[derive(Debug, Clone, PartialEq)]
pub struct Polling {
    /// `POLL_BUDGET_SECONDS`: most time one invocation keeps polling before it answers
    /// `…NotReady` for the state machine to retry (keep it well under the Lambda timeout).
    /// Zero: probe once.
    pub budget: Duration,
    /// `ATLAS_POLL_SECONDS`: cadence of Atlas reads.
    pub atlas_every: Duration,
    /// `EC2_POLL_SECONDS`: cadence of EC2 reads of the VPC endpoint's state.
    pub ec2_every: Duration,
    /// `ATLAS_POLL_MAX_SECONDS`: longest Atlas cadence after repeated 429s.
    pub max_every: Duration,
    /// `ATLAS_SLOW_POLL_SECONDS`: cadence of Atlas reads while EC2 still shows the endpoint
    /// pending (to see a link Atlas will never accept without waiting for EC2).
    pub atlas_slow_every: Duration,
    /// `SERVICE_MIN_SECONDS`: a new endpoint service is never ready sooner.
    pub service_min: Duration,
    /// `INTERFACE_MIN_SECONDS`: a new link is never `AVAILABLE` sooner.
    pub interface_min: Duration,
    /// `CLUSTER_UPDATE_MIN_SECONDS`: after a new interface is `AVAILABLE`, the cluster
    /// publishes its strings no sooner.
    pub cluster_update_min: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(300),
            atlas_every: Duration::from_millis(2500),
            ec2_every: Duration::from_secs(2),
            max_every: Duration::from_secs(30),
            atlas_slow_every: Duration::from_secs(30),
            service_min: Duration::from_secs(150),
            interface_min: Duration::from_secs(120),
            cluster_update_min: Duration::from_secs(60),
        }
    }
}

impl Polling {
    /// Reads the settings from the environment; unset values keep the default, and a value
    /// that is not a number of seconds in 0–3600 keeps it too, with a warning naming it.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Polling::from_env`] on any source of variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let secs = |name: &str, default: Duration, floor: Duration| {
            let Some(raw) = var(name).filter(|v| !v.trim().is_empty()) else {
                return default;
            };
            match raw.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => {
                    Duration::from_secs_f64(s).max(floor)
                }
                _ => {
                    tracing::warn!(variable = name, value = %raw, default_s = default.as_secs_f64(), "not a number of seconds in 0-3600; using the default");
                    default
                }
            }
        };
        let none = Duration::ZERO;
        let half_second = Duration::from_millis(500);
        Self {
            budget: secs("POLL_BUDGET_SECONDS", d.budget, none),
            atlas_every: secs("ATLAS_POLL_SECONDS", d.atlas_every, half_second),
            ec2_every: secs("EC2_POLL_SECONDS", d.ec2_every, half_second),
            max_every: secs(
                "ATLAS_POLL_MAX_SECONDS",
                d.max_every,
                Duration::from_secs(1),
            ),
            atlas_slow_every: secs(
                "ATLAS_SLOW_POLL_SECONDS",
                d.atlas_slow_every,
                Duration::from_secs(1),
            ),
            service_min: secs("SERVICE_MIN_SECONDS", d.service_min, none),
            interface_min: secs("INTERFACE_MIN_SECONDS", d.interface_min, none),
            cluster_update_min: secs("CLUSTER_UPDATE_MIN_SECONDS", d.cluster_update_min, none),
        }
    }

    /// Probe once, never wait: each `…NotReady` goes straight back to the state machine.
    pub fn single_probe() -> Self {
        Self {
            budget: Duration::ZERO,
            ..Self::default()
        }
    }
}

impl Settings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        Self {
            default_credentials_secret: var("ATLAS_CREDENTIALS_SECRET_ARN"),
            atlas_base_url: var("ATLAS_BASE_URL"),
            secret_recovery_days: var("SECRET_RECOVERY_DAYS")
                .and_then(|v| v.parse().ok())
                .filter(|d| (7..=30).contains(d))
                .unwrap_or(defaults.secret_recovery_days),
            polling: Polling::from_env(),
            scope: crate::request::IamScope::from_env(),
            claims_table: var("CLAIMS_TABLE"),
            interface_endpoint_quota: var("INTERFACE_ENDPOINT_QUOTA")
                .and_then(|v| v.trim().parse().ok())
                .filter(|q| *q > 0)
                .unwrap_or(defaults.interface_endpoint_quota),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn polling_settings_come_from_the_environment() {
        let p = Polling::from_vars(vars(&[
            ("POLL_BUDGET_SECONDS", "0"),
            ("ATLAS_POLL_SECONDS", "5"),
            ("EC2_POLL_SECONDS", " 1.5 "),
            ("ATLAS_POLL_MAX_SECONDS", "45"),
            ("SERVICE_MIN_SECONDS", "100"),
            ("INTERFACE_MIN_SECONDS", "90"),
            ("CLUSTER_UPDATE_MIN_SECONDS", "30"),
        ]));
        assert_eq!(p.budget, Duration::ZERO);
        assert_eq!(p.atlas_every, Duration::from_secs(5));
        assert_eq!(p.ec2_every, Duration::from_millis(1500));
        assert_eq!(p.max_every, Duration::from_secs(45));
        assert_eq!(p.service_min, Duration::from_secs(100));
        assert_eq!(p.interface_min, Duration::from_secs(90));
        assert_eq!(p.cluster_update_min, Duration::from_secs(30));
    }

    #[test]
    fn bad_or_missing_polling_values_keep_the_defaults() {
        let d = Polling::default();
        assert_eq!(Polling::from_vars(vars(&[])), d);
        let p = Polling::from_vars(vars(&[
            ("POLL_BUDGET_SECONDS", "five"),
            ("ATLAS_POLL_SECONDS", "-1"),
            ("EC2_POLL_SECONDS", "NaN"),
            ("SERVICE_MIN_SECONDS", "99999"),
            ("INTERFACE_MIN_SECONDS", ""),
        ]));
        assert_eq!(p, d);
        // A cadence is never below half a second, even when asked.
        let fast = Polling::from_vars(vars(&[("ATLAS_POLL_SECONDS", "0")]));
        assert_eq!(fast.atlas_every, Duration::from_millis(500));
    }
}
