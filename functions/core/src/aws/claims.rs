//! Who creates a region's Atlas endpoint service, recorded where it survives a lost answer.
//!
//! Atlas endpoint services carry no tags, and a create whose answer was lost (a timeout after
//! Atlas made it, a crashed function) looks, on the next attempt, exactly like a service a
//! racing execution made. So before it creates a service, an execution takes a *claim* in the
//! stack's DynamoDB table (a conditional put: one holder per project and region), records the
//! service's id on it once it has one, and releases it when it deletes the service. The
//! holder knows the service is its own even when the answer was lost, so rollback removes it.

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
