//! The simulated world: endpoint services, their interface endpoints, and the seeded clusters
//! (described from the state of the services around them).
//!
//! Nothing here runs on a timer. Every record keeps the clock times at which it changes state,
//! fixed when it is created (from the delays and outcomes then in force), and every read derives
//! the state from `now`; finished deletions are swept on access.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cluster::ClusterRec;
use crate::delays::Delays;
use crate::ids::{aws_region, new_object_id, random_hex};
use crate::outcome::{LinkGate, Outcome, ReadyStatus};
use crate::regional::{self, RegionalMode};
use crate::remote::RemoteRegion;
use crate::reply::ApiFailure;

/// The rules in force when a record is created.
pub(crate) struct Rules<'a> {
    pub delays: &'a Delays,
    pub outcomes: &'a [Outcome],
    pub ready: ReadyStatus,
    /// Asked whether a VPC endpoint can be accepted on the AWS side now.
    pub gate: Option<&'a dyn LinkGate>,
    /// The regional mode of projects no PATCH has set.
    pub regional_default: bool,
}

/// What becomes of an interface endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Available,
    Rejected,
    Failed,
    /// The link gate refused it: `FAILED` from the link on, with this `errorMessage`; Atlas's
    /// acceptance on the AWS side failed, so AWS still shows the endpoint `pendingAcceptance`
    /// (terraform-provider-mongodbatlas issue 590, which quotes the message but not the
    /// status; `FAILED` is a final state for terraform's interface wait, though the docs' AWS
    /// `connectionStatus` list has no `FAILED`, only `REJECTED`).
    Refused(String),
}

#[derive(Debug, Clone)]
pub(crate) struct InterfaceRec {
    pub vpce_id: String,
    pending_at: SystemTime,
    pub available_at: SystemTime,
    fate: Fate,
    deleting: bool,
    /// When the removal was asked for.
    delete_requested_at: Option<SystemTime>,
    gone_at: Option<SystemTime>,
}

impl InterfaceRec {
    fn status(&self, now: SystemTime) -> (&'static str, Option<&str>) {
        if self.deleting {
            return ("DELETING", None);
        }
        match &self.fate {
            Fate::Refused(message) => return ("FAILED", Some(message)),
            Fate::Rejected if now >= self.pending_at => {
                return ("REJECTED", Some("Interface endpoint rejected (simulated)."));
            }
            Fate::Failed if now >= self.available_at => {
                return ("FAILED", Some("Interface endpoint failed (simulated)."));
            }
            _ => {}
        }
        if now < self.pending_at {
            ("PENDING_ACCEPTANCE", None)
        } else if now < self.available_at {
            ("PENDING", None)
        } else {
            ("AVAILABLE", None)
        }
    }

    /// `AVAILABLE` at `now`.
    fn is_available(&self, now: SystemTime) -> bool {
        self.status(now).0 == "AVAILABLE"
    }

    /// Whether Atlas has accepted the endpoint on the AWS side by `now`: it went `PENDING`
    /// (acceptance is the `PENDING_ACCEPTANCE` → `PENDING` step) before any removal. A refused
    /// or rejected endpoint never was.
    fn accepted(&self, now: SystemTime) -> bool {
        let until = self.delete_requested_at.map_or(now, |asked| asked.min(now));
        matches!(self.fate, Fate::Available | Fate::Failed) && until >= self.pending_at
    }

    fn api_json(&self, now: SystemTime) -> Value {
        let (status, error) = self.status(now);
        let mut body = json!({
            "cloudProvider": "AWS",
            "interfaceEndpointId": self.vpce_id,
            "connectionStatus": status,
            "deleteRequested": self.deleting,
        });
        // The spec types errorMessage as a non-nullable string: absent rather than null.
        if let Some(error) = error {
            body["errorMessage"] = json!(error);
        }
        body
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ServiceRec {
    pub id: String,
    pub group_id: String,
    /// AWS spelling, `us-east-1`.
    pub region: String,
    name: String,
    ready_at: SystemTime,
    failure: Option<String>,
    ready: ReadyStatus,
    deleting: bool,
    gone_at: Option<SystemTime>,
    had_interfaces: bool,
    pub interfaces: Vec<InterfaceRec>,
    /// `supportedRemoteRegions`, in the order last given.
    remote: Vec<RemoteRegion>,
    /// Until then the last change of `remote` is being applied: the service shows
    /// `INITIATING` again.
    remote_settles_at: SystemTime,
}

impl ServiceRec {
    fn status(&self, now: SystemTime) -> &'static str {
        if self.deleting {
            "DELETING"
        } else if now < self.ready_at {
            "INITIATING"
        } else if self.failure.is_some() {
            "FAILED"
        } else if now < self.remote_settles_at {
            // Whether a PATCH of the remote regions really moves the service back to
            // INITIATING is not documented; Terraform waits for it as after a create (pending
            // INITIATING/DELETING, polled every 5 s), so clients must tolerate it (research
            // notes issue 12, §1 "Status while a change applies").
            "INITIATING"
        } else {
            self.ready.as_str()
        }
    }

    fn is_ready(&self, now: SystemTime) -> bool {
        !self.deleting
            && now >= self.ready_at
            && self.failure.is_none()
            && now >= self.remote_settles_at
    }

    /// Whether the service can serve VPC endpoints at all (it exists on the AWS side, has not
    /// failed and is not being removed).
    fn is_usable(&self, now: SystemTime) -> bool {
        !self.deleting && now >= self.ready_at && self.failure.is_none()
    }

    /// Which regions this service serves at `now`.
    fn regions_view(&self, now: SystemTime) -> ServiceRegionsView {
        let usable = self.is_usable(now);
        let (serving, pending): (Vec<&RemoteRegion>, Vec<&RemoteRegion>) = self
            .remote
            .iter()
            .partition(|r| usable && now >= r.serving_at);
        ServiceRegionsView {
            group_id: self.group_id.clone(),
            endpoint_service_id: self.id.clone(),
            endpoint_service_name: self.name.clone(),
            status: self.status(now).to_owned(),
            home_region: self.region.clone(),
            home_usable: usable,
            serving: serving.into_iter().map(|r| r.aws.clone()).collect(),
            pending: pending.into_iter().map(|r| r.aws.clone()).collect(),
        }
    }

    /// The snapshot view.
    pub fn view(&self, now: SystemTime) -> ServiceView {
        let finished = now >= self.ready_at;
        ServiceView {
            id: self.id.clone(),
            group_id: self.group_id.clone(),
            region_name: self.region.clone(),
            status: self.status(now).to_owned(),
            endpoint_service_name: (finished && self.failure.is_none()).then(|| self.name.clone()),
            error_message: self.failure.clone().filter(|_| finished),
            interface_endpoints: self.interfaces.iter().map(|i| i.vpce_id.clone()).collect(),
            supported_remote_regions: self.remote.iter().map(|r| r.name.clone()).collect(),
        }
    }

    fn api_json(&self, now: SystemTime) -> Value {
        let view = self.view(now);
        let mut body = json!({
            "id": view.id,
            "cloudProvider": "AWS",
            "regionName": view.region_name,
            "status": view.status,
            "endpointServiceName": view.endpoint_service_name,
            "interfaceEndpoints": view.interface_endpoints,
            // Not in the older spec excerpt we check against, but in the current Atlas spec's
            // EndpointService (an AWS-only property) and read from GET by Terraform and the
            // Kubernetes operator (research notes issue 12, §1 "GET returns the list"). Always
            // an array here, empty when nothing is listed.
            "supportedRemoteRegions": view.supported_remote_regions,
        });
        // The spec types errorMessage as a non-nullable string: absent rather than null.
        if let Some(error) = view.error_message {
            body["errorMessage"] = json!(error);
        }
        body
    }
}

/// A private endpoint service as the simulator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    /// 24-hex id.
    pub id: String,
    /// Project.
    pub group_id: String,
    /// AWS region spelling, `us-east-1`.
    pub region_name: String,
    /// `INITIATING`, `AVAILABLE`, `WAITING_FOR_USER`, `FAILED` or `DELETING`.
    pub status: String,
    /// Set once the service is ready.
    pub endpoint_service_name: Option<String>,
    /// Set once the service has failed.
    pub error_message: Option<String>,
    /// Linked interface endpoint ids.
    pub interface_endpoints: Vec<String>,
    /// `supportedRemoteRegions` (Atlas spellings, `US_WEST_2`), pending ones included.
    pub supported_remote_regions: Vec<String>,
}

/// Which AWS regions an endpoint service accepts VPC endpoints from, as the simulated AWS side
/// needs to know to decide a cross-region `CreateVpcEndpoint` (see
/// [`SimHandle::service_regions`](crate::SimHandle::service_regions)).
///
/// Region names are AWS spellings (`us-west-2`), as EC2 uses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRegionsView {
    /// Project.
    pub group_id: String,
    /// 24-hex id of the service.
    pub endpoint_service_id: String,
    /// `com.amazonaws.vpce.<home region>.vpce-svc-…` (known to the simulator from the start,
    /// shown by the API once the service is ready).
    pub endpoint_service_name: String,
    /// The service's status as the API shows it now.
    pub status: String,
    /// The service's own region: served without being listed.
    pub home_region: String,
    /// Whether the service exists on the AWS side and can take endpoints at all: false while
    /// it is first created, once it has failed and while it is being removed.
    pub home_usable: bool,
    /// Listed remote regions that are usable now.
    pub serving: Vec<String>,
    /// Listed remote regions whose change is still being applied (or, while the service is
    /// not usable, every listed one).
    pub pending: Vec<String>,
}

impl ServiceRegionsView {
    /// Whether a VPC endpoint in `region` (either spelling) can connect to the service now:
    /// its home region, or a remote region it serves, while the service is usable.
    pub fn serves(&self, region: &str) -> bool {
        let Some(region) = aws_region(region) else {
            return false;
        };
        self.home_usable && (region == self.home_region || self.serving.contains(&region))
    }

    /// Whether `region` (either spelling) is a remote region the service lists but does not
    /// serve yet.
    pub fn is_pending(&self, region: &str) -> bool {
        aws_region(region).is_some_and(|region| self.pending.contains(&region))
    }
}

/// An interface endpoint as the simulator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceView {
    /// Project.
    pub group_id: String,
    /// The service it is linked to.
    pub endpoint_service_id: String,
    /// AWS region of the service.
    pub region_name: String,
    /// `vpce-…`.
    pub interface_endpoint_id: String,
    /// `PENDING_ACCEPTANCE`, `PENDING`, `AVAILABLE`, `REJECTED`, `FAILED` or `DELETING`.
    pub connection_status: String,
    /// Removal requested.
    pub delete_requested: bool,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Whether Atlas has accepted the endpoint on the AWS side at some point (its status was
    /// `PENDING` or `AVAILABLE`): false while `PENDING_ACCEPTANCE`, for a `REJECTED` one, and
    /// for one the link gate refused.
    pub accepted: bool,
}

/// A period during which a project's clusters are `UPDATING`.
#[derive(Debug, Clone)]
pub(crate) struct UpdateWindow {
    group_id: String,
    vpce_id: String,
    start: SystemTime,
    end: SystemTime,
}

/// All services, interfaces and clusters.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub services: Vec<ServiceRec>,
    clusters: Vec<ClusterRec>,
    windows: Vec<UpdateWindow>,
    /// Regional mode of the projects a PATCH has set.
    regional: BTreeMap<String, RegionalMode>,
}

impl World {
    /// Drops what has finished disappearing by `now`.
    pub fn sweep(&mut self, now: SystemTime) {
        for service in &mut self.services {
            service
                .interfaces
                .retain(|i| i.gone_at.is_none_or(|gone| now < gone));
        }
        self.services.retain(|s| {
            let deleted = s.gone_at.is_some_and(|gone| now >= gone);
            // Removing the last interface endpoint removes the service too (Atlas Admin API
            // spec, deletePrivateEndpoint / deleteGroupPrivateEndpointEndpointServiceEndpoint
            // description; the Kubernetes operator relies on it, mongodb-atlas-kubernetes PR
            // 1916). So after a refused link (terraform-provider-mongodbatlas issue 590) whose
            // interface was the only one is removed, the endpoint service has to be created
            // again before the VPC endpoint can be linked.
            let emptied = s.had_interfaces && s.interfaces.is_empty();
            !deleted && !emptied
        });
    }

    fn service_mut(&mut self, group: &str, id: &str) -> Result<&mut ServiceRec, ApiFailure> {
        self.services
            .iter_mut()
            .find(|s| s.group_id == group && s.id == id)
            .ok_or_else(|| {
                ApiFailure::not_found(
                    "PRIVATE_ENDPOINT_SERVICE_NOT_FOUND",
                    format!("No private endpoint service with id {id} exists in project {group}."),
                )
            })
    }

    /// Services of a project, in creation order.
    pub fn services_of(&self, group: &str) -> impl Iterator<Item = &ServiceRec> {
        self.services.iter().filter(move |s| s.group_id == group)
    }

    /// Creates a service in `region` (AWS spelling) listing `remote` (`(Atlas, AWS)` names,
    /// checked by the caller) as its remote regions, served once the service is ready.
    pub fn create_service(
        &mut self,
        group: &str,
        region: &str,
        remote: Vec<(String, String)>,
        now: SystemTime,
        rules: &Rules<'_>,
    ) -> Result<Value, ApiFailure> {
        if self.services_of(group).any(|s| s.region == region) {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                "PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION",
                format!("A private endpoint service already exists for AWS region {region}."),
            ));
        }
        let failure = rules.outcomes.iter().find_map(|o| match o {
            Outcome::ServiceFailed { region: r, message }
                if aws_region(r).as_deref() == Some(region) =>
            {
                Some(message.clone().unwrap_or_else(|| {
                    format!("Private endpoint service creation failed in {region} (simulated).")
                }))
            }
            _ => None,
        });
        let ready_at = now + rules.delays.service_available;
        let service = ServiceRec {
            id: new_object_id(),
            group_id: group.to_owned(),
            region: region.to_owned(),
            name: format!("com.amazonaws.vpce.{region}.vpce-svc-{}", random_hex(17)),
            ready_at,
            failure,
            ready: rules.ready,
            deleting: false,
            gone_at: None,
            had_interfaces: false,
            interfaces: Vec::new(),
            remote: remote
                .into_iter()
                .map(|(name, aws)| RemoteRegion {
                    name,
                    aws,
                    serving_at: ready_at,
                })
                .collect(),
            remote_settles_at: ready_at,
        };
        let body = service.api_json(now);
        self.services.push(service);
        Ok(body)
    }

    /// Replaces a service's remote regions with `regions` (`(Atlas, AWS)` names, checked by
    /// the caller): `PATCH …/privateEndpoint/endpointService/{id}`.
    ///
    /// The whole list is replaced, nothing merged: an empty list clears it (research notes
    /// issue 12, §1 "PATCH replaces the whole list"). There is no ETag or If-Match (same
    /// section), so two read-modify-write writers can drop each other's regions; the
    /// simulator does nothing to prevent it. A region kept from the old list stays as it was;
    /// an added region is pending for `delays.remote_regions_update` (not documented, see
    /// [`Delays`]); a removed one stops being served at once (an assumption: nothing says how
    /// long AWS keeps serving it). A PATCH that changes the list puts the service in
    /// `INITIATING` for the same delay; one that does not changes nothing.
    pub fn update_remote_regions(
        &mut self,
        group: &str,
        id: &str,
        regions: Vec<(String, String)>,
        now: SystemTime,
        delays: &Delays,
    ) -> Result<Value, ApiFailure> {
        let service = self.service_mut(group, id)?;
        let mut old: Vec<&str> = service.remote.iter().map(|r| r.name.as_str()).collect();
        let mut new: Vec<&str> = regions.iter().map(|(name, _)| name.as_str()).collect();
        old.sort_unstable();
        new.sort_unstable();
        if old != new {
            let settles_at = (now + delays.remote_regions_update).max(service.ready_at);
            let remote = regions
                .into_iter()
                .map(|(name, aws)| {
                    let serving_at = service
                        .remote
                        .iter()
                        .find(|r| r.name == name)
                        .map_or(settles_at, |kept| kept.serving_at);
                    RemoteRegion {
                        name,
                        aws,
                        serving_at,
                    }
                })
                .collect();
            service.remote = remote;
            service.remote_settles_at = settles_at;
        }
        Ok(service.api_json(now))
    }

    /// The regions the service `service` (24-hex id, or its `endpointServiceName`) serves.
    pub fn service_regions(&self, service: &str, now: SystemTime) -> Option<ServiceRegionsView> {
        self.services
            .iter()
            .find(|s| s.id == service || s.name == service)
            .map(|s| s.regions_view(now))
    }

    pub fn list_services(&self, group: &str, now: SystemTime) -> Value {
        Value::Array(self.services_of(group).map(|s| s.api_json(now)).collect())
    }

    pub fn get_service(
        &mut self,
        group: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<Value, ApiFailure> {
        Ok(self.service_mut(group, id)?.api_json(now))
    }

    pub fn delete_service(
        &mut self,
        group: &str,
        id: &str,
        now: SystemTime,
        delays: &Delays,
    ) -> Result<(), ApiFailure> {
        let service = self.service_mut(group, id)?;
        // A second DELETE while the service is DELETING answers 204 and changes nothing. What
        // Atlas answers here is not known from any public source: the spec documents 204, 400,
        // 401, 403, 404, 429 and 500 (no 409), and clients avoid the question (the Atlas
        // Kubernetes operator skips the delete of a DELETING service, atlasprivateendpoint
        // `deletePrivateEndpoint()`), which hints it may not be a harmless no-op. Kept as 204
        // until an observed answer says otherwise. (A recorded first DELETE answered 202 with
        // `{}`, mongodb-atlas-cli e2e snapshot TestPrivateEndpointsAWS/Delete, where the spec
        // says 204; we follow the spec.)
        if service.deleting {
            return Ok(());
        }
        if !service.interfaces.is_empty() {
            return Err(ApiFailure::bad_request(
                "CANNOT_DELETE_PRIVATE_ENDPOINT_SERVICE_WITH_ENDPOINTS",
                "Remove the interface endpoints of this private endpoint service first.",
            ));
        }
        service.deleting = true;
        service.gone_at = Some(now + delays.service_delete);
        Ok(())
    }

    pub fn link(
        &mut self,
        group: &str,
        service_id: &str,
        vpce_id: &str,
        now: SystemTime,
        rules: &Rules<'_>,
    ) -> Result<Value, ApiFailure> {
        let linked_elsewhere = self
            .services
            .iter()
            .flat_map(|s| &s.interfaces)
            .any(|i| i.vpce_id == vpce_id);
        let service = self.service_mut(group, service_id)?;
        if !service.is_ready(now) {
            return Err(ApiFailure::bad_request(
                "PRIVATE_ENDPOINT_SERVICE_NOT_READY",
                format!(
                    "Private endpoint service {service_id} is {}; it must be AVAILABLE or WAITING_FOR_USER.",
                    service.status(now)
                ),
            ));
        }
        if linked_elsewhere {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                "PRIVATE_ENDPOINT_ALREADY_EXISTS",
                format!("Interface endpoint {vpce_id} is already linked."),
            ));
        }
        // The gate is asked only once Atlas would really go ahead, so a request refused above
        // (service not ready, endpoint already linked) never reaches the AWS side. Its refusal
        // wins over a scripted outcome: those happen at acceptance, which never comes.
        let fate = match rules.gate.map(|gate| gate.admit(vpce_id, now)) {
            Some(Err(message)) => Fate::Refused(message),
            _ => rules
                .outcomes
                .iter()
                .find_map(|o| match o {
                    Outcome::InterfaceRejected { vpce_id: v }
                        if v.as_deref().is_none_or(|v| v == vpce_id) =>
                    {
                        Some(Fate::Rejected)
                    }
                    Outcome::InterfaceFailed { vpce_id: v }
                        if v.as_deref().is_none_or(|v| v == vpce_id) =>
                    {
                        Some(Fate::Failed)
                    }
                    _ => None,
                })
                .unwrap_or(Fate::Available),
        };
        let pending_at = now + rules.delays.interface_pending;
        let available_at = (now + rules.delays.interface_available).max(pending_at);
        let interface = InterfaceRec {
            vpce_id: vpce_id.to_owned(),
            pending_at,
            available_at,
            fate: fate.clone(),
            deleting: false,
            delete_requested_at: None,
            gone_at: None,
        };
        let body = interface.api_json(now);
        service.interfaces.push(interface);
        service.had_interfaces = true;
        if fate == Fate::Available {
            self.windows.push(UpdateWindow {
                group_id: group.to_owned(),
                vpce_id: vpce_id.to_owned(),
                start: available_at,
                end: available_at + rules.delays.cluster_idle,
            });
        }
        Ok(body)
    }

    fn interface_mut(
        &mut self,
        group: &str,
        service_id: &str,
        vpce_id: &str,
    ) -> Result<&mut InterfaceRec, ApiFailure> {
        self.service_mut(group, service_id)?
            .interfaces
            .iter_mut()
            .find(|i| i.vpce_id == vpce_id)
            .ok_or_else(|| {
                ApiFailure::not_found(
                    "PRIVATE_ENDPOINT_NOT_FOUND",
                    format!("Interface endpoint {vpce_id} is not linked to service {service_id}."),
                )
            })
    }

    pub fn get_interface(
        &mut self,
        group: &str,
        service_id: &str,
        vpce_id: &str,
        now: SystemTime,
    ) -> Result<Value, ApiFailure> {
        Ok(self
            .interface_mut(group, service_id, vpce_id)?
            .api_json(now))
    }

    pub fn unlink(
        &mut self,
        group: &str,
        service_id: &str,
        vpce_id: &str,
        now: SystemTime,
        delays: &Delays,
    ) -> Result<(), ApiFailure> {
        let interface = self.interface_mut(group, service_id, vpce_id)?;
        // A second DELETE of a DELETING interface answers 204 and keeps the first removal time.
        // As for services, Atlas's real answer is not known from any public source (the spec
        // lists no 409; the Kubernetes operator skips the delete of a DELETING interface):
        // kept as 204 until an observed answer says otherwise.
        if !interface.deleting {
            interface.deleting = true;
            interface.delete_requested_at = Some(now);
            interface.gone_at = Some(now + delays.interface_delete);
            // An endpoint removed before it became available never triggers an update.
            self.windows
                .retain(|w| !(w.group_id == group && w.vpce_id == vpce_id && w.start > now));
        }
        Ok(())
    }

    /// Whether `cluster` may be seeded: a replica set cannot be created in a project whose
    /// regional mode is on (Atlas spec, toggleGroupPrivateEndpointRegionalMode: "Once enabled,
    /// you cannot create replica sets").
    pub fn check_seed(&self, cluster: &ClusterRec, regional_default: bool) -> Result<(), String> {
        if cluster.is_replica_set()
            && self
                .regional_mode(&cluster.group_id, regional_default)
                .enabled
        {
            return Err(format!(
                "project {} has regionalized private endpoints enabled: it cannot contain replica sets (cluster {})",
                cluster.group_id, cluster.name
            ));
        }
        Ok(())
    }

    /// Seeds (or replaces) a cluster, after [`World::check_seed`].
    pub fn seed_cluster(
        &mut self,
        cluster: ClusterRec,
        regional_default: bool,
    ) -> Result<(), String> {
        self.check_seed(&cluster, regional_default)?;
        self.clusters
            .retain(|c| !(c.group_id == cluster.group_id && c.name == cluster.name));
        self.clusters.push(cluster);
        Ok(())
    }

    /// The project's regional mode (`default` if no PATCH has set it).
    pub fn regional_mode(&self, group: &str, default: bool) -> RegionalMode {
        self.regional
            .get(group)
            .cloned()
            .unwrap_or_else(|| RegionalMode::settled(default))
    }

    /// `GET …/privateEndpoint/regionalMode`.
    pub fn get_regional_mode(&self, group: &str, default: bool) -> Value {
        json!({"enabled": self.regional_mode(group, default).enabled})
    }

    /// `PATCH …/privateEndpoint/regionalMode`: 409 when the project's clusters or endpoints
    /// forbid the change (see [`regional`]); otherwise the setting changes at once and the
    /// project's clusters are `UPDATING` for `delays.regional_mode_toggle`, after which the
    /// connection strings of multi-region sharded clusters follow the new mode.
    pub fn set_regional_mode(
        &mut self,
        group: &str,
        enabled: bool,
        now: SystemTime,
        rules: &Rules<'_>,
    ) -> Result<Value, ApiFailure> {
        let current = self.regional_mode(group, rules.regional_default);
        if enabled
            && !current.enabled
            && let Some(replica_set) = self
                .clusters
                .iter()
                .find(|c| c.group_id == group && c.is_replica_set())
        {
            // "Once enabled, you cannot create replica sets. To use this resource, all
            // clusters in the deployment must be sharded clusters." (Atlas spec,
            // toggleGroupPrivateEndpointRegionalMode.)
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                regional::REQUIRES_SHARDED,
                format!(
                    "Cluster {} is a replica set; regionalized private endpoints need every cluster of the project to be sharded.",
                    replica_set.name
                ),
            ));
        }
        if !enabled && current.enabled {
            let mut per_region: Vec<(String, usize)> = Vec::new();
            for service in self.services_of(group) {
                let live = service.interfaces.iter().filter(|i| !i.deleting).count();
                match per_region.iter_mut().find(|(r, _)| *r == service.region) {
                    Some((_, count)) => *count += live,
                    None => per_region.push((service.region.clone(), live)),
                }
            }
            if regional::endpoints_need_regional_mode(&per_region) {
                // ProjectSettingItemView: "You can't disable this setting if you have: more
                // than one private endpoint in more than one region, more than one private
                // endpoint in one region and one private endpoint in one or more regions."
                return Err(ApiFailure::new(
                    StatusCode::CONFLICT,
                    regional::ENDPOINTS_NEED_IT,
                    "The project has more than one private endpoint in one region and private endpoints in other regions; remove them before disabling regionalized private endpoints.",
                ));
            }
        }
        let next = current.patched(enabled, now, rules.delays.regional_mode_toggle);
        self.regional.insert(group.to_owned(), next);
        Ok(json!({"enabled": enabled}))
    }

    /// The regional mode of every project a PATCH has set, for the state snapshot.
    pub fn regional_modes(&self, now: SystemTime) -> Value {
        self.regional
            .iter()
            .map(|(group, mode)| {
                (
                    group.clone(),
                    json!({"enabled": mode.enabled, "toggling": mode.toggling(now)}),
                )
            })
            .collect::<serde_json::Map<String, Value>>()
            .into()
    }

    /// The cluster description, version 2024-08-05.
    pub fn cluster_json(
        &self,
        group: &str,
        name: &str,
        now: SystemTime,
        regional_default: bool,
    ) -> Result<Value, ApiFailure> {
        let cluster = self
            .clusters
            .iter()
            .find(|c| c.group_id == group && c.name == name)
            .ok_or_else(|| {
                ApiFailure::not_found(
                    "CLUSTER_NOT_FOUND",
                    format!("No cluster named {name} exists in group {group}."),
                )
            })?;
        Ok(self.render_cluster(cluster, now, regional_default))
    }

    /// Every cluster, rendered.
    pub fn clusters_json(&self, now: SystemTime, regional_default: bool) -> Vec<Value> {
        self.clusters
            .iter()
            .map(|c| self.render_cluster(c, now, regional_default))
            .collect()
    }

    /// A cluster as it is at `now`: `UPDATING` during an update window of its project or while
    /// the project's regional mode is being toggled, with the project's available interface
    /// endpoints of each region.
    ///
    /// An interface endpoint counts for the region of the service it is linked to. A
    /// cross-region VPC endpoint is linked to the service of its home region (research notes
    /// issue 12, §1 "Interface endpoint in the remote region"), so it counts for, and its
    /// `endpoints[].region` shows, the service's home region: which region Atlas shows there is
    /// not known (research notes §5 "Not found"), and the simulator cannot tell a cross-region
    /// VPC endpoint from another anyway.
    fn render_cluster(
        &self,
        cluster: &ClusterRec,
        now: SystemTime,
        regional_default: bool,
    ) -> Value {
        let mode = self.regional_mode(&cluster.group_id, regional_default);
        let updating = mode.toggling(now)
            || self
                .windows
                .iter()
                .any(|w| w.group_id == cluster.group_id && w.start <= now && now < w.end);
        cluster.render(updating, mode.effective(now), |region: &str| {
            self.services_of(&cluster.group_id)
                .filter(|s| s.region == region)
                .flat_map(|s| &s.interfaces)
                .filter(|i| i.is_available(now))
                .map(|i| i.vpce_id.as_str())
                .collect()
        })
    }

    /// Every interface of a project, with its service.
    pub fn interface_views(&self, group: Option<&str>, now: SystemTime) -> Vec<InterfaceView> {
        self.services
            .iter()
            .filter(|s| group.is_none_or(|g| s.group_id == g))
            .flat_map(|s| {
                s.interfaces.iter().map(move |i| {
                    let (status, error) = i.status(now);
                    InterfaceView {
                        group_id: s.group_id.clone(),
                        endpoint_service_id: s.id.clone(),
                        region_name: s.region.clone(),
                        interface_endpoint_id: i.vpce_id.clone(),
                        connection_status: status.to_owned(),
                        delete_requested: i.deleting,
                        error_message: error.map(str::to_owned),
                        accepted: i.accepted(now),
                    }
                })
            })
            .collect()
    }
}
