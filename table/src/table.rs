//! The organisations' Delta table of one store: where it is, and delta-rs opened on
//! the store the service was given (with its prefix, retries or injected faults), not
//! on a URL of its own.
//!
//! delta-rs finds how to commit to a table from its URL's scheme. The table is opened
//! under the scheme `ess` for every backend, registered once with delta-rs's default
//! log store: each commit is one conditional create of `_delta_log/<version>.json`
//! (`PutMode::Create`: a hard link on a local disk, `If-None-Match: *` on S3), so two
//! writers can never take the same version, with no lock service. It reads the store
//! through [`DeltaStore`] (sorted listings and retries: `crate::store`). External engines open the same
//! table at its real URL (`ess info --json` prints it).

use std::sync::{Arc, Once};

use deltalake::logstore::{LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig};
use deltalake::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use ess_schemas::layout::{OLD_MANIFEST_DIR, TABLE_DIR};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use url::Url;

use crate::error::{Result, TableError};
use crate::retry::RetryPolicy;
use crate::store::DeltaStore;

/// The scheme the table is opened under.
const SCHEME: &str = "ess";

/// Commits with the default log store (conditional create of each log entry).
struct ConditionalCreate;

impl LogStoreFactory for ConditionalCreate {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(deltalake::logstore::default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

fn register_scheme() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        deltalake::logstore::logstore_factories().insert(
            Url::parse(&format!("{SCHEME}://")).expect("valid URL"),
            Arc::new(ConditionalCreate),
        );
    });
}

/// The organisations' table of a store.
#[derive(Clone)]
pub struct SnapshotTable {
    store: Arc<dyn ObjectStore>,
    /// What delta-rs reads and writes through.
    delta_store: Arc<dyn ObjectStore>,
    /// How every call of the table on the store is retried.
    pub(crate) retry: RetryPolicy,
    name: String,
    url: Url,
}

impl std::fmt::Debug for SnapshotTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotTable")
            .field("store", &self.name)
            .finish_non_exhaustive()
    }
}

impl SnapshotTable {
    /// The table of `store`; `name` is how messages refer to the store.
    pub fn new(store: Arc<dyn ObjectStore>, name: impl Into<String>) -> Self {
        Self::with_retry(store, name, RetryPolicy::default())
    }

    /// The table of `store`, whose calls are retried by `retry`.
    pub fn with_retry(
        store: Arc<dyn ObjectStore>,
        name: impl Into<String>,
        retry: RetryPolicy,
    ) -> Self {
        register_scheme();
        SnapshotTable {
            delta_store: Arc::new(DeltaStore::new(store.clone(), retry)),
            retry,
            store,
            name: name.into(),
            url: Url::parse(&format!("{SCHEME}:///{TABLE_DIR}")).expect("valid URL"),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// How messages name the store.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn builder(&self) -> Result<DeltaTableBuilder> {
        Ok(DeltaTableBuilder::from_url(self.url.clone())
            .map_err(TableError::delta("open the table"))?
            .with_storage_backend(self.delta_store.clone(), self.url.clone()))
    }

    /// The table, not loaded (to create it, or to read its log).
    pub(crate) fn unloaded(&self) -> Result<DeltaTable> {
        self.builder()?
            .build()
            .map_err(TableError::delta("open the table"))
    }

    /// The table at its latest version; `None` when the store has no table yet.
    pub async fn load(&self) -> Result<Option<DeltaTable>> {
        // A store without a log has no table: said here, so that the kernel does not
        // log an error for what is the first ingest's normal case.
        if !self.has_log().await? {
            self.check_layout().await?;
            return Ok(None);
        }
        match self.builder()?.load().await {
            Ok(table) => Ok(Some(table)),
            Err(DeltaTableError::NotATable(_)) => {
                self.check_layout().await?;
                Ok(None)
            }
            Err(e) => Err(TableError::delta("load the table")(e)),
        }
    }

    /// Whether the table's log holds any file.
    async fn has_log(&self) -> Result<bool> {
        self.holds_any(&crate::log::log_dir()).await
    }

    /// An error when the store holds snapshots in the old layout.
    pub async fn check_layout(&self) -> Result<()> {
        if self.holds_any(OLD_MANIFEST_DIR).await? {
            return Err(TableError::OldLayout {
                store: self.name.clone(),
            });
        }
        Ok(())
    }

    /// Whether any object is under `prefix`: one listing page, retried, not the whole
    /// listing.
    async fn holds_any(&self, prefix: &str) -> Result<bool> {
        let prefix = Path::from(prefix);
        let first = self
            .retry
            .run("list", || async {
                self.store.list(Some(&prefix)).next().await.transpose()
            })
            .await
            .map_err(|source| TableError::Store {
                operation: "list",
                path: prefix.to_string(),
                source,
            })?;
        Ok(first.is_some())
    }
}
