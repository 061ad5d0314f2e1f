//! An in-process HTTP client over the axum app, and tests of the HTTP surface.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use ess_api::AppState;
use ess_api::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::published_samples;

/// Drives the app with `oneshot`, no socket.
pub struct Client {
    app: Router,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The first error's code.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", String::from_utf8_lossy(&self.body)))
            .to_owned()
    }

    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

impl Client {
    pub fn new(app: Router) -> Self {
        Client { app }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            content_type,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// POSTs a GraphQL query; returns the whole response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let reply = self
            .send(
                Request::post("/graphql")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        reply.json()
    }

    /// POSTs a query that must succeed; returns `data`.
    pub async fn data(&self, query: &str) -> Value {
        let response = self.graphql(query, Value::Null).await;
        assert!(response.get("errors").is_none(), "errors: {response}");
        response["data"].clone()
    }
}

/// A client over the published samples.
pub async fn sample_client() -> Client {
    let (store, _) = published_samples().await;
    let state = AppState::latest(Store {
        store,
        url: "memory://".into(),
    })
    .await
    .unwrap();
    Client {
        app: ess_api::app(state),
    }
}

#[tokio::test]
async fn graphiql_health_and_get_queries() {
    let client = sample_client().await;
    let page = client.get("/graphql").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("graphiql"));

    let health = client.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["snapshot"], "000001");

    let got = client
        .get("/graphql?query=%7B%20snapshot%20%7B%20id%20organisations%20%7D%20%7D")
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(
        got.json()["data"]["snapshot"]["organisations"],
        crate::expected::total()
    );
}

#[tokio::test]
async fn labels_in_three_languages() {
    let client = sample_client().await;
    let data = client
        .data(
            r#"{ regions { code fr: name ar: name(lang: AR) en: name(lang: EN) }
                  sectors { code en: name(lang: EN) }
                  provinces { code name(lang: AR) region { code } } }"#,
        )
        .await;
    let regions = data["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 12);
    let souss = regions.iter().find(|r| r["code"] == "MA-09").unwrap();
    assert_eq!(souss["fr"], "Souss-Massa");
    assert_eq!(souss["ar"], "جهة سوس ماسة");
    assert_eq!(souss["en"], "Souss-Massa");
    assert_eq!(data["sectors"].as_array().unwrap().len(), 20);
    let fes = data["provinces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "MA-FES")
        .unwrap();
    assert_eq!(fes["name"], "فاس");
    assert_eq!(fes["region"]["code"], "MA-03");
}

#[tokio::test]
async fn a_journalists_question() {
    // How many women work in Souss-Massa's argan cooperatives?
    let client = sample_client().await;
    let data = client
        .data(r#"{ aggregate(groupBy: [], filter: {family: [COOPERATIVE], region: ["MA-09"], sector: ["ARGAN"]}) {
                    total { organisations employeesWomen genderCoverage } snapshot { id createdAt } } }"#)
        .await;
    let total = &data["aggregate"]["total"];
    assert!(total["organisations"].as_i64().unwrap() > 0);
    assert!(total["employeesWomen"].as_i64().is_some());
    assert!(
        data["aggregate"]["snapshot"]["createdAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
}

#[tokio::test]
async fn organisations_carry_every_field_and_their_provenance() {
    let client = sample_client().await;
    let data = client
        .data(r#"{ organisations(search: "tifaouine 373", first: 5) {
                    totalCount pageInfo { hasNextPage endCursor }
                    edges { cursor node { orgId family sourceId name nameAr sectorCode sector { name(lang: EN) }
                      activities regionCode region { name } provinceCode province { name } foundedOn foundedYear
                      status membersTotal membersWomen employeesTotal employeesWomen employeesMen volunteers
                      publicUtility qualityFlags sourceFile sourceRow } } } }"#)
        .await;
    let conn = &data["organisations"];
    assert_eq!(conn["totalCount"], 1);
    let node = &conn["edges"][0]["node"];
    assert_eq!(node["sourceFile"], "cooperatives_2019_legacy.csv");
    assert_eq!(
        node["name"],
        "Coopérative Tifaouine 373; dite \"Les femmes\"\nsection 2"
    );
    assert_eq!(node["family"], "COOPERATIVE");
    assert_eq!(node["provinceCode"], "MA-FIG");
    assert_eq!(node["sector"]["name"], "Tourism");
    assert!(node["sourceRow"].as_i64().unwrap() > 1);
}

#[tokio::test]
async fn paging_with_cursors() {
    let client = sample_client().await;
    let q = r#"query($after: String) { organisations(filter: {family: [MUTUAL]}, first: 10, after: $after) {
                 totalCount pageInfo { hasNextPage endCursor } edges { node { orgId } } } }"#;
    let mutuals = crate::expected::groups("family")["mutual"]["organisations"].clone();
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let r = client.graphql(q, json!({ "after": after })).await;
        let conn = &r["data"]["organisations"];
        assert_eq!(conn["totalCount"], mutuals);
        for e in conn["edges"].as_array().unwrap() {
            seen.push(e["node"]["orgId"].as_str().unwrap().to_owned());
        }
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(json!(seen.len()), mutuals);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let client = sample_client().await;
    let r = client
        .graphql(r#"{ aggregate(groupBy: [REGION], filter: {region: ["MA-99"]}) { total { organisations } } }"#, Value::Null)
        .await;
    let err = &r["errors"][0];
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unknown region code `MA-99`"),
        "{r}"
    );
    assert_eq!(err["extensions"]["code"], "INVALID_REQUEST");

    let r = client
        .graphql("{ organisations(first: 0) { totalCount } }", Value::Null)
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 1000"),
        "{r}"
    );

    let r = client
        .graphql(
            r#"{ organisations(after: "%%%") { totalCount } }"#,
            Value::Null,
        )
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a cursor"),
        "{r}"
    );

    let r = client
        .graphql(
            "{ aggregate(groupBy: [NOPE]) { total { organisations } } }",
            Value::Null,
        )
        .await;
    assert!(r["errors"].is_array(), "{r}");
}

#[tokio::test]
async fn parquet_extracts_download() {
    let client = sample_client().await;
    let list = client.get("/downloads").await.json();
    let files = list["files"].as_array().unwrap();
    let part = files
        .iter()
        .find(|f| f["name"] == "organisations.parquet")
        .unwrap();
    let url = part["url"].as_str().unwrap();
    let got = client.get(&url[url.find("/downloads/").unwrap()..]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.content_type, "application/vnd.apache.parquet");
    assert_eq!(&got.body[..4], b"PAR1");
    assert_eq!(&got.body[got.body.len() - 4..], b"PAR1");

    let missing = client
        .get("/downloads/000001/_manifests/00000000000000000001.json")
        .await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "only listed files are served"
    );
    let missing = client.get("/downloads/999999/x.parquet").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dashboard_and_its_assets_come_from_the_binary_under_hashed_names() {
    let client = sample_client().await;
    let page = client.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-cache");
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = String::from_utf8(page.body.clone()).unwrap();
    let assets: Vec<&str> = html
        .match_indices("/assets/")
        .map(|(i, _)| {
            let rest = &html[i..];
            &rest[..rest.find(['"', '\'']).unwrap()]
        })
        .collect();
    assert!(assets.len() >= 2, "{html}");
    for asset in &assets {
        // `name.<8 hex>.ext`
        let file = asset.trim_start_matches("/assets/");
        let parts: Vec<&str> = file.split('.').collect();
        assert!(
            parts.len() == 3 && parts[1].len() == 8,
            "{file} is content-hashed"
        );
        let got = client.get(asset).await;
        assert_eq!(got.status, StatusCode::OK, "{asset}");
        assert_eq!(
            got.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        // What an asset imports is hashed too.
        let text = String::from_utf8_lossy(&got.body);
        for (i, _) in text.match_indices("/assets/") {
            let name = &text[i + 8..];
            let name = &name[..name.find(['"', '\'']).unwrap_or(name.len())];
            assert_eq!(name.split('.').count(), 3, "{asset} refers to {name}");
        }
    }
    // Revalidation, and nothing else under /assets.
    let etag = page.header("etag").to_owned();
    let again = client
        .send(
            axum::http::Request::get("/")
                .header("if-none-match", &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    for missing in [
        "/assets/app.js",
        "/assets/..%2Fschema.graphql",
        "/assets/nope.00000000.js",
    ] {
        assert_eq!(
            client.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
}
