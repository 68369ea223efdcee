//! The decisions of validate against the in-memory Atlas and EC2: the cluster and the regions
//! the request covers, the regional mode (read, refused, turned on), each endpoint's VPC,
//! subnets and groups (by id and by tag, with the field and the place of every error), the
//! plan, and a new account's missing baseline as `TargetNotReady`.

use std::time::{Duration, SystemTime};

use atlas_api::models::Cluster;
use clock::VirtualClock;
use serde_json::{Value, json};

use super::cluster::check_cluster;
use super::endpoint::plan_endpoint;
use super::*;
use crate::ports::fake_atlas::{Call as AtlasCall, FakeAtlas, conflict};
use crate::ports::fake_ec2::{Call, FakeEc2};
use crate::ports::fixture::{CLUSTER, PROJECT, VPC, lock};
use crate::steps::request_key;

const A1: &str = "subnet-0a000001";
const B1: &str = "subnet-0b000001";
const OTHER_VPC: &str = "vpc-0f0e0d0c";
const ROLE: &str = "arn:aws:iam::123456789012:role/atlas-privatelink-target";
const SG1: &str = "sg-0aaa1111";
const SG2: &str = "sg-0bbb2222";

/// A request for [`CLUSTER`] with `endpoints`, its `atlas` and `aws` objects extended by the
/// given fields.
fn request_with(atlas: Value, aws: Value, endpoints: Value) -> ProvisionRequest {
    let mut a = json!({ "projectId": PROJECT, "clusterName": CLUSTER });
    if let (Some(a), Some(extra)) = (a.as_object_mut(), atlas.as_object()) {
        a.extend(extra.clone());
    }
    parse_request(&json!({ "atlas": a, "aws": aws, "endpoints": endpoints }))
        .expect("the test request is valid")
}

fn request(endpoints: Value) -> ProvisionRequest {
    request_with(json!({}), json!({}), endpoints)
}

/// An endpoint in `region` by id: [`VPC`] with subnet [`A1`].
fn by_id(region: &str) -> Value {
    json!({ "region": region, "vpcId": VPC, "subnetIds": [A1] })
}

/// An endpoint in `region` whose VPC links to the service of `service_region`.
fn across(region: &str, service_region: &str) -> Value {
    json!({ "region": region, "serviceRegion": service_region, "vpcId": VPC, "subnetIds": [A1] })
}

/// A cluster of `kind` (`REPLICASET`, `SHARDED`, …) with AWS nodes in `regions` (Atlas names).
fn cluster(kind: &str, regions: &[&str]) -> Cluster {
    let configs: Vec<Value> = regions
        .iter()
        .map(|r| json!({ "providerName": "AWS", "regionName": r }))
        .collect();
    serde_json::from_value(json!({
        "name": CLUSTER,
        "stateName": "IDLE",
        "clusterType": kind,
        "replicationSpecs": [{ "regionConfigs": configs }],
    }))
    .expect("a valid cluster")
}

fn atlas_with(c: Cluster) -> FakeAtlas {
    let atlas = FakeAtlas::default();
    *lock(&atlas.cluster) = Some(c);
    atlas
}

/// Asserts `InvalidRequest` on `field`, and returns the rest of the message.
fn invalid_at(result: Result<impl std::fmt::Debug, StepError>, field: &str) -> String {
    let e = result.expect_err("the check must fail");
    assert_eq!(e.name, ErrorName::InvalidRequest, "{}", e.message);
    let rest = e.message.strip_prefix(&format!("{field}: "));
    assert!(rest.is_some(), "not on {field}: {}", e.message);
    rest.unwrap_or_default().to_owned()
}

// --- the cluster and its regions ---

#[tokio::test]
async fn an_unknown_cluster_is_invalid_on_the_cluster_name() {
    let atlas = FakeAtlas::default();
    let message = invalid_at(
        check_cluster(&atlas, &request(json!([by_id("us-east-1")]))).await,
        "atlas.clusterName",
    );
    assert_eq!(
        message,
        format!("no cluster {CLUSTER} in project {PROJECT}")
    );
    assert_eq!(
        atlas.calls(),
        [AtlasCall::GetCluster {
            name: CLUSTER.into()
        }]
    );
}

#[tokio::test]
async fn a_cluster_without_aws_nodes_is_an_unsupported_provider() {
    let atlas = atlas_with(cluster("REPLICASET", &[]));
    let e = check_cluster(&atlas, &request(json!([by_id("us-east-1")])))
        .await
        .expect_err("no AWS nodes");
    assert_eq!(e.name, ErrorName::UnsupportedProvider);
}

#[tokio::test]
async fn a_vpc_region_without_nodes_names_the_cluster_regions_and_service_region() {
    let atlas = atlas_with(cluster("REPLICASET", &["US_EAST_1", "EU_WEST_1"]));
    let r = request(json!([by_id("us-east-1"), by_id("us-west-2")]));
    let message = invalid_at(check_cluster(&atlas, &r).await, "endpoints[1].region");
    assert!(message.contains("no nodes in us-west-2"), "{message}");
    assert!(
        message.contains("its AWS regions are eu-west-1, us-east-1"),
        "{message}"
    );
    assert!(message.contains("set serviceRegion"), "{message}");
    assert_eq!(atlas.calls().len(), 1, "nothing read after the cluster");
}

#[tokio::test]
async fn a_service_region_that_is_not_a_cluster_region_is_invalid_on_service_region() {
    let atlas = atlas_with(cluster("REPLICASET", &["US_EAST_1"]));
    let r = request(json!([across("us-west-2", "ap-south-1")]));
    let message = invalid_at(
        check_cluster(&atlas, &r).await,
        "endpoints[0].serviceRegion",
    );
    assert!(message.contains("no nodes in ap-south-1"), "{message}");
    assert!(
        message.contains("its AWS regions are us-east-1"),
        "{message}"
    );
}

#[tokio::test]
async fn a_cluster_region_without_an_endpoint_is_invalid_on_endpoints() {
    let atlas = atlas_with(cluster("REPLICASET", &["US_EAST_1", "EU_WEST_1"]));
    let message = invalid_at(
        check_cluster(&atlas, &request(json!([by_id("us-east-1")]))).await,
        "endpoints",
    );
    assert!(message.contains("also has nodes in EU_WEST_1"), "{message}");
}

#[tokio::test]
async fn a_cross_region_endpoint_covers_its_service_region() {
    let atlas = atlas_with(cluster("REPLICASET", &["US_EAST_1", "EU_WEST_1"]));
    let r = request(json!([
        by_id("us-east-1"),
        across("us-west-2", "eu-west-1")
    ]));
    check_cluster(&atlas, &r)
        .await
        .expect("every region covered");
    // A replica set is connected without the regional mode: it is not even read.
    assert_eq!(
        atlas.calls(),
        [AtlasCall::GetCluster {
            name: CLUSTER.into()
        }]
    );
}

// --- the regional mode ---

#[test]
fn only_multi_region_sharded_clusters_need_the_regional_mode() {
    assert!(cluster::needs_regional_mode(Some("SHARDED"), 2));
    assert!(cluster::needs_regional_mode(Some("GEOSHARDED"), 3));
    assert!(!cluster::needs_regional_mode(Some("SHARDED"), 1));
    assert!(!cluster::needs_regional_mode(Some("REPLICASET"), 2));
    assert!(!cluster::needs_regional_mode(None, 2));
}

/// A request covering a sharded cluster in us-east-1 and eu-west-1, consenting or not.
fn sharded_request(consent: bool) -> (FakeAtlas, ProvisionRequest) {
    let atlas = atlas_with(cluster("SHARDED", &["US_EAST_1", "EU_WEST_1"]));
    let r = request_with(
        json!({ "enableRegionalMode": consent }),
        json!({}),
        json!([by_id("us-east-1"), by_id("eu-west-1")]),
    );
    (atlas, r)
}

fn mode_calls(atlas: &FakeAtlas) -> Vec<AtlasCall> {
    atlas
        .calls()
        .into_iter()
        .filter(|c| !matches!(c, AtlasCall::GetCluster { .. }))
        .collect()
}

#[tokio::test]
async fn a_single_region_sharded_cluster_does_not_read_the_regional_mode() {
    let atlas = atlas_with(cluster("SHARDED", &["US_EAST_1"]));
    check_cluster(&atlas, &request(json!([by_id("us-east-1")])))
        .await
        .expect("valid");
    assert!(mode_calls(&atlas).is_empty());
}

#[tokio::test]
async fn mode_off_without_consent_is_regional_mode_required_and_nothing_is_patched() {
    let (atlas, r) = sharded_request(false);
    let e = check_cluster(&atlas, &r).await.expect_err("no consent");
    assert_eq!(e.name, ErrorName::RegionalModeRequired);
    assert!(
        e.message.contains("atlas.enableRegionalMode: true"),
        "{}",
        e.message
    );
    assert_eq!(mode_calls(&atlas), [AtlasCall::GetRegionalMode]);
    assert!(!*lock(&atlas.regional_mode));
}

#[tokio::test]
async fn mode_off_with_consent_is_turned_on_once() {
    let (atlas, r) = sharded_request(true);
    check_cluster(&atlas, &r).await.expect("turned on");
    assert_eq!(
        mode_calls(&atlas),
        [
            AtlasCall::GetRegionalMode,
            AtlasCall::SetRegionalMode { enabled: true }
        ]
    );
    assert!(*lock(&atlas.regional_mode));
}

#[tokio::test]
async fn a_plan_with_consent_reads_the_mode_and_does_not_turn_it_on() {
    let (atlas, mut r) = sharded_request(true);
    r.mode = crate::request::Mode::Plan;
    check_cluster(&atlas, &r).await.expect("a plan");
    assert_eq!(mode_calls(&atlas), [AtlasCall::GetRegionalMode]);
    assert!(!*lock(&atlas.regional_mode));
}

#[tokio::test]
async fn mode_already_on_is_not_patched() {
    for consent in [false, true] {
        let (atlas, r) = sharded_request(consent);
        *lock(&atlas.regional_mode) = true;
        check_cluster(&atlas, &r).await.expect("on already");
        assert_eq!(
            mode_calls(&atlas),
            [AtlasCall::GetRegionalMode],
            "{consent}"
        );
    }
}

#[tokio::test]
async fn a_409_on_turning_it_on_is_invalid_on_enable_regional_mode() {
    let (atlas, r) = sharded_request(true);
    atlas.fail_next(
        "SetRegionalMode",
        conflict(
            "setRegionalMode",
            "CANNOT_ENABLE_REGIONALIZED_PRIVATE_ENDPOINTS",
        ),
    );
    let message = invalid_at(check_cluster(&atlas, &r).await, "atlas.enableRegionalMode");
    assert!(message.starts_with("Atlas refused"), "{message}");
    assert!(!*lock(&atlas.regional_mode));
}

// --- one endpoint: VPC, subnets, security groups, the plan ---

/// [`VPC`] (10.0.0.0/16, tagged `env=prod`) with subnets [`A1`] and [`B1`] tagged `env=prod`,
/// an untagged one, and a tagged one in another VPC.
fn ec2() -> FakeEc2 {
    let ec2 = FakeEc2::default();
    ec2.seed_vpc(VPC, &["10.0.0.0/16"], &[("env", "prod")]);
    ec2.seed_vpc(OTHER_VPC, &["10.1.0.0/16"], &[("env", "test")]);
    ec2.seed_subnet_in(B1, VPC, "us-east-1b", Some(("env", "prod")));
    ec2.seed_subnet_in(A1, VPC, "us-east-1a", Some(("env", "prod")));
    ec2.seed_subnet_in("subnet-0c000001", VPC, "us-east-1c", None);
    ec2.seed_subnet_in(
        "subnet-0d000001",
        OTHER_VPC,
        "us-east-1a",
        Some(("env", "prod")),
    );
    ec2
}

fn by_tag(value: &str) -> Value {
    json!({ "region": "us-east-1", "vpcTag": { "key": "env", "value": value } })
}

async fn plan_first(ec2: &FakeEc2, r: &ProvisionRequest) -> Result<EndpointPlan, StepError> {
    plan_endpoint(ec2, r, 0, &r.endpoints[0]).await
}

#[tokio::test]
async fn a_vpc_by_id_is_planned_with_its_cidrs_and_subnets() {
    let ec2 = ec2();
    let r = request(json!([by_id("us-east-1")]));
    let plan = plan_first(&ec2, &r).await.expect("planned");
    assert_eq!(plan.vpc_id, VPC);
    assert_eq!(plan.vpc_cidrs, ["10.0.0.0/16"]);
    assert_eq!(plan.subnet_ids, [A1]);
    assert_eq!(
        (plan.region.as_str(), plan.service_region.as_str()),
        ("us-east-1", "us-east-1")
    );
    assert_eq!(
        plan.request_key,
        request_key(PROJECT, CLUSTER, "us-east-1", VPC)
    );
    assert_eq!(
        ec2.calls(),
        [
            Call::DescribeVpc { id: VPC.into() },
            Call::DescribeSubnets {
                ids: vec![A1.into()]
            }
        ]
    );
}

#[tokio::test]
async fn a_cross_region_plan_does_ec2_work_in_the_vpc_region_and_atlas_work_in_the_service_region()
{
    let ec2 = ec2();
    let r = request(json!([across("us-west-2", "us-east-1")]));
    let plan = plan_first(&ec2, &r).await.expect("planned");
    assert_eq!(plan.region.as_str(), "us-west-2");
    assert_eq!(plan.service_region.as_str(), "us-east-1");
    // The key is the VPC's: its region is where the resources it tags live.
    assert_eq!(
        plan.request_key,
        request_key(PROJECT, CLUSTER, "us-west-2", VPC)
    );
}

#[tokio::test]
async fn a_missing_vpc_id_names_the_field_and_where_it_looked() {
    let ec2 = FakeEc2::default();
    let r = request_with(
        json!({}),
        json!({ "roleArn": ROLE }),
        json!([by_id("us-east-1")]),
    );
    let message = invalid_at(plan_first(&ec2, &r).await, "endpoints[0].vpcId");
    assert_eq!(
        message,
        format!(
            "VPC {VPC} does not exist in account 123456789012 (through role {ROLE}), region us-east-1"
        )
    );
}

#[tokio::test]
async fn a_subnet_missing_or_in_another_vpc_names_its_index() {
    let ec2 = ec2();
    let missing =
        json!([{ "region": "us-east-1", "vpcId": VPC, "subnetIds": [A1, "subnet-0e000001"] }]);
    let message = invalid_at(
        plan_first(&ec2, &request(missing)).await,
        "endpoints[0].subnetIds[1]",
    );
    assert_eq!(
        message,
        "subnet subnet-0e000001 does not exist in the functions' own account, region us-east-1"
    );
    let elsewhere =
        json!([{ "region": "us-east-1", "vpcId": VPC, "subnetIds": ["subnet-0d000001"] }]);
    let message = invalid_at(
        plan_first(&ec2, &request(elsewhere)).await,
        "endpoints[0].subnetIds[0]",
    );
    assert!(
        message.contains(&format!("is in {OTHER_VPC}, not in {VPC}")),
        "{message}"
    );
}

#[tokio::test]
async fn a_vpc_by_tag_is_found_with_its_tagged_subnets_by_id() {
    let ec2 = ec2();
    let plan = plan_first(&ec2, &request(json!([by_tag("prod")])))
        .await
        .expect("found");
    assert_eq!(plan.vpc_id, VPC);
    // Only the VPC's subnets with the tag, sorted by id.
    assert_eq!(plan.subnet_ids, [A1, B1]);
    assert_eq!(
        ec2.calls(),
        [
            Call::FindVpcsByTag {
                key: "env".into(),
                value: "prod".into()
            },
            Call::FindSubnetsByTag {
                vpc_id: VPC.into(),
                key: "env".into(),
                value: "prod".into()
            }
        ]
    );
}

#[tokio::test]
async fn no_vpc_with_the_tag_names_the_tag_and_where_it_looked() {
    let ec2 = ec2();
    let r = request_with(
        json!({}),
        json!({ "roleArn": ROLE }),
        json!([by_tag("staging")]),
    );
    let message = invalid_at(plan_first(&ec2, &r).await, "endpoints[0].vpcTag");
    assert_eq!(
        message,
        format!(
            "no VPC in account 123456789012 (through role {ROLE}), region us-east-1 is tagged env=staging"
        )
    );
    assert_eq!(ec2.calls().len(), 1, "no subnet lookup without a VPC");
}

#[tokio::test]
async fn two_vpcs_with_the_tag_are_listed() {
    let ec2 = ec2();
    ec2.seed_vpc("vpc-0e0e0e0e", &["10.2.0.0/16"], &[("env", "prod")]);
    let message = invalid_at(
        plan_first(&ec2, &request(json!([by_tag("prod")]))).await,
        "endpoints[0].vpcTag",
    );
    assert!(
        message.starts_with(&format!(
            "2 VPCs in us-east-1 are tagged env=prod ({VPC}, vpc-0e0e0e0e)"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_tagged_vpc_without_tagged_subnets_is_invalid_on_the_tag() {
    let ec2 = ec2();
    let message = invalid_at(
        plan_first(&ec2, &request(json!([by_tag("test")]))).await,
        "endpoints[0].vpcTag",
    );
    assert!(
        message.starts_with(&format!("VPC {OTHER_VPC} has no subnet tagged env=test")),
        "{message}"
    );
}

fn with_groups(attach: &[&str], allow_from: &[&str]) -> ProvisionRequest {
    request(json!([{
        "region": "us-east-1", "vpcId": VPC, "subnetIds": [A1],
        "securityGroups": {
            "attachSecurityGroupIds": attach,
            "allowFromSecurityGroupIds": allow_from,
        }
    }]))
}

#[tokio::test]
async fn a_missing_security_group_names_its_field_and_where_it_looked() {
    let ec2 = ec2();
    ec2.seed_group(SG1, None, true);
    let message = invalid_at(
        plan_first(&ec2, &with_groups(&[SG1, SG2], &[])).await,
        "endpoints[0].securityGroups.attachSecurityGroupIds[1]",
    );
    assert_eq!(
        message,
        format!(
            "security group {SG2} does not exist in the functions' own account, region us-east-1"
        )
    );
    let message = invalid_at(
        plan_first(&ec2, &with_groups(&[], &[SG2])).await,
        "endpoints[0].securityGroups.allowFromSecurityGroupIds[0]",
    );
    assert!(
        message.starts_with(&format!("security group {SG2} does not exist")),
        "{message}"
    );
}

#[tokio::test]
async fn groups_to_attach_must_be_in_the_vpc_and_groups_to_allow_from_need_not() {
    let ec2 = ec2();
    lock(&ec2.other_groups).push((SG2.into(), OTHER_VPC.into()));
    let message = invalid_at(
        plan_first(&ec2, &with_groups(&[SG2], &[])).await,
        "endpoints[0].securityGroups.attachSecurityGroupIds[0]",
    );
    assert!(message.contains(&format!("is in {OTHER_VPC}")), "{message}");
    let plan = plan_first(&ec2, &with_groups(&[], &[SG2]))
        .await
        .expect("a peered VPC's group may be allowed from");
    assert_eq!(plan.security_groups.allow_from_security_group_ids.len(), 1);
    assert!(ec2.calls().contains(&Call::DescribeSecurityGroups {
        ids: vec![SG2.into()]
    }));
}

// --- a new account's missing baseline ---

/// When the executions of these tests started (`$$.Execution.StartTime`).
const STARTED: &str = "2026-03-01T12:00:00Z";

/// A clock `after` the executions started.
fn clock_after(after: Duration) -> VirtualClock {
    let started =
        time::OffsetDateTime::parse(STARTED, &time::format_description::well_known::Rfc3339)
            .expect("a valid time");
    VirtualClock::starting_at(SystemTime::from(started) + after)
}

#[tokio::test]
async fn a_missing_tagged_vpc_is_target_not_ready_while_the_account_is_waited_for() {
    let ec2 = ec2();
    let r = request_with(
        json!({}),
        json!({ "roleArn": ROLE, "waitForAccountSeconds": 600 }),
        json!([by_tag("staging")]),
    );
    let clock = clock_after(Duration::from_secs(60));
    let started = STARTED;
    let missing = plan_first(&ec2, &r).await.expect_err("no VPC yet");
    let e = account_not_ready(&clock, &r, Some(started), missing.clone());
    assert_eq!(e.name, ErrorName::TargetNotReady, "{}", e.message);
    assert!(
        e.message.contains("waited 60 s of the 600 s"),
        "{}",
        e.message
    );
    // After the wait, or without a start time, the request's error stands.
    clock.advance(Duration::from_secs(600));
    let e = account_not_ready(&clock, &r, Some(started), missing.clone());
    assert_eq!(e, missing);
    assert_eq!(
        account_not_ready(&clock, &r, None, missing.clone()),
        missing
    );
}

#[tokio::test]
async fn other_errors_are_not_a_missing_baseline() {
    let r = request_with(
        json!({}),
        json!({ "roleArn": ROLE, "waitForAccountSeconds": 600 }),
        json!([by_id("us-east-1")]),
    );
    let clock = clock_after(Duration::ZERO);
    let missing_id = plan_first(&FakeEc2::default(), &r)
        .await
        .expect_err("no such VPC id");
    let e = account_not_ready(&clock, &r, Some(STARTED), missing_id.clone());
    assert_eq!(e, missing_id, "a VPC named by id is not the baseline");
}
