//! `/downloads`: the files of a snapshot (organisations Parquet, quarantine Parquet,
//! ingest report), listed and streamed from the store.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use ess_schemas::layout::Manifest;
use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::http::Http;
use crate::http::access::RequestId;
use crate::http::problem::Problem;

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
pub struct DownloadList {
    snapshot_id: String,
    created_at: String,
    files: Vec<DownloadEntry>,
}

#[derive(Serialize)]
pub struct DownloadEntry {
    kind: &'static str,
    path: String,
    url: String,
}

pub async fn downloads(State(http): State<Http>) -> Json<DownloadList> {
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

/// Streams one file of a snapshot. Only the snapshot's own files can be fetched.
pub async fn download(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    Path((snapshot, path)): Path<(String, String)>,
) -> Response {
    let manifest = match http.state.catalog.by_id(&snapshot).await {
        Ok(m) => m,
        Err(e) => {
            let e = crate::graphql::errors::query_error(e);
            let code = match e.extensions.as_ref().and_then(|x| x.get("code")) {
                Some(async_graphql::Value::String(c)) if c == "NOT_FOUND" => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let code_name = if code == StatusCode::NOT_FOUND {
                "NOT_FOUND"
            } else {
                "INTERNAL"
            };
            return Problem::new(code, code_name, e.message).into_response_for(Some(&id));
        }
    };
    if !downloadable(&manifest).any(|(_, p)| p == path) {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "snapshot {} has no such file; GET /downloads lists them",
                manifest.snapshot_id
            ),
        )
        .into_response_for(Some(&id));
    }
    let location = object_store::path::Path::from(path.as_str());
    let got = match http.state.store.store.get(&location).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, path, "download failed");
            return Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the file could not be read; it has been logged under this request's id",
            )
            .into_response_for(Some(&id));
        }
    };
    let size = got.meta.size;
    let name = format!(
        "ess-{}-{}",
        manifest.snapshot_id,
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
