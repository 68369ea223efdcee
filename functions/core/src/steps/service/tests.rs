//! The decisions of ensure-endpoint-service and get-service-name against the in-memory Atlas
//! and claims: adopt or create, a 409 race, services being deleted or failed, the claim and
//! the `created` flag it gives.

use std::time::{Duration, SystemTime};

use atlas_api::models::ConnectionStatus;

use super::*;
use crate::aws::claims::Holder;
use crate::ports::fake_atlas::{Call, FakeAtlas, service, unavailable};
use crate::ports::fake_claims::{self, FakeClaims};
use crate::ports::fixture::{
    EXECUTION, KEY, REGION, REMOTE_REGION, SERVICE, context, context_with, cross_region, lock,
    plain_work,
};
use crate::settings::Polling;

const SVC: &str = "65a1b2c3d4e5f60718293a4b";
const NO_CLAIMS: Option<&FakeClaims> = None;

fn creates(atlas: &FakeAtlas) -> usize {
    atlas.count(|c| matches!(c, Call::CreateEndpointService { .. }))
}

#[tokio::test]
async fn a_live_service_is_adopted_and_nothing_is_created() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Available, Some(SERVICE), &[]));
    atlas.seed_link(SVC, "vpce-0other", ConnectionStatus::Available);
    let out = ensure(&context(), &atlas, NO_CLAIMS, &plain_work())
        .await
        .expect("adopted");
    assert_eq!(
        out,
        ServiceRef {
            service_id: SVC.into(),
            created: false,
            first_poll_after_seconds: 0,
        }
    );
    // One read of a link that stays tells the service is not dying.
    assert_eq!(
        atlas.calls(),
        [
            Call::ListEndpointServices,
            Call::GetInterfaceEndpoint {
                service_id: SVC.into(),
                vpce: "vpce-0other".into()
            }
        ]
    );
}

#[tokio::test]
async fn a_service_still_initiating_is_adopted_with_the_full_first_wait() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Initiating, None, &[]));
    let ctx = context();
    let out = ensure(&ctx, &atlas, NO_CLAIMS, &plain_work())
        .await
        .expect("adopted");
    assert!(!out.created);
    assert_eq!(
        out.first_poll_after_seconds,
        ctx.settings.polling.service_min.as_secs()
    );
}

#[tokio::test]
async fn no_service_creates_one_under_a_claim_and_records_it() {
    let atlas = FakeAtlas::default();
    let claims = FakeClaims::default();
    let ctx = context();
    let out = ensure(&ctx, &atlas, Some(&claims), &plain_work())
        .await
        .expect("created");
    assert!(out.created);
    assert_eq!(
        out.first_poll_after_seconds,
        ctx.settings.polling.service_min.as_secs()
    );
    assert_eq!(
        atlas.calls(),
        [
            Call::ListEndpointServices,
            Call::CreateEndpointService {
                region: REGION.into()
            }
        ]
    );
    assert_eq!(
        claims.calls(),
        [
            fake_claims::Call::Take {
                execution: EXECUTION.into()
            },
            fake_claims::Call::Record {
                execution: EXECUTION.into(),
                service_id: out.service_id.clone()
            }
        ]
    );
    assert_eq!(
        claims.current(),
        Some(Holder {
            execution: EXECUTION.into(),
            service_id: Some(out.service_id)
        })
    );
}

#[tokio::test]
async fn a_409_race_without_claims_adopts_the_winners_service() {
    let atlas = FakeAtlas::default();
    // A racing run made it: our list misses it, our create meets it.
    lock(&atlas.services).push(crate::ports::fake_atlas::Service {
        service: service(SVC, ServiceStatus::Initiating, None, &[]),
        unlisted_for: 1,
    });
    let out = ensure(&context(), &atlas, NO_CLAIMS, &plain_work())
        .await
        .expect("adopted");
    assert_eq!(out.service_id, SVC);
    assert!(!out.created, "the racing run made it");
    assert_eq!(creates(&atlas), 1);
    assert_eq!(
        atlas.count(|c| matches!(c, Call::ListEndpointServices)),
        2,
        "listed again after the 409"
    );
}

#[tokio::test]
async fn a_409_while_holding_the_claim_is_our_lost_answer_and_ours() {
    let atlas = FakeAtlas::default();
    lock(&atlas.services).push(crate::ports::fake_atlas::Service {
        service: service(SVC, ServiceStatus::Initiating, None, &[]),
        unlisted_for: 1,
    });
    let claims = FakeClaims::default();
    let out = ensure(&context(), &atlas, Some(&claims), &plain_work())
        .await
        .expect("adopted");
    assert_eq!((out.service_id.as_str(), out.created), (SVC, true));
    assert_eq!(
        claims.current().and_then(|h| h.service_id).as_deref(),
        Some(SVC),
        "recorded, so rollback removes it"
    );
}

#[tokio::test]
async fn a_live_service_our_claim_names_is_ours() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(
        SVC,
        ServiceStatus::WaitingForUser,
        Some(SERVICE),
        &[],
    ));
    let claims = FakeClaims::default();
    // An earlier attempt of this execution took the claim and lost the create's answer.
    claims.seed(EXECUTION, None, SystemTime::now());
    let out = ensure(&context(), &atlas, Some(&claims), &plain_work())
        .await
        .expect("adopted");
    assert!(out.created, "our claim says we made it");
    assert_eq!(creates(&atlas), 0);
    assert_eq!(
        claims.current().and_then(|h| h.service_id).as_deref(),
        Some(SVC)
    );
}

#[tokio::test]
async fn a_live_service_another_executions_claim_names_is_adopted_not_ours() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Available, Some(SERVICE), &[]));
    let claims = FakeClaims::default();
    claims.seed("provision-earlier", Some(SVC), SystemTime::now());
    let out = ensure(&context(), &atlas, Some(&claims), &plain_work())
        .await
        .expect("adopted");
    assert!(!out.created);
    assert_eq!(
        claims.calls(),
        [fake_claims::Call::Holder],
        "nothing recorded on another's claim"
    );
}

#[tokio::test]
async fn a_service_being_deleted_is_not_ready_and_nothing_is_created() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Deleting, None, &[]));
    let claims = FakeClaims::default();
    let err = ensure(&context(), &atlas, Some(&claims), &plain_work())
        .await
        .expect_err("being deleted");
    assert_eq!(err.name, ErrorName::EndpointServiceNotReady);
    assert!(err.message.contains(SVC), "{}", err.message);
    assert_eq!(creates(&atlas), 0);
    assert_eq!(claims.calls(), [], "no claim taken");
}

#[tokio::test]
async fn a_service_losing_its_last_link_is_not_adopted() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(SVC, ServiceStatus::Available, Some(SERVICE), &[]));
    atlas.seed_link(SVC, "vpce-0going", ConnectionStatus::Available);
    lock(&atlas.links)[0].interface.delete_requested = true;
    let err = ensure(&context(), &atlas, NO_CLAIMS, &plain_work())
        .await
        .expect_err("dying");
    assert_eq!(err.name, ErrorName::EndpointServiceNotReady);
    assert_eq!(creates(&atlas), 0);
}

#[tokio::test]
async fn a_failed_service_is_endpoint_service_failed() {
    let atlas = FakeAtlas::default();
    let mut failed = service(SVC, ServiceStatus::Failed, None, &[]);
    failed.error_message = Some("quota".into());
    atlas.seed_service(failed);
    let err = ensure(&context(), &atlas, NO_CLAIMS, &plain_work())
        .await
        .expect_err("failed");
    assert_eq!(err.name, ErrorName::EndpointServiceFailed);
    assert!(err.message.contains("quota"), "{}", err.message);
    assert_eq!(creates(&atlas), 0);
}

#[tokio::test]
async fn a_claim_another_execution_holds_stops_the_create() {
    let atlas = FakeAtlas::default();
    let claims = FakeClaims::default();
    claims.seed("provision-racing", None, SystemTime::now());
    let err = ensure(&context(), &atlas, Some(&claims), &plain_work())
        .await
        .expect_err("claimed");
    assert_eq!(err.name, ErrorName::EndpointServiceNotReady);
    assert!(err.message.contains("provision-racing"), "{}", err.message);
    assert_eq!(creates(&atlas), 0);
}

#[tokio::test]
async fn an_abandoned_claim_is_taken_over() {
    let atlas = FakeAtlas::default();
    let claims = FakeClaims::default();
    let now = context().clock.now();
    claims.seed(
        "provision-crashed",
        None,
        now - Duration::from_secs(16 * 60),
    );
    let out = ensure(&context(), &atlas, Some(&claims), &plain_work())
        .await
        .expect("created");
    assert!(out.created);
    assert_eq!(
        claims.current().map(|h| h.execution).as_deref(),
        Some(EXECUTION)
    );
}

#[tokio::test]
async fn an_atlas_outage_is_the_atlas_error() {
    let atlas = FakeAtlas::default();
    atlas.fail_next("ListEndpointServices", unavailable("listEndpointServices"));
    let err = ensure(&context(), &atlas, NO_CLAIMS, &plain_work())
        .await
        .expect_err("down");
    assert_eq!(err.name, ErrorName::AtlasUnavailable);
}

fn named_work() -> EndpointWork {
    let mut w = plain_work();
    w.service = Some(ServiceRef {
        service_id: SVC.into(),
        created: true,
        first_poll_after_seconds: 150,
    });
    w
}

#[tokio::test]
async fn a_ready_service_with_a_name_gives_it() {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(
        SVC,
        ServiceStatus::WaitingForUser,
        Some(SERVICE),
        &[],
    ));
    let out = service_name(&context(), &atlas, NO_CLAIMS, &named_work())
        .await
        .expect("named");
    assert_eq!(
        out,
        ServiceNameOut {
            endpoint_service_name: SERVICE.into(),
            status: "WAITING_FOR_USER".into(),
            remote_region_added: false,
        }
    );
    assert_eq!(atlas.calls(), [Call::GetEndpointService { id: SVC.into() }]);
}

#[tokio::test]
async fn a_failed_service_has_no_name_and_fails_the_step() {
    let atlas = FakeAtlas::default();
    let mut failed = service(SVC, ServiceStatus::Failed, None, &[]);
    failed.error_message = Some("no capacity".into());
    atlas.seed_service(failed);
    let err = service_name(&context(), &atlas, NO_CLAIMS, &named_work())
        .await
        .expect_err("failed");
    assert_eq!(err.name, ErrorName::EndpointServiceFailed);
    assert!(err.message.contains("no capacity"), "{}", err.message);
}

#[tokio::test]
async fn a_service_still_initiating_or_nameless_is_not_ready() {
    for (status, name) in [
        (ServiceStatus::Initiating, None),
        (ServiceStatus::Available, None),
        (ServiceStatus::Available, Some("")),
    ] {
        let atlas = FakeAtlas::default();
        atlas.seed_service(service(SVC, status.clone(), name, &[]));
        let err = service_name(&context(), &atlas, NO_CLAIMS, &named_work())
            .await
            .expect_err("not yet");
        assert_eq!(err.name, ErrorName::EndpointServiceNotReady, "{status}");
    }
}

// Cross-region: the VPC (us-west-2) links to the us-east-1 service, whose
// `supportedRemoteRegions` must list US_WEST_2.

fn cross_named_work() -> EndpointWork {
    cross_region(named_work())
}

/// A ready, named service listing `regions`.
fn listing(regions: &[&str]) -> FakeAtlas {
    let atlas = FakeAtlas::default();
    let mut s = service(SVC, ServiceStatus::Available, Some(SERVICE), &[]);
    s.supported_remote_regions = regions.iter().map(|r| (*r).to_owned()).collect();
    atlas.seed_service(s);
    atlas
}

fn patches(atlas: &FakeAtlas) -> Vec<Vec<String>> {
    atlas
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::UpdateRemoteRegions { id, regions } if id == SVC => Some(regions),
            _ => None,
        })
        .collect()
}

fn listed(atlas: &FakeAtlas) -> Vec<String> {
    lock(&atlas.services)[0]
        .service
        .supported_remote_regions
        .clone()
}

fn leases(claims: &FakeClaims) -> (usize, usize) {
    let calls = claims.calls();
    (
        calls
            .iter()
            .filter(|c| matches!(c, fake_claims::Call::TakeLease { .. }))
            .count(),
        calls
            .iter()
            .filter(|c| matches!(c, fake_claims::Call::ReleaseLease { .. }))
            .count(),
    )
}

#[tokio::test]
async fn a_cross_region_endpoint_adds_its_region_once_and_waits_for_the_update() {
    let atlas = listing(&[]);
    let claims = FakeClaims::default();
    let out = service_name(
        &context_with(Polling::default()),
        &atlas,
        Some(&claims),
        &cross_named_work(),
    )
    .await
    .expect("listed and ready");
    assert!(out.remote_region_added, "this execution's PATCH added it");
    assert_eq!(out.status, "AVAILABLE");
    assert_eq!(patches(&atlas), [vec![REMOTE_REGION.to_owned()]]);
    let get = || Call::GetEndpointService { id: SVC.into() };
    // Read, read under the lease, PATCH; then the update phase (INITIATING) is waited
    // through; then read, read under the lease: listed.
    assert_eq!(
        atlas.calls(),
        [
            get(),
            get(),
            Call::UpdateRemoteRegions {
                id: SVC.into(),
                regions: vec![REMOTE_REGION.into()]
            },
            get(),
            get(),
            get()
        ]
    );
    assert_eq!(claims.users_of(SVC, REMOTE_REGION), [KEY]);
    assert_eq!(leases(&claims), (2, 2), "a lease per write or final read");
    assert_eq!(claims.lease_of(SVC), None, "released");
}

#[tokio::test]
async fn a_cross_region_endpoint_keeps_the_regions_others_listed() {
    let atlas = listing(&["EU_WEST_1", "AP_SOUTHEAST_2"]);
    let claims = FakeClaims::default();
    service_name(
        &context_with(Polling::default()),
        &atlas,
        Some(&claims),
        &cross_named_work(),
    )
    .await
    .expect("listed");
    assert_eq!(
        patches(&atlas),
        [vec![
            "EU_WEST_1".to_owned(),
            "AP_SOUTHEAST_2".into(),
            REMOTE_REGION.into()
        ]]
    );
    assert_eq!(
        listed(&atlas),
        ["EU_WEST_1", "AP_SOUTHEAST_2", REMOTE_REGION]
    );
}

#[tokio::test]
async fn a_region_listed_already_is_not_patched_nor_reported_as_added() {
    let atlas = listing(&[REMOTE_REGION]);
    let claims = FakeClaims::default();
    let out = service_name(&context(), &atlas, Some(&claims), &cross_named_work())
        .await
        .expect("listed");
    assert!(!out.remote_region_added);
    assert!(patches(&atlas).is_empty());
    assert_eq!(
        claims.users_of(SVC, REMOTE_REGION),
        [KEY],
        "the request is registered as a user all the same"
    );
    assert_eq!(leases(&claims), (1, 1), "the final read is under the lease");
}

#[tokio::test]
async fn a_region_someone_removed_is_added_again() {
    let atlas = listing(&[]);
    let claims = FakeClaims::default();
    let work = cross_named_work();
    // One probe per invocation: the state machine's retries.
    let err = service_name(&context(), &atlas, Some(&claims), &work)
        .await
        .expect_err("added, not applied yet");
    assert_eq!(err.name, ErrorName::EndpointServiceNotReady);
    // A writer outside the product replaces the list without our region.
    lock(&atlas.services)[0].service.supported_remote_regions = vec!["EU_WEST_1".into()];
    lock(&atlas.updating).clear();
    let err = service_name(&context(), &atlas, Some(&claims), &work)
        .await
        .expect_err("added again");
    assert_eq!(err.name, ErrorName::EndpointServiceNotReady);
    lock(&atlas.updating).clear();
    let out = service_name(&context(), &atlas, Some(&claims), &work)
        .await
        .expect("listed");
    assert!(!out.remote_region_added, "added by an earlier invocation");
    assert_eq!(
        patches(&atlas),
        [
            vec![REMOTE_REGION.to_owned()],
            vec!["EU_WEST_1".to_owned(), REMOTE_REGION.into()]
        ]
    );
}

#[tokio::test]
async fn another_holders_lease_is_waited_for() {
    let atlas = listing(&[]);
    let claims = FakeClaims::default();
    let ctx = context();
    let until = ctx.clock.now() + Duration::from_secs(60);
    claims.seed_lease(SVC, "provision-other/ffff", until);
    let err = service_name(&ctx, &atlas, Some(&claims), &cross_named_work())
        .await
        .expect_err("leased");
    assert_eq!(err.name, ErrorName::EndpointServiceNotReady);
    assert!(
        err.message.contains("provision-other/ffff"),
        "{}",
        err.message
    );
    assert!(
        patches(&atlas).is_empty(),
        "nothing written under another's lease"
    );
    assert_eq!(leases(&claims), (1, 0), "not ours to release");

    // Polling: the lease runs out (its holder crashed) and ours follows.
    let ctx = context_with(Polling::default());
    claims.seed_lease(
        SVC,
        "provision-other/ffff",
        ctx.clock.now() + Duration::from_secs(60),
    );
    let started = ctx.clock.now();
    let out = service_name(&ctx, &atlas, Some(&claims), &cross_named_work())
        .await
        .expect("after the lease");
    assert!(out.remote_region_added);
    assert!(ctx.clock.now() >= started + Duration::from_secs(60));
    assert_eq!(patches(&atlas).len(), 1);
}

#[tokio::test]
async fn a_36th_region_is_refused_naming_the_service_region() {
    let full: Vec<String> = (0..35).map(|i| format!("REGION_{i:02}")).collect();
    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
    let atlas = listing(&refs);
    let claims = FakeClaims::default();
    let err = service_name(&context(), &atlas, Some(&claims), &cross_named_work())
        .await
        .expect_err("too many");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(
        err.message.starts_with("endpoints[0].serviceRegion:"),
        "{}",
        err.message
    );
    assert!(err.message.contains("35"), "{}", err.message);
    assert!(patches(&atlas).is_empty());
    assert_eq!(claims.lease_of(SVC), None, "released on the way out");
}

#[tokio::test]
async fn a_same_region_endpoint_touches_neither_the_list_nor_the_claims() {
    let atlas = listing(&["EU_WEST_1"]);
    let claims = FakeClaims::default();
    let out = service_name(&context(), &atlas, Some(&claims), &named_work())
        .await
        .expect("named");
    assert!(!out.remote_region_added);
    assert_eq!(atlas.calls(), [Call::GetEndpointService { id: SVC.into() }]);
    assert_eq!(claims.calls(), []);
}

#[tokio::test]
async fn without_a_claims_table_the_region_is_merged_without_a_lease() {
    let atlas = listing(&["EU_WEST_1"]);
    let out = service_name(
        &context_with(Polling::default()),
        &atlas,
        NO_CLAIMS,
        &cross_named_work(),
    )
    .await
    .expect("listed");
    assert!(out.remote_region_added);
    assert_eq!(
        patches(&atlas),
        [vec!["EU_WEST_1".to_owned(), REMOTE_REGION.into()]]
    );
}
