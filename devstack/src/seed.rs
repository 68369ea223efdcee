//! Seeding the local world: what an operator or account vending would have made before a
//! request arrives (a VPC with subnets in two availability zones, the Atlas credentials
//! secret, a database-user secret).

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

/// A VPC with its subnets, as the demo and the tests make them.
#[derive(Debug, Clone)]
pub struct Network {
    /// AWS region.
    pub region: String,
    /// The VPC.
    pub vpc_id: String,
    /// Its subnets (one per availability zone of [`SEEDED_ZONES`] unless made otherwise).
    pub subnet_ids: Vec<String>,
}

/// The availability-zone letters of the seeded subnets. Both are among the zones an Atlas
/// endpoint service supports in the local world (see [`Realism`](crate::Realism)), as in a
/// well-built VPC: subnets in the zones the cluster's load balancer serves.
pub const SEEDED_ZONES: [char; 2] = ['a', 'b'];

fn tags(resource: ResourceType, team: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key("team").value(team).build())
        .build()
}

/// Creates a VPC (10.42.0.0/16) with one subnet in each of [`SEEDED_ZONES`], all tagged
/// `team=<team>`.
pub async fn create_network(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    team: &str,
) -> Result<Network, String> {
    create_network_in_zones(ec2, region, team, &SEEDED_ZONES).await
}

/// Creates a VPC (10.42.0.0/16) with one subnet (a /24) per entry of `zones`, in that zone of
/// `region` (a letter may repeat: several subnets in one zone, as a request may name them),
/// all tagged `team=<team>`. At most 255 subnets.
pub async fn create_network_in_zones(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    team: &str,
    zones: &[char],
) -> Result<Network, String> {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(tags(ResourceType::Vpc, team))
        .send()
        .await
        .map_err(|e| format!("CreateVpc: {e}"))?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or("CreateVpc returned no id")?
        .to_owned();
    let mut subnet_ids = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        subnet_ids.push(
            create_subnet(
                ec2,
                &vpc_id,
                &format!("10.42.{}.0/24", i + 1),
                &format!("{region}{zone}"),
                team,
            )
            .await?,
        );
    }
    Ok(Network {
        region: region.to_owned(),
        vpc_id,
        subnet_ids,
    })
}

/// Creates one subnet of `vpc_id` in availability zone `zone` (`us-east-1a`), tagged
/// `team=<team>`; returns its id.
pub async fn create_subnet(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
    cidr: &str,
    zone: &str,
    team: &str,
) -> Result<String, String> {
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(zone)
        .tag_specifications(tags(ResourceType::Subnet, team))
        .send()
        .await
        .map_err(|e| format!("CreateSubnet: {e}"))?;
    subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .map(str::to_owned)
        .ok_or_else(|| "CreateSubnet returned no id".to_owned())
}

/// SDK configuration acting as `role_arn` in its account: `base` (its endpoint and region)
/// with the credentials of an AssumeRole made through `sts` (its endpoint and credentials).
///
/// This is how account vending's networks are seeded: moto files what a caller creates
/// under the account of the caller's access key, and the keys STS hands out for a role
/// belong to the role's account (moto assumes any role not refused), so a VPC created with
/// this configuration lives in that account, beside nothing else, as in a vended account.
/// Pass the stack's front as `sts` so that a role the front denies
/// ([`AwsModels::deny_role`](crate::AwsModels::deny_role)) is refused here too, and moto
/// itself as `base` so that seeding skips the front's AWS realism (eventual consistency).
/// The credentials are fixed (not refreshed): moto does not expire them.
pub async fn assume_role_config(
    sts: &aws_config::SdkConfig,
    base: &aws_config::SdkConfig,
    role_arn: &str,
) -> Result<aws_config::SdkConfig, String> {
    use aws_config::sts::AssumeRoleProvider;
    use aws_sdk_ec2::config::{ProvideCredentials, SharedCredentialsProvider};
    let provider = AssumeRoleProvider::builder(role_arn)
        .session_name("devstack-seed")
        .configure(sts)
        .build()
        .await;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("AssumeRole {role_arn}: {e}"))?;
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}

/// Stores Atlas service-account credentials (and the simulator's URL) in a secret, as an
/// operator would for the deployed functions; returns its ARN.
pub async fn create_credentials_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    client_id: &str,
    client_secret: &str,
    base_url: &str,
) -> Result<String, String> {
    let document = serde_json::json!({
        "clientId": client_id, "clientSecret": client_secret, "baseUrl": base_url
    });
    create_secret(secrets, name, &document.to_string()).await
}

/// Stores a database user (`{"username", "password"}`) in a secret; returns its ARN.
pub async fn create_database_user_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    username: &str,
    password: &str,
) -> Result<String, String> {
    let document = serde_json::json!({"username": username, "password": password});
    create_secret(secrets, name, &document.to_string()).await
}

async fn create_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
) -> Result<String, String> {
    let out = secrets
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| format!("CreateSecret {name}: {e}"))?;
    out.arn()
        .map(str::to_owned)
        .ok_or_else(|| format!("CreateSecret {name} returned no ARN"))
}

/// The name of the claims table the local world's functions use (`CLAIMS_TABLE`).
pub const CLAIMS_TABLE: &str = "atlas-privatelink-claims";

/// Creates the stack's claims table (key `pk`, a string), as the template does; one that
/// exists already is fine.
pub async fn create_claims_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let key = KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .map_err(|e| format!("claims table key: {e}"))?;
    let attribute = AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| format!("claims table attribute: {e}"))?;
    match dynamodb
        .create_table()
        .table_name(name)
        .key_schema(key)
        .attribute_definitions(attribute)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("CreateTable {name}: {e}")),
    }
}
