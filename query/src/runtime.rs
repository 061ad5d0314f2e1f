//! What every snapshot engine of one store shares: one DataFusion runtime (so one
//! memory pool bounds every query at once), the store registered with it, the search
//! limits, and one cache of answers bounded by bytes.
//!
//! Snapshots never change, so neither do their answers: an answer is cached under
//! the snapshot's sequence number and the normalised request. Concurrent identical
//! requests share one computation (`moka`'s `try_get_with`): a hundred dashboards
//! asking the same uncached question cost one query, not a hundred. Errors are not
//! cached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use url::Url;

use crate::diff::SnapshotDiff;
use crate::engine::{AggregateOutput, OrganisationPage};
use crate::error::{QueryError, Result};
use crate::request::{AggregateRequest, OrganisationsRequest, SearchLimits};

/// The URL the store is registered under in DataFusion.
pub(crate) const STORE_URL: &str = "ess-store://snapshot";

/// How much the engines of one store may hold, and how long a search may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryConfig {
    /// Bytes DataFusion may hold for all queries at once (sorts and aggregations
    /// spill to disk past their share; a query that cannot is refused).
    pub memory_pool_bytes: usize,
    /// Bytes of cached answers, over every snapshot.
    pub cache_bytes: u64,
    /// Bounds of a search text.
    pub search: SearchLimits,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            memory_pool_bytes: 512 << 20,
            cache_bytes: 128 << 20,
            search: SearchLimits::default(),
        }
    }
}

/// A question whose answer is cached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Question {
    Aggregate(AggregateRequest),
    Page(OrganisationsRequest),
    /// The diff from the snapshot of this sequence number.
    DiffFrom(u64),
}

/// A cached answer.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Aggregate(Arc<AggregateOutput>),
    Page(Arc<OrganisationPage>),
    Diff(Arc<SnapshotDiff>),
}

impl Answer {
    /// Roughly the bytes it holds.
    fn bytes(&self) -> usize {
        let batches = |b: &[arrow::array::RecordBatch]| -> usize {
            b.iter().map(|b| b.get_array_memory_size()).sum()
        };
        match self {
            Answer::Aggregate(a) => batches(&a.rows) + batches(&a.total),
            Answer::Page(p) => batches(&p.batches),
            Answer::Diff(d) => d.rows.len() * 96,
        }
    }
}

/// Cache lookups, for metrics.
#[derive(Debug, Default)]
pub struct CacheCounts {
    /// Answers found in the cache.
    pub hits: AtomicU64,
    /// Answers computed (or awaited from an identical request being computed).
    pub misses: AtomicU64,
}

/// What the engines of one store share. Cheap to clone.
#[derive(Clone)]
pub struct QueryRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    env: Arc<RuntimeEnv>,
    store: Arc<dyn ObjectStore>,
    config: QueryConfig,
    answers: moka::future::Cache<(u64, Question), Answer>,
    counts: CacheCounts,
}

impl std::fmt::Debug for QueryRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRuntime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl QueryRuntime {
    /// A runtime over `store`, bounded by `config`.
    pub fn new(store: Arc<dyn ObjectStore>, config: QueryConfig) -> Result<Self> {
        let env = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(config.memory_pool_bytes)))
            .build_arc()?;
        let url = Url::parse(STORE_URL).expect("valid URL");
        env.register_object_store(&url, store.clone());
        let answers = moka::future::Cache::builder()
            .max_capacity(config.cache_bytes)
            .weigher(|_key: &(u64, Question), answer: &Answer| {
                u32::try_from(answer.bytes() + 256).unwrap_or(u32::MAX)
            })
            .build();
        Ok(QueryRuntime {
            inner: Arc::new(Inner {
                env,
                store,
                config,
                answers,
                counts: CacheCounts::default(),
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// The limits.
    pub fn config(&self) -> &QueryConfig {
        &self.inner.config
    }

    /// A DataFusion session on the shared runtime.
    pub(crate) fn session(&self) -> SessionContext {
        self.session_with(SessionConfig::new())
    }

    /// A DataFusion session on the shared runtime, configured by `config`.
    pub(crate) fn session_with(&self, config: SessionConfig) -> SessionContext {
        SessionContext::new_with_config_rt(config, self.inner.env.clone())
    }

    /// Bytes the queries running now hold in the memory pool.
    pub fn memory_reserved(&self) -> usize {
        self.inner.env.memory_pool.reserved()
    }

    /// Cache hits and misses so far.
    pub fn cache_counts(&self) -> &CacheCounts {
        &self.inner.counts
    }

    /// Bytes of answers cached now (approximate: the cache settles its accounts
    /// lazily).
    pub fn cache_bytes(&self) -> u64 {
        self.inner.answers.weighted_size()
    }

    /// The answer to `question` about snapshot `sequence`: from the cache, from an
    /// identical computation already under way, or computed by `compute`.
    pub(crate) async fn answer<F>(
        &self,
        sequence: u64,
        question: Question,
        compute: F,
    ) -> Result<Answer>
    where
        F: Future<Output = Result<Answer>>,
    {
        let key = (sequence, question);
        if let Some(hit) = self.inner.answers.get(&key).await {
            self.inner.counts.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.inner.counts.misses.fetch_add(1, Ordering::Relaxed);
        self.inner
            .answers
            .try_get_with(key, compute)
            .await
            .map_err(QueryError::from_shared)
    }
}
