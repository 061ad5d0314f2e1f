//! `/export/*.csv` over the published samples: the numbers of
//! `expected_aggregates.json` and of GraphQL, in both dialects and three languages,
//! read back with a CSV reader; labels intact; errors as GraphQL gives them; a
//! citation whose permanent link gives the same numbers after a newer snapshot.

use axum::http::StatusCode;
use ess_api::AppState;
use ess_api::store::Store;
use ess_ingest::samples::sample_sources;
use ess_schemas::{Lang, reference};
use serde_json::Value;

use crate::expected::{MEASURES, expected, groups};
use crate::http::{Client, Reply, sample_client};
use crate::support::published_samples;

/// A CSV export read back: the citation line and the records (heading first).
struct Csv {
    source: String,
    records: Vec<Vec<String>>,
}

fn read(reply: &Reply, excel_fr: bool) -> Csv {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.content_type,
        "text/csv; charset=utf-8; header=present"
    );
    let text = std::str::from_utf8(&reply.body).expect("UTF-8");
    let text = match (excel_fr, text.strip_prefix('\u{feff}')) {
        (true, Some(rest)) => rest,
        (true, None) => panic!("excel-fr starts with a byte-order mark"),
        (false, Some(_)) => panic!("plain CSV has no byte-order mark"),
        (false, None) => text,
    };
    let (first, rest) = text.split_once("\r\n").expect("lines end with CRLF");
    let source = first
        .strip_prefix("# source: ")
        .expect("a # source: line")
        .to_owned();
    let records = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(if excel_fr { b';' } else { b',' })
        .from_reader(rest.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    Csv { source, records }
}

/// A measure's cell: a count, or (`ratio`) a share.
fn number(cell: &str, excel_fr: bool, ratio: bool) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    if !ratio {
        return cell.parse::<i64>().unwrap().into();
    }
    let text = if excel_fr {
        assert!(!cell.contains('.'), "{cell}: a decimal comma");
        cell.replace(',', ".")
    } else {
        cell.to_owned()
    };
    serde_json::Number::from_f64(text.parse().unwrap())
        .unwrap()
        .into()
}

#[tokio::test]
async fn aggregates_give_the_expected_numbers_in_both_dialects_and_every_language() {
    let client = sample_client().await;
    let want = groups("region_family");
    for (lang, lang_code) in [(Lang::Fr, "fr"), (Lang::Ar, "ar"), (Lang::En, "en")] {
        for excel_fr in [false, true] {
            let format = if excel_fr { "&format=excel-fr" } else { "" };
            let reply = client
                .get(&format!(
                    "/export/aggregate.csv?groupBy=region,family&lang={lang_code}{format}"
                ))
                .await;
            let csv = read(&reply, excel_fr);
            assert!(csv.source.contains("000001"), "{}", csv.source);
            let rows = &csv.records[1..];
            assert_eq!(rows.len(), want.len(), "{lang_code}");
            for row in rows {
                // region code, region, family code, family, then the measures.
                let region = if row[0].is_empty() { "None" } else { &row[0] };
                let key = format!("{region}|{}", row[2]);
                let w = &want[&key];
                for (i, m) in MEASURES.iter().enumerate() {
                    assert_eq!(
                        number(&row[4 + i], excel_fr, i >= 6),
                        w[*m],
                        "{lang_code} {key} {m}"
                    );
                }
                // Labels as the reference writes them, Arabic included.
                match reference().region(&row[0]) {
                    Some(r) => assert_eq!(row[1], r.name(lang), "{key}"),
                    None => assert!(["inconnu", "غير معروف", "unknown"].contains(&row[1].as_str())),
                }
            }
        }
    }
    // Totals equal GraphQL's.
    let total = client
        .data("{ aggregate(groupBy: []) { total { organisations members employees } } }")
        .await;
    let csv = read(
        &client.get("/export/aggregate.csv?groupBy=sector").await,
        false,
    );
    for (column, m) in [(2, "organisations"), (3, "members"), (5, "employees")] {
        let sum: i64 = csv.records[1..]
            .iter()
            .map(|r| r[column].parse::<i64>().unwrap())
            .sum();
        assert_eq!(sum, total["aggregate"]["total"][m].as_i64().unwrap(), "{m}");
    }
    assert_eq!(
        expected()["total"],
        total["aggregate"]["total"]["organisations"]
    );
    // The total alone.
    let csv = read(&client.get("/export/aggregate.csv?groupBy=").await, false);
    assert_eq!(csv.records.len(), 2);
    assert_eq!(csv.records[1][0], crate::expected::total().to_string());
}

#[tokio::test]
async fn organisations_stream_every_match_with_labels_intact() {
    let client = sample_client().await;
    let data = client
        .data(
            r#"{ organisations(filter: {family: [ASSOCIATION], region: ["MA-06"]}, first: 1000) {
                 totalCount edges { node { orgId name nameAr region { nameAr: name(lang: AR) } } } } }"#,
        )
        .await;
    let want = &data["organisations"];
    for excel_fr in [false, true] {
        let format = if excel_fr { "&format=excel-fr" } else { "" };
        let csv = read(
            &client
                .get(&format!(
                    "/export/organisations.csv?family=association&region=MA-06&lang=ar{format}"
                ))
                .await,
            excel_fr,
        );
        let heading = &csv.records[0];
        assert_eq!(heading[0], "المعرف");
        let rows = &csv.records[1..];
        assert_eq!(rows.len() as u64, want["totalCount"].as_u64().unwrap());
        let col = |name: &str| heading.iter().position(|h| h == name).unwrap();
        let (name_ar, region) = (col("الاسم بالعربية"), col("الجهة"));
        for (row, edge) in rows.iter().zip(want["edges"].as_array().unwrap()) {
            let node = &edge["node"];
            assert_eq!(row[0], node["orgId"].as_str().unwrap(), "org_id order");
            assert_eq!(row[name_ar], node["nameAr"].as_str().unwrap_or(""));
            assert_eq!(row[region], node["region"]["nameAr"].as_str().unwrap());
        }
    }
    // Every organisation when nothing filters: no row cap.
    let all = read(&client.get("/export/organisations.csv").await, false);
    assert_eq!(all.records.len() as u64 - 1, crate::expected::total());
    // A search gives what GraphQL's gives.
    let found = client
        .data(r#"{ organisations(search: "zitoune", first: 1000) { totalCount } }"#)
        .await;
    let csv = read(
        &client.get("/export/organisations.csv?search=zitoune").await,
        false,
    );
    assert_eq!(
        csv.records.len() as u64 - 1,
        found["organisations"]["totalCount"].as_u64().unwrap()
    );
    assert!(
        csv.records.len() > 1,
        "the samples have Zitoune cooperatives"
    );
}

#[tokio::test]
async fn bad_parameters_are_refused_as_graphql_refuses_them() {
    let client = sample_client().await;
    // The same message as GraphQL's for the same filter.
    for (export, graphql) in [
        ("region=MA-99", r#"region: ["MA-99"]"#),
        ("province=MA-NOPE", r#"province: ["MA-NOPE"]"#),
        ("sector=NOPE", r#"sector: ["NOPE"]"#),
        (
            "foundedFrom=2020&foundedTo=2010",
            "foundedYear: {from: 2020, to: 2010}",
        ),
    ] {
        let reply = client
            .get(&format!("/export/aggregate.csv?groupBy=region&{export}"))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{export}");
        assert_eq!(reply.code(), "INVALID_REQUEST");
        let g = client
            .graphql(
                &format!("{{ aggregate(groupBy: [REGION], filter: {{{graphql}}}) {{ total {{ organisations }} }} }}"),
                Value::Null,
            )
            .await;
        assert_eq!(
            reply.json()["errors"][0]["message"],
            g["errors"][0]["message"],
            "{export}"
        );
        let orgs = client
            .get(&format!("/export/organisations.csv?{export}"))
            .await;
        assert_eq!(orgs.status, StatusCode::BAD_REQUEST, "{export}");
    }
    for uri in [
        "/export/aggregate.csv",
        "/export/aggregate.csv?groupBy=regoin",
        "/export/aggregate.csv?groupBy=region&family=coop",
        "/export/aggregate.csv?groupBy=region&lang=de",
        "/export/aggregate.csv?groupBy=region&format=xlsx",
        "/export/aggregate.csv?groupBy=region&regoin=MA-01",
        "/export/aggregate.csv?groupBy=region&search=x",
        "/export/organisations.csv?groupBy=region",
        "/export/organisations.csv?foundedFrom=abc",
    ] {
        let reply = client.get(uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(reply.code(), "INVALID_REQUEST", "{uri}");
    }
    let missing = client
        .get("/export/aggregate.csv?groupBy=region&snapshot=999999")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "NOT_FOUND");
}

#[tokio::test]
async fn a_citations_permanent_link_gives_the_same_numbers_after_a_newer_snapshot() {
    let (store, _) = published_samples().await;
    let client = Client::new(ess_api::app(
        AppState::latest(Store {
            store: store.clone(),
            url: "memory://".into(),
        })
        .await
        .unwrap(),
    ));
    let data = client
        .data(
            r#"{ aggregate(groupBy: [FAMILY], filter: {region: ["MA-03"]}) {
                 citation { text url } ar: citation(lang: AR) { text } }
                 organisations(search: "zitoune") { citation(lang: EN) { text url } } }"#,
        )
        .await;
    let citation = &data["aggregate"]["citation"];
    let url = citation["url"].as_str().unwrap();
    assert_eq!(
        url,
        "http://localhost/export/aggregate.csv?snapshot=000001&groupBy=family&region=MA-03"
    );
    let text = citation["text"].as_str().unwrap();
    for part in [
        "000001",
        "registre des coopératives",
        "cooperatives_2024.csv",
        "CC BY 4.0",
        url,
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(
        data["aggregate"]["ar"]["text"]
            .as_str()
            .unwrap()
            .contains("سجل الجمعيات")
    );
    assert_eq!(
        data["organisations"]["citation"]["url"],
        "http://localhost/export/organisations.csv?snapshot=000001&search=zitoune&lang=en"
    );
    let path = &url["http://localhost".len()..];
    let before = client.get(path).await;
    let csv = read(&before, false);
    assert!(csv.source.ends_with(url), "{}", csv.source);
    assert_eq!(before.header("link"), format!("<{url}>; rel=\"cite-as\""));

    // A newer snapshot (the first sample alone) is published and served.
    crate::support::publish(&store, sample_sources().into_iter().take(1)).await;
    let state = AppState::latest(Store {
        store,
        url: "memory://".into(),
    })
    .await
    .unwrap();
    assert_eq!(state.current().manifest().snapshot_id, "000002");
    let client = Client::new(ess_api::app(state));
    let after = client.get(path).await;
    assert_eq!(
        after.body, before.body,
        "the permanent link gives the same bytes"
    );
    let latest = client
        .get("/export/aggregate.csv?groupBy=family&region=MA-03")
        .await;
    assert_ne!(
        latest.body, before.body,
        "the snapshot served has other numbers"
    );
}

#[tokio::test]
async fn a_status_filter_keeps_the_organisations_of_those_statuses() {
    let client = sample_client().await;
    let data = client
        .data(
            r#"{ all: aggregate(groupBy: [STATUS]) { rows { status organisations members } }
                 active: aggregate(groupBy: [], filter: {status: ["active"]}) { total { organisations members } }
                 two: aggregate(groupBy: [STATUS], filter: {status: ["dissolved", "in_liquidation"]}) { rows { status } }
                 page: organisations(filter: {status: ["dissolved"]}, search: "cooperative", first: 1000) {
                   totalCount edges { node { status } } } }"#,
        )
        .await;
    let active = data["all"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "active")
        .unwrap();
    assert_eq!(
        data["active"]["total"]["organisations"],
        active["organisations"]
    );
    assert_eq!(data["active"]["total"]["members"], active["members"]);
    let statuses: Vec<_> = data["two"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| s == "dissolved" || s == "in_liquidation"),
        "{statuses:?}"
    );
    let page = data["page"]["edges"].as_array().unwrap();
    assert!(
        !page.is_empty(),
        "dissolved cooperatives are found (by scanning)"
    );
    assert_eq!(
        page.len() as u64,
        data["page"]["totalCount"].as_u64().unwrap()
    );
    for e in page {
        assert_eq!(e["node"]["status"], "dissolved");
    }
    let bad = client
        .graphql(r#"{ aggregate(groupBy: [], filter: {status: ["closed"]}) { total { organisations } } }"#, Value::Null)
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "INVALID_REQUEST");
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("in_liquidation")
    );
    let csv = read(
        &client
            .get("/export/aggregate.csv?groupBy=&status=active")
            .await,
        false,
    );
    assert_eq!(csv.records[1][0], active["organisations"].to_string());
    assert!(csv.source.contains("status=active"), "{}", csv.source);
}
