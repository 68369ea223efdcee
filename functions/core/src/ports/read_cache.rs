//! The shared Atlas reads' items in the stack's DynamoDB table (the claims table), under keys
//! `atlas-read#…` (see [`crate::ports::shared_reads`]).
//!
//! One item per Atlas object: `body` (the answer, JSON), `fetchedAt` (epoch milliseconds of the
//! read), `leaseUntil` and `leaseHolder` while a reader is asking Atlas (or, polling, keeps the
//! next read), and `expiresAt` (epoch seconds) for DynamoDB's TTL. Reads are strongly consistent, so a reader sees the answer the
//! lease holder wrote a moment ago (an eventually consistent read may miss a write made within
//! the last second: DynamoDB developer guide, "Read consistency").

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use super::shared_reads::{CachedRead, LEASE_FOR, ReadCache};
use crate::aws::errors::classify;
use crate::error::StepError;

/// Items are deleted by DynamoDB's TTL this long after their last write.
const TTL: Duration = Duration::from_secs(3600);

/// The shared reads of `table`, through `client`.
#[derive(Debug, Clone)]
pub struct DynamoReadCache {
    client: Client,
    table: String,
}

impl DynamoReadCache {
    /// The shared reads kept in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// An update of `key`'s item, to be given its expressions.
    fn update(&self, key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
    }
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn from_millis(v: &AttributeValue) -> Option<SystemTime> {
    let AttributeValue::N(n) = v else {
        return None;
    };
    let ms = n.parse::<u64>().ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn expires(now: SystemTime) -> AttributeValue {
    n(millis(now + TTL) / 1000)
}

/// Whether a write was refused by its condition (somebody else holds the lease, or a newer
/// answer is there): an expected outcome, not an error.
fn refused<R>(e: &SdkError<UpdateItemError, R>) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.is_conditional_check_failed_exception())
}

/// Sends a conditional update: `true` when it was applied, `false` when its condition refused
/// it.
async fn conditional(update: UpdateItemFluentBuilder) -> Result<bool, StepError> {
    match update.send().await {
        Ok(_) => Ok(true),
        Err(e) if refused(&e) => Ok(false),
        Err(e) => Err(classify("UpdateItem", e)),
    }
}

impl ReadCache for DynamoReadCache {
    async fn get(&self, key: &str) -> Result<Option<CachedRead>, StepError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item().map(|item| CachedRead {
            body: match item.get("body") {
                Some(AttributeValue::S(body)) => Some(body.clone()),
                _ => None,
            },
            fetched_at: item.get("fetchedAt").and_then(from_millis),
            lease_until: item.get("leaseUntil").and_then(from_millis),
            lease_holder: match item.get("leaseHolder") {
                Some(AttributeValue::S(holder)) => Some(holder.clone()),
                _ => None,
            },
        }))
    }

    async fn take_lease(
        &self,
        key: &str,
        holder: &str,
        now: SystemTime,
        fresh_after: SystemTime,
    ) -> Result<bool, StepError> {
        let update = self
            .update(key)
            .update_expression("SET leaseUntil = :until, leaseHolder = :me, expiresAt = :ttl")
            .condition_expression(
                "(attribute_not_exists(leaseUntil) OR leaseUntil <= :now) AND \
                 (attribute_not_exists(fetchedAt) OR fetchedAt <= :fresh)",
            )
            .expression_attribute_values(":until", n(millis(now + LEASE_FOR)))
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":ttl", expires(now))
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":fresh", n(millis(fresh_after)));
        conditional(update).await
    }

    async fn put(
        &self,
        key: &str,
        body: &str,
        fetched_at: SystemTime,
        keep: Option<(&str, SystemTime)>,
    ) -> Result<bool, StepError> {
        let update = self
            .update(key)
            .condition_expression("attribute_not_exists(fetchedAt) OR fetchedAt < :at")
            .expression_attribute_values(":body", s(body))
            .expression_attribute_values(":at", n(millis(fetched_at)))
            .expression_attribute_values(":ttl", expires(fetched_at));
        let update = match keep {
            Some((holder, until)) => update
                .update_expression(
                    "SET body = :body, fetchedAt = :at, expiresAt = :ttl, \
                     leaseUntil = :until, leaseHolder = :me",
                )
                .expression_attribute_values(":until", n(millis(until)))
                .expression_attribute_values(":me", s(holder)),
            None => update.update_expression(
                "SET body = :body, fetchedAt = :at, expiresAt = :ttl REMOVE leaseUntil, leaseHolder",
            ),
        };
        // Refused: a newer answer is there already.
        conditional(update).await
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), StepError> {
        let update = self
            .update(key)
            .update_expression("REMOVE leaseUntil, leaseHolder")
            .condition_expression("leaseHolder = :me")
            .expression_attribute_values(":me", s(holder));
        // Refused: not (or no longer) the holder's.
        conditional(update).await.map(drop)
    }
}
