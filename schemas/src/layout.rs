//! The snapshot layout in object storage, and the manifest and ingest report formats.
//!
//! ```text
//! _manifests/00000000000000000007.json    commit point of snapshot 000007 (written last,
//!                                         with a conditional create)
//! snapshots/<run-id>/organisations/part-00000.parquet
//! snapshots/<run-id>/quarantine.parquet
//! snapshots/<run-id>/report.json
//! ```
//!
//! Everything under `snapshots/<run-id>/` is written before the manifest; a snapshot
//! exists only once its manifest does, and nothing is ever rewritten afterwards. Run
//! directories with no manifest are leftovers of interrupted ingests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The folder that holds the manifests.
pub const MANIFEST_DIR: &str = "_manifests";

/// The folder that holds the snapshots' data.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// The manifest format written by this version.
pub const MANIFEST_FORMAT: u32 = 1;

/// The path of the manifest of snapshot number `sequence`.
pub fn manifest_path(sequence: u64) -> String {
    format!("{MANIFEST_DIR}/{sequence:020}.json")
}

/// The sequence number of a manifest path, if it is one.
pub fn manifest_sequence(path: &str) -> Option<u64> {
    let name = path.strip_prefix(MANIFEST_DIR)?.strip_prefix('/')?;
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The public id of snapshot number `sequence`.
pub fn snapshot_id(sequence: u64) -> String {
    format!("{sequence:06}")
}

/// The data folder of one ingest run.
pub fn run_prefix(run_id: &str) -> String {
    format!("{SNAPSHOT_DIR}/{run_id}")
}

/// The `n`th organisations Parquet file of a run.
pub fn organisations_part_path(run_id: &str, n: usize) -> String {
    format!("{}/organisations/part-{n:05}.parquet", run_prefix(run_id))
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

/// A snapshot's manifest: what it holds and where. Paths are relative to the store
/// root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Public id, from the sequence number.
    pub snapshot_id: String,
    /// Position in the store's history, from 1.
    pub sequence: u64,
    /// When the snapshot was committed (RFC 3339, UTC).
    pub created_at: String,
    /// The ingest run that wrote the data.
    pub run_id: String,
    /// Organisations in the snapshot.
    pub rows: u64,
    /// Organisations per family.
    pub rows_by_family: BTreeMap<String, u64>,
    /// The Parquet files holding the organisations.
    pub organisations_parquet: Vec<String>,
    /// The Parquet file holding the rejected rows.
    pub quarantine_parquet: String,
    /// Rejected rows.
    pub quarantine_rows: u64,
    /// The ingest report (JSON, [`IngestReport`]).
    pub report: String,
    /// The rollup (Parquet, [`crate::rollup`]), when the writer made one.
    #[serde(default)]
    pub rollup_parquet: Option<String>,
    /// The registry files ingested, in order.
    pub sources: Vec<SourceRef>,
    /// The version of the software that wrote it.
    pub writer: String,
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
    fn manifest_paths_round_trip_and_sort() {
        assert_eq!(manifest_path(7), "_manifests/00000000000000000007.json");
        assert_eq!(manifest_sequence(&manifest_path(7)), Some(7));
        assert_eq!(manifest_sequence(&manifest_path(u64::MAX)), Some(u64::MAX));
        assert_eq!(manifest_sequence("_manifests/7.json"), None);
        assert_eq!(
            manifest_sequence("_manifests/00000000000000000007.json.tmp"),
            None
        );
        assert!(manifest_path(9) < manifest_path(10));
        assert_eq!(snapshot_id(7), "000007");
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
