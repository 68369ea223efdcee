//! The simulated world: endpoint services, their interface endpoints, and the seeded clusters
//! (described from the state of the services around them).
//!
//! Nothing here runs on a timer. Every record keeps the clock times at which it changes state,
//! fixed when it is created (from the delays and outcomes then in force), and every read derives
//! the state from `now`; finished deletions are swept on access.

use std::time::SystemTime;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cluster::ClusterRec;
use crate::delays::Delays;
use crate::ids::{aws_region, new_object_id, random_hex};
use crate::outcome::{LinkGate, Outcome, ReadyStatus};
use crate::reply::ApiFailure;

/// The rules in force when a record is created.
pub(crate) struct Rules<'a> {
    pub delays: &'a Delays,
    pub outcomes: &'a [Outcome],
    pub ready: ReadyStatus,
    /// Asked whether a VPC endpoint can be accepted on the AWS side now.
    pub gate: Option<&'a dyn LinkGate>,
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
}

impl ServiceRec {
    fn status(&self, now: SystemTime) -> &'static str {
        if self.deleting {
            "DELETING"
        } else if now < self.ready_at {
            "INITIATING"
        } else if self.failure.is_some() {
            "FAILED"
        } else {
            self.ready.as_str()
        }
    }

    fn is_ready(&self, now: SystemTime) -> bool {
        !self.deleting && now >= self.ready_at && self.failure.is_none()
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

    pub fn create_service(
        &mut self,
        group: &str,
        region: &str,
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
        let service = ServiceRec {
            id: new_object_id(),
            group_id: group.to_owned(),
            region: region.to_owned(),
            name: format!("com.amazonaws.vpce.{region}.vpce-svc-{}", random_hex(17)),
            ready_at: now + rules.delays.service_available,
            failure,
            ready: rules.ready,
            deleting: false,
            gone_at: None,
            had_interfaces: false,
            interfaces: Vec::new(),
        };
        let body = service.api_json(now);
        self.services.push(service);
        Ok(body)
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

    /// Seeds (or replaces) a cluster.
    pub fn seed_cluster(&mut self, cluster: ClusterRec) {
        self.clusters
            .retain(|c| !(c.group_id == cluster.group_id && c.name == cluster.name));
        self.clusters.push(cluster);
    }

    /// The cluster description, version 2024-08-05.
    pub fn cluster_json(
        &self,
        group: &str,
        name: &str,
        now: SystemTime,
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
        Ok(self.render_cluster(cluster, now))
    }

    /// Every cluster, rendered.
    pub fn clusters_json(&self, now: SystemTime) -> Vec<Value> {
        self.clusters
            .iter()
            .map(|c| self.render_cluster(c, now))
            .collect()
    }

    /// A cluster as it is at `now`: `UPDATING` during an update window of its project, with
    /// the project's available interface endpoints of each region.
    fn render_cluster(&self, cluster: &ClusterRec, now: SystemTime) -> Value {
        let updating = self
            .windows
            .iter()
            .any(|w| w.group_id == cluster.group_id && w.start <= now && now < w.end);
        cluster.render(updating, |region: &str| {
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
