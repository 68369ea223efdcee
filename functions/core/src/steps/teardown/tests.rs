//! The decisions of teardown-endpoint and teardown-secret against the in-memory ports: the
//! order of removal, waiting while things go, and only this request's secret.

use std::time::SystemTime;

use atlas_api::models::{ConnectionStatus, ServiceStatus};

use super::*;
use crate::aws::secrets::TAG_OWNER;
use crate::ports::fake_atlas::{self, FakeAtlas, service};
use crate::ports::fake_claims::{self, FakeClaims};
use crate::ports::fake_ec2::FakeEc2;
use crate::ports::fake_secrets::{Call, FakeSecrets, Secret};
use crate::ports::fixture::{
    EXECUTION, KEY, REMOTE_REGION, SERVICE, context, cross_region, lock, plain_work, state,
};

const SVC: &str = "65a1b2c3d4e5f60718293a4b";
const VPCE: &str = "vpce-0ours";
const SG: &str = "sg-0ours";

#[tokio::test]
async fn a_live_link_is_removed_first_and_the_rest_waits_for_it() {
    let ec2 = FakeEc2::default();
    ec2.seed_endpoint(VPCE, Some("provision-earlier"));
    ec2.seed_group(SG, Some("provision-earlier"), true);
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Available, Some(SERVICE), &[]));
    atlas.seed_link(SVC, VPCE, ConnectionStatus::Available);
    let claims = FakeClaims::default();
    let err = tear_down(&context(), &ec2, &atlas, Some(&claims), &plain_work())
        .await
        .expect_err("the link is going");
    assert_eq!(err.name, ErrorName::InterfaceEndpointNotReady);
    assert_eq!(
        atlas.count(|c| matches!(c, fake_atlas::Call::DeleteInterfaceEndpoint { .. })),
        1
    );
    assert!(
        ec2.deleted_endpoints().is_empty(),
        "not before the link is gone"
    );
    // The retry: Atlas removed the link (and the service with it, its last).
    lock(&atlas.links).clear();
    lock(&atlas.services).clear();
    let removed = tear_down(&context(), &ec2, &atlas, Some(&claims), &plain_work())
        .await
        .expect("torn down");
    assert_eq!(ec2.deleted_endpoints(), [VPCE]);
    assert_eq!(ec2.deleted_groups(), [SG]);
    assert_eq!(removed.vpc_endpoints, [VPCE]);
    assert_eq!(removed.security_groups, [SG]);
    assert_eq!(
        claims.calls(),
        [fake_claims::Call::Release { execution: None }],
        "whoever created the service, its claim goes with it"
    );
}

#[tokio::test]
async fn endpoints_still_deleting_are_waited_for_before_the_group() {
    let ec2 = FakeEc2::default();
    ec2.seed_endpoint(VPCE, Some(EXECUTION));
    ec2.seed_group(SG, Some(EXECUTION), true);
    *lock(&ec2.deletes_linger) = true;
    let atlas = FakeAtlas::default();
    let err = tear_down(&context(), &ec2, &atlas, None::<&FakeClaims>, &plain_work())
        .await
        .expect_err("deleting");
    assert_eq!(err.name, ErrorName::InterfaceEndpointNotReady);
    assert!(ec2.deleted_groups().is_empty());
    // The retry does not delete it again.
    lock(&ec2.endpoints)[0].state = "deleted".into();
    tear_down(&context(), &ec2, &atlas, None::<&FakeClaims>, &plain_work())
        .await
        .expect("torn down");
    assert_eq!(ec2.deleted_endpoints(), [VPCE]);
    assert_eq!(ec2.deleted_groups(), [SG]);
}

#[tokio::test]
async fn a_service_other_links_use_stays_with_its_claim() {
    let ec2 = FakeEc2::default();
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Available, Some(SERVICE), &[]));
    atlas.seed_link(SVC, "vpce-0theirs", ConnectionStatus::Available);
    let claims = FakeClaims::default();
    claims.seed("provision-earlier", Some(SVC), SystemTime::now());
    let removed = tear_down(&context(), &ec2, &atlas, Some(&claims), &plain_work())
        .await
        .expect("torn down");
    assert!(removed.endpoint_services.is_empty());
    assert_eq!(
        atlas.count(|c| matches!(c, fake_atlas::Call::DeleteEndpointService { .. })),
        0
    );
    assert!(claims.current().is_some(), "kept");
}

fn secret_state() -> (ExecutionState, String) {
    let s = state(plain_work().result);
    let name = s.request.secret.name.to_string();
    (s, name)
}

#[tokio::test]
async fn teardown_deletes_the_secret_this_request_owns() {
    let (s, name) = secret_state();
    let secrets = FakeSecrets::default();
    secrets.seed(Secret::new(
        &name,
        &[(TAG_OWNER, &s.request.owner_key())],
        "strings",
    ));
    let removed = tear_down_secret(&secrets, &s, 7).await.expect("deleted");
    assert_eq!(removed.secrets, [name.as_str()]);
    assert_eq!(
        secrets.writes(),
        [Call::Delete {
            id: name,
            recovery_days: 7
        }]
    );
}

#[tokio::test]
async fn teardown_leaves_another_requests_secret() {
    let (s, name) = secret_state();
    let secrets = FakeSecrets::default();
    secrets.seed(Secret::new(
        &name,
        &[(TAG_OWNER, "another-request")],
        "theirs",
    ));
    let removed = tear_down_secret(&secrets, &s, 7).await.expect("left");
    assert_eq!(removed, Removed::default());
    assert_eq!(secrets.writes(), []);
}

#[tokio::test]
async fn a_secret_without_owner_or_absent_is_deleted_gone_being_fine() {
    let (s, name) = secret_state();
    let secrets = FakeSecrets::default();
    secrets.seed(Secret::new(&name, &[], "strings"));
    tear_down_secret(&secrets, &s, 30).await.expect("deleted");
    let absent = FakeSecrets::default();
    tear_down_secret(&absent, &s, 30).await.expect("nothing");
    for fake in [&secrets, &absent] {
        assert_eq!(
            fake.writes(),
            [Call::Delete {
                id: name.clone(),
                recovery_days: 30
            }]
        );
    }
}

// Cross-region teardown: the VPC (us-west-2) reached the us-east-1 service through US_WEST_2.

/// A service that another link keeps, listing `regions`; this request's endpoint is gone.
fn cross_atlas(regions: &[&str]) -> FakeAtlas {
    let atlas = FakeAtlas::default();
    let mut s = service(SVC, ServiceStatus::Available, Some(SERVICE), &[]);
    s.supported_remote_regions = regions.iter().map(|r| (*r).to_owned()).collect();
    atlas.seed_service(s);
    atlas.seed_link(SVC, "vpce-0theirs", ConnectionStatus::Available);
    atlas
}

fn patches(atlas: &FakeAtlas) -> Vec<Vec<String>> {
    atlas
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            fake_atlas::Call::UpdateRemoteRegions { regions, .. } => Some(regions),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn teardown_takes_out_the_region_when_its_request_was_the_last_user() {
    let atlas = cross_atlas(&["EU_WEST_1", REMOTE_REGION, "AP_SOUTH_1"]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY]);
    claims.seed_users(SVC, "EU_WEST_1", &["another-request"]);
    let removed = tear_down(
        &context(),
        &FakeEc2::default(),
        &atlas,
        Some(&claims),
        &cross_region(plain_work()),
    )
    .await
    .expect("torn down");
    assert_eq!(
        patches(&atlas),
        [vec!["EU_WEST_1".to_owned(), "AP_SOUTH_1".into()]]
    );
    assert!(claims.users_of(SVC, REMOTE_REGION).is_empty());
    assert_eq!(claims.users_of(SVC, "EU_WEST_1"), ["another-request"]);
    assert_eq!(claims.lease_of(SVC), None);
    assert_eq!(removed.remote_regions, [format!("{SVC}/us-west-2")]);
}

#[tokio::test]
async fn teardown_keeps_a_region_another_request_uses() {
    let atlas = cross_atlas(&[REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY, "another-request"]);
    tear_down(
        &context(),
        &FakeEc2::default(),
        &atlas,
        Some(&claims),
        &cross_region(plain_work()),
    )
    .await
    .expect("torn down");
    assert!(patches(&atlas).is_empty());
    assert_eq!(claims.users_of(SVC, REMOTE_REGION), ["another-request"]);
}

#[tokio::test]
async fn teardown_waits_for_another_holders_lease_before_changing_anything() {
    let atlas = cross_atlas(&[REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY]);
    let ctx = context();
    claims.seed_lease(
        SVC,
        "provision-other/ffff",
        ctx.clock.now() + std::time::Duration::from_secs(60),
    );
    let err = tear_down(
        &ctx,
        &FakeEc2::default(),
        &atlas,
        Some(&claims),
        &cross_region(plain_work()),
    )
    .await
    .expect_err("leased");
    assert_eq!(err.name, ErrorName::InterfaceEndpointNotReady);
    assert!(patches(&atlas).is_empty());
    assert_eq!(
        claims.users_of(SVC, REMOTE_REGION),
        [KEY],
        "not yet removed"
    );
}

#[tokio::test]
async fn teardown_of_a_same_region_endpoint_leaves_the_remote_regions_alone() {
    let atlas = cross_atlas(&[REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY]);
    tear_down(
        &context(),
        &FakeEc2::default(),
        &atlas,
        Some(&claims),
        &plain_work(),
    )
    .await
    .expect("torn down");
    assert!(patches(&atlas).is_empty());
    assert_eq!(claims.users_of(SVC, REMOTE_REGION), [KEY]);
}
