//! The organisations' table as researchers' engines read it: the Python `deltalake`
//! package and polars (`tests/interop/delta_read.py`, from PyPI: tests/requirements.txt)
//! and DataFusion's Delta table provider, on a local store and on S3 (moto), at the
//! latest version and at an earlier one, reproduce `expected_aggregates.json`.

use std::process::Command;
use std::sync::Arc;

use datafusion::prelude::{SessionContext, col};
use deltalake::DeltaTableBuilder;
use ess_ingest::IngestOutcome;
use ess_ingest::samples::sample_sources;
use ess_schemas::arrow_schema::organisation_schema;
use object_store::ObjectStore;
use serde_json::Value;

use crate::expected::{expected, groups};
use crate::support::publish;

/// Two snapshots: every sample (version 1, the expected aggregates), then the first
/// sample alone (version 2, the latest).
async fn two_snapshots(store: &Arc<dyn ObjectStore>) -> (IngestOutcome, IngestOutcome) {
    let all = publish(store, sample_sources()).await;
    let first = publish(store, sample_sources().into_iter().take(1)).await;
    assert_eq!((all.manifest.sequence, first.manifest.sequence), (1, 2));
    (all, first)
}

/// What one reader found: organisations in all, per family, per region and family.
fn check_expected(reader: &str, found: &Value) {
    let want = expected();
    assert_eq!(found["total"], want["total"], "{reader}: total");
    for (grouping, json_key) in [("family", "family"), ("region_family", "region_family")] {
        let want = groups(json_key);
        let got = found[grouping].as_object().unwrap();
        assert_eq!(
            got.len(),
            want.len(),
            "{reader}: {grouping} groups: {got:?}"
        );
        for (key, w) in &want {
            let g = &got[key.as_str()];
            for m in ["organisations", "members", "employees"] {
                assert_eq!(g[m], w[m], "{reader}: {grouping} {key} {m}");
            }
        }
    }
}

/// What the latest version (the first sample alone) must hold.
fn check_latest(reader: &str, found: &Value, latest: &IngestOutcome) {
    assert_eq!(found["total"], latest.manifest.rows, "{reader}: total");
    for (family, rows) in &latest.manifest.rows_by_family {
        assert_eq!(
            found["family"][family]["organisations"], *rows,
            "{reader}: {family}"
        );
    }
}

/// Runs the Python readers on the table at `uri`.
fn python_read(uri: &str, version: Option<u64>, options: Option<&Value>) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/delta_read.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(uri)
        .arg(version.map(|v| v.to_string()).unwrap_or_default());
    if let Some(o) = options {
        cmd.arg(o.to_string());
    }
    let out = cmd.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "the Python readers failed (install tests/requirements.txt):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

fn check_python(uri: &str, options: Option<&Value>, latest: &IngestOutcome) {
    let canonical: Vec<String> = organisation_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let at_1 = python_read(uri, Some(1), options);
    assert_eq!(at_1["version"], 1);
    assert_eq!(
        at_1["protocol"],
        serde_json::json!([1, 2]),
        "readable by every engine"
    );
    for reader in ["deltalake", "polars"] {
        check_expected(&format!("{reader} at version 1"), &at_1[reader]);
        assert_eq!(
            at_1[reader]["columns"],
            serde_json::json!(canonical),
            "{reader}"
        );
    }
    let latest_read = python_read(uri, None, options);
    assert_eq!(latest_read["version"], 2);
    for reader in ["deltalake", "polars"] {
        check_latest(
            &format!("{reader} at the latest version"),
            &latest_read[reader],
            latest,
        );
    }
}

#[tokio::test]
async fn python_readers_open_the_table_of_a_local_store_at_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let (_, latest) = two_snapshots(&store).await;
    let uri = dir.path().join("organisations").display().to_string();
    tokio::task::spawn_blocking(move || check_python(&uri, None, &latest))
        .await
        .unwrap();
}

#[tokio::test]
async fn python_readers_open_the_table_on_s3() {
    let moto = ess_tests::moto::Moto::start();
    moto.create_bucket("research");
    let store = moto.store("research");
    let (_, latest) = two_snapshots(&store).await;
    let options: serde_json::Map<String, Value> = moto
        .aws_settings()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let options = Value::Object(options);
    tokio::task::spawn_blocking(move || {
        check_python("s3://research/organisations", Some(&options), &latest)
    })
    .await
    .unwrap();
}

/// DataFusion's Delta table provider, opened on the store at `version`: what it finds,
/// as the Python script summarises it.
async fn datafusion_read(store: &Arc<dyn ObjectStore>, version: Option<u64>) -> Value {
    let url = url::Url::parse("memory:///organisations").unwrap();
    let mut builder = DeltaTableBuilder::from_url(url.clone())
        .unwrap()
        .with_storage_backend(store.clone(), url);
    if let Some(v) = version {
        builder = builder.with_version(v);
    }
    let table = builder.load().await.unwrap();
    let ctx = SessionContext::new();
    ctx.register_table("organisations", table.table_provider().await.unwrap())
        .unwrap();
    let df = ctx.table("organisations").await.unwrap();
    let total = df.clone().count().await.unwrap();
    let mut summary = serde_json::json!({ "total": total });
    for (name, keys) in [
        ("family", vec!["family"]),
        ("region_family", vec!["region_code", "family"]),
    ] {
        use datafusion::functions_aggregate::expr_fn::{count, sum};
        let batches = df
            .clone()
            .aggregate(
                keys.iter().map(|k| col(*k)).collect(),
                vec![
                    count(datafusion::prelude::lit(1)).alias("organisations"),
                    sum(col("members_total")).alias("members"),
                    sum(col("employees_total")).alias("employees"),
                ],
            )
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut groups = serde_json::Map::new();
        for b in &batches {
            use arrow::array::{Array, AsArray};
            use arrow::datatypes::Int64Type;
            let text = |name: &str, row: usize| -> String {
                let a = b.column_by_name(name).unwrap();
                let a = arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).unwrap();
                let a = a.as_string::<i32>();
                if a.is_null(row) {
                    "None".into()
                } else {
                    a.value(row).to_owned()
                }
            };
            let number = |name: &str, row: usize| -> i64 {
                let a = b.column_by_name(name).unwrap();
                let a = arrow::compute::cast(a, &arrow::datatypes::DataType::Int64).unwrap();
                let a = a.as_primitive::<Int64Type>();
                if a.is_null(row) { 0 } else { a.value(row) }
            };
            for row in 0..b.num_rows() {
                let key = keys
                    .iter()
                    .map(|k| text(k, row))
                    .collect::<Vec<_>>()
                    .join("|");
                groups.insert(
                    key,
                    serde_json::json!({
                        "organisations": number("organisations", row),
                        "members": number("members", row),
                        "employees": number("employees", row),
                    }),
                );
            }
        }
        summary[name] = Value::Object(groups);
    }
    summary
}

#[tokio::test]
async fn datafusions_delta_provider_reads_every_version() {
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let (_, latest) = two_snapshots(&store).await;
    check_expected(
        "DataFusion at version 1",
        &datafusion_read(&store, Some(1)).await,
    );
    check_latest(
        "DataFusion at the latest version",
        &datafusion_read(&store, None).await,
        &latest,
    );
}

#[tokio::test]
async fn each_file_holds_one_family_and_its_statistics_say_so() {
    use object_store::ObjectStoreExt;
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let (all, _) = two_snapshots(&store).await;
    let log = store
        .get(&object_store::path::Path::from(
            "organisations/_delta_log/00000000000000000001.json",
        ))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut families = std::collections::BTreeMap::new();
    for line in log.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let action: Value = serde_json::from_slice(line).unwrap();
        let Some(add) = action.get("add") else {
            continue;
        };
        let stats: Value = serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
        let (lo, hi) = (&stats["minValues"]["family"], &stats["maxValues"]["family"]);
        assert_eq!(lo, hi, "one family per file: {stats}");
        assert!(
            stats["minValues"]["org_id"].as_str().unwrap()
                <= stats["maxValues"]["org_id"].as_str().unwrap()
        );
        assert_eq!(stats["nullCount"]["org_id"], 0);
        *families.entry(lo.as_str().unwrap().to_owned()).or_insert(0) +=
            stats["numRecords"].as_u64().unwrap();
    }
    assert_eq!(
        families, all.manifest.rows_by_family,
        "the statistics count every row"
    );
}
