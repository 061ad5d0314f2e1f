//! The snapshots of a store, read from its Delta table's log: each snapshot is a table
//! version (`ess_table::log`), and its id is the version's number.
//!
//! A version never changes, so what its log entry says is read once and kept, as is a
//! snapshot's report; the log is listed again at most once a second (a request for a
//! snapshot newer than the last listing lists it again at once). Snapshots a vacuum
//! expired are not listed, and asking for one says so.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ess_schemas::layout::{IngestReport, Manifest};
use ess_table::{Commit, SnapshotTable};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{QueryError, Result};

/// How long a listing of the snapshots is reused.
const LISTING_TTL: Duration = Duration::from_secs(1);

/// Log entries and reports kept.
const KEPT: u64 = 4096;

/// The snapshots of the store, as listed at one moment.
#[derive(Debug, Default)]
struct Listing {
    /// Readable snapshots' versions, ascending (shared with every caller of
    /// `known_sequences`, so a request does not copy it).
    live: Arc<Vec<u64>>,
    /// Snapshots a vacuum expired.
    expired: HashSet<u64>,
}

/// The committed snapshots of one store.
#[derive(Clone)]
pub struct Catalog {
    table: SnapshotTable,
    listing: moka::future::Cache<(), Arc<Listing>>,
    commits: moka::future::Cache<u64, Arc<Commit>>,
    reports: moka::future::Cache<u64, Arc<IngestReport>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("store", &self.table.name())
            .finish_non_exhaustive()
    }
}

/// The sequence number a public snapshot id names: `000002`, `2` and `02` all name
/// snapshot 2. `None` for text that is not one.
pub fn parse_snapshot_id(id: &str) -> Option<u64> {
    let digits = id.trim();
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n > 0)
}

/// `id` as an error message may quote it: whole when short, else its start.
fn quoted(id: &str) -> String {
    const QUOTED: usize = 24;
    match id.char_indices().nth(QUOTED) {
        None => id.to_owned(),
        Some((cut, _)) => format!("{}…", &id[..cut]),
    }
}

impl Catalog {
    /// A catalog over `store`; `name` is how messages refer to it.
    pub fn new(store: Arc<dyn ObjectStore>, name: impl Into<String>) -> Self {
        Catalog {
            table: SnapshotTable::new(store, name),
            listing: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(LISTING_TTL)
                .build(),
            commits: moka::future::Cache::new(KEPT),
            reports: moka::future::Cache::new(KEPT),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        self.table.store()
    }

    /// How messages name the store.
    pub fn name(&self) -> &str {
        self.table.name()
    }

    /// What table version `version` is (read once, then kept).
    async fn commit(&self, version: u64) -> Result<Arc<Commit>> {
        self.commits
            .try_get_with(version, async {
                match self.table.commit(version).await? {
                    Some(c) => Ok(Arc::new(c)),
                    None => Err(QueryError::UnknownSnapshot {
                        id: ess_schemas::layout::snapshot_id(version),
                    }),
                }
            })
            .await
            .map_err(QueryError::from_shared)
    }

    /// The snapshots, listed now.
    async fn list_now(&self) -> Result<Listing> {
        let mut listing = Listing::default();
        let mut snapshots = Vec::new();
        for v in self.table.versions().await? {
            match &*self.commit(v).await? {
                Commit::Snapshot(_) => snapshots.push(v),
                Commit::Vacuum(record) => listing.expired.extend(&record.expired),
                Commit::Other => {}
            }
        }
        listing.live = Arc::new(
            snapshots
                .into_iter()
                .filter(|v| !listing.expired.contains(v))
                .collect(),
        );
        Ok(listing)
    }

    /// Readable snapshots' sequence numbers (table versions), ascending, listed now.
    pub async fn sequences(&self) -> Result<Vec<u64>> {
        Ok(Arc::unwrap_or_clone(self.list_now().await?.live))
    }

    async fn known(&self) -> Result<Arc<Listing>> {
        self.listing
            .try_get_with((), async { Ok(Arc::new(self.list_now().await?)) })
            .await
            .map_err(QueryError::from_shared)
    }

    /// Readable snapshots' sequence numbers, ascending, as listed within the last
    /// second (concurrent callers share one listing).
    pub async fn known_sequences(&self) -> Result<Arc<Vec<u64>>> {
        Ok(self.known().await?.live.clone())
    }

    /// Forgets the last listing: the next [`Catalog::known_sequences`] lists again.
    pub async fn forget_listing(&self) {
        self.listing.invalidate(&()).await;
    }

    /// The snapshot at table version `sequence`.
    pub async fn manifest(&self, sequence: u64) -> Result<Manifest> {
        match &*self.commit(sequence).await? {
            Commit::Snapshot(m) => Ok(Manifest::clone(m)),
            _ => Err(QueryError::UnknownSnapshot {
                id: ess_schemas::layout::snapshot_id(sequence),
            }),
        }
    }

    /// The latest snapshot.
    pub async fn latest(&self) -> Result<Manifest> {
        match self.sequences().await?.last() {
            Some(&seq) => self.manifest(seq).await,
            None => Err(QueryError::NoSnapshot {
                store: self.name().to_owned(),
            }),
        }
    }

    /// Every readable snapshot, oldest first (as listed within the last second).
    pub async fn list(&self) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for &seq in self.known().await?.live.iter() {
            out.push(self.manifest(seq).await?);
        }
        Ok(out)
    }

    /// The sequence number of the snapshot with this public id (`000002`, `2`), if
    /// the store has it and it is readable.
    pub async fn resolve(&self, id: &str) -> Result<u64> {
        let unknown = || QueryError::UnknownSnapshot { id: quoted(id) };
        let seq = parse_snapshot_id(id).ok_or_else(unknown)?;
        let mut known = self.known().await?;
        if known.live.last().is_none_or(|&last| seq > last) {
            // Perhaps published since the last listing.
            self.forget_listing().await;
            known = self.known().await?;
        }
        if known.expired.contains(&seq) {
            return Err(QueryError::Expired {
                id: ess_schemas::layout::snapshot_id(seq),
            });
        }
        known
            .live
            .binary_search(&seq)
            .map(|_| seq)
            .map_err(|_| unknown())
    }

    /// The snapshot with this public id (`000002`, `2`).
    pub async fn by_id(&self, id: &str) -> Result<Manifest> {
        let seq = self.resolve(id).await?;
        self.manifest(seq).await
    }

    /// The ingest report stored with a snapshot (read once, then kept).
    pub async fn report(&self, manifest: &Manifest) -> Result<Arc<IngestReport>> {
        self.reports
            .try_get_with(manifest.sequence, async {
                Ok(Arc::new(self.read_report(manifest).await?))
            })
            .await
            .map_err(QueryError::from_shared)
    }

    async fn read_report(&self, manifest: &Manifest) -> Result<IngestReport> {
        let bytes = self
            .store()
            .get(&Path::from(manifest.report.as_str()))
            .await?
            .bytes()
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| QueryError::Report {
            path: manifest.report.clone(),
            source: e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_ids_are_canonical() {
        assert_eq!(parse_snapshot_id("000002"), Some(2));
        assert_eq!(parse_snapshot_id("2"), Some(2));
        assert_eq!(parse_snapshot_id("00000000000000000002"), Some(2));
        for bad in [
            "",
            "0",
            "000000",
            "-1",
            "2a",
            "1e3",
            "000000000000000000002",
            "٢",
        ] {
            assert_eq!(parse_snapshot_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn long_ids_are_quoted_short() {
        let long = "9".repeat(10_000);
        let q = quoted(&long);
        assert!(q.chars().count() <= 25, "{q}");
        assert_eq!(quoted("000003"), "000003");
    }
}
