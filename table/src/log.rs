//! Reading the table's log: which versions exist, and what each one is — a snapshot
//! (its commit info names the run and the files it added are the snapshot's), a
//! vacuum (its commit info names the snapshots whose files it deleted), or anything
//! else (the table's creation, another writer's commit).
//!
//! A snapshot's commit removes every file of the version before and adds its own, so
//! the files it adds are exactly the table's files at that version: one log entry
//! describes a snapshot whole. Entries never change once written.

use deltalake::kernel::Action;
use ess_schemas::layout::{COMMIT_INFO_KEY, CommitRecord, Manifest, TABLE_DIR};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TableError};
use crate::table::SnapshotTable;

/// What a vacuum's commit records: the snapshots whose files it deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VacuumRecord {
    /// Table versions of the snapshots that can no longer be read.
    pub expired: Vec<u64>,
}

/// What one table version is.
#[derive(Debug, Clone, PartialEq)]
pub enum Commit {
    /// A snapshot of this service.
    Snapshot(Box<Manifest>),
    /// A vacuum (`ess vacuum`): the snapshots it expired.
    Vacuum(VacuumRecord),
    /// Anything else.
    Other,
}

/// The folder of the table's log, from the store's root.
pub(crate) fn log_dir() -> String {
    format!("{TABLE_DIR}/_delta_log")
}

/// The version a log file name holds, for a commit (`<20 digits>.json`).
fn commit_version(path: &str) -> Option<u64> {
    let name = path.rsplit('/').next()?;
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Milliseconds since the epoch as RFC 3339.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl SnapshotTable {
    /// The table's versions, listed now, ascending (empty without a table).
    pub async fn versions(&self) -> Result<Vec<u64>> {
        let dir = log_dir();
        let metas = crate::retry::list_all(self.store().as_ref(), &dir, &self.retry)
            .await
            .map_err(|source| TableError::Store {
                operation: "list",
                path: dir,
                source,
            })?;
        let mut versions: Vec<u64> = metas
            .iter()
            .filter_map(|m| commit_version(m.location.as_ref()))
            .collect();
        versions.sort_unstable();
        if versions.is_empty() {
            self.check_layout().await?;
        }
        Ok(versions)
    }

    /// What version `version` is; `None` when it does not exist.
    pub async fn commit(&self, version: u64) -> Result<Option<Commit>> {
        let path = Path::from(format!("{}/{version:020}.json", log_dir()));
        let got = self
            .retry
            .run("read a commit", || async {
                self.store().get(&path).await?.bytes().await
            })
            .await;
        let bytes = match got {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => {
                return Err(TableError::Store {
                    operation: "get",
                    path: path.to_string(),
                    source,
                });
            }
        };
        let actions = deltalake::logstore::get_actions(version, &bytes)
            .map_err(TableError::delta("read a commit"))?;
        Ok(Some(describe(version, actions)?))
    }
}

/// The earliest founding year in a data file, from its Delta statistics: `None` when
/// they do not say, `Some(None)` when every organisation of the file has no year.
fn earliest_year(stats: Option<&str>) -> Option<Option<i32>> {
    let stats: serde_json::Value = serde_json::from_str(stats?).ok()?;
    let year = ess_schemas::arrow_schema::col::FOUNDED_YEAR;
    if let Some(min) = stats["minValues"][year].as_i64() {
        return i32::try_from(min).ok().map(Some);
    }
    let rows = stats["numRecords"].as_i64()?;
    (stats["nullCount"][year].as_i64()? == rows).then_some(None)
}

/// What the actions of commit `version` make of it.
pub(crate) fn describe(version: u64, actions: Vec<Action>) -> Result<Commit> {
    let mut info = None;
    let mut parts = Vec::new();
    // The earliest founding year over the files added, while every file's statistics
    // say it (`None` once one does not).
    let mut first_year: Option<Option<i32>> = Some(None);
    for action in actions {
        match action {
            Action::CommitInfo(ci) => info = Some(ci),
            Action::Add(add) => {
                first_year = first_year.zip(earliest_year(add.stats.as_deref())).map(
                    |(so_far, file)| match (so_far, file) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                );
                parts.push(add.path);
            }
            _ => {}
        }
    }
    let Some(info) = info else {
        return Ok(Commit::Other);
    };
    let Some(record) = info.info.get(COMMIT_INFO_KEY) else {
        return Ok(Commit::Other);
    };
    if record.get("run_id").is_some() {
        let record: CommitRecord =
            serde_json::from_value(record.clone()).map_err(|e| TableError::NotASnapshot {
                version,
                why: format!("its `{COMMIT_INFO_KEY}` record does not read: {e}"),
            })?;
        let created_at = rfc3339(info.timestamp.unwrap_or_default());
        parts.sort();
        let mut manifest = Manifest::from_commit(version, created_at, record, parts);
        manifest.first_founded_year = first_year;
        return Ok(Commit::Snapshot(Box::new(manifest)));
    }
    match serde_json::from_value::<VacuumRecord>(record.clone()) {
        Ok(v) => Ok(Commit::Vacuum(v)),
        Err(_) => Ok(Commit::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_earliest_year_is_read_from_its_statistics() {
        let stats = |s: &str| earliest_year(Some(s));
        assert_eq!(
            stats(
                r#"{"numRecords":3,"minValues":{"founded_year":1987},"nullCount":{"founded_year":1}}"#
            ),
            Some(Some(1987))
        );
        // Every organisation of the file without a year.
        assert_eq!(
            stats(r#"{"numRecords":3,"minValues":{},"nullCount":{"founded_year":3}}"#),
            Some(None)
        );
        // Bounds missing while some years are known: the statistics do not say.
        assert_eq!(
            stats(r#"{"numRecords":3,"minValues":{},"nullCount":{"founded_year":1}}"#),
            None
        );
        assert_eq!(stats("not JSON"), None);
        assert_eq!(earliest_year(None), None);
    }

    #[test]
    fn commit_file_names() {
        assert_eq!(
            commit_version("organisations/_delta_log/00000000000000000007.json"),
            Some(7)
        );
        assert_eq!(
            commit_version("organisations/_delta_log/00000000000000000010.checkpoint.parquet"),
            None
        );
        assert_eq!(
            commit_version("organisations/_delta_log/_last_checkpoint"),
            None
        );
        assert_eq!(commit_version("organisations/_delta_log/7.json"), None);
    }
}
