//! A client for the MongoDB Atlas Admin API v2, limited to what atlas-privatelink needs: AWS
//! private endpoint services (with their cross-region `supportedRemoteRegions`), their
//! interface endpoints, the project's regionalized private endpoint mode, and the cluster
//! description that carries the private connection strings.
//!
//! * Both authentication schemes: service accounts (OAuth 2.0 client credentials, the token
//!   cached and refreshed before it expires) and legacy API keys (HTTP Digest).
//! * Atlas's versioned media types on every call.
//! * Typed models whose status enums keep values they do not know instead of failing.
//! * 429 and 5xx retried inside the client with back-off and jitter, honouring `Retry-After`,
//!   within a bounded budget; then a [`AtlasError`] whose [`AtlasError::error_name`] is the name
//!   the Step Functions state machine matches on.
//! * A timeout on every request.
#![warn(missing_docs)]

mod auth;
mod client;
mod credentials;
mod error;
pub mod models;
mod retry;

pub use client::{AtlasClient, ClientConfig, DEFAULT_BASE_URL};
pub use credentials::{Credentials, CredentialsError, Secret};
pub use error::{ApiErrorBody, AtlasError};
pub use retry::RetryPolicy;

/// Media type of the private-endpoint operations.
pub const MEDIA_TYPE_2023_01_01: &str = "application/vnd.atlas.2023-01-01+json";
/// Media type of the cluster description that has `connectionStrings.privateEndpoint`.
pub const MEDIA_TYPE_2024_08_05: &str = "application/vnd.atlas.2024-08-05+json";
