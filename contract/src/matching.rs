//! Matching an exchange to an operation of the spec: method + path against the path
//! templates, the path parameters against their schemas, and a status to its documented
//! response. The request and response checks both start here.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::model::{Contract, Operation, ParamKind, ResponseSpec, Segment};

impl Contract {
    /// The operation for `method` + `path`, with the path parameters' raw values.
    pub(crate) fn find(
        &self,
        method: &str,
        path: &str,
    ) -> Result<(usize, Vec<(String, String)>), String> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let method = method.to_ascii_uppercase();
        let mut structural: Vec<(usize, Vec<(String, String)>)> = self
            .operations
            .iter()
            .enumerate()
            .filter_map(|(i, op)| op.match_segments(&segments).map(|params| (i, params)))
            .collect();
        if structural.is_empty() {
            return Err("no path template of the spec matches this path".to_owned());
        }
        let allowed: BTreeSet<&str> = structural
            .iter()
            .map(|(i, _)| self.operations[*i].method.as_str())
            .collect();
        structural.retain(|(i, _)| self.operations[*i].method == method);
        if structural.is_empty() {
            return Err(format!(
                "method {method} is not an operation of this path (the spec has {})",
                allowed.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        // A literal segment wins over a parameter, the leftmost difference deciding.
        structural.sort_by_key(|(i, _)| {
            self.operations[*i]
                .segments
                .iter()
                .map(|s| matches!(s, Segment::Param(_)))
                .collect::<Vec<_>>()
        });
        let mut problems = Vec::new();
        for (i, params) in structural {
            let op = &self.operations[i];
            let failures: Vec<String> = params
                .iter()
                .filter_map(|(name, value)| op.check_param(name, value).err())
                .collect();
            if failures.is_empty() {
                return Ok((i, params));
            }
            problems.push(format!(
                "{} ({}): {}",
                op.id,
                op.template,
                failures.join("; ")
            ));
        }
        Err(format!(
            "no operation accepts the path parameters: {}",
            problems.join(" | ")
        ))
    }
}

impl Operation {
    /// The path parameters when `segments` has this template's shape.
    fn match_segments(&self, segments: &[&str]) -> Option<Vec<(String, String)>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (template, actual) in self.segments.iter().zip(segments) {
            match template {
                Segment::Literal(literal) if literal == actual => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if actual.is_empty() => return None,
                Segment::Param(name) => params.push((name.clone(), (*actual).to_owned())),
            }
        }
        Some(params)
    }

    /// Checks one path parameter against its schema.
    fn check_param(&self, name: &str, raw: &str) -> Result<(), String> {
        let Some(check) = self.path_params.get(name) else {
            return Ok(()); // undeclared in the spec: any non-empty value
        };
        let value = match check.kind {
            ParamKind::String => Value::String(raw.to_owned()),
            ParamKind::Integer => raw
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("path parameter {name} = `{raw}` is not an integer"))?,
            ParamKind::Number => raw
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("path parameter {name} = `{raw}` is not a number"))?,
            ParamKind::Boolean => match raw {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(format!("path parameter {name} = `{raw}` is not a boolean")),
            },
        };
        if check.validator.is_valid(&value) {
            return Ok(());
        }
        let reasons: Vec<String> = check
            .validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        Err(format!(
            "path parameter {name} = `{raw}`: {}",
            reasons.join("; ")
        ))
    }

    /// The response documented for `status`: exact, then `NXX`, then `default`.
    pub(crate) fn response_for(&self, status: u16) -> Option<(&str, &ResponseSpec)> {
        [
            status.to_string(),
            format!("{}XX", status / 100),
            "DEFAULT".to_owned(),
        ]
        .into_iter()
        .find_map(|key| self.responses.get_key_value(&key))
        .map(|(k, r)| (k.as_str(), r))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    #[test]
    fn operation_lookup() {
        let Some(c) = contract() else { return };
        let v = c.check_request(
            "GET",
            "/api/atlas/v2/groups/nothing/here",
            None,
            Some(V2023),
            None,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].operation, "GET /api/atlas/v2/groups/nothing/here");
        let bad_group = "/api/atlas/v2/groups/XYZ/privateEndpoint/AWS/endpointService";
        assert_violates(
            c.check_request("GET", bad_group, None, Some(V2023), None),
            "groupId",
        );
        let lower = format!("/api/atlas/v2/groups/{G}/privateEndpoint/aws/endpointService");
        assert_violates(
            c.check_request("GET", &lower, None, Some(V2023), None),
            "cloudProvider",
        );
        let bad_vpce = format!("{}/endpoint/eni-123", service());
        assert_violates(
            c.check_request("GET", &bad_vpce, None, Some(V2023), None),
            "endpointId",
        );
        assert_violates(
            c.check_request("PUT", &service(), None, Some(V2023), None),
            "method PUT",
        );
        // Literal segments win: …/privateEndpoint/endpointService/{id} is the PATCH, not a provider.
        let patch = format!("{}/{SID}", services());
        let v = c.check_request(
            "PATCH",
            &patch,
            Some(V2023),
            Some(V2023),
            Some(&json!({"cloudProvider": "X"})),
        );
        assert!(
            v.iter()
                .all(|v| v.operation == "updateGroupPrivateEndpointEndpointService"),
            "{v:?}"
        );
        let ok = json!({ "cloudProvider": "AWS" });
        assert_ok(c.check_request("PATCH", &patch, Some(V2023), Some(V2023), Some(&ok)));
        let (i, _) = c.find("GET", &aws_services()).expect("list operation");
        assert_eq!(
            c.operations[i].id,
            "listGroupPrivateEndpointEndpointService"
        );
        let (i, _) = c
            .find("get", &format!("{}?pretty=true", service()))
            .expect("get");
        assert_eq!(c.operations[i].id, "getGroupPrivateEndpointEndpointService");
    }
}
