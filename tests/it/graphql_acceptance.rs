//! The acceptance test: the samples, ingested in the documented order, reproduce every
//! number of `expected_aggregates.json` through the GraphQL API.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::expected::{GROUPINGS, MEASURES, assert_same_measures, expected, groups};
use crate::http::{Client, sample_client};

fn key_of(row: &Value, dimensions: &[&str]) -> String {
    dimensions
        .iter()
        .map(|d| {
            let v = match *d {
                "FAMILY" => row["family"].as_str().map(str::to_lowercase),
                "REGION" => row["region"]["code"].as_str().map(str::to_owned),
                "PROVINCE" => row["province"]["code"].as_str().map(str::to_owned),
                "SECTOR" => row["sector"]["code"].as_str().map(str::to_owned),
                "FOUNDED_YEAR" => row["foundedYear"].as_i64().map(|y| y.to_string()),
                other => panic!("{other}"),
            };
            v.unwrap_or_else(|| "None".to_owned())
        })
        .collect::<Vec<_>>()
        .join("|")
}

async fn aggregate(client: &Client, dimensions: &[&str], filter: Option<&str>) -> Value {
    let measures = MEASURES.join(" ");
    let filter = filter.map(|f| format!(", filter: {f}")).unwrap_or_default();
    let query = format!(
        "{{ aggregate(groupBy: [{}]{filter}) {{
             rows {{ family region {{ code }} province {{ code }} sector {{ code }} foundedYear {measures} }}
             total {{ {measures} }}
             snapshot {{ id }} }} }}",
        dimensions.join(", ")
    );
    client.data(&query).await["aggregate"].clone()
}

#[tokio::test]
async fn every_expected_aggregate_through_graphql() {
    let client = sample_client().await;
    for g in GROUPINGS {
        let answer = aggregate(&client, g.dimensions, g.filter).await;
        let want = groups(g.key);
        let got: BTreeMap<String, Value> = answer["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (key_of(r, g.dimensions), r.clone()))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{}: the groups",
            g.key
        );
        for (k, w) in &want {
            assert_same_measures(&format!("{} {k}", g.key), w, &got[k]);
        }
        // Nothing is dropped: the groups add up to the total.
        let organisations: i64 = got
            .values()
            .map(|r| r["organisations"].as_i64().unwrap())
            .sum();
        assert_eq!(
            organisations,
            answer["total"]["organisations"].as_i64().unwrap(),
            "{}",
            g.key
        );
        assert_eq!(answer["snapshot"]["id"], "000001");
    }
    let total = aggregate(&client, &[], None).await;
    assert_eq!(
        total["rows"].as_array().unwrap().len(),
        1,
        "no dimension: one group"
    );
    assert_eq!(total["total"]["organisations"], expected()["total"]);
}

#[tokio::test]
async fn rejected_and_superseded_counts_in_the_ingest_report() {
    let client = sample_client().await;
    let data = client
        .data("{ snapshot { id organisations rejected files { family file rowsRead accepted rejected superseded } } }")
        .await;
    let snapshot = &data["snapshot"];
    let want = expected();
    assert_eq!(snapshot["organisations"], want["total"]);
    let mut rejected: BTreeMap<String, i64> = BTreeMap::new();
    let mut superseded: BTreeMap<String, i64> = BTreeMap::new();
    for f in snapshot["files"].as_array().unwrap() {
        let family = f["family"].as_str().unwrap().to_lowercase();
        assert_eq!(
            f["rowsRead"].as_i64().unwrap(),
            f["accepted"].as_i64().unwrap() + f["rejected"].as_i64().unwrap(),
            "{f}: every row is accepted or rejected"
        );
        *rejected.entry(family.clone()).or_default() += f["rejected"].as_i64().unwrap();
        *superseded.entry(family).or_default() += f["superseded"].as_i64().unwrap();
    }
    for family in ["cooperative", "association", "mutual"] {
        assert_eq!(
            json!(rejected[family]),
            want["rejected"].get(family).cloned().unwrap_or(json!(0)),
            "rejected {family}"
        );
        assert_eq!(
            json!(superseded[family]),
            want["superseded"].get(family).cloned().unwrap_or(json!(0)),
            "superseded {family}"
        );
    }
    assert_eq!(
        snapshot["rejected"].as_i64().unwrap(),
        rejected.values().sum::<i64>()
    );
}
