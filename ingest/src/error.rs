//! Errors of the ingest crate.

use std::path::PathBuf;

/// Why an ingest could not publish a snapshot. Row-level problems are not errors:
/// they go to the quarantine or become quality flags.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No registry file was given.
    #[error(
        "no registry file given: pass at least one --cooperatives, --associations or --mutuals FILE"
    )]
    NoSources,
    /// A file could not be opened or read.
    #[error("{file}: cannot read the file: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file passed with a flag for another kind of file.
    #[error("{file} looks like {looks_like}, not what {flag} takes: {advice}")]
    WrongKind {
        /// The file.
        file: String,
        /// The flag it was passed with.
        flag: &'static str,
        /// What it looks like.
        looks_like: &'static str,
        /// What to do.
        advice: String,
    },
    /// A required column is not among the file's headers.
    #[error(
        "{file}: no column for `{field}` (expected a header such as {expected}); headers found: {found}"
    )]
    MissingColumn {
        /// The file.
        file: String,
        /// The canonical field.
        field: &'static str,
        /// Header spellings that would have matched.
        expected: String,
        /// The headers the file has.
        found: String,
    },
    /// An XLSX workbook could not be read.
    #[error("{file}: not a readable XLSX workbook: {source}")]
    Xlsx {
        /// The file.
        file: String,
        /// What the parser said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No header row was found in an XLSX sheet.
    #[error(
        "{file}: sheet `{sheet}` has no header row with an `Identifiant` cell in its first 10 rows"
    )]
    NoHeaderRow {
        /// The file.
        file: String,
        /// The sheet searched.
        sheet: String,
    },
    /// A file's rows differed between the two passes of an ingest.
    #[error(
        "{file} changed while it was being read (its rows differ between the two passes); ingest it again once it is complete"
    )]
    Changed {
        /// The file.
        file: String,
    },
    /// The staging area on local disk failed.
    #[error("staging on local disk failed ({path}): {source}")]
    Staging {
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A finished file could not be moved into a local store's directory.
    #[error("could not move a finished file into the store at {path}: {source}")]
    Place {
        /// Where it was to go.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Encoding record batches failed.
    #[error("writing {what} failed: {source}")]
    Encode {
        /// What was being written.
        what: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The object store failed.
    #[error("object store: {operation} `{path}` failed: {source}")]
    Store {
        /// What was attempted.
        operation: &'static str,
        /// The object.
        path: String,
        /// The cause.
        source: object_store::Error,
    },
    /// The snapshot table could not be read, committed to or vacuumed.
    #[error(transparent)]
    Table(#[from] ess_table::TableError),
    /// A background task died.
    #[error("ingest task failed: {0}")]
    Task(String),
    /// A task on the blocking pool panicked or was cancelled.
    #[error("an ingest task stopped: {source}")]
    Join {
        /// The cause.
        #[from]
        source: tokio::task::JoinError,
    },
}

/// Result alias of the ingest crate.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
