//! An ingest job: files in, one new immutable snapshot out.
//!
//! ```text
//! sources ─► stage (blocking, local temp dir) ─► upload the organisations under
//!         organisations/<run>/, the rest under snapshots/<run>/
//!         ─► the download files (every organisation, one per family) for the
//!            version the commit will take, under snapshots/<run>/downloads/
//!         ─► commit: the table's next Delta version (a conditional create, last)
//! ```
//!
//! Each run writes under a fresh UUID (`organisations/<run>/`, `snapshots/<run>/`), so
//! concurrent runs never write the same object. A part is cut where the family
//! changes, so each file holds one family; its statistics for the commit are read from
//! its own footer, and its upload starts while the next part is written. Into a local
//! directory store (`IngestJobBuilder::local_root`) finished data files are moved by
//! the file system instead (`place_file`: a rename, or a kernel copy to a `name#0` the
//! store's listings skip, renamed once whole), so no upload buffers sit beside the
//! ingest. The report and the commit always go through the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ess_schemas::layout::{
    CommitRecord, DownloadFile, IngestReport, MANIFEST_FORMAT, Manifest, PARQUET_MEDIA_TYPE,
    QUARANTINE_FILE, REPORT_FILE, SourceRef, download_path, organisations_part_path,
    quarantine_path, report_path, rollup_path, snapshot_id, table_part_path,
};
use ess_table::{DataFile, NewSnapshot, RetryPolicy, SnapshotTable};
use futures::TryStreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::downloads::{
    DATASET, LICENCE, Provenance, hash_file, sha256_hex, write_organisation_downloads,
};
use crate::error::{IngestError, Result};
use crate::progress::Progress;
use crate::source::{LocalData, SourceData, SourceFile};
use crate::stage::{LocalSource, ParquetLayout, stage};

/// What an ingest did, as numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestMetrics {
    /// Rows read in all files.
    pub rows_read: u64,
    /// Rows that became organisations.
    pub accepted: u64,
    /// Rows sent to the quarantine.
    pub rejected: u64,
    /// Accepted rows replaced by a later duplicate.
    pub superseded: u64,
    /// Organisations published.
    pub organisations: u64,
    /// Bytes of registry files read.
    pub bytes_read: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The result of a successful ingest.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    /// The committed manifest.
    pub manifest: Manifest,
    /// The ingest report (also stored with the snapshot).
    pub report: IngestReport,
    /// Counts and timings.
    pub metrics: IngestMetrics,
}

/// An ingest job; build it with [`IngestJob::builder`].
#[derive(Debug)]
pub struct IngestJob {
    store: Arc<dyn ObjectStore>,
    sources: Vec<SourceFile>,
    progress: Arc<Progress>,
    layout: ParquetLayout,
    retry: RetryPolicy,
    local_root: Option<PathBuf>,
}

/// Builds an [`IngestJob`].
#[derive(Debug, Default)]
pub struct IngestJobBuilder {
    store: Option<Arc<dyn ObjectStore>>,
    sources: Vec<SourceFile>,
    progress: Option<Arc<Progress>>,
    layout: ParquetLayout,
    retry: RetryPolicy,
    local_root: Option<PathBuf>,
}

impl IngestJobBuilder {
    /// How transient store errors are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The store to publish to (required).
    pub fn store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds a registry file; files are read in the order added.
    pub fn source(mut self, source: SourceFile) -> Self {
        self.sources.push(source);
        self
    }

    /// Adds registry files.
    pub fn sources(mut self, sources: impl IntoIterator<Item = SourceFile>) -> Self {
        self.sources.extend(sources);
        self
    }

    /// Shares progress counters with a display.
    pub fn progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Parquet layout of the published files.
    pub fn layout(mut self, layout: ParquetLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Says that the store is the local directory `root` (an `object_store`
    /// `LocalFileSystem` rooted there). Finished data files are then moved into it by
    /// the file system (`place_file`: a rename, or a copy made by the kernel from
    /// another file system) instead of streamed through the store's upload buffers:
    /// the same objects at the same paths, without the ~12 MiB of buffers uploads hold
    /// beside the ingest, or a second write of every byte. The report and the
    /// commit still go through the store, so commits keep their conditional create.
    pub fn local_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.local_root = Some(root.into());
        self
    }

    /// The job. Fails when no store or no source was given.
    pub fn build(self) -> Result<IngestJob> {
        if self.sources.is_empty() {
            return Err(IngestError::NoSources);
        }
        Ok(IngestJob {
            store: self
                .store
                .ok_or_else(|| IngestError::Task("no store given".into()))?,
            sources: self.sources,
            progress: self.progress.unwrap_or_default(),
            layout: self.layout,
            retry: self.retry,
            local_root: self.local_root,
        })
    }
}

fn store_err<'a>(
    operation: &'static str,
    path: &'a ObjectPath,
) -> impl Fn(object_store::Error) -> IngestError + 'a {
    move |source| IngestError::Store {
        operation,
        path: path.to_string(),
        source,
    }
}

impl IngestJob {
    /// Starts building a job.
    pub fn builder() -> IngestJobBuilder {
        IngestJobBuilder::default()
    }

    /// Reads every file and publishes one new snapshot.
    pub async fn run(self) -> Result<IngestOutcome> {
        let started = Instant::now();
        let run_id = uuid::Uuid::new_v4().to_string();
        let span = tracing::info_span!("ingest", run_id = %run_id, files = self.sources.len());
        let _enter = span.enter();
        let table = SnapshotTable::with_retry(self.store.clone(), "the store", self.retry);
        // A store this version cannot commit to is said before anything is read.
        table.check_layout().await?;
        let dir = tempfile::Builder::new()
            .prefix("ess-ingest-")
            .tempdir()
            .map_err(|source| IngestError::Staging {
                path: std::env::temp_dir(),
                source,
            })?;

        let local = materialise(&self.sources, dir.path(), &self.retry).await?;
        for s in &local {
            crate::file_kind::check_kind(s)?;
        }
        let mut total = 0;
        for s in &local {
            total += s.data.len().map_err(|source| IngestError::Io {
                file: s.name.clone(),
                source,
            })?;
        }
        // Every file is read twice (identities, then rows).
        self.progress
            .bytes_total
            .store(2 * total, std::sync::atomic::Ordering::Relaxed);

        let progress = self.progress.clone();
        let layout = self.layout;
        let staging_dir = dir.path().to_owned();
        // Each organisations part is uploaded as soon as it is complete, while the
        // next is written; nothing is visible until the commit exists.
        let (part_tx, mut part_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, PathBuf)>();
        let staging = tokio::task::spawn_blocking(move || {
            stage(&local, &staging_dir, layout, &progress, &mut |n, path| {
                part_tx
                    .send((n, path.to_owned()))
                    .map_err(|_| IngestError::Task("the upload of finished parts stopped".into()))
            })
        });
        let uploads = async {
            let mut parts = Vec::new();
            while let Some((n, local)) = part_rx.recv().await {
                parts.push(data_file(&local, table_part_path(&run_id, n)).await?);
                self.publish_file(&local, &organisations_part_path(&run_id, n))
                    .await?;
            }
            Ok::<_, IngestError>(parts)
        };
        let (staged, uploaded) = tokio::join!(staging, uploads);
        let staged = staged?;
        // An upload failure stops the staging too: it is the cause to report.
        let parts = uploaded?;
        let staged = staged?;
        debug_assert_eq!(parts.len(), staged.organisation_parts.len());

        let mut report = IngestReport {
            run_id: run_id.clone(),
            files: staged.files,
            ..IngestReport::default()
        };
        report.total();
        debug_assert_eq!(report.organisations, staged.organisations);

        // Where each table file can be read now: moved into a local store, or still
        // staged beside an upload.
        let part_locals: Vec<PathBuf> = match &self.local_root {
            Some(root) => (0..parts.len())
                .map(|n| root.join(organisations_part_path(&run_id, n)))
                .collect(),
            None => staged.organisation_parts.clone(),
        };

        // The rest of the data; nothing is visible until the commit exists.
        self.progress.set_phase("uploading");
        let uploading = Instant::now();
        let quarantine = blocking(move || {
            let (bytes, sha256) = hash_file(&staged.quarantine)?;
            Ok((staged.quarantine, bytes, sha256))
        });
        let (quarantine_local, quarantine_bytes, quarantine_sha256) = quarantine.await?;
        self.publish_file(&quarantine_local, &quarantine_path(&run_id))
            .await?;
        self.publish_file(&staged.rollup, &rollup_path(&run_id))
            .await?;
        tracing::debug!(
            seconds = uploading.elapsed().as_secs_f64(),
            "files uploaded"
        );
        report.seconds = started.elapsed().as_secs_f64();
        let report_json = serde_json::to_vec_pretty(&report).expect("report serialises");
        let report_file = DownloadFile {
            name: REPORT_FILE.into(),
            path: report_path(&run_id),
            bytes: report_json.len() as u64,
            rows: None,
            sha256: sha256_hex(&report_json),
            media_type: "application/json".into(),
        };
        let report_location = ObjectPath::from(report_path(&run_id));
        let report_payload = PutPayload::from(report_json);
        self.retry
            .run("put report", || {
                self.store.put(&report_location, report_payload.clone())
            })
            .await
            .map_err(store_err("put", &report_location))?;
        let quarantine_file = DownloadFile {
            name: QUARANTINE_FILE.into(),
            path: quarantine_path(&run_id),
            bytes: quarantine_bytes,
            rows: Some(staged.quarantine_rows),
            sha256: quarantine_sha256,
            media_type: PARQUET_MEDIA_TYPE.into(),
        };

        let sources: Vec<SourceRef> = report
            .files
            .iter()
            .map(|f| SourceRef {
                family: f.family.clone(),
                file: f.file.clone(),
                bytes: f.bytes,
                sha256: f.sha256.clone(),
            })
            .collect();
        let writer = format!("ess {}", env!("CARGO_PKG_VERSION"));
        let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let record = CommitRecord {
            format: MANIFEST_FORMAT,
            run_id: run_id.clone(),
            rows: staged.organisations,
            rows_by_family: staged
                .rows_by_family
                .iter()
                .map(|(f, n)| (f.as_str().to_owned(), *n))
                .collect::<BTreeMap<_, _>>(),
            quarantine_rows: staged.quarantine_rows,
            sources: sources.clone(),
            writer: writer.clone(),
            created_at: Some(created_at.clone()),
            downloads: Vec::new(),
        };
        let downloads_dir = dir.path().join("downloads");
        self.progress.set_phase("committing");
        // The download files name the version the commit takes: written for it, and
        // again only if another ingest takes it first.
        let job = &self;
        let prepare = |version: u64| {
            let (record, parts, part_locals) = (&record, &parts, &part_locals);
            let (downloads_dir, run_id) = (&downloads_dir, &run_id);
            let (report_file, quarantine_file) = (&report_file, &quarantine_file);
            let provenance = Provenance {
                dataset: DATASET,
                snapshot_id: snapshot_id(version),
                created_at: created_at.clone(),
                run_id: run_id.clone(),
                licence: LICENCE,
                sources: sources.clone(),
                writer: writer.clone(),
            };
            async move {
                let (dir, locals) = (downloads_dir.clone(), part_locals.clone());
                let written = blocking(move || {
                    std::fs::create_dir_all(&dir).map_err(|source| IngestError::Staging {
                        path: dir.clone(),
                        source,
                    })?;
                    write_organisation_downloads(&dir, &locals, &provenance)
                })
                .await?;
                let mut downloads = Vec::with_capacity(written.len() + 2);
                for w in written {
                    let path = download_path(run_id, &w.name);
                    job.publish_file(&w.local, &path).await?;
                    downloads.push(DownloadFile {
                        name: w.name,
                        path,
                        bytes: w.bytes,
                        rows: Some(w.rows),
                        sha256: w.sha256,
                        media_type: w.media_type.into(),
                    });
                }
                downloads.extend([quarantine_file.clone(), report_file.clone()]);
                Ok::<_, IngestError>(NewSnapshot {
                    record: CommitRecord {
                        downloads,
                        ..record.clone()
                    },
                    files: parts.clone(),
                })
            }
        };
        let manifest = table.publish(&run_id, prepare).await?;
        let metrics = IngestMetrics {
            rows_read: report.files.iter().map(|f| f.rows_read).sum(),
            accepted: report.files.iter().map(|f| f.accepted).sum(),
            rejected: report.files.iter().map(|f| f.rejected).sum(),
            superseded: report.files.iter().map(|f| f.superseded).sum(),
            organisations: report.organisations,
            bytes_read: total,
            seconds: started.elapsed().as_secs_f64(),
        };
        tracing::info!(
            snapshot = %manifest.snapshot_id,
            organisations = metrics.organisations,
            rejected = metrics.rejected,
            superseded = metrics.superseded,
            seconds = metrics.seconds,
            "snapshot published"
        );
        Ok(IngestOutcome {
            manifest,
            report,
            metrics,
        })
    }
}

impl IngestJob {
    /// Puts a finished local file at `path` in the store: moved into a local store's
    /// directory by the file system, uploaded to any other store.
    async fn publish_file(&self, local: &Path, path: &str) -> Result<()> {
        let Some(root) = &self.local_root else {
            return upload(&self.store, local, path, &self.retry).await;
        };
        let (local, dest) = (local.to_owned(), root.join(path));
        blocking(move || {
            place_file(&local, &dest, true)
                .map_err(|source| IngestError::Place { path: dest, source })
        })
        .await
    }
}

/// Runs blocking work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await?
}

/// Moves the finished file `local` to `dest` in a local store, creating its folders.
/// A rename when both are on one file system (`rename` true), else a copy made by the
/// kernel (`std::fs::copy`: no buffer in this process) to a name the store's listings
/// skip (`name#0`, as `LocalFileSystem` stages its own writes), renamed into place once
/// whole. Either way `dest` appears complete or not at all.
pub(crate) fn place_file(local: &Path, dest: &Path, rename: bool) -> std::io::Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if rename {
        match std::fs::rename(local, dest) {
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {}
            done => return done,
        }
    }
    let mut staging = dest.as_os_str().to_owned();
    staging.push("#0");
    let staging = PathBuf::from(staging);
    let copied = std::fs::copy(local, &staging).and_then(|_| std::fs::rename(&staging, dest));
    if copied.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    copied
}

/// Brings object-store sources to local disk; local ones are used where they are.
async fn materialise(
    sources: &[SourceFile],
    dir: &Path,
    retry: &RetryPolicy,
) -> Result<Vec<LocalSource>> {
    let mut out = Vec::with_capacity(sources.len());
    for (i, s) in sources.iter().enumerate() {
        let data = match &s.data {
            SourceData::Path(p) => LocalData::Path(p.clone()),
            SourceData::Bytes(b) => LocalData::Bytes(b.clone()),
            SourceData::Object { store, path } => {
                let local = dir.join(format!("source-{i}"));
                download(store, path, &local, retry).await?;
                LocalData::Path(local)
            }
        };
        out.push(LocalSource {
            family: s.family,
            name: s.name.clone(),
            data,
        });
    }
    Ok(out)
}

async fn download(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
    local: &Path,
    retry: &RetryPolicy,
) -> Result<()> {
    retry
        .run("download", || async {
            let mut stream = store.get(path).await?.into_stream();
            let mut file = tokio::fs::File::create(local).await.map_err(io_generic)?;
            while let Some(chunk) = stream.try_next().await? {
                file.write_all(&chunk).await.map_err(io_generic)?;
            }
            file.flush().await.map_err(io_generic)
        })
        .await
        .map_err(store_err("get", path))
}

fn io_generic(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "local staging",
        source: Box::new(e),
    }
}

/// Uploads a local file; a failed attempt is aborted and the whole upload retried.
async fn upload(
    store: &Arc<dyn ObjectStore>,
    local: &Path,
    path: &str,
    retry: &RetryPolicy,
) -> Result<()> {
    let location = ObjectPath::from(path);
    retry
        .run("upload", || async {
            let file = tokio::fs::File::open(local).await.map_err(io_generic)?;
            // Large reads: each read of a tokio file is a trip to the blocking pool.
            let mut file = tokio::io::BufReader::with_capacity(1 << 20, file);
            // Uploads run beside the ingest: two parts of S3's smallest size in flight
            // at most, so memory stays flat (8 MiB × 3 cost ~20 MiB more at 10M rows).
            let mut writer = BufWriter::with_capacity(store.clone(), location.clone(), 5 << 20)
                .with_max_concurrency(2);
            match tokio::io::copy_buf(&mut file, &mut writer).await {
                Ok(_) => writer.shutdown().await.map_err(unwrap_io),
                Err(e) => {
                    let _ = writer.abort().await;
                    Err(unwrap_io(e))
                }
            }
        })
        .await
        .map_err(|source| IngestError::Store {
            operation: "upload",
            path: path.to_owned(),
            source,
        })
}

/// `BufWriter` reports store errors as `io::Error`s wrapping them; unwrap them so that
/// permanent ones stay permanent.
fn unwrap_io(e: std::io::Error) -> object_store::Error {
    match e.downcast::<object_store::Error>() {
        Ok(inner) => inner,
        Err(e) => io_generic(e),
    }
}

/// A finished organisations part, for its commit: its path in the table, size and
/// statistics (read from its own footer).
async fn data_file(local: &Path, path: String) -> Result<DataFile> {
    let file = local.to_owned();
    blocking(move || {
        let io = |source| IngestError::Io {
            file: file.display().to_string(),
            source,
        };
        let f = std::fs::File::open(&file).map_err(io)?;
        let size = f.metadata().map_err(io)?.len();
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&f)
            .map_err(|e| IngestError::Encode {
                what: format!("the statistics of {}", file.display()),
                source: Box::new(e),
            })?;
        Ok(DataFile {
            path,
            size,
            stats: Some(ess_table::stats::file_stats(&meta)),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{EXPECTED_AGGREGATES, sample_sources};
    use object_store::memory::InMemory;

    /// The embedded samples, ingested into `store` (moved into `local_root` by the file
    /// system when given).
    async fn ingest_samples(
        store: Arc<dyn ObjectStore>,
        local_root: Option<&Path>,
    ) -> Result<IngestOutcome> {
        let mut job = IngestJob::builder().store(store).sources(sample_sources());
        if let Some(root) = local_root {
            job = job.local_root(root);
        }
        job.build()?.run().await
    }

    #[tokio::test]
    async fn samples_publish_with_the_expected_counts() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let outcome = ingest_samples(store.clone(), None).await.unwrap();
        let expected: serde_json::Value = serde_json::from_str(EXPECTED_AGGREGATES).unwrap();
        let report = &outcome.report;
        assert!(report.reconciles(), "{report:#?}");
        for (family, totals) in &report.families {
            let rejected = expected["rejected"][family].as_u64().unwrap_or(0);
            let superseded = expected["superseded"][family].as_u64().unwrap_or(0);
            assert_eq!(totals.rejected, rejected, "rejected {family}: {report:#?}");
            assert_eq!(
                totals.superseded, superseded,
                "superseded {family}: {report:#?}"
            );
        }
        assert_eq!(report.organisations, expected["total"].as_u64().unwrap());
        assert_eq!(outcome.manifest.rows, report.organisations);
        assert_eq!(outcome.manifest.snapshot_id, "000001");
        let table = SnapshotTable::new(store.clone(), "test");
        // Version 0 creates the table; version 1 is the snapshot.
        assert_eq!(table.versions().await.unwrap(), [0, 1]);

        // A second ingest takes the next number and leaves the first untouched.
        let second = crate::samples::publish_first_sample(&store).await;
        assert_eq!(second.manifest.sequence, 2);
        assert_ne!(second.manifest.run_id, outcome.manifest.run_id);
        store
            .head(&ObjectPath::from(
                outcome.manifest.organisations_parquet[0].as_str(),
            ))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn racing_ingests_take_consecutive_versions() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let (a, b) = tokio::join!(
            crate::samples::publish_first_sample(&store),
            crate::samples::publish_first_sample(&store)
        );
        let mut versions = [a.manifest.sequence, b.manifest.sequence];
        versions.sort_unstable();
        assert_eq!(versions, [1, 2]);
        assert_ne!(a.manifest.run_id, b.manifest.run_id);
    }

    #[tokio::test]
    async fn a_local_store_receives_its_data_files_by_the_file_system() {
        let root = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(root.path()).unwrap());
        let placed = ingest_samples(store.clone(), Some(root.path()))
            .await
            .unwrap();
        // The same snapshot as one uploaded through a store.
        let uploaded = ingest_samples(Arc::new(InMemory::new()), None)
            .await
            .unwrap();
        assert_eq!(placed.report.organisations, uploaded.report.organisations);
        assert_eq!(placed.manifest.rows, uploaded.manifest.rows);
        let m = &placed.manifest;
        let mut data: Vec<&String> = m.organisations_parquet.iter().collect();
        data.push(&m.quarantine_parquet);
        data.extend(&m.rollup_parquet);
        for path in data {
            // In place, whole (a Parquet file ends with its magic), and seen by the store.
            let bytes = std::fs::read(root.path().join(path)).unwrap();
            assert!(bytes.ends_with(b"PAR1"), "{path}");
            let meta = store.head(&ObjectPath::from(path.as_str())).await.unwrap();
            assert_eq!(meta.size, bytes.len() as u64, "{path}");
        }
        // No staging name is left behind.
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.path().to_owned()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    dirs.push(e.path());
                } else {
                    on_disk.push(e.path());
                }
            }
        }
        assert_eq!(on_disk.len(), listed.len(), "{on_disk:?}");
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_placed_fails_the_ingest_naming_where_and_commits_nothing() {
        let root = tempfile::tempdir().unwrap();
        // `snapshots` is a file, so no run folder can be made under it.
        std::fs::write(root.path().join("snapshots"), b"in the way").unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(root.path()).unwrap());
        let err = ingest_samples(store.clone(), Some(root.path()))
            .await
            .unwrap_err();
        let IngestError::Place { path, .. } = &err else {
            panic!("{err}");
        };
        assert!(path.starts_with(root.path().join("snapshots")), "{err}");
        assert!(
            err.to_string()
                .contains("could not move a finished file into the store")
        );
        let table = SnapshotTable::new(store, "test");
        assert!(table.versions().await.unwrap().is_empty());
    }

    #[test]
    fn a_placed_file_is_moved_or_copied_whole_and_a_failure_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("staged.parquet");
        let dest = dir.path().join("store/snapshots/run/part-00000.parquet");
        // Renamed: the staged file is gone, its bytes are at the destination.
        std::fs::write(&staged, b"part one").unwrap();
        place_file(&staged, &dest, true).unwrap();
        assert!(!staged.exists());
        assert_eq!(std::fs::read(&dest).unwrap(), b"part one");
        // Copied (as across file systems): through `name#0`, renamed when whole.
        let dest2 = dir.path().join("store/snapshots/run/quarantine.parquet");
        std::fs::write(&staged, b"the quarantine").unwrap();
        place_file(&staged, &dest2, false).unwrap();
        assert_eq!(std::fs::read(&dest2).unwrap(), b"the quarantine");
        let names: Vec<_> = std::fs::read_dir(dest2.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains('#')), "{names:?}");
        // A destination that cannot be written: an error, and no staging file.
        let blocked = dir.path().join("store/snapshots/run/rollup.parquet");
        std::fs::create_dir_all(&blocked).unwrap();
        std::fs::write(blocked.join("inside"), b"x").unwrap();
        assert!(place_file(&staged, &blocked, false).is_err());
        assert!(
            !dir.path()
                .join("store/snapshots/run/rollup.parquet#0")
                .exists()
        );
        assert!(place_file(&staged, &blocked, true).is_err());
        assert!(staged.exists(), "a failed move keeps the staged file");
    }

    #[test]
    fn a_job_needs_sources() {
        let err = IngestJob::builder()
            .store(Arc::new(InMemory::new()))
            .build()
            .unwrap_err();
        assert!(matches!(err, IngestError::NoSources));
    }
}
