//! Snapshot history over GraphQL: listing, time travel, diffs, and a server that picks
//! up a new snapshot while requests already running finish on theirs.

use std::sync::Arc;

use ess_api::AppState;
use ess_api::store::Store;
use ess_ingest::samples::sample_sources;
use ess_query::AggregateRequest;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use serde_json::Value;

use crate::http::Client;

async fn publish(store: &Arc<dyn ObjectStore>, files: std::ops::Range<usize>) {
    let samples = sample_sources().into_iter();
    crate::support::publish(store, samples.skip(files.start).take(files.len())).await;
}

async fn total(client: &Client, snapshot: Option<&str>) -> (String, i64) {
    let arg = snapshot
        .map(|s| format!(", snapshot: \"{s}\""))
        .unwrap_or_default();
    let d = client
        .data(&format!(
            "{{ aggregate(groupBy: []{arg}) {{ total {{ organisations }} snapshot {{ id }} }} }}"
        ))
        .await;
    (
        d["aggregate"]["snapshot"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        d["aggregate"]["total"]["organisations"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn new_snapshots_are_picked_up_and_past_ones_stay_queryable() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    publish(&store, 0..6).await; // 000001: every sample
    let state = AppState::latest(Store {
        store: store.clone(),
        url: "memory://".into(),
    })
    .await
    .unwrap();
    let client = Client::new(ess_api::app(state.clone()));
    assert_eq!(
        total(&client, None).await,
        ("000001".into(), crate::expected::total() as i64)
    );

    publish(&store, 0..1).await; // 000002: the legacy cooperatives only
    let in_flight = state.current(); // a request that started before the swap
    assert_eq!(state.refresh().await.unwrap().as_deref(), Some("000002"));
    assert_eq!(state.refresh().await.unwrap(), None, "nothing newer");

    let (id, newest) = total(&client, None).await;
    assert_eq!(id, "000002");
    assert!(newest < crate::expected::total() as i64);
    let health = client.get("/healthz").await.json();
    assert_eq!(health["snapshot"], "000002");
    // The request that started on 000001 finishes on it.
    let old = in_flight
        .engine
        .aggregate(&AggregateRequest::default())
        .await
        .unwrap();
    assert_eq!(
        (
            in_flight.manifest().snapshot_id.as_str(),
            old.total().unwrap().organisations
        ),
        ("000001", crate::expected::total() as i64)
    );
    // Time travel.
    assert_eq!(
        total(&client, Some("000001")).await,
        ("000001".into(), crate::expected::total() as i64)
    );
    let r = client
        .graphql(
            r#"{ aggregate(groupBy: [], snapshot: "000009") { total { organisations } } }"#,
            Value::Null,
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{r}");

    let list = client
        .data("{ snapshots { id sequence organisations files { file } } }")
        .await;
    let ids: Vec<_> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["000002", "000001"], "newest first");
    assert_eq!(list["snapshots"][0]["files"].as_array().unwrap().len(), 1);

    // What changed from 000001 to 000002: everything not in the legacy file is gone;
    // nothing is new; organisations the later files had updated went back.
    let d = client
        .data(
            "{ diff { from { id } to { id } total { added removed changed unchanged }
                 rows { family region { code } added removed changed unchanged } } }",
        )
        .await;
    let diff = &d["diff"];
    assert_eq!(
        (diff["from"]["id"].as_str(), diff["to"]["id"].as_str()),
        (Some("000001"), Some("000002"))
    );
    let t = &diff["total"];
    let n = |v: &Value| v.as_i64().unwrap();
    assert_eq!(n(&t["added"]), 0);
    assert_eq!(n(&t["removed"]), crate::expected::total() as i64 - newest);
    assert_eq!(n(&t["changed"]) + n(&t["unchanged"]), newest);
    let rows = diff["rows"].as_array().unwrap();
    let sum = |k: &str| rows.iter().map(|r| n(&r[k])).sum::<i64>();
    assert_eq!(
        (sum("added"), sum("removed"), sum("changed")),
        (n(&t["added"]), n(&t["removed"]), n(&t["changed"]))
    );
    assert!(
        rows.iter()
            .any(|r| r["family"] == "MUTUAL" && n(&r["removed"]) > 0)
    );

    // And the other way round, the same organisations are added.
    let back = client
        .data(r#"{ diff(from: "000002", to: "000001") { total { added removed } } }"#)
        .await;
    assert_eq!(
        n(&back["diff"]["total"]["added"]),
        crate::expected::total() as i64 - newest
    );
    assert_eq!(n(&back["diff"]["total"]["removed"]), 0);

    let first = client
        .graphql(r#"{ diff(to: "000001") { total { added } } }"#, Value::Null)
        .await;
    assert!(
        first["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the first one"),
        "{first}"
    );
}

#[tokio::test]
async fn diff_counts_added_removed_and_changed_per_family_and_region() {
    use ess_ingest::SourceFile;
    use ess_query::{Catalog, SnapshotEngine};
    use ess_schemas::Family;

    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let header = "N° immatriculation;Raison sociale;Région;Nombre d'adhérents\n";
    let before =
        format!("{header}C1;Coop 1;Souss-Massa;5\nC2;Coop 2;Souss-Massa;7\nC4;Coop 4;;1\n");
    // C1 changes members; C2 is struck off; C3 is new in Drâa-Tafilalet; C4 moves only
    // in the file (another row number): not a change.
    let after =
        format!("{header}\nC4;Coop 4;;1\nC1;Coop 1;Souss-Massa;6\nC3;Coop 3;Drâa-Tafilalet;2\n");
    for (name, text) in [("before.csv", before), ("after.csv", after)] {
        let file = SourceFile::bytes(Family::Cooperative, name, text.into_bytes());
        crate::support::publish(&store, [file]).await;
    }
    let catalog = Catalog::new(store.clone(), "memory://");
    let open = |seq| {
        let catalog = catalog.clone();
        let store = store.clone();
        async move {
            SnapshotEngine::open(store, catalog.manifest(seq).await.unwrap())
                .await
                .unwrap()
        }
    };
    let d = ess_query::diff(&open(1).await, &open(2).await)
        .await
        .unwrap();
    let rows: Vec<(Option<&str>, u64, u64, u64, u64)> = d
        .rows
        .iter()
        .map(|r| {
            (
                r.region.as_deref(),
                r.counts.added,
                r.counts.removed,
                r.counts.changed,
                r.counts.unchanged,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (Some("MA-08"), 1, 0, 0, 0),
            (Some("MA-09"), 0, 1, 1, 0),
            (None, 0, 0, 0, 1)
        ]
    );
}

#[tokio::test]
async fn a_diff_runs_within_a_small_memory_pool_and_finds_the_same() {
    use ess_query::{Catalog, QueryConfig, QueryRuntime, SnapshotEngine};
    // 7,800 organisations, then the samples: nearly every one removed or added.
    let (store, _) = crate::search::synthetic_snapshot().await;
    publish(&store, 0..6).await;
    let catalog = Catalog::new(store.clone(), "memory://");
    let diff_with = |pool: usize| {
        let (store, catalog) = (store.clone(), catalog.clone());
        async move {
            let runtime = QueryRuntime::new(
                store,
                QueryConfig {
                    memory_pool_bytes: pool,
                    ..QueryConfig::default()
                },
            )
            .unwrap();
            let open = |seq| {
                let (runtime, catalog) = (runtime.clone(), catalog.clone());
                async move {
                    SnapshotEngine::open_in(&runtime, catalog.manifest(seq).await.unwrap())
                        .await
                        .unwrap()
                }
            };
            ess_query::diff(&open(1).await, &open(2).await)
                .await
                .unwrap()
                .rows
                .clone()
        }
    };
    let roomy = diff_with(512 << 20).await;
    // A pool of 8 MiB (the default is 512): the join's sorts keep within their share
    // (past it they spill; BENCHMARKS.md measures a diff of 10M organisations).
    let tight = diff_with(8 << 20).await;
    assert_eq!(roomy, tight);
    let total: u64 = roomy.iter().map(|r| r.counts.added).sum();
    assert_eq!(total, crate::expected::total());
}
