//! The snapshot table: a store's organisations as a Delta Lake table, one version
//! per snapshot, and what each snapshot keeps beside it.
//!
//! - [`SnapshotTable`]: the table of a store, opened by delta-rs on the store the
//!   service was given ([`table`]).
//! - [`SnapshotTable::publish`]: one ingest, one commit ([`commit`]).
//! - [`SnapshotTable::versions`] and [`SnapshotTable::commit`]: the log, version by
//!   version ([`log`]).
//! - [`SnapshotTable::vacuum`]: Delta's vacuum, recording the snapshots it expires
//!   ([`vacuum`]).
//! - [`stats`]: the statistics of a data file, for engines to skip files.
//! - [`store`]: the store delta-rs goes through (sorted listings, retries).
//! - [`retry`]: retries of transient store errors.
//!
//! Paths and formats are in `ess_schemas::layout`. `ingest` writes through this crate
//! and `query` reads through it, so neither needs the other.

pub mod commit;
pub mod error;
pub mod log;
pub mod retry;
pub mod stats;
pub mod store;
pub mod table;
pub mod vacuum;

pub use commit::{DataFile, NewSnapshot};
pub use error::{Result, TableError};
pub use log::{Commit, VacuumRecord};
pub use retry::RetryPolicy;
pub use table::SnapshotTable;
pub use vacuum::TableVacuum;
