//! A local world ready for a request: a [`DevStack`] on its own [`VirtualClock`], a cluster
//! seeded in the simulator, a VPC per region of the cluster, the Atlas credentials secret
//! (and optionally a database user), and a look at what exists of ours afterwards
//! ([`Inventory`]), and the completion events the state machines published (an
//! [`EventTap`]). The demo, the `scenarios` command and tests build on it; many worlds may
//! share one moto, each in a project, VPCs, secret names and event tap of its own.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_sim::{ClusterSeed, InterfaceView, ServiceView, SimConfig};
use aws_sdk_ec2::types::{Filter, VpcEndpoint};
use clock::{Clock, VirtualClock};
use serde_json::{Value, json};

use crate::events::{EventTap, PublishedEvent};
use crate::moto::Moto;
use crate::realism::Realism;
use crate::seed::{
    CLAIMS_TABLE, Network, SEEDED_ZONES, create_credentials_secret, create_database_user_secret,
    create_network_in_zones,
};
use crate::stack::DevStack;

/// The region the credentials and database-user secrets are stored in, and the steps' home.
pub const HOME_REGION: &str = "us-east-1";

/// The name of the seeded cluster.
pub const CLUSTER: &str = "Cluster0";

/// Prefix of the names of the security groups the workflow creates.
const OUR_GROUP_PREFIX: &str = "atlas-privatelink-";

/// What a [`LocalWorld`] is made of; [`WorldSpec::new`] gives the usual one.
#[derive(Debug, Clone)]
pub struct WorldSpec {
    /// AWS regions of the cluster; a VPC is made in each.
    pub regions: Vec<String>,
    /// The AWS front's rules.
    pub realism: Realism,
    /// The simulator's configuration (its first service account goes into the credentials
    /// secret).
    pub sim: SimConfig,
    /// The project id; `None`: a fresh random one (so worlds sharing a moto never collide).
    pub project_id: Option<String>,
    /// Tag value (`team=<label>`) of the VPCs and subnets, and prefix of the secret names;
    /// `None`: the project id.
    pub label: Option<String>,
    /// Availability-zone letters of each VPC's subnets, one subnet per entry.
    pub subnet_zones: Vec<char>,
    /// A database user (`username`, `password`) to store in a secret the request names.
    pub database_user: Option<(String, String)>,
}

impl WorldSpec {
    /// A cluster in `regions`, realistic rules, the simulator's defaults, a fresh project,
    /// subnets in [`SEEDED_ZONES`], no database user.
    pub fn new(regions: &[&str]) -> Self {
        Self {
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            realism: Realism::realistic(),
            sim: SimConfig::default(),
            project_id: None,
            label: None,
            subnet_zones: SEEDED_ZONES.to_vec(),
            database_user: None,
        }
    }

    /// The same under other rules.
    pub fn realism(mut self, realism: Realism) -> Self {
        self.realism = realism;
        self
    }

    /// The same with a database-user secret.
    pub fn database_user(mut self, username: &str, password: &str) -> Self {
        self.database_user = Some((username.to_owned(), password.to_owned()));
        self
    }
}

/// A fresh 24-hex project id.
pub fn new_project_id() -> String {
    // 96 random bits: two worlds of one moto (or one simulator) never share a project.
    format!("{:024x}", rand::random::<u128>() >> 32)
}

/// A running local world; see the module documentation.
pub struct LocalWorld<'m> {
    /// The clock of the simulator, the front and whatever runs the workflow.
    pub clock: VirtualClock,
    /// The Atlas simulator and the AWS front, shared: what runs the workflow (a task invoker
    /// with a context per function, say) may hold it beyond a borrow of the world.
    pub stack: Arc<DevStack>,
    /// The project.
    pub project_id: String,
    /// The cluster's name ([`CLUSTER`]).
    pub cluster: String,
    /// One VPC per region of the cluster, in the order of [`WorldSpec::regions`].
    pub networks: Vec<Network>,
    /// ARN of the Atlas credentials secret.
    pub credentials_arn: String,
    /// ARN of the database-user secret, if the spec asked for one.
    pub database_user_arn: Option<String>,
    /// The VPCs' tag value and the secrets' name prefix.
    pub label: String,
    /// The completion events published on moto's default bus ([`LocalWorld::published_events`]).
    pub events: EventTap,
    moto: &'m Moto,
    /// Networks made later ([`LocalWorld::add_network`]), so the inventory covers them too.
    extra: Mutex<Vec<Network>>,
}

impl<'m> LocalWorld<'m> {
    /// Starts the simulator and the front on a new virtual clock and seeds the world.
    pub async fn start(moto: &'m Moto, spec: WorldSpec) -> Result<Self, String> {
        let clock = VirtualClock::new();
        let account = spec
            .sim
            .service_accounts
            .first()
            .cloned()
            .ok_or("the simulator configuration has no service account")?;
        let stack =
            Arc::new(DevStack::start(moto, Arc::new(clock.clone()), spec.sim, spec.realism).await?);
        let project_id = spec.project_id.unwrap_or_else(new_project_id);
        let label = spec.label.unwrap_or_else(|| project_id.clone());
        let atlas_regions: Vec<String> = spec
            .regions
            .iter()
            .map(|r| atlas_sim::atlas_region(r))
            .collect();
        let atlas_regions: Vec<&str> = atlas_regions.iter().map(String::as_str).collect();
        stack
            .sim
            .seed_cluster(ClusterSeed::new(&project_id, CLUSTER, &atlas_regions))
            .map_err(|e| format!("seed cluster: {e}"))?;
        let mut networks = Vec::new();
        for region in &spec.regions {
            let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config(region).await);
            networks.push(create_network_in_zones(&ec2, region, &label, &spec.subnet_zones).await?);
        }
        // The stack's claims table (who creates a region's endpoint service), as deployed.
        let home = moto.sdk_config(HOME_REGION).await;
        crate::seed::create_claims_table(&aws_sdk_dynamodb::Client::new(&home), CLAIMS_TABLE)
            .await?;
        let secrets = aws_sdk_secretsmanager::Client::new(&home);
        let credentials_arn = create_credentials_secret(
            &secrets,
            &format!("{label}/atlas-credentials"),
            &account.client_id,
            &account.client_secret,
            &stack.sim.base_url(),
        )
        .await?;
        let database_user_arn = match &spec.database_user {
            Some((user, password)) => Some(
                create_database_user_secret(
                    &secrets,
                    &format!("{label}/app-database-user"),
                    user,
                    password,
                )
                .await?,
            ),
            None => None,
        };
        // The tap's name: the label (letters, digits, `-`, `_` kept) and a random suffix, so
        // two worlds of one label on one moto do not share a queue.
        let tap_name: String = label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(24)
            .collect();
        let events = EventTap::start(
            moto,
            HOME_REGION,
            &format!("{tap_name}-{:08x}", rand::random::<u32>()),
        )
        .await?;
        Ok(Self {
            clock,
            stack,
            project_id,
            cluster: CLUSTER.to_owned(),
            networks,
            credentials_arn,
            database_user_arn,
            label,
            events,
            moto,
            extra: Mutex::new(Vec::new()),
        })
    }

    /// A valid request for this world: one endpoint per seeded network, by ids, the
    /// database user if there is one, and a `team` tag.
    pub fn request(&self) -> Value {
        let mut request = json!({
            "atlas": {"projectId": self.project_id, "clusterName": self.cluster,
                      "credentialsSecretArn": self.credentials_arn},
            "endpoints": self.networks.iter().map(|n| json!({
                "region": n.region, "vpcId": n.vpc_id, "subnetIds": n.subnet_ids
            })).collect::<Vec<_>>(),
            "tags": {"team": "platform"}
        });
        if let Some(arn) = &self.database_user_arn {
            request["secret"] = json!({"databaseUserSecretArn": arn});
        }
        request
    }

    /// EC2 on moto itself in `region` (no front: to seed and to look at what exists).
    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.moto.sdk_config(region).await)
    }

    /// Secrets Manager on moto itself in `region`.
    pub async fn secrets(&self, region: &str) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.moto.sdk_config(region).await)
    }

    /// Makes another VPC in `region` with a subnet per entry of `zones` (tagged like the
    /// seeded ones); the inventory covers it from now on.
    pub async fn add_network(&self, region: &str, zones: &[char]) -> Result<Network, String> {
        let network =
            create_network_in_zones(&self.ec2(region).await, region, &self.label, zones).await?;
        if let Ok(mut extra) = self.extra.lock() {
            extra.push(network.clone());
        }
        Ok(network)
    }

    /// Every network of the world: the seeded ones, then those added.
    pub fn all_networks(&self) -> Vec<Network> {
        let extra = self.extra.lock().map(|e| e.clone()).unwrap_or_default();
        self.networks.iter().cloned().chain(extra).collect()
    }

    /// Lets `duration` of virtual time pass (Atlas finishing deletions, say).
    pub async fn sleep(&self, duration: Duration) {
        self.clock.sleep(duration).await;
    }

    /// Live (not deleted) VPC endpoints in a network's VPC, as EC2 describes them.
    pub async fn describe_vpc_endpoints(
        &self,
        network: &Network,
    ) -> Result<Vec<VpcEndpoint>, String> {
        let out = self
            .ec2(&network.region)
            .await
            .describe_vpc_endpoints()
            .filters(vpc_filter(network))
            .send()
            .await
            .map_err(|e| format!("DescribeVpcEndpoints: {e}"))?;
        Ok(out
            .vpc_endpoints()
            .iter()
            .filter(|e| {
                !e.state()
                    .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
            })
            .cloned()
            .collect())
    }

    /// The ids of the live VPC endpoints in a network's VPC.
    pub async fn vpc_endpoints(&self, network: &Network) -> Result<Vec<String>, String> {
        let endpoints = self.describe_vpc_endpoints(network).await?;
        Ok(endpoints
            .iter()
            .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
            .collect())
    }

    /// Security groups of a network's VPC that the workflow created (by their name).
    pub async fn our_security_groups(&self, network: &Network) -> Result<Vec<String>, String> {
        let out = self
            .ec2(&network.region)
            .await
            .describe_security_groups()
            .filters(vpc_filter(network))
            .send()
            .await
            .map_err(|e| format!("DescribeSecurityGroups: {e}"))?;
        Ok(out
            .security_groups()
            .iter()
            .filter(|g| {
                g.group_name()
                    .is_some_and(|n| n.starts_with(OUR_GROUP_PREFIX))
            })
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect())
    }

    /// The project's endpoint services in the simulator, as they are now.
    pub fn services(&self) -> Vec<ServiceView> {
        self.stack.sim.services(&self.project_id)
    }

    /// The project's interface endpoints in the simulator, as they are now.
    pub fn interfaces(&self) -> Vec<InterfaceView> {
        self.stack.sim.interfaces(&self.project_id)
    }

    /// What exists of ours now, in every network of the world and in the project.
    pub async fn inventory(&self) -> Result<Inventory, String> {
        let mut inventory = Inventory {
            services: self.services(),
            interfaces: self.interfaces(),
            ..Inventory::default()
        };
        for network in self.all_networks() {
            let endpoints = self.vpc_endpoints(&network).await?;
            let groups = self.our_security_groups(&network).await?;
            inventory
                .vpc_endpoints
                .insert(network.vpc_id.clone(), endpoints);
            inventory.security_groups.insert(network.vpc_id, groups);
        }
        Ok(inventory)
    }

    /// Every completion event published on moto's default bus since the world started
    /// (other worlds' on the same moto included: see [`LocalWorld::events_of`]).
    pub async fn published_events(&self) -> Result<Vec<PublishedEvent>, String> {
        self.events.events().await
    }

    /// The completion events the execution `execution_arn` published, oldest first.
    pub async fn events_of(&self, execution_arn: &str) -> Result<Vec<PublishedEvent>, String> {
        self.events.events_of(execution_arn).await
    }

    /// Stops the simulator and the front, and removes the event tap (moto is the caller's).
    pub async fn shutdown(&self) {
        self.events.stop().await;
        self.stack.shutdown().await;
    }
}

fn vpc_filter(network: &Network) -> Filter {
    Filter::builder()
        .name("vpc-id")
        .values(&network.vpc_id)
        .build()
}

/// What exists of ours in a world's VPCs and project at one moment.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Live VPC endpoints by VPC id.
    pub vpc_endpoints: BTreeMap<String, Vec<String>>,
    /// The workflow's security groups by VPC id.
    pub security_groups: BTreeMap<String, Vec<String>>,
    /// The project's endpoint services.
    pub services: Vec<ServiceView>,
    /// The project's interface endpoints.
    pub interfaces: Vec<InterfaceView>,
}

impl Inventory {
    /// (VPC endpoints, security groups, endpoint services, interface endpoints).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let total = |m: &BTreeMap<String, Vec<String>>| m.values().map(Vec::len).sum();
        (
            total(&self.vpc_endpoints),
            total(&self.security_groups),
            self.services.len(),
            self.interfaces.len(),
        )
    }

    /// Nothing of ours exists.
    pub fn is_empty(&self) -> bool {
        self.counts() == (0, 0, 0, 0)
    }

    /// What exists, one entry per kind (`"2 VPC endpoints"`); empty when nothing does.
    pub fn leftovers(&self) -> Vec<String> {
        let (vpces, groups, services, interfaces) = self.counts();
        [
            (vpces, "VPC endpoint"),
            (groups, "security group"),
            (services, "Atlas service"),
            (interfaces, "Atlas interface"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
        .collect()
    }

    /// What exists twice where once is right: more than one VPC endpoint in a VPC, more than
    /// one endpoint service in a region, more than one interface endpoint per VPC endpoint.
    pub fn duplicates(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (vpc, endpoints) in &self.vpc_endpoints {
            if endpoints.len() > 1 {
                found.push(format!("{} VPC endpoints in {vpc}", endpoints.len()));
            }
        }
        let mut per_region: BTreeMap<&str, usize> = BTreeMap::new();
        for service in &self.services {
            *per_region.entry(&service.region_name).or_default() += 1;
        }
        let mut per_vpce: BTreeMap<&str, usize> = BTreeMap::new();
        for interface in &self.interfaces {
            *per_vpce
                .entry(&interface.interface_endpoint_id)
                .or_default() += 1;
        }
        found.extend(
            per_region
                .into_iter()
                .filter(|(_, n)| *n > 1)
                .map(|(region, n)| format!("{n} Atlas services in {region}")),
        );
        found.extend(
            per_vpce
                .into_iter()
                .filter(|(_, n)| *n > 1)
                .map(|(vpce, n)| format!("{n} Atlas interfaces for {vpce}")),
        );
        found
    }
}

impl fmt::Display for Inventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left = self.leftovers();
        if left.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&left.join(", "))
        }
    }
}
