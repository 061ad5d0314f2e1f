//! Every request gets an id (`x-request-id` on the answer, `requestId` in errors, and
//! in every log line about it), a span, one access-log line (target
//! `ess_api::access`: method, route, path, status, milliseconds, client) and its
//! count and latency in the metrics.

use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::http::Http;
use crate::http::problem::QUOTE;

/// A request's id: 32 hex digits, made by the server (a client's own is ignored):
/// 64 random bits drawn when the process starts, then a counter, so ids are unique
/// across restarts and cost no system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

static PROCESS: std::sync::LazyLock<u64> =
    std::sync::LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl RequestId {
    fn new() -> Self {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        RequestId(format!("{:016x}{n:016x}", *PROCESS))
    }

    /// As text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client a request comes from (its rate bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(pub IpAddr);

/// The route a path belongs to, for logs and metrics (a fixed set, whatever the
/// path).
pub fn route(path: &str) -> &'static str {
    match path {
        "/graphql" => "graphql",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        "/downloads" => "downloads",
        p if p.starts_with("/downloads/") => "download",
        p if p.starts_with("/graphiql/") => "graphiql",
        _ => "other",
    }
}

/// Logs a request whose future was dropped before its answer: its client went away
/// (its work stops with it).
struct Unanswered<'a> {
    http: &'a Http,
    span: tracing::Span,
    answered: bool,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.http.state.metrics.reject("client_gone");
            self.span.in_scope(|| {
                tracing::info!(target: "ess_api::access", "the client went away before its answer; its work was dropped");
            });
        }
    }
}

/// The access layer: id, span, log line, metrics.
pub async fn access(State(http): State<Http>, mut request: Request, next: Next) -> Response {
    let id = RequestId::new();
    let client = http.rates.client(&request);
    let route = route(request.uri().path());
    let method = request.method().clone();
    let uri = request.uri().clone();
    request.extensions_mut().insert(id.clone());
    request.extensions_mut().insert(Client(client));
    let span = tracing::info_span!("request", id = %id, route);
    let started = Instant::now();
    let mut unanswered = Unanswered {
        http: &http,
        span: span.clone(),
        answered: false,
    };
    let mut response = next.run(request).instrument(span.clone()).await;
    unanswered.answered = true;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert("x-request-id", v);
    }
    http.state.metrics.request(route, status, seconds);
    span.in_scope(|| {
        tracing::info!(
            target: "ess_api::access",
            %method,
            path = %uri.path().chars().take(QUOTE).collect::<String>(),
            status,
            ms = seconds * 1e3,
            %client,
        );
    });
    response
}
