//! For operators: `/healthz` (the process answers), `/readyz` (it should get
//! traffic: its snapshot's search index is built and it is not shutting down) and
//! `/metrics` (Prometheus). None of them is rate-limited or counted against the
//! server's capacity, so they answer at once under any load.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use std::sync::atomic::Ordering;

use crate::http::Http;
use crate::metrics::{CONTENT_TYPE, Readings};

/// 200 while the server answers, with the snapshot served.
pub async fn healthz(State(http): State<Http>) -> Response {
    let current = http.state.current();
    Json(serde_json::json!({
        "status": "ok",
        "snapshot": current.manifest().snapshot_id,
        "search_index": if current.engine.search_index_ready() { "ready" } else { "building" },
    }))
    .into_response()
}

/// 200 when the server should get traffic, 503 otherwise.
pub async fn readyz(State(http): State<Http>) -> Response {
    let ready = http.state.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({ "ready": ready, "snapshot": http.state.current().manifest().snapshot_id })),
    )
        .into_response()
}

/// Every metric, in Prometheus's text format.
pub async fn metrics(State(http): State<Http>) -> Response {
    let state = &http.state;
    let served = state.current();
    let m = served.manifest();
    let age = chrono::DateTime::parse_from_rfc3339(&m.created_at)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0);
    let counts = state.runtime.cache_counts();
    let readings = Readings {
        snapshot: m.snapshot_id.clone(),
        sequence: m.sequence,
        age_seconds: age,
        index_ready: served.engine.search_index_ready(),
        pool_reserved: state.runtime.memory_reserved() as u64,
        pool_limit: state.limits.memory_pool,
        cache_hits: counts.hits.load(Ordering::Relaxed),
        cache_misses: counts.misses.load(Ordering::Relaxed),
        cache_bytes: state.runtime.cache_bytes(),
        inflight: http.lanes.inflight() as u64,
        rate_clients: http.rates.clients() as u64,
    };
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.encode(&readings),
    )
        .into_response()
}
