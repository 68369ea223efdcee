//! Why a spec could not be loaded: its own module because both loading the file (`spec`) and
//! reading its operations (`operations`) produce these errors.

use std::path::PathBuf;

/// The spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file could not be read.
    #[error("cannot read the OpenAPI spec {path}: {source}")]
    Io {
        /// The spec's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML (or JSON).
    #[error("cannot parse the OpenAPI spec {path}: {source}")]
    Yaml {
        /// The spec's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The document is not an OpenAPI 3.0 spec this checker can use.
    #[error("unusable OpenAPI spec {path}: {reason}")]
    BadSpec {
        /// The spec's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
