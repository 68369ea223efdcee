//! The largest request validation accepts: every limit of `request/validate.rs` and
//! `request/tags.rs` at its maximum at once.

use std::collections::BTreeMap;

use devstack::WorldSpec;
use privatelink_core::request::{
    MAX_ALLOW_FROM, MAX_ENDPOINTS, MAX_SECURITY_GROUPS, MAX_SUBNETS, MAX_TAG_KEY_CHARS,
    MAX_TAG_VALUE_CHARS, MAX_USER_TAGS,
};
use serde_json::{Value, json};

use super::harness::Trial;
use super::{Env, Expected, Run, Scenario};
use crate::machines::Machine;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new(
        "largest-request",
        Expected::Succeeds,
        "a request at every limit: 10 regions, 16 subnets, 60 CIDRs, 16 security groups, 40 longest tags",
        largest_request,
    )]
}

/// Regions where moto has availability zones a, b and c (the zones the local Atlas endpoint
/// services support), as many as a request may name.
const REGIONS: [&str; 10] = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "ap-south-1",
    "ap-southeast-2",
    "ap-northeast-2",
];

/// The zones the subnets go round: only one subnet per supported zone is used.
const ZONES: [char; 3] = ['a', 'b', 'c'];

fn largest_request<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let regions = &REGIONS[..MAX_ENDPOINTS.min(REGIONS.len())];
        let spec = WorldSpec {
            subnet_zones: (0..MAX_SUBNETS).map(|i| ZONES[i % ZONES.len()]).collect(),
            ..WorldSpec::new(regions)
                .realism(env.realism(|r| r))
                .database_user("app", "largest-password")
        };
        let mut t = Trial::start(env, spec).await?;
        let mut request = t.world.request();
        let networks = t.world.networks.clone();
        for (i, network) in networks.iter().enumerate() {
            // The created group plus as many attached ones as an interface may carry.
            let attached = attached_groups(&t, network, MAX_SECURITY_GROUPS - 1).await?;
            let cidrs: Vec<String> = (0..MAX_ALLOW_FROM)
                .map(|j| format!("10.{}.{j}.0/24", 100 + i))
                .collect();
            request["endpoints"][i]["securityGroups"] = json!({
                "create": true, "allowFromCidrs": cidrs, "attachSecurityGroupIds": attached
            });
        }
        request["tags"] = longest_tags();
        let result = t.execute(Machine::Provision, &request, "largest").await?;
        for network in &networks {
            let used: Vec<String> = t
                .world
                .describe_vpc_endpoints(network)
                .await?
                .iter()
                .flat_map(|e| e.subnet_ids().iter().cloned())
                .collect();
            t.check(used.len() == ZONES.len(), || {
                format!(
                    "the VPC endpoint in {} uses {} subnets, not one per zone",
                    network.region,
                    used.len()
                )
            });
        }
        t.finish(&result).await
    })
}

/// `MAX_USER_TAGS` tags, keys and values as long as allowed.
fn longest_tags() -> Value {
    let tags: BTreeMap<String, String> = (0..MAX_USER_TAGS)
        .map(|i| {
            let key = format!("{i:02}{}", "k".repeat(MAX_TAG_KEY_CHARS - 2));
            (key, "v".repeat(MAX_TAG_VALUE_CHARS))
        })
        .collect();
    json!(tags)
}

/// Makes `count` security groups in the network's VPC (not ours: the request attaches them).
async fn attached_groups(
    t: &Trial<'_>,
    network: &devstack::Network,
    count: usize,
) -> Result<Vec<String>, String> {
    let ec2 = t.world.ec2(&network.region).await;
    let mut ids = Vec::new();
    for i in 0..count {
        let group = ec2
            .create_security_group()
            .group_name(format!("app-{i}"))
            .description("attached by the largest request")
            .vpc_id(&network.vpc_id)
            .send()
            .await
            .map_err(|e| format!("CreateSecurityGroup: {e}"))?;
        ids.push(group.group_id().unwrap_or_default().to_owned());
    }
    Ok(ids)
}
