//! How long each state change takes ([`Delays`]), and the partial form a scenario changes them
//! with ([`DelaysPatch`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::seconds::{opt_secs, secs};

/// How long each state change takes, measured on the simulator's clock.
///
/// In JSON every field is a number of seconds (fractions allowed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delays {
    /// Service creation: `INITIATING` → `AVAILABLE` (or `FAILED`). Atlas: about 2.5 min.
    #[serde(with = "secs")]
    pub service_available: Duration,
    /// Service deletion: `DELETING` → gone.
    #[serde(with = "secs")]
    pub service_delete: Duration,
    /// Interface link: `PENDING_ACCEPTANCE` → `PENDING` (or `REJECTED`).
    #[serde(with = "secs")]
    pub interface_pending: Duration,
    /// Interface link → `AVAILABLE` (or `FAILED`), counted from the link.
    #[serde(with = "secs")]
    pub interface_available: Duration,
    /// Interface removal: `DELETING` → gone.
    #[serde(with = "secs")]
    pub interface_delete: Duration,
    /// How long the cluster stays `UPDATING` after an interface becomes `AVAILABLE`.
    #[serde(with = "secs")]
    pub cluster_idle: Duration,
    /// After a PATCH that changes a service's `supportedRemoteRegions`: how long the service
    /// shows `INITIATING` and the regions it adds are pending (not yet usable for a
    /// cross-region VPC endpoint). The real duration is not documented (research notes issue
    /// 12, §1 "Status while a change applies": "Not found … how long it takes for a new region
    /// to become usable"; Terraform merely polls every 5 s); a few seconds by default.
    #[serde(with = "secs")]
    pub remote_regions_update: Duration,
    /// After a PATCH that toggles the project's regionalized private endpoint mode: how long
    /// the project's clusters are `UPDATING` before their private connection strings change.
    /// Not documented either (research notes §4 "How long the toggle takes": Terraform waits
    /// for every cluster to be `IDLE` again, 3 h budget); five minutes by default.
    #[serde(with = "secs")]
    pub regional_mode_toggle: Duration,
}

impl Default for Delays {
    fn default() -> Self {
        Self {
            service_available: Duration::from_secs(150),
            service_delete: Duration::from_secs(60),
            interface_pending: Duration::from_secs(30),
            interface_available: Duration::from_secs(120),
            interface_delete: Duration::from_secs(20),
            cluster_idle: Duration::from_secs(180),
            remote_regions_update: Duration::from_secs(5),
            regional_mode_toggle: Duration::from_secs(300),
        }
    }
}

impl Delays {
    /// Every change happens at once.
    pub fn instant() -> Self {
        Self {
            service_available: Duration::ZERO,
            service_delete: Duration::ZERO,
            interface_pending: Duration::ZERO,
            interface_available: Duration::ZERO,
            interface_delete: Duration::ZERO,
            cluster_idle: Duration::ZERO,
            remote_regions_update: Duration::ZERO,
            regional_mode_toggle: Duration::ZERO,
        }
    }
}

/// A partial [`Delays`] (seconds); fields left out keep their value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DelaysPatch {
    /// Service creation.
    #[serde(default, with = "opt_secs")]
    pub service_available: Option<Duration>,
    /// Service deletion.
    #[serde(default, with = "opt_secs")]
    pub service_delete: Option<Duration>,
    /// Interface acceptance.
    #[serde(default, with = "opt_secs")]
    pub interface_pending: Option<Duration>,
    /// Interface availability, from the link.
    #[serde(default, with = "opt_secs")]
    pub interface_available: Option<Duration>,
    /// Interface removal.
    #[serde(default, with = "opt_secs")]
    pub interface_delete: Option<Duration>,
    /// Cluster update after an interface becomes available.
    #[serde(default, with = "opt_secs")]
    pub cluster_idle: Option<Duration>,
    /// A service's `INITIATING` phase after its remote regions change.
    #[serde(default, with = "opt_secs")]
    pub remote_regions_update: Option<Duration>,
    /// Clusters `UPDATING` after the regional mode is toggled.
    #[serde(default, with = "opt_secs")]
    pub regional_mode_toggle: Option<Duration>,
}

impl DelaysPatch {
    /// `delays` with the fields of this patch replaced.
    pub fn apply(&self, delays: Delays) -> Delays {
        Delays {
            service_available: self.service_available.unwrap_or(delays.service_available),
            service_delete: self.service_delete.unwrap_or(delays.service_delete),
            interface_pending: self.interface_pending.unwrap_or(delays.interface_pending),
            interface_available: self
                .interface_available
                .unwrap_or(delays.interface_available),
            interface_delete: self.interface_delete.unwrap_or(delays.interface_delete),
            cluster_idle: self.cluster_idle.unwrap_or(delays.cluster_idle),
            remote_regions_update: self
                .remote_regions_update
                .unwrap_or(delays.remote_regions_update),
            regional_mode_toggle: self
                .regional_mode_toggle
                .unwrap_or(delays.regional_mode_toggle),
        }
    }
}
