//! Cross-region PrivateLink on an AWS endpoint service: the `supportedRemoteRegions` list of a
//! create or PATCH request, checked as Atlas checks it, and the listed regions with the time
//! each becomes usable.
//!
//! Sources (research notes issue 12, §1): the list takes Atlas region names; AWS spellings are
//! refused with `INVALID_ATTRIBUTE`, the service's own region with
//! `CROSS_REGION_PRIVATE_LINK_SELF_REGION` (terraform-provider-mongodbatlas, privatelinkendpoint
//! `resource_test.go`, the `…InvalidLowercaseRegion` and `…InvalidSameRegion` tests); the list
//! is AWS-only, `PROVIDER_UNSUPPORTED` otherwise
//! (`TestAccPrivateLinkEndpoint_awsSupportedRemoteRegionsInvalidProvider`); at most 35 items (`maxItems: 35` in the Atlas spec, `CloudProviderEndpointServiceRequest`
//! and `ApiAtlasModifyEndpointServiceRequestView`).

use std::time::SystemTime;

use serde_json::Value;

use crate::ids::{atlas_region, aws_region};
use crate::reply::ApiFailure;

/// Most remote regions one service may list (`maxItems: 35` in the Atlas spec).
pub(crate) const MAX_REMOTE_REGIONS: usize = 35;

/// The error code of a `supportedRemoteRegions` entry Atlas does not take (research notes §1
/// "Region names": AWS spellings such as `us-east-1` get `INVALID_ATTRIBUTE`).
pub(crate) const INVALID_ATTRIBUTE: &str = "INVALID_ATTRIBUTE";
/// The error code of a list naming the service's own region (research notes §1, Terraform's
/// `…InvalidSameRegion` acceptance test): the home region is served implicitly.
pub(crate) const SELF_REGION: &str = "CROSS_REGION_PRIVATE_LINK_SELF_REGION";
/// The error code of remote regions for a provider other than AWS (research notes §1, Terraform's
/// `…InvalidProvider` acceptance test, an Azure service).
pub(crate) const PROVIDER_UNSUPPORTED: &str = "PROVIDER_UNSUPPORTED";

/// One remote region a service lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteRegion {
    /// Atlas spelling, as listed and returned (`US_WEST_2`).
    pub name: String,
    /// AWS spelling (`us-west-2`).
    pub aws: String,
    /// From then on the service accepts VPC endpoints from this region; before, it is pending.
    pub serving_at: SystemTime,
}

/// Whether a request's `supportedRemoteRegions` names any region (absent, `null` and `[]` do
/// not).
pub(crate) fn lists_regions(body: Option<&Value>) -> bool {
    body.and_then(|b| b.get("supportedRemoteRegions"))
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty())
}

/// The `supportedRemoteRegions` of a request body for a service whose home region is
/// `home_aws` (AWS spelling): `(Atlas name, AWS name)` pairs in request order, repeats dropped.
/// Absent and `null` give an empty list, as `[]` does: both clear the list on a PATCH (research
/// notes §1 "PATCH replaces the whole list": Terraform's test goes to an empty and to a nil set;
/// the Kubernetes operator sends `[]` to clear).
///
/// Repeats are dropped silently: both known clients send a set, so Atlas's answer to a repeat
/// is unknown.
pub(crate) fn parse_remote_regions(
    body: Option<&Value>,
    home_aws: &str,
) -> Result<Vec<(String, String)>, ApiFailure> {
    let list = match body.and_then(|b| b.get("supportedRemoteRegions")) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ApiFailure::bad_request(
                "VALIDATION_ERROR",
                "supportedRemoteRegions must be an array of region names or null.",
            ));
        }
    };
    if list.len() > MAX_REMOTE_REGIONS {
        // The spec says `maxItems: 35`; the code Atlas answers with is not known (research notes
        // §1 "Limits": only the cap was found), so the attribute error stands in for it.
        return Err(ApiFailure::bad_request(
            INVALID_ATTRIBUTE,
            format!(
                "supportedRemoteRegions lists {} regions; at most {MAX_REMOTE_REGIONS} are allowed.",
                list.len()
            ),
        ));
    }
    let mut regions: Vec<(String, String)> = Vec::new();
    for item in list {
        let Some(name) = item.as_str() else {
            return Err(ApiFailure::bad_request(
                "VALIDATION_ERROR",
                "supportedRemoteRegions must list region names (strings).",
            ));
        };
        // Atlas names only: `US_WEST_2`, not `us-west-2` (research notes §1 "Region names").
        let aws = aws_region(name).filter(|aws| atlas_region(aws) == name);
        let Some(aws) = aws else {
            return Err(ApiFailure::bad_request(
                INVALID_ATTRIBUTE,
                format!(
                    "Invalid attribute supportedRemoteRegions: {name} is not an Atlas AWS region name (such as US_WEST_2)."
                ),
            ));
        };
        if aws == home_aws {
            return Err(ApiFailure::bad_request(
                SELF_REGION,
                format!(
                    "{name} is the endpoint service's own region; it is supported without being listed."
                ),
            ));
        }
        if !regions.iter().any(|(n, _)| n == name) {
            regions.push((name.to_owned(), aws));
        }
    }
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(list: Value) -> Result<Vec<String>, &'static str> {
        parse_remote_regions(Some(&json!({"supportedRemoteRegions": list})), "us-east-1")
            .map(|r| r.into_iter().map(|(name, _)| name).collect())
            .map_err(|f| f.code)
    }

    #[test]
    fn atlas_names_are_taken_and_the_rest_refused_with_atlas_codes() {
        assert_eq!(
            parse(json!(["US_WEST_2", "EU_WEST_1", "US_WEST_2"])),
            Ok(vec!["US_WEST_2".to_owned(), "EU_WEST_1".to_owned()])
        );
        assert_eq!(parse(json!(null)), Ok(vec![]));
        assert_eq!(parse(json!([])), Ok(vec![]));
        assert_eq!(
            parse_remote_regions(None, "us-east-1").map(|r| r.len()),
            Ok(0)
        );
        assert_eq!(parse(json!(["us-west-2"])), Err(INVALID_ATTRIBUTE));
        assert_eq!(parse(json!(["EASTUS2"])), Err(INVALID_ATTRIBUTE));
        assert_eq!(parse(json!(["US_EAST_1"])), Err(SELF_REGION));
        assert_eq!(parse(json!("US_WEST_2")), Err("VALIDATION_ERROR"));
        assert_eq!(parse(json!([1])), Err("VALIDATION_ERROR"));
        let many: Vec<String> = (0..36).map(|n| format!("US_WEST_{}", n % 3 + 1)).collect();
        assert_eq!(parse(json!(many)), Err(INVALID_ATTRIBUTE));
        let at_cap: Vec<&str> = vec!["US_WEST_2"; MAX_REMOTE_REGIONS];
        assert_eq!(parse(json!(at_cap)), Ok(vec!["US_WEST_2".to_owned()]));
    }

    #[test]
    fn only_a_non_empty_list_names_regions() {
        assert!(lists_regions(Some(
            &json!({"supportedRemoteRegions": ["US_WEST_2"]})
        )));
        assert!(!lists_regions(Some(&json!({"supportedRemoteRegions": []}))));
        assert!(!lists_regions(Some(
            &json!({"supportedRemoteRegions": null})
        )));
        assert!(!lists_regions(Some(&json!({}))));
    }
}
