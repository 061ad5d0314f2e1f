//! What the HTTP handlers share: the store, the snapshot being served (swapped when a
//! newer one is published), the past snapshots asked for by time-travel queries, the
//! query runtime every snapshot engine runs on, the limits and the metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ess_query::{Catalog, QueryRuntime, SnapshotEngine};
use ess_schemas::layout::{IngestReport, Manifest};

use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::store::Store;

/// How many past snapshots stay open for time-travel queries.
const HISTORY_ENGINES: u64 = 4;

/// A snapshot ready to answer queries.
#[derive(Debug)]
pub struct Served {
    /// The engine over it.
    pub engine: SnapshotEngine,
    /// Its ingest report.
    pub report: Arc<IngestReport>,
}

impl Served {
    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        self.engine.manifest()
    }

    async fn open(
        catalog: &Catalog,
        runtime: &QueryRuntime,
        manifest: Manifest,
    ) -> ess_query::Result<Self> {
        let report = catalog.report(&manifest).await?;
        let engine = SnapshotEngine::open_in(runtime, manifest).await?;
        Ok(Served { engine, report })
    }
}

/// The state behind every request: one allocation, so a clone (one per handler and
/// layer of every request) is one reference count.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Shared {
    /// Where snapshots live.
    pub store: Store,
    /// The store's snapshots.
    pub catalog: Catalog,
    /// What every snapshot engine shares: memory pool, answer cache, search limits.
    pub runtime: QueryRuntime,
    /// The server's limits.
    pub limits: Arc<Limits>,
    /// The server's counters.
    pub metrics: Arc<Metrics>,
    current: RwLock<Arc<Served>>,
    history: moka::future::Cache<u64, Arc<Served>>,
    /// Set once the first snapshot's search index is built (or failed to build).
    ready: Arc<AtomicBool>,
    /// Set when the server starts shutting down.
    draining: AtomicBool,
    /// `--public-url`, once set.
    public_url: std::sync::OnceLock<String>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State serving the latest snapshot of `store`, with the default limits.
    pub async fn latest(store: Store) -> ess_query::Result<Self> {
        Self::open(store, Limits::default()).await
    }

    /// State serving the latest snapshot of `store`, bounded by `limits`.
    pub async fn open(store: Store, limits: Limits) -> ess_query::Result<Self> {
        let catalog = Catalog::new(store.store.clone(), store.url.clone());
        let runtime = QueryRuntime::new(store.store.clone(), limits.query_config())?;
        let manifest = catalog.latest().await?;
        let served = Arc::new(Served::open(&catalog, &runtime, manifest).await?);
        let ready = Arc::new(AtomicBool::new(false));
        index_in_background(&served, Some(ready.clone()));
        Ok(AppState(Arc::new(Shared {
            store,
            catalog,
            runtime,
            limits: Arc::new(limits),
            metrics: Arc::new(Metrics::new()),
            current: RwLock::new(served),
            history: moka::future::Cache::new(HISTORY_ENGINES),
            ready,
            draining: AtomicBool::new(false),
            public_url: std::sync::OnceLock::new(),
        })))
    }

    /// Sets the address links in answers start with (`--public-url`); once.
    pub fn set_public_url(&self, url: Option<String>) {
        if let Some(url) = url {
            let _ = self.public_url.set(url);
        }
    }

    /// `--public-url`, if given.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.get().map(String::as_str)
    }

    /// The snapshot served now. A request holds on to it, so it finishes on the
    /// snapshot it started with even if a newer one is swapped in meanwhile.
    pub fn current(&self) -> Arc<Served> {
        self.current.read().expect("lock").clone()
    }

    /// Whether the server should get traffic: its first snapshot's search index is
    /// built and it is not shutting down.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.draining.load(Ordering::Acquire)
    }

    /// Marks the server as shutting down (`/readyz` answers 503 from now on).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
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
        self.catalog.forget_listing().await;
        let manifest = self.catalog.manifest(latest).await?;
        let id = manifest.snapshot_id.clone();
        let fresh = Arc::new(Served::open(&self.catalog, &self.runtime, manifest).await?);
        index_in_background(&fresh, None);
        let old = std::mem::replace(&mut *self.current.write().expect("lock"), fresh);
        // Only the served snapshot keeps a search index; past ones scan.
        old.engine.drop_search_index();
        self.history
            .insert(old.manifest().sequence, old.clone())
            .await;
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

    /// The snapshot `id` (`000002` or `2`; the current one when `None`), opened on
    /// first use and kept among the last few; concurrent requests for a snapshot not
    /// open yet share one opening.
    pub async fn snapshot(&self, id: Option<&str>) -> ess_query::Result<Arc<Served>> {
        let current = self.current();
        let Some(id) = id else {
            return Ok(current);
        };
        let seq = self.catalog.resolve(id).await?;
        self.by_sequence(current, seq).await
    }

    async fn by_sequence(&self, current: Arc<Served>, seq: u64) -> ess_query::Result<Arc<Served>> {
        if seq == current.manifest().sequence {
            return Ok(current);
        }
        self.history
            .try_get_with(seq, async {
                let manifest = self.catalog.manifest(seq).await?;
                Ok(Arc::new(
                    Served::open(&self.catalog, &self.runtime, manifest).await?,
                ))
            })
            .await
            .map_err(ess_query::QueryError::from_shared)
    }

    /// The manifest of snapshot `id`, without opening its engine (the served
    /// snapshot's, or the one its commit records).
    pub async fn manifest_of(&self, id: &str) -> ess_query::Result<Arc<Manifest>> {
        let current = self.current();
        let seq = self.catalog.resolve(id).await?;
        if seq == current.manifest().sequence {
            return Ok(current.engine.shared_manifest());
        }
        Ok(Arc::new(self.catalog.manifest(seq).await?))
    }

    /// The snapshot before `served`, if any.
    pub async fn previous(&self, served: &Served) -> ess_query::Result<Option<Arc<Served>>> {
        let seq = served.manifest().sequence;
        let known = self.catalog.known_sequences().await?;
        match known.iter().rfind(|s| **s < seq) {
            Some(&prev) => Ok(Some(self.by_sequence(self.current(), prev).await?)),
            None => Ok(None),
        }
    }
}

/// Builds the search index of a snapshot now served, in the background: the server
/// answers at once, and searches scan until the index is ready. `ready` is set when
/// the build ends, whether it succeeded or not.
fn index_in_background(served: &Arc<Served>, ready: Option<Arc<AtomicBool>>) {
    let served = served.clone();
    tokio::spawn(async move {
        if let Err(e) = served.engine.build_search_index().await {
            tracing::warn!(
                snapshot = %served.manifest().snapshot_id,
                error = %e,
                "no search index: searches scan the snapshot"
            );
        }
        if let Some(ready) = ready {
            ready.store(true, Ordering::Release);
        }
    });
}
