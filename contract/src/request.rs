//! The check of a request: its operation, `Accept`, `Content-Type` and body.

use serde_json::Value;

use crate::media::{essence, listing, media_list, single};
use crate::model::{CacheKey, Contract, Direction};
use crate::violation::{Violation, unmatched};

impl Contract {
    /// The violations of a request: `path` without query string, the `Content-Type` and
    /// `Accept` headers as sent, the body parsed as JSON (`None`: no or empty body).
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
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
        let accepted = accept.map(media_list).unwrap_or_default();
        if accepted.is_empty() {
            report(format!(
                "the request has no Accept header; expected one of {}",
                listing(&op.success_media)
            ));
        } else if !op.success_media.is_empty()
            && !accepted.iter().any(|m| op.success_media.contains(m))
        {
            report(format!(
                "Accept `{}` names none of the operation's media types {}",
                accept.unwrap_or_default(),
                listing(&op.success_media)
            ));
        }
        let Some(body) = body else {
            if op.request_body.as_ref().is_some_and(|rb| rb.required) {
                report("the request body is required but none was sent".to_owned());
            }
            return out;
        };
        let Some(request_body) = &op.request_body else {
            report("the operation takes no request body, but one was sent".to_owned());
            return out;
        };
        let names = || listing(request_body.media.iter().map(|m| &m.name));
        let chosen = match content_type.map(essence) {
            None => {
                report(format!(
                    "a request body was sent without Content-Type; expected one of {}",
                    names()
                ));
                single(&request_body.media)
            }
            Some(ct) => match request_body.media.iter().position(|m| m.name == ct) {
                Some(i) => Some(i),
                None => {
                    report(format!(
                        "request Content-Type `{ct}` is not one of {}",
                        names()
                    ));
                    single(&request_body.media)
                }
            },
        };
        if let Some(media) = chosen {
            let key = CacheKey {
                operation: index,
                direction: Direction::Request,
                status: String::new(),
                media,
                variant: None,
            };
            let media = &request_body.media[media];
            for message in self.validate_body(key, media, &params, body, "request body") {
                report(message);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    #[test]
    fn create_endpoint_service_request() {
        let Some(c) = contract() else { return };
        let body = json!({ "providerName": "AWS", "region": "us-east-1" });
        assert_ok(c.check_request("POST", &services(), Some(V2023), Some(V2023), Some(&body)));
        // Parameters of the media types are ignored.
        let ct = format!("{V2023}; charset=utf-8");
        assert_ok(c.check_request("POST", &services(), Some(&ct), Some(V2023), Some(&body)));
        let v = c.check_request(
            "POST",
            &services(),
            Some(V2023),
            Some(V2023),
            Some(&json!({"providerName": "AWS"})),
        );
        assert_violates(v, "region");
        let v = c.check_request("POST", &services(), Some(V2023), Some(V2023), None);
        assert_violates(v, "required");
        let bad = json!({ "providerName": "IBM", "region": "us-east-1" });
        assert_violates(
            c.check_request("POST", &services(), Some(V2023), Some(V2023), Some(&bad)),
            "providerName",
        );
        assert_eq!(
            c.check_request("POST", &services(), Some(V2023), Some(V2023), Some(&bad))[0].operation,
            "createGroupPrivateEndpointEndpointService"
        );
    }

    #[test]
    fn content_type_and_accept() {
        let Some(c) = contract() else { return };
        let body = json!({ "providerName": "AWS", "region": "us-east-1" });
        let v = c.check_request("POST", &services(), Some(V2024), Some(V2023), Some(&body));
        assert_violates(v, "Content-Type");
        let v = c.check_request("POST", &services(), None, Some(V2023), Some(&body));
        assert_violates(v, "without Content-Type");
        let v = c.check_request("GET", &aws_services(), None, None, None);
        assert_violates(v, "no Accept");
        let v = c.check_request("GET", &aws_services(), None, Some(JSON), None);
        assert_violates(v, "names none");
        let v = c.check_request("GET", &aws_services(), None, Some(V2024), None);
        assert_violates(v, "names none");
        assert_ok(c.check_request("GET", &aws_services(), None, Some(V2023), None));
        // A cluster GET may ask for 2024-08-05 (or 2023-01-01, 2023-02-01).
        assert_ok(c.check_request("GET", &cluster(), None, Some(V2024), None));
        assert_ok(c.check_request(
            "GET",
            &cluster(),
            None,
            Some(&format!("{JSON}, {V2024};q=0.9")),
            None,
        ));
        // DELETE answers 204 with the versioned type: Accept must name it too.
        assert_ok(c.check_request("DELETE", &service(), None, Some(V2023), None));
        // No body for GET.
        let v = c.check_request(
            "GET",
            &aws_services(),
            Some(V2023),
            Some(V2023),
            Some(&json!({})),
        );
        assert_violates(v, "takes no request body");
    }

    #[test]
    fn link_interface_endpoint_request() {
        let Some(c) = contract() else { return };
        let ok = json!({ "id": VPCE });
        assert_ok(c.check_request("POST", &endpoints(), Some(V2023), Some(V2023), Some(&ok)));
        let v = c.check_request(
            "POST",
            &endpoints(),
            Some(V2023),
            Some(V2023),
            Some(&json!({"id": "nope"})),
        );
        assert_violates(v, "nope");
        let v = c.check_request(
            "POST",
            &endpoints(),
            Some(V2023),
            Some(V2023),
            Some(&json!({})),
        );
        assert_violates(v, "id");
        // The discriminator in the body wins over the path.
        let explicit = json!({ "cloudProvider": "AWS", "id": VPCE });
        assert_ok(c.check_request(
            "POST",
            &endpoints(),
            Some(V2023),
            Some(V2023),
            Some(&explicit),
        ));
        let explicit_bad = json!({ "cloudProvider": "AWS", "id": "vpce-123" });
        assert_violates(
            c.check_request(
                "POST",
                &endpoints(),
                Some(V2023),
                Some(V2023),
                Some(&explicit_bad),
            ),
            "vpce-123",
        );
        // The Azure variant (from the path) needs privateEndpointIPAddress.
        let azure = format!(
            "/api/atlas/v2/groups/{G}/privateEndpoint/AZURE/endpointService/{SID}/endpoint"
        );
        let v = c.check_request(
            "POST",
            &azure,
            Some(V2023),
            Some(V2023),
            Some(&json!({"id": "x"})),
        );
        assert_violates(v, "privateEndpointIPAddress");
        let bad_provider = json!({ "cloudProvider": "IBM", "id": VPCE });
        assert!(
            !c.check_request(
                "POST",
                &endpoints(),
                Some(V2023),
                Some(V2023),
                Some(&bad_provider)
            )
            .is_empty()
        );
    }
}
