//! A store rooted at a prefix of another, for `s3://bucket/prefix`.
//!
//! object_store 0.13's `PrefixStore` returns `get`/`head` metadata whose location still
//! carries the prefix; DataFusion, listing a table file through `head`, then finds the
//! location outside the table and sees no file at all (an empty table, no error). This
//! wrapper delegates to `PrefixStore` and reports the location that was asked for.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// `inner`, seen from under `prefix`.
#[derive(Debug)]
pub struct PrefixedStore {
    inner: PrefixStore<Arc<dyn ObjectStore>>,
}

impl PrefixedStore {
    /// A view of `inner` rooted at `prefix`.
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: impl Into<Path>) -> Self {
        PrefixedStore {
            inner: PrefixStore::new(inner, prefix),
        }
    }
}

impl fmt::Display for PrefixedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait::async_trait]
impl ObjectStore for PrefixedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let mut result = self.inner.get_opts(location, options).await?;
        result.meta.location = location.clone();
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn head_and_get_report_the_location_asked_for() {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let store = PrefixedStore::new(inner.clone(), "a/b");
        let p = Path::from("x/y.parquet");
        store
            .put(&p, PutPayload::from_static(b"data"))
            .await
            .unwrap();
        assert!(inner.head(&Path::from("a/b/x/y.parquet")).await.is_ok());
        assert_eq!(store.head(&p).await.unwrap().location, p);
        assert_eq!(store.get(&p).await.unwrap().meta.location, p);
        let listed: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(store.list(None))
            .await
            .unwrap();
        assert_eq!(listed[0].location, p);
    }
}
