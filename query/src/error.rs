//! Errors of the query crate.

/// What went wrong answering a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The store holds no committed snapshot yet.
    #[error(
        "the store `{store}` has no snapshot yet: publish one with `ess ingest --store {store} ...`"
    )]
    NoSnapshot {
        /// The store.
        store: String,
    },
    /// No snapshot has the id asked for.
    #[error("no snapshot `{id}` in this store; `snapshots` lists the ones there are")]
    UnknownSnapshot {
        /// The id asked for.
        id: String,
    },
    /// A snapshot a vacuum removed.
    #[error(
        "snapshot `{id}` was removed by a vacuum and can no longer be read; `snapshots` lists the ones there are"
    )]
    Expired {
        /// Its id.
        id: String,
    },
    /// The snapshot table could not be read.
    #[error(transparent)]
    Table(#[from] ess_table::TableError),
    /// A snapshot's report could not be read or parsed.
    #[error("`{path}` is unreadable: {source}")]
    Report {
        /// Its path.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A request that cannot be answered as asked.
    #[error("invalid {field}: {message}")]
    InvalidRequest {
        /// The argument at fault.
        field: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The query engine failed.
    #[error("query engine: {0}")]
    Engine(#[source] datafusion::error::DataFusionError),
    /// Parquet could not be read directly (the search index).
    #[error("parquet: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// Arrow kernels failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// An internal invariant did not hold.
    #[error("internal: {0}")]
    Internal(String),
    /// Stored data does not follow the canonical schema.
    #[error("stored data: {0}")]
    Schema(#[from] ess_schemas::SchemaError),
    /// The error of a computation several identical requests waited on.
    #[error("{0}")]
    Shared(std::sync::Arc<QueryError>),
    /// The query needed more memory than the server's pool could give it.
    #[error("the query needs more memory than the server can give it now")]
    ResourcesExhausted {
        /// DataFusion's error.
        source: datafusion::error::DataFusionError,
    },
}

impl QueryError {
    /// A cache's shared error, owned again when this was its only holder.
    pub fn from_shared(e: std::sync::Arc<QueryError>) -> Self {
        std::sync::Arc::try_unwrap(e).unwrap_or_else(QueryError::Shared)
    }

    /// The error itself, through the sharing of identical requests.
    pub fn root(&self) -> &QueryError {
        match self {
            QueryError::Shared(shared) => shared.root(),
            other => other,
        }
    }
}

/// Result alias of the query crate.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        if matches!(e.find_root(), D::ResourcesExhausted(_)) {
            QueryError::ResourcesExhausted { source: e }
        } else {
            QueryError::Engine(e)
        }
    }
}
