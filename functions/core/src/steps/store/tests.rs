//! The decisions of store-connection-strings against the in-memory Secrets Manager and Atlas:
//! whose secret it is, create or new version or nothing, and when the strings are ready.

use super::*;
use crate::aws::secrets::{TAG_CREATED_BY, TAG_OWNER, content_token};
use crate::ports::fake_atlas::FakeAtlas;
use crate::ports::fake_secrets::{Call, FakeSecrets, Secret, arn};
use crate::ports::fixture::{EXECUTION, context, lock, plain_work, state};
use crate::state::{EndpointResult, VpcEndpointOut};

const VPCE: &str = "vpce-0ours";
const CONTENT: &str = r#"{"connectionStringPrivateSrv":"mongodb+srv://pl"}"#;

/// The execution state after its endpoint made `VPCE`.
fn stored_state() -> ExecutionState {
    let mut result: EndpointResult = plain_work().result;
    result.vpc_endpoint = Some(VpcEndpointOut {
        vpc_endpoint_id: VPCE.into(),
        created: true,
        subnet_ids: Vec::new(),
    });
    state(result)
}

fn name(s: &ExecutionState) -> String {
    s.request.secret.name.to_string()
}

#[tokio::test]
async fn an_absent_secret_is_created_with_our_owner_and_created_by_tags() {
    let secrets = FakeSecrets::default();
    let s = stored_state();
    let written = write_secret(&secrets, &s, CONTENT).await.expect("written");
    assert!(written.created);
    assert_eq!(written.arn, arn(&name(&s)));
    let writes = secrets.writes();
    let [
        Call::Create {
            name: made,
            content,
            token,
            tags,
        },
    ] = writes.as_slice()
    else {
        panic!("one create: {writes:?}");
    };
    assert_eq!(made, &name(&s));
    assert_eq!(content, CONTENT);
    assert_eq!(token, &content_token(CONTENT, None));
    let tag = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(tag(TAG_OWNER), Some(s.request.owner_key().as_str()));
    assert_eq!(tag(TAG_CREATED_BY), Some(EXECUTION));
    assert_eq!(tag("team"), Some("platform"), "the request's tags");
    assert_eq!(tag("atlas-privatelink:cluster"), Some("Cluster0"));
}

#[tokio::test]
async fn another_requests_secret_is_refused_and_nothing_is_written() {
    let secrets = FakeSecrets::default();
    let s = stored_state();
    secrets.seed(Secret::new(
        &name(&s),
        &[
            (TAG_OWNER, "someone-else"),
            (TAG_CREATED_BY, "provision-other"),
        ],
        "theirs",
    ));
    let err = write_secret(&secrets, &s, CONTENT)
        .await
        .expect_err("refused");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(err.message.starts_with("secret.name:"), "{}", err.message);
    assert!(err.message.contains("someone-else"), "{}", err.message);
    assert_eq!(secrets.writes(), []);
}

#[tokio::test]
async fn the_same_content_makes_no_new_version() {
    let secrets = FakeSecrets::default();
    let s = stored_state();
    let owner = s.request.owner_key();
    secrets.seed(Secret::new(
        &name(&s),
        &[(TAG_OWNER, &owner), (TAG_CREATED_BY, "provision-earlier")],
        CONTENT,
    ));
    let written = write_secret(&secrets, &s, CONTENT).await.expect("written");
    assert_eq!(written.version_id, "v0", "the current version");
    assert!(!written.created, "an earlier execution created it");
    assert_eq!(secrets.writes(), []);
}

#[tokio::test]
async fn new_content_is_a_new_version_whose_token_names_the_version_it_replaces() {
    let secrets = FakeSecrets::default();
    let s = stored_state();
    let owner = s.request.owner_key();
    secrets.seed(Secret::new(
        &name(&s),
        &[(TAG_OWNER, &owner), (TAG_CREATED_BY, EXECUTION)],
        "old",
    ));
    let written = write_secret(&secrets, &s, CONTENT).await.expect("written");
    assert!(written.created, "this execution created it earlier");
    assert_eq!(written.version_id, "v1");
    assert_eq!(
        secrets.writes(),
        [Call::Put {
            arn: arn(&name(&s)),
            content: CONTENT.into(),
            token: content_token(CONTENT, Some("v0")),
        }]
    );
}

#[tokio::test]
async fn a_secret_without_owner_is_taken_and_one_scheduled_for_deletion_restored() {
    let secrets = FakeSecrets::default();
    let s = stored_state();
    let mut old = Secret::new(&name(&s), &[], CONTENT);
    old.deleted = true;
    secrets.seed(old);
    write_secret(&secrets, &s, CONTENT).await.expect("written");
    let secret_arn = arn(&name(&s));
    assert_eq!(
        secrets.writes(),
        [
            Call::TagOwner {
                arn: secret_arn.clone(),
                owner: s.request.owner_key()
            },
            Call::Restore { arn: secret_arn }
        ]
    );
}

/// A replica set in `state` with one private string set through `vpces`, as Atlas answers it.
fn cluster(state: ClusterState, vpces: &[&str]) -> Cluster {
    let endpoints: Vec<Value> = vpces
        .iter()
        .map(|id| json!({"endpointId": id, "providerName": "AWS", "region": "US_EAST_1"}))
        .collect();
    serde_json::from_value(json!({
        "name": "Cluster0",
        "stateName": state.as_str(),
        "clusterType": "REPLICASET",
        "connectionStrings": {"privateEndpoint": [{
            "srvConnectionString": "mongodb+srv://pl",
            "type": "MONGOD",
            "endpoints": endpoints,
        }]},
    }))
    .expect("a valid cluster")
}

#[tokio::test]
async fn strings_are_not_ready_until_the_cluster_is_idle_with_our_endpoint() {
    let s = stored_state();
    let ids = vec![VPCE.to_owned()];
    for (state, vpces) in [
        (ClusterState::Updating, &[VPCE][..]),
        (ClusterState::Idle, &["vpce-0other"][..]),
    ] {
        let atlas = FakeAtlas::default();
        *lock(&atlas.cluster) = Some(cluster(state.clone(), vpces));
        let err = connection_strings(&context(), &atlas, &s.request, &ids, None)
            .await
            .expect_err("not yet");
        assert_eq!(err.name, ErrorName::ConnectionStringsNotReady, "{state}");
    }
    let atlas = FakeAtlas::default();
    *lock(&atlas.cluster) = Some(cluster(ClusterState::Idle, &[VPCE]));
    let (content, sets) = connection_strings(&context(), &atlas, &s.request, &ids, None)
        .await
        .expect("ready");
    assert_eq!(sets, 1);
    let doc: Value = serde_json::from_str(&content).expect("JSON");
    assert_eq!(doc["connectionStringPrivateSrv"], "mongodb+srv://pl");
    assert_eq!(doc["vpcEndpointIds"], VPCE);
}

#[test]
fn an_endpoint_without_its_vpc_endpoint_is_a_skipped_step() {
    let mut s = stored_state();
    assert_eq!(endpoint_ids(&s).expect("one"), [VPCE]);
    s.endpoints[0].vpc_endpoint = None;
    let err = endpoint_ids(&s).expect_err("none");
    assert_eq!(err.name, ErrorName::InvalidRequest);
}

#[tokio::test]
async fn the_database_user_needs_a_username_and_a_password() {
    let arn_id = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
    let secrets = FakeSecrets::default();
    let mut user = Secret::new("db", &[], r#"{"username":"app","password":"pw"}"#);
    user.arn = arn_id.into();
    secrets.seed(user);
    assert_eq!(
        read_database_user(&secrets, arn_id).await.expect("read"),
        ("app".to_owned(), "pw".to_owned())
    );
    lock(&secrets.secrets)[0].versions[0].1 = r#"{"username":"app"}"#.into();
    let err = read_database_user(&secrets, arn_id)
        .await
        .expect_err("no password");
    assert!(
        err.message
            .starts_with("secret.databaseUserSecretArn: the secret has no string `password`"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("app\""), "no secret value in errors");
}

#[test]
fn the_stored_request_is_in_provision_mode_and_parses_back() {
    let mut request = stored_state().request;
    request.mode = crate::request::Mode::Verify;
    request.force = true;
    let text = stored_request(&request);
    let back = crate::request::parse_request(&serde_json::from_str(&text).expect("JSON"))
        .expect("a valid request");
    assert_eq!(back.mode, crate::request::Mode::Provision);
    assert!(!back.force);
    assert_eq!(back.owner_key(), request.owner_key());
}

#[test]
fn phase_durations_come_from_the_state_machines_times() {
    use std::time::{Duration, SystemTime};
    let times = PhaseTimes {
        started_at: Some("2026-12-01T10:00:00Z".into()),
        validated_at: Some("2026-12-01T10:00:02.5Z".into()),
    };
    let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_119_200 + s);
    let d = phase_durations(Some(&times), at(300), at(310)).expect("all times");
    assert_eq!(d.validate_seconds, 2.5);
    assert_eq!(d.endpoints_seconds, 297.5);
    assert_eq!(d.connection_strings_seconds, 10.0);
    assert_eq!(d.total_seconds, 310.0);
    let missing = PhaseTimes {
        validated_at: None,
        ..times
    };
    assert_eq!(phase_durations(Some(&missing), at(300), at(310)), None);
    assert_eq!(phase_durations(None, at(300), at(310)), None);
}
#[test]
fn replaced_endpoints_are_those_the_secret_listed_and_no_longer_does() {
    let previous = r#"{"vpcEndpointIds":"vpce-0old,vpce-0ours"}"#;
    assert_eq!(
        replaced_endpoints(Some(previous), &[VPCE.to_owned()]),
        ["vpce-0old"]
    );
    assert!(replaced_endpoints(Some(previous), &["vpce-0old".into(), VPCE.into()]).is_empty());
    assert!(replaced_endpoints(None, &[VPCE.to_owned()]).is_empty());
    assert!(replaced_endpoints(Some("not json"), &[VPCE.to_owned()]).is_empty());
}

#[tokio::test]
async fn the_link_of_a_replaced_endpoint_is_removed_where_it_is_found() {
    use crate::ports::fake_atlas::Call as AtlasCall;
    use crate::state::ServiceRef;
    use atlas_api::models::ConnectionStatus;
    let atlas = FakeAtlas::default();
    atlas.seed_link("svc-b", "vpce-0old", ConnectionStatus::Available);
    let mut s = stored_state();
    let service = |id: &str| ServiceRef {
        service_id: id.into(),
        created: false,
        first_poll_after_seconds: 0,
    };
    s.endpoints[0].service = Some(service("svc-a"));
    let mut second = s.endpoints[0].clone();
    second.service = Some(service("svc-b"));
    s.endpoints.push(second);
    let previous = r#"{"vpcEndpointIds":"vpce-0old,vpce-0ours"}"#;
    let unlinked = unlink_replaced(&atlas, &s, Some(previous), &[VPCE.to_owned()])
        .await
        .expect("unlinked");
    assert_eq!(unlinked, [("svc-b".to_owned(), "vpce-0old".to_owned())]);
    assert_eq!(
        atlas.writes(),
        [AtlasCall::DeleteInterfaceEndpoint {
            service_id: "svc-b".into(),
            vpce: "vpce-0old".into()
        }]
    );
    // Nothing replaced: no Atlas call at all.
    let quiet = FakeAtlas::default();
    let none = unlink_replaced(
        &quiet,
        &s,
        Some(previous),
        &["vpce-0old".into(), VPCE.into()],
    )
    .await
    .expect("nothing");
    assert!(none.is_empty() && quiet.calls().is_empty());
}
