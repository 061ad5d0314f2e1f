//! An object store wrapper that injects faults: transient errors at a rate, latency,
//! permanent errors on chosen paths, and lost acknowledgements (the write happens, the
//! caller is told it failed).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, stream};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// Which faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of operations that fail with a transient error before reaching the store.
    pub transient_rate: f64,
    /// Added to every operation.
    pub latency: Duration,
    /// Writes to paths containing this fail with "permission denied".
    pub deny_writes_containing: Option<String>,
    /// The first write to a path containing this is performed, then reported failed.
    pub lose_ack_once_containing: Option<String>,
}

/// What was injected, so tests can prove the faults happened.
#[derive(Debug, Default)]
pub struct Injected {
    /// Transient errors.
    pub transient: AtomicU64,
    /// Permanent errors.
    pub denied: AtomicU64,
    /// Lost acknowledgements.
    pub lost_acks: AtomicU64,
}

/// The wrapper.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    faults: Faults,
    rng: Mutex<u64>,
    ack_lost: Mutex<bool>,
    /// Counters of injected faults.
    pub injected: Arc<Injected>,
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

impl FaultyStore {
    /// Wraps `inner`; `seed` makes the fault sequence reproducible.
    pub fn new(inner: Arc<dyn ObjectStore>, faults: Faults, seed: u64) -> Self {
        FaultyStore {
            inner,
            faults,
            rng: Mutex::new(seed | 1),
            ack_lost: Mutex::new(false),
            injected: Arc::new(Injected::default()),
        }
    }

    fn roll(&self) -> f64 {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x >> 11) as f64 / (1u64 << 53) as f64
    }

    async fn before(&self, op: &'static str) -> Result<()> {
        if !self.faults.latency.is_zero() {
            tokio::time::sleep(self.faults.latency).await;
        }
        if self.roll() < self.faults.transient_rate {
            self.injected.transient.fetch_add(1, Ordering::SeqCst);
            return Err(transient(op));
        }
        Ok(())
    }

    fn check_write(&self, location: &Path) -> Result<()> {
        if let Some(p) = &self.faults.deny_writes_containing
            && location.as_ref().contains(p.as_str())
        {
            self.injected.denied.fetch_add(1, Ordering::SeqCst);
            return Err(object_store::Error::PermissionDenied {
                path: location.to_string(),
                source: "injected: permission denied".into(),
            });
        }
        Ok(())
    }

    fn lose_ack(&self, location: &Path) -> bool {
        let Some(p) = &self.faults.lose_ack_once_containing else {
            return false;
        };
        let mut lost = self.ack_lost.lock().unwrap();
        if !*lost && location.as_ref().contains(p.as_str()) {
            *lost = true;
            self.injected.lost_acks.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        false
    }
}

fn transient(op: &'static str) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultyStore",
        source: format!("injected transient fault in {op}: connection reset").into(),
    }
}

#[async_trait::async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.before("put").await?;
        self.check_write(location)?;
        let result = self.inner.put_opts(location, payload, opts).await?;
        if self.lose_ack(location) {
            return Err(transient("put (after writing)"));
        }
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.before("put_multipart").await?;
        self.check_write(location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.before("get").await?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.before("get_ranges").await?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        if self.roll() < self.faults.transient_rate {
            self.injected.transient.fetch_add(1, Ordering::SeqCst);
            return stream::once(async { Err(transient("list")) }).boxed();
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.before("list_with_delimiter").await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.before("copy").await?;
        self.check_write(to)?;
        self.inner.copy_opts(from, to, options).await
    }
}
