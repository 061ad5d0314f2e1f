//! What the HTTP handlers share.

use std::sync::Arc;

use ess_query::{Catalog, SnapshotEngine};
use ess_schemas::layout::IngestReport;

use crate::store::Store;

/// The state behind every request: the store and the snapshot being served.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Where snapshots live.
    pub store: Store,
    /// The store's snapshots.
    pub catalog: Catalog,
    /// The engine over the snapshot served.
    pub engine: Arc<SnapshotEngine>,
    /// That snapshot's ingest report.
    pub report: Arc<IngestReport>,
}

impl AppState {
    /// State serving the latest snapshot of `store`.
    pub async fn latest(store: Store) -> ess_query::Result<Self> {
        let catalog = Catalog::new(store.store.clone(), store.url.clone());
        let manifest = catalog.latest().await?;
        let report = catalog.report(&manifest).await?;
        let engine = SnapshotEngine::open(store.store.clone(), manifest).await?;
        Ok(AppState {
            store,
            catalog,
            engine: Arc::new(engine),
            report: Arc::new(report),
        })
    }
}
