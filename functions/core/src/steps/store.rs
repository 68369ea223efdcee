//! Step 8: wait for the private connection strings and store them in Secrets Manager.

use atlas_api::models::{Cluster, ClusterState};
use serde_json::{Map, Value, json};

use super::atlas_error;
use super::poll::{not_yet, poll};
use crate::aws::secrets::{
    REQUEST_KEY, SecretWrite, TAG_CREATED_BY, TAG_OWNER, content_token, owned_by_another,
};
use crate::context::{Context, arn_account, arn_region};
use crate::error::{ErrorName, StepError};
use crate::ports::{Atlas, SdkSecrets, Secrets};
use crate::request::ProvisionRequest;
use crate::state::{ExecutionState, PhaseDurations, PhaseTimes, SecretOut};

/// Builds the secret's JSON from the cluster description: keys as the Atlas Kubernetes
/// Operator names them (`connectionStringPrivate`, `connectionStringPrivateSrv`,
/// `connectionStringPrivateShard`, suffixed `1`, `2`, … for further sets), plus `projectId`,
/// `clusterName`, `vpcEndpointIds` (comma-separated), the request itself ([`REQUEST_KEY`],
/// for the drift sweep) and, when given, `username`/`password`.
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
    doc.insert(REQUEST_KEY.into(), json!(stored_request(request)));
    if let Some((username, password)) = database_user {
        doc.insert("username".into(), json!(username));
        doc.insert("password".into(), json!(password));
    }
    Ok((doc, sets.len()))
}

/// The VPC endpoints the secret listed before this write and no longer lists: endpoints of
/// this request that a repair replaced (EC2 lost them, or someone deleted them), since a live
/// one is always found again and kept. Their links stay in Atlas otherwise, where they keep the
/// endpoint service in use after a teardown.
fn replaced_endpoints(previous: Option<&str>, vpce_ids: &[String]) -> Vec<String> {
    let Some(previous) = previous.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    let listed = previous
        .get("vpcEndpointIds")
        .and_then(Value::as_str)
        .unwrap_or("");
    listed
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty() && !vpce_ids.iter().any(|ours| ours == id))
        .map(str::to_owned)
        .collect()
}

/// Removes the Atlas links of [`replaced_endpoints`], looked up on the request's services (a
/// link is removed only where it is found: deleting an absent one answers like a removal).
/// Answers `(service id, vpce id)` of each link removed.
async fn unlink_replaced(
    atlas: &impl Atlas,
    state: &ExecutionState,
    previous: Option<&str>,
    vpce_ids: &[String],
) -> Result<Vec<(String, String)>, StepError> {
    let replaced = replaced_endpoints(previous, vpce_ids);
    let project = &state.request.atlas.project_id;
    let mut services: Vec<&str> = state
        .endpoints
        .iter()
        .filter_map(|e| e.service.as_ref().map(|s| s.service_id.as_str()))
        .collect();
    services.sort_unstable();
    services.dedup();
    let mut unlinked = Vec::new();
    for vpce in &replaced {
        for service in &services {
            match atlas.get_interface_endpoint(project, service, vpce).await {
                Ok(_) => {
                    atlas
                        .delete_interface_endpoint(project, service, vpce)
                        .await
                        .map_err(atlas_error)?;
                    tracing::info!(execution = %state.execution, vpc_endpoint_id = %vpce, service_id = %service, "removed the link of a replaced VPC endpoint");
                    unlinked.push(((*service).to_owned(), vpce.clone()));
                    break;
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(atlas_error(e)),
            }
        }
    }
    Ok(unlinked)
}

/// Polls until Atlas has dropped every link of `unlinked` (`DELETING` until then).
async fn wait_until_unlinked(
    ctx: &Context,
    atlas: &impl Atlas,
    state: &ExecutionState,
    unlinked: &[(String, String)],
) -> Result<(), StepError> {
    let project = &state.request.atlas.project_id;
    poll(ctx, "removal of replaced links", || async {
        for (service, vpce) in unlinked {
            match atlas.get_interface_endpoint(project, service, vpce).await {
                Err(e) if e.is_not_found() => {}
                Ok(_) => {
                    return not_yet(StepError::new(
                        ErrorName::ConnectionStringsNotReady,
                        format!("the link of the replaced {vpce} is still being removed"),
                    ))
                    .map(Err);
                }
                Err(e) => return not_yet(atlas_error(e)).map(Err),
            }
        }
        Ok(Ok(()))
    })
    .await
}

/// The request as the secret keeps it: JSON text, in provision mode, without `force`, so a
/// plan, a verify or a forced teardown never changes the stored content.
fn stored_request(request: &ProvisionRequest) -> String {
    let mut request = request.clone();
    request.mode = crate::request::Mode::Provision;
    request.force = false;
    serde_json::to_string(&request).unwrap_or_default()
}

/// How long each phase took, from the times the state machine passed, the start of this
/// invocation (`store`) and `now` (the secret written); `None` when a time is missing or
/// unreadable.
fn phase_durations(
    times: Option<&PhaseTimes>,
    store: std::time::SystemTime,
    now: std::time::SystemTime,
) -> Option<PhaseDurations> {
    let parse = |at: &Option<String>| {
        let at = at.as_deref()?;
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(std::time::SystemTime::from)
    };
    let times = times?;
    let (started, validated) = (parse(&times.started_at)?, parse(&times.validated_at)?);
    let seconds = |from: std::time::SystemTime, to: std::time::SystemTime| {
        // Millisecond precision: Step Functions' times have no more.
        (to.duration_since(from).unwrap_or_default().as_millis() as f64) / 1000.0
    };
    Some(PhaseDurations {
        validate_seconds: seconds(started, validated),
        endpoints_seconds: seconds(validated, store),
        connection_strings_seconds: seconds(store, now),
        total_seconds: seconds(started, now),
    })
}

/// The region and account-role the secret goes to: the first endpoint's region, in the target
/// account (through the request's role when there is one). Validate, inspect, rollback and
/// teardown find it there too.
pub(crate) fn secret_location(request: &ProvisionRequest) -> (Option<&str>, &str) {
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
    let Some((arn, role, region)) = database_user_home(request) else {
        return Ok(None);
    };
    let secrets = SdkSecrets::new(ctx.aws.for_region(role, region).await?.secrets);
    read_database_user(&secrets, arn).await.map(Some)
}

/// Where the request's database-user secret is read: its ARN, and the role and region of the
/// clients that read it (in the target account when it lives there, else with our own
/// credentials); `None` when the request names none.
pub(crate) fn database_user_home(request: &ProvisionRequest) -> Option<(&str, Option<&str>, &str)> {
    let arn = request.secret.database_user_secret_arn.as_deref()?;
    let role = request
        .aws
        .role_arn
        .as_deref()
        .filter(|role| arn_account(role) == arn_account(arn));
    let region = arn_region(arn).unwrap_or("us-east-1");
    Some((arn, role, region))
}

/// The username and password of the database-user secret `arn`, read through `secrets`.
pub(crate) async fn read_database_user(
    secrets: &impl Secrets,
    arn: &str,
) -> Result<(String, String), StepError> {
    const FIELD: &str = "secret.databaseUserSecretArn";
    let json = secrets.read_secret_string(arn, FIELD).await?;
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
    Ok((get("username")?, get("password")?))
}

/// Waits (polling within the invocation's budget, then through `ConnectionStringsNotReady`)
/// for the cluster to be `IDLE` with strings for
/// every VPC endpoint of this execution, then writes the secret idempotently: the client
/// request token is a hash of the content, so unchanged content makes no new version.
pub async fn store_connection_strings(
    ctx: &Context,
    state: &ExecutionState,
) -> Result<SecretOut, StepError> {
    let invoked = ctx.clock.now();
    let request = &state.request;
    let vpce_ids = endpoint_ids(state)?;
    let atlas = ctx.polling_atlas(request).await?;
    // Read first: a bad database-user secret fails before any polling.
    let db_user = database_user(ctx, request).await?;
    let polled = connection_strings(ctx, &atlas, request, &vpce_ids, db_user.clone()).await;
    atlas.stop_sharing().await;
    let (content, sets) = polled?;
    // The secret's clients (and the target role) only once there is something to write.
    let (role, region) = secret_location(request);
    let secrets = SdkSecrets::new(ctx.aws.for_region(role, region).await?.secrets);
    let mut written = write_secret(&secrets, state, &content).await?;
    let unlinked = unlink_replaced(&atlas, state, written.previous.as_deref(), &vpce_ids).await?;
    let mut sets = sets;
    if !unlinked.is_empty() {
        // The strings Atlas published while the replaced links were there may still name
        // them: once they are gone, store what Atlas publishes then.
        let vpces: Vec<String> = unlinked.iter().map(|(_, vpce)| vpce.clone()).collect();
        wait_until_unlinked(ctx, &atlas, state, &unlinked).await?;
        let (content, again) = connection_strings(ctx, &atlas, request, &vpce_ids, db_user).await?;
        written = write_secret(&secrets, state, &content).await?;
        sets = again;
        tracing::info!(execution = %state.execution, unlinked = ?vpces, "stored the strings again once the replaced links were gone");
    }
    let unlinked: Vec<String> = unlinked.into_iter().map(|(_, vpce)| vpce).collect();
    tracing::info!(
        execution = %state.execution,
        secret_arn = %written.arn,
        version_id = %written.version_id,
        connection_string_sets = sets,
        ?unlinked,
        "stored the private connection strings"
    );
    Ok(SecretOut {
        secret_arn: written.arn,
        secret_name: request.secret.name.to_string(),
        version_id: written.version_id,
        vpc_endpoint_ids: vpce_ids,
        connection_string_sets: sets,
        created: written.created,
        durations: phase_durations(state.times.as_ref(), invoked, ctx.clock.now()),
        unlinked,
    })
}

/// The VPC endpoints of the execution, sorted, one per endpoint of the request (else the state
/// machine skipped a step).
fn endpoint_ids(state: &ExecutionState) -> Result<Vec<String>, StepError> {
    let mut vpce_ids: Vec<String> = state
        .endpoints
        .iter()
        .filter_map(|w| w.vpc_endpoint.as_ref().map(|v| v.vpc_endpoint_id.clone()))
        .collect();
    vpce_ids.sort();
    vpce_ids.dedup();
    if vpce_ids.len() != state.request.endpoints.len() {
        return Err(StepError::invalid(
            "(step input)",
            format!(
                "expected a VPC endpoint for each of the {} endpoints, got {}",
                state.request.endpoints.len(),
                vpce_ids.len()
            ),
        ));
    }
    Ok(vpce_ids)
}

/// Polls the cluster over any [`Atlas`] until its strings cover `vpce_ids`; answers the
/// secret's JSON text and the number of string sets. `ctx` gives the clock and settings.
async fn connection_strings(
    ctx: &Context,
    atlas: &impl Atlas,
    request: &ProvisionRequest,
    vpce_ids: &[String],
    db_user: Option<(String, String)>,
) -> Result<(String, usize), StepError> {
    let (doc, sets) = poll(ctx, "private connection strings", || async {
        let cluster = match atlas
            .get_cluster_shared(&request.atlas.project_id, &request.atlas.cluster_name)
            .await
        {
            Ok(cluster) => cluster,
            Err(e) => return not_yet(atlas_error(e)).map(Err),
        };
        match secret_content(request, &cluster, vpce_ids, db_user.clone()) {
            Ok(content) => Ok(Ok(content)),
            Err(e) => not_yet(e).map(Err),
        }
    })
    .await?;
    Ok((Value::Object(doc).to_string(), sets))
}

/// Writes `content` into the request's secret: [`write_secret_to`] with the request's name,
/// key, tags (the request's, ours, the execution and the request's owner key).
async fn write_secret(
    secrets: &impl Secrets,
    state: &ExecutionState,
    content: &str,
) -> Result<SecretWrite, StepError> {
    let request = &state.request;
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
    let target = SecretTarget {
        name: request.secret.name.as_str(),
        kms_key_id: request.secret.kms_key_id.as_deref(),
        tags: &tags,
        execution: &state.execution,
        owner: &request.owner_key(),
    };
    write_secret_to(secrets, &target, content).await
}

/// Where [`write_secret_to`] writes, and on whose behalf.
#[derive(Debug, Clone, Copy)]
pub struct SecretTarget<'a> {
    /// The secret's name.
    pub name: &'a str,
    /// The KMS key of a new secret (`None`: the AWS managed key).
    pub kms_key_id: Option<&'a str>,
    /// Tags of a new secret, besides `created-by` and `owner` (added here).
    pub tags: &'a [(String, String)],
    /// The execution: a new secret's `created-by` tag.
    pub execution: &'a str,
    /// The owner key of the request: a secret with another owner is never written.
    pub owner: &'a str,
}

/// Writes `content` over any [`Secrets`]: creates the secret (tagged `created-by` the
/// execution and `owner`), or puts a new version when the content differs from the current
/// one (read first: unchanged content writes nothing). A secret owned by another request (its
/// owner tag differs) is left alone: `InvalidRequest` naming `secret.name`. One without owner
/// tag (written before owners were recorded) is taken; one scheduled for deletion is
/// restored.
///
/// The client request token is a hash of the content and the version it replaces, so a
/// retried call makes no second version (see [`content_token`]).
pub async fn write_secret_to(
    secrets: &impl Secrets,
    target: &SecretTarget<'_>,
    content: &str,
) -> Result<SecretWrite, StepError> {
    let SecretTarget {
        name,
        kms_key_id,
        tags,
        execution,
        owner,
    } = *target;
    // Twice at most: a create that meets a racing run's secret writes over it.
    for _ in 0..2 {
        if let Some(existing) = secrets.describe_secret(name).await? {
            let arn = existing.arn;
            match existing.owner.as_deref() {
                Some(theirs) if theirs != owner => return Err(owned_by_another(name, theirs)),
                Some(_) => {}
                None => secrets.tag_owner(&arn, owner).await?,
            }
            if existing.deleted {
                // Scheduled for deletion (a teardown or rollback before): bring it back.
                secrets.restore_secret(&arn).await?;
            }
            let created = existing.created_by.as_deref() == Some(execution);
            let current = secrets.current_value(&arn).await?;
            if let Some((value, version)) = &current
                && value == content
            {
                return Ok(SecretWrite {
                    arn,
                    version_id: version.clone(),
                    created,
                    previous: Some(value.clone()),
                });
            }
            let token = content_token(content, current.as_ref().map(|(_, v)| v.as_str()));
            let version_id = secrets.put_secret_value(&arn, content, &token).await?;
            return Ok(SecretWrite {
                arn,
                version_id,
                created,
                previous: current.map(|(value, _)| value),
            });
        }
        let mut tagged = tags.to_vec();
        tagged.push((TAG_CREATED_BY.to_owned(), execution.to_owned()));
        tagged.push((TAG_OWNER.to_owned(), owner.to_owned()));
        let token = content_token(content, None);
        if let Some((arn, version_id)) = secrets
            .create_secret(name, content, &token, kms_key_id, &tagged)
            .await?
        {
            return Ok(SecretWrite {
                arn,
                version_id,
                created: true,
                previous: None,
            });
        }
        // A racing run created it between our describe and create: write over it.
    }
    Err(StepError::new(
        ErrorName::AwsUnavailable,
        format!("secret {name} exists for CreateSecret but not for DescribeSecret"),
    ))
}

#[cfg(test)]
mod tests;
