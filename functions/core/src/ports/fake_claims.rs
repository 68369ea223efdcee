//! An in-memory [`Claims`] for the steps' unit tests: the claims table's conditional writes
//! (one holder per project and region; record and release only by the holder), every call
//! recorded.

use std::sync::Mutex;
use std::time::SystemTime;

use super::Claims;
use super::fixture::lock;
use crate::aws::claims::{ABANDONED_AFTER, Holder};
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
}
