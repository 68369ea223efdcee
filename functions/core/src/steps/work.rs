//! What the endpoint steps share: the endpoint's clients, its tags, the outputs of earlier
//! steps it needs, and Atlas errors as step errors.

use atlas_api::AtlasError;

use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::state::{EndpointPlan, EndpointWork};

/// An Atlas client error as a step error with the same name.
pub(crate) fn atlas_error(e: AtlasError) -> StepError {
    StepError::new(ErrorName::from(&e), e.to_string())
}

/// Tags for what the workflow creates in AWS: the request's tags plus ours.
pub(crate) fn resource_tags(work: &EndpointWork, name: &str) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = work
        .request
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !tags.iter().any(|(k, _)| k == "Name") {
        tags.push(("Name".into(), name.into()));
    }
    tags.extend(own_tags(work));
    tags
}

fn own_tags(work: &EndpointWork) -> Vec<(String, String)> {
    vec![
        (
            crate::aws::ec2::TAG_REQUEST_KEY.into(),
            work.endpoint.request_key.clone(),
        ),
        (
            crate::aws::ec2::TAG_CREATED_BY.into(),
            work.execution.clone(),
        ),
        (
            "atlas-privatelink:project".into(),
            work.request.atlas.project_id.to_string(),
        ),
        (
            "atlas-privatelink:cluster".into(),
            work.request.atlas.cluster_name.to_string(),
        ),
    ]
}

/// The per-endpoint plan of a work item (shorthand).
pub(crate) fn plan(work: &EndpointWork) -> &EndpointPlan {
    &work.endpoint
}

/// Clients in the endpoint's account and region.
pub(crate) async fn region_clients(
    ctx: &Context,
    work: &EndpointWork,
) -> Result<crate::aws::clients::RegionClients, StepError> {
    ctx.aws
        .for_region(
            work.request.aws.role_arn.as_deref(),
            work.endpoint.region.as_str(),
        )
        .await
}

/// A required output of an earlier step, or an error naming it.
pub(crate) fn needs<'a, T>(value: &'a Option<T>, what: &str) -> Result<&'a T, StepError> {
    value.as_ref().ok_or_else(|| {
        StepError::invalid(
            "(step input)",
            format!("this step needs `{what}` from an earlier step; check the state machine"),
        )
    })
}
