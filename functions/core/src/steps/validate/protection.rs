//! Deletion protection: teardown refuses a request whose secret carries
//! `atlas-privatelink:protect=true`, unless the teardown input says `"force": true`. Checked in
//! validate, before the teardown Map, so a refused teardown removes nothing.

use crate::aws::secrets::TAG_PROTECT;
use crate::error::{ErrorName, StepError};
use crate::ports::Secrets;
use crate::request::ProvisionRequest;

/// `DeletionProtected` when the request's secret (found by its name, where the workflow
/// writes it) is protected and `force` is not set. A missing secret, or one already
/// scheduled for deletion, protects nothing.
pub(super) async fn check_deletion_protection(
    secrets: &impl Secrets,
    request: &ProvisionRequest,
) -> Result<(), StepError> {
    if request.force {
        return Ok(());
    }
    let name = request.secret.name.as_str();
    match secrets.describe_secret(name).await? {
        Some(secret) if secret.protected && !secret.deleted => Err(StepError::new(
            ErrorName::DeletionProtected,
            format!(
                "secret {name} carries {TAG_PROTECT}=true: nothing was removed; remove the tag, \
                 or start the teardown with \"force\": true in its input"
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ports::fake_secrets::{FakeSecrets, Secret};
    use crate::ports::fixture::{CLUSTER, PROJECT, VPC};
    use crate::request::parse_request;

    fn request(force: bool) -> ProvisionRequest {
        parse_request(&json!({
            "atlas": {"projectId": PROJECT, "clusterName": CLUSTER},
            "endpoints": [{"region": "us-east-1", "vpcId": VPC, "subnetIds": ["subnet-0a000001"]}],
            "force": force
        }))
        .expect("valid request")
    }

    fn secrets_with(request: &ProvisionRequest, tags: &[(&str, &str)]) -> FakeSecrets {
        let secrets = FakeSecrets::default();
        secrets.seed(Secret::new(request.secret.name.as_str(), tags, "{}"));
        secrets
    }

    #[tokio::test]
    async fn a_protected_secret_refuses_teardown_with_a_named_error() {
        let request = request(false);
        let secrets = secrets_with(&request, &[(TAG_PROTECT, "True")]);
        let e = check_deletion_protection(&secrets, &request)
            .await
            .expect_err("protected");
        assert_eq!(e.name, ErrorName::DeletionProtected);
        assert!(e.message.contains(request.secret.name.as_str()), "{e}");
        assert!(e.message.contains("\"force\": true"), "{e}");
        assert!(secrets.writes().is_empty());
    }

    #[tokio::test]
    async fn force_overrides_protection() {
        let request = request(true);
        let secrets = secrets_with(&request, &[(TAG_PROTECT, "true")]);
        check_deletion_protection(&secrets, &request)
            .await
            .expect("forced");
    }

    #[tokio::test]
    async fn no_tag_another_value_or_no_secret_protects_nothing() {
        let request = request(false);
        for tags in [&[][..], &[(TAG_PROTECT, "false")][..]] {
            let secrets = secrets_with(&request, tags);
            check_deletion_protection(&secrets, &request)
                .await
                .expect("not protected");
        }
        check_deletion_protection(&FakeSecrets::default(), &request)
            .await
            .expect("no secret");
    }
}
