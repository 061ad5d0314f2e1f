//! The limits of the public server (issue: "no request can crash the server, exhaust
//! it, or starve others"): each limit, and one past it, gets the documented answer,
//! in-process through the whole app.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ess_api::AppState;
use ess_api::limits::Limits;
use ess_api::store::Store;
use object_store::ObjectStore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::http::{Client, Reply};
use crate::support::published_samples;

/// An app over the samples with `limits`.
pub async fn app_with(limits: Limits) -> (axum::Router, AppState) {
    let (store, _) = published_samples().await;
    app_over(store, limits).await
}

pub async fn app_over(store: Arc<dyn ObjectStore>, limits: Limits) -> (axum::Router, AppState) {
    let state = AppState::open(
        Store {
            store,
            url: "memory://".into(),
        },
        limits,
    )
    .await
    .unwrap();
    (ess_api::app(state.clone()), state)
}

pub async fn send(app: &axum::Router, request: Request<Body>) -> Reply {
    Client::new(app.clone()).send(request).await
}

pub fn post(body: impl Into<Body>) -> Request<Body> {
    Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

pub async fn query(app: &axum::Router, q: &str) -> Reply {
    send(app, post(json!({ "query": q }).to_string())).await
}

fn no_rate_limit() -> Limits {
    Limits {
        rate_limit: 0,
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_search_of_many_hostile_words_is_refused_and_a_full_one_scans_without_overflow() {
    let (app, _) = app_with(no_rate_limit()).await;
    // The request that crashed the server: ~700 words, each with a NUL, 6 KB.
    let words: String = (0..700).map(|i| format!("w\u{0}{i} ")).collect();
    let r = send(
        &app,
        post(json!({ "query": "query($s: String) { organisations(search: $s) { totalCount } }", "variables": {"s": words} }).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.code(), "INVALID_REQUEST");
    let msg = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("at most 200 characters, not 4090"), "{msg}");
    // Short, but too many words.
    let words: String = (0..11).map(|i| format!("w{i} ")).collect();
    let r = send(
        &app,
        post(json!({ "query": "query($s: String) { organisations(search: $s) { totalCount } }", "variables": {"s": words} }).to_string()),
    )
    .await;
    let msg = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("at most 10 different words, not 11"), "{msg}");

    // Ten words with NULs take the scan path, as do words on a past snapshot: one
    // predicate, whatever the words.
    let words: String = (0..10).map(|i| format!("w\u{0}{i} ")).collect();
    let r = send(
        &app,
        post(json!({ "query": "query($s: String) { organisations(search: $s) { totalCount } }", "variables": {"s": words} }).to_string()),
    )
    .await;
    assert!(r.json()["errors"].is_null(), "{}", r.json());
    assert_eq!(r.json()["data"]["organisations"]["totalCount"], 0);
    let r = query(
        &app,
        r#"{ organisations(search: "cooperative argan", snapshot: "1") { totalCount } }"#,
    )
    .await;
    assert!(r.json()["errors"].is_null(), "{}", r.json());

    // Repeats count once: 700 copies of a word are one word.
    let same = "argan ".repeat(30);
    let r = send(
        &app,
        post(json!({ "query": "query($s: String) { organisations(search: $s) { totalCount } }", "variables": {"s": same} }).to_string()),
    )
    .await;
    assert!(r.json()["errors"].is_null(), "{}", r.json());

    // Long text: refused by length, without echo.
    let long = "a".repeat(200_001);
    let r = send(
        &app,
        post(json!({ "query": "query($s: String) { organisations(search: $s) { totalCount } }", "variables": {"s": long} }).to_string()),
    )
    .await;
    assert_eq!(r.code(), "INVALID_REQUEST");
    assert!(r.body.len() < 2_000, "{}", r.body.len());
}

#[tokio::test]
async fn bodies_past_the_cap_are_refused_before_they_are_read() {
    let (app, state) = app_with(no_rate_limit()).await;
    let max = state.limits.max_body as usize;
    // Declared too large: refused from the header alone.
    let r = send(
        &app,
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, 10_000_000_000u64)
            .header(header::EXPECT, "100-continue")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "BODY_TOO_LARGE");
    // Streamed without a length, and growing past the cap: cut when it does.
    let chunks = futures::stream::iter(
        (0..(max / 1024 + 2)).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
    );
    let r = send(
        &app,
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(chunks))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "BODY_TOO_LARGE");
    assert!(
        !String::from_utf8_lossy(&r.body).contains("      "),
        "the request is not echoed"
    );
    // At the cap, it is read (and found not to be a request).
    let r = send(&app, post(vec![b' '; max])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "BAD_REQUEST");
    assert!(state.metrics.rejected("body") >= 2);
}

#[tokio::test]
async fn aliases_root_fields_depth_fields_and_cost_are_bounded() {
    let limits = no_rate_limit();
    let (app, _) = app_with(limits.clone()).await;
    // 1,600 aliased diffs (3 points each under the old cap).
    let diffs: String = (0..1600)
        .map(|i| format!("d{i}: diff {{ total {{ added }} }} "))
        .collect();
    let r = query(&app, &format!("{{ {diffs} }}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        [
            "TOO_MANY_ALIASES",
            "TOO_MANY_ROOT_FIELDS",
            "TOO_MANY_FIELDS",
            "QUERY_TOO_COMPLEX"
        ]
        .contains(&r.code().as_str()),
        "{}",
        r.code()
    );
    // Each limit, and one past it.
    let roots = |n: u64| -> String {
        let fields: String = (0..n)
            .map(|i| format!("r{i}: sectors {{ code }} "))
            .collect();
        format!("{{ {fields} }}")
    };
    assert!(query(&app, &roots(limits.max_root_fields)).await.json()["errors"].is_null());
    let r = query(&app, &roots(limits.max_root_fields + 1)).await;
    assert_eq!(r.code(), "TOO_MANY_ROOT_FIELDS");

    let aliases = |n: u64| -> String {
        let fields: String = (0..n).map(|i| format!("c{i}: code ")).collect();
        format!("{{ regions {{ {fields} }} }}")
    };
    assert!(query(&app, &aliases(limits.max_aliases)).await.json()["errors"].is_null());
    assert_eq!(
        query(&app, &aliases(limits.max_aliases + 1)).await.code(),
        "TOO_MANY_ALIASES"
    );

    let depth = |n: usize| -> String {
        // `__type { ofType { … name } }`: the only recursion the schema has.
        let mut q = String::from("{ __type(name: \"Query\") { ");
        q.push_str(&"ofType { ".repeat(n - 2));
        q.push_str("name");
        q.push_str(&" }".repeat(n - 1));
        q.push_str(" }");
        q
    };
    assert!(query(&app, &depth(limits.max_depth)).await.json()["errors"].is_null());
    assert_eq!(
        query(&app, &depth(limits.max_depth + 1)).await.code(),
        "QUERY_TOO_DEEP"
    );

    // `regions` and n - 1 fields under it.
    let fields = |n: usize| -> String {
        let fields: String = (0..n - 1).map(|_| "__typename ").collect();
        format!("{{ regions {{ {fields} }} }}")
    };
    assert!(query(&app, &fields(limits.max_fields)).await.json()["errors"].is_null());
    assert_eq!(
        query(&app, &fields(limits.max_fields + 1)).await.code(),
        "TOO_MANY_FIELDS"
    );

    // Cost: a page of `first` organisations costs in proportion to `first`. With the
    // cost capped at a 1,000-row page's, a larger selection is refused.
    let page = "{ organisations(first: 1000) { edges { node { orgId name nameAr sourceId } } } }";
    let (capped, _) = app_with(Limits {
        max_cost: 1 + 10 + 1 + 1000 * 5,
        ..no_rate_limit()
    })
    .await;
    assert!(query(&capped, page).await.json()["errors"].is_null());
    let r = query(
        &capped,
        "{ organisations(first: 1000) { edges { node { orgId name nameAr sourceId family } } } }",
    )
    .await;
    assert_eq!(r.code(), "QUERY_TOO_COMPLEX");
    let msg = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("would cost 6012"), "{msg}");

    // Text nested past what the parser is given.
    let nested = format!("{{ a{}", "{ a ".repeat(5_000));
    let r = query(&app, &nested).await;
    assert_eq!(r.code(), "QUERY_TOO_DEEP");
}

#[tokio::test]
async fn the_introspection_queries_of_mainstream_clients_pass() {
    let (app, _) = app_with(no_rate_limit()).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("it/fixtures/introspection");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // `-all` turns on graphql-js's experimental directive deprecation, which
        // async-graphql does not serve (README of the fixtures); `-all-stable` is the
        // rest of the options.
        if !name.ends_with(".graphql") || (name.ends_with("-all.graphql")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let r = send(
            &app,
            post(json!({"query": text, "operationName": operation_name(&text)}).to_string()),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert!(v["errors"].is_null(), "{name}: {v}");
        assert!(
            v["data"]["__schema"]["types"].as_array().unwrap().len() > 20,
            "{name}"
        );
        seen += 1;
    }
    assert!(seen >= 10, "{seen} fixtures");
}

/// The operation name of a fixture, when it names one.
fn operation_name(text: &str) -> Option<String> {
    let at = text.find("query ")?;
    let name: String = text[at + 6..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[tokio::test]
async fn clients_past_their_rate_get_429_with_the_headers_that_say_when() {
    let (app, state) = app_with(Limits {
        rate_limit: 1,
        rate_burst: 3,
        ..Limits::default()
    })
    .await;
    let q = "{ snapshot { id } }";
    for left in (0..3).rev() {
        let r = query(&app, q).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("ratelimit-limit"), "3");
        assert_eq!(r.header("ratelimit-remaining"), left.to_string());
    }
    let r = query(&app, q).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "RATE_LIMITED");
    assert_eq!(r.header("retry-after"), "1");
    assert_eq!(r.header("ratelimit-remaining"), "0");
    // Health is never limited.
    assert_eq!(send(&app, get("/healthz")).await.status, StatusCode::OK);
    assert_eq!(state.metrics.rejected("rate"), 1);
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn errors_carry_a_code_and_a_request_id_and_no_internal_detail() {
    let (app, _) = app_with(no_rate_limit()).await;
    // Not JSON: no parser's Debug output.
    let r = send(&app, post("{\"query\": ")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "BAD_REQUEST");
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        !text.contains("InvalidRequest") && !text.contains("Error("),
        "{text}"
    );
    let id = r.json()["errors"][0]["extensions"]["requestId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(r.header("x-request-id"), id);
    assert_eq!(id.len(), 32);

    // A huge invalid cursor is not echoed.
    let cursor = "%".repeat(200_000);
    let r = send(
        &app,
        post(json!({"query": "query($a: String) { organisations(after: $a) { totalCount } }", "variables": {"a": cursor}}).to_string()),
    )
    .await;
    assert_eq!(r.code(), "INVALID_REQUEST");
    assert!(r.body.len() < 1_000, "{}", r.body.len());

    // A snapshot that does not exist: said in the API's terms, id quoted short.
    let r = query(
        &app,
        &format!(
            r#"{{ aggregate(groupBy: [], snapshot: "{}") {{ total {{ organisations }} }} }}"#,
            "9".repeat(5_000)
        ),
    )
    .await;
    assert_eq!(r.code(), "NOT_FOUND");
    assert!(r.body.len() < 1_000, "{}", r.body.len());
    // Validation errors of async-graphql get a code and the id too.
    let r = query(&app, "{ nope }").await;
    assert_eq!(r.code(), "GRAPHQL_VALIDATION_FAILED");
    assert!(r.json()["errors"][0]["extensions"]["requestId"].is_string());
    // A batch is refused plainly.
    let r = send(&app, post("[{\"query\": \"{ snapshot { id } }\"}]")).await;
    assert_eq!(r.code(), "BAD_REQUEST");
}

#[tokio::test]
async fn a_request_past_its_time_is_stopped_and_answered_503() {
    // 7,800 organisations in a directory: a diff reads them (off the async threads,
    // so it yields) well past a millisecond.
    let (memory, _) = crate::search::synthetic_snapshot().await;
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    copy_store(&memory, &local).await;
    let (app, state) = app_over(
        local,
        Limits {
            request_timeout: Duration::from_millis(1),
            ..no_rate_limit()
        },
    )
    .await;
    let r = query(&app, r#"{ diff(from: "1") { total { added } } }"#).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.json());
    assert_eq!(r.code(), "TIMEOUT");
    assert!(!r.header("retry-after").is_empty());
    assert_eq!(state.metrics.rejected("timeout"), 1);
}

/// Copies every object of `from` into `to`.
async fn copy_store(from: &Arc<dyn ObjectStore>, to: &Arc<dyn ObjectStore>) {
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    let all: Vec<_> = from.list(None).try_collect().await.unwrap();
    for meta in all {
        let bytes = from
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        to.put(&meta.location, bytes.into()).await.unwrap();
    }
}

#[tokio::test]
async fn expensive_requests_past_their_lane_are_shed_and_cheap_ones_pass() {
    let (app, state) = app_with(Limits {
        heavy_concurrency: 1,
        heavy_queue: 1,
        queue_wait: Duration::from_millis(1),
        ..no_rate_limit()
    })
    .await;
    // Searches of a past snapshot scan it (no index): expensive. Different words, so
    // no two share one computation.
    let heavy: Vec<_> = (0..24)
        .map(|i| {
            let q = format!(
                r#"{{ organisations(search: "cooperative {i}", snapshot: "1", first: 5) {{ totalCount }} }}"#
            );
            send(&app, post(json!({ "query": q }).to_string()))
        })
        .collect();
    let cheap = async {
        let r = query(&app, "{ snapshot { id } }").await;
        assert_eq!(r.status, StatusCode::OK);
        r
    };
    let (replies, _) = tokio::join!(futures::future::join_all(heavy), cheap);
    let mut shed = 0;
    for r in &replies {
        match r.status {
            StatusCode::OK => assert!(r.json()["errors"].is_null(), "{}", r.json()),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.code(), "OVERLOADED");
                assert!(!r.header("retry-after").is_empty());
                shed += 1;
            }
            other => panic!("{other}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert!(
        shed > 0 && shed < replies.len(),
        "{shed} of {} shed",
        replies.len()
    );
    assert_eq!(state.metrics.rejected("heavy"), shed as u64);
}

#[tokio::test]
async fn get_answers_carry_an_etag_and_revalidate_to_304() {
    let (app, _) = app_with(no_rate_limit()).await;
    let uri = "/graphql?query=%7B%20snapshot%20%7B%20id%20%7D%20%7D";
    let r = send(&app, get(uri)).await;
    assert_eq!(r.status, StatusCode::OK);
    let tag = r.header("etag").to_owned();
    assert!(tag.starts_with("W/\""), "{tag}");
    assert_eq!(r.header("cache-control"), "public, max-age=60");
    let again = send(
        &app,
        Request::get(uri)
            .header(header::IF_NONE_MATCH, &tag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag"), tag);
    // Another query, another tag; an error is never cached.
    let other = send(
        &app,
        get("/graphql?query=%7B%20sectors%20%7B%20code%20%7D%20%7D"),
    )
    .await;
    assert_ne!(other.header("etag"), tag);
    let bad = send(&app, get("/graphql?query=%7B%20nope%20%7D")).await;
    assert!(bad.header("etag").is_empty());
    // POST answers are not for caches.
    assert!(
        query(&app, "{ snapshot { id } }")
            .await
            .header("etag")
            .is_empty()
    );
}

#[tokio::test]
async fn persisted_queries_as_apollo_clients_send_them() {
    let (app, _) = app_with(no_rate_limit()).await;
    let text = "{ regions { code } }";
    let hash: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}}).to_string();
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let uri = format!("/graphql?extensions={}", enc(&ext));
    let r = send(&app, get(&uri)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.code(), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(r.json()["errors"][0]["message"], "PersistedQueryNotFound");
    let r = send(
        &app,
        post(json!({"query": text, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}}).to_string()),
    )
    .await;
    assert_eq!(r.json()["data"]["regions"].as_array().unwrap().len(), 12);
    let r = send(&app, get(&uri)).await;
    assert_eq!(r.json()["data"]["regions"].as_array().unwrap().len(), 12);
    assert!(!r.header("etag").is_empty());
}

#[tokio::test]
async fn graphiql_is_served_from_the_binary_under_a_strict_policy() {
    let (app, _) = app_with(no_rate_limit()).await;
    let page = send(&app, get("/graphql")).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.header("content-security-policy").to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let mut scripts = 0;
    for src in html.split("src=\"").skip(1) {
        let src = &src[..src.find('"').unwrap()];
        let asset = send(&app, get(&format!("/{src}"))).await;
        assert_eq!(asset.status, StatusCode::OK, "{src}");
        assert!(
            asset.header("content-type").starts_with("text/javascript"),
            "{src}"
        );
        scripts += 1;
    }
    assert_eq!(scripts, 4);
    let css = send(&app, get("/graphiql/graphiql.min.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        send(&app, get("/graphiql/../Cargo.toml")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn answers_are_compressed_and_cors_is_open_for_reading() {
    let (app, _) = app_with(no_rate_limit()).await;
    for encoding in ["gzip", "br", "zstd"] {
        let r = send(
            &app,
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT_ENCODING, encoding)
                .body(Body::from(
                    json!({"query": "{ provinces { code name } }"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(r.header("content-encoding"), encoding);
    }
    let preflight = send(
        &app,
        Request::options("/graphql")
            .header(header::ORIGIN, "https://dashboard.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(preflight.status.is_success());
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn snapshot_ids_are_canonical_and_share_one_cache_entry() {
    let (app, state) = app_with(no_rate_limit()).await;
    let q = |id: &str| {
        format!(
            r#"{{ aggregate(groupBy: [REGION], snapshot: "{id}") {{ total {{ organisations }} snapshot {{ id }} }} }}"#
        )
    };
    let a = query(&app, &q("1")).await.json();
    let misses = state
        .runtime
        .cache_counts()
        .misses
        .load(std::sync::atomic::Ordering::Relaxed);
    let b = query(&app, &q("000001")).await.json();
    let c = query(&app, &q("00000000000000000001")).await.json();
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(a["data"]["aggregate"]["snapshot"]["id"], "000001");
    assert_eq!(
        state
            .runtime
            .cache_counts()
            .misses
            .load(std::sync::atomic::Ordering::Relaxed),
        misses,
        "the same snapshot's answer is cached once"
    );
    for bad in ["0", "-1", "1.0", "abc", "99999999999999999999999"] {
        assert_eq!(query(&app, &q(bad)).await.code(), "NOT_FOUND", "{bad}");
    }
}

#[tokio::test]
async fn operators_see_readiness_and_metrics_under_any_limit() {
    let (app, _) = app_with(Limits {
        rate_limit: 1,
        rate_burst: 1,
        ..Limits::default()
    })
    .await;
    // Readiness comes once the search index is built (in the background).
    let mut ready = false;
    for _ in 0..200 {
        let r = send(&app, get("/readyz")).await;
        if r.status == StatusCode::OK {
            ready = true;
            break;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "/readyz never became ready");
    let _ = query(&app, "{ snapshot { id } }").await;
    let limited = query(&app, "{ snapshot { id } }").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..3 {
        let m = send(&app, get("/metrics")).await;
        assert_eq!(m.status, StatusCode::OK);
        let text = String::from_utf8_lossy(&m.body).into_owned();
        for expected in [
            r#"ess_http_requests_total{route="graphql",status="200"} 1"#,
            r#"ess_rejections_total{limit="rate"} 1"#,
            r#"ess_snapshot_info{snapshot="000001"} 1"#,
            "ess_memory_pool_limit_bytes 536870912",
            "ess_search_index_ready 1",
        ] {
            assert!(text.contains(expected), "{expected} not in\n{text}");
        }
    }
}
