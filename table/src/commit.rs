//! Committing a snapshot: one Delta commit that removes every file of the table's
//! latest version and adds the run's own, with a commit info naming the run (where
//! its other files are) and what it holds. Its version is the snapshot's id.
//!
//! Everything the snapshot needs is written before the commit; the commit is the log
//! entry's conditional create, so it happens whole or not at all, and two ingests
//! never take one version. An ingest that finds its version taken (another committed
//! first) reads the table again and commits on top of it: the loser of a race becomes
//! the next version, and loses nothing. A commit whose acknowledgement was lost (the
//! store wrote it, the caller heard an error) is found in the log by its run id, which
//! is looked for before any retry, so a run is never committed twice.
//!
//! Version 0 creates the table: protocol reader 1, writer 2 (every engine reads it),
//! a checkpoint every 10 versions, the log never trimmed and a removed file's tombstone
//! kept until its vacuum, so time travel lasts until `ess vacuum`.

use std::future::Future;

use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::{Action, Add};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError, TableProperty};
use ess_schemas::arrow_schema::organisation_schema;
use ess_schemas::layout::{COMMIT_INFO_KEY, CommitRecord, Manifest};

use crate::error::{Result, TableError};
use crate::log::Commit;
use crate::table::SnapshotTable;

/// Commits tried before giving up to contention.
const COMMIT_ATTEMPTS: u32 = 64;

/// Versions between checkpoints: opening the table reads a checkpoint and at most
/// this many log entries.
const CHECKPOINT_INTERVAL: &str = "10";

/// A data file of a new snapshot, written and not yet committed.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// From the table's root (`<run-id>/part-00000.parquet`).
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Delta statistics JSON ([`crate::stats::file_stats`]).
    pub stats: Option<String>,
}

/// What one ingest commits.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// The commit info's record.
    pub record: CommitRecord,
    /// The snapshot's files.
    pub files: Vec<DataFile>,
}

/// How one attempt ended.
enum Attempt<E> {
    Committed(u64),
    /// Another writer committed first (after the table's version `base`).
    Taken(Option<u64>),
    /// Failed after reading the table at `base` (`None`: no table yet).
    Failed(TableError, Option<u64>),
    /// The snapshot could not be prepared: the caller's own error, not retried.
    Unprepared(E),
}

impl SnapshotTable {
    /// Commits the snapshot of run `run_id` as the table's next version, and returns
    /// it. `prepare(version)` gives what to commit as that version: it is called
    /// again, with the new version, only when another ingest took the one it was
    /// prepared for (files that name their snapshot are rewritten then).
    pub async fn publish<E, F, Fut>(
        &self,
        run_id: &str,
        mut prepare: F,
    ) -> std::result::Result<Manifest, E>
    where
        E: From<TableError>,
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = std::result::Result<NewSnapshot, E>>,
    {
        let retry = &self.retry;
        let (mut transient, mut wait) = (1, retry.base);
        for _ in 0..COMMIT_ATTEMPTS {
            match self.attempt(&mut prepare).await {
                Attempt::Committed(version) => return Ok(self.published(version).await?),
                Attempt::Unprepared(e) => return Err(e),
                Attempt::Taken(base) => {
                    // Taken by another ingest, or by this one's own commit whose
                    // acknowledgement was lost.
                    if let Some(m) = self.find_run(run_id, base).await? {
                        return Ok(m);
                    }
                    tracing::info!("a concurrent ingest committed first; committing on top of it");
                }
                Attempt::Failed(e, base) => {
                    if let Some(m) = self.find_run(run_id, base).await? {
                        return Ok(m);
                    }
                    if !e.is_transient() || transient >= retry.attempts {
                        return Err(e.into());
                    }
                    tracing::warn!(error = %e, attempt = transient, "transient failure committing; retrying");
                    tokio::time::sleep(wait).await;
                    (transient, wait) = (transient + 1, (wait * 2).min(retry.max));
                }
            }
        }
        Err(TableError::Contention {
            attempts: COMMIT_ATTEMPTS,
        }
        .into())
    }

    async fn attempt<E, F, Fut>(&self, prepare: &mut F) -> Attempt<E>
    where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = std::result::Result<NewSnapshot, E>>,
    {
        let table = match self.load().await {
            Ok(Some(t)) => t,
            Ok(None) => match self.create().await {
                Ok(t) => t,
                Err(e) => return Attempt::Failed(e, None),
            },
            Err(e) => return Attempt::Failed(e, None),
        };
        let base = table.version();
        let new = match prepare(base.map_or(1, |v| v + 1)).await {
            Ok(new) => new,
            Err(e) => return Attempt::Unprepared(e),
        };
        match commit_on(&table, &new).await {
            Ok(version) => Attempt::Committed(version),
            Err(DeltaTableError::Transaction {
                source:
                    TransactionError::MaxCommitAttempts(_)
                    | TransactionError::VersionAlreadyExists(_)
                    | TransactionError::CommitConflict(_),
            }) => Attempt::Taken(base),
            Err(e) => Attempt::Failed(TableError::delta("commit the snapshot")(e), base),
        }
    }

    /// Creates the table (version 0: its schema and properties). A table created
    /// meanwhile by another ingest is loaded instead.
    async fn create(&self) -> Result<DeltaTable> {
        let schema: deltalake::kernel::StructType = {
            use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
            organisation_schema()
                .as_ref()
                .try_into_kernel()
                .map_err(|e| TableError::delta("describe the table")(e.into()))?
        };
        let created = self
            .unloaded()?
            .create()
            .with_table_name("organisations")
            .with_comment(
                "Morocco's social and solidarity economy organisations: one version per snapshot",
            )
            .with_columns(schema.fields().cloned())
            .with_configuration_property(
                TableProperty::CheckpointInterval,
                Some(CHECKPOINT_INTERVAL),
            )
            // Time travel is kept until `ess vacuum` says otherwise: the log is not
            // trimmed, and a removed file's tombstone stays until its vacuum.
            .with_configuration_property(TableProperty::EnableExpiredLogCleanup, Some("false"))
            .with_configuration_property(
                TableProperty::DeletedFileRetentionDuration,
                Some("interval 36500 days"),
            )
            .with_commit_properties(CommitProperties::default().with_max_retries(0))
            .await;
        match created {
            Ok(t) => Ok(t),
            Err(e) => match self.load().await? {
                Some(t) => Ok(t),
                None => Err(TableError::delta("create the table")(e)),
            },
        }
    }

    /// The snapshot committed at `version`.
    async fn published(&self, version: u64) -> Result<Manifest> {
        match self.commit(version).await? {
            Some(Commit::Snapshot(m)) => Ok(*m),
            _ => Err(TableError::NotASnapshot {
                version,
                why: "the version just committed does not read back as one".into(),
            }),
        }
    }

    /// The snapshot of run `run_id` committed after version `base`, if any: a commit
    /// that succeeded though its caller heard otherwise.
    async fn find_run(&self, run_id: &str, base: Option<u64>) -> Result<Option<Manifest>> {
        let after = base.map_or(0, |b| b + 1);
        for v in self.versions().await?.into_iter().filter(|v| *v >= after) {
            if let Some(Commit::Snapshot(m)) = self.commit(v).await?
                && m.run_id == run_id
            {
                tracing::info!(snapshot = %m.snapshot_id, "the commit had succeeded: its acknowledgement was lost");
                return Ok(Some(*m));
            }
        }
        Ok(None)
    }
}

/// One commit on top of `table`'s version: every file of it removed, `new`'s added.
/// No retry of its own: a version taken meanwhile is an error, and the caller reads
/// the table again.
async fn commit_on(table: &DeltaTable, new: &NewSnapshot) -> Result<u64, DeltaTableError> {
    let state = table.snapshot()?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut actions: Vec<Action> = state
        .log_data()
        .iter()
        .map(|f| Action::Remove(f.remove_action(true)))
        .collect();
    actions.extend(new.files.iter().map(|f| {
        Action::Add(Add {
            path: f.path.clone(),
            size: i64::try_from(f.size).unwrap_or(i64::MAX),
            modification_time: now,
            data_change: true,
            stats: f.stats.clone(),
            ..Default::default()
        })
    }));
    let record = serde_json::to_value(&new.record).expect("a record serialises");
    let properties = CommitProperties::default()
        .with_metadata([(COMMIT_INFO_KEY.to_owned(), record)])
        .with_max_retries(0);
    let operation = DeltaOperation::Write {
        mode: SaveMode::Overwrite,
        partition_by: None,
        predicate: None,
    };
    let committed = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(Some(state), table.log_store(), operation)
        .await?;
    Ok(committed.version())
}
