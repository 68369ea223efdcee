//! Seeded clusters and their description (version 2024-08-05), with the private-endpoint
//! connection strings Atlas publishes once every region of the cluster is covered.
//!
//! A cluster does not know the endpoint services: whoever renders it (the world) says whether
//! it is updating and which interface endpoints are available in each region.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids::{atlas_region, aws_region, is_object_id, new_object_id};

/// Topology of a seeded cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterType {
    /// A replica set (`MONGOD` connection strings).
    #[default]
    Replicaset,
    /// A sharded cluster (`MONGOS` connection strings, shard-optimized SRV string).
    Sharded,
}

/// A cluster to create in the simulator (`POST /__sim/clusters`).
///
/// JSON: `{"groupId":"…24 hex…","name":"Cluster0","regions":["US_EAST_1"],"clusterType":"REPLICASET"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSeed {
    /// Project (24 hex).
    pub group_id: String,
    /// Cluster name.
    pub name: String,
    /// Regions with nodes, Atlas (`US_EAST_1`) or AWS (`us-east-1`) spelling.
    pub regions: Vec<String>,
    /// Topology.
    #[serde(default)]
    pub cluster_type: ClusterType,
    /// Cluster id (24 hex); random if absent.
    #[serde(default)]
    pub id: Option<String>,
}

impl ClusterSeed {
    /// A replica set in `regions`.
    pub fn new(group_id: impl Into<String>, name: impl Into<String>, regions: &[&str]) -> Self {
        Self {
            group_id: group_id.into(),
            name: name.into(),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            cluster_type: ClusterType::Replicaset,
            id: None,
        }
    }

    /// The same cluster, sharded.
    pub fn sharded(mut self) -> Self {
        self.cluster_type = ClusterType::Sharded;
        self
    }
}

/// A seeded cluster.
#[derive(Debug, Clone)]
pub(crate) struct ClusterRec {
    id: String,
    pub group_id: String,
    pub name: String,
    /// AWS spellings, in seed order.
    regions: Vec<String>,
    cluster_type: ClusterType,
    /// The `abcde` part of host names.
    host: String,
    /// Replication spec ids (one per shard).
    spec_ids: Vec<String>,
}

impl ClusterRec {
    /// Validates a seed.
    pub fn from_seed(seed: ClusterSeed) -> Result<Self, String> {
        if !is_object_id(&seed.group_id) {
            return Err(format!(
                "groupId {:?} is not 24 lowercase hex digits",
                seed.group_id
            ));
        }
        let name_ok = seed
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && seed
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name_ok {
            return Err(format!("cluster name {:?} is not valid", seed.name));
        }
        if seed.regions.is_empty() {
            return Err("a cluster needs at least one region".to_owned());
        }
        let mut regions = Vec::new();
        for region in &seed.regions {
            let aws =
                aws_region(region).ok_or_else(|| format!("{region:?} is not an AWS region"))?;
            if !regions.contains(&aws) {
                regions.push(aws);
            }
        }
        let id = match seed.id {
            Some(id) if is_object_id(&id) => id,
            Some(id) => return Err(format!("cluster id {id:?} is not 24 lowercase hex digits")),
            None => new_object_id(),
        };
        let host = id[id.len() - 5..].to_owned();
        let shards = if seed.cluster_type == ClusterType::Sharded {
            2
        } else {
            1
        };
        Ok(Self {
            spec_ids: (0..shards).map(|_| new_object_id()).collect(),
            id,
            group_id: seed.group_id,
            name: seed.name,
            regions,
            cluster_type: seed.cluster_type,
            host,
        })
    }

    /// Whether the cluster is a replica set (not sharded).
    pub fn is_replica_set(&self) -> bool {
        self.cluster_type == ClusterType::Replicaset
    }

    /// The cluster description: `UPDATING` (and no private-endpoint strings) when `updating`;
    /// `regional`: the project's regionalized private endpoint mode is in effect;
    /// `available_in(region)` lists the available interface endpoints of the cluster's project
    /// in an AWS region, in order.
    pub fn render<'w>(
        &self,
        updating: bool,
        regional: bool,
        available_in: impl Fn(&str) -> Vec<&'w str>,
    ) -> Value {
        let sharded = self.cluster_type == ClusterType::Sharded;
        let lower = self.name.to_ascii_lowercase();
        let host = &self.host;
        let region_configs: Vec<Value> = self
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| {
                json!({
                    "providerName": "AWS",
                    "regionName": atlas_region(r),
                    "priority": 7_usize.saturating_sub(i),
                })
            })
            .collect();
        let replication_specs: Vec<Value> = self
            .spec_ids
            .iter()
            .map(|spec_id| {
                json!({
                    "id": spec_id,
                    "zoneId": self.id,
                    "zoneName": "Zone 1",
                    "regionConfigs": region_configs,
                })
            })
            .collect();
        let standard_hosts: Vec<String> = (0..3)
            .map(|n| format!("{lower}-shard-00-{n:02}.{host}.mongodb.net:27017"))
            .collect();
        let mut strings = json!({
            "standard": format!(
                "mongodb://{}/?ssl=true&authSource=admin{}",
                standard_hosts.join(","),
                if sharded { String::new() } else { format!("&replicaSet=atlas-{host}-shard-0") }
            ),
            "standardSrv": format!("mongodb+srv://{lower}.{host}.mongodb.net"),
        });
        if !updating {
            let entries = if regional && self.is_multi_region_sharded() {
                self.regional_entries(available_in)
            } else {
                self.private_endpoint_entries(available_in)
            };
            if !entries.is_empty() {
                strings["privateEndpoint"] = Value::Array(entries);
            }
        }
        json!({
            "id": self.id,
            "groupId": self.group_id,
            "name": self.name,
            "clusterType": if sharded { "SHARDED" } else { "REPLICASET" },
            "stateName": if updating { "UPDATING" } else { "IDLE" },
            "paused": false,
            "mongoDBMajorVersion": "8.0",
            "mongoDBVersion": "8.0.12",
            "versionReleaseSystem": "LTS",
            "backupEnabled": false,
            "terminationProtectionEnabled": false,
            "replicationSpecs": replication_specs,
            "connectionStrings": strings,
        })
    }

    /// A sharded cluster with nodes in more than one region: the kind whose private connection
    /// strings change with the regional mode (Atlas spec, toggleGroupPrivateEndpointRegionalMode:
    /// "Connection strings to existing multi-region and global sharded clusters change when
    /// you enable this setting").
    fn is_multi_region_sharded(&self) -> bool {
        self.cluster_type == ClusterType::Sharded && self.regions.len() > 1
    }

    /// With the regional mode on, for a multi-region sharded cluster: one entry per available
    /// endpoint, listing that endpoint alone, whose hosts are the mongos of its own region
    /// ("Each regional private endpoint connects to the mongos processes in its own region",
    /// research notes issue 12, §4). How Atlas really groups the entries is not known (research
    /// notes §5 "Not found"); one entry per endpoint is the simulator's choice. The host label
    /// (`<name>-pl-<region>-<n>`) differs from the non-regional one (`<name>-pl-<n>`) so that a
    /// client can see the strings change; Atlas's real host names are not documented. Empty
    /// unless every region has an endpoint, as without the mode.
    fn regional_entries<'w>(&self, available_in: impl Fn(&str) -> Vec<&'w str>) -> Vec<Value> {
        let per_region: Vec<Vec<&str>> = self.regions.iter().map(|r| available_in(r)).collect();
        if per_region.iter().any(Vec::is_empty) {
            return Vec::new();
        }
        let lower = self.name.to_ascii_lowercase();
        let host = &self.host;
        let mut entries = Vec::new();
        for (region, list) in self.regions.iter().zip(&per_region) {
            for (n, vpce) in list.iter().enumerate() {
                let label = format!("{lower}-pl-{region}-{n}");
                let hosts: Vec<String> = (0..3)
                    .map(|k| format!("{label}-{k:02}.{host}.mongodb.net:{}", 1024 + k))
                    .collect();
                entries.push(json!({
                    "type": "MONGOS",
                    "connectionString": format!(
                        "mongodb://{}/?ssl=true&authSource=admin",
                        hosts.join(",")
                    ),
                    "srvConnectionString": format!("mongodb+srv://{label}.{host}.mongodb.net"),
                    "srvShardOptimizedConnectionString":
                        format!("mongodb+srv://{label}-lb.{host}.mongodb.net"),
                    "endpoints": [{
                        "endpointId": vpce,
                        "providerName": "AWS",
                        "region": atlas_region(region),
                    }],
                }));
            }
        }
        entries
    }

    /// One entry per set of endpoints: entry `i` takes the `i`-th available endpoint of each
    /// region (cycling shorter lists). Empty unless every region has one (Atlas spec,
    /// `connectionStrings.privateEndpoint`: present once a private endpoint is deployed in
    /// every region of the cluster; research notes issue 12, §5). How Atlas groups several
    /// endpoints into entries is not documented (research notes §5 "Not found"); this grouping
    /// (a cluster in two regions with one endpoint each: one entry listing both) is the
    /// simulator's long-standing choice, kept.
    fn private_endpoint_entries<'w>(
        &self,
        available_in: impl Fn(&str) -> Vec<&'w str>,
    ) -> Vec<Value> {
        let per_region: Vec<Vec<&str>> = self.regions.iter().map(|r| available_in(r)).collect();
        if per_region.iter().any(Vec::is_empty) {
            return Vec::new();
        }
        let count = per_region.iter().map(Vec::len).max().unwrap_or(0);
        let sharded = self.cluster_type == ClusterType::Sharded;
        let lower = self.name.to_ascii_lowercase();
        let host = &self.host;
        (0..count)
            .map(|i| {
                let mut hosts = Vec::new();
                let mut endpoints = Vec::new();
                for (region, list) in self.regions.iter().zip(&per_region) {
                    let vpce = list[i % list.len()];
                    for _ in 0..3 {
                        let port = 1024 + hosts.len();
                        hosts.push(format!("pl-{i}-{region}.{host}.mongodb.net:{port}"));
                    }
                    endpoints.push(json!({
                        "endpointId": vpce,
                        "providerName": "AWS",
                        "region": atlas_region(region),
                    }));
                }
                let options = if sharded {
                    "?ssl=true&authSource=admin".to_owned()
                } else {
                    format!("?ssl=true&authSource=admin&replicaSet=atlas-{host}-shard-0")
                };
                let mut entry = json!({
                    "type": if sharded { "MONGOS" } else { "MONGOD" },
                    "connectionString": format!("mongodb://{}/{options}", hosts.join(",")),
                    "srvConnectionString": format!("mongodb+srv://{lower}-pl-{i}.{host}.mongodb.net"),
                    "endpoints": endpoints,
                });
                if sharded {
                    entry["srvShardOptimizedConnectionString"] =
                        json!(format!("mongodb+srv://{lower}-pl-{i}-lb.{host}.mongodb.net"));
                }
                entry
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_validated_and_normalised() {
        let seed = ClusterSeed::new(
            "0123456789abcdef01234567",
            "Cluster0",
            &["us-east-1", "US_EAST_1"],
        );
        let rec = ClusterRec::from_seed(seed).expect("valid seed");
        assert_eq!(rec.regions, vec!["us-east-1".to_owned()]);
        assert!(ClusterRec::from_seed(ClusterSeed::new("xyz", "c", &["us-east-1"])).is_err());
        let bad_region = ClusterSeed::new("0123456789abcdef01234567", "c", &["EASTUS"]);
        assert!(ClusterRec::from_seed(bad_region).is_err());
    }
}
