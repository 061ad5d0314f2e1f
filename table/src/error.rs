//! Errors of the snapshot table.

/// What went wrong reading or writing the snapshot table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The store holds snapshots in the layout of earlier versions.
    #[error(
        "{store} holds snapshots in the old layout (a `_manifests/` folder), which this version does not read: publish into a new store with `ess ingest --store NEW_STORE ...` (the registries are the source of truth; nothing else needs moving)"
    )]
    OldLayout {
        /// How messages name the store (`the store`, or its URL).
        store: String,
    },
    /// A Delta Lake operation failed.
    #[error("{operation}: {source}")]
    Delta {
        /// What was being done.
        operation: &'static str,
        /// delta-rs's error.
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
    /// The object store failed.
    #[error("{operation} `{path}`: {source}")]
    Store {
        /// What was being done.
        operation: &'static str,
        /// Where.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Concurrent ingests kept taking the versions this one tried.
    #[error(
        "no table version could be committed after {attempts} attempts: other ingests kept committing first"
    )]
    Contention {
        /// Attempts made.
        attempts: u32,
    },
    /// A table version that is not a snapshot of this service.
    #[error("table version {version} is not a snapshot: {why}")]
    NotASnapshot {
        /// The version.
        version: u64,
        /// Why.
        why: String,
    },
}

impl TableError {
    /// A delta-rs error from `operation`.
    pub(crate) fn delta(
        operation: &'static str,
    ) -> impl FnOnce(deltalake::DeltaTableError) -> Self {
        move |source| TableError::Delta {
            operation,
            source: Box::new(source),
        }
    }

    /// Whether retrying may help: a store that failed for a moment.
    pub fn is_transient(&self) -> bool {
        match self {
            TableError::Store { source, .. } => crate::retry::is_transient(source),
            TableError::Delta { source, .. } => match source.as_ref() {
                deltalake::DeltaTableError::ObjectStore { source } => {
                    crate::retry::is_transient(source)
                }
                deltalake::DeltaTableError::Transaction { source } => matches!(
                    source,
                    deltalake::kernel::transaction::TransactionError::ObjectStore { source }
                        if crate::retry::is_transient(source)
                ),
                // The kernel reports a store failure as its own error, in text.
                deltalake::DeltaTableError::KernelError(_)
                | deltalake::DeltaTableError::Generic(_)
                | deltalake::DeltaTableError::GenericError { .. } => true,
                _ => false,
            },
            _ => false,
        }
    }
}

/// Result alias of the table crate.
pub type Result<T, E = TableError> = std::result::Result<T, E>;
