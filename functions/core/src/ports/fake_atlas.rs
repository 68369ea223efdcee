//! An in-memory [`Atlas`] for the steps' unit tests: one project's endpoint services, their
//! links, the cluster and the regional mode, every call recorded, and errors scripted per operation. It keeps
//! the Atlas rules the steps rely on (one service per region, the 409s of a second service or
//! a second link, 404 for what is gone) and nothing else; the simulator covers the rest.

use std::collections::BTreeMap;
use std::sync::Mutex;

use atlas_api::AtlasError;
use atlas_api::models::{
    Cluster, ConnectionStatus, EndpointService, InterfaceEndpoint, ServiceStatus, same_region,
};

use serde_json::json;

use super::Atlas;
use super::fixture::{PROJECT, lock};

/// One call the step made, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    ListEndpointServices,
    CreateEndpointService { region: String },
    GetEndpointService { id: String },
    UpdateRemoteRegions { id: String, regions: Vec<String> },
    DeleteEndpointService { id: String },
    CreateInterfaceEndpoint { service_id: String, vpce: String },
    GetInterfaceEndpoint { service_id: String, vpce: String },
    DeleteInterfaceEndpoint { service_id: String, vpce: String },
    GetCluster { name: String },
    GetRegionalMode,
    SetRegionalMode { enabled: bool },
}

impl Call {
    /// Whether the call changes something.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Call::CreateEndpointService { .. }
                | Call::UpdateRemoteRegions { .. }
                | Call::DeleteEndpointService { .. }
                | Call::CreateInterfaceEndpoint { .. }
                | Call::DeleteInterfaceEndpoint { .. }
                | Call::SetRegionalMode { .. }
        )
    }
}

/// An endpoint service of the fake.
#[derive(Debug, Clone)]
pub struct Service {
    pub service: EndpointService,
    /// Lists that still do not show it (made a moment ago by a racing run).
    pub unlisted_for: usize,
}

/// A link of the fake: the interface endpoint and its service.
#[derive(Debug, Clone)]
pub struct Link {
    pub service_id: String,
    pub interface: InterfaceEndpoint,
}

/// The fake. Tests seed its vectors, run a step, then read `calls` and the vectors.
#[derive(Debug, Default)]
pub struct FakeAtlas {
    pub services: Mutex<Vec<Service>>,
    pub links: Mutex<Vec<Link>>,
    pub cluster: Mutex<Option<Cluster>>,
    /// The project's regionalized private endpoint mode.
    pub regional_mode: Mutex<bool>,
    pub calls: Mutex<Vec<Call>>,
    /// Errors the next calls of an operation answer (by the operation's `Call` name), in order.
    pub failures: Mutex<Vec<(&'static str, AtlasError)>>,
    /// Services applying a change of their remote regions, with how many more reads show
    /// them `INITIATING` (a PATCH that changes the list sets one).
    pub updating: Mutex<BTreeMap<String, usize>>,
}

/// At most this many remote regions (Atlas API spec, `supportedRemoteRegions` maxItems 35).
pub const MAX_REMOTE_REGIONS: usize = 35;

/// An endpoint service in `us-east-1` with the given status, AWS service name and links.
///
/// Built from JSON as Atlas answers it, so fields the client learns later keep their defaults.
pub fn service(
    id: &str,
    status: ServiceStatus,
    name: Option<&str>,
    interfaces: &[&str],
) -> EndpointService {
    serde_json::from_value(json!({
        "id": id,
        "cloudProvider": "AWS",
        "regionName": "us-east-1",
        "status": status.as_str(),
        "endpointServiceName": name,
        "interfaceEndpoints": interfaces,
    }))
    .expect("a valid endpoint service")
}

/// The code of Atlas's 409 for a second service in a region (the client does not export it).
pub const ALREADY_EXISTS_FOR_REGION: &str = "PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION";

/// Atlas's 404.
pub fn not_found(operation: &'static str) -> AtlasError {
    AtlasError::NotFound {
        operation,
        code: "RESOURCE_NOT_FOUND".into(),
        detail: "not found".into(),
    }
}

/// Atlas's 409 with `code`.
pub fn conflict(operation: &'static str, code: &str) -> AtlasError {
    AtlasError::Conflict {
        operation,
        code: code.into(),
        detail: "conflict".into(),
    }
}

/// Atlas's 5xx after the client's retries.
pub fn unavailable(operation: &'static str) -> AtlasError {
    AtlasError::Unavailable {
        operation,
        attempts: 6,
        status: Some(503),
        detail: "service unavailable".into(),
    }
}

impl FakeAtlas {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The calls so far that change something.
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::writes).collect()
    }

    /// How many calls `pick` selects.
    pub fn count(&self, pick: impl Fn(&Call) -> bool) -> usize {
        self.calls().iter().filter(|c| pick(c)).count()
    }

    /// Adds a service, listed at once.
    pub fn seed_service(&self, service: EndpointService) {
        lock(&self.services).push(Service {
            service,
            unlisted_for: 0,
        });
    }

    /// Adds a link of `vpce` to `service_id` (and the id to the service's list).
    pub fn seed_link(&self, service_id: &str, vpce: &str, status: ConnectionStatus) {
        lock(&self.links).push(Link {
            service_id: service_id.into(),
            interface: InterfaceEndpoint {
                interface_endpoint_id: vpce.into(),
                connection_status: status,
                delete_requested: false,
                error_message: None,
            },
        });
        if let Some(s) = lock(&self.services)
            .iter_mut()
            .find(|s| s.service.id == service_id)
        {
            s.service.interface_endpoints.push(vpce.into());
        }
    }

    /// The next call of `operation` answers `error`.
    pub fn fail_next(&self, operation: &'static str, error: AtlasError) {
        lock(&self.failures).push((operation, error));
    }

    /// Records `call`, then answers its scripted failure if there is one.
    fn record(&self, operation: &'static str, call: Call) -> Result<(), AtlasError> {
        lock(&self.calls).push(call);
        let mut failures = lock(&self.failures);
        match failures.iter().position(|(op, _)| *op == operation) {
            Some(i) => Err(failures.remove(i).1),
            None => Ok(()),
        }
    }

    /// The service `id`, as Atlas answers it.
    fn find_service(&self, id: &str) -> Option<EndpointService> {
        lock(&self.services)
            .iter()
            .find(|s| s.service.id == id)
            .map(|s| s.service.clone())
    }
}

impl Atlas for FakeAtlas {
    async fn list_endpoint_services(
        &self,
        group: &str,
    ) -> Result<Vec<EndpointService>, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record("ListEndpointServices", Call::ListEndpointServices)?;
        let mut services = lock(&self.services);
        let mut listed = Vec::new();
        for s in services.iter_mut() {
            if s.unlisted_for > 0 {
                s.unlisted_for -= 1;
            } else {
                listed.push(s.service.clone());
            }
        }
        Ok(listed)
    }

    async fn create_endpoint_service(
        &self,
        group: &str,
        region: &str,
    ) -> Result<EndpointService, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "CreateEndpointService",
            Call::CreateEndpointService {
                region: region.into(),
            },
        )?;
        let mut services = lock(&self.services);
        // One service per region, whatever its status, listed or not (Admin API, "Create One
        // Private Endpoint Service for One Provider").
        if services.iter().any(|s| {
            s.service
                .region_name
                .as_deref()
                .is_some_and(|r| same_region(r, region))
        }) {
            return Err(conflict("createEndpointService", ALREADY_EXISTS_FOR_REGION));
        }
        let mut made = service(
            &format!("{:024x}", services.len() + 1),
            ServiceStatus::Initiating,
            None,
            &[],
        );
        made.region_name = Some(atlas_api::models::to_aws_region(region));
        services.push(Service {
            service: made.clone(),
            unlisted_for: 0,
        });
        Ok(made)
    }

    async fn get_endpoint_service(
        &self,
        group: &str,
        service_id: &str,
    ) -> Result<EndpointService, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "GetEndpointService",
            Call::GetEndpointService {
                id: service_id.into(),
            },
        )?;
        let mut found = self
            .find_service(service_id)
            .ok_or_else(|| not_found("getEndpointService"))?;
        if let Some(reads) = lock(&self.updating).get_mut(service_id)
            && *reads > 0
        {
            *reads -= 1;
            found.status = ServiceStatus::Initiating;
        }
        Ok(found)
    }

    async fn update_endpoint_service_remote_regions(
        &self,
        group: &str,
        service_id: &str,
        regions: &[String],
    ) -> Result<EndpointService, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "UpdateRemoteRegions",
            Call::UpdateRemoteRegions {
                id: service_id.into(),
                regions: regions.to_vec(),
            },
        )?;
        if regions.len() > MAX_REMOTE_REGIONS {
            return Err(AtlasError::Rejected {
                operation: "updateEndpointService",
                status: 400,
                code: "INVALID_ATTRIBUTE".into(),
                detail: "too many remote regions".into(),
            });
        }
        let mut services = lock(&self.services);
        let s = services
            .iter_mut()
            .find(|s| s.service.id == service_id)
            .ok_or_else(|| not_found("updateEndpointService"))?;
        // The whole list is replaced; a change is applied for a while (the simulator models
        // it with time, the fake with one read that shows INITIATING).
        let (mut old, mut new) = (s.service.supported_remote_regions.clone(), regions.to_vec());
        old.sort();
        new.sort();
        if old != new {
            lock(&self.updating).insert(service_id.into(), 1);
        }
        s.service.supported_remote_regions = regions.to_vec();
        let mut answered = s.service.clone();
        answered.status = ServiceStatus::Initiating;
        Ok(answered)
    }

    async fn delete_endpoint_service(
        &self,
        group: &str,
        service_id: &str,
    ) -> Result<(), AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "DeleteEndpointService",
            Call::DeleteEndpointService {
                id: service_id.into(),
            },
        )?;
        // Gone already counts as deleted, as for the client.
        if let Some(s) = lock(&self.services)
            .iter_mut()
            .find(|s| s.service.id == service_id)
        {
            s.service.status = ServiceStatus::Deleting;
        }
        Ok(())
    }

    async fn create_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> Result<InterfaceEndpoint, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "CreateInterfaceEndpoint",
            Call::CreateInterfaceEndpoint {
                service_id: service_id.into(),
                vpce: vpce.into(),
            },
        )?;
        if self.find_service(service_id).is_none() {
            return Err(not_found("createInterfaceEndpoint"));
        }
        if lock(&self.links)
            .iter()
            .any(|l| l.service_id == service_id && l.interface.interface_endpoint_id == vpce)
        {
            return Err(conflict(
                "createInterfaceEndpoint",
                "PRIVATE_ENDPOINT_ALREADY_EXISTS",
            ));
        }
        self.seed_link(service_id, vpce, ConnectionStatus::PendingAcceptance);
        Ok(InterfaceEndpoint {
            interface_endpoint_id: vpce.into(),
            connection_status: ConnectionStatus::PendingAcceptance,
            delete_requested: false,
            error_message: None,
        })
    }

    async fn get_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> Result<InterfaceEndpoint, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "GetInterfaceEndpoint",
            Call::GetInterfaceEndpoint {
                service_id: service_id.into(),
                vpce: vpce.into(),
            },
        )?;
        lock(&self.links)
            .iter()
            .find(|l| l.service_id == service_id && l.interface.interface_endpoint_id == vpce)
            .map(|l| l.interface.clone())
            .ok_or_else(|| not_found("getInterfaceEndpoint"))
    }

    async fn delete_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> Result<(), AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "DeleteInterfaceEndpoint",
            Call::DeleteInterfaceEndpoint {
                service_id: service_id.into(),
                vpce: vpce.into(),
            },
        )?;
        // Atlas marks the link and removes it later; gone already counts as removed.
        for l in lock(&self.links).iter_mut() {
            if l.service_id == service_id && l.interface.interface_endpoint_id == vpce {
                l.interface.delete_requested = true;
            }
        }
        Ok(())
    }

    async fn get_cluster(&self, group: &str, cluster: &str) -> Result<Cluster, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record(
            "GetCluster",
            Call::GetCluster {
                name: cluster.into(),
            },
        )?;
        lock(&self.cluster)
            .clone()
            .ok_or_else(|| not_found("getCluster"))
    }

    async fn get_regional_mode(&self, group: &str) -> Result<bool, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record("GetRegionalMode", Call::GetRegionalMode)?;
        Ok(*lock(&self.regional_mode))
    }

    async fn set_regional_mode(&self, group: &str, enabled: bool) -> Result<bool, AtlasError> {
        assert_eq!(group, PROJECT);
        self.record("SetRegionalMode", Call::SetRegionalMode { enabled })?;
        let mut mode = lock(&self.regional_mode);
        *mode = enabled;
        Ok(*mode)
    }
}
