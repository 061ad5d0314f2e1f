//! The snapshots of a store, read from their manifests.
//!
//! A snapshot never changes, so its manifest and report are read from the store once
//! and kept; the list of snapshots is listed again at most once a second (a request
//! for a snapshot newer than the last listing lists again at once).

use std::sync::Arc;
use std::time::Duration;

use ess_schemas::layout::{IngestReport, MANIFEST_DIR, Manifest, manifest_path, manifest_sequence};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{QueryError, Result};

/// How long a listing of the snapshots is reused.
const LISTING_TTL: Duration = Duration::from_secs(1);

/// Manifests and reports kept.
const KEPT: u64 = 1024;

/// The committed snapshots of one store.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    name: String,
    listing: moka::future::Cache<(), Arc<Vec<u64>>>,
    manifests: moka::future::Cache<u64, Arc<Manifest>>,
    reports: moka::future::Cache<u64, Arc<IngestReport>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("name", &self.name)
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
            store,
            name: name.into(),
            listing: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(LISTING_TTL)
                .build(),
            manifests: moka::future::Cache::new(KEPT),
            reports: moka::future::Cache::new(KEPT),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// How messages name the store.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Committed sequence numbers, ascending, listed now.
    pub async fn sequences(&self) -> Result<Vec<u64>> {
        let prefix = Path::from(MANIFEST_DIR);
        let mut seqs: Vec<u64> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| manifest_sequence(m.location.as_ref()))
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .flatten()
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// Committed sequence numbers, ascending, as listed within the last second
    /// (concurrent callers share one listing).
    pub async fn known_sequences(&self) -> Result<Arc<Vec<u64>>> {
        self.listing
            .try_get_with((), async { Ok(Arc::new(self.sequences().await?)) })
            .await
            .map_err(QueryError::from_shared)
    }

    /// Forgets the last listing: the next [`Catalog::known_sequences`] lists again.
    pub async fn forget_listing(&self) {
        self.listing.invalidate(&()).await;
    }

    /// The manifest of snapshot number `sequence` (read once, then kept).
    pub async fn manifest(&self, sequence: u64) -> Result<Manifest> {
        let m = self
            .manifests
            .try_get_with(sequence, async {
                Ok(Arc::new(self.read_manifest(sequence).await?))
            })
            .await
            .map_err(QueryError::from_shared)?;
        Ok(Manifest::clone(&m))
    }

    async fn read_manifest(&self, sequence: u64) -> Result<Manifest> {
        let path = manifest_path(sequence);
        let bytes = self
            .store
            .get(&Path::from(path.as_str()))
            .await?
            .bytes()
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| QueryError::Manifest {
            path,
            message: e.to_string(),
        })
    }

    /// The latest snapshot's manifest.
    pub async fn latest(&self) -> Result<Manifest> {
        match self.sequences().await?.last() {
            Some(&seq) => self.manifest(seq).await,
            None => Err(QueryError::NoSnapshot {
                store: self.name.clone(),
            }),
        }
    }

    /// Every snapshot's manifest, oldest first (as listed within the last second).
    pub async fn list(&self) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for &seq in self.known_sequences().await?.iter() {
            out.push(self.manifest(seq).await?);
        }
        Ok(out)
    }

    /// The sequence number of the snapshot with this public id (`000002`, `2`), if
    /// the store has it.
    pub async fn resolve(&self, id: &str) -> Result<u64> {
        let unknown = || QueryError::UnknownSnapshot { id: quoted(id) };
        let seq = parse_snapshot_id(id).ok_or_else(unknown)?;
        let mut known = self.known_sequences().await?;
        if known.last().is_none_or(|&last| seq > last) {
            // Perhaps published since the last listing.
            self.forget_listing().await;
            known = self.known_sequences().await?;
        }
        known
            .binary_search(&seq)
            .map(|_| seq)
            .map_err(|_| unknown())
    }

    /// The snapshot with this public id (`000002`, `2`).
    pub async fn by_id(&self, id: &str) -> Result<Manifest> {
        let seq = self.resolve(id).await?;
        match self.manifest(seq).await {
            Err(e)
                if matches!(
                    e.root(),
                    QueryError::Store(object_store::Error::NotFound { .. })
                ) =>
            {
                Err(QueryError::UnknownSnapshot { id: quoted(id) })
            }
            other => other,
        }
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
            .store
            .get(&Path::from(manifest.report.as_str()))
            .await?
            .bytes()
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| QueryError::Manifest {
            path: manifest.report.clone(),
            message: e.to_string(),
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
