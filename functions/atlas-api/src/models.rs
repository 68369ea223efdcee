//! Typed views of the Atlas resources we use. Unknown fields are ignored and unknown status
//! values are kept (`Unknown`), so a new Atlas state never breaks parsing.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines a string enum that keeps values it does not know as `Unknown(String)`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client does not know yet, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The value as Atlas spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(other) => other,
                }
            }

            /// Parses Atlas's spelling (case-insensitively); anything else is `Unknown`.
            pub fn parse(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($text) { return $name::$variant; })+
                $name::Unknown(text.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Ok($name::parse(&text))
            }
        }
    };
}

open_enum!(
    /// Status of a private endpoint service.
    ServiceStatus {
        /// Atlas is creating the load balancer and the endpoint service.
        Initiating = "INITIATING",
        /// Ready for interface endpoints.
        Available = "AVAILABLE",
        /// Created and waiting for an interface endpoint.
        WaitingForUser = "WAITING_FOR_USER",
        /// Creation failed: terminal.
        Failed = "FAILED",
        /// Being removed.
        Deleting = "DELETING",
    }
);

open_enum!(
    /// Connection status of an interface endpoint as Atlas sees it.
    ConnectionStatus {
        /// Atlas has not accepted the endpoint yet.
        PendingAcceptance = "PENDING_ACCEPTANCE",
        /// Accepted, being set up.
        Pending = "PENDING",
        /// Ready.
        Available = "AVAILABLE",
        /// Atlas rejected the endpoint: terminal.
        Rejected = "REJECTED",
        /// Being removed.
        Deleting = "DELETING",
        /// Failed: terminal (seen by peers' clients, not in the spec's list).
        Failed = "FAILED",
    }
);

open_enum!(
    /// Cluster state.
    ClusterState {
        /// No change in progress.
        Idle = "IDLE",
        /// Being created.
        Creating = "CREATING",
        /// A change is being applied.
        Updating = "UPDATING",
        /// Being deleted.
        Deleting = "DELETING",
        /// Being repaired.
        Repairing = "REPAIRING",
    }
);

impl ServiceStatus {
    /// The service can take interface endpoints.
    pub fn is_ready(&self) -> bool {
        matches!(
            self,
            ServiceStatus::Available | ServiceStatus::WaitingForUser
        )
    }
}

impl ConnectionStatus {
    /// A final failure: retrying will not make it available.
    pub fn is_terminal_failure(&self) -> bool {
        matches!(self, ConnectionStatus::Rejected | ConnectionStatus::Failed)
    }
}

/// An AWS private endpoint service (`AWSPrivateLinkConnection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointService {
    /// 24-hex id.
    pub id: String,
    /// `AWS`.
    #[serde(default)]
    pub cloud_provider: Option<String>,
    /// Region; Atlas answers the AWS spelling (`us-east-1`) here, compare with [`same_region`].
    #[serde(default)]
    pub region_name: Option<String>,
    /// Status.
    pub status: ServiceStatus,
    /// `com.amazonaws.vpce.<region>.vpce-svc-…`, null while initiating.
    #[serde(default)]
    pub endpoint_service_name: Option<String>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Ids of the interface endpoints linked to it.
    #[serde(default)]
    pub interface_endpoints: Vec<String>,
    /// Remote AWS regions whose VPC endpoints may connect to this service (cross-region
    /// PrivateLink), Atlas spellings (`US_WEST_2`); the service's own region is served
    /// without being listed. Empty when Atlas sends none, `null` or `[]`.
    ///
    /// Atlas returns it on GET although the older spec excerpt we check against lacks it (the
    /// current Atlas spec has it on `EndpointService`; Terraform and the Kubernetes operator
    /// read it: research notes issue 12, §1 "GET returns the list").
    #[serde(default, deserialize_with = "null_as_empty")]
    pub supported_remote_regions: Vec<String>,
}

/// `null` (or an absent field, with `#[serde(default)]`) as an empty list.
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The project's regionalized private endpoint setting (`ProjectSettingItemView`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionalMode {
    /// Whether more than one private endpoint per region is allowed (needed for multi-region
    /// and global sharded clusters; changes their connection strings; forbids replica sets).
    pub enabled: bool,
}

/// An AWS interface endpoint linked to a service (`AWSInterfaceEndpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceEndpoint {
    /// `vpce-…`.
    pub interface_endpoint_id: String,
    /// Connection status.
    pub connection_status: ConnectionStatus,
    /// Removal was requested.
    #[serde(default)]
    pub delete_requested: bool,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// The parts of a cluster description (version 2024-08-05) we read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// State.
    pub state_name: ClusterState,
    /// `REPLICASET`, `SHARDED` or `GEOSHARDED`.
    #[serde(default)]
    pub cluster_type: Option<String>,
    /// Topology: where the nodes are.
    #[serde(default)]
    pub replication_specs: Vec<ReplicationSpec>,
    /// Connection strings.
    #[serde(default)]
    pub connection_strings: Option<ConnectionStrings>,
}

/// One replication spec (a shard, or the replica set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationSpec {
    /// Where its nodes are.
    #[serde(default)]
    pub region_configs: Vec<RegionConfig>,
}

/// A provider and region with nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionConfig {
    /// `AWS`, `AZURE`, `GCP` or `TENANT`.
    #[serde(default)]
    pub provider_name: Option<String>,
    /// Atlas region name, e.g. `US_EAST_1`.
    #[serde(default)]
    pub region_name: Option<String>,
}

/// The cluster's connection strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStrings {
    /// Private-endpoint-aware strings; present only when every region has an endpoint.
    #[serde(default)]
    pub private_endpoint: Vec<PrivateEndpointStrings>,
}

/// One set of private-endpoint connection strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointStrings {
    /// `mongodb://` form.
    #[serde(default)]
    pub connection_string: Option<String>,
    /// `mongodb+srv://` form.
    #[serde(default)]
    pub srv_connection_string: Option<String>,
    /// `mongodb+srv://` form optimised for sharded clusters.
    #[serde(default)]
    pub srv_shard_optimized_connection_string: Option<String>,
    /// `MONGOD` or `MONGOS`.
    #[serde(default, rename = "type")]
    pub process_type: Option<String>,
    /// The endpoints this set goes through.
    #[serde(default)]
    pub endpoints: Vec<PrivateEndpointRef>,
}

/// An endpoint inside a connection-string set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointRef {
    /// `vpce-…`.
    #[serde(default)]
    pub endpoint_id: Option<String>,
    /// `AWS`.
    #[serde(default)]
    pub provider_name: Option<String>,
    /// Region of the endpoint.
    #[serde(default)]
    pub region: Option<String>,
}

impl Cluster {
    /// Atlas names of the AWS regions the cluster has nodes in, sorted and without repeats.
    pub fn aws_regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = self
            .replication_specs
            .iter()
            .flat_map(|spec| &spec.region_configs)
            .filter(|rc| rc.provider_name.as_deref() == Some("AWS"))
            .filter_map(|rc| rc.region_name.as_deref().map(to_atlas_region))
            .collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// The private-endpoint string sets.
    pub fn private_endpoint_strings(&self) -> &[PrivateEndpointStrings] {
        self.connection_strings
            .as_ref()
            .map(|c| c.private_endpoint.as_slice())
            .unwrap_or_default()
    }
}

/// The Atlas spelling of a region: `us-east-1` → `US_EAST_1` (Atlas names pass unchanged).
pub fn to_atlas_region(region: &str) -> String {
    region.trim().replace('-', "_").to_ascii_uppercase()
}

/// The AWS spelling of a region: `US_EAST_1` → `us-east-1` (AWS names pass unchanged).
pub fn to_aws_region(region: &str) -> String {
    region.trim().replace('_', "-").to_ascii_lowercase()
}

/// Whether two region names, in either spelling, name the same region.
pub fn same_region(a: &str, b: &str) -> bool {
    to_atlas_region(a) == to_atlas_region(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_values_are_kept() {
        let s: EndpointService = serde_json::from_value(serde_json::json!({
            "id": "0123456789abcdef01234567", "status": "SOMETHING_NEW",
            "endpointServiceName": null, "interfaceEndpoints": []
        }))
        .expect("parses");
        assert_eq!(s.status, ServiceStatus::Unknown("SOMETHING_NEW".into()));
        assert_eq!(s.status.as_str(), "SOMETHING_NEW");
        let e: InterfaceEndpoint = serde_json::from_value(serde_json::json!({
            "interfaceEndpointId": "vpce-0123456789abcdef0", "connectionStatus": "VERIFIED"
        }))
        .expect("parses");
        assert_eq!(
            e.connection_status,
            ConnectionStatus::Unknown("VERIFIED".into())
        );
        assert!(!e.connection_status.is_terminal_failure());
        assert_eq!(
            ConnectionStatus::parse("rejected"),
            ConnectionStatus::Rejected
        );
    }

    #[test]
    fn cluster_regions_and_strings() {
        let c: Cluster = serde_json::from_value(serde_json::json!({
            "name": "Cluster0", "stateName": "IDLE", "clusterType": "REPLICASET",
            "replicationSpecs": [{"regionConfigs": [
                {"providerName": "AWS", "regionName": "US_EAST_1"},
                {"providerName": "AWS", "regionName": "EU_WEST_1"},
                {"providerName": "AWS", "regionName": "US_EAST_1"}]}],
            "connectionStrings": {"standardSrv": "mongodb+srv://x", "privateEndpoint": [
                {"srvConnectionString": "mongodb+srv://pl", "type": "MONGOD",
                 "endpoints": [{"endpointId": "vpce-0123456789abcdef0", "providerName": "AWS", "region": "US_EAST_1"}]}]}
        }))
        .expect("parses");
        assert_eq!(c.aws_regions(), vec!["EU_WEST_1", "US_EAST_1"]);
        assert_eq!(c.state_name, ClusterState::Idle);
        assert_eq!(c.private_endpoint_strings().len(), 1);
        let set = &c.private_endpoint_strings()[0];
        assert_eq!(set.process_type.as_deref(), Some("MONGOD"));
        assert_eq!(
            set.srv_connection_string.as_deref(),
            Some("mongodb+srv://pl")
        );
        assert_eq!(set.endpoints[0].provider_name.as_deref(), Some("AWS"));
        assert_eq!(set.endpoints[0].region.as_deref(), Some("US_EAST_1"));
    }

    #[test]
    fn remote_regions_default_to_empty_when_absent_or_null() {
        let parse = |extra: serde_json::Value| -> EndpointService {
            let mut body = serde_json::json!({
                "id": "0123456789abcdef01234567", "cloudProvider": "AWS", "status": "AVAILABLE"
            });
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            serde_json::from_value(body).expect("parses")
        };
        assert!(
            parse(serde_json::json!({}))
                .supported_remote_regions
                .is_empty()
        );
        assert!(
            parse(serde_json::json!({"supportedRemoteRegions": null}))
                .supported_remote_regions
                .is_empty()
        );
        assert_eq!(
            parse(serde_json::json!({"supportedRemoteRegions": ["US_WEST_2", "EU_WEST_1"]}))
                .supported_remote_regions,
            vec!["US_WEST_2", "EU_WEST_1"]
        );
        let mode: RegionalMode =
            serde_json::from_value(serde_json::json!({"enabled": true})).expect("parses");
        assert!(mode.enabled);
    }

    #[test]
    fn region_spellings() {
        assert_eq!(to_atlas_region("us-east-1"), "US_EAST_1");
        assert_eq!(to_aws_region("AP_SOUTHEAST_2"), "ap-southeast-2");
        assert!(same_region("eu-west-1", "EU_WEST_1"));
        assert!(!same_region("eu-west-1", "EU_WEST_2"));
    }
}
