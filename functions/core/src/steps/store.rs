//! Step 8: wait for the private connection strings and store them in Secrets Manager.

use atlas_api::models::{Cluster, ClusterState};
use serde_json::{Map, Value, json};

use atlas_api::RetryPolicy;

use super::atlas_error;
use super::poll::{not_yet, poll};
use crate::aws::secrets;
use crate::context::{Context, arn_account, arn_region};
use crate::error::{ErrorName, StepError};
use crate::request::ProvisionRequest;
use crate::state::{ExecutionState, SecretOut};

/// Builds the secret's JSON from the cluster description: keys as the Atlas Kubernetes
/// Operator names them (`connectionStringPrivate`, `connectionStringPrivateSrv`,
/// `connectionStringPrivateShard`, suffixed `1`, `2`, … for further sets), plus `projectId`,
/// `clusterName`, `vpcEndpointIds` (comma-separated) and, when given, `username`/`password`.
///
/// `ConnectionStringsNotReady` until the cluster is `IDLE` and every one of `vpce_ids`
/// appears in a private-endpoint set.
pub fn secret_content(
    request: &ProvisionRequest,
    cluster: &Cluster,
    vpce_ids: &[String],
    database_user: Option<(String, String)>,
) -> Result<(Map<String, Value>, usize), StepError> {
    if cluster.state_name != ClusterState::Idle {
        return Err(StepError::new(
            ErrorName::ConnectionStringsNotReady,
            format!("cluster {} is {}", cluster.name, cluster.state_name),
        ));
    }
    let ours = |id: &Option<String>| id.as_ref().is_some_and(|id| vpce_ids.contains(id));
    let mut sets: Vec<_> = cluster
        .private_endpoint_strings()
        .iter()
        .filter(|set| set.endpoints.iter().any(|e| ours(&e.endpoint_id)))
        .collect();
    let missing: Vec<&String> = vpce_ids
        .iter()
        .filter(|id| {
            !sets.iter().any(|set| {
                set.endpoints
                    .iter()
                    .any(|e| e.endpoint_id.as_ref() == Some(*id))
            })
        })
        .collect();
    if !missing.is_empty() {
        return Err(StepError::new(
            ErrorName::ConnectionStringsNotReady,
            format!(
                "cluster {} publishes no private connection string for {} yet",
                cluster.name,
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // Stable order: by the endpoints of each set.
    sets.sort_by_key(|set| {
        set.endpoints
            .iter()
            .filter_map(|e| e.endpoint_id.clone())
            .collect::<Vec<_>>()
    });
    let mut doc = Map::new();
    for (i, set) in sets.iter().enumerate() {
        let suffix = if i == 0 { String::new() } else { i.to_string() };
        let mut put = |key: &str, value: &Option<String>| {
            if let Some(v) = value {
                doc.insert(format!("{key}{suffix}"), json!(v));
            }
        };
        put("connectionStringPrivate", &set.connection_string);
        put("connectionStringPrivateSrv", &set.srv_connection_string);
        put(
            "connectionStringPrivateShard",
            &set.srv_shard_optimized_connection_string,
        );
    }
    doc.insert("projectId".into(), json!(request.atlas.project_id));
    doc.insert("clusterName".into(), json!(request.atlas.cluster_name));
    doc.insert("vpcEndpointIds".into(), json!(vpce_ids.join(",")));
    if let Some((username, password)) = database_user {
        doc.insert("username".into(), json!(username));
        doc.insert("password".into(), json!(password));
    }
    Ok((doc, sets.len()))
}

/// The region and account-role the secret goes to: the first endpoint's region, in the target
/// account (through the request's role when there is one).
fn secret_home(request: &ProvisionRequest) -> (Option<&str>, &str) {
    let region = request
        .endpoints
        .first()
        .map(|e| e.region.as_str())
        .unwrap_or("us-east-1");
    (request.aws.role_arn.as_deref(), region)
}

/// The database user of the request's `secret.databaseUserSecretArn` (username and
/// password), or `InvalidRequest` naming that field when the secret is missing or lacks them.
pub(crate) async fn database_user(
    ctx: &Context,
    request: &ProvisionRequest,
) -> Result<Option<(String, String)>, StepError> {
    let Some(arn) = request.secret.database_user_secret_arn.as_deref() else {
        return Ok(None);
    };
    const FIELD: &str = "secret.databaseUserSecretArn";
    // Read it in the target account when it lives there, else with our own credentials.
    let role = request
        .aws
        .role_arn
        .as_deref()
        .filter(|role| arn_account(role) == arn_account(arn));
    let region = arn_region(arn).unwrap_or("us-east-1");
    let clients = ctx.aws.for_region(role, region).await?;
    let json = secrets::read_secret_string(&clients.secrets, arn, FIELD).await?;
    let value: Value = serde_json::from_str(&json)
        .map_err(|_| StepError::invalid(FIELD, "the secret is not a JSON object"))?;
    let get = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| StepError::invalid(FIELD, format!("the secret has no string `{key}`")))
    };
    Ok(Some((get("username")?, get("password")?)))
}

/// Waits (polling within the invocation's budget, then through `ConnectionStringsNotReady`)
/// for the cluster to be `IDLE` with strings for
/// every VPC endpoint of this execution, then writes the secret idempotently: the client
/// request token is a hash of the content, so unchanged content makes no new version.
pub async fn store_connection_strings(
    ctx: &Context,
    state: &ExecutionState,
) -> Result<SecretOut, StepError> {
    let request = &state.request;
    let mut vpce_ids: Vec<String> = state
        .endpoints
        .iter()
        .filter_map(|w| w.vpc_endpoint.as_ref().map(|v| v.vpc_endpoint_id.clone()))
        .collect();
    vpce_ids.sort();
    vpce_ids.dedup();
    if vpce_ids.len() != request.endpoints.len() {
        return Err(StepError::invalid(
            "(step input)",
            format!(
                "expected a VPC endpoint for each of the {} endpoints, got {}",
                request.endpoints.len(),
                vpce_ids.len()
            ),
        ));
    }
    let atlas = ctx.atlas(request).await?.with_retry(RetryPolicy::polling());
    // Read first: a bad database-user secret fails before any polling.
    let db_user = database_user(ctx, request).await?;
    let (doc, sets) = poll(ctx, "private connection strings", || async {
        let cluster = match atlas
            .get_cluster(&request.atlas.project_id, &request.atlas.cluster_name)
            .await
        {
            Ok(cluster) => cluster,
            Err(e) => return not_yet(atlas_error(e)).map(Err),
        };
        match secret_content(request, &cluster, &vpce_ids, db_user.clone()) {
            Ok(content) => Ok(Ok(content)),
            Err(e) => not_yet(e).map(Err),
        }
    })
    .await?;
    let content = Value::Object(doc).to_string();
    let (role, region) = secret_home(request);
    let clients = ctx.aws.for_region(role, region).await?;
    let tags: Vec<(String, String)> = request
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain([
            (
                "atlas-privatelink:project".to_owned(),
                request.atlas.project_id.to_string(),
            ),
            (
                "atlas-privatelink:cluster".to_owned(),
                request.atlas.cluster_name.to_string(),
            ),
        ])
        .collect();
    let written = secrets::write_secret(
        &clients.secrets,
        &request.secret.name,
        &content,
        request.secret.kms_key_id.as_deref(),
        &tags,
        &state.execution,
        &request.owner_key(),
    )
    .await?;
    tracing::info!(
        execution = %state.execution,
        secret_arn = %written.arn,
        version_id = %written.version_id,
        connection_string_sets = sets,
        "stored the private connection strings"
    );
    Ok(SecretOut {
        secret_arn: written.arn,
        secret_name: request.secret.name.to_string(),
        version_id: written.version_id,
        vpc_endpoint_ids: vpce_ids,
        connection_string_sets: sets,
        created: written.created,
    })
}

/// Where teardown finds the secret (same rule as where it is written).
pub(crate) fn secret_location(request: &ProvisionRequest) -> (Option<&str>, &str) {
    secret_home(request)
}
