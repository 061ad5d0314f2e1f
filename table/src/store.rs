//! The store delta-rs reads and writes through: the service's store, with its
//! listings sorted and its transient errors retried.
//!
//! - Sorted listings: the Delta kernel reads a table's log by listing `_delta_log/`
//!   and expects the entries in order, as S3, Azure and GCS list them; a local
//!   directory lists them in no order. (The kernel sorts for itself only under
//!   `file://` URLs, which it then reads from the local disk directly, bypassing the
//!   store it was given.) The log's listings are short: from the last checkpoint on.
//! - Retries: delta-rs does not retry a failed store call, so a storage hiccup would
//!   fail a commit or a read. Each call is retried here by the service's
//!   [`RetryPolicy`]. A conditional create (a commit) retried after an error may find
//!   its own write there ("already exists" after a lost acknowledgement): the object
//!   is read back, and if it holds the same bytes the create succeeded.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

use crate::retry::RetryPolicy;

/// `inner`, with sorted listings and retried calls.
#[derive(Debug)]
pub struct DeltaStore {
    inner: Arc<dyn ObjectStore>,
    retry: RetryPolicy,
}

impl DeltaStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>, retry: RetryPolicy) -> Self {
        DeltaStore { inner, retry }
    }
}

impl fmt::Display for DeltaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeltaStore({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for DeltaStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let create = matches!(opts.mode, PutMode::Create);
        let mut tried = false;
        self.retry
            .run("put", || {
                let first = !std::mem::replace(&mut tried, true);
                let (payload, opts) = (payload.clone(), opts.clone());
                async move {
                    match self.inner.put_opts(location, payload.clone(), opts).await {
                        // A retried create that finds its own bytes: it had succeeded.
                        Err(object_store::Error::AlreadyExists { path, source })
                            if create && !first =>
                        {
                            let there = self.inner.get(location).await?.bytes().await?;
                            let ours: Vec<u8> = payload.iter().flatten().copied().collect();
                            if there.as_ref() == ours.as_slice() {
                                Ok(PutResult {
                                    e_tag: None,
                                    version: None,
                                })
                            } else {
                                Err(object_store::Error::AlreadyExists { path, source })
                            }
                        }
                        other => other,
                    }
                }
            })
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.retry
            .run("put_multipart", || {
                self.inner.put_multipart_opts(location, opts.clone())
            })
            .await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.retry
            .run("get", || self.inner.get_opts(location, options.clone()))
            .await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.retry
            .run("get_ranges", || self.inner.get_ranges(location, ranges))
            .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let (inner, retry, prefix) = (self.inner.clone(), self.retry, prefix.cloned());
        futures::stream::once(async move {
            let mut all: Vec<ObjectMeta> = retry
                .run("list", || {
                    inner.list(prefix.as_ref()).try_collect::<Vec<_>>()
                })
                .await?;
            all.sort_by(|a, b| a.location.cmp(&b.location));
            Ok::<_, object_store::Error>(futures::stream::iter(all.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let mut listed = self
            .retry
            .run("list", || self.inner.list_with_delimiter(prefix))
            .await?;
        listed.objects.sort_by(|a, b| a.location.cmp(&b.location));
        listed.common_prefixes.sort();
        Ok(listed)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.retry
            .run("copy", || self.inner.copy_opts(from, to, options.clone()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_directory_lists_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let local: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        for n in [7, 1, 12, 3, 10, 0, 5] {
            local
                .put(
                    &Path::from(format!("log/{n:020}.json")),
                    PutPayload::from_static(b"{}"),
                )
                .await
                .unwrap();
        }
        let sorted = DeltaStore::new(local, RetryPolicy::default());
        let names: Vec<String> = sorted
            .list(Some(&Path::from("log")))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(names, expected);
        let after: Vec<_> = sorted
            .list_with_offset(
                Some(&Path::from("log")),
                &Path::from(format!("log/{:020}.json", 5)),
            )
            .try_collect()
            .await
            .unwrap();
        assert_eq!(after.len(), 3);
    }
}
