//! Fresh database credentials: which secret a Secrets Manager `RotationSucceeded` event is
//! about, and whether a request's `secret.databaseUserSecretArn` names that secret.
//!
//! Secrets Manager records a successful rotation as a CloudTrail *service* event, which
//! EventBridge delivers on the default bus of the secret's account and region as
//! `source: aws.secretsmanager`, `detail-type: AWS Service Event via CloudTrail`,
//! `detail.eventSource: secretsmanager.amazonaws.com`, `detail.eventName: RotationSucceeded`
//! (Secrets Manager User Guide, "Match AWS Secrets Manager events with Amazon EventBridge",
//! <https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-eventbridge.html>,
//! and "AWS CloudTrail entries for Secrets Manager", log entries for rotation,
//! <https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html>).
//! A service event has no request parameters (`requestParameters: null`): the rotated secret
//! is in `detail.additionalEventData.SecretId` (its ARN). The older places an ARN was seen in
//! (`detail.responseElements.arn`, or `aRN` before February 2024, per the same page;
//! `detail.requestParameters.secretId`; the envelope's `resources`) are read as fallbacks, and a
//! name instead of an ARN is matched by name.

use serde_json::Value;

use privatelink_core::StepError;

/// The `source` of Secrets Manager's events.
pub const SOURCE: &str = "aws.secretsmanager";

/// The `detail-type` of CloudTrail service events (rotation is one).
pub const DETAIL_TYPE: &str = "AWS Service Event via CloudTrail";

/// The `detail.eventName` of a successful rotation.
pub const ROTATION_SUCCEEDED: &str = "RotationSucceeded";

/// A successful rotation: which secret, and the event's id (one per delivery of one event, the
/// same on EventBridge's retries, so it makes the verify executions it starts idempotent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The event's `id`.
    pub event_id: String,
    /// The rotated secret: its ARN (normally) or its name.
    pub secret_id: String,
}

/// Whether `event` is a Secrets Manager `RotationSucceeded` event (what the template's rule
/// sends). Anything else is `false`, and is left to the other handlers.
pub fn is_rotation_event(event: &Value) -> bool {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    text("/source") == Some(SOURCE)
        && text("/detail-type") == Some(DETAIL_TYPE)
        && text("/detail/eventName") == Some(ROTATION_SUCCEEDED)
}

/// The rotation a `RotationSucceeded` event reports (see the module documentation for where
/// the secret is looked for). `InvalidRequest` naming the field when the event lacks its id
/// or names no secret.
pub fn rotation_from_event(event: &Value) -> Result<Rotation, StepError> {
    let text = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let event_id = text("/id").ok_or_else(|| StepError::invalid("id", "is required"))?;
    let from_resources = event
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|r| r.contains(":secretsmanager:"));
    let secret_id = text("/detail/additionalEventData/SecretId")
        .or_else(|| text("/detail/responseElements/arn"))
        .or_else(|| text("/detail/responseElements/aRN"))
        .or_else(|| text("/detail/requestParameters/secretId"))
        .or(from_resources)
        .ok_or_else(|| {
            StepError::invalid(
                "detail.additionalEventData.SecretId",
                "the rotation event names no secret",
            )
        })?;
    Ok(Rotation {
        event_id: event_id.to_owned(),
        secret_id: secret_id.to_owned(),
    })
}

/// A secret reference split into what identifies it: the ARN's part before the name
/// (`arn:<partition>:secretsmanager:<region>:<account>`, `None` for a bare name) and the name
/// without the 6-character suffix Secrets Manager appends to ARNs (`-AbCdEf`).
fn identity(reference: &str) -> (Option<&str>, &str) {
    let (prefix, name) = match reference.split_once(":secret:") {
        Some((prefix, name)) if reference.starts_with("arn:") => (Some(prefix), name),
        _ => (None, reference),
    };
    let name = match name.rsplit_once('-') {
        // Only an ARN carries the suffix; a bare name is the name.
        Some((base, suffix))
            if prefix.is_some()
                && suffix.len() == 6
                && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            base
        }
        _ => name,
    };
    (prefix, name)
}

/// Whether the database-user secret a request names (`secret.databaseUserSecretArn`: a full
/// ARN, or one without the suffix) is the rotated secret `rotated` (an ARN, or a name): the
/// same full ARN; else the same partition, region, account and name with any suffix left out;
/// else, for a rotated secret known only by its name, the same name.
pub fn same_secret(database_user_secret_arn: &str, rotated: &str) -> bool {
    if database_user_secret_arn == rotated {
        return true;
    }
    let (ours, our_name) = identity(database_user_secret_arn);
    let (theirs, their_name) = identity(rotated);
    match (ours, theirs) {
        (Some(ours), Some(theirs)) => ours == theirs && our_name == their_name,
        (_, None) => our_name == rotated || our_name == their_name,
        (None, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARN: &str =
        "arn:aws:secretsmanager:us-east-1:444455556666:secret:atlas/orders-db-user-AbCdEf";

    fn event(detail: Value) -> Value {
        json!({"version": "0", "id": "f5b0c5d6-9d5e-4b1c-8a57-0e3f1c2d3b4a",
               "detail-type": DETAIL_TYPE, "source": SOURCE,
               "account": "444455556666", "time": "2026-11-23T12:00:00Z", "region": "us-east-1",
               "resources": [], "detail": detail})
    }

    #[test]
    fn the_rotated_secret_comes_from_additional_event_data_then_the_fallbacks() {
        let documented = event(json!({
            "eventSource": "secretsmanager.amazonaws.com", "eventName": ROTATION_SUCCEEDED,
            "requestParameters": null, "responseElements": null,
            "additionalEventData": {"SecretId": ARN}, "eventType": "AwsServiceEvent"}));
        assert!(is_rotation_event(&documented));
        assert_eq!(
            rotation_from_event(&documented),
            Ok(Rotation {
                event_id: "f5b0c5d6-9d5e-4b1c-8a57-0e3f1c2d3b4a".into(),
                secret_id: ARN.into()
            })
        );
        let legacy =
            event(json!({"eventName": ROTATION_SUCCEEDED, "responseElements": {"aRN": ARN}}));
        assert_eq!(
            rotation_from_event(&legacy).map(|r| r.secret_id),
            Ok(ARN.into())
        );
        let mut in_resources = event(json!({"eventName": ROTATION_SUCCEEDED}));
        in_resources["resources"] = json!([ARN]);
        assert_eq!(
            rotation_from_event(&in_resources).map(|r| r.secret_id),
            Ok(ARN.into())
        );
        let nothing = event(json!({"eventName": ROTATION_SUCCEEDED}));
        let err = rotation_from_event(&nothing).expect_err("no secret");
        assert!(
            err.message
                .starts_with("detail.additionalEventData.SecretId")
        );
        let mut no_id = documented.clone();
        no_id.as_object_mut().map(|o| o.remove("id"));
        assert!(rotation_from_event(&no_id).is_err());
    }

    #[test]
    fn other_secrets_manager_events_are_not_rotations() {
        let mut started = event(json!({"eventName": "RotationStarted"}));
        assert!(!is_rotation_event(&started));
        started["detail"]["eventName"] = json!(ROTATION_SUCCEEDED);
        started["detail-type"] = json!("AWS API Call via CloudTrail");
        assert!(!is_rotation_event(&started));
        assert!(!is_rotation_event(&json!({"action": "verify-all"})));
    }

    #[test]
    fn secrets_match_by_full_arn_by_arn_without_suffix_and_by_name() {
        let without_suffix =
            "arn:aws:secretsmanager:us-east-1:444455556666:secret:atlas/orders-db-user";
        assert!(same_secret(ARN, ARN));
        assert!(same_secret(without_suffix, ARN));
        assert!(same_secret(ARN, without_suffix));
        assert!(same_secret(ARN, "atlas/orders-db-user"));
        assert!(same_secret(without_suffix, "atlas/orders-db-user"));
        // Another account, region, partition or name is another secret.
        assert!(!same_secret(
            ARN,
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:atlas/orders-db-user-AbCdEf"
        ));
        assert!(!same_secret(
            ARN,
            "arn:aws:secretsmanager:eu-west-1:444455556666:secret:atlas/orders-db-user-AbCdEf"
        ));
        assert!(!same_secret(
            ARN,
            "arn:aws:secretsmanager:us-east-1:444455556666:secret:atlas/orders-db-user2-AbCdEf"
        ));
        assert!(!same_secret(ARN, "atlas/orders-db"));
        assert!(!same_secret(ARN, "atlas/orders-db-user-AbCdEf-x"));
        // A bare name is only a name: its last six characters are no suffix.
        assert!(!same_secret(ARN, "atlas/orders-db-user-Zzzzzz"));
    }
}
