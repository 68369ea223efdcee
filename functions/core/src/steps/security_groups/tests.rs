//! The decisions of configure-security-groups against the in-memory EC2: adopt or create, the
//! `created` flag, the ingress sources and the groups to attach.

use super::*;
use crate::aws::ec2::{TAG_CREATED_BY, TAG_REQUEST_KEY};
use crate::ports::fake_ec2::{Call, FakeEc2};
use crate::ports::fixture::{EXECUTION, KEY, lock, work};
use crate::request::SecurityGroupSpec;

fn spec(create: bool, attach: &[&str], from_groups: &[&str], cidrs: &[&str]) -> SecurityGroupSpec {
    SecurityGroupSpec {
        create,
        allow_from_security_group_ids: from_groups.iter().map(|g| g.parse().expect("id")).collect(),
        allow_from_cidrs: cidrs.iter().map(|c| c.parse().expect("cidr")).collect(),
        attach_security_group_ids: attach.iter().map(|g| g.parse().expect("id")).collect(),
    }
}

fn creates(fake: &FakeEc2) -> usize {
    fake.count(|c| matches!(c, Call::CreateSecurityGroup { .. }))
}

fn ingress(fake: &FakeEc2) -> Vec<Call> {
    let calls = fake.calls();
    calls
        .into_iter()
        .filter(|c| matches!(c, Call::AllowAtlasPorts { .. }))
        .collect()
}

fn allowed(group: &str, groups: &[&str], cidrs: &[&str]) -> Call {
    Call::AllowAtlasPorts {
        group_id: group.into(),
        groups: groups.iter().map(|s| (*s).to_owned()).collect(),
        cidrs: cidrs.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn a_group_this_execution_made_is_found_and_still_ours() {
    let fake = FakeEc2::default();
    fake.seed_group("sg-0aaa1111", Some(EXECUTION), true);
    let out = configure(
        &fake,
        &work(SecurityGroupSpec::default(), &["subnet-0a000001"]),
    )
    .await
    .expect("configured");
    assert_eq!(out.own_group_id.as_deref(), Some("sg-0aaa1111"));
    assert!(
        out.created,
        "made by this execution: rollback must remove it"
    );
    assert_eq!(out.security_group_ids, ["sg-0aaa1111"]);
    assert_eq!(creates(&fake), 0, "{:?}", fake.calls());
    // The ingress is applied again: a retry after a crash between create and allow needs it.
    assert_eq!(
        ingress(&fake),
        [allowed("sg-0aaa1111", &[], &["10.0.0.0/16"])]
    );
}

#[tokio::test]
async fn a_group_another_execution_made_is_adopted_not_created() {
    let fake = FakeEc2::default();
    fake.seed_group("sg-0bbb2222", Some("provision-earlier"), true);
    let out = configure(
        &fake,
        &work(SecurityGroupSpec::default(), &["subnet-0a000001"]),
    )
    .await
    .expect("configured");
    assert_eq!(out.own_group_id.as_deref(), Some("sg-0bbb2222"));
    assert!(
        !out.created,
        "adopted: rollback of this execution must leave it"
    );
    assert_eq!(creates(&fake), 0);
}

#[tokio::test]
async fn no_group_yet_creates_one_with_our_tags_name_and_the_vpc_ingress() {
    let fake = FakeEc2::default();
    let out = configure(
        &fake,
        &work(spec(true, &["sg-0ccc3333"], &[], &[]), &["subnet-0a000001"]),
    )
    .await
    .expect("configured");
    let own = out.own_group_id.clone().expect("our group");
    assert!(out.created);
    assert_eq!(out.security_group_ids, [own.clone(), "sg-0ccc3333".into()]);
    let made: Vec<Call> = fake
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::CreateSecurityGroup { .. }))
        .collect();
    let [
        Call::CreateSecurityGroup {
            group_name,
            description,
            tags,
        },
    ] = made.as_slice()
    else {
        panic!("one create: {made:?}");
    };
    assert_eq!(group_name, &format!("atlas-privatelink-{KEY}"));
    assert!(description.contains("Cluster0"), "{description}");
    let tag = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(tag(TAG_CREATED_BY), Some(EXECUTION));
    assert_eq!(tag(TAG_REQUEST_KEY), Some(KEY));
    assert_eq!(tag("team"), Some("platform"), "the request's tags");
    assert_eq!(tag("Name"), Some(group_name.as_str()));
    assert_eq!(ingress(&fake), [allowed(&own, &[], &["10.0.0.0/16"])]);
}

#[tokio::test]
async fn given_sources_replace_the_vpc_cidrs() {
    let fake = FakeEc2::default();
    let only_groups = work(spec(true, &[], &["sg-0ddd4444"], &[]), &["subnet-0a000001"]);
    let out = configure(&fake, &only_groups).await.expect("configured");
    let own = out.own_group_id.expect("our group");
    let both = work(
        spec(true, &[], &["sg-0ddd4444"], &["192.168.0.0/24"]),
        &["subnet-0a000001"],
    );
    configure(&fake, &both).await.expect("configured again");
    assert_eq!(
        ingress(&fake),
        [
            allowed(&own, &["sg-0ddd4444"], &[]),
            allowed(&own, &["sg-0ddd4444"], &["192.168.0.0/24"]),
        ]
    );
}

#[tokio::test]
async fn a_create_that_meets_a_racing_runs_group_is_not_ours() {
    let fake = FakeEc2::default();
    // The racing run's group exists but is not listed yet: the find misses it, the create
    // meets its name.
    fake.seed_group("sg-0eee5555", Some("provision-racing"), false);
    let out = configure(
        &fake,
        &work(SecurityGroupSpec::default(), &["subnet-0a000001"]),
    )
    .await
    .expect("configured");
    assert_eq!(creates(&fake), 1);
    assert_eq!(out.own_group_id.as_deref(), Some("sg-0eee5555"));
    assert!(!out.created, "the racing run owns it");
    assert_eq!(lock(&fake.groups).len(), 1, "no second group");
}

#[tokio::test]
async fn no_group_to_create_or_attach_is_invalid_and_calls_nothing() {
    let fake = FakeEc2::default();
    let err = configure(
        &fake,
        &work(spec(false, &[], &[], &[]), &["subnet-0a000001"]),
    )
    .await
    .expect_err("nothing to attach");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(
        err.message.starts_with("endpoints[0].securityGroups:"),
        "{}",
        err.message
    );
    assert_eq!(fake.calls(), []);
}

#[tokio::test]
async fn attach_only_passes_the_given_groups_through() {
    let fake = FakeEc2::default();
    let out = configure(
        &fake,
        &work(
            spec(false, &["sg-0fff6666", "sg-0aaa7777"], &[], &[]),
            &["subnet-0a000001"],
        ),
    )
    .await
    .expect("configured");
    assert_eq!(out.security_group_ids, ["sg-0fff6666", "sg-0aaa7777"]);
    assert_eq!((out.own_group_id, out.created), (None, false));
    assert_eq!(fake.calls(), []);
}

#[tokio::test]
async fn a_group_without_id_is_aws_unavailable() {
    let fake = FakeEc2::default();
    fake.seed_group("", Some(EXECUTION), true);
    let err = configure(
        &fake,
        &work(SecurityGroupSpec::default(), &["subnet-0a000001"]),
    )
    .await
    .expect_err("no id");
    assert_eq!(err.name, ErrorName::AwsUnavailable);
    assert!(ingress(&fake).is_empty(), "no rule on a group without id");
}
