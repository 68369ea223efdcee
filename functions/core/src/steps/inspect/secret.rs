//! The request's own pieces: the secret (the content store-connection-strings would write now,
//! compared key by key with the current value; key names only, never values), the links the
//! current secret lists whose VPC endpoints are gone, and the regional mode.

use std::collections::BTreeSet;

use atlas_api::models::{Cluster, EndpointService};
use serde_json::{Map, Value};

use super::endpoint::Found;
use super::{Action, Check, CheckName, EndpointInspection, Item, Resource, SecretInspection};
use crate::error::StepError;
use crate::ports::{Atlas, Secrets};
use crate::request::ProvisionRequest;
use crate::state::Plan;
use crate::steps::validate::needs_regional_mode;
use crate::steps::{atlas_error, secret_content};

/// What [`inspect_secret`] found.
#[derive(Debug)]
pub(super) struct SecretFound {
    /// The secret's item.
    pub inspection: SecretInspection,
    /// The `secretOwner` check.
    pub owner_check: Check,
    /// The VPC endpoints the current secret lists (`vpcEndpointIds`).
    pub listed: Vec<String>,
}

/// Compares the content store-connection-strings would write now (from `cluster`, the VPC
/// endpoints `found` and the database user) with the secret's current value.
pub(super) async fn inspect_secret(
    secrets: &impl Secrets,
    request: &ProvisionRequest,
    cluster: &Cluster,
    found: &[Found],
    database_user: Option<(String, String)>,
) -> Result<SecretFound, StepError> {
    let name = request.secret.name.to_string();
    // What store would write: every endpoint needs its VPC endpoint first.
    let mut vpce_ids: Vec<String> = found
        .iter()
        .filter_map(|f| f.result.vpc_endpoint.as_ref())
        .map(|v| v.vpc_endpoint_id.clone())
        .collect();
    vpce_ids.sort();
    vpce_ids.dedup();
    let wanted: Result<Map<String, Value>, String> = if vpce_ids.len() < found.len() {
        let without: Vec<String> = found
            .iter()
            .filter(|f| f.result.vpc_endpoint.is_none())
            .map(|f| format!("endpoints[{}]", f.result.endpoint.index))
            .collect();
        Err(format!(
            "written once every endpoint has its VPC endpoint ({} not yet)",
            without.join(", ")
        ))
    } else {
        secret_content(request, cluster, &vpce_ids, database_user)
            .map(|(doc, _)| doc)
            .map_err(|e| format!("cannot be compared yet: {}", e.message))
    };
    let owner = request.owner_key();
    let mut owner_check = Check {
        name: CheckName::SecretOwner,
        passed: true,
        detail: format!("{name} does not exist"),
        endpoint: None,
    };
    let existing = secrets.describe_secret(&name).await?;
    // A secret scheduled for deletion has no readable value (GetSecretValue refuses it).
    let current = match &existing {
        Some(info) if !info.deleted => secrets
            .current_value(&info.arn)
            .await?
            .map(|(value, _)| value),
        _ => None,
    };
    let current_doc: Option<Map<String, Value>> = current
        .as_deref()
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        });
    let listed: Vec<String> = current_doc
        .as_ref()
        .and_then(|doc| doc.get("vpcEndpointIds"))
        .and_then(Value::as_str)
        .map(|ids| {
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    // Exactly what store would compare with the current value (and write when it differs).
    let wanted_text = wanted
        .as_ref()
        .ok()
        .map(|doc| Value::Object(doc.clone()).to_string());
    let all_keys = |doc: &Map<String, Value>| doc.keys().cloned().collect::<Vec<_>>();
    let (action, keys, detail) = match &existing {
        None => match &wanted {
            Ok(doc) => (Action::Create, all_keys(doc), format!("no secret {name}")),
            Err(why) => (
                Action::Create,
                Vec::new(),
                format!("no secret {name}; its content is {why}"),
            ),
        },
        Some(info) if info.deleted => match &wanted {
            Ok(doc) => (
                Action::Create,
                all_keys(doc),
                format!("{name} is scheduled for deletion; it is restored and written"),
            ),
            Err(why) => (
                Action::Create,
                Vec::new(),
                format!("{name} is scheduled for deletion; its content is {why}"),
            ),
        },
        Some(_) => match (&wanted, &current) {
            (Err(why), _) => (Action::Update, Vec::new(), format!("{name}: {why}")),
            (Ok(doc), None) => (
                Action::Update,
                all_keys(doc),
                format!("{name} has no current value"),
            ),
            (Ok(_), Some(value)) if wanted_text.as_deref() == Some(value.as_str()) => {
                (Action::None, Vec::new(), format!("{name} is up to date"))
            }
            (Ok(doc), Some(_)) => {
                let keys = match &current_doc {
                    Some(have) => changed_keys(have, doc),
                    None => all_keys(doc),
                };
                let detail = if keys.is_empty() {
                    format!("{name} holds the same keys and values, written differently")
                } else {
                    format!("{name}: {} key(s) differ", keys.len())
                };
                (Action::Update, keys, detail)
            }
        },
    };
    if let Some(info) = &existing {
        match info.owner.as_deref() {
            Some(theirs) if theirs != owner => {
                owner_check.passed = false;
                owner_check.detail = format!(
                    "{name} belongs to another request (owner key {theirs}, this request's is \
                     {owner}): store-connection-strings refuses to write it"
                );
            }
            Some(_) => owner_check.detail = format!("{name} belongs to this request"),
            None => {
                owner_check.detail =
                    format!("{name} has no owner tag; store-connection-strings takes it")
            }
        }
    }
    Ok(SecretFound {
        inspection: SecretInspection {
            name,
            action,
            keys,
            detail,
        },
        owner_check,
        listed,
    })
}

/// The keys whose value differs between `have` and `want`, or that only one has; sorted.
fn changed_keys(have: &Map<String, Value>, want: &Map<String, Value>) -> Vec<String> {
    let names: BTreeSet<&String> = have.keys().chain(want.keys()).collect();
    names
        .into_iter()
        .filter(|k| have.get(*k) != want.get(*k))
        .cloned()
        .collect()
}

/// Adds a `staleLink` item (action `remove`) for each VPC endpoint the current secret lists
/// (`listed`) that EC2 no longer has live in any of the request's VPCs while a service of the
/// request still has its link; on the first endpoint whose service holds it.
pub(super) fn stale_links(
    endpoints: &mut [EndpointInspection],
    found: &[Found],
    services: &[EndpointService],
    plan: &Plan,
    listed: &[String],
) {
    let live: BTreeSet<&String> = found.iter().flat_map(|f| &f.live_vpc_endpoints).collect();
    for vpce in listed.iter().filter(|id| !live.contains(id)) {
        let holder = found.iter().enumerate().find_map(|(i, f)| {
            let service_id = f.service_id.as_deref()?;
            services
                .iter()
                .find(|s| s.id == service_id && s.interface_endpoints.contains(vpce))
                .map(|s| (i, s))
        });
        if let Some((i, service)) = holder
            && let Some(endpoint) = endpoints.get_mut(i)
        {
            endpoint.items.push(Item::new(
                Resource::StaleLink,
                Action::Remove,
                Some(vpce),
                format!(
                    "the secret lists {vpce}, which EC2 no longer has in {}; its link on {} \
                     remains",
                    plan.endpoints
                        .get(i)
                        .map(|p| p.vpc_id.as_str())
                        .unwrap_or("the VPC"),
                    service.id
                ),
            ));
        }
    }
}

/// The `regionalMode` check: for a sharded cluster with nodes in more than one region, whether
/// the project's regionalized private endpoint mode is on (validate refuses, or turns it on
/// with consent; this only reports it).
pub(super) async fn regional_mode(
    atlas: &impl Atlas,
    request: &ProvisionRequest,
    cluster: &Cluster,
) -> Result<Check, StepError> {
    let regions = cluster.aws_regions().len();
    let cluster_type = cluster.cluster_type.as_deref().unwrap_or("unknown type");
    let (passed, detail) = if needs_regional_mode(cluster.cluster_type.as_deref(), regions) {
        let on = atlas
            .get_regional_mode(request.atlas.project_id.as_str())
            .await
            .map_err(atlas_error)?;
        if on {
            (
                true,
                format!(
                    "{cluster_type} cluster {} in {regions} regions; the project's regional mode is on",
                    cluster.name
                ),
            )
        } else {
            (
                false,
                format!(
                    "{cluster_type} cluster {} in {regions} regions needs the project's regional \
                     mode, which is off{}",
                    cluster.name,
                    if request.atlas.enable_regional_mode {
                        " (atlas.enableRegionalMode: validate turns it on)"
                    } else {
                        " (set atlas.enableRegionalMode: true)"
                    }
                ),
            )
        }
    } else {
        (
            true,
            format!(
                "not needed: {cluster_type} cluster {} in {regions} AWS region{}",
                cluster.name,
                if regions == 1 { "" } else { "s" }
            ),
        )
    };
    Ok(Check {
        name: CheckName::RegionalMode,
        passed,
        detail,
        endpoint: None,
    })
}
