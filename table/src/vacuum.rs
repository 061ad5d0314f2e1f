//! Delta Lake's vacuum of the table, in full mode: deletes the data files of versions
//! superseded longer ago than the retention, and files in the table's folder that no
//! version names and that are older than it (an interrupted ingest's). The snapshots
//! whose files it deletes can no longer be read: the vacuum's commit records them, so
//! that the catalog stops listing them (`commitInfo`'s `ess` record, `expired`). Delta
//! writes a vacuum as two versions (VACUUM START and END), which are not snapshots. A
//! vacuum with nothing to delete commits nothing. What each snapshot keeps beside the
//! table is the caller's to delete (`ess_ingest::vacuum`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::vacuum::{Clock, VacuumMode};
use ess_schemas::layout::{COMMIT_INFO_KEY, TABLE_DIR};

use crate::error::{Result, TableError};
use crate::log::{Commit, VacuumRecord};
use crate::table::SnapshotTable;

/// One moment for both of Delta's passes (the dry run that names what to delete, and
/// the run that deletes it), so they agree.
#[derive(Debug)]
struct FixedClock(i64);

impl Clock for FixedClock {
    fn current_timestamp_millis(&self) -> i64 {
        self.0
    }
}

/// What a vacuum of the table found and did.
#[derive(Debug, Clone, Default)]
pub struct TableVacuum {
    /// The runs of the table's snapshots, by run id: their versions.
    pub snapshots: HashMap<String, u64>,
    /// Snapshots that can no longer be read, this vacuum's included.
    pub expired: HashSet<u64>,
    /// The snapshots this vacuum expires (would expire, on a dry run), ascending.
    pub newly_expired: Vec<u64>,
    /// Data files it deletes (would delete).
    pub files: u64,
}

impl SnapshotTable {
    /// The files in the table's folder (outside its log), from the table's root.
    async fn data_files(&self) -> Result<HashSet<String>> {
        let listed = crate::retry::list_all(self.store().as_ref(), TABLE_DIR, &self.retry)
            .await
            .map_err(|source| TableError::Store {
                operation: "list",
                path: TABLE_DIR.to_owned(),
                source,
            })?;
        Ok(listed
            .into_iter()
            .filter_map(|m| {
                let path = m
                    .location
                    .as_ref()
                    .strip_prefix(TABLE_DIR)?
                    .trim_start_matches('/');
                (!path.starts_with("_delta_log/")).then(|| path.to_owned())
            })
            .collect())
    }

    /// Vacuums the table with `retention` at `now_ms`; deletes nothing when `dry_run`.
    pub async fn vacuum(
        &self,
        retention: Duration,
        now_ms: i64,
        dry_run: bool,
    ) -> Result<TableVacuum> {
        // What the log says. An unreadable commit stops the vacuum: better to keep a
        // file than to guess.
        let mut found = TableVacuum::default();
        for v in self.versions().await? {
            match self.commit(v).await? {
                Some(Commit::Snapshot(m)) => {
                    found.snapshots.insert(m.run_id.clone(), v);
                }
                Some(Commit::Vacuum(record)) => found.expired.extend(record.expired),
                _ => {}
            }
        }
        let Some(table) = self.load().await? else {
            return Ok(found);
        };
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(now_ms));
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let vacuum = |t: deltalake::DeltaTable, dry_run: bool| {
            t.vacuum()
                .with_retention_period(retention)
                .with_enforce_retention_duration(false)
                .with_mode(VacuumMode::Full)
                .with_clock(clock.clone())
                .with_dry_run(dry_run)
        };
        let (_, mut plan) = vacuum(table.clone(), true)
            .await
            .map_err(TableError::delta("plan the vacuum"))?;
        // Delta names the files of every tombstone the log still holds, those an
        // earlier vacuum deleted included (the tombstones are kept with the log, for
        // time travel): only files still there are to delete.
        let present = self.data_files().await?;
        plan.files_deleted.retain(|p| present.contains(p));
        let runs_hit: HashSet<&str> = plan
            .files_deleted
            .iter()
            .filter_map(|p| p.split('/').next())
            .collect();
        found.newly_expired = found
            .snapshots
            .iter()
            .filter(|(run, v)| runs_hit.contains(run.as_str()) && !found.expired.contains(v))
            .map(|(_, v)| *v)
            .collect();
        found.newly_expired.sort_unstable();
        found.files = plan.files_deleted.len() as u64;
        if !dry_run && !plan.files_deleted.is_empty() {
            let record = serde_json::to_value(VacuumRecord {
                expired: found.newly_expired.clone(),
            })
            .expect("a record serialises");
            vacuum(table, false)
                .with_commit_properties(
                    CommitProperties::default()
                        .with_metadata([(COMMIT_INFO_KEY.to_owned(), record)]),
                )
                .await
                .map_err(TableError::delta("vacuum the table"))?;
        }
        found.expired.extend(found.newly_expired.iter().copied());
        Ok(found)
    }
}
