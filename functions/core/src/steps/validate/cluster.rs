//! Validate's Atlas checks: the cluster exists, the request covers exactly its AWS regions
//! (by service region), and the project's regional mode is on when the cluster needs it.

use atlas_api::AtlasError;

use crate::error::{ErrorName, StepError};
use crate::ports::Atlas;
use crate::request::{AwsRegion, ProvisionRequest};
use crate::steps::atlas_error;

/// The cluster must exist, and the request must cover exactly the AWS regions it has nodes in
/// (Atlas publishes private connection strings only when every region has an endpoint).
pub(super) async fn check_cluster(
    atlas: &impl Atlas,
    request: &ProvisionRequest,
) -> Result<(), StepError> {
    let cluster = match atlas
        .get_cluster(&request.atlas.project_id, &request.atlas.cluster_name)
        .await
    {
        Ok(cluster) => cluster,
        Err(e) if e.is_not_found() => {
            return Err(StepError::invalid(
                "atlas.clusterName",
                format!(
                    "no cluster {} in project {}",
                    request.atlas.cluster_name, request.atlas.project_id
                ),
            ));
        }
        Err(e) => return Err(atlas_error(e)),
    };
    let cluster_regions = cluster.aws_regions();
    if cluster_regions.is_empty() {
        return Err(StepError::new(
            ErrorName::UnsupportedProvider,
            format!(
                "atlas.clusterName: cluster {} has no nodes on AWS; only AWS PrivateLink is supported",
                cluster.name
            ),
        ));
    }
    let listing = || {
        cluster_regions
            .iter()
            .map(|r| AwsRegion::from_atlas_name(r).map_or(r.clone(), |a| a.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Each endpoint links to the endpoint service of a region the cluster has nodes in: the
    // VPC's own, or the one `serviceRegion` names (cross-region PrivateLink).
    for (i, endpoint) in request.endpoints.iter().enumerate() {
        let service_region = endpoint.service_region.unwrap_or(endpoint.region);
        if cluster_regions
            .iter()
            .any(|r| r == service_region.atlas_name())
        {
            continue;
        }
        let (field, message) = match endpoint.service_region {
            Some(named) => (
                "serviceRegion",
                format!(
                    "cluster {} has no nodes in {named}; its AWS regions are {}",
                    cluster.name,
                    listing()
                ),
            ),
            None => (
                "region",
                format!(
                    "cluster {} has no nodes in {} (the VPC's region); its AWS regions are {}: \
                     set serviceRegion to one of them to connect across regions",
                    cluster.name,
                    endpoint.region,
                    listing()
                ),
            ),
        };
        return Err(StepError::invalid(
            format!("endpoints[{i}].{field}"),
            message,
        ));
    }
    // Atlas publishes private connection strings only when every region has an endpoint (a
    // cross-region one counts for the region of the service it links to).
    let missing: Vec<&String> = cluster_regions
        .iter()
        .filter(|r| {
            !request
                .endpoints
                .iter()
                .any(|e| e.service_region.unwrap_or(e.region).atlas_name() == r.as_str())
        })
        .collect();
    if !missing.is_empty() {
        return Err(StepError::invalid(
            "endpoints",
            format!(
                "cluster {} also has nodes in {}: add an endpoint for each region, since Atlas \
                 publishes private connection strings only when every region is covered",
                cluster.name,
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if needs_regional_mode(cluster.cluster_type.as_deref(), cluster_regions.len()) {
        ensure_regional_mode(atlas, request, &cluster.name).await?;
    }
    Ok(())
}

/// Whether the cluster's private endpoints need the project's regionalized private endpoint
/// mode: a sharded or global cluster with nodes in more than one region (Atlas Admin API,
/// "Toggle Regionalized Private Endpoint Status": the mode is what lets each region's
/// endpoint reach that region's mongos; replica sets are connected without it).
pub(crate) fn needs_regional_mode(cluster_type: Option<&str>, regions: usize) -> bool {
    regions > 1 && matches!(cluster_type, Some("SHARDED" | "GEOSHARDED"))
}

/// The project's regionalized private endpoint mode is on, or this request turns it on with
/// the user's consent (`atlas.enableRegionalMode`); never switched silently, because turning
/// it on changes the connection strings of the project's existing multi-region sharded
/// clusters and forbids replica sets (Admin API, the toggle's description). The clusters
/// update afterwards; store-connection-strings waits for them to be `IDLE` and reads the new
/// strings. Rollback does not turn it off again: other clusters may rely on it by then.
async fn ensure_regional_mode(
    atlas: &impl Atlas,
    request: &ProvisionRequest,
    cluster: &str,
) -> Result<(), StepError> {
    let project = request.atlas.project_id.as_str();
    if atlas
        .get_regional_mode(project)
        .await
        .map_err(atlas_error)?
    {
        return Ok(());
    }
    if !request.atlas.enable_regional_mode {
        return Err(StepError::new(
            ErrorName::RegionalModeRequired,
            format!(
                "cluster {cluster} is a multi-region sharded cluster, whose private endpoints \
                 need project {project}'s regionalized private endpoint mode, which is off. \
                 Turning it on changes the connection strings of every multi-region sharded \
                 cluster in the project (applications must move to the new ones) and forbids \
                 replica sets in the project. Set atlas.enableRegionalMode: true in the request \
                 to let this run turn it on, or turn it on in Atlas yourself"
            ),
        ));
    }
    // A plan writes nothing: inspect reports the mode as off (its regionalMode check), and a
    // provisioning with this consent turns it on.
    if request.mode == crate::request::Mode::Plan {
        tracing::info!(
            project,
            cluster,
            "plan: the regional mode is off and would be turned on"
        );
        return Ok(());
    }
    match atlas.set_regional_mode(project, true).await {
        Ok(true) => {
            tracing::info!(
                project,
                cluster,
                "turned on the regionalized private endpoint mode, as the request allows"
            );
            Ok(())
        }
        Ok(false) => Err(StepError::new(
            ErrorName::AtlasUnavailable,
            format!(
                "Atlas still reports project {project}'s regional mode off after turning it on"
            ),
        )),
        Err(e @ AtlasError::Conflict { .. }) => Err(StepError::invalid(
            "atlas.enableRegionalMode",
            format!("Atlas refused to turn on the regionalized private endpoint mode: {e}"),
        )),
        Err(e) => Err(atlas_error(e)),
    }
}
