//! Atlas credentials, as stored in a Secrets Manager secret.

use std::fmt;

use serde::Deserialize;

/// A string that never shows itself in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Call only where the value is sent to Atlas.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the client authenticates to Atlas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// A service account (recommended by MongoDB): OAuth 2.0 client credentials.
    ServiceAccount {
        /// The service account's client id (not secret).
        client_id: String,
        /// The service account's client secret.
        client_secret: Secret,
    },
    /// A legacy programmatic API key: HTTP Digest authentication.
    ApiKey {
        /// The public key (not secret).
        public_key: String,
        /// The private key.
        private_key: Secret,
    },
}

/// The credentials secret could not be understood. The message never contains secret values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Atlas credentials secret: {0}")]
pub struct CredentialsError(String);

/// The JSON document in the credentials secret.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SecretDocument {
    client_id: Option<String>,
    client_secret: Option<String>,
    public_key: Option<String>,
    private_key: Option<String>,
    base_url: Option<String>,
}

impl Credentials {
    /// Parses the JSON of a credentials secret: `{"clientId","clientSecret"}` or
    /// `{"publicKey","privateKey"}`, with an optional `"baseUrl"` (returned second).
    pub fn from_secret_json(json: &str) -> Result<(Credentials, Option<String>), CredentialsError> {
        // serde's message could quote a value; report only the shape problem.
        let doc: SecretDocument = serde_json::from_str(json).map_err(|e| {
            CredentialsError(format!(
                "not a JSON object with clientId/clientSecret or publicKey/privateKey \
                 (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let credentials = match (
            non_empty(doc.client_id),
            non_empty(doc.client_secret),
            non_empty(doc.public_key),
            non_empty(doc.private_key),
        ) {
            (Some(client_id), Some(secret), None, None) => Credentials::ServiceAccount {
                client_id,
                client_secret: Secret::new(secret),
            },
            (None, None, Some(public_key), Some(private)) => Credentials::ApiKey {
                public_key,
                private_key: Secret::new(private),
            },
            (Some(_), None, None, None) => {
                return Err(CredentialsError("clientSecret is missing".into()));
            }
            (None, Some(_), None, None) => {
                return Err(CredentialsError("clientId is missing".into()));
            }
            (None, None, Some(_), None) => {
                return Err(CredentialsError("privateKey is missing".into()));
            }
            (None, None, None, Some(_)) => {
                return Err(CredentialsError("publicKey is missing".into()));
            }
            (None, None, None, None) => {
                return Err(CredentialsError(
                    "expected clientId/clientSecret (service account) or publicKey/privateKey \
                     (API key)"
                        .into(),
                ));
            }
            _ => {
                return Err(CredentialsError(
                    "holds both a service account and an API key; keep one".into(),
                ));
            }
        };
        let base_url = non_empty(doc.base_url);
        Ok((credentials, base_url))
    }

    /// The non-secret identity (client id or public key), for logs.
    pub fn identity(&self) -> &str {
        match self {
            Credentials::ServiceAccount { client_id, .. } => client_id,
            Credentials::ApiKey { public_key, .. } => public_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_account_with_base_url() {
        let (c, base) = Credentials::from_secret_json(
            r#"{"clientId":"mdb_sa_id","clientSecret":"s3cr3t","baseUrl":"http://127.0.0.1:9"}"#,
        )
        .expect("valid");
        assert_eq!(c.identity(), "mdb_sa_id");
        assert!(matches!(c, Credentials::ServiceAccount { .. }));
        assert_eq!(base.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn parses_api_key() {
        let (c, base) =
            Credentials::from_secret_json(r#"{"publicKey":"abcdefgh","privateKey":"pk-123"}"#)
                .expect("valid");
        assert!(matches!(c, Credentials::ApiKey { .. }));
        assert_eq!(base, None);
    }

    #[test]
    fn rejects_incomplete_or_mixed_documents_without_echoing_values() {
        for (json, expect) in [
            (r#"{"clientId":"id"}"#, "clientSecret is missing"),
            (r#"{"clientSecret":"TOPSECRET"}"#, "clientId is missing"),
            (r#"{"publicKey":"k"}"#, "privateKey is missing"),
            (r#"{"privateKey":"TOPSECRET"}"#, "publicKey is missing"),
            (r#"{}"#, "expected clientId"),
            (
                r#"{"clientId":"a","clientSecret":"TOPSECRET","publicKey":"b","privateKey":"TOPSECRET"}"#,
                "both",
            ),
            (
                r#"{"clientId":"a","clientSecret":"TOPSECRET","extra":1}"#,
                "not a JSON object",
            ),
            (r#"TOPSECRET"#, "not a JSON object"),
        ] {
            let err = Credentials::from_secret_json(json)
                .expect_err(json)
                .to_string();
            assert!(err.contains(expect), "{json}: {err}");
            assert!(!err.contains("TOPSECRET"), "secret echoed: {err}");
        }
    }

    #[test]
    fn debug_never_prints_secrets() {
        let sa = Credentials::ServiceAccount {
            client_id: "id".into(),
            client_secret: Secret::new("TOPSECRET"),
        };
        let key = Credentials::ApiKey {
            public_key: "pub".into(),
            private_key: Secret::new("TOPSECRET"),
        };
        for text in [format!("{sa:?}"), format!("{key:?}"), format!("{:#?}", sa)] {
            assert!(!text.contains("TOPSECRET"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
    }
}
