//! The typed query API reproduces `expected_aggregates.json` on the samples.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use arrow::util::pretty::pretty_format_batches;
use datafusion::assert_batches_sorted_eq;
use ess_query::{AggregateRequest, Dimension, Filter, OrganisationsRequest};
use ess_schemas::Family;
use ess_schemas::measures::col as m;
use serde_json::{Value, json};

use crate::expected::{GROUPINGS, Grouping, assert_same_measures, groups};
use crate::support::{engine, published_samples};

fn dimension(name: &str) -> Dimension {
    match name {
        "REGION" => Dimension::Region,
        "FAMILY" => Dimension::Family,
        "SECTOR" => Dimension::Sector,
        "PROVINCE" => Dimension::Province,
        "FOUNDED_YEAR" => Dimension::FoundedYear,
        other => panic!("{other}"),
    }
}

fn key_part(group: &ess_query::GroupKey, d: Dimension) -> String {
    let v = match d {
        Dimension::Family => group.family.map(|f| f.as_str().to_owned()),
        Dimension::Region => group.region.clone(),
        Dimension::Province => group.province.clone(),
        Dimension::Sector => group.sector.clone(),
        Dimension::FoundedYear => group.founded_year.map(|y| y.to_string()),
        Dimension::Status => group.status.clone(),
    };
    v.unwrap_or_else(|| "None".to_owned())
}

fn measures(s: &ess_schemas::measures::Sums) -> Value {
    json!({
        "organisations": s.organisations,
        "members": s.members,
        "membersWomen": s.members_women,
        "employees": s.employees,
        "employeesWomen": s.employees_women,
        "employeesMen": s.employees_men,
        "genderCoverage": s.gender_coverage(),
        "womenEmploymentShare": s.women_employment_share(),
    })
}

/// The typed request of one grouping of the expected file.
fn request_of(g: &Grouping) -> (Vec<Dimension>, AggregateRequest) {
    let dims: Vec<Dimension> = g.dimensions.iter().map(|d| dimension(d)).collect();
    let filter = if g.filter.is_some() {
        Filter {
            families: vec![Family::Cooperative],
            regions: vec!["MA-03".into()],
            ..Filter::default()
        }
    } else {
        Filter::default()
    };
    let request = AggregateRequest {
        group_by: dims.clone(),
        filter,
    };
    (dims, request)
}

#[tokio::test]
async fn every_expected_aggregate_through_the_typed_api() {
    let (store, _) = published_samples().await;
    let engine = engine(store).await;
    for g in GROUPINGS {
        let (dims, request) = request_of(&g);
        let out = engine.aggregate(&request).await.unwrap();
        let want = groups(g.key);
        let got: Vec<(String, Value)> = out
            .groups()
            .unwrap()
            .iter()
            .map(|grp| {
                let key: Vec<String> = dims.iter().map(|d| key_part(&grp.key, *d)).collect();
                (key.join("|"), measures(&grp.sums))
            })
            .collect();
        let got_keys: Vec<&String> = got.iter().map(|(k, _)| k).collect();
        let want_keys: Vec<&String> = want.keys().collect();
        let mut sorted = got_keys.clone();
        sorted.sort();
        assert_eq!(sorted, want_keys, "{}: groups", g.key);
        for (k, v) in &got {
            assert_same_measures(&format!("{} {k}", g.key), &want[k], v);
        }
    }
}

/// The summed measures: answer column and expected file's name.
const SUMS: [(&str, &str); 6] = [
    (m::ORGANISATIONS, "organisations"),
    (m::MEMBERS, "members"),
    (m::MEMBERS_WOMEN, "membersWomen"),
    (m::EMPLOYEES, "employees"),
    (m::EMPLOYEES_WOMEN, "employeesWomen"),
    (m::EMPLOYEES_MEN, "employeesMen"),
];

/// The expected file's groups as the answer's columns would hold them (`schema`:
/// the answer's dimension columns, then [`SUMS`]).
fn expected_batch(schema: SchemaRef, key: &str, dims: usize) -> RecordBatch {
    let want = groups(key);
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        let column: ArrayRef = if i < dims {
            let texts: StringArray = want
                .keys()
                .map(|k| k.split('|').nth(i).filter(|v| *v != "None"))
                .collect();
            cast(&texts, field.data_type()).unwrap()
        } else {
            let name = SUMS[i - dims].1;
            Arc::new(Int64Array::from_iter_values(
                want.values().map(|v| v[name].as_i64().unwrap()),
            ))
        };
        columns.push(column);
    }
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Every grouping's rows as the engine gives them (Arrow batches), compared as
/// tables with DataFusion's `assert_batches_sorted_eq!` against the expected file.
#[tokio::test]
async fn every_expected_aggregate_as_arrow_tables() {
    let (store, _) = published_samples().await;
    let engine = engine(store).await;
    for g in GROUPINGS {
        let (dims, request) = request_of(&g);
        let out = engine.aggregate(&request).await.unwrap();
        let got: Vec<RecordBatch> = out
            .rows
            .iter()
            .map(|b| {
                let schema = b.schema();
                let columns: Vec<usize> = dims
                    .iter()
                    .map(|d| d.column())
                    .chain(SUMS.iter().map(|(column, _)| *column))
                    .map(|name| schema.index_of(name).unwrap())
                    .collect();
                b.project(&columns).unwrap()
            })
            .collect();
        let want = expected_batch(got[0].schema(), g.key, dims.len());
        let want = pretty_format_batches(&[want]).unwrap().to_string();
        let want: Vec<&str> = want.lines().collect();
        assert!(want.len() > 4, "{}: a header and rows", g.key);
        assert_batches_sorted_eq!(want, &got);
    }
}

#[tokio::test]
async fn search_and_pages() {
    let (store, _) = published_samples().await;
    let engine = engine(store).await;
    // Accent- and case-insensitive: "COOPERATIVE ZITOUNE" finds "Coopérative Zitoune".
    let page = engine
        .organisations(&OrganisationsRequest {
            search: Some("COOPERATIVE zitoune".into()),
            first: 5,
            ..OrganisationsRequest::default()
        })
        .await
        .unwrap();
    let orgs = page.organisations().unwrap();
    assert_eq!(orgs.len(), 5);
    assert!(page.total_count.unwrap() > 5 && page.has_next_page);
    assert!(orgs.iter().all(|o| o.name.contains("Zitoune")));
    assert!(orgs.windows(2).all(|w| w[0].org_id < w[1].org_id));

    // Walking every page visits each match once.
    let mut seen = Vec::new();
    let mut after = None;
    let total = loop {
        let page = engine
            .organisations(&OrganisationsRequest {
                search: Some("zitoune".into()),
                after: after.clone(),
                first: 7,
                ..OrganisationsRequest::default()
            })
            .await
            .unwrap();
        let orgs = page.organisations().unwrap();
        after = orgs.last().map(|o| o.org_id.clone());
        seen.extend(orgs.into_iter().map(|o| o.org_id));
        if !page.has_next_page {
            break page.total_count.unwrap();
        }
    };
    assert_eq!(seen.len() as u64, total);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "no repeats, in order");
    assert!(
        total > page.total_count.unwrap(),
        "a narrower search finds fewer"
    );

    // Search text is data, never syntax.
    let none = engine
        .organisations(&OrganisationsRequest {
            search: Some("%' OR 1=1 --".into()),
            ..OrganisationsRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(none.total_count, Some(0));
}

#[tokio::test]
async fn the_rollup_and_the_cache_answer_as_a_scan_does() {
    let (store, _) = published_samples().await;
    let engine = engine(store).await;
    let dims = [
        Dimension::Family,
        Dimension::Region,
        Dimension::Province,
        Dimension::Sector,
        Dimension::FoundedYear,
        Dimension::Status,
    ];
    let filters = [
        Filter::default(),
        Filter {
            families: vec![Family::Cooperative, Family::Mutual],
            regions: vec!["MA-09".into(), "MA-03".into()],
            ..Filter::default()
        },
        Filter {
            sectors: vec!["AGRI".into()],
            founded_from: Some(1990),
            founded_to: Some(2010),
            ..Filter::default()
        },
        Filter {
            provinces: vec!["MA-FES".into()],
            ..Filter::default()
        },
    ];
    for (i, a) in dims.iter().enumerate() {
        for b in dims.iter().skip(i + 1).chain([a]) {
            let group_by = if a == b { vec![*a] } else { vec![*a, *b] };
            for filter in &filters {
                let request = AggregateRequest {
                    group_by: group_by.clone(),
                    filter: filter.clone(),
                };
                let scan = engine.aggregate_scanning(&request).await.unwrap();
                let fast = engine.aggregate(&request).await.unwrap();
                let cached = engine.aggregate(&request).await.unwrap();
                assert_eq!(
                    fast.groups().unwrap(),
                    scan.groups().unwrap(),
                    "{request:?}"
                );
                assert_eq!(fast.total().unwrap(), scan.total().unwrap(), "{request:?}");
                assert_eq!(cached.groups().unwrap(), scan.groups().unwrap());
            }
        }
    }
    // Filter lists in another order hit the same answer.
    let mut reordered = filters[1].clone();
    reordered.regions.reverse();
    let r = AggregateRequest {
        group_by: vec![Dimension::Region],
        filter: reordered,
    };
    let s = AggregateRequest {
        group_by: vec![Dimension::Region],
        filter: filters[1].clone(),
    };
    assert_eq!(
        engine.aggregate(&r).await.unwrap().groups().unwrap(),
        engine.aggregate(&s).await.unwrap().groups().unwrap()
    );
}
