//! What the deployed stack's IAM lets the functions touch, checked at validation so a request
//! that IAM would refuse later fails before anything is created, with the field named.
//!
//! `infra/template.yaml` scopes the functions' permissions to its parameters: the Atlas
//! credentials secret (`AtlasCredentialsSecretArn`), secrets below `SecretNamePrefix`, roles
//! named `CrossAccountRoleName` (no path), and the key `KmsKeyArn`. The validate function gets
//! them as environment variables; unset (a local run) means "not scoped".

use super::ProvisionRequest;
use crate::error::StepError;

/// The stack's IAM scope (each `None`: not scoped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamScope {
    /// `ATLAS_CREDENTIALS_SECRET_ARN`: the only Atlas credentials secret the functions may read.
    pub credentials_secret_arn: Option<String>,
    /// `SECRET_NAME_PREFIX`: secrets the functions may write or read (database user) start so.
    pub secret_name_prefix: Option<String>,
    /// `CROSS_ACCOUNT_ROLE_NAME`: the only role name the functions may assume.
    pub role_name: Option<String>,
    /// `KMS_KEY_ARN`: the only customer managed key the functions may use; `Some("")` (the
    /// template's empty default) means none may be used.
    pub kms_key_arn: Option<String>,
}

impl IamScope {
    /// Reads the scope from the environment.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`IamScope::from_env`] on any source of variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).map(|v| v.trim().to_owned());
        let non_empty = |name: &str| set(name).filter(|v| !v.is_empty());
        Self {
            credentials_secret_arn: non_empty("ATLAS_CREDENTIALS_SECRET_ARN"),
            secret_name_prefix: non_empty("SECRET_NAME_PREFIX"),
            role_name: non_empty("CROSS_ACCOUNT_ROLE_NAME"),
            kms_key_arn: set("KMS_KEY_ARN"),
        }
    }

    /// Checks `request` against the scope; the first field IAM would refuse is the error.
    pub fn check(&self, request: &ProvisionRequest) -> Result<(), StepError> {
        if let (Some(allowed), Some(given)) = (
            &self.credentials_secret_arn,
            &request.atlas.credentials_secret_arn,
        ) && given.as_str() != allowed
        {
            return Err(StepError::invalid(
                "atlas.credentialsSecretArn",
                format!(
                    "this stack's functions may read only the Atlas credentials secret {allowed} \
                     (the AtlasCredentialsSecretArn parameter); leave the field out to use it"
                ),
            ));
        }
        if let Some(prefix) = &self.secret_name_prefix {
            if !request.secret.name.as_str().starts_with(prefix.as_str()) {
                return Err(StepError::invalid(
                    "secret.name",
                    format!(
                        "this stack's functions may write only secrets whose names start with \
                         {prefix:?} (the SecretNamePrefix parameter)"
                    ),
                ));
            }
            if let Some(arn) = &request.secret.database_user_secret_arn
                && !arn.name().starts_with(prefix.as_str())
            {
                return Err(StepError::invalid(
                    "secret.databaseUserSecretArn",
                    format!(
                        "this stack's functions may read only secrets whose names start with \
                         {prefix:?} (the SecretNamePrefix parameter)"
                    ),
                ));
            }
        }
        if let (Some(name), Some(role)) = (&self.role_name, &request.aws.role_arn) {
            let given = role.as_str().split(":role/").nth(1).unwrap_or("");
            if given != name {
                return Err(StepError::invalid(
                    "aws.roleArn",
                    format!(
                        "this stack's functions may assume only roles named {name:?} (the \
                         CrossAccountRoleName parameter, no path), not {given:?}"
                    ),
                ));
            }
        }
        if let (Some(allowed), Some(key)) = (&self.kms_key_arn, &request.secret.kms_key_id) {
            let key = key.as_str();
            let key_id = allowed.rsplit('/').next().unwrap_or("");
            if allowed.is_empty() || (key != allowed && key != key_id) {
                let which = if allowed.is_empty() {
                    "no customer managed key (the KmsKeyArn parameter is empty)".to_owned()
                } else {
                    format!("only the key {allowed} (the KmsKeyArn parameter), by ARN or key id")
                };
                return Err(StepError::invalid(
                    "secret.kmsKeyId",
                    format!("this stack's functions may use {which}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_request;
    use serde_json::json;

    fn request(extra: serde_json::Value) -> ProvisionRequest {
        let mut r = json!({
            "atlas": {"projectId": "5f0c0c0c0c0c0c0c0c0c0c0c", "clusterName": "Cluster0",
                      "credentialsSecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:atlas-api-AbCdEf"},
            "aws": {"roleArn": "arn:aws:iam::444455556666:role/atlas-privatelink-target"},
            "endpoints": [{"region": "us-east-1", "vpcId": "vpc-0a1b2c3d4e5f60718", "subnetIds": ["subnet-0a1b2c3d4e5f60718"]}],
            "secret": {"databaseUserSecretArn": "arn:aws:secretsmanager:us-east-1:444455556666:secret:atlas/db-user-AbCdEf"}
        });
        if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                r.insert(k.clone(), v.clone());
            }
        }
        parse_request(&r).expect("valid request")
    }

    fn scope() -> IamScope {
        IamScope::from_vars(|name| {
            match name {
                "ATLAS_CREDENTIALS_SECRET_ARN" => {
                    Some("arn:aws:secretsmanager:us-east-1:111122223333:secret:atlas-api-AbCdEf")
                }
                "SECRET_NAME_PREFIX" => Some("atlas/"),
                "CROSS_ACCOUNT_ROLE_NAME" => Some("atlas-privatelink-target"),
                "KMS_KEY_ARN" => Some(""),
                _ => None,
            }
            .map(str::to_owned)
        })
    }

    fn field_of(e: StepError) -> String {
        e.message.split(':').next().unwrap_or("").to_owned()
    }

    #[test]
    fn a_request_inside_the_scope_passes_and_an_unscoped_stack_checks_nothing() {
        assert_eq!(scope().check(&request(json!({}))), Ok(()));
        let outside = request(json!({"secret": {"name": "other/x", "kmsKeyId": "alias/x"}}));
        assert_eq!(IamScope::default().check(&outside), Ok(()));
    }

    #[test]
    fn each_field_iam_would_refuse_is_named() {
        let cases = [
            (
                json!({"atlas": {"projectId": "5f0c0c0c0c0c0c0c0c0c0c0c", "clusterName": "Cluster0", "credentialsSecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:other-AbCdEf"}}),
                "atlas.credentialsSecretArn",
            ),
            (json!({"secret": {"name": "prod/orders"}}), "secret.name"),
            (
                json!({"secret": {"databaseUserSecretArn": "arn:aws:secretsmanager:us-east-1:444455556666:secret:db-user-AbCdEf"}}),
                "secret.databaseUserSecretArn",
            ),
            (
                json!({"aws": {"roleArn": "arn:aws:iam::444455556666:role/platform/atlas-privatelink-target"}}),
                "aws.roleArn",
            ),
            (
                json!({"secret": {"kmsKeyId": "alias/atlas-secrets"}}),
                "secret.kmsKeyId",
            ),
        ];
        for (extra, field) in cases {
            let err = scope().check(&request(extra.clone())).expect_err(field);
            assert_eq!(field_of(err), field, "{extra}");
        }
    }

    #[test]
    fn the_stack_key_is_accepted_by_arn_or_id() {
        let mut s = scope();
        s.kms_key_arn = Some(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        );
        for key in [
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert_eq!(
                s.check(&request(json!({"secret": {"kmsKeyId": key}}))),
                Ok(()),
                "{key}"
            );
        }
        assert!(
            s.check(&request(json!({"secret": {"kmsKeyId": "alias/other"}})))
                .is_err()
        );
    }
}
