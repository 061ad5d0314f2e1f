//! Errors the HTTP layer answers itself (before or around GraphQL), in the shape of
//! a GraphQL error so every client reads them alike:
//! `{"errors":[{"message":…,"extensions":{"code":…,"requestId":…}}]}`.
//! The codes are stable; SECURITY.md lists them.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::access::RequestId;

/// An error answer.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// What was wrong, in the API's terms.
    pub message: String,
    /// When to try again (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Problem {
    /// A query crate error as the HTTP answer of a route other than GraphQL: the code
    /// and message GraphQL gives the same error (cut as GraphQL cuts them), with the
    /// matching status. Internal details are logged, never sent.
    pub fn from_query(e: ess_query::QueryError) -> Self {
        let e = crate::graphql::errors::query_error(e);
        let code = match e.extensions.as_ref().and_then(|x| x.get("code")) {
            Some(async_graphql::Value::String(c)) => c.clone(),
            _ => "INTERNAL".into(),
        };
        let (status, code) = match code.as_str() {
            "INVALID_REQUEST" => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "NOT_FOUND" => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            "RESOURCES_EXHAUSTED" => (StatusCode::SERVICE_UNAVAILABLE, "RESOURCES_EXHAUSTED"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        };
        Problem::new(status, code, cut(&e.message))
    }

    /// A problem.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// With a `Retry-After`.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The response, naming request `id`.
    pub fn into_response_for(self, id: Option<&RequestId>) -> Response {
        let mut extensions = serde_json::json!({ "code": self.code });
        if let Some(id) = id {
            extensions["requestId"] = id.as_str().into();
        }
        let body = serde_json::json!({
            "errors": [{ "message": self.message, "extensions": extensions }]
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(after) = self.retry_after {
            let seconds = after.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The longest message text an error quotes from a request or a library.
pub const QUOTE: usize = 300;

/// `text` cut to [`QUOTE`] characters.
pub fn cut(text: &str) -> String {
    match text.char_indices().nth(QUOTE) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}
