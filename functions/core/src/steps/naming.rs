//! Names and keys derived from a request: the same request always gives the same ones, which
//! is what makes a repeated event, a retried step or a re-run execution find its own work.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The idempotency key of one endpoint of a request: the same project, cluster, region and VPC
/// always give the same key, whatever the execution.
pub fn request_key(project_id: &str, cluster_name: &str, region: &str, vpc_id: &str) -> String {
    let digest =
        Sha256::digest(format!("{project_id}|{cluster_name}|{region}|{vpc_id}").as_bytes());
    hex::encode(&digest[..10])
}

/// The client token of the VPC endpoint of one endpoint of one execution. Unique per
/// execution: AWS remembers a token (and its parameters) long after the endpoint is gone, so a
/// later execution for the same VPC (after a teardown or a rollback) must not reuse it, or it
/// gets `IdempotentParameterMismatch` or the old, deleted endpoint back (EC2 API reference,
/// "Ensuring idempotency"). A retry within the execution reuses it, which is the point.
pub fn vpc_endpoint_client_token(execution: &str, request_key: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{execution}|{request_key}|{attempt}").as_bytes());
    // At most 64 ASCII characters.
    format!("atlas-privatelink-{}", hex::encode(&digest[..20]))
}

/// A deterministic Step Functions execution name for `action` (`provision`, `teardown`) on a
/// request: the same request always gets the same name, so a duplicated event starts one
/// execution. At most 80 characters of `[A-Za-z0-9-_]`, readable at a glance.
pub fn execution_name(action: &str, request: &Value) -> String {
    let text = |pointer: &str| {
        request
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<String>()
    };
    // serde_json writes object keys sorted, so equal requests hash equally.
    let digest = Sha256::digest(request.to_string().as_bytes());
    let project: String = text("/atlas/projectId").chars().take(8).collect();
    let cluster: String = text("/atlas/clusterName").chars().take(32).collect();
    let mut name = format!("{action}-{project}-{cluster}-{}", hex::encode(&digest[..8]));
    name.truncate(80);
    name
}
