//! Shared helpers: publish the embedded samples into a store and open them.

use std::sync::Arc;

use ess_ingest::samples::sample_sources;
use ess_ingest::{IngestJob, IngestOutcome, SourceFile};
use ess_query::{Catalog, SnapshotEngine};
use object_store::ObjectStore;
use object_store::memory::InMemory;

/// Publishes the samples, in the documented order, into a fresh in-memory store.
pub async fn published_samples() -> (Arc<dyn ObjectStore>, IngestOutcome) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let outcome = publish(&store, sample_sources()).await;
    (store, outcome)
}

/// Publishes `sources`, in order, as the next snapshot of `store`.
pub async fn publish(
    store: &Arc<dyn ObjectStore>,
    sources: impl IntoIterator<Item = SourceFile>,
) -> IngestOutcome {
    IngestJob::builder()
        .store(store.clone())
        .sources(sources)
        .build()
        .expect("job")
        .run()
        .await
        .expect("ingest")
}

/// An engine over the latest snapshot of `store`.
pub async fn engine(store: Arc<dyn ObjectStore>) -> SnapshotEngine {
    let manifest = Catalog::new(store.clone(), "memory://")
        .latest()
        .await
        .expect("latest");
    SnapshotEngine::open(store, manifest).await.expect("engine")
}
