//! STS: AssumeRole of a role that cannot be assumed (it does not exist yet in a vended
//! account, or its trust policy does not trust the caller). moto assumes any role.

use axum::http::StatusCode;

use super::models::AwsModels;
use super::query::{Params, XmlReply, query_error};

impl AwsModels {
    /// `AccessDenied` (HTTP 403, STS API reference, AssumeRole errors) for a denied role.
    pub(crate) fn before_sts(&self, params: &Params) -> Option<XmlReply> {
        if params.get("Action") != Some("AssumeRole") {
            return None;
        }
        let role = params.get("RoleArn")?;
        let now = self.now();
        let denied = self
            .lock()
            .denied_roles
            .get(role)
            .is_some_and(|until| until.is_none_or(|until| now < until));
        denied.then(|| {
            query_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                &format!(
                    "User: arn:aws:sts::123456789012:assumed-role/atlas-privatelink/local is not authorized to perform: sts:AssumeRole on resource: {role}"
                ),
            )
        })
    }
}
