//! Answers before they become HTTP responses (so the contract can inspect them), and the
//! Atlas `ApiError` body.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Media type of the private-endpoint operations.
pub(crate) const V2023: &str = "application/vnd.atlas.2023-01-01+json";
/// Media type of the cluster description we serve.
pub(crate) const V2024: &str = "application/vnd.atlas.2024-08-05+json";
/// Media type of error bodies and of the token endpoint.
pub(crate) const JSON: &str = "application/json";

/// An answer: status, content type, JSON body and extra headers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: Option<&'static str>,
    pub body: Option<Value>,
    pub headers: HeaderMap,
}

impl Reply {
    /// A JSON body with the given media type.
    pub fn json(status: StatusCode, content_type: &'static str, body: Value) -> Self {
        Self {
            status,
            content_type: Some(content_type),
            body: Some(body),
            headers: HeaderMap::new(),
        }
    }

    /// No body (204).
    pub fn empty(status: StatusCode, content_type: &'static str) -> Self {
        Self {
            status,
            content_type: Some(content_type),
            body: None,
            headers: HeaderMap::new(),
        }
    }

    /// An Atlas `ApiError`.
    pub fn error(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self::json(
            status,
            JSON,
            json!({
                "error": status.as_u16(),
                "errorCode": code,
                "detail": detail.into(),
                "reason": status.canonical_reason().unwrap_or("Error"),
                "parameters": [],
            }),
        )
    }

    /// Adds a header (ignored if the value is not a valid header value).
    pub fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        if let Ok(value) = HeaderValue::from_str(value.as_ref()) {
            self.headers.insert(name, value);
        }
        self
    }

    /// The `errorCode` of an error body, if this is one.
    pub fn error_code(&self) -> Option<&str> {
        self.body.as_ref()?.get("errorCode")?.as_str()
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = match &self.body {
            Some(value) => value.to_string(),
            None => String::new(),
        };
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_TYPE);
        if let Some(content_type) = self.content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        headers.extend(self.headers);
        response
    }
}

/// A failed Atlas operation, turned into an `ApiError` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

impl ApiFailure {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
}

impl From<ApiFailure> for Reply {
    fn from(failure: ApiFailure) -> Self {
        Reply::error(failure.status, failure.code, failure.detail)
    }
}

/// The media types of a header value such as `Accept` (parameters and spaces stripped,
/// lower-cased).
pub(crate) fn media_types(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .filter_map(|part| {
            let media = part.split(';').next().unwrap_or("").trim();
            (!media.is_empty()).then(|| media.to_ascii_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_shape() {
        let reply = Reply::error(StatusCode::CONFLICT, "X", "because");
        let body = reply.body.clone().unwrap_or_default();
        assert_eq!(body["error"], 409);
        assert_eq!(body["reason"], "Conflict");
        assert_eq!(body["parameters"], json!([]));
        assert_eq!(reply.error_code(), Some("X"));
    }

    #[test]
    fn media_types_are_normalised() {
        assert_eq!(
            media_types(Some(
                "Application/JSON; q=0.5, application/vnd.atlas.2023-01-01+json"
            )),
            vec!["application/json".to_owned(), V2023.to_owned()]
        );
        assert!(media_types(None).is_empty());
    }
}
