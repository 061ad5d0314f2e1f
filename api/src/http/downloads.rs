//! `/downloads`: a snapshot's files, listed (`GET /downloads`, `GET
//! /downloads/{snapshot}`) and served (`GET`/`HEAD /downloads/{snapshot}/{name}`)
//! the way remote readers need: `Content-Length`, a strong `ETag` (the file's
//! SHA-256: a URL's content never changes), `Last-Modified` (the snapshot's date),
//! `Accept-Ranges: bytes`, ranges answered `206`, revalidation `304`. Bodies are
//! streamed from the object store a chunk at a time, a range read as a range: never
//! whole in memory.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use futures::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore};
use serde::Serialize;

use crate::downloads::{self, Listed};
use crate::http::Http;
use crate::http::access::RequestId;
use crate::http::problem::Problem;
use crate::http::ranges::{self, Answer};
use crate::public_url::base_url;
use ess_schemas::layout::Manifest;

/// A snapshot's files, as `GET /downloads` lists them.
#[derive(Serialize)]
pub struct DownloadList {
    snapshot_id: String,
    created_at: String,
    files: Vec<Listed>,
}

/// `GET /downloads`: the files of the snapshot served.
pub async fn current(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    list(
        &http,
        &id,
        &headers,
        http.state.current().engine.shared_manifest(),
    )
    .await
}

/// `GET /downloads/{snapshot}`: the files of a snapshot.
pub async fn of_snapshot(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    Path(snapshot): Path<String>,
) -> Response {
    match http.state.manifest_of(&snapshot).await {
        Ok(manifest) => list(&http, &id, &headers, manifest).await,
        Err(e) => Problem::from_query(e).into_response_for(Some(&id)),
    }
}

async fn list(
    http: &Http,
    id: &RequestId,
    headers: &HeaderMap,
    manifest: std::sync::Arc<Manifest>,
) -> Response {
    let base = base_url(http.state.public_url(), headers);
    match downloads::list(&http.state, &manifest, &base).await {
        Ok(files) => Json(DownloadList {
            snapshot_id: manifest.snapshot_id.clone(),
            created_at: manifest.created_at.clone(),
            files,
        })
        .into_response(),
        Err(e) => Problem::from_query(e).into_response_for(Some(id)),
    }
}

/// `GET`/`HEAD /downloads/{snapshot}/{name}`: one file.
pub async fn file(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    method: Method,
    headers: HeaderMap,
    Path((snapshot, name)): Path<(String, String)>,
) -> Response {
    let manifest = match http.state.manifest_of(&snapshot).await {
        Ok(m) => m,
        Err(e) => return Problem::from_query(e).into_response_for(Some(&id)),
    };
    let base = base_url(http.state.public_url(), &headers);
    let found = match downloads::find(&http.state, &manifest, &base, &name).await {
        Ok(f) => f,
        Err(e) => return Problem::from_query(e).into_response_for(Some(&id)),
    };
    let Some(file) = found else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "snapshot {} has no file {:?}; GET /downloads/{} lists them",
                manifest.snapshot_id,
                crate::http::problem::cut(&name),
                manifest.snapshot_id
            ),
        )
        .into_response_for(Some(&id));
    };
    let head = method == Method::HEAD;
    let modified = snapshot_time(&manifest.created_at);
    let etag = format!("\"{}\"", file.sha256);
    let answer = ranges::answer(&headers, file.bytes, &etag, modified);
    let (status, range) = match answer {
        Answer::Whole => (StatusCode::OK, 0..file.bytes),
        Answer::Part(r) => (StatusCode::PARTIAL_CONTENT, *r.start()..*r.end() + 1),
        Answer::NotModified => {
            http.state.metrics.download(head, 304, 0);
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            validators(response.headers_mut(), &etag, modified, &file);
            return response;
        }
        Answer::Unsatisfiable => {
            http.state.metrics.download(head, 416, 0);
            let mut response = Problem::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_NOT_SATISFIABLE",
                format!(
                    "{} is {} bytes long: the range asked for is not in it",
                    file.name, file.bytes
                ),
            )
            .into_response_for(Some(&id));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", file.bytes)) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return response;
        }
        Answer::Malformed(why) => {
            http.state.metrics.download(head, 400, 0);
            return Problem::new(StatusCode::BAD_REQUEST, "INVALID_RANGE", why)
                .into_response_for(Some(&id));
        }
    };
    let length = range.end - range.start;
    let body = if head || length == 0 {
        Body::empty()
    } else {
        match body(&http, &file, range.clone()).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, file = %file.name, "download failed");
                return Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "the file could not be read; it has been logged under this request's id",
                )
                .into_response_for(Some(&id));
            }
        }
    };
    http.state.metrics.download(head, status.as_u16(), length);
    let mut response = body.into_response();
    *response.status_mut() = status;
    let h = response.headers_mut();
    validators(h, &etag, modified, &file);
    if let Ok(v) = HeaderValue::from_str(&file.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{}",
            range.start,
            range.end - 1,
            file.bytes
        ))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    let attachment = format!(
        "attachment; filename=\"ess-{}-{}\"",
        manifest.snapshot_id, file.name
    );
    if let Ok(v) = HeaderValue::from_str(&attachment) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The headers every answer about a file carries, `304`s included.
fn validators(h: &mut HeaderMap, etag: &str, modified: SystemTime, file: &Listed) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // A snapshot's stored files never change; its metadata names the server's
    // address, which may.
    let cache = match file.body {
        downloads::Body::Stored(_) => "public, max-age=31536000, immutable",
        downloads::Body::Made(_) => "public, max-age=3600",
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
}

/// The bytes `range` of `file`, streamed.
async fn body(
    http: &Http,
    file: &Listed,
    range: std::ops::Range<u64>,
) -> object_store::Result<Body> {
    match &file.body {
        downloads::Body::Made(bytes) => Ok(Body::from(
            bytes.slice(range.start as usize..range.end as usize),
        )),
        downloads::Body::Stored(path) => {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range)),
                ..GetOptions::default()
            };
            let got = http
                .state
                .store
                .store
                .get_opts(&object_store::path::Path::from(path.as_str()), options)
                .await?;
            let name = file.name.clone();
            Ok(Body::from_stream(got.into_stream().inspect(move |chunk| {
                if let Err(e) = chunk {
                    tracing::error!(error = %e, file = %name, "download stopped");
                }
            })))
        }
    }
}

/// The snapshot's date, to the second (what HTTP dates hold).
fn snapshot_time(created_at: &str) -> SystemTime {
    chrono::DateTime::parse_from_rfc3339(created_at)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp()).ok())
        .map_or(SystemTime::UNIX_EPOCH, |s| {
            SystemTime::UNIX_EPOCH + Duration::from_secs(s)
        })
}
