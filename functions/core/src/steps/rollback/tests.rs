//! The decisions of rollback against the in-memory ports: only what the `created` flags, the
//! created-by tags and this execution's claim say is removed; adopted resources stay.

use std::time::SystemTime;

use atlas_api::models::{ConnectionStatus, ServiceStatus};

use super::*;
use crate::aws::secrets::{TAG_CREATED_BY, TAG_OWNER};
use crate::ports::fake_atlas::{self, FakeAtlas, service};
use crate::ports::fake_claims::{self, FakeClaims};
use crate::ports::fake_ec2::FakeEc2;
use crate::ports::fake_secrets::{self, FakeSecrets, Secret, arn};
use crate::ports::fixture::{
    EXECUTION, KEY, REMOTE_REGION, SERVICE, context, cross_region, plain_work, state,
};
use crate::state::{LinkOut, SecretOut, SecurityGroupsOut, ServiceRef, VpcEndpointOut};

const SVC: &str = "65a1b2c3d4e5f60718293a4b";
const VPCE: &str = "vpce-0ours";
const SG: &str = "sg-0ours";

/// An endpoint that got through link, with each step's `created` flag as given.
fn result(service: bool, group: bool, endpoint: bool, link: bool) -> EndpointResult {
    let mut r = plain_work().result;
    r.service = Some(ServiceRef {
        service_id: SVC.into(),
        created: service,
        first_poll_after_seconds: 0,
    });
    r.service_name = Some(crate::state::ServiceNameOut {
        endpoint_service_name: SERVICE.into(),
        status: "AVAILABLE".into(),
        remote_region_added: false,
    });
    r.security_groups = Some(SecurityGroupsOut {
        security_group_ids: vec![SG.into()],
        own_group_id: Some(SG.into()),
        created: group,
    });
    r.vpc_endpoint = Some(VpcEndpointOut {
        vpc_endpoint_id: VPCE.into(),
        created: endpoint,
        subnet_ids: Vec::new(),
    });
    r.link = Some(LinkOut {
        connection_status: "AVAILABLE".into(),
        created: link,
        first_poll_after_seconds: 0,
    });
    r
}

/// EC2 with our endpoint and group, tagged as made by `creator`; Atlas with the service and
/// the endpoint's link.
fn world(creator: &str) -> (FakeEc2, FakeAtlas) {
    let ec2 = FakeEc2::default();
    ec2.seed_endpoint(VPCE, Some(creator));
    ec2.seed_group(SG, Some(creator), true);
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Available, Some(SERVICE), &[]));
    atlas.seed_link(SVC, VPCE, ConnectionStatus::Available);
    (ec2, atlas)
}

/// What [`rollback`] does, over the fakes.
async fn run(
    ec2: &FakeEc2,
    atlas: &FakeAtlas,
    claims: Option<&FakeClaims>,
    secrets: &FakeSecrets,
    state: &ExecutionState,
) -> Removed {
    let ctx = context();
    let mut removed = Removed::default();
    for r in state.endpoints.iter().rev() {
        undo_endpoint(&ctx, ec2, atlas, claims, state, r, &mut removed)
            .await
            .expect("endpoint undone");
    }
    undo_secret(&ctx, secrets, state, &mut removed)
        .await
        .expect("secret undone");
    removed
}

fn atlas_deletes(atlas: &FakeAtlas) -> Vec<fake_atlas::Call> {
    atlas
        .calls()
        .into_iter()
        .filter(|c| {
            matches!(
                c,
                fake_atlas::Call::DeleteEndpointService { .. }
                    | fake_atlas::Call::DeleteInterfaceEndpoint { .. }
            )
        })
        .collect()
}

#[tokio::test]
async fn what_this_execution_made_goes_and_the_adopted_service_stays() {
    let (ec2, atlas) = world(EXECUTION);
    let secrets = FakeSecrets::default();
    let removed = run(
        &ec2,
        &atlas,
        None,
        &secrets,
        &state(result(false, true, true, true)),
    )
    .await;
    assert_eq!(
        removed,
        Removed {
            links: vec![VPCE.into()],
            vpc_endpoints: vec![VPCE.into()],
            security_groups: vec![SG.into()],
            endpoint_services: vec![],
            secrets: vec![],
            remote_regions: vec![],
        }
    );
    assert_eq!(
        atlas_deletes(&atlas),
        [fake_atlas::Call::DeleteInterfaceEndpoint {
            service_id: SVC.into(),
            vpce: VPCE.into()
        }],
        "the adopted service is left alone"
    );
    assert_eq!(
        atlas.count(|c| matches!(c, fake_atlas::Call::GetEndpointService { .. })),
        0,
        "not even read for deletion"
    );
    assert_eq!(ec2.deleted_endpoints(), [VPCE]);
    assert_eq!(ec2.deleted_groups(), [SG]);
}

#[tokio::test]
async fn nothing_made_by_this_execution_means_nothing_removed() {
    let (ec2, atlas) = world("provision-earlier");
    let secrets = FakeSecrets::default();
    let s = state(result(false, false, false, false));
    secrets.seed(Secret::new(
        &s.request.secret.name,
        &[(TAG_CREATED_BY, "provision-earlier")],
        "strings",
    ));
    let removed = run(&ec2, &atlas, None, &secrets, &s).await;
    assert_eq!(removed, Removed::default());
    assert_eq!(atlas_deletes(&atlas), []);
    assert!(ec2.deleted_endpoints().is_empty() && ec2.deleted_groups().is_empty());
    assert_eq!(secrets.writes(), []);
}

#[tokio::test]
async fn a_created_service_is_deleted_only_once_no_link_uses_it() {
    let (ec2, atlas) = world(EXECUTION);
    let secrets = FakeSecrets::default();
    // Another request's link keeps the service.
    atlas.seed_link(SVC, "vpce-0theirs", ConnectionStatus::Available);
    let removed = run(
        &ec2,
        &atlas,
        None,
        &secrets,
        &state(result(true, true, true, true)),
    )
    .await;
    assert!(removed.endpoint_services.is_empty(), "{removed:?}");
    // Without other links, it goes.
    let (ec2, atlas) = world(EXECUTION);
    *crate::ports::fixture::lock(&atlas.links) = Vec::new();
    crate::ports::fixture::lock(&atlas.services)[0]
        .service
        .interface_endpoints
        .clear();
    let removed = run(
        &ec2,
        &atlas,
        None,
        &secrets,
        &state(result(true, true, true, true)),
    )
    .await;
    assert_eq!(removed.endpoint_services, [SVC]);
}

#[tokio::test]
async fn a_service_our_claim_holds_is_removed_though_no_output_recorded_it() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Initiating, None, &[]));
    let claims = FakeClaims::default();
    claims.seed(EXECUTION, Some(SVC), SystemTime::now());
    // The service step crashed before it could report.
    let bare = plain_work().result;
    let removed = run(
        &FakeEc2::default(),
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(bare),
    )
    .await;
    assert_eq!(removed.endpoint_services, [SVC]);
    assert_eq!(claims.current(), None, "released");
    assert!(claims.calls().contains(&fake_claims::Call::Release {
        execution: Some(EXECUTION.into())
    }));
}

#[tokio::test]
async fn another_executions_claim_is_neither_followed_nor_released() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Initiating, None, &[]));
    let claims = FakeClaims::default();
    claims.seed("provision-racing", Some(SVC), SystemTime::now());
    let removed = run(
        &FakeEc2::default(),
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(plain_work().result),
    )
    .await;
    assert_eq!(removed, Removed::default());
    assert_eq!(atlas_deletes(&atlas), []);
    assert_eq!(
        claims.current().map(|h| h.execution).as_deref(),
        Some("provision-racing")
    );
}

#[tokio::test]
async fn an_endpoint_tagged_by_this_execution_is_removed_though_its_step_crashed() {
    let (ec2, atlas) = world(EXECUTION);
    let mut r = result(false, false, false, false);
    // The endpoint step crashed after creating: no output, but the tag.
    r.vpc_endpoint = None;
    r.link = None;
    let removed = run(&ec2, &atlas, None, &FakeSecrets::default(), &state(r)).await;
    assert_eq!(removed.vpc_endpoints, [VPCE]);
    assert_eq!(removed.links, [VPCE], "its link too");
    // The group's output says adopted, but its tag says this execution: it goes too.
    assert_eq!(removed.security_groups, [SG]);
}

#[tokio::test]
async fn the_secret_goes_when_recorded_or_tagged_by_this_execution() {
    let s = state(plain_work().result);
    let name = s.request.secret.name.to_string();
    // Recorded as created.
    let secrets = FakeSecrets::default();
    let mut recorded = s.clone();
    recorded.secret = Some(SecretOut {
        secret_arn: arn(&name),
        secret_name: name.clone(),
        version_id: "v0".into(),
        vpc_endpoint_ids: vec![VPCE.into()],
        connection_string_sets: 1,
        created: true,
        durations: None,
        unlinked: Vec::new(),
    });
    let removed = run(
        &FakeEc2::default(),
        &FakeAtlas::default(),
        None,
        &secrets,
        &recorded,
    )
    .await;
    assert_eq!(removed.secrets, [arn(&name)]);
    // Not recorded (the store step crashed), but tagged by this execution.
    let secrets = FakeSecrets::default();
    secrets.seed(Secret::new(
        &name,
        &[(TAG_CREATED_BY, EXECUTION), (TAG_OWNER, "x")],
        "strings",
    ));
    let removed = run(
        &FakeEc2::default(),
        &FakeAtlas::default(),
        None,
        &secrets,
        &s,
    )
    .await;
    assert_eq!(removed.secrets, [arn(&name)]);
    assert_eq!(
        secrets.writes(),
        [fake_secrets::Call::Delete {
            id: arn(&name),
            recovery_days: 7
        }]
    );
    // Tagged by this execution but already scheduled for deletion: nothing to do.
    let secrets = FakeSecrets::default();
    let mut gone = Secret::new(&name, &[(TAG_CREATED_BY, EXECUTION)], "strings");
    gone.deleted = true;
    secrets.seed(gone);
    let removed = run(
        &FakeEc2::default(),
        &FakeAtlas::default(),
        None,
        &secrets,
        &s,
    )
    .await;
    assert!(removed.secrets.is_empty());
}

#[tokio::test]
async fn an_adopted_service_without_links_stays() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Available, Some(SERVICE), &[]));
    let mut r = plain_work().result;
    r.service = Some(ServiceRef {
        service_id: SVC.into(),
        created: false,
        first_poll_after_seconds: 0,
    });
    let removed = run(
        &FakeEc2::default(),
        &atlas,
        Some(&FakeClaims::default()),
        &FakeSecrets::default(),
        &state(r),
    )
    .await;
    assert_eq!(removed, Removed::default());
    assert_eq!(atlas_deletes(&atlas), []);
}

// Cross-region: the VPC (us-west-2) reached the us-east-1 service through US_WEST_2 in its
// remote regions.

/// [`result`] for a cross-region endpoint whose get-service-name said `added`.
fn cross_result(endpoint: bool, added: bool) -> EndpointResult {
    let mut w = cross_region(plain_work());
    w.result = EndpointResult {
        endpoint: w.result.endpoint.clone(),
        ..result(false, true, endpoint, true)
    };
    if let Some(name) = w.result.service_name.as_mut() {
        name.remote_region_added = added;
    }
    w.result
}

/// [`world`] whose service lists `regions`.
fn cross_world(creator: &str, regions: &[&str]) -> (FakeEc2, FakeAtlas) {
    let (ec2, atlas) = world(creator);
    crate::ports::fixture::lock(&atlas.services)[0]
        .service
        .supported_remote_regions = regions.iter().map(|r| (*r).to_owned()).collect();
    (ec2, atlas)
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
async fn rollback_takes_out_the_region_it_added_when_this_request_was_its_last_user() {
    let (ec2, atlas) = cross_world(EXECUTION, &["EU_WEST_1", REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY]);
    let removed = run(
        &ec2,
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(cross_result(true, true)),
    )
    .await;
    assert_eq!(
        patches(&atlas),
        [vec!["EU_WEST_1".to_owned()]],
        "only ours out"
    );
    assert_eq!(removed.remote_regions, [format!("{SVC}/us-west-2")]);
    assert!(claims.users_of(SVC, REMOTE_REGION).is_empty());
    assert_eq!(claims.lease_of(SVC), None, "released");
}

#[tokio::test]
async fn rollback_takes_out_a_region_its_request_registered_when_the_output_was_lost() {
    let (ec2, atlas) = cross_world(EXECUTION, &[REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY]);
    let mut r = cross_result(true, false);
    // get-service-name crashed after its PATCH: no output, but the request is registered.
    r.service_name = None;
    run(
        &ec2,
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(r),
    )
    .await;
    assert_eq!(patches(&atlas), [Vec::<String>::new()]);
}

#[tokio::test]
async fn rollback_keeps_a_region_other_requests_use() {
    let (ec2, atlas) = cross_world(EXECUTION, &[REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY, "another-request"]);
    run(
        &ec2,
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(cross_result(true, true)),
    )
    .await;
    assert!(patches(&atlas).is_empty());
    assert_eq!(claims.users_of(SVC, REMOTE_REGION), ["another-request"]);
}

#[tokio::test]
async fn rollback_leaves_a_region_it_neither_added_nor_registered() {
    let (ec2, atlas) = cross_world(EXECUTION, &[REMOTE_REGION]);
    let claims = FakeClaims::default();
    run(
        &ec2,
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(cross_result(true, false)),
    )
    .await;
    assert!(patches(&atlas).is_empty());
}

#[tokio::test]
async fn rollback_keeps_the_region_while_an_endpoint_it_did_not_make_uses_it() {
    // An earlier execution of the same request made the endpoint, which this one adopted.
    let (ec2, atlas) = cross_world("provision-earlier", &[REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY]);
    run(
        &ec2,
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(cross_result(false, true)),
    )
    .await;
    assert!(patches(&atlas).is_empty());
    assert_eq!(claims.users_of(SVC, REMOTE_REGION), [KEY], "still a user");
}

#[tokio::test]
async fn rollback_of_a_same_region_endpoint_leaves_the_remote_regions_alone() {
    let (ec2, atlas) = cross_world(EXECUTION, &[REMOTE_REGION]);
    let claims = FakeClaims::default();
    claims.seed_users(SVC, REMOTE_REGION, &[KEY]);
    run(
        &ec2,
        &atlas,
        Some(&claims),
        &FakeSecrets::default(),
        &state(result(false, true, true, true)),
    )
    .await;
    assert!(patches(&atlas).is_empty());
    assert!(
        !claims
            .calls()
            .iter()
            .any(|c| matches!(c, fake_claims::Call::TakeLease { .. }))
    );
}
