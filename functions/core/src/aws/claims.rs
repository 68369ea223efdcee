//! Who creates a region's Atlas endpoint service, recorded where it survives a lost answer.
//!
//! Atlas endpoint services carry no tags, and a create whose answer was lost (a timeout after
//! Atlas made it, a crashed function) looks, on the next attempt, exactly like a service a
//! racing execution made. So before it creates a service, an execution takes a *claim* in the
//! stack's DynamoDB table (a conditional put: one holder per project and region), records the
//! service's id on it once it has one, and releases it when it deletes the service. The
//! holder knows the service is its own even when the answer was lost, so rollback removes it.
//!
//! The same table serves cross-region PrivateLink (`steps::remote_regions`), under keys of
//! their own: a short *lease* per service (`remote-regions-lease#…`), so the read-modify-write
//! of its `supportedRemoteRegions` has one writer at a time, and per service and remote region
//! the string set of request keys that use it (`remote-region-users#…`), so the last user
//! takes the region out.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::errors::classify;
use crate::error::StepError;

/// A claim nobody recorded a service on for this long is abandoned (its holder crashed
/// before creating): a service takes about 2.5 minutes to create, a create call seconds.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(15 * 60);

/// Claims are deleted by DynamoDB's TTL a day after they are taken, whatever happens.
const TTL: Duration = Duration::from_secs(24 * 3600);

/// The claims table.
#[derive(Debug, Clone)]
pub struct Claims {
    client: Client,
    table: String,
}

/// Who holds the claim on a region's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The execution that took it.
    pub execution: String,
    /// The service it created, once recorded.
    pub service_id: Option<String>,
}

fn key(project: &str, region: &str) -> AttributeValue {
    AttributeValue::S(format!("endpoint-service#{project}#{region}"))
}

fn epoch(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl Claims {
    /// The claims of `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Takes the claim to create the service of `project` in `region` for `execution`, to be
    /// called only when the region has no live service. It succeeds when nobody holds it, when
    /// `execution` does, when the holder recorded a service (which is gone, then), or when
    /// the claim is abandoned; otherwise the holder is returned.
    pub async fn take(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        now: SystemTime,
    ) -> Result<Result<(), Holder>, StepError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", key(project, region))
            .item("execution", AttributeValue::S(execution.to_owned()))
            .item("claimedAt", n(epoch(now)))
            .item("expiresAt", n(epoch(now + TTL)))
            .condition_expression(
                "attribute_not_exists(pk) OR execution = :me OR attribute_exists(serviceId) OR claimedAt < :abandoned",
            )
            .expression_attribute_values(":me", AttributeValue::S(execution.to_owned()))
            .expression_attribute_values(
                ":abandoned",
                n(epoch(now) - ABANDONED_AFTER.as_secs() as i64),
            )
            .send()
            .await;
        match put {
            Ok(_) => Ok(Ok(())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Err(self.holder(project, region).await?.unwrap_or(Holder {
                    execution: "(released meanwhile)".to_owned(),
                    service_id: None,
                })))
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Who holds the claim of `project` in `region`, if anybody.
    pub async fn holder(&self, project: &str, region: &str) -> Result<Option<Holder>, StepError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", key(project, region))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(text("execution").map(|execution| Holder {
            execution,
            service_id: text("serviceId"),
        }))
    }

    /// Records the service `execution` created on its claim.
    pub async fn record(
        &self,
        project: &str,
        region: &str,
        execution: &str,
        service_id: &str,
    ) -> Result<(), StepError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", key(project, region))
            .update_expression("SET serviceId = :service")
            .condition_expression("execution = :me")
            .expression_attribute_values(":service", AttributeValue::S(service_id.to_owned()))
            .expression_attribute_values(":me", AttributeValue::S(execution.to_owned()))
            .send()
            .await;
        match update {
            Ok(_) => Ok(()),
            // Not (or no longer) ours: nothing to record.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Removes the claim of `project` in `region`: held by `execution` only, or by anybody
    /// (`None`, when the service it was about is deleted).
    pub async fn release(
        &self,
        project: &str,
        region: &str,
        execution: Option<&str>,
    ) -> Result<(), StepError> {
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", key(project, region));
        if let Some(execution) = execution {
            delete = delete
                .condition_expression("execution = :me")
                .expression_attribute_values(":me", AttributeValue::S(execution.to_owned()));
        }
        match delete.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("DeleteItem", e)),
        }
    }
}

/// How long a lease on one service's remote-region list lasts: a holder reads the service
/// and writes the list once (two Atlas calls), then releases it; a holder that crashed
/// blocks the others for at most this long.
pub const LEASE_FOR: Duration = Duration::from_secs(120);

/// What removing a request from a remote region's users found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionUsers {
    /// The request was registered as a user of the region.
    pub was_user: bool,
    /// How many other requests still use it.
    pub remaining: usize,
}

/// The item of the lease on the remote regions of `service_id` (an Atlas endpoint service
/// id): apart from the claims' `endpoint-service#…` items.
fn lease_key(project: &str, service_id: &str) -> AttributeValue {
    AttributeValue::S(format!("remote-regions-lease#{project}#{service_id}"))
}

/// The item listing the requests whose VPC endpoints reach `service_id` from `region` (Atlas
/// spelling).
fn users_key(project: &str, service_id: &str, region: &str) -> AttributeValue {
    AttributeValue::S(format!(
        "remote-region-users#{project}#{service_id}#{region}"
    ))
}

fn is_condition_failed<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .is_some_and(|s| s.code() == Some("ConditionalCheckFailedException"))
}

impl Claims {
    /// Takes the lease on the remote-region list of `service_id` for `holder`, until
    /// `now + LEASE_FOR`. It succeeds when nobody holds it, when `holder` does (renewed), or
    /// when the lease has expired; otherwise the holder is returned.
    ///
    /// Atlas replaces `supportedRemoteRegions` wholesale on PATCH and has no ETag or If-Match
    /// (research notes issue 12, §1 "PATCH replaces the whole list"; Admin API spec,
    /// `ApiAtlasModifyEndpointServiceRequestView`), so the read-modify-write of the list is
    /// serialized here.
    pub async fn take_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
        now: SystemTime,
    ) -> Result<Result<(), String>, StepError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", lease_key(project, service_id))
            .item("holder", AttributeValue::S(holder.to_owned()))
            .item("leaseUntil", n(epoch(now + LEASE_FOR)))
            .item("expiresAt", n(epoch(now + TTL)))
            .condition_expression("attribute_not_exists(pk) OR holder = :me OR leaseUntil < :now")
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .expression_attribute_values(":now", n(epoch(now)))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_condition_failed(&e) => {
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", lease_key(project, service_id))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| classify("GetItem", e))?;
                let holder = match out.item().and_then(|i| i.get("holder")) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => "(released meanwhile)".to_owned(),
                };
                Ok(Err(holder))
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Releases the lease of `holder` (nothing if another holds it, or nobody).
    pub async fn release_lease(
        &self,
        project: &str,
        service_id: &str,
        holder: &str,
    ) -> Result<(), StepError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", lease_key(project, service_id))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(classify("DeleteItem", e)),
        }
    }

    /// Registers `request_key` as a user of `region` on `service_id` (a string-set `ADD`:
    /// idempotent, and concurrent registrations do not overwrite each other).
    pub async fn add_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> Result<(), StepError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", users_key(project, service_id, region))
            .update_expression("ADD #users :key")
            .expression_attribute_names("#users", "users")
            .expression_attribute_values(":key", AttributeValue::Ss(vec![request_key.to_owned()]))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    /// Removes `request_key` from the users of `region` on `service_id` (a string-set
    /// `DELETE`, the old set returned with `ReturnValues: ALL_OLD`) and says whether it was one
    /// and how many remain. An item left without users is deleted (only if still empty).
    pub async fn remove_region_user(
        &self,
        project: &str,
        service_id: &str,
        region: &str,
        request_key: &str,
    ) -> Result<RegionUsers, StepError> {
        let key = users_key(project, service_id, region);
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", key.clone())
            .update_expression("DELETE #users :key")
            // Not on a missing item: an update would create it.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#users", "users")
            .expression_attribute_values(":key", AttributeValue::Ss(vec![request_key.to_owned()]))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        let old: Vec<String> = match update {
            Ok(out) => match out.attributes().and_then(|a| a.get("users")) {
                Some(AttributeValue::Ss(users)) => users.clone(),
                _ => Vec::new(),
            },
            Err(e) if is_condition_failed(&e) => Vec::new(),
            Err(e) => return Err(classify("UpdateItem", e)),
        };
        let users = RegionUsers {
            was_user: old.iter().any(|k| k == request_key),
            remaining: old.iter().filter(|k| *k != request_key).count(),
        };
        if users.remaining == 0 {
            // DynamoDB drops a string set with its last element; an item someone registered
            // on meanwhile keeps its set, and stays.
            let delete = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", key)
                .condition_expression("attribute_not_exists(#users)")
                .expression_attribute_names("#users", "users")
                .send()
                .await;
            match delete {
                Ok(_) => {}
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(classify("DeleteItem", e)),
            }
        }
        Ok(users)
    }
}
