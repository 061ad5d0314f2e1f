//! Reclaiming space: the files of snapshots superseded longer ago than the retention,
//! and the leftovers of interrupted ingests.
//!
//! `vacuum` is Delta Lake's vacuum of the organisations' table (full mode: the data
//! files of versions superseded longer ago than the retention, and files in the
//! table's folder that no version names and that are older than it) plus the files
//! each snapshot keeps beside the table (`snapshots/<run-id>/`): those of the
//! snapshots whose data the vacuum deletes, and those of runs no commit names, older
//! than the retention (a younger one may be an ingest still running). A retained
//! snapshot keeps every file it needs. The snapshots a vacuum expires are recorded in
//! its commit (the catalog stops listing them); a vacuum with nothing to delete
//! commits nothing. Without `--apply`, it only reports.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ess_schemas::layout::{SNAPSHOT_DIR, TABLE_DIR, snapshot_id};
use ess_table::retry::list_all;
use ess_table::{RetryPolicy, SnapshotTable, TableVacuum};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path;
use serde::Serialize;

use crate::error::{IngestError, Result};

/// A run no commit names: an interrupted ingest's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    /// The run id (folder name under `snapshots/` and `organisations/`).
    pub run_id: String,
    /// Objects of it.
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
    /// Snapshots still readable after it.
    pub snapshots: u64,
    /// Snapshots whose files it deletes (would delete, on a dry run): superseded
    /// longer ago than the retention.
    pub expired: Vec<String>,
    /// Runs no commit names, expired or not.
    pub leftovers: Vec<Leftover>,
    /// Data files of the table it deletes (would delete).
    pub table_files: u64,
    /// Objects deleted (0 on a dry run).
    pub deleted_objects: u64,
    /// Bytes deleted beside the table (0 on a dry run).
    pub deleted_bytes: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// The files of one run beside or in the table, found by listing.
#[derive(Debug, Default)]
struct RunFiles {
    objects: Vec<Path>,
    bytes: u64,
    newest: DateTime<Utc>,
    local_dirs: Vec<std::path::PathBuf>,
    local_files: usize,
}

/// Adds the run folders of a local store's `dir` that are not `kept`, with every file
/// in them (staging files that listings skip included).
fn sweep_local(
    dir: &std::path::Path,
    kept: &HashSet<String>,
    runs: &mut BTreeMap<String, RunFiles>,
) -> Result<()> {
    let io = |path: &std::path::Path| {
        let file = path.display().to_string();
        move |source| IngestError::Io { file, source }
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(()); // no such folder yet
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // `_delta_log` and anything else that is not a run's folder.
        if kept.contains(&name) || name.starts_with('_') || !entry.path().is_dir() {
            continue;
        }
        let run = runs.entry(name).or_default();
        let mut stack = vec![entry.path()];
        let mut newest = run.newest;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(io(&d))? {
                let e = e.map_err(io(&d))?;
                let meta = e.metadata().map_err(io(&e.path()))?;
                if meta.is_dir() {
                    stack.push(e.path());
                    continue;
                }
                run.local_files += 1;
                if let Ok(modified) = meta.modified() {
                    newest = newest.max(DateTime::<Utc>::from(modified));
                }
            }
        }
        // An empty folder counts as old; its own time says nothing of a live ingest.
        run.newest = newest;
        run.local_dirs.push(entry.path());
    }
    Ok(())
}

/// Vacuums with `retention`; deletes nothing when `dry_run`.
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
    let table = SnapshotTable::new(store.clone(), "the store");
    let now = Utc::now();
    let cutoff = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let TableVacuum {
        snapshots,
        expired,
        newly_expired,
        files,
    } = table
        .vacuum(retention, now.timestamp_millis(), dry_run)
        .await?;
    let mut report = VacuumReport {
        dry_run,
        expired: newly_expired.iter().map(|v| snapshot_id(*v)).collect(),
        snapshots: snapshots.values().filter(|v| !expired.contains(v)).count() as u64,
        table_files: files,
        deleted_objects: if dry_run { 0 } else { files },
        ..VacuumReport::default()
    };

    // Beside the table: the folders of expired snapshots, and of runs no commit names.
    let kept: HashSet<String> = snapshots
        .iter()
        .filter(|(_, v)| !expired.contains(v))
        .map(|(run, _)| run.clone())
        .collect();
    let objects = list_all(store.as_ref(), SNAPSHOT_DIR, &retry)
        .await
        .map_err(|source| IngestError::Store {
            operation: "list",
            path: SNAPSHOT_DIR.to_owned(),
            source,
        })?;
    let mut runs: BTreeMap<String, RunFiles> = BTreeMap::new();
    for meta in objects {
        let run = meta.location.parts().nth(1).map(|p| p.as_ref().to_owned());
        if let Some(run) = run
            && !kept.contains(&run)
        {
            let r = runs.entry(run).or_default();
            r.bytes += meta.size;
            r.newest = r.newest.max(meta.last_modified);
            r.objects.push(meta.location);
        }
    }
    if let Some(root) = local_root {
        sweep_local(&root.join(SNAPSHOT_DIR), &kept, &mut runs)?;
        sweep_local(&root.join(TABLE_DIR), &kept, &mut runs)?;
    }

    for (run_id, run) in runs {
        let of_expired_snapshot = snapshots.get(&run_id).is_some_and(|v| expired.contains(v));
        let old = run.newest < cutoff;
        let count = run.objects.len().max(run.local_files) as u64;
        if (of_expired_snapshot || old) && !dry_run {
            if !run.objects.is_empty() {
                let locations =
                    futures::stream::iter(run.objects.clone().into_iter().map(Ok)).boxed();
                store
                    .delete_stream(locations)
                    .try_collect::<Vec<Path>>()
                    .await
                    .map_err(|source| IngestError::Store {
                        operation: "delete",
                        path: format!("{SNAPSHOT_DIR}/{run_id}"),
                        source,
                    })?;
            }
            for dir in run.local_dirs.iter().filter(|d| d.exists()) {
                std::fs::remove_dir_all(dir).map_err(|source| IngestError::Io {
                    file: dir.display().to_string(),
                    source,
                })?;
            }
            report.deleted_objects += count;
            report.deleted_bytes += run.bytes;
            tracing::info!(run_id, objects = count, bytes = run.bytes, "deleted");
        }
        if !snapshots.contains_key(&run_id) {
            report.leftovers.push(Leftover {
                run_id,
                objects: count,
                bytes: run.bytes,
                newest: run.newest,
                expired: old,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    async fn names(store: &Arc<dyn ObjectStore>) -> Vec<String> {
        let all: Vec<_> = store.list(None).try_collect().await.unwrap();
        all.into_iter().map(|m| m.location.to_string()).collect()
    }

    #[tokio::test]
    async fn only_unreferenced_expired_runs_are_deleted() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let outcome = crate::samples::publish_first_sample(&store).await;
        // What a killed ingest leaves: data no commit names.
        for p in [
            "organisations/dead-run/part-00000.parquet",
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
        assert_eq!((young.deleted_objects, young.table_files), (0, 0));

        let dry = vacuum(store.clone(), Duration::ZERO, true, None)
            .await
            .unwrap();
        assert_eq!(
            (
                dry.snapshots,
                dry.leftovers[0].objects,
                dry.table_files,
                dry.deleted_objects
            ),
            (1, 1, 1, 0)
        );
        assert!(dry.expired.is_empty(), "the latest snapshot never expires");

        let done = vacuum(store.clone(), Duration::ZERO, false, None)
            .await
            .unwrap();
        assert_eq!(done.deleted_objects, 2);
        let left = names(&store).await;
        assert!(left.iter().all(|n| !n.contains("dead-run")), "{left:?}");
        for kept in [
            format!("snapshots/{}/", outcome.manifest.run_id),
            format!("organisations/{}/", outcome.manifest.run_id),
        ] {
            assert!(
                left.iter().any(|n| n.starts_with(&kept)),
                "{kept}: {left:?}"
            );
        }
        let again = vacuum(store, Duration::ZERO, false, None).await.unwrap();
        assert!(again.leftovers.is_empty() && again.deleted_objects == 0);
    }

    #[tokio::test]
    async fn snapshots_superseded_past_the_retention_expire_whole_and_no_sooner() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let first = crate::samples::publish_first_sample(&store).await;
        let second = crate::samples::publish_first_sample(&store).await;
        // Superseded moments ago: kept under a day's retention.
        let kept = vacuum(store.clone(), Duration::from_secs(86_400), false, None)
            .await
            .unwrap();
        assert!(kept.expired.is_empty());
        assert_eq!((kept.snapshots, kept.deleted_objects), (2, 0));

        let dry = vacuum(store.clone(), Duration::ZERO, true, None)
            .await
            .unwrap();
        assert_eq!(dry.expired, ["000001"]);
        assert!(
            names(&store)
                .await
                .iter()
                .any(|n| n.contains(&first.manifest.run_id)),
            "a dry run deletes nothing"
        );
        let done = vacuum(store.clone(), Duration::ZERO, false, None)
            .await
            .unwrap();
        assert_eq!(done.expired, ["000001"]);
        assert_eq!(done.snapshots, 1);
        let left = names(&store).await;
        assert!(
            left.iter().all(|n| !n.contains(&first.manifest.run_id)),
            "every file of the expired snapshot goes: {left:?}"
        );
        assert!(left.iter().any(|n| n.contains(&second.manifest.run_id)));
        // Recorded once: a second vacuum expires nothing more.
        let again = vacuum(store, Duration::ZERO, false, None).await.unwrap();
        assert!(again.expired.is_empty());
        assert_eq!(again.snapshots, 1);
    }

    #[tokio::test]
    async fn local_staging_files_invisible_to_listings_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        crate::samples::publish_first_sample(&store).await;
        // A Parquet upload killed midway: only the store's staging file exists.
        let dead = dir.path().join("organisations/killed-run");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join("part-00000.parquet#1"), b"partial").unwrap();
        assert!(
            names(&store)
                .await
                .iter()
                .all(|n| !n.contains("killed-run"))
        );

        let dry = vacuum(store.clone(), Duration::ZERO, true, Some(dir.path()))
            .await
            .unwrap();
        assert_eq!(dry.leftovers.len(), 1);
        assert_eq!(
            (dry.leftovers[0].run_id.as_str(), dry.leftovers[0].objects),
            ("killed-run", 1)
        );
        assert!(dead.exists(), "a dry run deletes nothing");
        let done = vacuum(store.clone(), Duration::ZERO, false, Some(dir.path()))
            .await
            .unwrap();
        assert_eq!(done.deleted_objects, 1);
        assert!(!dead.exists());
    }
}
