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
use crate::retry::{RetryPolicy, list_all};

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

/// The files of one unreferenced run.
#[derive(Debug, Default)]
struct RunFiles {
    objects: Vec<Path>,
    bytes: u64,
    newest: DateTime<Utc>,
    local_dir: Option<std::path::PathBuf>,
    local_files: usize,
}

/// Adds the unreferenced run folders of a local store, with every file in them (staging
/// files included).
fn sweep_local(
    snapshots: &std::path::Path,
    referenced: &HashSet<String>,
    runs: &mut BTreeMap<String, RunFiles>,
) -> Result<()> {
    let io = |path: &std::path::Path| {
        let file = path.display().to_string();
        move |source| IngestError::Io { file, source }
    };
    let Ok(entries) = std::fs::read_dir(snapshots) else {
        return Ok(()); // no snapshots folder yet
    };
    for entry in entries {
        let entry = entry.map_err(io(snapshots))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if referenced.contains(&name) || !entry.path().is_dir() {
            continue;
        }
        let run = runs.entry(name).or_default();
        let mut stack = vec![entry.path()];
        let (mut files, mut bytes, mut newest) = (0usize, 0u64, run.newest);
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let e = e.map_err(io(&dir))?;
                let meta = e.metadata().map_err(io(&e.path()))?;
                if meta.is_dir() {
                    stack.push(e.path());
                    continue;
                }
                files += 1;
                bytes += meta.len();
                if let Ok(modified) = meta.modified() {
                    newest = newest.max(DateTime::<Utc>::from(modified));
                }
            }
        }
        // An empty folder counts as old; its own time says nothing of a live ingest.
        run.newest = newest;
        run.bytes = run.bytes.max(bytes);
        run.local_files = files;
        run.local_dir = Some(entry.path());
    }
    Ok(())
}

/// Finds leftovers older than `retention` and, unless `dry_run`, deletes them.
///
/// `local_root` is the store's directory when it is a local one: a write killed midway
/// leaves staging files (`name#N`) that object-store listings do not show, so run
/// folders there are also found and removed from the file system.
pub async fn vacuum(
    store: Arc<dyn ObjectStore>,
    retention: Duration,
    dry_run: bool,
    local_root: Option<&std::path::Path>,
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
    let metas = list_all(store.as_ref(), MANIFEST_DIR, &retry).await?;
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

    let objects = list_all(store.as_ref(), SNAPSHOT_DIR, &retry).await?;
    let mut runs: BTreeMap<String, RunFiles> = BTreeMap::new();
    for meta in objects {
        let run = meta.location.parts().nth(1).map(|p| p.as_ref().to_owned());
        if let Some(run) = run
            && !referenced.contains(&run)
        {
            let r = runs.entry(run).or_default();
            r.bytes += meta.size;
            r.newest = r.newest.max(meta.last_modified);
            r.objects.push(meta.location);
        }
    }
    if let Some(root) = local_root {
        sweep_local(&root.join(SNAPSHOT_DIR), &referenced, &mut runs)?;
    }

    let cutoff =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut report = VacuumReport {
        snapshots,
        dry_run,
        ..VacuumReport::default()
    };
    for (run_id, run) in runs {
        let expired = run.newest < cutoff;
        let count = run.objects.len().max(run.local_files) as u64;
        if expired && !dry_run {
            if !run.objects.is_empty() {
                let locations =
                    futures::stream::iter(run.objects.clone().into_iter().map(Ok)).boxed();
                store
                    .delete_stream(locations)
                    .try_collect::<Vec<Path>>()
                    .await
                    .map_err(store_err("delete", &run_id))?;
            }
            if let Some(dir) = &run.local_dir
                && dir.exists()
            {
                std::fs::remove_dir_all(dir).map_err(|source| IngestError::Io {
                    file: dir.display().to_string(),
                    source,
                })?;
            }
            report.deleted_objects += count;
            report.deleted_bytes += run.bytes;
            tracing::info!(
                run_id,
                objects = count,
                bytes = run.bytes,
                "leftover deleted"
            );
        }
        report.leftovers.push(Leftover {
            run_id,
            objects: count,
            bytes: run.bytes,
            newest: run.newest,
            expired,
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn only_unreferenced_expired_runs_are_deleted() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let outcome = crate::samples::publish_first_sample(&store).await;
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

        let young = vacuum(store.clone(), Duration::from_secs(3600), false, None)
            .await
            .unwrap();
        assert_eq!(young.leftovers.len(), 1);
        assert!(
            !young.leftovers[0].expired,
            "a recent folder may be an ingest in progress"
        );
        assert_eq!(young.deleted_objects, 0);

        let dry = vacuum(store.clone(), Duration::ZERO, true, None)
            .await
            .unwrap();
        assert_eq!(
            (dry.snapshots, dry.leftovers[0].objects, dry.deleted_objects),
            (1, 2, 0)
        );

        let done = vacuum(store.clone(), Duration::ZERO, false, None)
            .await
            .unwrap();
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
            vacuum(store, Duration::ZERO, false, None)
                .await
                .unwrap()
                .leftovers
                .is_empty()
        );
    }

    #[tokio::test]
    async fn local_staging_files_invisible_to_listings_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        crate::samples::publish_first_sample(&store).await;
        // A Parquet upload killed midway: only the store's staging file exists.
        let dead = dir.path().join("snapshots/killed-run/organisations");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join("part-00000.parquet#1"), b"partial").unwrap();
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        assert!(
            listed
                .iter()
                .all(|m| !m.location.as_ref().contains("killed-run"))
        );

        let dry = vacuum(store.clone(), Duration::ZERO, true, Some(dir.path()))
            .await
            .unwrap();
        assert_eq!(dry.leftovers.len(), 1);
        assert_eq!(
            (dry.leftovers[0].run_id.as_str(), dry.leftovers[0].objects),
            ("killed-run", 1)
        );
        assert!(
            dir.path().join("snapshots/killed-run").exists(),
            "a dry run deletes nothing"
        );
        let done = vacuum(store.clone(), Duration::ZERO, false, Some(dir.path()))
            .await
            .unwrap();
        assert_eq!(done.deleted_objects, 1);
        assert!(!dir.path().join("snapshots/killed-run").exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join("snapshots"))
                .unwrap()
                .count(),
            1
        );
    }
}
