//! The project setting "regionalized private endpoints" (`GET`/`PATCH
//! …/privateEndpoint/regionalMode`, body `ProjectSettingItemView {enabled}`), and the rules
//! around it.
//!
//! Sources: the Atlas spec (`toggleGroupPrivateEndpointRegionalMode` and
//! `ProjectSettingItemView`): enabling it changes the connection strings of existing
//! multi-region and global sharded clusters; "Once enabled, you cannot create replica sets. To
//! use this resource, all clusters in the deployment must be sharded clusters."; it cannot be
//! disabled with "more than one private endpoint in more than one region" or "more than one
//! private endpoint in one region and one private endpoint in one or more regions"; the PATCH
//! lists 409 among its answers (research notes issue 12, §4). The error codes of those 409s
//! were not found (research notes §4: "the exact error codes were not found"); the two below
//! are the simulator's own.

use std::time::SystemTime;

/// The 409 `errorCode` of enabling the mode in a project that has a replica set. Invented: the
/// real code is not known (research notes §4).
pub(crate) const REQUIRES_SHARDED: &str = "REGIONALIZED_PRIVATE_ENDPOINTS_REQUIRE_SHARDED_CLUSTERS";
/// The 409 `errorCode` of disabling the mode while the project's endpoints need it. Invented:
/// the real code is not known (research notes §4).
pub(crate) const ENDPOINTS_NEED_IT: &str =
    "CANNOT_DISABLE_REGIONALIZED_PRIVATE_ENDPOINTS_WITH_MULTIPLE_ENDPOINTS";

/// A project's setting, once a PATCH has set it (projects never patched follow the configured
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegionalMode {
    /// What GET answers from the PATCH on.
    pub enabled: bool,
    /// What the clusters show until `settles_at`.
    previous: bool,
    /// When the clusters are done changing: until then they are `UPDATING`.
    settles_at: SystemTime,
}

impl RegionalMode {
    /// A setting that has always been `enabled`.
    pub fn settled(enabled: bool) -> Self {
        Self {
            enabled,
            previous: enabled,
            settles_at: SystemTime::UNIX_EPOCH,
        }
    }

    /// The setting after a PATCH to `enabled` at `now` whose effect on the clusters takes
    /// `toggle`. A PATCH that does not change the value changes nothing (the clusters do not
    /// update).
    pub fn patched(&self, enabled: bool, now: SystemTime, toggle: std::time::Duration) -> Self {
        if enabled == self.enabled {
            return self.clone();
        }
        Self {
            enabled,
            previous: self.effective(now),
            settles_at: now + toggle,
        }
    }

    /// Whether the project's clusters are still changing (`UPDATING`) at `now`.
    pub fn toggling(&self, now: SystemTime) -> bool {
        now < self.settles_at
    }

    /// The mode the clusters' connection strings follow at `now`.
    pub fn effective(&self, now: SystemTime) -> bool {
        if self.toggling(now) {
            self.previous
        } else {
            self.enabled
        }
    }
}

/// Whether the live interface endpoints of a project, counted per region, forbid disabling the
/// mode: some region has more than one and another region has at least one (the spec's two
/// conditions; the first, "more than one in more than one region", is a case of the second).
pub(crate) fn endpoints_need_regional_mode(per_region: &[(String, usize)]) -> bool {
    per_region.iter().any(|(region, count)| {
        *count > 1
            && per_region
                .iter()
                .any(|(other, n)| other != region && *n >= 1)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_toggle_settles_after_the_delay_and_a_repeat_changes_nothing() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let off = RegionalMode::settled(false);
        let on = off.patched(true, t0, Duration::from_secs(300));
        assert!(on.enabled && on.toggling(t0) && !on.effective(t0));
        let later = t0 + Duration::from_secs(300);
        assert!(!on.toggling(later) && on.effective(later));
        assert_eq!(on.patched(true, later, Duration::from_secs(300)), on);
    }

    #[test]
    fn endpoint_layouts_that_forbid_disabling() {
        let layout = |counts: &[(&str, usize)]| -> Vec<(String, usize)> {
            counts.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
        };
        assert!(!endpoints_need_regional_mode(&layout(&[("us-east-1", 3)])));
        assert!(!endpoints_need_regional_mode(&layout(&[
            ("us-east-1", 1),
            ("us-west-2", 1)
        ])));
        assert!(endpoints_need_regional_mode(&layout(&[
            ("us-east-1", 2),
            ("us-west-2", 1)
        ])));
        assert!(endpoints_need_regional_mode(&layout(&[
            ("us-east-1", 2),
            ("us-west-2", 2)
        ])));
    }
}
