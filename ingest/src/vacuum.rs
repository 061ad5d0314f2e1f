//! Reclaiming the leftovers of interrupted ingests.
//!
//! An ingest writes its data under `snapshots/<run-id>/` and commits it by creating a
//! manifest last. A run killed before its manifest leaves a folder that no manifest
//! references: invisible to readers, but taking space. `vacuum` finds those folders,
//! keeps any younger than the retention age (it may be an ingest still running), and
//! deletes the rest — or, by default, only reports them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ess_schemas::layout::{MANIFEST_DIR, Manifest, SNAPSHOT_DIR, manifest_sequence};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;

use crate::error::{IngestError, Result};
use crate::retry::RetryPolicy;

/// A run folder no manifest references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    /// The run id (folder name under `snapshots/`).
    pub run_id: String,
    /// Objects in it.
    pub objects: u64,
    /// Their size.
    pub bytes: u64,
    /// When its newest object was written.
    pub newest: DateTime<Utc>,
    /// Whether it is old enough to delete.
    pub expired: bool,
}

/// What a vacuum found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VacuumReport {
    /// Snapshots committed (their runs are kept).
    pub snapshots: u64,
    /// Unreferenced run folders, expired or not.
    pub leftovers: Vec<Leftover>,
    /// Objects deleted (0 on a dry run).
    pub deleted_objects: u64,
    /// Bytes deleted (0 on a dry run).
    pub deleted_bytes: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// Finds leftovers older than `retention` and, unless `dry_run`, deletes them.
pub async fn vacuum(
    store: Arc<dyn ObjectStore>,
    retention: Duration,
    dry_run: bool,
) -> Result<VacuumReport> {
    let retry = RetryPolicy::default();
    let store_err = |operation: &'static str, path: &str| {
        let path = path.to_owned();
        move |source| IngestError::Store {
            operation,
            path,
            source,
        }
    };

    // Runs that manifests reference. An unreadable manifest stops the vacuum: better
    // to keep a leftover than to delete a snapshot's data.
    let manifests = Path::from(MANIFEST_DIR);
    let metas: Vec<_> = retry
        .run("list manifests", || {
            store.list(Some(&manifests)).try_collect::<Vec<_>>()
        })
        .await
        .map_err(store_err("list", MANIFEST_DIR))?;
    let mut referenced = HashSet::new();
    let mut snapshots = 0;
    for meta in metas {
        if manifest_sequence(meta.location.as_ref()).is_none() {
            continue;
        }
        let bytes = retry
            .run("read manifest", || async {
                store.get(&meta.location).await?.bytes().await
            })
            .await
            .map_err(store_err("get", meta.location.as_ref()))?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| IngestError::Encode {
                what: format!(
                    "manifest {} (vacuum stops rather than guess)",
                    meta.location
                ),
                message: e.to_string(),
            })?;
        referenced.insert(manifest.run_id);
        snapshots += 1;
    }

    let data = Path::from(SNAPSHOT_DIR);
    let objects: Vec<_> = retry
        .run("list snapshots", || {
            store.list(Some(&data)).try_collect::<Vec<_>>()
        })
        .await
        .map_err(store_err("list", SNAPSHOT_DIR))?;
    let mut runs: BTreeMap<String, Vec<object_store::ObjectMeta>> = BTreeMap::new();
    for meta in objects {
        let run = meta.location.parts().nth(1).map(|p| p.as_ref().to_owned());
        if let Some(run) = run
            && !referenced.contains(&run)
        {
            runs.entry(run).or_default().push(meta);
        }
    }

    let cutoff =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut report = VacuumReport {
        snapshots,
        dry_run,
        ..VacuumReport::default()
    };
    for (run_id, metas) in runs {
        let newest = metas
            .iter()
            .map(|m| m.last_modified)
            .max()
            .unwrap_or_default();
        let bytes: u64 = metas.iter().map(|m| m.size).sum();
        let expired = newest < cutoff;
        if expired && !dry_run {
            let paths: Vec<Path> = metas.iter().map(|m| m.location.clone()).collect();
            let locations = futures::stream::iter(paths.into_iter().map(Ok)).boxed();
            let deleted: Vec<Path> = store
                .delete_stream(locations)
                .try_collect()
                .await
                .map_err(store_err("delete", &run_id))?;
            report.deleted_objects += deleted.len() as u64;
            report.deleted_bytes += bytes;
            tracing::info!(run_id, objects = deleted.len(), bytes, "leftover deleted");
        }
        report.leftovers.push(Leftover {
            run_id,
            objects: metas.len() as u64,
            bytes,
            newest,
            expired,
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::IngestJob;
    use crate::samples::sample_sources;
    use object_store::PutPayload;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn only_unreferenced_expired_runs_are_deleted() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let outcome = IngestJob::builder()
            .store(store.clone())
            .sources(sample_sources().into_iter().take(1))
            .build()
            .unwrap()
            .run()
            .await
            .unwrap();
        // What a killed ingest leaves: data with no manifest.
        for p in [
            "snapshots/dead-run/organisations/part-00000.parquet",
            "snapshots/dead-run/quarantine.parquet",
        ] {
            store
                .put(&Path::from(p), PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }

        let young = vacuum(store.clone(), Duration::from_secs(3600), false)
            .await
            .unwrap();
        assert_eq!(young.leftovers.len(), 1);
        assert!(
            !young.leftovers[0].expired,
            "a recent folder may be an ingest in progress"
        );
        assert_eq!(young.deleted_objects, 0);

        let dry = vacuum(store.clone(), Duration::ZERO, true).await.unwrap();
        assert_eq!(
            (dry.snapshots, dry.leftovers[0].objects, dry.deleted_objects),
            (1, 2, 0)
        );

        let done = vacuum(store.clone(), Duration::ZERO, false).await.unwrap();
        assert_eq!(done.deleted_objects, 2);
        let left: Vec<_> = store.list(None).try_collect().await.unwrap();
        assert!(
            left.iter()
                .all(|m| !m.location.as_ref().contains("dead-run"))
        );
        let run = format!("snapshots/{}/", outcome.manifest.run_id);
        assert!(
            left.iter().any(|m| m.location.as_ref().starts_with(&run)),
            "committed data stays"
        );
        assert!(
            vacuum(store, Duration::ZERO, false)
                .await
                .unwrap()
                .leftovers
                .is_empty()
        );
    }
}
