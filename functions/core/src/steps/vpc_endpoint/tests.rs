//! The decisions of create-vpc-endpoint against the in-memory EC2: adopt or create, the
//! `created` flag, the subnets, the client token, and lost or stale answers.

use std::time::Duration;

use clock::VirtualClock;

use super::*;
use crate::aws::ec2::{TAG_CREATED_BY, TAG_REQUEST_KEY};
use crate::ports::fake_ec2::{Call, Endpoint, FakeEc2};
use crate::ports::fixture::{EXECUTION, KEY, SERVICE, lock, work};
use crate::request::SecurityGroupSpec;
use crate::state::SecurityGroupsOut;

const GROUP: &str = "sg-0aaa1111";
const A1: &str = "subnet-0a000001";
const A2: &str = "subnet-0a000002";
const B1: &str = "subnet-0b000001";
const C1: &str = "subnet-0c000001";
const GONE: &str = "subnet-0d000001";

/// A work item whose security group step ran: our group, made by this execution or not.
fn endpoint_work(group_created: bool, subnets: &[&str]) -> EndpointWork {
    let mut w = work(SecurityGroupSpec::default(), subnets);
    w.security_groups = Some(SecurityGroupsOut {
        security_group_ids: vec![GROUP.into()],
        own_group_id: Some(GROUP.into()),
        created: group_created,
    });
    w
}

async fn run(
    fake: &FakeEc2,
    clock: &VirtualClock,
    w: &EndpointWork,
) -> Result<VpcEndpointOut, StepError> {
    find_or_create(fake, clock, w, SERVICE, &[GROUP.into()]).await
}

fn creates(fake: &FakeEc2) -> Vec<Call> {
    fake.calls()
        .into_iter()
        .filter(|c| matches!(c, Call::CreateVpcEndpoint { .. }))
        .collect()
}

fn finds(fake: &FakeEc2) -> usize {
    fake.count(|c| matches!(c, Call::FindVpcEndpoints { .. }))
}

fn tokens(fake: &FakeEc2) -> Vec<String> {
    creates(fake)
        .into_iter()
        .filter_map(|c| match c {
            Call::CreateVpcEndpoint { client_token, .. } => Some(client_token),
            _ => None,
        })
        .collect()
}

fn token(attempt: u32) -> String {
    vpc_endpoint_client_token(EXECUTION, KEY, attempt)
}

/// Zones 1a and 1b supported; subnets in 1a (two), 1b and 1c.
fn zoned_fake() -> FakeEc2 {
    let fake = FakeEc2::default();
    *lock(&fake.zones) = vec!["us-east-1a".into(), "us-east-1b".into()];
    for (id, zone) in [
        (A1, "us-east-1a"),
        (A2, "us-east-1a"),
        (B1, "us-east-1b"),
        (C1, "us-east-1c"),
    ] {
        fake.seed_subnet(id, zone);
    }
    fake
}

#[tokio::test]
async fn an_endpoint_made_by_other_means_is_adopted_and_nothing_is_created() {
    let fake = zoned_fake();
    lock(&fake.endpoints).push(Endpoint::new("vpce-0hand", None));
    let out = run(&fake, &VirtualClock::new(), &endpoint_work(true, &[A1]))
        .await
        .expect("found");
    assert_eq!(out.vpc_endpoint_id, "vpce-0hand");
    assert!(!out.created, "adopted: rollback must leave it");
    assert!(out.subnet_ids.is_empty());
    assert_eq!(
        fake.calls(),
        [Call::FindVpcEndpoints {
            service_name: SERVICE.into()
        }]
    );
}

#[tokio::test]
async fn a_group_detached_from_our_endpoint_is_attached_again_and_only_then() {
    let fake = zoned_fake();
    let mut ours = Endpoint::new("vpce-0ours", Some("an-earlier-execution"));
    ours.security_group_ids = vec!["sg-0user".into()];
    lock(&fake.endpoints).push(ours);
    run(&fake, &VirtualClock::new(), &endpoint_work(false, &[A1]))
        .await
        .expect("found");
    assert_eq!(
        fake.writes(),
        [Call::AddVpcEndpointSecurityGroups {
            id: "vpce-0ours".into(),
            groups: vec![GROUP.into()]
        }]
    );
    // Attached now: a second run changes nothing.
    let before = fake.writes().len();
    run(&fake, &VirtualClock::new(), &endpoint_work(false, &[A1]))
        .await
        .expect("found");
    assert_eq!(fake.writes().len(), before);
    // An endpoint made by hand keeps its groups as they are.
    let hand = zoned_fake();
    lock(&hand.endpoints).push(Endpoint::new("vpce-0hand", None));
    run(&hand, &VirtualClock::new(), &endpoint_work(false, &[A1]))
        .await
        .expect("adopted");
    assert!(hand.writes().is_empty());
}

#[tokio::test]
async fn an_endpoint_this_execution_made_is_found_and_still_ours() {
    let fake = zoned_fake();
    lock(&fake.endpoints).push(Endpoint::new("vpce-0ours", Some(EXECUTION)));
    let out = run(&fake, &VirtualClock::new(), &endpoint_work(true, &[A1]))
        .await
        .expect("found");
    assert_eq!(
        (out.vpc_endpoint_id.as_str(), out.created),
        ("vpce-0ours", true)
    );
    assert!(creates(&fake).is_empty());
}

#[tokio::test]
async fn none_creates_one_in_one_subnet_per_supported_zone_with_our_token_and_tags() {
    let fake = zoned_fake();
    let clock = VirtualClock::new();
    let out = run(&fake, &clock, &endpoint_work(true, &[C1, A1, A2, GONE, B1]))
        .await
        .expect("created");
    assert!(out.created);
    // 1c is not the service's, A2 is a second subnet in 1a, GONE does not exist.
    assert_eq!(out.subnet_ids, [A1, B1]);
    let made = creates(&fake);
    let [
        Call::CreateVpcEndpoint {
            service_region: None,
            subnet_ids,
            security_group_ids,
            client_token,
            tags,
        },
    ] = made.as_slice()
    else {
        panic!("one create: {made:?}");
    };
    assert_eq!(subnet_ids, &[A1, B1]);
    assert_eq!(security_group_ids, &[GROUP]);
    assert_eq!(client_token, &token(0));
    let tag = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(tag(TAG_CREATED_BY), Some(EXECUTION));
    assert_eq!(tag(TAG_REQUEST_KEY), Some(KEY));
    assert_eq!(tag("Name"), Some("atlas-privatelink-Cluster0-us-east-1"));
    assert_eq!(out.vpc_endpoint_id, lock(&fake.endpoints)[0].id);
    // This execution made the group, so no earlier attempt can have made an endpoint: the
    // empty list is believed at once.
    assert_eq!(finds(&fake), 1);
    assert_eq!(clock.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn a_service_that_names_no_zones_gets_every_requested_subnet() {
    let fake = FakeEc2::default();
    let out = run(&fake, &VirtualClock::new(), &endpoint_work(true, &[C1, A1]))
        .await
        .expect("created");
    assert_eq!(out.subnet_ids, [C1, A1]);
    assert_eq!(fake.count(|c| matches!(c, Call::DescribeSubnets { .. })), 0);
}

#[tokio::test]
async fn no_subnet_in_a_supported_zone_is_invalid_naming_the_field() {
    let fake = zoned_fake();
    let err = run(&fake, &VirtualClock::new(), &endpoint_work(true, &[C1]))
        .await
        .expect_err("no usable subnet");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(
        err.message.starts_with("endpoints[0].subnetIds:"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("us-east-1a, us-east-1b"),
        "{}",
        err.message
    );
    assert!(creates(&fake).is_empty());
}

#[tokio::test]
async fn a_lost_create_answer_is_retried_under_the_same_token_into_the_same_endpoint() {
    let fake = zoned_fake();
    *lock(&fake.lose_next_create_answer) = true;
    // The retry's list does not show the endpoint made a moment ago.
    *lock(&fake.new_endpoints_unlisted_for) = 5;
    let clock = VirtualClock::new();
    let w = endpoint_work(true, &[A1]);
    let err = run(&fake, &clock, &w).await.expect_err("answer lost");
    assert_eq!(
        err.name,
        ErrorName::AwsUnavailable,
        "retried by the state machine"
    );
    let out = run(&fake, &clock, &w).await.expect("the retry");
    assert!(out.created);
    assert_eq!(
        tokens(&fake),
        [token(0), token(0)],
        "the token is the retry's safety"
    );
    let endpoints = lock(&fake.endpoints);
    assert_eq!(endpoints.len(), 1, "one endpoint: {endpoints:?}");
    assert_eq!(out.vpc_endpoint_id, endpoints[0].id);
}

#[tokio::test]
async fn a_token_that_answers_a_deleted_endpoint_gets_one_fresh_token() {
    let fake = zoned_fake();
    let mut gone = Endpoint::new("vpce-0deleted", Some(EXECUTION));
    gone.state = "deleted".into();
    gone.token = Some(token(0));
    lock(&fake.endpoints).push(gone);
    let out = run(&fake, &VirtualClock::new(), &endpoint_work(true, &[A1]))
        .await
        .expect("created");
    assert_eq!(tokens(&fake), [token(0), token(1)]);
    assert_ne!(out.vpc_endpoint_id, "vpce-0deleted");
    assert!(out.created);
}

#[tokio::test]
async fn tokens_that_keep_answering_deleted_endpoints_are_aws_unavailable() {
    let fake = zoned_fake();
    for attempt in 0..2 {
        let mut gone = Endpoint::new(&format!("vpce-0deleted{attempt}"), Some(EXECUTION));
        gone.state = "deleted".into();
        gone.token = Some(token(attempt));
        lock(&fake.endpoints).push(gone);
    }
    let err = run(&fake, &VirtualClock::new(), &endpoint_work(true, &[A1]))
        .await
        .expect_err("only deleted endpoints");
    assert_eq!(err.name, ErrorName::AwsUnavailable);
    assert_eq!(tokens(&fake), [token(0), token(1)], "two attempts, no more");
}

#[tokio::test]
async fn after_an_earlier_execution_an_empty_list_is_read_again_until_it_shows_the_endpoint() {
    let fake = zoned_fake();
    let mut earlier = Endpoint::new("vpce-0earlier", Some("provision-earlier"));
    earlier.unlisted_for = 2;
    lock(&fake.endpoints).push(earlier);
    let clock = VirtualClock::new();
    // The group was adopted from an earlier execution, which may have made the endpoint.
    let out = run(&fake, &clock, &endpoint_work(false, &[A1]))
        .await
        .expect("found");
    assert_eq!(
        (out.vpc_endpoint_id.as_str(), out.created),
        ("vpce-0earlier", false)
    );
    assert_eq!(finds(&fake), 3);
    assert!(creates(&fake).is_empty(), "no duplicate endpoint");
    assert_eq!(clock.elapsed(), Duration::from_secs(3), "1 s, then 2 s");
}

#[tokio::test]
async fn a_cross_region_endpoint_names_the_service_region_and_ignores_the_service_zones() {
    let fake = zoned_fake();
    let w = crate::ports::fixture::cross_region(endpoint_work(true, &[C1, A1, A2, GONE, B1]));
    let out = run(&fake, &VirtualClock::new(), &w).await.expect("created");
    // 1c is kept (the zone rule does not apply across regions); A2 is still a second subnet
    // in 1a, and GONE does not exist.
    assert_eq!(out.subnet_ids, [C1, A1, B1]);
    assert_eq!(
        fake.count(|c| matches!(c, Call::ServiceZones)),
        0,
        "the service's zones are not asked for"
    );
    let made = creates(&fake);
    let [
        Call::CreateVpcEndpoint {
            service_region,
            subnet_ids,
            ..
        },
    ] = made.as_slice()
    else {
        panic!("one create: {made:?}");
    };
    assert_eq!(service_region.as_deref(), Some("us-east-1"));
    assert_eq!(subnet_ids, &[C1, A1, B1]);
}
