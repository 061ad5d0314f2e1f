//! The snapshots of a store, read from their manifests.

use std::sync::Arc;

use ess_schemas::layout::{IngestReport, MANIFEST_DIR, Manifest, manifest_path, manifest_sequence};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{QueryError, Result};

/// The committed snapshots of one store.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    name: String,
}

impl Catalog {
    /// A catalog over `store`; `name` is how messages refer to it.
    pub fn new(store: Arc<dyn ObjectStore>, name: impl Into<String>) -> Self {
        Catalog {
            store,
            name: name.into(),
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

    /// Committed sequence numbers, ascending.
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

    /// The manifest of snapshot number `sequence`.
    pub async fn manifest(&self, sequence: u64) -> Result<Manifest> {
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

    /// Every snapshot's manifest, oldest first.
    pub async fn list(&self) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for seq in self.sequences().await? {
            out.push(self.manifest(seq).await?);
        }
        Ok(out)
    }

    /// The snapshot with this public id.
    pub async fn by_id(&self, id: &str) -> Result<Manifest> {
        let seq: u64 = id
            .parse()
            .map_err(|_| QueryError::UnknownSnapshot { id: id.to_owned() })?;
        match self.manifest(seq).await {
            Err(QueryError::Store(object_store::Error::NotFound { .. })) => {
                Err(QueryError::UnknownSnapshot { id: id.to_owned() })
            }
            other => other,
        }
    }

    /// The ingest report stored with a snapshot.
    pub async fn report(&self, manifest: &Manifest) -> Result<IngestReport> {
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
