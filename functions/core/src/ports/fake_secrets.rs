//! An in-memory [`Secrets`] for the steps' unit tests: secrets with their tags and versions,
//! every call recorded. It keeps the Secrets Manager rules the steps rely on (a name is taken
//! once, a client request token seen before makes no new version, deletion is a schedule) and
//! nothing else; moto covers the rest.

use std::sync::Mutex;

use super::Secrets;
use super::fixture::lock;
use crate::aws::secrets::{SecretInfo, TAG_CREATED_BY, TAG_OWNER, TAG_PROTECT};
use crate::error::StepError;

/// One call the step made, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Read {
        id: String,
    },
    Describe {
        name: String,
    },
    TagOwner {
        arn: String,
        owner: String,
    },
    Restore {
        arn: String,
    },
    CurrentValue {
        arn: String,
    },
    Put {
        arn: String,
        content: String,
        token: String,
    },
    Create {
        name: String,
        content: String,
        token: String,
        tags: Vec<(String, String)>,
    },
    Delete {
        id: String,
        recovery_days: i64,
    },
}

impl Call {
    /// Whether the call changes something.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Call::TagOwner { .. }
                | Call::Restore { .. }
                | Call::Put { .. }
                | Call::Create { .. }
                | Call::Delete { .. }
        )
    }
}

/// A secret of the fake.
#[derive(Debug, Clone, Default)]
pub struct Secret {
    pub name: String,
    pub arn: String,
    pub tags: Vec<(String, String)>,
    pub deleted: bool,
    /// Versions, oldest first: (version id, content, token).
    pub versions: Vec<(String, String, String)>,
}

impl Secret {
    /// A secret `name` with `tags` and one version holding `content`.
    pub fn new(name: &str, tags: &[(&str, &str)], content: &str) -> Self {
        Secret {
            name: name.into(),
            arn: arn(name),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            deleted: false,
            versions: vec![("v0".into(), content.into(), "seed".into())],
        }
    }

    fn tag(&self, key: &str) -> Option<String> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

/// The ARN the fake gives the secret `name`.
pub fn arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf")
}

/// The fake. Tests seed `secrets` (and `values` for plain reads), run a step, then read
/// `calls` and `secrets`.
#[derive(Debug, Default)]
pub struct FakeSecrets {
    pub secrets: Mutex<Vec<Secret>>,
    pub calls: Mutex<Vec<Call>>,
}

impl FakeSecrets {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The calls so far that change something.
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::writes).collect()
    }

    /// Adds a secret.
    pub fn seed(&self, secret: Secret) {
        lock(&self.secrets).push(secret);
    }

    fn record(&self, call: Call) {
        lock(&self.calls).push(call);
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Secret) -> T) -> Option<T> {
        lock(&self.secrets)
            .iter_mut()
            .find(|s| s.name == id || s.arn == id)
            .map(f)
    }
}

impl Secrets for FakeSecrets {
    async fn read_secret_string(&self, secret_id: &str, field: &str) -> Result<String, StepError> {
        self.record(Call::Read {
            id: secret_id.into(),
        });
        self.with(secret_id, |s| s.versions.last().map(|(_, c, _)| c.clone()))
            .flatten()
            .ok_or_else(|| StepError::invalid(field, format!("secret {secret_id} does not exist")))
    }

    async fn describe_secret(&self, name: &str) -> Result<Option<SecretInfo>, StepError> {
        self.record(Call::Describe { name: name.into() });
        Ok(self.with(name, |s| SecretInfo {
            arn: s.arn.clone(),
            owner: s.tag(TAG_OWNER),
            created_by: s.tag(TAG_CREATED_BY),
            deleted: s.deleted,
            protected: s
                .tag(TAG_PROTECT)
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        }))
    }

    async fn tag_owner(&self, arn: &str, owner: &str) -> Result<(), StepError> {
        self.record(Call::TagOwner {
            arn: arn.into(),
            owner: owner.into(),
        });
        self.with(arn, |s| {
            s.tags.retain(|(k, _)| k != TAG_OWNER);
            s.tags.push((TAG_OWNER.into(), owner.into()));
        });
        Ok(())
    }

    async fn restore_secret(&self, arn: &str) -> Result<(), StepError> {
        self.record(Call::Restore { arn: arn.into() });
        self.with(arn, |s| s.deleted = false);
        Ok(())
    }

    async fn current_value(&self, arn: &str) -> Result<Option<(String, String)>, StepError> {
        self.record(Call::CurrentValue { arn: arn.into() });
        Ok(self
            .with(arn, |s| {
                s.versions
                    .last()
                    .map(|(version, content, _)| (content.clone(), version.clone()))
            })
            .flatten())
    }

    async fn put_secret_value(
        &self,
        arn: &str,
        content: &str,
        token: &str,
    ) -> Result<String, StepError> {
        self.record(Call::Put {
            arn: arn.into(),
            content: content.into(),
            token: token.into(),
        });
        self.with(arn, |s| {
            // A token seen before answers its version and writes nothing (PutSecretValue,
            // ClientRequestToken).
            if let Some((version, _, _)) = s.versions.iter().find(|(_, _, t)| t == token) {
                return version.clone();
            }
            let version = format!("v{}", s.versions.len());
            s.versions
                .push((version.clone(), content.into(), token.into()));
            version
        })
        .ok_or_else(|| StepError::invalid("secret.name", format!("no secret {arn}")))
    }

    async fn create_secret(
        &self,
        name: &str,
        content: &str,
        token: &str,
        _kms_key_id: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<Option<(String, String)>, StepError> {
        self.record(Call::Create {
            name: name.into(),
            content: content.into(),
            token: token.into(),
            tags: tags.to_vec(),
        });
        let mut secrets = lock(&self.secrets);
        if secrets.iter().any(|s| s.name == name) {
            return Ok(None);
        }
        let made = Secret {
            name: name.into(),
            arn: arn(name),
            tags: tags.to_vec(),
            deleted: false,
            versions: vec![("v0".into(), content.into(), token.into())],
        };
        let answer = (made.arn.clone(), "v0".to_owned());
        secrets.push(made);
        Ok(Some(answer))
    }

    async fn delete_secret(&self, name: &str, recovery_days: i64) -> Result<(), StepError> {
        self.record(Call::Delete {
            id: name.into(),
            recovery_days,
        });
        // Gone, or scheduled already, is fine.
        self.with(name, |s| s.deleted = true);
        Ok(())
    }
}
