//! The Secrets Manager port: the calls of the steps that read the database user and write,
//! find and delete the connection-string secret, with the SDK client behind it.
//!
//! The port is at the level of Secrets Manager's calls (describe, tag, restore, read the
//! current version, put a version, create, delete) rather than "write the secret", so that the
//! decisions made between them (whose secret it is, whether the content changed, which token)
//! are the step's, and unit-tested.

use std::future::Future;

use crate::aws::secrets::{self, SecretInfo};
use crate::error::StepError;

/// The Secrets Manager calls of the steps. Each method means what the function of the same
/// name in [`crate::aws::secrets`] does; [`SdkSecrets`] is that implementation.
///
/// Futures are `Send` for the same reason as [`Ec2`](super::Ec2)'s.
pub trait Secrets: Sync {
    /// A secret's string value; a missing secret is `InvalidRequest` naming `field`.
    fn read_secret_string(
        &self,
        secret_id: &str,
        field: &str,
    ) -> impl Future<Output = Result<String, StepError>> + Send;

    /// The secret `name` with its owner and created-by tags, or `None` when it does not exist.
    fn describe_secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretInfo>, StepError>> + Send;

    /// Tags the secret with `owner` (the owner tag).
    fn tag_owner(
        &self,
        arn: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Cancels the secret's scheduled deletion.
    fn restore_secret(&self, arn: &str) -> impl Future<Output = Result<(), StepError>> + Send;

    /// The current value and version id, if the secret has a value.
    fn current_value(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>, StepError>> + Send;

    /// Puts `content` as the current version under the client request `token`; returns the
    /// version id.
    fn put_secret_value(
        &self,
        arn: &str,
        content: &str,
        token: &str,
    ) -> impl Future<Output = Result<String, StepError>> + Send;

    /// Creates the secret with exactly `tags`; returns its ARN and version id, or `None` when
    /// a secret of that name exists already.
    fn create_secret(
        &self,
        name: &str,
        content: &str,
        token: &str,
        kms_key_id: Option<&str>,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<Option<(String, String)>, StepError>> + Send;

    /// Schedules the secret's deletion with a recovery window; gone or scheduled already is
    /// fine.
    fn delete_secret(
        &self,
        name: &str,
        recovery_days: i64,
    ) -> impl Future<Output = Result<(), StepError>> + Send;
}

/// [`Secrets`] through the AWS SDK: one account and region's client.
#[derive(Debug, Clone)]
pub struct SdkSecrets {
    client: aws_sdk_secretsmanager::Client,
}

impl SdkSecrets {
    /// The port over `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

impl Secrets for SdkSecrets {
    async fn read_secret_string(&self, secret_id: &str, field: &str) -> Result<String, StepError> {
        secrets::read_secret_string(&self.client, secret_id, field).await
    }

    async fn describe_secret(&self, name: &str) -> Result<Option<SecretInfo>, StepError> {
        secrets::describe_secret(&self.client, name).await
    }

    async fn tag_owner(&self, arn: &str, owner: &str) -> Result<(), StepError> {
        secrets::tag_owner(&self.client, arn, owner).await
    }

    async fn restore_secret(&self, arn: &str) -> Result<(), StepError> {
        secrets::restore_secret(&self.client, arn).await
    }

    async fn current_value(&self, arn: &str) -> Result<Option<(String, String)>, StepError> {
        secrets::current_value(&self.client, arn).await
    }

    async fn put_secret_value(
        &self,
        arn: &str,
        content: &str,
        token: &str,
    ) -> Result<String, StepError> {
        secrets::put_secret_value(&self.client, arn, content, token).await
    }

    async fn create_secret(
        &self,
        name: &str,
        content: &str,
        token: &str,
        kms_key_id: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<Option<(String, String)>, StepError> {
        secrets::create_secret(&self.client, name, content, token, kms_key_id, tags).await
    }

    async fn delete_secret(&self, name: &str, recovery_days: i64) -> Result<(), StepError> {
        secrets::delete_secret(&self.client, name, recovery_days).await
    }
}
