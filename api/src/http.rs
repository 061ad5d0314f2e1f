//! The HTTP surface: `/graphql` (POST, GET queries and GraphiQL), `/healthz`, and
//! downloads of the snapshot's Parquet extracts.

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use ess_schemas::layout::Manifest;
use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::graphql::{EssSchema, schema};
use crate::state::AppState;

#[derive(Clone)]
struct Http {
    state: AppState,
    schema: EssSchema,
}

/// The application: every route, over `state`. `main` adds only the listener.
pub fn app(state: AppState) -> Router {
    let http = Http {
        schema: schema(state.clone()),
        state,
    };
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(healthz))
        .route("/downloads", get(downloads))
        .route("/downloads/{snapshot}/{*path}", get(download))
        .with_state(http)
}

/// Every request answers from the snapshot served when it arrived.
async fn graphql_post(State(http): State<Http>, request: GraphQLRequest) -> GraphQLResponse {
    let pinned = http.state.current();
    http.schema
        .execute(request.into_inner().data(pinned))
        .await
        .into()
}

/// `GET /graphql?query=…` runs the query; a bare `GET /graphql` is GraphiQL.
async fn graphql_get(State(http): State<Http>, RawQuery(query): RawQuery) -> Response {
    match query.filter(|q| !q.is_empty()) {
        Some(q) => match async_graphql::http::parse_query_string(&q) {
            Ok(request) => {
                GraphQLResponse::from(http.schema.execute(request).await).into_response()
            }
            Err(e) => (
                StatusCode::BAD_REQUEST,
                format!("invalid GraphQL GET request: {e}"),
            )
                .into_response(),
        },
        None => Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("ESS Open Data")
                .finish(),
        )
        .into_response(),
    }
}

async fn healthz(State(http): State<Http>) -> Response {
    let current = http.state.current();
    Json(serde_json::json!({
        "status": "ok",
        "snapshot": current.manifest().snapshot_id,
        "search_index": if current.engine.search_index_ready() { "ready" } else { "building" },
    }))
    .into_response()
}

/// The files of a snapshot one may download, as server paths.
pub fn download_paths(manifest: &Manifest) -> Vec<String> {
    downloadable(manifest)
        .map(|(_, p)| format!("/downloads/{}/{p}", manifest.snapshot_id))
        .collect()
}

fn downloadable(manifest: &Manifest) -> impl Iterator<Item = (&'static str, &str)> {
    manifest
        .organisations_parquet
        .iter()
        .map(|p| ("organisations", p.as_str()))
        .chain([
            ("quarantine", manifest.quarantine_parquet.as_str()),
            ("report", manifest.report.as_str()),
        ])
}

#[derive(Serialize)]
struct DownloadList {
    snapshot_id: String,
    created_at: String,
    files: Vec<DownloadEntry>,
}

#[derive(Serialize)]
struct DownloadEntry {
    kind: &'static str,
    path: String,
    url: String,
}

async fn downloads(State(http): State<Http>) -> Json<DownloadList> {
    let served = http.state.current();
    let m = served.manifest();
    Json(DownloadList {
        snapshot_id: m.snapshot_id.clone(),
        created_at: m.created_at.clone(),
        files: downloadable(m)
            .map(|(kind, p)| DownloadEntry {
                kind,
                path: p.to_owned(),
                url: format!("/downloads/{}/{p}", m.snapshot_id),
            })
            .collect(),
    })
}

/// Streams one file of a snapshot. Only files its manifest lists can be fetched.
async fn download(
    State(http): State<Http>,
    Path((snapshot, path)): Path<(String, String)>,
) -> Response {
    let manifest = match http.state.catalog.by_id(&snapshot).await {
        Ok(m) => m,
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    if !downloadable(&manifest).any(|(_, p)| p == path) {
        return (
            StatusCode::NOT_FOUND,
            format!("snapshot {snapshot} has no file `{path}`; GET /downloads lists them"),
        )
            .into_response();
    }
    let location = object_store::path::Path::from(path.as_str());
    let got = match http.state.store.store.get(&location).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, path, "download failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be read",
            )
                .into_response();
        }
    };
    let size = got.meta.size;
    let name = format!(
        "ess-{snapshot}-{}",
        path.rsplit('/').next().unwrap_or("file")
    );
    let content_type = if path.ends_with(".parquet") {
        "application/vnd.apache.parquet"
    } else {
        "application/json"
    };
    let mut response = Body::from_stream(got.into_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}
