//! An in-memory [`Claims`] for the steps' unit tests: the claims table's conditional writes
//! (one holder per project and region; record and release only by the holder; one lease
//! holder per service until it expires; string sets of remote-region users), every call
//! recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::SystemTime;

use super::Claims;
use super::fixture::lock;
use crate::aws::claims::{ABANDONED_AFTER, Holder, LEASE_FOR, RegionUsers};
use crate::error::StepError;

/// One call the step made, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Take {
        execution: String,
    },
    Holder,
    Record {
        execution: String,
        service_id: String,
    },
    Release {
        execution: Option<String>,
    },
    TakeLease {
        service_id: String,
        holder: String,
    },
    ReleaseLease {
        service_id: String,
        holder: String,
    },
    AddRegionUser {
        service_id: String,
        region: String,
        request_key: String,
    },
    RemoveRegionUser {
        service_id: String,
        region: String,
        request_key: String,
    },
}

/// A lease of the fake: who holds the remote regions of a service, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    pub until: SystemTime,
}

/// A claim of the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub project: String,
    pub region: String,
    pub execution: String,
    pub service_id: Option<String>,
    pub claimed_at: SystemTime,
}

/// The fake. Tests seed `claims`, run a step, then read `calls` and `claims`.
#[derive(Debug, Default)]
pub struct FakeClaims {
    pub claims: Mutex<Vec<Claim>>,
    pub calls: Mutex<Vec<Call>>,
    /// Leases by (project, service id).
    pub leases: Mutex<BTreeMap<(String, String), Lease>>,
    /// Remote-region users by (project, service id, region).
    pub users: Mutex<BTreeMap<(String, String, String), BTreeSet<String>>>,
}

impl FakeClaims {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// Adds a claim of `execution` on the fixture's project and region, taken at `claimed_at`.
    pub fn seed(&self, execution: &str, service_id: Option<&str>, claimed_at: SystemTime) {
        lock(&self.claims).push(Claim {
            project: super::fixture::PROJECT.into(),
            region: super::fixture::REGION.into(),
            execution: execution.into(),
            service_id: service_id.map(str::to_owned),
            claimed_at,
        });
    }

    /// Gives the lease on `service_id` (the fixture's project) to `holder` until `until`.
    pub fn seed_lease(&self, service_id: &str, holder: &str, until: SystemTime) {
        lock(&self.leases).insert(
            (super::fixture::PROJECT.into(), service_id.into()),
            Lease {
                holder: holder.into(),
                until,
            },
        );
    }

    /// Registers `keys` as users of `region` on `service_id` (the fixture's project).
    pub fn seed_users(&self, service_id: &str, region: &str, keys: &[&str]) {
        lock(&self.users)
            .entry((
                super::fixture::PROJECT.into(),
                service_id.into(),
                region.into(),
            ))
            .or_default()
            .extend(keys.iter().map(|k| (*k).to_owned()));
    }

    /// The users of `region` on `service_id` (the fixture's project).
    pub fn users_of(&self, service_id: &str, region: &str) -> Vec<String> {
        lock(&self.users)
            .get(&(
                super::fixture::PROJECT.to_owned(),
                service_id.to_owned(),
                region.to_owned(),
            ))
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Who holds the lease on `service_id` (the fixture's project), if anybody.
    pub fn lease_of(&self, service_id: &str) -> Option<Lease> {
        lock(&self.leases)
            .get(&(super::fixture::PROJECT.to_owned(), service_id.to_owned()))
            .cloned()
    }

    /// The holder of the fixture's project and region, if any.
    pub fn current(&self) -> Option<Holder> {
        lock(&self.claims).first().map(|c| Holder {
            execution: c.execution.clone(),
            service_id: c.service_id.clone(),
        })
    }
}

impl Claims for FakeClaims {
    async fn take(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        now: SystemTime,
    ) -> Result<Result<(), Holder>, StepError> {
        lock(&self.calls).push(Call::Take {
            execution: execution.into(),
        });
        let mut claims = lock(&self.claims);
        let at = claims
            .iter()
            .position(|c| c.project == project && c.region == region);
        if let Some(i) = at {
            let c = &claims[i];
            // The table's condition: nobody, this execution, a recorded service (gone now),
            // or an abandoned claim.
            let free = c.execution == execution
                || c.service_id.is_some()
                || c.claimed_at + ABANDONED_AFTER < now;
            if !free {
                return Ok(Err(Holder {
                    execution: c.execution.clone(),
                    service_id: c.service_id.clone(),
                }));
            }
            claims.remove(i);
        }
        // A put replaces the whole item: a service recorded before is dropped.
        claims.push(Claim {
            project: project.into(),
            region: region.into(),
            execution: execution.into(),
            service_id: None,
            claimed_at: now,
        });
        Ok(Ok(()))
    }

    async fn holder(&self, project: &str, region: &str) -> Result<Option<Holder>, StepError> {
        lock(&self.calls).push(Call::Holder);
        Ok(lock(&self.claims)
            .iter()
            .find(|c| c.project == project && c.region == region)
            .map(|c| Holder {
                execution: c.execution.clone(),
                service_id: c.service_id.clone(),
            }))
    }

    async fn record(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        service_id: &str,
    ) -> Result<(), StepError> {
        lock(&self.calls).push(Call::Record {
            execution: execution.into(),
            service_id: service_id.into(),
        });
        if let Some(c) = lock(&self.claims)
            .iter_mut()
            .find(|c| c.project == project && c.region == region && c.execution == execution)
        {
            c.service_id = Some(service_id.into());
        }
        Ok(())
    }

    async fn release(
        &self,
        project: &str,
        region: &str,
        execution: Option<&str>,
    ) -> Result<(), StepError> {
        lock(&self.calls).push(Call::Release {
            execution: execution.map(str::to_owned),
        });
        lock(&self.claims).retain(|c| {
            !(c.project == project
                && c.region == region
                && execution.is_none_or(|e| e == c.execution))
        });
        Ok(())
    }

    async fn take_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
        now: SystemTime,
    ) -> Result<Result<(), String>, StepError> {
        lock(&self.calls).push(Call::TakeLease {
            service_id: service_id.into(),
            holder: holder.into(),
        });
        let mut leases = lock(&self.leases);
        let key = (project.to_owned(), service_id.to_owned());
        // The table's condition: nobody, this holder, or an expired lease.
        if let Some(l) = leases.get(&key)
            && l.holder != holder
            && l.until >= now
        {
            return Ok(Err(l.holder.clone()));
        }
        leases.insert(
            key,
            Lease {
                holder: holder.into(),
                until: now + LEASE_FOR,
            },
        );
        Ok(Ok(()))
    }

    async fn release_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
    ) -> Result<(), StepError> {
        lock(&self.calls).push(Call::ReleaseLease {
            service_id: service_id.into(),
            holder: holder.into(),
        });
        let mut leases = lock(&self.leases);
        let key = (project.to_owned(), service_id.to_owned());
        if leases.get(&key).is_some_and(|l| l.holder == holder) {
            leases.remove(&key);
        }
        Ok(())
    }

    async fn add_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> Result<(), StepError> {
        lock(&self.calls).push(Call::AddRegionUser {
            service_id: service_id.into(),
            region: region.into(),
            request_key: request_key.into(),
        });
        lock(&self.users)
            .entry((project.into(), service_id.into(), region.into()))
            .or_default()
            .insert(request_key.into());
        Ok(())
    }

    async fn remove_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> Result<RegionUsers, StepError> {
        lock(&self.calls).push(Call::RemoveRegionUser {
            service_id: service_id.into(),
            region: region.into(),
            request_key: request_key.into(),
        });
        let mut users = lock(&self.users);
        let key = (project.to_owned(), service_id.to_owned(), region.to_owned());
        let Some(set) = users.get_mut(&key) else {
            return Ok(RegionUsers {
                was_user: false,
                remaining: 0,
            });
        };
        let was_user = set.remove(request_key);
        let remaining = set.len();
        if remaining == 0 {
            users.remove(&key);
        }
        Ok(RegionUsers {
            was_user,
            remaining,
        })
    }
}
