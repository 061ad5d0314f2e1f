//! `/downloads` over the published samples: every file listed with its size, rows and
//! SHA-256 (the same in GraphQL and JSON), served whole or by ranges with the
//! validators remote readers rely on, Parquet files that describe themselves, the
//! Data Package and DCAT descriptions, and hostile paths refused.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bytes::Bytes;
use ess_schemas::columns::ORGANISATION_COLUMNS;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::expected::{expected, groups};
use crate::http::{Client, Reply, sample_client};

const NAMES: [&str; 8] = [
    "organisations.parquet",
    "organisations-cooperative.parquet",
    "organisations-association.parquet",
    "organisations-mutual.parquet",
    "quarantine.parquet",
    "report.json",
    "datapackage.json",
    "dcat.jsonld",
];

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The server path of a listed URL.
fn path(url: &str) -> &str {
    &url[url.find("/downloads/").expect("a download URL")..]
}

async fn listed(client: &Client) -> BTreeMap<String, Value> {
    let list = client.get("/downloads").await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.json();
    assert_eq!(list["snapshot_id"], "000001");
    list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

async fn get_with(client: &Client, method: Method, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    client.send(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn every_file_is_listed_with_its_hash_and_served_as_listed() {
    let client = sample_client().await;
    let files = listed(&client).await;
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>().len(),
        NAMES.len()
    );
    for name in NAMES {
        let f = &files[name];
        let got = client.get(path(f["url"].as_str().unwrap())).await;
        assert_eq!(got.status, StatusCode::OK, "{name}");
        assert_eq!(
            got.body.len() as u64,
            f["bytes"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(sha256(&got.body), f["sha256"], "{name}");
        assert_eq!(
            got.header("etag"),
            format!("\"{}\"", f["sha256"].as_str().unwrap())
        );
        assert_eq!(got.header("accept-ranges"), "bytes");
        assert_eq!(got.header("content-length"), got.body.len().to_string());
        assert!(!got.header("last-modified").is_empty(), "{name}");
        assert_eq!(got.content_type, f["media_type"], "{name}");
        assert!(
            got.header("content-encoding").is_empty(),
            "{name}: served as stored"
        );
    }

    // Rows: every organisation, and each family's, as expected_aggregates.json says.
    let want = expected();
    assert_eq!(files["organisations.parquet"]["rows"], want["total"]);
    for (family, measures) in groups("family") {
        assert_eq!(
            files[&format!("organisations-{family}.parquet")]["rows"],
            measures["organisations"],
            "{family}"
        );
    }
    let rejected: u64 = want["rejected"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(files["quarantine.parquet"]["rows"], rejected);

    // GraphQL lists the same files.
    let data = client
        .data("{ snapshot { downloads { name url bytes rows sha256 mediaType } } }")
        .await;
    let graphql = data["snapshot"]["downloads"].as_array().unwrap();
    assert_eq!(graphql.len(), NAMES.len());
    for d in graphql {
        let f = &files[d["name"].as_str().unwrap()];
        for (g, j) in [
            ("url", "url"),
            ("bytes", "bytes"),
            ("rows", "rows"),
            ("sha256", "sha256"),
            ("mediaType", "media_type"),
        ] {
            assert_eq!(d[g], f[j], "{}: {g}", d["name"]);
        }
    }
}

#[tokio::test]
async fn ranges_heads_and_revalidation() {
    let client = sample_client().await;
    let uri = "/downloads/000001/organisations-cooperative.parquet";
    let whole = client.get(uri).await.body;
    let size = whole.len();
    let etag = format!("\"{}\"", sha256(&whole));

    let head = get_with(&client, Method::HEAD, uri, &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-length"), size.to_string());
    assert_eq!(head.header("etag"), etag);
    assert!(head.body.is_empty());

    for (range, from, to) in [
        ("bytes=0-3", 0, 4),
        ("bytes=-8", size - 8, size),
        ("bytes=100-", 100, size),
        ("bytes=10-19", 10, 20),
        ("bytes=5-99999999", 5, size),
        (&format!("bytes=-{}", size + 10) as &str, 0, size),
    ] {
        let got = get_with(&client, Method::GET, uri, &[("range", range)]).await;
        assert_eq!(got.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(got.body, &whole[from..to], "{range}");
        assert_eq!(
            got.header("content-length"),
            (to - from).to_string(),
            "{range}"
        );
        assert_eq!(
            got.header("content-range"),
            format!("bytes {from}-{}/{size}", to - 1),
            "{range}"
        );
        let head = get_with(&client, Method::HEAD, uri, &[("range", range)]).await;
        assert_eq!(head.status, StatusCode::PARTIAL_CONTENT, "HEAD {range}");
        assert_eq!(head.header("content-length"), (to - from).to_string());
        assert!(head.body.is_empty());
    }
    assert_eq!(&whole[..4], b"PAR1");

    let past = get_with(
        &client,
        Method::GET,
        uri,
        &[("range", &format!("bytes={size}-"))],
    )
    .await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.header("content-range"), format!("bytes */{size}"));
    assert_eq!(past.code(), "RANGE_NOT_SATISFIABLE");
    for bad in [
        "bytes=x-y",
        "lines=0-1",
        "bytes=",
        "bytes=1-2-3",
        "bytes=--5",
    ] {
        let got = get_with(&client, Method::GET, uri, &[("range", bad)]).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(got.code(), "INVALID_RANGE", "{bad}");
    }

    let fresh = get_with(&client, Method::GET, uri, &[("if-none-match", &etag)]).await;
    assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);
    assert_eq!(fresh.header("etag"), etag);
    assert!(fresh.body.is_empty());
    let since = fresh.header("last-modified").to_owned();
    let fresh = get_with(&client, Method::GET, uri, &[("if-modified-since", &since)]).await;
    assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);
    let stale = get_with(&client, Method::GET, uri, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(stale.status, StatusCode::OK);
    // A range of another version of the file is not a range of this one.
    let moved = get_with(
        &client,
        Method::GET,
        uri,
        &[("range", "bytes=0-3"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!((moved.status, moved.body.len()), (StatusCode::OK, size));
    let same = get_with(
        &client,
        Method::GET,
        uri,
        &[("range", "bytes=0-3"), ("if-range", &etag)],
    )
    .await;
    assert_eq!(same.status, StatusCode::PARTIAL_CONTENT);
}

#[tokio::test]
async fn only_listed_files_of_existing_snapshots_are_served() {
    let client = sample_client().await;
    for (uri, status) in [
        (
            "/downloads/000001/..%2F..%2Fetc%2Fpasswd",
            StatusCode::NOT_FOUND,
        ),
        (
            "/downloads/000001/%2e%2e/%2e%2e/Cargo.toml",
            StatusCode::NOT_FOUND,
        ),
        ("/downloads/000001/../report.json", StatusCode::NOT_FOUND),
        (
            "/downloads/000001/organisations/_delta_log/00000000000000000001.json",
            StatusCode::NOT_FOUND,
        ),
        ("/downloads/000001/snapshots", StatusCode::NOT_FOUND),
        ("/downloads/000001/report.json%00", StatusCode::NOT_FOUND),
        ("/downloads/999999/report.json", StatusCode::NOT_FOUND),
        ("/downloads/..%2F000001/report.json", StatusCode::NOT_FOUND),
        ("/downloads/999999", StatusCode::NOT_FOUND),
    ] {
        let got = client.get(uri).await;
        assert_eq!(got.status, status, "{uri}");
        assert_eq!(got.code(), "NOT_FOUND", "{uri}");
        let text = String::from_utf8_lossy(&got.body);
        assert!(
            !text.contains("snapshots/") && !text.contains("/tmp"),
            "{uri}: {text}"
        );
    }
    // A snapshot id is canonical: `1` is `000001`.
    assert_eq!(
        client.get("/downloads/1/report.json").await.status,
        StatusCode::OK
    );
    assert_eq!(
        client.get("/downloads/1").await.json()["snapshot_id"],
        "000001"
    );
}

#[tokio::test]
async fn parquet_downloads_describe_their_columns_and_provenance() {
    let client = sample_client().await;
    let files = listed(&client).await;
    let mut rows = 0;
    for name in [
        "organisations-cooperative.parquet",
        "organisations-association.parquet",
        "organisations-mutual.parquet",
    ] {
        let body = Bytes::from(
            client
                .get(path(files[name]["url"].as_str().unwrap()))
                .await
                .body,
        );
        let reader = SerializedFileReader::new(body).unwrap();
        let meta = reader.metadata().file_metadata();
        rows += meta.num_rows();
        let kv: BTreeMap<_, _> = meta
            .key_value_metadata()
            .unwrap()
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
            .collect();
        let provenance: Value = serde_json::from_str(&kv["ess.provenance"]).unwrap();
        assert_eq!(provenance["snapshot_id"], "000001", "{name}");
        assert_eq!(provenance["licence"], "CC-BY-4.0");
        assert!(provenance["created_at"].as_str().unwrap().starts_with("20"));
        let sources = provenance["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 6, "{name}: every registry file");
        assert!(
            sources
                .iter()
                .all(|s| s["sha256"].as_str().unwrap().len() == 64)
        );
        let columns: Value = serde_json::from_str(&kv["ess.columns"]).unwrap();
        let documented: Vec<_> = columns
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<_> = ORGANISATION_COLUMNS
            .iter()
            .map(|c| c.name.to_owned())
            .collect();
        assert_eq!(documented, expected);
        // The Arrow schema readers build carries each column's description, in
        // types every reader knows.
        let schema = parquet::arrow::parquet_to_arrow_schema(
            reader.metadata().file_metadata().schema_descr(),
            meta.key_value_metadata(),
        )
        .unwrap();
        for field in schema.fields() {
            assert!(
                field
                    .metadata()
                    .get("description")
                    .is_some_and(|d| !d.is_empty()),
                "{name}: {} has no description",
                field.name()
            );
            use arrow::datatypes::DataType::*;
            let plain = match field.data_type() {
                Utf8 | Int32 | Int64 | Date32 | Boolean => true,
                List(item) => item.data_type() == &Utf8,
                _ => false,
            };
            assert!(plain, "{name}: {} is {:?}", field.name(), field.data_type());
        }
    }
    assert_eq!(rows as u64, crate::expected::total());
}

/// The earliest founding year of the samples, from `expected_aggregates.json`.
fn earliest_founding_year() -> i32 {
    groups("year_family")
        .keys()
        .filter_map(|k| k.split('|').next()?.parse().ok())
        .min()
        .expect("years in the expected aggregates")
}

/// The DCAT's first year is read from the commit (its files' statistics), so that
/// describing a past snapshot does not open it.
#[tokio::test]
async fn the_earliest_founding_year_is_read_from_the_commit() {
    let (store, outcome) = crate::support::published_samples().await;
    let earliest = Some(Some(earliest_founding_year()));
    assert_eq!(outcome.manifest.first_founded_year, earliest);
    let listed = ess_query::Catalog::new(store, "memory://")
        .latest()
        .await
        .unwrap();
    assert_eq!(listed.first_founded_year, earliest);
}

#[tokio::test]
async fn the_data_package_and_dcat_describe_the_files() {
    let client = sample_client().await;
    let files = listed(&client).await;
    let package = client.get("/downloads/000001/datapackage.json").await;
    assert_eq!(package.content_type, "application/json");
    let package = package.json();
    assert_eq!(
        package["$schema"],
        "https://datapackage.org/profiles/2.0/datapackage.json"
    );
    assert_eq!(package["licenses"][0]["name"], "CC-BY-4.0");
    assert_eq!(package["sources"].as_array().unwrap().len(), 6);
    let resources = package["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 6, "every stored file");
    for r in resources {
        let f = &files[r["path"].as_str().unwrap()];
        assert_eq!(r["bytes"], f["bytes"]);
        assert_eq!(
            r["hash"],
            format!("sha256:{}", f["sha256"].as_str().unwrap())
        );
        if r["path"].as_str().unwrap().ends_with(".parquet") {
            assert_eq!(r["rows"], f["rows"]);
            for field in r["schema"]["fields"].as_array().unwrap() {
                for key in ["description", "description_en"] {
                    assert!(
                        field[key].as_str().is_some_and(|d| !d.is_empty()),
                        "{field}"
                    );
                }
            }
        }
    }

    let dcat = client.get("/downloads/000001/dcat.jsonld").await;
    assert_eq!(dcat.content_type, "application/ld+json");
    let dcat = dcat.json();
    assert_eq!(dcat["@type"], "dcat:Dataset");
    for key in [
        "dct:title",
        "dct:description",
        "dct:publisher",
        "dct:license",
        "dct:temporal",
        "dct:spatial",
    ] {
        assert!(!dcat[key].is_null(), "{key}");
    }
    assert!(
        dcat["dct:temporal"]["dcat:startDate"]["@value"]
            .as_str()
            .unwrap()
            < "2000"
    );
    assert_eq!(
        dcat["dct:temporal"]["dcat:startDate"]["@value"],
        format!("{:04}-01-01", earliest_founding_year())
    );
    let distributions = dcat["dcat:distribution"].as_array().unwrap();
    assert_eq!(distributions.len(), 6);
    for d in distributions {
        let url = d["dcat:accessURL"]["@id"].as_str().unwrap();
        let f = &files[url.rsplit('/').next().unwrap()];
        assert_eq!(url, f["url"]);
        assert_eq!(d["dcat:byteSize"]["@value"], f["bytes"].to_string());
        assert_eq!(
            d["spdx:checksum"]["spdx:checksumValue"]["@value"],
            f["sha256"]
        );
    }
}
