//! Configuration of the simulator: [`SimConfig`] (credentials, and the delays, rate limit and
//! outcomes defined in their own modules), and the JSON [`Scenario`] document that changes it
//! at run time.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cluster::ClusterSeed;
use crate::delays::{Delays, DelaysPatch};
use crate::exchange::ExchangeCheck;
use crate::faults::Fault;
use crate::outcome::{LinkGate, Outcome, ReadyStatus};
use crate::rate_limit::RateLimit;
use crate::seconds::opt_secs;

/// Everything the simulator needs at start.
#[derive(Clone)]
pub struct SimConfig {
    /// How long the state changes take, on the simulator's clock.
    pub delays: Delays,
    /// OAuth service accounts accepted by `POST /api/oauth/token`.
    pub service_accounts: Vec<ServiceAccount>,
    /// Legacy programmatic API keys accepted with HTTP Digest.
    pub api_keys: Vec<ApiKey>,
    /// Lifetime of an access token (Atlas: one hour).
    pub token_ttl: Duration,
    /// Lifetime of a Digest nonce; an older nonce gets a `stale=true` challenge.
    pub nonce_ttl: Duration,
    /// Live tokens allowed per client id (Atlas: 100); beyond, the token endpoint answers 429.
    pub max_tokens_per_client: usize,
    /// Token-bucket rate limit per project, if any.
    pub rate_limit: Option<RateLimit>,
    /// Scripted outcomes (failed services, rejected interfaces).
    pub outcomes: Vec<Outcome>,
    /// The status a service reaches when it is ready: `AVAILABLE` (AWS) or `WAITING_FOR_USER`.
    pub service_ready_status: ReadyStatus,
    /// When set, every Atlas API request and response is checked, typically against the
    /// OpenAPI spec (`openapi_contract::Contract`, with the `contract` feature).
    pub contract: Option<Arc<dyn ExchangeCheck>>,
    /// Address to listen on (default `127.0.0.1:0`, any free port).
    pub listen: SocketAddr,
    /// Asked, when an interface endpoint is linked, whether Atlas can accept the VPC endpoint
    /// on the AWS side now (default `None`: always).
    pub link_gate: Option<Arc<dyn LinkGate>>,
    /// The organization's API access list: when set, Atlas API calls from an address outside
    /// every network of the list get 403 `IP_ADDRESS_NOT_ON_ACCESS_LIST` (default `None`: no
    /// access list, every address is allowed).
    pub access_list: Option<Vec<IpNet>>,
    /// The regionalized private endpoint mode of projects no `PATCH …/regionalMode` has set
    /// (default `false`, as in Atlas: the mode is opt-in, research notes issue 12, §4).
    pub regional_mode_default: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            delays: Delays::default(),
            service_accounts: vec![ServiceAccount::new("sim-client-id", "sim-client-secret")],
            api_keys: vec![ApiKey::new("simpublickey", "sim-private-key-0000")],
            token_ttl: Duration::from_secs(3600),
            nonce_ttl: Duration::from_secs(60),
            max_tokens_per_client: 100,
            rate_limit: None,
            outcomes: Vec::new(),
            service_ready_status: ReadyStatus::Available,
            contract: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            link_gate: None,
            access_list: None,
            regional_mode_default: false,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("delays", &self.delays)
            .field("service_accounts", &self.service_accounts)
            .field("api_keys", &self.api_keys)
            .field("token_ttl", &self.token_ttl)
            .field("nonce_ttl", &self.nonce_ttl)
            .field("rate_limit", &self.rate_limit)
            .field("outcomes", &self.outcomes)
            .field("contract", &self.contract.is_some())
            .field("listen", &self.listen)
            .field("link_gate", &self.link_gate.is_some())
            .field("access_list", &self.access_list)
            .field("regional_mode_default", &self.regional_mode_default)
            .finish_non_exhaustive()
    }
}

/// An OAuth service account (client credentials).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccount {
    /// Client id (`mdb_sa_id_…` in Atlas).
    pub client_id: String,
    /// Client secret. Never logged.
    pub client_secret: String,
}

impl ServiceAccount {
    /// A service account.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// A legacy programmatic API key (HTTP Digest).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKey {
    /// Public key: the Digest user name.
    pub public_key: String,
    /// Private key: the Digest password. Never logged.
    pub private_key: String,
}

impl ApiKey {
    /// An API key.
    pub fn new(public_key: impl Into<String>, private_key: impl Into<String>) -> Self {
        Self {
            public_key: public_key.into(),
            private_key: private_key.into(),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// A change of the simulator's set-up: the `--scenario` file and `PUT /__sim/scenario`.
///
/// Every field is optional; what is absent is left as it is. `outcomes` replaces the list,
/// `faults` are queued after those already queued, `clusters` are seeded, `rateLimit: null`
/// switches the rate limiter off, and `accessList: null` removes the API access list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Delays to change.
    #[serde(default)]
    pub delays: Option<DelaysPatch>,
    /// Outcomes (replace the current list).
    #[serde(default)]
    pub outcomes: Option<Vec<Outcome>>,
    /// `Some(None)` (JSON `null`) turns the rate limiter off.
    #[serde(default, deserialize_with = "double_option")]
    pub rate_limit: Option<Option<RateLimit>>,
    /// Faults to queue.
    #[serde(default)]
    pub faults: Option<Vec<Fault>>,
    /// Clusters to seed.
    #[serde(default)]
    pub clusters: Option<Vec<ClusterSeed>>,
    /// Status of a ready service.
    #[serde(default)]
    pub service_ready_status: Option<ReadyStatus>,
    /// Service accounts (replace the list).
    #[serde(default)]
    pub service_accounts: Option<Vec<ServiceAccount>>,
    /// API keys (replace the list).
    #[serde(default)]
    pub api_keys: Option<Vec<ApiKey>>,
    /// Token lifetime in seconds.
    #[serde(default, with = "opt_secs")]
    pub token_ttl: Option<Duration>,
    /// Nonce lifetime in seconds.
    #[serde(default, with = "opt_secs")]
    pub nonce_ttl: Option<Duration>,
    /// The API access list: CIDR blocks or single addresses (`["198.51.100.7/32",
    /// "10.0.0.0/8", "::1"]`) replace the list; `Some(None)` (JSON `null`) removes it, so every
    /// address is allowed again. An empty list refuses every caller.
    #[serde(
        default,
        deserialize_with = "access_list::deserialize",
        serialize_with = "access_list::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_list: Option<Option<Vec<IpNet>>>,
    /// The regional mode of projects no PATCH has set (`regionalModeDefault`, a boolean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional_mode_default: Option<bool>,
}

fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Parses one access-list entry: a CIDR block, or a single address (a /32 or /128 block), as
/// the Atlas access-list forms take either.
pub(crate) fn parse_access_entry(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither a CIDR block nor an IP address"))
}

/// The access list as CIDR strings (ipnet's own serde support is not enabled in the workspace,
/// so the text form goes through `FromStr`/`Display`).
pub(crate) mod access_list {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<Option<Vec<IpNet>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(list) => s.serialize_some(&to_strings(list.as_deref())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<Vec<IpNet>>>, D::Error> {
        let list = Option::<Vec<String>>::deserialize(d)?;
        let parsed = list
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| parse_access_entry(e))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(serde::de::Error::custom)?;
        Ok(Some(parsed))
    }

    /// `None` stays `None` (JSON `null`: no access list).
    pub fn to_strings(list: Option<&[IpNet]>) -> Option<Vec<String>> {
        list.map(|l| l.iter().map(ToString::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_parses_partial_documents() {
        let scenario: Scenario = serde_json::from_str(
            r#"{"delays":{"serviceAvailable":1.5},"rateLimit":null,
                "outcomes":[{"kind":"interfaceRejected"},{"kind":"serviceFailed","region":"US_EAST_1"}]}"#,
        )
        .expect("valid scenario");
        let delays = scenario.delays.expect("delays").apply(Delays::default());
        assert_eq!(delays.service_available, Duration::from_millis(1500));
        assert_eq!(delays.remote_regions_update, Duration::from_secs(5));
        let knobs: Scenario = serde_json::from_str(
            r#"{"regionalModeDefault":true,"delays":{"remoteRegionsUpdate":2,"regionalModeToggle":60}}"#,
        )
        .expect("the new knobs parse");
        assert_eq!(knobs.regional_mode_default, Some(true));
        let knob_delays = knobs.delays.expect("delays").apply(Delays::default());
        assert_eq!(knob_delays.remote_regions_update, Duration::from_secs(2));
        assert_eq!(knob_delays.regional_mode_toggle, Duration::from_secs(60));
        assert_eq!(delays.cluster_idle, Duration::from_secs(180));
        assert_eq!(scenario.rate_limit, Some(None));
        assert_eq!(
            scenario.outcomes.expect("outcomes")[0],
            Outcome::InterfaceRejected { vpce_id: None }
        );
        assert!(serde_json::from_str::<Scenario>(r#"{"delay":{}}"#).is_err());
    }

    #[test]
    fn scenario_access_list_forms() {
        let parse = |text: &str| serde_json::from_str::<Scenario>(text).map(|s| s.access_list);
        assert_eq!(parse("{}").ok(), Some(None));
        assert_eq!(parse(r#"{"accessList":null}"#).ok(), Some(Some(None)));
        let list = parse(r#"{"accessList":["10.0.0.0/8"," 192.0.2.1 ","2001:db8::/32"]}"#)
            .ok()
            .flatten()
            .flatten()
            .unwrap_or_default();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]);
        assert!(parse(r#"{"accessList":["10.0.0.0/33"]}"#).is_err());
        assert!(parse(r#"{"accessList":"10.0.0.0/8"}"#).is_err());
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let text = format!("{:?}", SimConfig::default());
        assert!(!text.contains("sim-client-secret") && !text.contains("sim-private-key"));
        assert!(text.contains("link_gate: false") && text.contains("access_list: None"));
    }
}
