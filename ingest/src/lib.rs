//! Registry files in, immutable Parquet snapshots out.
//!
//! - [`readers`]: the CSV, XLSX and JSON readers of SOURCES.md.
//! - [`normalize`]: a row's raw values become a canonical organisation or a rejection.
//! - [`job`]: [`IngestJob`] stages, deduplicates, writes Parquet and commits a snapshot.
//! - [`samples`]: the embedded sample registries.

mod dedup;
pub mod downloads;
pub mod error;
pub mod file_kind;
pub mod input_fields;
pub mod job;
pub mod normalize;
mod parquet_out;
pub mod progress;
pub mod readers;
pub mod rollup;
pub mod samples;
pub mod source;
pub mod stage;
pub mod synth;
pub mod vacuum;

pub use error::{IngestError, Result};
pub use ess_table::{RetryPolicy, retry};
pub use job::{IngestJob, IngestMetrics, IngestOutcome};
pub use progress::Progress;
pub use source::{SourceData, SourceFile};
pub use stage::ParquetLayout;
pub use vacuum::{VacuumReport, vacuum};

/// Threads for work split into independent pieces (CSV chunks to normalise, duplicate
/// index partitions to sort): the machine's cores, at least one, at most eight.
pub(crate) fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}
