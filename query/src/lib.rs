//! Aggregates and searches over a published snapshot.
//!
//! A typed API (a request struct in, Arrow batches out) over DataFusion; it knows
//! nothing of GraphQL. Plans are built with the DataFrame/`Expr` API from validated
//! requests, never by formatting text into SQL.
//!
//! - [`Catalog`]: the snapshots of a store, from its Delta table's log.
//! - [`SnapshotEngine`]: one snapshot's Parquet registered with DataFusion;
//!   [`SnapshotEngine::aggregate`] and [`SnapshotEngine::organisations`].
//! - [`QueryRuntime`]: what the engines of one store share (memory pool, answer cache,
//!   limits).

pub mod catalog;
pub mod diff;
pub mod engine;
pub mod error;
pub mod request;
pub mod runtime;
pub mod search;
mod trigram_filter;

pub use catalog::Catalog;
pub use diff::{DiffCounts, DiffRow, SnapshotDiff, diff};
pub use engine::{AggregateOutput, Group, GroupKey, OrganisationPage, SnapshotEngine};
pub use error::{QueryError, Result};
pub use request::{
    AggregateRequest, Dimension, Filter, MAX_PAGE, OrganisationsRequest, SearchLimits,
};
pub use runtime::{QueryConfig, QueryRuntime};
pub use search::SearchIndex;
