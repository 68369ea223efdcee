//! The claims port: who creates a region's Atlas endpoint service, the lease on a service's
//! remote-region list and which requests use each remote region ([`crate::aws::claims`]),
//! with the DynamoDB table behind it.

use std::future::Future;
use std::time::SystemTime;

use crate::aws::claims::{self, Holder, RegionUsers};
use crate::error::StepError;

/// The claim operations the service steps decide with. Each method means what the method of
/// the same name of [`claims::Claims`] does; [`DynamoClaims`] is that implementation.
///
/// A stack without a claims table has no claims at all: steps take `Option<&impl Claims>`,
/// because without one they decide differently (a lost create answer is adopted, not owned).
pub trait Claims: Sync {
    /// Takes the claim to create the service of `project` in `region`; `Err` names the
    /// holder that keeps it.
    fn take(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<Result<(), Holder>, StepError>> + Send;

    /// Who holds the claim, if anybody.
    fn holder(
        &self,
        project: &str,
        region: &str,
    ) -> impl Future<Output = Result<Option<Holder>, StepError>> + Send;

    /// Records the service `execution` created on its claim (nothing if it is not its claim).
    fn record(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        service_id: &str,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Removes the claim: held by `execution` only, or by anybody (`None`).
    fn release(
        &self,
        project: &str,
        region: &str,
        execution: Option<&str>,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Takes the lease on the remote-region list of `service_id` for `holder` (renewed if
    /// `holder` has it, taken over once expired); `Err` names the holder that keeps it.
    fn take_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<Result<(), String>, StepError>> + Send;

    /// Releases the lease of `holder` (nothing if it is not theirs).
    fn release_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Registers `request_key` as a user of the remote `region` (Atlas spelling) of
    /// `service_id`; idempotent.
    fn add_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Removes `request_key` from the users of the remote `region` of `service_id`: whether
    /// it was one, and how many remain.
    fn remove_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> impl Future<Output = Result<RegionUsers, StepError>> + Send;
}

/// [`Claims`] in the stack's DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoClaims(claims::Claims);

impl DynamoClaims {
    /// The port over the table's claims.
    pub fn new(table: claims::Claims) -> Self {
        Self(table)
    }
}

impl Claims for DynamoClaims {
    async fn take(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        now: SystemTime,
    ) -> Result<Result<(), Holder>, StepError> {
        self.0.take(project, region, execution, now).await
    }

    async fn holder(&self, project: &str, region: &str) -> Result<Option<Holder>, StepError> {
        self.0.holder(project, region).await
    }

    async fn record(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        service_id: &str,
    ) -> Result<(), StepError> {
        self.0.record(project, region, execution, service_id).await
    }

    async fn release(
        &self,
        project: &str,
        region: &str,
        execution: Option<&str>,
    ) -> Result<(), StepError> {
        self.0.release(project, region, execution).await
    }

    async fn take_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
        now: SystemTime,
    ) -> Result<Result<(), String>, StepError> {
        self.0.take_lease(project, service_id, holder, now).await
    }

    async fn release_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
    ) -> Result<(), StepError> {
        self.0.release_lease(project, service_id, holder).await
    }

    async fn add_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> Result<(), StepError> {
        self.0
            .add_region_user(project, service_id, region, request_key)
            .await
    }

    async fn remove_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> Result<RegionUsers, StepError> {
        self.0
            .remove_region_user(project, service_id, region, request_key)
            .await
    }
}
