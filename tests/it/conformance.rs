//! One conformance suite, run against every storage backend: local directory, memory,
//! and a real S3 server (moto). Publish, read, list, concurrent publish, crash
//! recovery, and faults (transient, lost acknowledgement, permanent).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ess_ingest::samples::sample_sources;
use ess_ingest::{IngestError, IngestJob, IngestOutcome, RetryPolicy, SourceFile, vacuum};
use ess_query::{AggregateRequest, Catalog, SnapshotEngine};
use ess_tests::faulty::{Faults, FaultyStore};
use ess_tests::moto::Moto;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;

/// A fresh, empty store, and its directory when it is a local one.
type Fresh<'a> = Box<dyn Fn() -> (Arc<dyn ObjectStore>, Option<PathBuf>) + 'a>;

/// The two mutual files: small, so cases stay fast on every backend.
fn small_sources() -> Vec<SourceFile> {
    sample_sources().into_iter().skip(4).collect()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 8,
        base: Duration::from_millis(5),
        max: Duration::from_millis(50),
    }
}

async fn ingest(
    store: &Arc<dyn ObjectStore>,
    sources: Vec<SourceFile>,
) -> Result<IngestOutcome, IngestError> {
    IngestJob::builder()
        .store(store.clone())
        .sources(sources)
        .retry(fast_retry())
        .build()?
        .run()
        .await
}

async fn organisations_served(store: &Arc<dyn ObjectStore>) -> (String, i64) {
    let manifest = Catalog::new(store.clone(), "test").latest().await.unwrap();
    let id = manifest.snapshot_id.clone();
    let engine = SnapshotEngine::open(store.clone(), manifest).await.unwrap();
    let total = engine
        .aggregate(&AggregateRequest::default())
        .await
        .unwrap()
        .total()
        .unwrap();
    (id, total.organisations)
}

async fn publish_and_read(store: Arc<dyn ObjectStore>) {
    let out = ingest(&store, sample_sources()).await.unwrap();
    assert_eq!(out.manifest.snapshot_id, "000001");
    assert_eq!(
        organisations_served(&store).await,
        ("000001".into(), crate::expected::total() as i64)
    );
    for p in &out.manifest.organisations_parquet {
        let head = store.head(&Path::from(p.as_str())).await.unwrap();
        assert!(head.size > 0);
    }
}

async fn list_snapshots(store: Arc<dyn ObjectStore>) {
    for _ in 0..3 {
        ingest(&store, small_sources()).await.unwrap();
    }
    let all = Catalog::new(store.clone(), "test").list().await.unwrap();
    let ids: Vec<_> = all.iter().map(|m| m.snapshot_id.as_str()).collect();
    assert_eq!(ids, ["000001", "000002", "000003"]);
    let runs: std::collections::HashSet<_> = all.iter().map(|m| m.run_id.clone()).collect();
    assert_eq!(runs.len(), 3, "each snapshot has its own data");
    assert!(all.iter().all(|m| m.rows == 39 && m.sources.len() == 2));
}

async fn concurrent_publish(store: Arc<dyn ObjectStore>) {
    // Four ingests race for the next sequence number: all commit, on distinct numbers,
    // each manifest pointing at its own complete data.
    let jobs: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            let sources = if i % 2 == 0 {
                small_sources()
            } else {
                sample_sources()
            };
            tokio::spawn(async move { ingest(&store, sources).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for j in jobs {
        outcomes.push(j.await.unwrap().unwrap());
    }
    let mut seqs: Vec<u64> = outcomes.iter().map(|o| o.manifest.sequence).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let catalog = Catalog::new(store.clone(), "test");
    for o in &outcomes {
        let m = catalog.manifest(o.manifest.sequence).await.unwrap();
        assert_eq!(m.run_id, o.manifest.run_id, "no manifest was overwritten");
        assert_eq!(m.rows, o.report.organisations);
        let engine = SnapshotEngine::open(store.clone(), m.clone())
            .await
            .unwrap();
        let total = engine
            .aggregate(&AggregateRequest::default())
            .await
            .unwrap()
            .total()
            .unwrap();
        assert_eq!(
            total.organisations as u64, m.rows,
            "data not mixed between runs"
        );
    }
}

async fn crash_recovery(store: Arc<dyn ObjectStore>, local: Option<PathBuf>) {
    ingest(&store, sample_sources()).await.unwrap();
    // An ingest that dies at its commit: its data is written, its log entry never.
    let dying: Arc<dyn ObjectStore> = Arc::new(FaultyStore::new(
        store.clone(),
        Faults {
            deny_writes_containing: Some("_delta_log/".into()),
            ..Faults::default()
        },
        7,
    ));
    let err = ingest(&dying, small_sources()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("_delta_log/00000000000000000002.json")
            && err.to_string().contains("permission denied"),
        "{err}"
    );
    // Readers still see the previous snapshot, whole.
    assert_eq!(
        organisations_served(&store).await,
        ("000001".into(), crate::expected::total() as i64)
    );
    let dry = vacuum(store.clone(), Duration::ZERO, true, local.as_deref())
        .await
        .unwrap();
    assert_eq!(dry.leftovers.len(), 1, "{dry:?}");
    assert_eq!(dry.deleted_objects, 0);
    let done = vacuum(store.clone(), Duration::ZERO, false, local.as_deref())
        .await
        .unwrap();
    assert!(done.deleted_objects >= 3, "{done:?}");
    assert!(
        vacuum(store.clone(), Duration::ZERO, true, local.as_deref())
            .await
            .unwrap()
            .leftovers
            .is_empty()
    );
    assert_eq!(
        organisations_served(&store).await,
        ("000001".into(), crate::expected::total() as i64)
    );
    // The vacuum took two versions of its own (Delta's VACUUM START and END), which
    // are not snapshots; the next ingest commits the version after them.
    let next = ingest(&store, small_sources()).await.unwrap().manifest;
    assert_eq!(next.sequence, 4);
    let listed: Vec<u64> = Catalog::new(store.clone(), "test")
        .list()
        .await
        .unwrap()
        .iter()
        .map(|m| m.sequence)
        .collect();
    assert_eq!(listed, [1, 4]);
}

async fn transient_faults_are_retried(store: Arc<dyn ObjectStore>) {
    let faulty = Arc::new(FaultyStore::new(
        store.clone(),
        Faults {
            transient_rate: 0.3,
            latency: Duration::from_millis(1),
            ..Faults::default()
        },
        42,
    ));
    let injected = faulty.injected.clone();
    let dyn_faulty: Arc<dyn ObjectStore> = faulty;
    let out = ingest(&dyn_faulty, sample_sources()).await.unwrap();
    assert!(
        injected.transient.load(Ordering::SeqCst) > 0,
        "faults were injected"
    );
    assert_eq!(out.manifest.sequence, 1);
    assert_eq!(
        organisations_served(&store).await,
        ("000001".into(), crate::expected::total() as i64)
    );
}

async fn lost_ack_on_commit_is_success(store: Arc<dyn ObjectStore>) {
    ingest(&store, small_sources()).await.unwrap();
    // The second snapshot's commit is written, and its writer told it failed.
    let faulty = Arc::new(FaultyStore::new(
        store.clone(),
        Faults {
            lose_ack_once_containing: Some("_delta_log/00000000000000000002.json".into()),
            ..Faults::default()
        },
        3,
    ));
    let injected = faulty.injected.clone();
    let dyn_faulty: Arc<dyn ObjectStore> = faulty;
    let out = ingest(&dyn_faulty, small_sources()).await.unwrap();
    assert_eq!(injected.lost_acks.load(Ordering::SeqCst), 1);
    assert_eq!(
        out.manifest.sequence, 2,
        "the retried create's 'already exists' was its own success"
    );
    let log: Vec<_> = store
        .list(Some(&Path::from("organisations/_delta_log")))
        .try_collect()
        .await
        .unwrap();
    let commits = log
        .iter()
        .filter(|m| m.location.as_ref().ends_with(".json"))
        .count();
    assert_eq!(
        commits, 3,
        "the table, two snapshots, and no second commit of the run"
    );
    let ids: Vec<_> = Catalog::new(store.clone(), "test")
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.run_id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1], out.manifest.run_id);
}

async fn permanent_faults_fail_cleanly(store: Arc<dyn ObjectStore>) {
    ingest(&store, small_sources()).await.unwrap();
    let denied: Arc<dyn ObjectStore> = Arc::new(FaultyStore::new(
        store.clone(),
        Faults {
            deny_writes_containing: Some("part-00000.parquet".into()),
            ..Faults::default()
        },
        5,
    ));
    let err = ingest(&denied, sample_sources()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("upload")
            && msg.contains("part-00000.parquet")
            && msg.contains("permission denied"),
        "{msg}"
    );
    assert_eq!(
        organisations_served(&store).await,
        ("000001".into(), 39),
        "nothing half-written is visible"
    );
}

async fn eight_racing_ingests_take_eight_consecutive_versions(store: Arc<dyn ObjectStore>) {
    let jobs: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { ingest(&store, small_sources()).await })
        })
        .collect();
    let mut runs = std::collections::HashMap::new();
    for j in jobs {
        let o = j.await.unwrap().unwrap();
        runs.insert(o.manifest.sequence, o.manifest.run_id);
    }
    let mut seqs: Vec<u64> = runs.keys().copied().collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    // Each version is its own run's, whole.
    let catalog = Catalog::new(store.clone(), "test");
    for (seq, run) in &runs {
        let m = catalog.manifest(*seq).await.unwrap();
        assert_eq!(&m.run_id, run);
        assert_eq!(m.rows, 39);
        // Its download files were written for the version it took (rewritten when
        // another ingest took the one they were first written for).
        assert_eq!(m.downloads.len(), 6);
        for d in m.downloads.iter().filter(|d| d.name.ends_with(".parquet")) {
            let bytes = store
                .get(&object_store::path::Path::from(d.path.as_str()))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(bytes.len() as u64, d.bytes, "{}", d.name);
            let sha: String = <sha2::Sha256 as sha2::Digest>::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(sha, d.sha256, "{}", d.name);
            if d.name.starts_with("organisations") {
                use parquet::file::reader::FileReader;
                let reader = parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
                let provenance = reader
                    .metadata()
                    .file_metadata()
                    .key_value_metadata()
                    .unwrap()
                    .iter()
                    .find(|kv| kv.key == "ess.provenance")
                    .and_then(|kv| kv.value.clone())
                    .unwrap();
                let provenance: serde_json::Value = serde_json::from_str(&provenance).unwrap();
                assert_eq!(
                    provenance["snapshot_id"],
                    m.snapshot_id.as_str(),
                    "{}",
                    d.name
                );
                assert_eq!(provenance["created_at"], m.created_at.as_str());
            }
        }
    }
}

async fn suite(fresh: Fresh<'_>) {
    publish_and_read(fresh().0).await;
    list_snapshots(fresh().0).await;
    concurrent_publish(fresh().0).await;
    let (store, local) = fresh();
    crash_recovery(store, local).await;
    transient_faults_are_retried(fresh().0).await;
    lost_ack_on_commit_is_success(fresh().0).await;
    permanent_faults_fail_cleanly(fresh().0).await;
    eight_racing_ingests_take_eight_consecutive_versions(fresh().0).await;
}

#[tokio::test]
async fn conformance_memory() {
    suite(Box::new(|| {
        (Arc::new(InMemory::new()) as Arc<dyn ObjectStore>, None)
    }))
    .await;
}

#[tokio::test]
async fn conformance_local_directory() {
    let root = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU32::new(0);
    suite(Box::new(|| {
        let dir = root
            .path()
            .join(counter.fetch_add(1, Ordering::SeqCst).to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
        (store, Some(dir))
    }))
    .await;
}

#[tokio::test]
async fn conformance_s3() {
    let moto = Moto::start();
    let counter = std::sync::atomic::AtomicU32::new(0);
    suite(Box::new(|| {
        let bucket = format!("ess-{}", counter.fetch_add(1, Ordering::SeqCst));
        moto.create_bucket(&bucket);
        (moto.store(&bucket), None)
    }))
    .await;
}

#[tokio::test]
async fn conformance_s3_under_a_prefix() {
    let moto = Moto::start();
    let counter = std::sync::atomic::AtomicU32::new(0);
    suite(Box::new(|| {
        let bucket = format!("ess-p{}", counter.fetch_add(1, Ordering::SeqCst));
        moto.create_bucket(&bucket);
        let store: Arc<dyn ObjectStore> = Arc::new(ess_api::prefix::PrefixedStore::new(
            moto.store(&bucket),
            "open-data/v1",
        ));
        (store, None)
    }))
    .await;
}
