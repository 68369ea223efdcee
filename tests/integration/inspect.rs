//! inspect (and `atlas-privatelink plan`) on the local world: before a provisioning everything
//! is to be created; after the provision state machine ran, nothing is to do; then drift made
//! through the AWS SDK (an ingress rule revoked, the VPC endpoint deleted, the secret deleted)
//! shows up as what a provisioning would redo. Nothing is written by inspect.

use atlas_privatelink::machines::Machine;
use atlas_privatelink::plan::{PlanReport, plan, render};
use integration_tests::world::{World, assert_succeeded};
use privatelink_core::steps::{Action, Inspection, Resource};

/// Plans the world's request (validate, then inspect) and answers the inspection.
async fn inspect(w: &World) -> Inspection {
    match plan(&w.ctx, &w.request()).await {
        Ok(PlanReport::Inspected(inspection)) => *inspection,
        Ok(refused) => panic!("validate refused the request: {refused:?}"),
        Err(e) => panic!("plan failed: {e}"),
    }
}

/// The actions of endpoint 0's items of `resource`.
fn actions(seen: &Inspection, resource: Resource) -> Vec<Action> {
    seen.actions(0, resource)
}

/// EC2 through the world's AWS front (AWS's rules), in the world's region.
async fn front_ec2(w: &World) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&w.stack.sdk_config(&w.networks[0].region).await)
}

/// Provisions the world's request with the provision state machine and checks that inspect
/// then finds nothing to do.
async fn provisioned() -> World {
    let w = World::new(&["us-east-1"]).await;
    let before = inspect(&w).await;
    assert!(!before.in_sync);
    for item in &before.endpoints[0].items {
        assert_eq!(item.action, Action::Create, "{item:?}");
    }
    assert_eq!(before.secret.action, Action::Create);
    assert!(
        before.checks.iter().all(|c| c.passed),
        "{:?}",
        before.checks
    );
    assert_succeeded(&w.execute(Machine::Provision, w.request(), "up").await);
    let after = inspect(&w).await;
    assert!(
        after.in_sync,
        "{}",
        render(&PlanReport::Inspected(Box::new(after.clone())))
    );
    assert!(render(&PlanReport::Inspected(Box::new(after.clone()))).ends_with("nothing to do\n"));
    assert_eq!(after.results.len(), 1);
    assert!(after.results[0].vpc_endpoint.is_some());
    w
}

#[tokio::test]
async fn inspect_finds_a_revoked_rule_and_a_deleted_vpc_endpoint() {
    let w = provisioned().await;
    let ec2 = front_ec2(&w).await;
    let atlas_calls = w.atlas.sim.counters().requests("createInterfaceEndpoint");

    // The ingress rule of our group, revoked by hand.
    let group = w.our_security_groups(&w.networks[0]).await;
    let [group] = group.as_slice() else {
        panic!("one group of ours: {group:?}");
    };
    let described = ec2
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .expect("describe the group");
    let permissions = described.security_groups()[0].ip_permissions().to_vec();
    assert!(!permissions.is_empty());
    ec2.revoke_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(permissions))
        .send()
        .await
        .expect("revoke");
    let seen = inspect(&w).await;
    assert_eq!(actions(&seen, Resource::IngressRule), [Action::Create]);
    assert_eq!(actions(&seen, Resource::SecurityGroup), [Action::None]);
    assert_eq!(actions(&seen, Resource::VpcEndpoint), [Action::None]);
    assert!(!seen.in_sync && !seen.secret_only);

    // The VPC endpoint, deleted by hand: made again, linked again, the old link removed.
    let vpces = w.vpc_endpoints(&w.networks[0]).await;
    let [vpce] = vpces.as_slice() else {
        panic!("one VPC endpoint: {vpces:?}");
    };
    ec2.delete_vpc_endpoints()
        .vpc_endpoint_ids(vpce)
        .send()
        .await
        .expect("delete the VPC endpoint");
    let seen = inspect(&w).await;
    assert_eq!(actions(&seen, Resource::VpcEndpoint), [Action::Create]);
    assert_eq!(actions(&seen, Resource::Link), [Action::Create]);
    let stale: Vec<_> = seen.endpoints[0]
        .items
        .iter()
        .filter(|i| i.resource == Resource::StaleLink)
        .map(|i| (i.action, i.id.clone()))
        .collect();
    assert_eq!(stale, [(Action::Remove, Some(vpce.clone()))]);
    assert!(!seen.in_sync && !seen.secret_only);
    // Nothing was written by inspect.
    assert_eq!(
        w.atlas.sim.counters().requests("createInterfaceEndpoint"),
        atlas_calls
    );
    assert!(w.vpc_endpoints(&w.networks[0]).await.is_empty());
}

#[tokio::test]
async fn inspect_finds_a_deleted_secret_and_only_the_secret() {
    let w = provisioned().await;
    let versions = w.secret_versions().await;
    w.secrets(&w.networks[0].region)
        .await
        .delete_secret()
        .secret_id(w.secret_name())
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("schedule the secret's deletion");
    let seen = inspect(&w).await;
    assert_eq!(seen.secret.action, Action::Create, "{:?}", seen.secret);
    assert!(
        seen.secret
            .keys
            .contains(&"connectionStringPrivateSrv".to_owned()),
        "{:?}",
        seen.secret
    );
    assert!(seen.secret_only && !seen.in_sync);
    for item in &seen.endpoints[0].items {
        assert!(!item.action.changes(), "{item:?}");
    }
    // Still scheduled for deletion, with the versions it had: inspect restored nothing.
    let described = w
        .secrets(&w.networks[0].region)
        .await
        .describe_secret()
        .secret_id(w.secret_name())
        .send()
        .await
        .expect("describe");
    assert!(described.deleted_date().is_some());
    assert_eq!(w.secret_versions().await, versions);
}
