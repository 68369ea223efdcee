//! Secrets Manager: reading the Atlas and database-user secrets, writing the connection-string
//! secret idempotently, and deleting it on teardown.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use sha2::{Digest, Sha256};

use aws_sdk_secretsmanager::operation::RequestId;

use super::errors::{classify, error_code};
use crate::error::StepError;

/// Tag key holding the execution that created the secret.
pub const TAG_CREATED_BY: &str = super::ec2::TAG_CREATED_BY;

/// Tag key holding the owner key of the request whose strings the secret holds
/// ([`ProvisionRequest::owner_key`](crate::ProvisionRequest::owner_key)): another request
/// never overwrites or deletes it.
pub const TAG_OWNER: &str = "atlas-privatelink:owner";

/// The key of the connection-string secret that holds the request it was made for (JSON
/// text, `mode` provision): what the drift sweep re-verifies, found by the secrets' tags
/// instead of a database of its own. The request holds no secret (ARNs and ids only).
pub const REQUEST_KEY: &str = "atlasPrivatelinkRequest";

/// The tag that protects a request from teardown: `atlas-privatelink:protect=true` on its
/// secret makes teardown fail with `DeletionProtected` unless its input says `"force": true`.
/// Set by the user (the workflow never writes it), so protection survives re-provisioning.
pub const TAG_PROTECT: &str = "atlas-privatelink:protect";

/// The refusal to write over the secret of another request (owner key `theirs`).
pub fn owned_by_another(name: &str, theirs: &str) -> StepError {
    StepError::invalid(
        "secret.name",
        format!(
            "secret {name} holds the connection strings of another request (owner key {theirs}: \
             other VPCs of this cluster); give this request its own secret.name, or leave it \
             out for the per-request default"
        ),
    )
}

/// Reads a secret's string value. `field` names the request field for a missing secret.
///
/// The value is returned to the caller only; it is never logged or put into an error.
pub async fn read_secret_string(
    client: &Client,
    secret_id: &str,
    field: &str,
) -> Result<String, StepError> {
    match client.get_secret_value().secret_id(secret_id).send().await {
        Ok(out) => out.secret_string().map(str::to_owned).ok_or_else(|| {
            StepError::invalid(field, format!("secret {secret_id} has no string value"))
        }),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Err(StepError::invalid(
            field,
            format!("secret {secret_id} does not exist"),
        )),
        Err(e) => Err(classify("GetSecretValue", e)),
    }
}

/// What writing the secret did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretWrite {
    /// ARN of the secret.
    pub arn: String,
    /// The version holding this content.
    pub version_id: String,
    /// The secret was created by the execution `created_by` (now or in an earlier attempt).
    pub created: bool,
    /// The content it held before (`None` for a new secret).
    pub previous: Option<String>,
}

/// The client request token for writing `content` over the version `over` (`None` for a new
/// secret): the same write always maps to the same token, so a retried call makes no second
/// version. The current version is part of it because Secrets Manager ignores a token it has
/// seen before (PutSecretValue, ClientRequestToken): content A → B → A would otherwise reuse
/// A's token and leave B current.
pub fn content_token(content: &str, over: Option<&str>) -> String {
    let mut hash = Sha256::new();
    hash.update(content.as_bytes());
    if let Some(version) = over {
        hash.update(b"|over|");
        hash.update(version.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// A secret as DescribeSecret shows it: what the steps decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Its ARN (the name it was asked by, if Secrets Manager answered none).
    pub arn: String,
    /// Its [`TAG_OWNER`] tag: the request whose strings it holds.
    pub owner: Option<String>,
    /// Its `created-by` tag: the execution that created it.
    pub created_by: Option<String>,
    /// Scheduled for deletion (it has a `DeletedDate`).
    pub deleted: bool,
    /// Its [`TAG_PROTECT`] tag is `true` (any case).
    pub protected: bool,
}

/// The secret `name`, or `None` when it does not exist.
pub async fn describe_secret(client: &Client, name: &str) -> Result<Option<SecretInfo>, StepError> {
    match client.describe_secret().secret_id(name).send().await {
        Ok(found) => {
            let tag = |key: &str| {
                found
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
                    .map(str::to_owned)
            };
            Ok(Some(SecretInfo {
                arn: found.arn().unwrap_or(name).to_owned(),
                owner: tag(TAG_OWNER),
                created_by: tag(TAG_CREATED_BY),
                deleted: found.deleted_date().is_some(),
                protected: tag(TAG_PROTECT).is_some_and(|v| v.eq_ignore_ascii_case("true")),
            }))
        }
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(classify("DescribeSecret", e)),
    }
}

/// Tags the secret with its owner's key ([`TAG_OWNER`]).
pub async fn tag_owner(client: &Client, arn: &str, owner: &str) -> Result<(), StepError> {
    client
        .tag_resource()
        .secret_id(arn)
        .tags(Tag::builder().key(TAG_OWNER).value(owner).build())
        .send()
        .await
        .map_err(|e| classify("TagResource", e))?;
    Ok(())
}

/// Cancels the scheduled deletion of a secret.
pub async fn restore_secret(client: &Client, arn: &str) -> Result<(), StepError> {
    client
        .restore_secret()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| classify("RestoreSecret", e))?;
    tracing::info!(secret_arn = %arn, "restored a secret scheduled for deletion");
    Ok(())
}

/// The current value and version of a secret, if it has one.
pub async fn current_value(
    client: &Client,
    arn: &str,
) -> Result<Option<(String, String)>, StepError> {
    match client.get_secret_value().secret_id(arn).send().await {
        Ok(out) => Ok(out
            .secret_string()
            .zip(out.version_id())
            .map(|(value, version)| (value.to_owned(), version.to_owned()))),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(classify("GetSecretValue", e)),
    }
}

/// Puts `content` as the secret's new current version under `token`; returns the version id
/// (the token, if Secrets Manager answered none).
pub async fn put_secret_value(
    client: &Client,
    arn: &str,
    content: &str,
    token: &str,
) -> Result<String, StepError> {
    let out = client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(content)
        .client_request_token(token)
        .send()
        .await
        .map_err(|e| classify("PutSecretValue", e))?;
    tracing::info!(
        aws_request_id = out.request_id().unwrap_or("none"),
        "PutSecretValue"
    );
    Ok(out.version_id().unwrap_or(token).to_owned())
}

/// Creates the secret `name` with `content` under `token`, with exactly `tags`; returns its
/// ARN and version, or `None` when a secret of that name exists already (a racing run made it
/// since it was looked for).
pub async fn create_secret(
    client: &Client,
    name: &str,
    content: &str,
    token: &str,
    kms_key_id: Option<&str>,
    tags: &[(String, String)],
) -> Result<Option<(String, String)>, StepError> {
    let created = client
        .create_secret()
        .name(name)
        .description("Private connection strings of a MongoDB Atlas cluster (atlas-privatelink)")
        .secret_string(content)
        .client_request_token(token)
        .set_kms_key_id(kms_key_id.map(str::to_owned))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await;
    match created {
        Ok(out) => {
            tracing::info!(
                aws_request_id = out.request_id().unwrap_or("none"),
                "CreateSecret"
            );
            Ok(Some((
                out.arn().unwrap_or(name).to_owned(),
                out.version_id().unwrap_or(token).to_owned(),
            )))
        }
        Err(e) if error_code(&e) == Some("ResourceExistsException") => Ok(None),
        Err(e) => Err(classify("CreateSecret", e)),
    }
}

/// Whether a DeleteSecret error says the secret is already scheduled for deletion
/// (`InvalidRequestException`, "…currently marked deleted" / "…marked for deletion"): that
/// is done. Any other `InvalidRequestException` (a bad recovery window, a secret that cannot
/// be deleted) is an error.
fn already_scheduled(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("InvalidRequestException")
        && message
            .is_some_and(|m| m.contains("marked deleted") || m.contains("marked for deletion"))
}

/// Schedules the secret's deletion with a recovery window (7–30 days). Gone already is fine.
pub async fn delete_secret(
    client: &Client,
    name: &str,
    recovery_days: i64,
) -> Result<(), StepError> {
    match client
        .delete_secret()
        .secret_id(name)
        .recovery_window_in_days(recovery_days)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e)
            if already_scheduled(
                error_code(&e),
                e.as_service_error().and_then(|s| s.meta().message()),
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(classify("DeleteSecret", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_already_scheduled_deletion_counts_as_done() {
        let invalid = Some("InvalidRequestException");
        assert!(already_scheduled(
            invalid,
            Some("You tried to perform the operation on a secret that's currently marked deleted.")
        ));
        assert!(already_scheduled(
            invalid,
            Some(
                "You can't perform this operation on the secret because it was marked for deletion."
            )
        ));
        assert!(!already_scheduled(
            invalid,
            Some(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )
        ));
        assert!(!already_scheduled(invalid, None));
        assert!(!already_scheduled(
            Some("InvalidParameterException"),
            Some("marked deleted")
        ));
    }

    #[test]
    fn content_tokens_differ_by_the_version_they_replace() {
        assert_eq!(content_token("A", None), content_token("A", None));
        assert_ne!(content_token("A", None), content_token("A", Some("v1")));
        assert_ne!(
            content_token("A", Some("v1")),
            content_token("A", Some("v2"))
        );
    }
}
