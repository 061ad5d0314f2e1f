//! `/graphql`: queries by POST (a JSON body) or GET (in the URL, cacheable), and
//! GraphiQL for a GET without a query.
//!
//! A request goes through these steps, each of which can refuse it with a clear code:
//! the body is read within `--max-body` and parsed as a GraphQL request (batches are
//! refused); a persisted query is looked up (`apq`); the text's nesting is checked and
//! it is parsed, once per distinct text (`documents`); it is costed against the limits (`limits::cost`); an expensive
//! one waits for its lane (`limits::lanes`); it then runs on the snapshot served when
//! it arrived, within `--request-timeout` — past it, or when the client goes away,
//! its work is dropped (DataFusion streams dropped, searches told to stop). A GET
//! answer carries an ETag derived from the snapshot and the request, so a browser or
//! a CDN revalidates it with `304`.

use async_graphql::Variables;
use axum::body::Body;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::http::Http;
use crate::http::access::RequestId;
use crate::http::documents::ParseError;
use crate::http::guard::{body_too_large, overloaded_problem};
use crate::http::problem::{Problem, cut};
use crate::http::ranges::none_match;
use crate::limits::cost::{CostContext, CostError};
use crate::public_url::{BaseUrl, base_url};
use async_graphql::parser::types::ExecutableDocument;

/// A GraphQL request as sent.
#[derive(Debug, Default, Deserialize)]
struct Envelope {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<serde_json::Value>,
}

/// POST: the body is a JSON GraphQL request.
pub async fn post(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            // The body-limit layer cuts a body that grows past the cap while read.
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            let problem = if too_large {
                http.state.metrics.reject("body");
                body_too_large(http.state.limits.max_body)
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "the request body could not be read",
                )
            };
            return problem.into_response_for(Some(&id));
        }
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "batched requests are not supported: send one operation per request",
        )
        .into_response_for(Some(&id));
    }
    match serde_json::from_slice::<Envelope>(&bytes) {
        Ok(envelope) => {
            let base = BaseUrl(base_url(http.state.public_url(), &headers));
            run(&http, &id, envelope, base, None).await
        }
        Err(e) => json_problem("the body", &e).into_response_for(Some(&id)),
    }
}

/// GET: `?query=…&variables=…&operationName=…&extensions=…`; GraphiQL without a query.
pub async fn get(
    State(http): State<Http>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(raw) = raw.filter(|q| !q.is_empty()) else {
        return crate::http::graphiql::page();
    };
    if raw.len() as u64 > http.state.limits.max_body {
        http.state.metrics.reject("body");
        return body_too_large(http.state.limits.max_body).into_response_for(Some(&id));
    }
    let mut envelope = Envelope::default();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let json = |what: &str| {
            serde_json::from_str::<serde_json::Value>(&value).map_err(|e| json_problem(what, &e))
        };
        let parsed = match key.as_ref() {
            "query" => {
                envelope.query = Some(value.into_owned());
                Ok(())
            }
            "operationName" => {
                envelope.operation_name = Some(value.into_owned());
                Ok(())
            }
            "variables" => json("`variables`").map(|v| envelope.variables = Some(v)),
            "extensions" => json("`extensions`").map(|v| envelope.extensions = Some(v)),
            _ => Ok(()),
        };
        if let Err(problem) = parsed {
            return problem.into_response_for(Some(&id));
        }
    }
    let base = BaseUrl(base_url(http.state.public_url(), &headers));
    run(&http, &id, envelope, base, Some(&headers)).await
}

/// A JSON syntax or shape error, said without quoting the request.
fn json_problem(what: &str, e: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let why = match e.classify() {
        Category::Syntax | Category::Eof => "is not valid JSON",
        Category::Data => {
            "is not a GraphQL request (an object with a string `query`, an optional object `variables` and an optional string `operationName`)"
        }
        Category::Io => "could not be read",
    };
    Problem::new(
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
        format!("{what} {why} (line {}, column {})", e.line(), e.column()),
    )
}

/// Runs one GraphQL request; `get_headers` are those of a GET (which gets an ETag).
async fn run(
    http: &Http,
    id: &RequestId,
    envelope: Envelope,
    base: BaseUrl,
    get_headers: Option<&HeaderMap>,
) -> Response {
    match answer(http, id, envelope, base, get_headers).await {
        Ok(response) => response,
        Err(problem) => problem.into_response_for(Some(id)),
    }
}

async fn answer(
    http: &Http,
    id: &RequestId,
    envelope: Envelope,
    base: BaseUrl,
    get_headers: Option<&HeaderMap>,
) -> Result<Response, Problem> {
    let state = &http.state;
    let limits = &state.limits;
    let query = http
        .apq
        .resolve(envelope.query, envelope.extensions.as_ref())?;
    let doc = http.documents.parse(&query).map_err(|e| match e {
        ParseError::Nesting(e) => cost_problem(http, &e),
        ParseError::Syntax(message) => Problem::new(
            StatusCode::BAD_REQUEST,
            "GRAPHQL_PARSE_FAILED",
            format!("the query does not parse: {}", cut(&message)),
        ),
    })?;
    let variables_json = envelope.variables.unwrap_or(serde_json::Value::Null);
    let variables = Variables::from_json(variables_json.clone());
    let mut request = async_graphql::Request::new(query).variables(variables.clone());
    if let Some(name) = &envelope.operation_name {
        request = request.operation_name(name.clone());
    }
    let pinned = state.current();
    let known = state
        .catalog
        .known_sequences()
        .await
        .map_err(|e| internal(&e))?;

    // A GET is answered `304` when the client holds the answer already.
    let etag = get_headers.map(|_| {
        etag(&[
            pinned.manifest().snapshot_id.as_bytes(),
            &known.last().copied().unwrap_or(0).to_le_bytes(),
            envelope.operation_name.as_deref().unwrap_or("").as_bytes(),
            request.query.as_bytes(),
            variables_json.to_string().as_bytes(),
            // Links in the answer (citations, downloads) start with it.
            base.0.as_bytes(),
        ])
    });
    if let (Some(tag), Some(headers)) = (&etag, get_headers)
        && not_modified(headers, tag)
    {
        return Ok(cacheable(
            StatusCode::NOT_MODIFIED.into_response(),
            tag,
            http,
        ));
    }

    let context = CostContext {
        max_groups: pinned.engine.max_groups() as u64,
        snapshots: known.len() as u64,
        current: pinned.manifest().sequence,
        index_ready: pinned.engine.search_index_ready(),
    };
    let analysis = http
        .cost
        .analyse(
            &doc,
            envelope.operation_name.as_deref(),
            &variables,
            &context,
            limits,
        )
        .map_err(|e| cost_problem(http, &e))?;
    tracing::debug!(cost = analysis.cost, depth = analysis.depth, "query costed");

    let _heavy = if http.lanes.is_heavy(analysis.cost) {
        Some(http.lanes.heavy().await.map_err(|o| {
            state.metrics.reject("heavy");
            overloaded_problem(o)
        })?)
    } else {
        None
    };

    request.set_parsed_query(ExecutableDocument::clone(&doc));
    let request = request.data(pinned).data(id.clone()).data(base);
    let Ok(mut response) =
        tokio::time::timeout(limits.request_timeout, http.schema.execute(request)).await
    else {
        state.metrics.reject("timeout");
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TIMEOUT",
            format!(
                "the query did not finish within {} s and was stopped; ask for less, or try again later",
                limits.request_timeout.as_secs()
            ),
        )
        .retry_after(std::time::Duration::from_secs(5)));
    };

    let mut status = StatusCode::OK;
    for error in &mut response.errors {
        error.message = cut(&error.message);
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "GRAPHQL_VALIDATION_FAILED");
        }
        if matches!(ext.get("code"), Some(async_graphql::Value::String(c)) if c == "RESOURCES_EXHAUSTED")
        {
            status = StatusCode::SERVICE_UNAVAILABLE;
        }
        ext.set("requestId", id.as_str());
    }
    let ok = response.errors.is_empty();
    let body = serde_json::to_vec(&response).map_err(|e| internal(&e))?;
    let mut out = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        out.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
    }
    Ok(match etag {
        Some(tag) if ok => cacheable(out, &tag, http),
        _ => out,
    })
}

/// An internal failure: logged, and said to the client without its details.
fn internal(e: &dyn std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "request failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "the server could not answer this; it has been logged under this request's id",
    )
}

fn cost_problem(http: &Http, e: &CostError) -> Problem {
    let limit = match e {
        CostError::NestedTooDeeply { .. } => "nesting",
        CostError::TooDeep { .. } => "depth",
        CostError::TooComplex { .. } => "cost",
        CostError::TooManyAliases { .. } => "aliases",
        CostError::TooManyRootFields { .. } => "root_fields",
        CostError::TooManyFields { .. } => "fields",
        CostError::FragmentCycle { .. } => "fragments",
    };
    http.state.metrics.reject(limit);
    Problem::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
}

/// A weak ETag over `parts` (weak: the bytes differ with the content encoding).
fn etag(parts: &[&[u8]]) -> HeaderValue {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    HeaderValue::from_str(&format!("W/\"{hex}\"")).expect("ASCII")
}

/// Whether `If-None-Match` names `tag` (or `*`).
fn not_modified(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    tag.to_str().is_ok_and(|tag| none_match(headers, tag))
}

fn cacheable(mut response: Response, tag: &HeaderValue, http: &Http) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::ETAG, tag.clone());
    if let Ok(v) = HeaderValue::from_str(&format!(
        "public, max-age={}",
        http.state.limits.cache_max_age.as_secs()
    )) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_do_not_quote_the_request() {
        let secret = "x".repeat(10_000);
        let e = serde_json::from_str::<Envelope>(&format!("{{\"query\": 5, \"{secret}\": 1"))
            .unwrap_err();
        let p = json_problem("the body", &e);
        assert!(!p.message.contains("xxxx"), "{}", p.message);
        let e = serde_json::from_str::<Envelope>(&format!("{{\"query\": [\"{secret}\"]}}"))
            .unwrap_err();
        let p = json_problem("the body", &e);
        assert!(p.message.len() < 300, "{}", p.message);
    }

    #[test]
    fn etags_match_weakly_and_by_list() {
        let tag = etag(&[b"a", b"b"]);
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"nope\", W/\"x\""),
        );
        assert!(!not_modified(&h, &tag));
        h.insert(header::IF_NONE_MATCH, tag.clone());
        assert!(not_modified(&h, &tag));
        assert_ne!(etag(&[b"ab", b""]), tag, "parts are delimited");
    }
}
