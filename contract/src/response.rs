//! The check of a response: its status (documented, or a known gap of the spec),
//! `Content-Type` (the requested version for a 2xx) and body.

use serde_json::Value;

use crate::gaps::known_spec_gap;
use crate::media::{essence, listing, media_list, single};
use crate::model::{CacheKey, Contract, Direction};
use crate::violation::{Violation, unmatched};

impl Contract {
    /// The violations of the response to a request (`method`, `path`, `accept` as in
    /// [`Contract::check_request`]): its status, `Content-Type` header and body parsed as JSON
    /// (`None`: no or empty body).
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        accept: Option<&str>,
        status: u16,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<Violation> {
        let (index, params) = match self.find(method, path) {
            Ok(found) => found,
            Err(message) => return vec![unmatched(method, path, message)],
        };
        let op = &self.operations[index];
        let mut out = Vec::new();
        let mut report = |message: String| {
            out.push(Violation {
                operation: op.id.clone(),
                message,
            })
        };
        // A status the spec omits but Atlas is known to send is checked like the operation's
        // documented 500: an ApiError body in application/json.
        let documented = op
            .response_for(status)
            .or_else(|| known_spec_gap(&op.id, status).and_then(|_| op.response_for(500)));
        let Some((status_key, response)) = documented else {
            report(format!(
                "status {status} is not a documented response (documented: {})",
                op.responses.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            return out;
        };
        let label = format!("response {status}");
        if response.media.is_empty() {
            if body.is_some() {
                report(format!("{label} documents no content, but has a body"));
            }
            return out;
        }
        let names = || listing(response.media.iter().map(|m| &m.name));
        let ct = content_type.map(essence);
        let mut chosen = None;
        if let Some(ct) = &ct {
            chosen = response.media.iter().position(|m| &m.name == ct);
            if chosen.is_none() {
                report(format!(
                    "{label} Content-Type `{ct}` is not one of {}",
                    names()
                ));
            } else if (200..300).contains(&status) {
                let accepted = accept.map(media_list).unwrap_or_default();
                let offered = accepted
                    .iter()
                    .any(|a| response.media.iter().any(|m| &m.name == a));
                if offered && !accepted.contains(ct) {
                    report(format!(
                        "{label} Content-Type `{ct}` is not the type the request asked for (Accept `{}`)",
                        accept.unwrap_or_default()
                    ));
                }
            }
        }
        if status == 204 {
            if body.is_some() {
                report(format!("{label} must have no body"));
            }
            return out;
        }
        let Some(body) = body else {
            if response.media.iter().any(|m| m.schema.is_some()) {
                report(format!("{label} has no body; expected one of {}", names()));
            }
            return out;
        };
        if ct.is_none() {
            report(format!(
                "{label} has a body but no Content-Type; expected one of {}",
                names()
            ));
        }
        if let Some(media) = chosen.or_else(|| single(&response.media)) {
            let key = CacheKey {
                operation: index,
                direction: Direction::Response,
                status: status_key.to_owned(),
                media,
                variant: None,
            };
            let media = &response.media[media];
            for message in self.validate_body(key, media, &params, body, &format!("{label} body")) {
                report(message);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::gaps::known_spec_gap;
    use crate::test_support::*;

    fn endpoint_service(name: Value) -> Value {
        json!({
            "id": SID,
            "cloudProvider": "AWS",
            "regionName": "US_EAST_1",
            "status": "INITIATING",
            "errorMessage": "",
            "endpointServiceName": name,
            "interfaceEndpoints": [],
        })
    }

    fn api_error(status: u16, code: &str) -> Value {
        json!({
            "error": status,
            "errorCode": code,
            "detail": "details",
            "reason": "Conflict",
            "parameters": [],
        })
    }

    fn cluster_body(private_endpoint: Value) -> Value {
        json!({
            "id": SID,
            "groupId": G,
            "name": "Cluster0",
            "clusterType": "REPLICASET",
            "stateName": "IDLE",
            "mongoDBVersion": "8.0.4",
            "paused": false,
            "connectionStrings": {
                "standardSrv": "mongodb+srv://cluster0.abcde.mongodb.net",
                "privateEndpoint": private_endpoint,
            },
            "replicationSpecs": [{
                "id": SID,
                "zoneName": "Zone 1",
                "regionConfigs": [{
                    "providerName": "AWS",
                    "regionName": "US_EAST_1",
                    "priority": 7,
                    "electableSpecs": { "instanceSize": "M10", "nodeCount": 3, "diskSizeGB": 10.0 },
                    "autoScaling": { "compute": { "enabled": true, "maxInstanceSize": "M40" } },
                }],
            }],
        })
    }

    fn private_endpoint_strings() -> Value {
        json!([{
            "connectionString": "mongodb://pl-0-us-east-1.abcde.mongodb.net:1024",
            "srvConnectionString": "mongodb+srv://cluster0-pl-0.abcde.mongodb.net",
            "srvShardOptimizedConnectionString": "mongodb+srv://cluster0-pl-0-lb.abcde.mongodb.net",
            "type": "MONGOD",
            "endpoints": [{ "endpointId": VPCE, "providerName": "AWS", "region": "US_EAST_1" }],
        }])
    }

    #[test]
    fn endpoint_service_responses() {
        let Some(c) = contract() else { return };
        let initiating = endpoint_service(Value::Null);
        assert_ok(c.check_response(
            "GET",
            &service(),
            Some(V2023),
            200,
            Some(V2023),
            Some(&initiating),
        ));
        let mut available = endpoint_service(json!(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
        ));
        available["status"] = json!("AVAILABLE");
        available["interfaceEndpoints"] = json!([VPCE]);
        assert_ok(c.check_response(
            "POST",
            &services(),
            Some(V2023),
            200,
            Some(V2023),
            Some(&available),
        ));
        let mut bad = available.clone();
        bad["status"] = json!("READY");
        assert_violates(
            c.check_response("GET", &service(), Some(V2023), 200, Some(V2023), Some(&bad)),
            "READY",
        );
        let mut anonymous = available.clone();
        if let Some(o) = anonymous.as_object_mut() {
            o.remove("cloudProvider");
        }
        assert_violates(
            c.check_response(
                "GET",
                &service(),
                Some(V2023),
                200,
                Some(V2023),
                Some(&anonymous),
            ),
            "cloudProvider",
        );
        // Content types: the requested one, JSON for errors.
        assert_violates(
            c.check_response(
                "GET",
                &service(),
                Some(V2023),
                200,
                Some(JSON),
                Some(&available),
            ),
            "Content-Type",
        );
        assert_violates(
            c.check_response("GET", &service(), Some(V2023), 200, None, Some(&available)),
            "no Content-Type",
        );
        assert_violates(
            c.check_response("GET", &service(), Some(V2023), 200, Some(V2023), None),
            "no body",
        );
        // A list is a plain array.
        let list = json!([initiating, available]);
        assert_ok(c.check_response(
            "GET",
            &aws_services(),
            Some(V2023),
            200,
            Some(V2023),
            Some(&list),
        ));
        let paginated = json!({ "results": [initiating], "totalCount": 1 });
        assert_violates(
            c.check_response(
                "GET",
                &aws_services(),
                Some(V2023),
                200,
                Some(V2023),
                Some(&paginated),
            ),
            "array",
        );
    }

    #[test]
    fn interface_endpoint_responses() {
        let Some(c) = contract() else { return };
        let linked = json!({
            "cloudProvider": "AWS",
            "interfaceEndpointId": VPCE,
            "connectionStatus": "PENDING_ACCEPTANCE",
            "deleteRequested": false,
        });
        assert_ok(c.check_response(
            "POST",
            &endpoints(),
            Some(V2023),
            200,
            Some(V2023),
            Some(&linked),
        ));
        let one = format!("{}/{VPCE}", endpoints());
        assert_ok(c.check_response("GET", &one, Some(V2023), 200, Some(V2023), Some(&linked)));
        let mut bad = linked.clone();
        bad["deleteRequested"] = json!("no");
        assert_violates(
            c.check_response("GET", &one, Some(V2023), 200, Some(V2023), Some(&bad)),
            "deleteRequested",
        );
        // 204: no body.
        assert_ok(c.check_response("DELETE", &one, Some(V2023), 204, None, None));
        assert_ok(c.check_response("DELETE", &one, Some(V2023), 204, Some(V2023), None));
        assert_violates(
            c.check_response(
                "DELETE",
                &one,
                Some(V2023),
                204,
                Some(V2023),
                Some(&json!({})),
            ),
            "no body",
        );
    }

    #[test]
    fn error_responses() {
        let Some(c) = contract() else { return };
        let conflict = api_error(409, "PRIVATE_ENDPOINT_ALREADY_EXISTS");
        assert_ok(c.check_response(
            "POST",
            &endpoints(),
            Some(V2023),
            409,
            Some(JSON),
            Some(&conflict),
        ));
        let ct = format!("{JSON};charset=utf-8");
        assert_ok(c.check_response(
            "POST",
            &endpoints(),
            Some(V2023),
            409,
            Some(&ct),
            Some(&conflict),
        ));
        let mut no_code = conflict.clone();
        if let Some(o) = no_code.as_object_mut() {
            o.remove("errorCode");
        }
        assert_violates(
            c.check_response(
                "POST",
                &endpoints(),
                Some(V2023),
                409,
                Some(JSON),
                Some(&no_code),
            ),
            "errorCode",
        );
        // Nullable detail and reason.
        let mut nulls = api_error(429, "RATE_LIMITED");
        nulls["detail"] = Value::Null;
        nulls["reason"] = Value::Null;
        assert_ok(c.check_response(
            "GET",
            &service(),
            Some(V2023),
            429,
            Some(JSON),
            Some(&nulls),
        ));
        // Errors are application/json, whatever the Accept.
        assert_violates(
            c.check_response(
                "GET",
                &service(),
                Some(V2023),
                404,
                Some(V2023),
                Some(&api_error(404, "NOT_FOUND")),
            ),
            "Content-Type",
        );
        // Statuses the operation does not document.
        assert_violates(
            c.check_response(
                "GET",
                &service(),
                Some(V2023),
                418,
                Some(JSON),
                Some(&api_error(418, "TEAPOT")),
            ),
            "418",
        );
        // The endpoint service create documents no 409, but Atlas sends one for a second
        // service in a region: a listed spec gap, still checked as an ApiError.
        assert!(known_spec_gap("createGroupPrivateEndpointEndpointService", 409).is_some());
        let region_exists = api_error(409, "PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION");
        let gap = c.check_response(
            "POST",
            &services(),
            Some(V2023),
            409,
            Some(JSON),
            Some(&region_exists),
        );
        assert!(gap.is_empty(), "{gap:?}");
        assert_violates(
            c.check_response(
                "POST",
                &services(),
                Some(V2023),
                409,
                Some(JSON),
                Some(&json!({"error": 409})),
            ),
            "errorCode",
        );
        // Elsewhere an undocumented 409 is still a violation.
        assert_violates(
            c.check_response(
                "GET",
                &service(),
                Some(V2023),
                409,
                Some(JSON),
                Some(&conflict),
            ),
            "409",
        );
        let unknown = c.check_response(
            "GET",
            "/api/atlas/v2/nowhere",
            Some(V2023),
            200,
            Some(V2023),
            Some(&json!({})),
        );
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].operation, "GET /api/atlas/v2/nowhere");
    }

    #[test]
    fn cluster_responses() {
        let Some(c) = contract() else { return };
        let ready = cluster_body(private_endpoint_strings());
        assert_ok(c.check_response(
            "GET",
            &cluster(),
            Some(V2024),
            200,
            Some(V2024),
            Some(&ready),
        ));
        assert_ok(c.check_response(
            "GET",
            &cluster(),
            Some(V2024),
            200,
            Some(V2024),
            Some(&cluster_body(json!([]))),
        ));
        let object = cluster_body(json!({ "connectionString": "mongodb://x" }));
        assert_violates(
            c.check_response(
                "GET",
                &cluster(),
                Some(V2024),
                200,
                Some(V2024),
                Some(&object),
            ),
            "privateEndpoint",
        );
        // Asked 2024-08-05, answered 2023-01-01: the wrong version.
        assert_violates(
            c.check_response(
                "GET",
                &cluster(),
                Some(V2024),
                200,
                Some(V2023),
                Some(&ready),
            ),
            "asked for",
        );
        // Discriminated region configs: the base applies (priority ≤ 7) ...
        let mut priority = ready.clone();
        priority["replicationSpecs"][0]["regionConfigs"][0]["priority"] = json!(9);
        assert_violates(
            c.check_response(
                "GET",
                &cluster(),
                Some(V2024),
                200,
                Some(V2024),
                Some(&priority),
            ),
            "priority",
        );
        // ... and the AWS variant too (its own properties).
        let mut analytics = ready.clone();
        analytics["replicationSpecs"][0]["regionConfigs"][0]["analyticsSpecs"] = json!("M10");
        assert_violates(
            c.check_response(
                "GET",
                &cluster(),
                Some(V2024),
                200,
                Some(V2024),
                Some(&analytics),
            ),
            "analyticsSpecs",
        );
        // An unmapped provider matches no alternative of the oneOf.
        let mut ibm = ready.clone();
        ibm["replicationSpecs"][0]["regionConfigs"][0]["providerName"] = json!("IBM");
        assert!(
            !c.check_response("GET", &cluster(), Some(V2024), 200, Some(V2024), Some(&ibm))
                .is_empty()
        );
        // A region name valid for two providers (oneOf relaxed to anyOf).
        let mut shared_region = ready.clone();
        shared_region["replicationSpecs"][0]["regionConfigs"][0]["regionName"] = json!("US_EAST_2");
        assert_ok(c.check_response(
            "GET",
            &cluster(),
            Some(V2024),
            200,
            Some(V2024),
            Some(&shared_region),
        ));
    }
}
