//! The decisions of link-endpoint and verify-endpoint against the in-memory Atlas and EC2:
//! link or adopt a link, wait for EC2, and what Atlas's terminal states become.

use atlas_api::models::ServiceStatus;

use super::*;
use crate::ports::fake_atlas::{Call, FakeAtlas, conflict, not_found, service};
use crate::ports::fake_ec2::{self, FakeEc2};
use crate::ports::fixture::{EXECUTION, SERVICE, context, lock, plain_work};
use crate::state::{ServiceRef, VpcEndpointOut};

const SVC: &str = "65a1b2c3d4e5f60718293a4b";
const VPCE: &str = "vpce-0ours";

fn atlas_with_service() -> FakeAtlas {
    let atlas = FakeAtlas::default();
    atlas.seed_service(service(
        SVC,
        ServiceStatus::WaitingForUser,
        Some(SERVICE),
        &[],
    ));
    atlas
}

/// EC2 with our endpoint in `state`.
fn ec2_with(state: &str) -> FakeEc2 {
    let ec2 = FakeEc2::default();
    ec2.seed_endpoint(VPCE, Some(EXECUTION));
    lock(&ec2.endpoints)[0].state = state.into();
    ec2
}

fn linked_work(link_created: Option<bool>) -> EndpointWork {
    let mut w = plain_work();
    w.service = Some(ServiceRef {
        service_id: SVC.into(),
        created: true,
        first_poll_after_seconds: 0,
    });
    w.vpc_endpoint = Some(VpcEndpointOut {
        vpc_endpoint_id: VPCE.into(),
        created: true,
        subnet_ids: Vec::new(),
    });
    w.link = link_created.map(|created| LinkOut {
        connection_status: "PENDING_ACCEPTANCE".into(),
        created,
        first_poll_after_seconds: 0,
    });
    w
}

#[tokio::test]
async fn a_new_link_is_created_and_ours() {
    let atlas = atlas_with_service();
    let ctx = context();
    let out = link(&ctx, &atlas, &linked_work(None), SVC, VPCE)
        .await
        .expect("linked");
    assert!(out.created);
    assert_eq!(out.connection_status, "PENDING_ACCEPTANCE");
    assert_eq!(
        out.first_poll_after_seconds,
        ctx.settings.polling.interface_min.as_secs()
    );
    assert_eq!(
        atlas.calls(),
        [Call::CreateInterfaceEndpoint {
            service_id: SVC.into(),
            vpce: VPCE.into()
        }],
        "one call on the usual path"
    );
}

#[tokio::test]
async fn a_link_that_exists_already_409_is_adopted_not_created() {
    let atlas = atlas_with_service();
    atlas.seed_link(SVC, VPCE, ConnectionStatus::Available);
    let out = link(&context(), &atlas, &linked_work(None), SVC, VPCE)
        .await
        .expect("adopted");
    assert_eq!(
        out,
        LinkOut {
            connection_status: "AVAILABLE".into(),
            created: false,
            first_poll_after_seconds: 0,
        }
    );
    assert_eq!(
        atlas.calls(),
        [
            Call::CreateInterfaceEndpoint {
                service_id: SVC.into(),
                vpce: VPCE.into()
            },
            Call::GetInterfaceEndpoint {
                service_id: SVC.into(),
                vpce: VPCE.into()
            }
        ]
    );
}

#[tokio::test]
async fn a_refusal_with_no_link_to_read_back_is_the_refusal() {
    let atlas = atlas_with_service();
    atlas.fail_next(
        "CreateInterfaceEndpoint",
        conflict("createInterfaceEndpoint", "SOMETHING_ELSE"),
    );
    let err = link(&context(), &atlas, &linked_work(None), SVC, VPCE)
        .await
        .expect_err("refused");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(err.message.contains("SOMETHING_ELSE"), "{}", err.message);
}

#[tokio::test]
async fn ec2_pending_is_waited_on_and_a_dead_or_missing_endpoint_is_rejected() {
    let pending = ec2_with("pending");
    let err = wait_until_created(&context(), &pending, VPCE)
        .await
        .expect_err("still pending");
    assert_eq!(err.name, ErrorName::InterfaceEndpointNotReady);
    for state in ["rejected", "failed"] {
        let err = wait_until_created(&context(), &ec2_with(state), VPCE)
            .await
            .expect_err("dead");
        assert_eq!(err.name, ErrorName::InterfaceEndpointRejected, "{state}");
    }
    let err = wait_until_created(&context(), &FakeEc2::default(), VPCE)
        .await
        .expect_err("missing");
    assert_eq!(err.name, ErrorName::InterfaceEndpointRejected);
    wait_until_created(&context(), &ec2_with("pendingAcceptance"), VPCE)
        .await
        .expect("out of pending: Atlas may accept it");
    assert_eq!(
        pending.calls(),
        [fake_ec2::Call::DescribeVpcEndpoint { id: VPCE.into() }]
    );
}

#[tokio::test]
async fn both_sides_up_is_verified_and_a_link_made_now_waits_for_the_cluster() {
    let atlas = atlas_with_service();
    atlas.seed_link(SVC, VPCE, ConnectionStatus::Available);
    let ec2 = ec2_with("available");
    let ctx = context();
    let adopted = verify(&ctx, &atlas, &ec2, &linked_work(Some(false)), SVC, VPCE)
        .await
        .expect("verified");
    assert_eq!(
        adopted,
        VerifyOut {
            connection_status: "AVAILABLE".into(),
            vpc_endpoint_state: "available".into(),
            cluster_poll_after_seconds: 0,
        }
    );
    let made = verify(&ctx, &atlas, &ec2, &linked_work(Some(true)), SVC, VPCE)
        .await
        .expect("verified");
    assert_eq!(
        made.cluster_poll_after_seconds,
        ctx.settings.polling.cluster_update_min.as_secs()
    );
}

#[tokio::test]
async fn a_rejected_link_is_interface_endpoint_rejected() {
    let atlas = atlas_with_service();
    atlas.seed_link(SVC, VPCE, ConnectionStatus::Rejected);
    let err = verify(
        &context(),
        &atlas,
        &ec2_with("pendingAcceptance"),
        &linked_work(Some(true)),
        SVC,
        VPCE,
    )
    .await
    .expect_err("rejected");
    assert_eq!(err.name, ErrorName::InterfaceEndpointRejected);
}

#[tokio::test]
async fn a_link_failed_while_aws_was_busy_is_removed_for_a_relink_when_others_keep_the_service() {
    let atlas = atlas_with_service();
    atlas.seed_link(SVC, "vpce-0other", ConnectionStatus::Available);
    atlas.seed_link(SVC, VPCE, ConnectionStatus::Failed);
    lock(&atlas.links)[1].interface.error_message =
        Some("an idempotent operation is in progress".into());
    let err = verify(
        &context(),
        &atlas,
        &ec2_with("available"),
        &linked_work(Some(true)),
        SVC,
        VPCE,
    )
    .await
    .expect_err("not yet: being relinked");
    assert_eq!(err.name, ErrorName::InterfaceEndpointNotReady);
    assert_eq!(
        atlas.count(|c| matches!(c, Call::DeleteInterfaceEndpoint { vpce, .. } if vpce == VPCE)),
        1
    );
}

#[tokio::test]
async fn the_only_link_of_a_service_is_not_removed_and_fails_the_step() {
    let atlas = atlas_with_service();
    atlas.seed_link(SVC, VPCE, ConnectionStatus::Failed);
    lock(&atlas.links)[0].interface.error_message =
        Some("an idempotent operation is in progress".into());
    let err = verify(
        &context(),
        &atlas,
        &ec2_with("available"),
        &linked_work(Some(true)),
        SVC,
        VPCE,
    )
    .await
    .expect_err("failed");
    assert_eq!(err.name, ErrorName::InterfaceEndpointFailed);
    assert_eq!(
        atlas.count(|c| matches!(c, Call::DeleteInterfaceEndpoint { .. })),
        0,
        "removing it would remove the service"
    );
}

#[tokio::test]
async fn a_link_atlas_does_not_know_outside_a_relink_fails_the_step() {
    let atlas = atlas_with_service();
    atlas.fail_next("GetInterfaceEndpoint", not_found("getInterfaceEndpoint"));
    let err = verify(
        &context(),
        &atlas,
        &ec2_with("available"),
        &linked_work(Some(true)),
        SVC,
        VPCE,
    )
    .await
    .expect_err("the 404 ends the step");
    // A 404 outside a relink is no `…NotReady`: the step fails with it.
    assert_eq!(err.name, ErrorName::InvalidRequest);
}
