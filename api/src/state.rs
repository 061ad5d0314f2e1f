//! What the HTTP handlers share: the store, the snapshot being served (swapped when a
//! newer one is published), and the past snapshots asked for by time-travel queries.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ess_query::{Catalog, SnapshotEngine};
use ess_schemas::layout::{IngestReport, Manifest};

use crate::store::Store;

/// How many past snapshots stay open for time-travel queries.
const HISTORY_ENGINES: usize = 4;

/// A snapshot ready to answer queries.
#[derive(Debug)]
pub struct Served {
    /// The engine over it.
    pub engine: SnapshotEngine,
    /// Its ingest report.
    pub report: IngestReport,
}

impl Served {
    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        self.engine.manifest()
    }

    async fn open(catalog: &Catalog, manifest: Manifest) -> ess_query::Result<Self> {
        let report = catalog.report(&manifest).await?;
        let engine = SnapshotEngine::open(catalog.store().clone(), manifest).await?;
        Ok(Served { engine, report })
    }
}

/// Builds the search index of a snapshot now served, in the background: the server
/// answers at once, and searches scan until the index is ready.
fn index_in_background(served: &Arc<Served>) {
    let served = served.clone();
    tokio::spawn(async move {
        if let Err(e) = served.engine.build_search_index().await {
            tracing::warn!(
                snapshot = %served.manifest().snapshot_id,
                error = %e,
                "no search index: searches scan the snapshot"
            );
        }
    });
}

/// The state behind every request.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Where snapshots live.
    pub store: Store,
    /// The store's snapshots.
    pub catalog: Catalog,
    current: Arc<RwLock<Arc<Served>>>,
    history: Arc<Mutex<VecDeque<Arc<Served>>>>,
}

impl AppState {
    /// State serving the latest snapshot of `store`.
    pub async fn latest(store: Store) -> ess_query::Result<Self> {
        let catalog = Catalog::new(store.store.clone(), store.url.clone());
        let manifest = catalog.latest().await?;
        let served = Arc::new(Served::open(&catalog, manifest).await?);
        index_in_background(&served);
        Ok(AppState {
            store,
            catalog,
            current: Arc::new(RwLock::new(served)),
            history: Arc::new(Mutex::new(VecDeque::new())),
        })
    }

    /// The snapshot served now. A request holds on to it, so it finishes on the
    /// snapshot it started with even if a newer one is swapped in meanwhile.
    pub fn current(&self) -> Arc<Served> {
        self.current.read().expect("lock").clone()
    }

    /// Swaps in the latest snapshot if it is newer than the one served; returns the
    /// snapshot id now served when it changed.
    pub async fn refresh(&self) -> ess_query::Result<Option<String>> {
        let served_seq = self.current().manifest().sequence;
        let Some(&latest) = self.catalog.sequences().await?.last() else {
            return Ok(None);
        };
        if latest <= served_seq {
            return Ok(None);
        }
        let manifest = self.catalog.manifest(latest).await?;
        let id = manifest.snapshot_id.clone();
        let fresh = Arc::new(Served::open(&self.catalog, manifest).await?);
        index_in_background(&fresh);
        let old = std::mem::replace(&mut *self.current.write().expect("lock"), fresh);
        // Only the served snapshot keeps a search index; past ones scan.
        old.engine.drop_search_index();
        self.remember(old);
        tracing::info!(snapshot = %id, "now serving a newer snapshot");
        Ok(Some(id))
    }

    /// Checks for a newer snapshot every `every`, until the server stops.
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = state.refresh().await {
                    tracing::warn!(error = %e, "could not check for a newer snapshot; still serving the current one");
                }
            }
        })
    }

    /// The snapshot `id` (the current one when `None`), opened on first use and kept
    /// among the last few.
    pub async fn snapshot(&self, id: Option<&str>) -> ess_query::Result<Arc<Served>> {
        let current = self.current();
        let Some(id) = id.filter(|id| *id != current.manifest().snapshot_id) else {
            return Ok(current);
        };
        if let Some(s) = self
            .history
            .lock()
            .expect("lock")
            .iter()
            .find(|s| s.manifest().snapshot_id == id)
        {
            return Ok(s.clone());
        }
        let manifest = self.catalog.by_id(id).await?;
        let served = Arc::new(Served::open(&self.catalog, manifest).await?);
        self.remember(served.clone());
        Ok(served)
    }

    /// The snapshot before `served`, if any.
    pub async fn previous(&self, served: &Served) -> ess_query::Result<Option<Arc<Served>>> {
        let seq = served.manifest().sequence;
        match self
            .catalog
            .sequences()
            .await?
            .into_iter()
            .rfind(|s| *s < seq)
        {
            Some(prev) => Ok(Some(
                self.snapshot(Some(&ess_schemas::layout::snapshot_id(prev)))
                    .await?,
            )),
            None => Ok(None),
        }
    }

    fn remember(&self, served: Arc<Served>) {
        let mut h = self.history.lock().expect("lock");
        h.retain(|s| s.manifest().sequence != served.manifest().sequence);
        h.push_front(served);
        h.truncate(HISTORY_ENGINES);
    }
}
