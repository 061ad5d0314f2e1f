//! `/export/aggregate.csv` and `/export/organisations.csv`: the GraphQL `aggregate`
//! and `organisations` as CSV ([`crate::export`] says what the parameters and
//! dialects are). Validated as GraphQL validates them, with the same messages; the
//! first line cites the numbers, and a `Link: <…>; rel="cite-as"` header gives the
//! permanent link (the same export pinned to its snapshot).
//!
//! An aggregate is answered whole, within `--request-timeout`. Organisations are
//! streamed batch by batch with no row cap but the filter; an export holds a place
//! among the expensive requests (`--heavy-concurrency`) until its last byte is sent
//! or its client goes away (which stops the query).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ess_query::AggregateRequest;
use futures::StreamExt;

use crate::citation::{Citation, cite_export};
use crate::export::csv::CsvChunks;
use crate::export::{self, ExportKind, ExportParams};
use crate::http::Http;
use crate::http::access::RequestId;
use crate::http::guard::overloaded_problem;
use crate::http::problem::{Problem, cut};
use crate::public_url::base_url;
use crate::state::Served;

/// `GET /export/aggregate.csv`.
pub async fn aggregate(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match aggregate_csv(&http, &headers, query.as_deref()).await {
        Ok(r) => r,
        Err(p) => p.into_response_for(Some(&id)),
    }
}

async fn aggregate_csv(
    http: &Http,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, Problem> {
    let params = ExportParams::parse(query, ExportKind::Aggregate).map_err(invalid)?;
    let served = snapshot(http, &params).await?;
    let request = AggregateRequest {
        group_by: params.group_by.clone(),
        filter: params.filter.clone(),
    };
    let out = tokio::time::timeout(
        http.state.limits.request_timeout,
        served.engine.aggregate(&request),
    )
    .await
    .map_err(|_| timed_out(http))?
    .map_err(Problem::from_query)?;
    let citation = citation(http, headers, &params, &served, ExportKind::Aggregate);
    let mut csv = CsvChunks::new(params.format, &citation.text);
    export::aggregate::write(&mut csv, &out, &request, params.lang, params.census);
    let mut response = Body::from(csv.take()).into_response();
    csv_headers(
        &mut response,
        &params,
        &served,
        &citation,
        ExportKind::Aggregate,
    );
    Ok(response)
}

/// `GET /export/organisations.csv`.
pub async fn organisations(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match organisations_csv(&http, &headers, query.as_deref()).await {
        Ok(r) => r,
        Err(p) => p.into_response_for(Some(&id)),
    }
}

async fn organisations_csv(
    http: &Http,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, Problem> {
    let params = ExportParams::parse(query, ExportKind::Organisations).map_err(invalid)?;
    let served = snapshot(http, &params).await?;
    let permit = http.lanes.heavy().await.map_err(|o| {
        http.state.metrics.reject("heavy");
        overloaded_problem(o)
    })?;
    let batches = tokio::time::timeout(
        http.state.limits.request_timeout,
        served
            .engine
            .organisations_stream(&params.filter, params.search.as_deref()),
    )
    .await
    .map_err(|_| timed_out(http))?
    .map_err(Problem::from_query)?;
    let citation = citation(http, headers, &params, &served, ExportKind::Organisations);
    let mut csv = CsvChunks::new(params.format, &citation.text);
    export::organisations::write_heading(&mut csv, params.lang);
    let head = csv.take();
    let lang = params.lang;
    let kept = (permit, served.clone());
    let rows = batches.map(move |batch| {
        let _held = &kept;
        match batch {
            Ok(batch) => {
                export::organisations::write_batch(&mut csv, &batch, lang);
                Ok(csv.take())
            }
            Err(e) => {
                // The answer has begun: the body is cut short, and the client's
                // transfer fails rather than ending as if complete.
                tracing::error!(error = %e, "organisations export stopped");
                Err(std::io::Error::other("the export stopped"))
            }
        }
    });
    let body = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(head) }).chain(rows);
    let mut response = Body::from_stream(body).into_response();
    csv_headers(
        &mut response,
        &params,
        &served,
        &citation,
        ExportKind::Organisations,
    );
    Ok(response)
}

async fn snapshot(http: &Http, params: &ExportParams) -> Result<Arc<Served>, Problem> {
    http.state
        .snapshot(params.snapshot.as_deref())
        .await
        .map_err(Problem::from_query)
}

fn citation(
    http: &Http,
    headers: &HeaderMap,
    params: &ExportParams,
    served: &Served,
    kind: ExportKind,
) -> Citation {
    let base = base_url(http.state.public_url(), headers);
    cite_export(served.manifest(), &base, params, kind)
}

fn csv_headers(
    response: &mut Response,
    params: &ExportParams,
    served: &Served,
    citation: &Citation,
    kind: ExportKind,
) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    let name = format!(
        "attachment; filename=\"ess-{}-{}.csv\"",
        served.manifest().snapshot_id,
        kind.name()
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>; rel=\"cite-as\"", citation.url)) {
        h.insert(header::LINK, v);
    }
    // An export pinned to a snapshot never changes; one of the snapshot served
    // changes when a newer one is published.
    let cache = if params.snapshot.is_some() {
        "public, max-age=86400"
    } else {
        "public, max-age=60"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
}

fn invalid(e: export::ParamError) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        cut(&e.to_string()),
    )
}

fn timed_out(http: &Http) -> Problem {
    http.state.metrics.reject("timeout");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "TIMEOUT",
        format!(
            "the export took longer than the {} s this server allows: ask for less, or try again later",
            http.state.limits.request_timeout.as_secs()
        ),
    )
}
