//! The Atlas operations: which request is which, and what each one does to the world.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::ids::{aws_region, is_object_id, is_vpce_id};
use crate::remote::{self, lists_regions, parse_remote_regions};
use crate::reply::{ApiFailure, Reply, V2023, V2024};
use crate::shared::{Shared, lock};
use crate::state::Rules;

/// Base path of the Atlas Admin API v2.
pub(crate) const API_BASE: &str = "/api/atlas/v2";

/// A recognised Atlas operation with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    CreateService {
        group: String,
    },
    /// `PATCH …/privateEndpoint/endpointService/{id}` (no `{cloudProvider}` segment, unlike GET
    /// and DELETE: Atlas spec `updateGroupPrivateEndpointEndpointService`).
    UpdateService {
        group: String,
        id: String,
    },
    GetRegionalMode {
        group: String,
    },
    SetRegionalMode {
        group: String,
    },
    ListServices {
        group: String,
        provider: String,
    },
    GetService {
        group: String,
        provider: String,
        id: String,
    },
    DeleteService {
        group: String,
        provider: String,
        id: String,
    },
    CreateInterface {
        group: String,
        provider: String,
        service: String,
    },
    GetInterface {
        group: String,
        provider: String,
        service: String,
        vpce: String,
    },
    DeleteInterface {
        group: String,
        provider: String,
        service: String,
        vpce: String,
    },
    GetCluster {
        group: String,
        name: String,
    },
    GetServerless {
        group: String,
        name: String,
    },
}

impl Op {
    /// Recognises `method path` (path without query).
    pub fn classify(method: &Method, path: &str) -> Option<Op> {
        let rest = path.strip_prefix(API_BASE)?.strip_prefix("/groups/")?;
        let s: Vec<String> = rest
            .trim_end_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        let seg: Vec<&str> = s.iter().map(String::as_str).collect();
        let m = method.clone();
        let op = match (m, seg.as_slice()) {
            (Method::POST, [g, "privateEndpoint", "endpointService"]) => Op::CreateService {
                group: g.to_string(),
            },
            (Method::PATCH, [g, "privateEndpoint", "endpointService", id]) => Op::UpdateService {
                group: g.to_string(),
                id: id.to_string(),
            },
            (Method::GET, [g, "privateEndpoint", "regionalMode"]) => Op::GetRegionalMode {
                group: g.to_string(),
            },
            (Method::PATCH, [g, "privateEndpoint", "regionalMode"]) => Op::SetRegionalMode {
                group: g.to_string(),
            },
            (Method::GET, [g, "privateEndpoint", p, "endpointService"]) => Op::ListServices {
                group: g.to_string(),
                provider: p.to_string(),
            },
            (Method::GET, [g, "privateEndpoint", p, "endpointService", id])
                if *p != "endpointService" =>
            {
                Op::GetService {
                    group: g.to_string(),
                    provider: p.to_string(),
                    id: id.to_string(),
                }
            }
            (Method::DELETE, [g, "privateEndpoint", p, "endpointService", id])
                if *p != "endpointService" =>
            {
                Op::DeleteService {
                    group: g.to_string(),
                    provider: p.to_string(),
                    id: id.to_string(),
                }
            }
            (Method::POST, [g, "privateEndpoint", p, "endpointService", id, "endpoint"]) => {
                Op::CreateInterface {
                    group: g.to_string(),
                    provider: p.to_string(),
                    service: id.to_string(),
                }
            }
            (
                Method::GET,
                [
                    g,
                    "privateEndpoint",
                    p,
                    "endpointService",
                    id,
                    "endpoint",
                    e,
                ],
            ) => Op::GetInterface {
                group: g.to_string(),
                provider: p.to_string(),
                service: id.to_string(),
                vpce: e.to_string(),
            },
            (
                Method::DELETE,
                [
                    g,
                    "privateEndpoint",
                    p,
                    "endpointService",
                    id,
                    "endpoint",
                    e,
                ],
            ) => Op::DeleteInterface {
                group: g.to_string(),
                provider: p.to_string(),
                service: id.to_string(),
                vpce: e.to_string(),
            },
            (Method::GET, [g, "clusters", name]) => Op::GetCluster {
                group: g.to_string(),
                name: name.to_string(),
            },
            (Method::GET, [g, "serverless", name]) => Op::GetServerless {
                group: g.to_string(),
                name: name.to_string(),
            },
            _ => return None,
        };
        Some(op)
    }

    /// The operation name used by counters and faults.
    pub fn name(&self) -> &'static str {
        match self {
            Op::CreateService { .. } => "createEndpointService",
            Op::UpdateService { .. } => "updateEndpointService",
            Op::GetRegionalMode { .. } => "getRegionalMode",
            Op::SetRegionalMode { .. } => "setRegionalMode",
            Op::ListServices { .. } => "listEndpointServices",
            Op::GetService { .. } => "getEndpointService",
            Op::DeleteService { .. } => "deleteEndpointService",
            Op::CreateInterface { .. } => "createInterfaceEndpoint",
            Op::GetInterface { .. } => "getInterfaceEndpoint",
            Op::DeleteInterface { .. } => "deleteInterfaceEndpoint",
            Op::GetCluster { .. } => "getCluster",
            Op::GetServerless { .. } => "getServerlessInstance",
        }
    }

    /// The project the call is about (the rate-limit key).
    pub fn group(&self) -> &str {
        match self {
            Op::CreateService { group }
            | Op::UpdateService { group, .. }
            | Op::GetRegionalMode { group }
            | Op::SetRegionalMode { group }
            | Op::ListServices { group, .. }
            | Op::GetService { group, .. }
            | Op::DeleteService { group, .. }
            | Op::CreateInterface { group, .. }
            | Op::GetInterface { group, .. }
            | Op::DeleteInterface { group, .. }
            | Op::GetCluster { group, .. }
            | Op::GetServerless { group, .. } => group,
        }
    }

    /// The versioned media type the operation is served in.
    pub fn media_type(&self) -> &'static str {
        match self {
            Op::GetCluster { .. } => V2024,
            _ => V2023,
        }
    }

    /// Whether the operation takes a JSON body.
    pub fn has_body(&self) -> bool {
        matches!(
            self,
            Op::CreateService { .. }
                | Op::CreateInterface { .. }
                | Op::UpdateService { .. }
                | Op::SetRegionalMode { .. }
        )
    }
}

fn invalid(detail: String) -> ApiFailure {
    ApiFailure::bad_request("VALIDATION_ERROR", detail)
}

/// Checks the path parameters; `Ok(false)` for a valid provider other than AWS.
fn check_params(op: &Op) -> Result<bool, ApiFailure> {
    if !is_object_id(op.group()) {
        return Err(invalid(format!(
            "groupId {} is not 24 hexadecimal digits.",
            op.group()
        )));
    }
    let (provider, service, vpce) = match op {
        Op::ListServices { provider, .. } => (Some(provider), None, None),
        Op::GetService { provider, id, .. } | Op::DeleteService { provider, id, .. } => {
            (Some(provider), Some(id), None)
        }
        Op::CreateInterface {
            provider, service, ..
        } => (Some(provider), Some(service), None),
        Op::GetInterface {
            provider,
            service,
            vpce,
            ..
        }
        | Op::DeleteInterface {
            provider,
            service,
            vpce,
            ..
        } => (Some(provider), Some(service), Some(vpce)),
        Op::GetCluster { name, .. } | Op::GetServerless { name, .. } => {
            let ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(invalid(format!("{name} is not a valid cluster name.")));
            }
            (None, None, None)
        }
        Op::UpdateService { id, .. } => (None, Some(id), None),
        Op::CreateService { .. } | Op::GetRegionalMode { .. } | Op::SetRegionalMode { .. } => {
            (None, None, None)
        }
    };
    if let Some(id) = service.filter(|id| !is_object_id(id)) {
        return Err(invalid(format!(
            "endpointServiceId {id} is not 24 hexadecimal digits."
        )));
    }
    if let Some(vpce) = vpce.filter(|v| !is_vpce_id(v)) {
        return Err(invalid(format!(
            "endpointId {vpce} is not an AWS interface endpoint id."
        )));
    }
    match provider.map(String::as_str) {
        None | Some("AWS") => Ok(true),
        Some("AZURE" | "GCP") => Ok(false),
        Some(other) => Err(ApiFailure::bad_request(
            "INVALID_PROVIDER",
            format!("{other} is not a cloud provider (AWS, AZURE or GCP)."),
        )),
    }
}

fn body_str<'a>(body: Option<&'a Value>, field: &str) -> Result<&'a str, ApiFailure> {
    body.and_then(|b| b.get(field))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("The request body needs a string field {field}.")))
}

/// Runs an operation whose request has passed authentication, media type and fault checks.
pub(crate) fn dispatch(
    shared: &Shared,
    op: &Op,
    body: Option<&Value>,
) -> Result<Reply, ApiFailure> {
    let is_aws = check_params(op)?;
    let now = shared.now();
    let settings = lock(&shared.settings);
    let rules = Rules {
        delays: &settings.delays,
        outcomes: &settings.outcomes,
        ready: settings.service_ready_status,
        gate: settings.link_gate.as_deref(),
        regional_default: settings.regional_mode_default,
    };
    let mut world = shared.world();
    let ok = |value: Value| Reply::json(StatusCode::OK, V2023, value);
    let not_aws = || {
        ApiFailure::not_found(
            "PRIVATE_ENDPOINT_SERVICE_NOT_FOUND",
            "The simulator has no AZURE or GCP private endpoint services.",
        )
    };
    match op {
        Op::CreateService { group } => {
            let provider = body_str(body, "providerName")?;
            if provider != "AWS" && lists_regions(body) {
                // Native cross-region support is AWS-only; Atlas refuses remote regions for
                // an Azure service with PROVIDER_UNSUPPORTED (research notes issue 12, §1;
                // Terraform's `…awsSupportedRemoteRegionsInvalidProvider` test).
                return Err(ApiFailure::bad_request(
                    remote::PROVIDER_UNSUPPORTED,
                    format!("supportedRemoteRegions is supported for AWS only, not {provider}."),
                ));
            }
            if provider != "AWS" {
                return Err(ApiFailure::bad_request(
                    "INVALID_PROVIDER",
                    format!("Provider {provider} is not supported; only AWS is simulated."),
                ));
            }
            let region = body_str(body, "region")?;
            let aws = aws_region(region).ok_or_else(|| {
                ApiFailure::bad_request("INVALID_REGION", format!("{region} is not an AWS region."))
            })?;
            let remote = parse_remote_regions(body, &aws)?;
            world
                .create_service(group, &aws, remote, now, &rules)
                .map(ok)
        }
        Op::UpdateService { group, id } => {
            let provider = body_str(body, "cloudProvider")?;
            if provider != "AWS" {
                // The request schema's `cloudProvider` enum has AWS only (Atlas spec,
                // ApiAtlasModifyEndpointServiceRequestView); cross-region support is AWS-only
                // (PROVIDER_UNSUPPORTED, research notes issue 12, §1).
                return Err(ApiFailure::bad_request(
                    remote::PROVIDER_UNSUPPORTED,
                    format!("supportedRemoteRegions is supported for AWS only, not {provider}."),
                ));
            }
            let home = world
                .services_of(group)
                .find(|s| s.id == *id)
                .map(|s| s.region.clone());
            // An unknown service is 404 (from the update) whatever the body lists.
            let remote = match home {
                Some(home) => parse_remote_regions(body, &home)?,
                None => Vec::new(),
            };
            world
                .update_remote_regions(group, id, remote, now, rules.delays)
                .map(ok)
        }
        Op::GetRegionalMode { group } => {
            Ok(ok(world.get_regional_mode(group, rules.regional_default)))
        }
        Op::SetRegionalMode { group } => {
            let enabled = body
                .and_then(|b| b.get("enabled"))
                .and_then(Value::as_bool)
                .ok_or_else(|| invalid("The request body needs a boolean field enabled.".into()))?;
            world.set_regional_mode(group, enabled, now, &rules).map(ok)
        }
        Op::ListServices { group, .. } if is_aws => Ok(ok(world.list_services(group, now))),
        Op::ListServices { .. } => Ok(ok(Value::Array(Vec::new()))),
        Op::GetService { group, id, .. } if is_aws => world.get_service(group, id, now).map(ok),
        Op::DeleteService { group, id, .. } if is_aws => {
            world.delete_service(group, id, now, rules.delays)?;
            Ok(Reply::empty(StatusCode::NO_CONTENT, V2023))
        }
        Op::CreateInterface { group, service, .. } if is_aws => {
            let vpce = body_str(body, "id")?;
            if !is_vpce_id(vpce) {
                return Err(invalid(format!(
                    "{vpce} is not an AWS interface endpoint id."
                )));
            }
            world.link(group, service, vpce, now, &rules).map(ok)
        }
        Op::GetInterface {
            group,
            service,
            vpce,
            ..
        } if is_aws => world.get_interface(group, service, vpce, now).map(ok),
        Op::DeleteInterface {
            group,
            service,
            vpce,
            ..
        } if is_aws => {
            world.unlink(group, service, vpce, now, rules.delays)?;
            Ok(Reply::empty(StatusCode::NO_CONTENT, V2023))
        }
        Op::GetService { .. }
        | Op::DeleteService { .. }
        | Op::CreateInterface { .. }
        | Op::GetInterface { .. }
        | Op::DeleteInterface { .. } => Err(not_aws()),
        Op::GetCluster { group, name } => world
            .cluster_json(group, name, now, rules.regional_default)
            .map(|value| Reply::json(StatusCode::OK, V2024, value)),
        Op::GetServerless { name, .. } => Err(ApiFailure::bad_request(
            "SERVERLESS_INSTANCE_RETIRED",
            format!(
                "Serverless instance {name}: Atlas retired Serverless instances on 2026-01-22; use a dedicated cluster."
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let g = "0123456789abcdef01234567";
        let op = |m: Method, p: &str| Op::classify(&m, &format!("{API_BASE}/groups/{g}{p}"));
        assert_eq!(
            op(Method::POST, "/privateEndpoint/endpointService").map(|o| o.name()),
            Some("createEndpointService")
        );
        assert_eq!(
            op(Method::GET, "/privateEndpoint/AWS/endpointService/").map(|o| o.name()),
            Some("listEndpointServices")
        );
        assert_eq!(
            op(
                Method::DELETE,
                "/privateEndpoint/AWS/endpointService/x/endpoint/vpce-1"
            )
            .map(|o| o.name()),
            Some("deleteInterfaceEndpoint")
        );
        assert_eq!(
            op(Method::PATCH, "/privateEndpoint/endpointService/x").map(|o| o.name()),
            Some("updateEndpointService")
        );
        assert_eq!(op(Method::GET, "/privateEndpoint/endpointService/x"), None);
        assert_eq!(
            op(Method::PATCH, "/privateEndpoint/AWS/endpointService/x"),
            None
        );
        assert_eq!(
            op(Method::GET, "/privateEndpoint/regionalMode").map(|o| o.name()),
            Some("getRegionalMode")
        );
        assert_eq!(
            op(Method::PATCH, "/privateEndpoint/regionalMode").map(|o| (o.name(), o.has_body())),
            Some(("setRegionalMode", true))
        );
        assert_eq!(
            op(Method::GET, "/clusters/Cluster0").map(|o| o.media_type()),
            Some(V2024)
        );
        assert_eq!(Op::classify(&Method::GET, "/api/atlas/v2/orgs"), None);
    }
}
