//! The snapshot layout in object storage, and the snapshot description and ingest
//! report formats. Paths and types only; the `table` crate reads and writes them.
//!
//! ```text
//! organisations/_delta_log/…                     the Delta Lake log: version N is
//!                                                snapshot N (its commit adds the run's
//!                                                files and removes every earlier one)
//! organisations/<run-id>/part-00000.parquet      a run's organisations (the table's files)
//! snapshots/<run-id>/quarantine.parquet          beside the table, found from the commit
//! snapshots/<run-id>/rollup.parquet              (whose commit info names the run)
//! snapshots/<run-id>/report.json
//! snapshots/<run-id>/downloads/…                 the files offered for download: every
//!                                                organisation in one Parquet file, and
//!                                                one file per family
//! ```
//!
//! Everything a run writes is written before its commit; a snapshot exists only once
//! its commit does, and nothing is ever rewritten afterwards. Files of runs no commit
//! names are leftovers of interrupted ingests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The folder of the organisations' Delta table.
pub const TABLE_DIR: &str = "organisations";

/// The folder of the files each snapshot keeps beside the table.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Where snapshots were committed before the Delta table (a store with this folder
/// is in the old layout, which this version does not read).
pub const OLD_MANIFEST_DIR: &str = "_manifests";

/// The key of this service's record in a Delta commit's `commitInfo`.
pub const COMMIT_INFO_KEY: &str = "ess";

/// The snapshot description format written by this version.
pub const MANIFEST_FORMAT: u32 = 2;

/// The public id of snapshot number `sequence` (its table version).
pub fn snapshot_id(sequence: u64) -> String {
    format!("{sequence:06}")
}

/// The folder, beside the table, of one ingest run's other files.
pub fn run_prefix(run_id: &str) -> String {
    format!("{SNAPSHOT_DIR}/{run_id}")
}

/// The `n`th organisations Parquet file of a run, from the store's root.
pub fn organisations_part_path(run_id: &str, n: usize) -> String {
    format!("{TABLE_DIR}/{}", table_part_path(run_id, n))
}

/// The `n`th organisations Parquet file of a run, from the table's root (a Delta
/// `add` path).
pub fn table_part_path(run_id: &str, n: usize) -> String {
    format!("{run_id}/part-{n:05}.parquet")
}

/// The quarantine Parquet file of a run.
pub fn quarantine_path(run_id: &str) -> String {
    format!("{}/quarantine.parquet", run_prefix(run_id))
}

/// The rollup of a run.
pub fn rollup_path(run_id: &str) -> String {
    format!("{}/rollup.parquet", run_prefix(run_id))
}

/// The ingest report of a run.
pub fn report_path(run_id: &str) -> String {
    format!("{}/report.json", run_prefix(run_id))
}

/// A download file of a run, by its public name (`organisations.parquet`, …).
pub fn download_path(run_id: &str, name: &str) -> String {
    format!("{}/downloads/{name}", run_prefix(run_id))
}

/// The public name of the file holding every organisation of a snapshot.
pub const ALL_ORGANISATIONS_FILE: &str = "organisations.parquet";

/// The public name of the file holding the organisations of one family.
pub fn family_file(family: &str) -> String {
    format!("organisations-{family}.parquet")
}

/// The public name of a snapshot's quarantine.
pub const QUARANTINE_FILE: &str = "quarantine.parquet";

/// The public name of a snapshot's ingest report.
pub const REPORT_FILE: &str = "report.json";

/// The media type of Parquet files.
pub const PARQUET_MEDIA_TYPE: &str = "application/vnd.apache.parquet";

/// A file of a snapshot offered for download, as its commit records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadFile {
    /// Public name, unique in the snapshot (`organisations-cooperative.parquet`).
    pub name: String,
    /// Where it is, from the store's root.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows, for tables.
    pub rows: Option<u64>,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// IANA media type.
    pub media_type: String,
}

/// What a snapshot's commit records of it, beside the files it adds (in the commit's
/// `commitInfo`, under [`COMMIT_INFO_KEY`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The ingest run that wrote the data: its other files are under
    /// [`run_prefix`]`(run_id)`.
    pub run_id: String,
    /// Organisations in the snapshot.
    pub rows: u64,
    /// Organisations per family.
    pub rows_by_family: BTreeMap<String, u64>,
    /// Rejected rows.
    pub quarantine_rows: u64,
    /// The registry files ingested, in order.
    pub sources: Vec<SourceRef>,
    /// The version of the software that wrote it.
    pub writer: String,
    /// When the snapshot was made (RFC 3339, UTC): the date its download files carry.
    /// Absent, the commit's own time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The files offered for download.
    #[serde(default)]
    pub downloads: Vec<DownloadFile>,
}

/// A snapshot as the service reads it: its table version and commit, and where its
/// files are. Paths are relative to the store root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Public id, from the table version.
    pub snapshot_id: String,
    /// The table version, from 1.
    pub sequence: u64,
    /// When the snapshot was committed (RFC 3339, UTC).
    pub created_at: String,
    /// The ingest run that wrote the data.
    pub run_id: String,
    /// Organisations in the snapshot.
    pub rows: u64,
    /// Organisations per family.
    pub rows_by_family: BTreeMap<String, u64>,
    /// The Parquet files holding the organisations (the table's files at this
    /// version).
    pub organisations_parquet: Vec<String>,
    /// The Parquet file holding the rejected rows.
    pub quarantine_parquet: String,
    /// Rejected rows.
    pub quarantine_rows: u64,
    /// The ingest report (JSON, [`IngestReport`]).
    pub report: String,
    /// The rollup (Parquet, [`crate::rollup`]).
    #[serde(default)]
    pub rollup_parquet: Option<String>,
    /// The registry files ingested, in order.
    pub sources: Vec<SourceRef>,
    /// The version of the software that wrote it.
    pub writer: String,
    /// The files offered for download.
    #[serde(default)]
    pub downloads: Vec<DownloadFile>,
    /// The earliest founding year of its organisations, as the statistics of the
    /// table's files give it: `None` when they do not say (a file without bounds for
    /// the year), `Some(None)` when no organisation has a year. Read from the commit,
    /// not stored in it.
    #[serde(skip)]
    pub first_founded_year: Option<Option<i32>>,
}

impl Manifest {
    /// The snapshot committed at table version `sequence` (at `created_at`) with
    /// `record`, whose table files are `parts` (from the table's root).
    pub fn from_commit(
        sequence: u64,
        created_at: String,
        record: CommitRecord,
        parts: impl IntoIterator<Item = String>,
    ) -> Self {
        let run = record.run_id.clone();
        Manifest {
            format: record.format,
            snapshot_id: snapshot_id(sequence),
            sequence,
            created_at: record.created_at.unwrap_or(created_at),
            rows: record.rows,
            rows_by_family: record.rows_by_family,
            organisations_parquet: parts
                .into_iter()
                .map(|p| format!("{TABLE_DIR}/{p}"))
                .collect(),
            quarantine_parquet: quarantine_path(&run),
            quarantine_rows: record.quarantine_rows,
            report: report_path(&run),
            rollup_parquet: Some(rollup_path(&run)),
            sources: record.sources,
            writer: record.writer,
            downloads: record.downloads,
            run_id: run,
            first_founded_year: None,
        }
    }
}

/// A registry file as ingested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    /// `cooperative`, `association` or `mutual`.
    pub family: String,
    /// File name as given.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// Counts for one registry file. They reconcile:
/// `rows_read = accepted + rejected`, and `superseded ≤ accepted`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// `cooperative`, `association` or `mutual`.
    pub family: String,
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// How the text was decoded (`UTF-8`, `UTF-8 with BOM`, `windows-1252`), where
    /// that applies.
    pub encoding: Option<String>,
    /// The delimiter sniffed, for CSV.
    pub delimiter: Option<String>,
    /// The sheet read, for XLSX.
    pub sheet: Option<String>,
    /// Rows read (blank rows are not rows).
    pub rows_read: u64,
    /// Rows that became organisations (some later superseded).
    pub accepted: u64,
    /// Rows sent to the quarantine.
    pub rejected: u64,
    /// Accepted rows replaced by a later row with the same `source_id`.
    pub superseded: u64,
    /// Rejected rows per reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Accepted rows per quality flag.
    pub flags: BTreeMap<String, u64>,
    /// Columns that were not recognised and were ignored.
    pub unknown_columns: Vec<String>,
}

impl FileReport {
    /// Whether `rows_read = accepted + rejected` and `superseded ≤ accepted`.
    pub fn reconciles(&self) -> bool {
        self.rows_read == self.accepted + self.rejected && self.superseded <= self.accepted
    }
}

/// Totals for one family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyTotals {
    /// Rows read.
    pub rows_read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Accepted rows superseded.
    pub superseded: u64,
    /// Organisations published: `accepted - superseded`.
    pub organisations: u64,
}

/// The ingest report stored with each snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    /// The ingest run (the data folder under `snapshots/`); the manifest that commits
    /// the run names its snapshot id.
    pub run_id: String,
    /// Per file, in ingest order.
    pub files: Vec<FileReport>,
    /// Per family.
    pub families: BTreeMap<String, FamilyTotals>,
    /// Organisations published.
    pub organisations: u64,
    /// Wall-clock seconds the ingest took.
    pub seconds: f64,
}

impl IngestReport {
    /// Recomputes [`IngestReport::families`] and [`IngestReport::organisations`] from
    /// the files.
    pub fn total(&mut self) {
        self.families.clear();
        for f in &self.files {
            let t = self.families.entry(f.family.clone()).or_default();
            t.rows_read += f.rows_read;
            t.accepted += f.accepted;
            t.rejected += f.rejected;
            t.superseded += f.superseded;
            t.organisations += f.accepted - f.superseded;
        }
        self.organisations = self.families.values().map(|t| t.organisations).sum();
    }

    /// Whether every file reconciles.
    pub fn reconciles(&self) -> bool {
        self.files.iter().all(FileReport::reconciles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ids() {
        assert_eq!(snapshot_id(7), "000007");
        assert_eq!(
            organisations_part_path("r1", 3),
            "organisations/r1/part-00003.parquet"
        );
        assert_eq!(table_part_path("r1", 3), "r1/part-00003.parquet");
        assert_eq!(report_path("r1"), "snapshots/r1/report.json");
        let m = Manifest::from_commit(
            4,
            "2026-12-04T00:00:00.000Z".into(),
            CommitRecord {
                format: MANIFEST_FORMAT,
                run_id: "r1".into(),
                rows: 10,
                rows_by_family: BTreeMap::new(),
                quarantine_rows: 1,
                sources: Vec::new(),
                writer: "ess".into(),
                created_at: None,
                downloads: Vec::new(),
            },
            [table_part_path("r1", 0)],
        );
        assert_eq!(m.snapshot_id, "000004");
        assert_eq!(
            m.organisations_parquet,
            ["organisations/r1/part-00000.parquet"]
        );
        assert_eq!(
            m.rollup_parquet.as_deref(),
            Some("snapshots/r1/rollup.parquet")
        );
    }

    #[test]
    fn report_totals_reconcile() {
        let mut r = IngestReport {
            files: vec![
                FileReport {
                    family: "cooperative".into(),
                    rows_read: 10,
                    accepted: 8,
                    rejected: 2,
                    superseded: 1,
                    ..Default::default()
                },
                FileReport {
                    family: "cooperative".into(),
                    rows_read: 5,
                    accepted: 5,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        r.total();
        assert!(r.reconciles());
        assert_eq!(r.organisations, 12);
        assert_eq!(r.families["cooperative"].rejected, 2);
        r.files[1].accepted = 6;
        assert!(!r.reconciles());
    }
}
