//! `local seed REQUEST.json`: makes a user's own request runnable on the local stack. It seeds
//! the request's cluster in the simulator and creates, where they are missing, the VPCs (by id
//! or by tag) with subnets and the secrets the request names. moto makes its own ids, so what
//! it creates for a request's ids gets new ones: the request is written again, with them, to
//! `<name>.local.json`, and every change is listed.

use std::path::{Path, PathBuf};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use devstack::{create_credentials_secret, create_database_user_secret, create_network};
use privatelink_core::request::VpcSelector;
use serde_json::{Value, json};

use super::State;

/// What `seed` did: the request file to run, and each change made for it.
#[derive(Debug)]
pub struct Seeded {
    /// The request to run (`<name>.local.json`).
    pub request: PathBuf,
    /// One line per thing created or replaced.
    pub changes: Vec<String>,
}

/// Seeds what `request_path` names on the running stack `state`; see the module docs.
pub async fn seed(state: &State, request_path: &Path) -> Result<Seeded, String> {
    let text = std::fs::read_to_string(request_path)
        .map_err(|e| format!("{}: {e}", request_path.display()))?;
    let mut raw: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not JSON: {e}", request_path.display()))?;
    let request = privatelink_core::parse_request(&raw)
        .map_err(|e| format!("{}: {}", e.name.as_str(), e.message))?;
    let mut changes = Vec::new();
    let home = aws_config(&state.moto_endpoint, "us-east-1").await;

    // The cluster, in the regions the request's endpoints link to (a cross-region endpoint's
    // VPC region needs no nodes: its service region does).
    let mut regions: Vec<String> = request
        .endpoints
        .iter()
        .map(|e| e.service_region.unwrap_or(e.region).atlas_name().to_owned())
        .collect();
    regions.sort();
    regions.dedup();
    let seeded = reqwest::Client::new()
        .post(format!("{}/__sim/clusters", state.atlas_base_url))
        .json(&json!({"groupId": request.atlas.project_id.as_str(),
                      "name": request.atlas.cluster_name.as_str(), "regions": regions}))
        .send()
        .await
        .map_err(|e| format!("seed the cluster: {e}"))?;
    if !seeded.status().is_success() {
        return Err(format!("seed the cluster: HTTP {}", seeded.status()));
    }
    changes.push(format!(
        "cluster {} of project {} seeded in {}",
        request.atlas.cluster_name,
        request.atlas.project_id,
        regions.join(", ")
    ));

    // The VPCs.
    for (i, endpoint) in request.endpoints.iter().enumerate() {
        let region = endpoint.aws_region();
        let ec2 = aws_sdk_ec2::Client::new(&aws_config(&state.moto_endpoint, region).await);
        match &endpoint.vpc {
            VpcSelector::Ids { vpc_id, .. } => {
                let found = ec2
                    .describe_vpcs()
                    .filters(
                        Filter::builder()
                            .name("vpc-id")
                            .values(vpc_id.as_str())
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| format!("DescribeVpcs: {e}"))?;
                if found.vpcs().is_empty() {
                    let network = create_network(&ec2, region, "local").await?;
                    raw["endpoints"][i]["vpcId"] = json!(network.vpc_id);
                    raw["endpoints"][i]["subnetIds"] = json!(network.subnet_ids);
                    changes.push(format!(
                        "endpoints[{i}]: VPC {vpc_id} does not exist locally; created {} with subnets {} instead",
                        network.vpc_id,
                        network.subnet_ids.join(", ")
                    ));
                }
            }
            VpcSelector::Tag { vpc_tag } => {
                let found = ec2
                    .describe_vpcs()
                    .filters(
                        Filter::builder()
                            .name(format!("tag:{}", vpc_tag.key))
                            .values(&vpc_tag.value)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| format!("DescribeVpcs: {e}"))?;
                if found.vpcs().is_empty() {
                    let vpc = tagged_network(&ec2, region, &vpc_tag.key, &vpc_tag.value).await?;
                    changes.push(format!(
                        "endpoints[{i}]: created VPC {vpc} with two subnets, tagged {}={}",
                        vpc_tag.key, vpc_tag.value
                    ));
                }
            }
        }
    }

    // The secrets.
    let secrets = aws_sdk_secretsmanager::Client::new(&home);
    let exists = |arn: String| {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .is_ok()
        }
    };
    let credentials_missing = match &request.atlas.credentials_secret_arn {
        Some(arn) => !exists(arn.to_string()).await,
        None => true,
    };
    if credentials_missing {
        let arn = match secrets
            .describe_secret()
            .secret_id("local/atlas-credentials")
            .send()
            .await
        {
            Ok(found) => found.arn().unwrap_or_default().to_owned(),
            Err(_) => {
                create_credentials_secret(
                    &secrets,
                    "local/atlas-credentials",
                    "sim-client-id",
                    "sim-client-secret",
                    &state.atlas_base_url,
                )
                .await?
            }
        };
        raw["atlas"]["credentialsSecretArn"] = json!(arn);
        changes.push(format!(
            "atlas.credentialsSecretArn: the local stack's credentials secret {arn}"
        ));
    }
    if let Some(arn) = &request.secret.database_user_secret_arn
        && !exists(arn.to_string()).await
    {
        let name = format!("local/{}", arn.name());
        let made = create_database_user_secret(&secrets, &name, "app", "local-password-1").await?;
        raw["secret"]["databaseUserSecretArn"] = json!(made);
        changes.push(format!(
            "secret.databaseUserSecretArn: created {made} (username app) instead"
        ));
    }
    if request.aws.role_arn.is_some() {
        changes.push(
            "aws.roleArn: moto lets any role be assumed, but what was created lives in the local default account; drop aws.* if the run does not find it".to_owned(),
        );
    }

    let out = local_name(request_path);
    let text = serde_json::to_string_pretty(&raw).map_err(|e| e.to_string())?;
    std::fs::write(&out, text + "\n").map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Seeded {
        request: out,
        changes,
    })
}

/// `dir/name.json` → `dir/name.local.json`.
fn local_name(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "request".to_owned());
    path.with_file_name(format!("{stem}.local.json"))
}

async fn aws_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "local",
        ))
        .load()
        .await
}

/// A VPC and two subnets (zones a and b) tagged `key=value`; returns the VPC id.
async fn tagged_network(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    key: &str,
    value: &str,
) -> Result<String, String> {
    let tags = |t: ResourceType| {
        TagSpecification::builder()
            .resource_type(t)
            .tags(Tag::builder().key(key).value(value).build())
            .build()
    };
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.44.0.0/16")
        .tag_specifications(tags(ResourceType::Vpc))
        .send()
        .await
        .map_err(|e| format!("CreateVpc: {e}"))?
        .vpc()
        .and_then(|v| v.vpc_id())
        .map(str::to_owned)
        .ok_or("CreateVpc returned no id")?;
    for (i, zone) in ['a', 'b'].iter().enumerate() {
        ec2.create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.44.{}.0/24", i + 1))
            .availability_zone(format!("{region}{zone}"))
            .tag_specifications(tags(ResourceType::Subnet))
            .send()
            .await
            .map_err(|e| format!("CreateSubnet: {e}"))?;
    }
    Ok(vpc)
}
