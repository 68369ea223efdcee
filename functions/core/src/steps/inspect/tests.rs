//! inspect against the in-memory Atlas, EC2 and Secrets Manager: a fresh request, a provisioned
//! one, and each kind of drift; never a write.

use atlas_api::models::{Cluster, ClusterState, ConnectionStatus, ServiceStatus};
use serde_json::{Value, json};

use super::*;
use crate::aws::secrets::{TAG_CREATED_BY, TAG_OWNER};
use crate::ports::fake_atlas::{FakeAtlas, service};
use crate::ports::fake_ec2::{Endpoint, FakeEc2};
use crate::ports::fake_secrets::{FakeSecrets, Secret, arn};
use crate::ports::fixture::{EXECUTION, KEY, PROJECT, SERVICE, VPC, lock, work};
use crate::request::SecurityGroupSpec;
use crate::steps::secret_content;

const SERVICE_ID: &str = "5f1d3a2b4c6e8f0a1b2c3d4f";
const VPCE: &str = "vpce-0ours";
const GROUP: &str = "sg-0own";
const DB_USER: &str = "orders-db-user";
const PASSWORD: &str = "correct-horse-battery";
const ROTATED: &str = "staple-rotated-2026";
const A1: &str = "subnet-0a000001";
const B1: &str = "subnet-0b000001";
const QUOTA: usize = 50;

/// The plan of one endpoint in [`VPC`] (us-east-1, our group from its CIDR), with a database
/// user secret.
fn plan() -> Plan {
    let endpoint = work(SecurityGroupSpec::default(), &[A1, B1])
        .result
        .endpoint;
    let request = json!({
        "atlas": { "projectId": PROJECT, "clusterName": "Cluster0" },
        "aws": {},
        "endpoints": [{ "region": "us-east-1", "vpcId": VPC, "subnetIds": [A1, B1] }],
        "secret": { "databaseUserSecretArn": arn(DB_USER) },
        "tags": { "team": "platform" }
    });
    serde_json::from_value(json!({
        "execution": EXECUTION,
        "request": request,
        "endpoints": [endpoint],
    }))
    .expect("a plan")
}

/// The cluster, `IDLE` or not, publishing strings for `vpces`.
fn cluster(state: ClusterState, vpces: &[&str]) -> Cluster {
    let endpoints: Vec<Value> = vpces
        .iter()
        .map(|id| json!({"endpointId": id, "providerName": "AWS", "region": "US_EAST_1"}))
        .collect();
    let private: Vec<Value> = if vpces.is_empty() {
        Vec::new()
    } else {
        vec![json!({
            "connectionString": "mongodb://pl-0-us-east-1.example.mongodb.net:1024",
            "srvConnectionString": "mongodb+srv://cluster0-pl-0.example.mongodb.net",
            "type": "MONGOD",
            "endpoints": endpoints,
        })]
    };
    serde_json::from_value(json!({
        "name": "Cluster0",
        "stateName": state.as_str(),
        "clusterType": "REPLICASET",
        "replicationSpecs": [{"regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1"}]}],
        "connectionStrings": {"privateEndpoint": private},
    }))
    .expect("a valid cluster")
}

/// The three fakes and the plan.
struct World {
    atlas: FakeAtlas,
    ec2: FakeEc2,
    secrets: FakeSecrets,
    plan: Plan,
}

impl World {
    /// Before any provisioning: the cluster, the VPC's subnets, the database user.
    fn fresh() -> Self {
        let w = World {
            atlas: FakeAtlas::default(),
            ec2: FakeEc2::default(),
            secrets: FakeSecrets::default(),
            plan: plan(),
        };
        *lock(&w.atlas.cluster) = Some(cluster(ClusterState::Idle, &[]));
        *lock(&w.ec2.zones) = vec!["us-east-1a".into(), "us-east-1b".into()];
        w.ec2.seed_subnet(A1, "us-east-1a");
        w.ec2.seed_subnet(B1, "us-east-1b");
        w.seed_db_user(PASSWORD);
        w
    }

    /// After a provisioning: every piece, and the secret as store wrote it.
    fn provisioned() -> Self {
        let w = Self::fresh();
        w.atlas.seed_service(service(
            SERVICE_ID,
            ServiceStatus::Available,
            Some(SERVICE),
            &[],
        ));
        w.atlas
            .seed_link(SERVICE_ID, VPCE, ConnectionStatus::Available);
        *lock(&w.atlas.cluster) = Some(cluster(ClusterState::Idle, &[VPCE]));
        w.ec2.seed_group(GROUP, Some(EXECUTION), true);
        lock(&w.ec2.rules).push((GROUP.into(), "10.0.0.0/16".into()));
        lock(&w.ec2.endpoints).push(Endpoint {
            security_group_ids: vec![GROUP.into()],
            ..Endpoint::new(VPCE, Some(EXECUTION))
        });
        let content = w.content(PASSWORD);
        w.secrets.seed(Secret::new(
            &w.secret_name(),
            &[
                (TAG_OWNER, w.plan.request.owner_key().as_str()),
                (TAG_CREATED_BY, EXECUTION),
            ],
            &content,
        ));
        w
    }

    fn seed_db_user(&self, password: &str) {
        lock(&self.secrets.secrets).retain(|s| s.name != DB_USER);
        self.secrets.seed(Secret::new(
            DB_USER,
            &[],
            &json!({"username": "app", "password": password}).to_string(),
        ));
    }

    fn secret_name(&self) -> String {
        self.plan.request.secret.name.to_string()
    }

    /// What store would write with `password`.
    fn content(&self, password: &str) -> String {
        let cluster = lock(&self.atlas.cluster).clone().expect("a cluster");
        let (doc, _) = secret_content(
            &self.plan.request,
            &cluster,
            &[VPCE.to_owned()],
            Some(("app".into(), password.into())),
        )
        .expect("content");
        Value::Object(doc).to_string()
    }

    /// Runs inspect with `quota`, and checks that it wrote nothing and leaked no password.
    async fn inspect_with_quota(&self, quota: usize) -> Inspection {
        let ports = Ports {
            atlas: &self.atlas,
            ec2s: std::slice::from_ref(&self.ec2),
            secrets: &self.secrets,
            db_user_secrets: None,
        };
        let seen = inspect_with(&ports, &self.plan, quota)
            .await
            .expect("inspected");
        assert_eq!(self.atlas.writes(), [], "no Atlas write");
        assert_eq!(self.ec2.writes(), [], "no EC2 write");
        assert_eq!(self.secrets.writes(), [], "no Secrets Manager write");
        let text = serde_json::to_string(&seen).expect("JSON");
        for secret in [PASSWORD, ROTATED] {
            assert!(!text.contains(secret), "a password in the output: {text}");
        }
        seen
    }

    async fn inspect(&self) -> Inspection {
        self.inspect_with_quota(QUOTA).await
    }
}

/// The items of endpoint 0 as (resource, action, id).
fn items(seen: &Inspection) -> Vec<(Resource, Action, Option<String>)> {
    seen.endpoints[0]
        .items
        .iter()
        .map(|i| (i.resource, i.action, i.id.clone()))
        .collect()
}

fn action_of(seen: &Inspection, resource: Resource) -> Vec<Action> {
    seen.actions(0, resource)
}

fn check(seen: &Inspection, name: CheckName) -> &Check {
    seen.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name:?}: {:?}", seen.checks))
}

#[tokio::test]
async fn a_fresh_request_creates_every_piece() {
    let w = World::fresh();
    let seen = w.inspect().await;
    assert!(!seen.in_sync && !seen.secret_only);
    let resources: Vec<Resource> = items(&seen).iter().map(|(r, _, _)| *r).collect();
    assert_eq!(
        resources,
        [
            Resource::EndpointService,
            Resource::SecurityGroup,
            Resource::IngressRule,
            Resource::VpcEndpoint,
            Resource::VpcEndpointSecurityGroup,
            Resource::Link,
        ]
    );
    for (resource, action, _) in items(&seen) {
        assert_eq!(action, Action::Create, "{resource:?}");
    }
    assert_eq!(
        seen.endpoints[0].items[2].id.as_deref(),
        Some("10.0.0.0/16")
    );
    assert_eq!(seen.secret.action, Action::Create);
    assert_eq!(seen.secret.name, w.secret_name());
    assert!(
        seen.secret.detail.contains("endpoints[0]"),
        "{}",
        seen.secret.detail
    );
    for c in &seen.checks {
        assert!(c.passed, "{c:?}");
    }
    assert!(
        check(&seen, CheckName::AvailabilityZones)
            .detail
            .contains("not checked")
    );
    assert_eq!(seen.results.len(), 1);
    assert_eq!(seen.results[0].service, None);
    assert_eq!(seen.results[0].vpc_endpoint, None);
}

#[tokio::test]
async fn a_provisioned_request_is_in_sync_and_its_results_are_what_store_reads() {
    let w = World::provisioned();
    let seen = w.inspect().await;
    for item in &seen.endpoints[0].items {
        assert_eq!(item.action, Action::None, "{item:?}");
    }
    assert_eq!(
        items(&seen)
            .into_iter()
            .map(|(r, _, id)| (r, id))
            .collect::<Vec<_>>(),
        [
            (Resource::EndpointService, Some(SERVICE_ID.to_owned())),
            (Resource::SecurityGroup, Some(GROUP.to_owned())),
            (Resource::IngressRule, Some("10.0.0.0/16".to_owned())),
            (Resource::VpcEndpoint, Some(VPCE.to_owned())),
            (Resource::VpcEndpointSecurityGroup, Some(GROUP.to_owned())),
            (Resource::Link, Some(VPCE.to_owned())),
        ]
    );
    assert_eq!(seen.secret.action, Action::None, "{:?}", seen.secret);
    assert!(seen.secret.keys.is_empty());
    assert!(seen.in_sync, "{seen:#?}");
    assert!(!seen.secret_only);
    let result = &seen.results[0];
    assert_eq!(result.endpoint.request_key, KEY);
    let service = result.service.as_ref().expect("service");
    assert_eq!(
        (service.service_id.as_str(), service.created),
        (SERVICE_ID, false)
    );
    let vpce = result.vpc_endpoint.as_ref().expect("vpc endpoint");
    assert_eq!((vpce.vpc_endpoint_id.as_str(), vpce.created), (VPCE, false));
    let groups = result.security_groups.as_ref().expect("groups");
    assert_eq!(groups.own_group_id.as_deref(), Some(GROUP));
    assert!(!groups.created);
    assert!(!result.link.as_ref().expect("link").created);
    assert_eq!(
        result
            .service_name
            .as_ref()
            .map(|s| s.endpoint_service_name.as_str()),
        Some(SERVICE)
    );
    assert!(result.verified.is_some());
    // Few Atlas calls: one list, one cluster read, one link read.
    assert_eq!(w.atlas.calls().len(), 3, "{:?}", w.atlas.calls());
    // The JSON the state machine reads.
    let json = serde_json::to_value(&seen).expect("JSON");
    assert_eq!(json["inSync"], true);
    assert_eq!(json["secretOnly"], false);
    assert_eq!(json["endpoints"][0]["items"][3]["resource"], "vpcEndpoint");
    assert_eq!(json["endpoints"][0]["items"][3]["action"], "none");
    assert_eq!(json["endpoints"][0]["serviceRegion"], "us-east-1");
    assert_eq!(json["checks"][0]["name"], "oneServicePerRegion");
    assert_eq!(json["results"][0]["vpcEndpoint"]["created"], false);
    let back: Inspection = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, seen);
}

#[tokio::test]
async fn a_deleted_ingress_rule_is_to_be_added_again() {
    let w = World::provisioned();
    lock(&w.ec2.rules).clear();
    let seen = w.inspect().await;
    assert_eq!(action_of(&seen, Resource::IngressRule), [Action::Create]);
    assert_eq!(action_of(&seen, Resource::SecurityGroup), [Action::None]);
    assert_eq!(action_of(&seen, Resource::VpcEndpoint), [Action::None]);
    assert_eq!(seen.secret.action, Action::None);
    assert!(!seen.in_sync && !seen.secret_only);
}

#[tokio::test]
async fn a_deleted_vpc_endpoint_is_made_again_linked_and_its_stale_link_removed() {
    let w = World::provisioned();
    lock(&w.ec2.endpoints)[0].state = "deleted".into();
    let seen = w.inspect().await;
    assert_eq!(action_of(&seen, Resource::VpcEndpoint), [Action::Create]);
    assert_eq!(action_of(&seen, Resource::Link), [Action::Create]);
    assert_eq!(
        action_of(&seen, Resource::VpcEndpointSecurityGroup),
        [Action::Create]
    );
    let stale: Vec<_> = items(&seen)
        .into_iter()
        .filter(|(r, _, _)| *r == Resource::StaleLink)
        .collect();
    assert_eq!(
        stale,
        [(Resource::StaleLink, Action::Remove, Some(VPCE.to_owned()))]
    );
    assert_eq!(seen.secret.action, Action::Update);
    assert!(!seen.in_sync && !seen.secret_only);
    assert_eq!(seen.results[0].vpc_endpoint, None);
}

#[tokio::test]
async fn a_rejected_vpc_endpoint_counts_as_missing() {
    let w = World::provisioned();
    lock(&w.ec2.endpoints)[0].state = "rejected".into();
    let seen = w.inspect().await;
    let vpce = seen.endpoints[0]
        .items
        .iter()
        .find(|i| i.resource == Resource::VpcEndpoint)
        .expect("item");
    assert_eq!(vpce.action, Action::Create);
    assert!(
        vpce.detail.contains("vpce-0ours is rejected"),
        "{}",
        vpce.detail
    );
    // The rejected one does not count against the quota.
    assert!(
        check(&seen, CheckName::InterfaceEndpointQuota)
            .detail
            .contains("has 0 interface endpoints, 1 with the one to create"),
        "{:?}",
        seen.checks
    );
}

#[tokio::test]
async fn a_deleted_secret_is_the_only_thing_to_do() {
    let w = World::provisioned();
    let name = w.secret_name();
    lock(&w.secrets.secrets)
        .iter_mut()
        .filter(|s| s.name == name)
        .for_each(|s| s.deleted = true);
    let seen = w.inspect().await;
    assert_eq!(seen.secret.action, Action::Create);
    assert!(
        seen.secret
            .keys
            .contains(&"connectionStringPrivateSrv".to_owned())
    );
    assert!(seen.secret.keys.contains(&"password".to_owned()));
    assert!(seen.secret_only && !seen.in_sync);

    // Gone altogether: the same.
    lock(&w.secrets.secrets).retain(|s| s.name != name);
    let seen = w.inspect().await;
    assert_eq!(seen.secret.action, Action::Create);
    assert!(seen.secret_only && !seen.in_sync);
    assert_eq!(
        seen.results[0]
            .vpc_endpoint
            .as_ref()
            .map(|v| v.vpc_endpoint_id.as_str()),
        Some(VPCE)
    );
}

#[tokio::test]
async fn a_rotated_password_changes_only_the_password_key() {
    let w = World::provisioned();
    w.seed_db_user(ROTATED);
    let seen = w.inspect().await;
    assert_eq!(seen.secret.action, Action::Update);
    assert_eq!(seen.secret.keys, ["password"]);
    assert!(seen.secret_only && !seen.in_sync);
}

#[tokio::test]
async fn content_changed_by_hand_names_the_changed_and_extra_keys() {
    let w = World::provisioned();
    let name = w.secret_name();
    let mut doc: Value = serde_json::from_str(&w.content(PASSWORD)).expect("JSON");
    doc["connectionStringPrivateSrv"] = json!("mongodb+srv://elsewhere");
    doc["note"] = json!("added by hand");
    lock(&w.secrets.secrets)
        .iter_mut()
        .filter(|s| s.name == name)
        .for_each(|s| {
            s.versions
                .push(("v1".into(), doc.to_string(), "hand".into()))
        });
    let seen = w.inspect().await;
    assert_eq!(seen.secret.keys, ["connectionStringPrivateSrv", "note"]);
    assert!(seen.secret_only);
}

#[tokio::test]
async fn a_cluster_that_is_not_idle_is_named_in_the_secret_detail() {
    let w = World::provisioned();
    *lock(&w.atlas.cluster) = Some(cluster(ClusterState::Updating, &[VPCE]));
    let seen = w.inspect().await;
    assert_eq!(seen.secret.action, Action::Update);
    assert!(
        seen.secret.detail.contains("UPDATING"),
        "{}",
        seen.secret.detail
    );
    assert!(seen.secret.keys.is_empty());
    assert!(!seen.in_sync);
}

#[tokio::test]
async fn the_quota_check_counts_the_vpcs_interface_endpoints_and_the_one_to_create() {
    let w = World::fresh();
    for i in 0..QUOTA - 1 {
        lock(&w.ec2.endpoints).push(Endpoint {
            service_name: format!("com.amazonaws.us-east-1.service{i}"),
            ..Endpoint::new(&format!("vpce-other{i}"), None)
        });
    }
    let seen = w.inspect().await;
    let quota = check(&seen, CheckName::InterfaceEndpointQuota);
    assert!(quota.passed, "{quota:?}");
    lock(&w.ec2.endpoints).push(Endpoint {
        service_name: "com.amazonaws.us-east-1.s3".into(),
        ..Endpoint::new("vpce-the50th", None)
    });
    let seen = w.inspect().await;
    let quota = check(&seen, CheckName::InterfaceEndpointQuota);
    assert!(!quota.passed);
    assert_eq!(quota.endpoint, Some(0));
    assert!(
        quota
            .detail
            .contains("has 50 interface endpoints, 51 with the one to create; the quota is 50"),
        "{}",
        quota.detail
    );
    assert!(!seen.in_sync);
    // A provisioned endpoint among 50 is within the quota: nothing to create.
    let w = World::provisioned();
    for i in 0..QUOTA - 1 {
        lock(&w.ec2.endpoints).push(Endpoint {
            service_name: format!("com.amazonaws.us-east-1.service{i}"),
            ..Endpoint::new(&format!("vpce-other{i}"), None)
        });
    }
    let seen = w.inspect().await;
    assert!(check(&seen, CheckName::InterfaceEndpointQuota).passed);
    assert!(seen.in_sync);
}

#[tokio::test]
async fn a_failed_service_in_the_region_blocks_a_new_one() {
    let w = World::fresh();
    w.atlas
        .seed_service(service(SERVICE_ID, ServiceStatus::Failed, None, &[]));
    let seen = w.inspect().await;
    assert_eq!(
        action_of(&seen, Resource::EndpointService),
        [Action::Create]
    );
    let one = check(&seen, CheckName::OneServicePerRegion);
    assert!(!one.passed);
    assert!(
        one.detail.contains(SERVICE_ID) && one.detail.contains("FAILED"),
        "{}",
        one.detail
    );
}

#[tokio::test]
async fn subnets_in_zones_the_service_does_not_support_are_named() {
    let w = World::provisioned();
    *lock(&w.ec2.zones) = vec!["us-east-1a".into()];
    let seen = w.inspect().await;
    let zones = check(&seen, CheckName::AvailabilityZones);
    assert!(zones.passed, "one usable subnet is enough");
    assert!(
        zones.detail.contains("subnet-0b000001 in us-east-1b"),
        "{}",
        zones.detail
    );
    *lock(&w.ec2.zones) = vec!["us-east-1c".into()];
    lock(&w.ec2.endpoints)[0].state = "deleted".into();
    let seen = w.inspect().await;
    assert!(!check(&seen, CheckName::AvailabilityZones).passed);
}

#[tokio::test]
async fn our_group_missing_from_the_endpoint_is_an_update() {
    let w = World::provisioned();
    lock(&w.ec2.endpoints)[0].security_group_ids = vec!["sg-0other".into()];
    let seen = w.inspect().await;
    assert_eq!(
        action_of(&seen, Resource::VpcEndpointSecurityGroup),
        [Action::Update]
    );
    assert!(!seen.in_sync && !seen.secret_only);
}

#[tokio::test]
async fn a_failed_link_is_an_update_and_an_endpoint_made_by_hand_is_adopted() {
    let w = World::provisioned();
    lock(&w.atlas.links)[0].interface.connection_status = ConnectionStatus::Failed;
    lock(&w.ec2.endpoints)[0].created_by = None;
    let seen = w.inspect().await;
    assert_eq!(action_of(&seen, Resource::Link), [Action::Update]);
    assert_eq!(action_of(&seen, Resource::VpcEndpoint), [Action::Adopt]);
}

#[tokio::test]
async fn a_cross_region_endpoint_needs_its_region_listed_and_skips_the_zone_rule() {
    let mut w = World::provisioned();
    w.plan.endpoints[0].region = "us-west-2".parse().expect("a region");
    let seen = w.inspect().await;
    assert_eq!(action_of(&seen, Resource::RemoteRegion), [Action::Create]);
    assert!(
        check(&seen, CheckName::AvailabilityZones)
            .detail
            .contains("cross-region")
    );
    lock(&w.atlas.services)[0]
        .service
        .supported_remote_regions
        .push("US_WEST_2".into());
    let seen = w.inspect().await;
    assert_eq!(action_of(&seen, Resource::RemoteRegion), [Action::None]);
}

#[tokio::test]
async fn another_requests_secret_fails_the_owner_check() {
    let w = World::provisioned();
    let name = w.secret_name();
    for s in lock(&w.secrets.secrets)
        .iter_mut()
        .filter(|s| s.name == name)
    {
        s.tags.retain(|(k, _)| k != TAG_OWNER);
        s.tags.push((TAG_OWNER.into(), "someone-else".into()));
    }
    let seen = w.inspect().await;
    let owner = check(&seen, CheckName::SecretOwner);
    assert!(!owner.passed);
    assert!(owner.detail.contains("someone-else"));
    assert!(!seen.in_sync);
}
