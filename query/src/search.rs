//! An in-memory index that answers `organisations(filter, search, after, first)` without
//! scanning the snapshot: what a journalist's new search at national scale needs.
//!
//! Built once per served snapshot (in the background; until it is ready, DataFusion
//! answers), from the snapshot's own Parquet files:
//!
//! - every organisation's search key (its name, Arabic name and identifier normalised:
//!   `push_search_key_of`), in `org_id` order, in one buffer, each followed by a 0 byte
//!   (which neither a key nor a search word contains);
//! - `org_id`s in the same order (for `after` cursors);
//! - its dimensions packed in 8 bytes (for filters);
//! - where its row is (row number over the snapshot's parts);
//! - a bloom filter of the byte trigrams of each block of 128 keys (`grams.rs`).
//!
//! A search runs one SIMD substring scan (`memchr::memmem`) of its rarest word over the
//! blocks of the key buffer whose filter holds every trigram of every word, from the
//! cursor on; a hit's key is checked for the other words and the filter. Keys are in
//! `org_id` order, so the first page is complete after `first + 1` matching hits and
//! the scan stops. The page's rows are then read from Parquet by position (page
//! index, row selection), not by scanning.
//!
//! Matching is exactly the DataFusion path's: every word of the normalised search text
//! is a substring of the search key; filters are `IN` lists and inclusive year bounds,
//! with unknown values matching no list and no bound. Tests compare both paths.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::Int32Type;
use bytes::Bytes;
use ess_schemas::Family;
use ess_schemas::arrow_schema::{col as c, organisation_schema, push_search_key_of};
use ess_schemas::interner::Interner;
use ess_schemas::layout::Manifest;
use futures::FutureExt;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use memchr::memmem;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use crate::error::{QueryError, Result};
use crate::grams::{GramFilter, Probe};
use crate::request::{Filter, OrganisationsRequest};

/// No year: the sentinel in [`Dims::year`].
const NO_YEAR: i16 = i16::MIN;

/// An organisation's dimensions, as indexes into the index's dictionaries (0: unknown).
#[derive(Debug, Clone, Copy, Default)]
struct Dims {
    family: u8,
    region: u8,
    province: u16,
    sector: u16,
    year: i16,
}

/// Which numbers of `interner` a filter list accepts (`None`: no list, everything
/// passes; values never seen accept nothing).
fn accepts(interner: &Interner, list: &[String]) -> Option<Vec<bool>> {
    if list.is_empty() {
        return None;
    }
    let mut ok = vec![false; interner.len() + 1];
    for id in list.iter().filter_map(|v| interner.get(v)) {
        ok[id as usize] = true;
    }
    Some(ok)
}

fn family_id(family: Family) -> u8 {
    match family {
        Family::Cooperative => 1,
        Family::Association => 2,
        Family::Mutual => 3,
    }
}

/// The search index of one snapshot.
#[derive(Debug)]
pub struct SearchIndex {
    keys: Vec<u8>,
    /// Start of each key in `keys`, in `org_id` order, then the buffer's end.
    key_starts: Vec<u64>,
    org_ids: Vec<u8>,
    org_id_starts: Vec<u64>,
    dims: Vec<Dims>,
    /// Row number over the parts (in the snapshot's order) of each organisation.
    rows: Vec<u32>,
    /// Which blocks of keys may hold a word.
    grams: GramFilter,
    regions: Interner,
    provinces: Interner,
    sectors: Interner,
    /// The parts, in the snapshot's order.
    parts: Vec<Part>,
}

/// One Parquet file of the snapshot, with its footer and page index read once.
#[derive(Debug, Clone)]
struct Part {
    path: ObjectPath,
    size: u64,
    rows: u64,
    metadata: ArrowReaderMetadata,
}

impl Part {
    async fn open(store: &Arc<dyn ObjectStore>, path: ObjectPath) -> Result<Self> {
        let size = store.head(&path).await?.size;
        let mut reader = PartReader {
            store: store.clone(),
            path: path.clone(),
            size,
        };
        let metadata = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .load_and_finish(&mut reader, size)
            .await?;
        let rows = metadata.file_metadata().num_rows() as u64;
        let metadata = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())?;
        Ok(Part {
            path,
            size,
            rows,
            metadata,
        })
    }

    fn reader(&self, store: &Arc<dyn ObjectStore>) -> ParquetRecordBatchStreamBuilder<PartReader> {
        ParquetRecordBatchStreamBuilder::new_with_metadata(
            PartReader {
                store: store.clone(),
                path: self.path.clone(),
                size: self.size,
            },
            self.metadata.clone(),
        )
    }
}

/// Byte ranges of one object, for the Parquet reader.
struct PartReader {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    size: u64,
}

fn external(e: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

impl AsyncFileReader for PartReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// A filter compiled against the index's dictionaries.
struct Compiled {
    families: Option<[bool; 4]>,
    regions: Option<Vec<bool>>,
    provinces: Option<Vec<bool>>,
    sectors: Option<Vec<bool>>,
    from: Option<i32>,
    to: Option<i32>,
}

impl Compiled {
    fn matches(&self, d: &Dims) -> bool {
        let listed =
            |ok: &Option<Vec<bool>>, id: usize| ok.as_ref().is_none_or(|ok| id != 0 && ok[id]);
        self.families.is_none_or(|ok| ok[d.family as usize])
            && listed(&self.regions, d.region as usize)
            && listed(&self.provinces, d.province as usize)
            && listed(&self.sectors, d.sector as usize)
            && self
                .from
                .is_none_or(|from| d.year != NO_YEAR && i32::from(d.year) >= from)
            && self
                .to
                .is_none_or(|to| d.year != NO_YEAR && i32::from(d.year) <= to)
    }
}

/// Organisations from which a search scans on every core.
const PARALLEL_FROM: usize = 1 << 20;

/// Keys scanned between checks that another slice has already filled the page.
const WINDOW: usize = 1 << 16;

/// Threads a search or the trigram filter's build runs on: the cores, at most 8.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// One search, compiled.
struct Scan<'a> {
    /// The words, rarest first.
    finders: Vec<memmem::Finder<'a>>,
    /// The words' trigrams, to skip blocks that cannot match.
    probe: Probe,
    filter: Compiled,
    /// The first rank after the cursor.
    start: usize,
    /// Page entries wanted: the page and one more (`hasNextPage`).
    need: usize,
    with_total: bool,
    /// Set when the request is gone: every slice stops.
    cancel: &'a AtomicBool,
}

/// What one slice of a scan found.
#[derive(Debug, Default)]
struct Slice {
    ranks: Vec<usize>,
    total: u64,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hits {
    /// Positions (in `org_id` order) of the page's organisations.
    pub ranks: Vec<usize>,
    /// Whether more follow.
    pub has_next_page: bool,
    /// Every match, when asked.
    pub total: Option<u64>,
}

impl SearchIndex {
    /// Organisations in the index.
    pub fn len(&self) -> usize {
        self.dims.len()
    }

    /// Whether the snapshot is empty.
    pub fn is_empty(&self) -> bool {
        self.dims.is_empty()
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.keys.capacity()
            + self.org_ids.capacity()
            + 8 * (self.key_starts.capacity() + self.org_id_starts.capacity())
            + std::mem::size_of::<Dims>() * self.dims.capacity()
            + 4 * self.rows.capacity()
            + self.grams.memory_bytes()
    }

    fn org_id(&self, rank: usize) -> &[u8] {
        &self.org_ids[self.org_id_starts[rank] as usize..self.org_id_starts[rank + 1] as usize]
    }

    fn key(&self, rank: usize) -> &[u8] {
        // Without the trailing 0.
        &self.keys[self.key_starts[rank] as usize..self.key_starts[rank + 1] as usize - 1]
    }

    /// Reads the snapshot's `org_id`, name, identifier and dimension columns and builds
    /// the index. Batches are decoded here while a thread of its own computes their
    /// search keys and stages them, then sorts.
    pub async fn build(store: Arc<dyn ObjectStore>, manifest: &Manifest) -> Result<Self> {
        let (batches, mut staging) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let staged = on_own_thread(move || {
            let mut staged = Staged::default();
            while let Some(batch) = staging.blocking_recv() {
                staged.add(&batch)?;
            }
            Ok(staged)
        });
        let mut parts = Vec::new();
        for path in &manifest.organisations_parquet {
            let part = Part::open(&store, ObjectPath::from(path.as_str())).await?;
            let builder = part.reader(&store);
            let mask = ProjectionMask::columns(
                builder.parquet_schema(),
                [
                    c::ORG_ID,
                    c::FAMILY,
                    c::SOURCE_ID,
                    c::NAME,
                    c::NAME_AR,
                    c::REGION_CODE,
                    c::PROVINCE_CODE,
                    c::SECTOR_CODE,
                    c::FOUNDED_YEAR,
                ],
            );
            let mut stream = builder
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()?;
            let mut read = 0u64;
            while let Some(batch) = stream.try_next().await? {
                read += batch.num_rows() as u64;
                if batches.send(batch).await.is_err() {
                    // The staging thread stopped: its error says why.
                    drop(batches);
                    return Err(staged.await.err().unwrap_or_else(|| {
                        QueryError::Internal("search index: staging stopped".into())
                    }));
                }
            }
            if read != part.rows {
                return Err(QueryError::Internal(format!(
                    "search index: `{path}` read {read} rows of {}",
                    part.rows
                )));
            }
            parts.push(part);
        }
        drop(batches);
        let staged = staged.await?;
        on_own_thread(move || staged.finish(parts)).await
    }

    /// The page of organisations matching `words` (the request's search, normalised)
    /// and the request's filter, after its cursor. Setting `cancel` stops the scan
    /// (its answer is then partial: the caller has gone).
    pub fn find(
        &self,
        words: &[String],
        request: &OrganisationsRequest,
        cancel: &AtomicBool,
    ) -> Hits {
        let threads = if self.len() >= PARALLEL_FROM {
            cores()
        } else {
            1
        };
        self.find_on(threads, words, request, cancel)
    }

    /// [`SearchIndex::find`] with the keys cut in `threads` slices.
    fn find_on(
        &self,
        threads: usize,
        words: &[String],
        request: &OrganisationsRequest,
        cancel: &AtomicBool,
    ) -> Hits {
        let (first, with_total) = (request.first, request.with_total);
        let filter = self.compile(&request.filter);
        let start = request.after.as_deref().map_or(0, |a| {
            let a = a.as_bytes();
            partition_point(self.len(), |r| self.org_id(r) <= a)
        });
        // The count covers every page, so a counting scan starts at the top; the page
        // starts after the cursor.
        let from = if with_total { 0 } else { start };

        // The scan runs on the rarest word (fewest hits in a sample of the keys), so
        // the other words are checked on as few keys as possible.
        let mut sorted: Vec<&String> = words.iter().filter(|w| !w.is_empty()).collect();
        let sample = &self.keys[..self.keys.len().min(1 << 20)];
        sorted.sort_by_cached_key(|w| {
            (
                memmem::find_iter(sample, w.as_bytes()).count(),
                std::cmp::Reverse(w.len()),
            )
        });
        let finders: Vec<memmem::Finder<'_>> = sorted
            .iter()
            .map(|w| memmem::Finder::new(w.as_bytes()))
            .collect();
        let scan = Scan {
            finders,
            probe: Probe::new(words.iter().map(|w| w.as_bytes())),
            filter,
            start,
            need: first + 1,
            with_total,
            cancel,
        };

        // Large ranges are cut in slices scanned on every core; a slice's matches
        // count only after those of the slices before it.
        let threads = threads.clamp(1, (self.len() - from).max(1));
        let bounds: Vec<usize> = (0..=threads)
            .map(|t| from + (self.len() - from) * t / threads)
            .collect();
        let stop = AtomicBool::new(false);
        let slices: Vec<Slice> = if threads == 1 {
            vec![self.scan(from..self.len(), &scan, &stop, true)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = bounds
                    .windows(2)
                    .enumerate()
                    .map(|(t, w)| {
                        let (scan, stop) = (&scan, &stop);
                        s.spawn(move || self.scan(w[0]..w[1], scan, stop, t == 0))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("search slice"))
                    .collect()
            })
        };

        let mut ranks = Vec::with_capacity(first);
        let mut has_next_page = false;
        let mut total = 0;
        for slice in slices {
            total += slice.total;
            for rank in slice.ranks {
                if ranks.len() < first {
                    ranks.push(rank);
                } else {
                    has_next_page = true;
                }
            }
        }
        Hits {
            ranks,
            has_next_page,
            total: with_total.then_some(total),
        }
    }

    /// Matches among ranks `range`: those after the cursor (at most `need` unless
    /// counting), and how many in all. The first slice stops the others once it alone
    /// fills the page.
    fn scan(
        &self,
        range: Range<usize>,
        scan: &Scan<'_>,
        stop: &AtomicBool,
        first_slice: bool,
    ) -> Slice {
        let mut out = Slice::default();
        // Whether to go on after a match.
        let take = |rank: usize, out: &mut Slice| -> bool {
            out.total += 1;
            if rank >= scan.start && out.ranks.len() < scan.need {
                out.ranks.push(rank);
            }
            if out.ranks.len() >= scan.need && !scan.with_total {
                if first_slice {
                    stop.store(true, Ordering::Relaxed);
                }
                return false;
            }
            true
        };
        let stopped = || {
            scan.cancel.load(Ordering::Relaxed)
                || (!scan.with_total && !first_slice && stop.load(Ordering::Relaxed))
        };
        match scan.finders.split_first() {
            None => {
                let first = range.start;
                for rank in range {
                    if (rank - first).is_multiple_of(WINDOW) && stopped() {
                        break;
                    }
                    if scan.filter.matches(&self.dims[rank]) && !take(rank, &mut out) {
                        break;
                    }
                }
            }
            Some((rarest, others)) => {
                // Only the blocks whose trigrams hold every word's, a run of them at a
                // time; runs end on a key's 0 byte, so no match spans two.
                self.grams.for_each_run(range, &scan.probe, |run| {
                    if stopped() {
                        return false;
                    }
                    let end = self.key_starts[run.end] as usize;
                    let mut at = self.key_starts[run.start] as usize;
                    let mut rank = run.start;
                    while let Some(found) = rarest.find(&self.keys[at..end]) {
                        let hit = at + found;
                        // The key holding the hit: a few keys on when hits are dense,
                        // a binary search when far.
                        rank = self.rank_at(rank, hit);
                        let key = self.key(rank);
                        if scan.filter.matches(&self.dims[rank])
                            && others.iter().all(|f| f.find(key).is_some())
                            && !take(rank, &mut out)
                        {
                            return false;
                        }
                        at = self.key_starts[rank + 1] as usize;
                    }
                    true
                });
            }
        }
        out
    }

    /// The rank of the key holding byte `at`, searching from rank `from` on.
    fn rank_at(&self, from: usize, at: usize) -> usize {
        let ends = |r: usize| self.key_starts[r + 1] as usize;
        let mut r = from;
        for _ in 0..8 {
            if ends(r) > at {
                return r;
            }
            r += 1;
        }
        r + partition_point(self.len() - r, |i| ends(r + i) <= at)
    }

    fn compile(&self, filter: &Filter) -> Compiled {
        Compiled {
            families: (!filter.families.is_empty()).then(|| {
                let mut ok = [false; 4];
                for f in &filter.families {
                    ok[family_id(*f) as usize] = true;
                }
                ok
            }),
            regions: accepts(&self.regions, &filter.regions),
            provinces: accepts(&self.provinces, &filter.provinces),
            sectors: accepts(&self.sectors, &filter.sectors),
            from: filter.founded_from,
            to: filter.founded_to,
        }
    }

    /// The organisations at `ranks` (ascending), read from Parquet by position, as one
    /// batch of the canonical schema in that order.
    pub async fn fetch(
        &self,
        store: &Arc<dyn ObjectStore>,
        ranks: &[usize],
    ) -> Result<Vec<RecordBatch>> {
        if ranks.is_empty() {
            return Ok(Vec::new());
        }
        // (row, position in the page), by row.
        let mut wanted: Vec<(u64, usize)> = ranks
            .iter()
            .enumerate()
            .map(|(i, &r)| (u64::from(self.rows[r]), i))
            .collect();
        wanted.sort_unstable();
        // One read per row group holding wanted rows, all at once: rows of a page are
        // often far apart.
        let canonical = organisation_schema();
        let mut reads = Vec::new();
        let mut order = Vec::with_capacity(ranks.len()); // page position of each fetched row
        let mut part_start = 0u64;
        let mut next = 0;
        for part in &self.parts {
            let mut group_start = part_start;
            for (group, meta) in part.metadata.metadata().row_groups().iter().enumerate() {
                let group_rows = meta.num_rows() as u64;
                let group_end = group_start + group_rows;
                let mut ranges: Vec<Range<usize>> = Vec::new();
                while next < wanted.len() && wanted[next].0 < group_end {
                    let row = (wanted[next].0 - group_start) as usize;
                    ranges.push(row..row + 1);
                    order.push(wanted[next].1);
                    next += 1;
                }
                if !ranges.is_empty() {
                    let selection = RowSelection::from_consecutive_ranges(
                        ranges.into_iter(),
                        group_rows as usize,
                    );
                    let builder = part.reader(store);
                    // The canonical columns only: files of snapshots published before
                    // `search_key` was dropped from them still hold it.
                    let mask = ProjectionMask::columns(
                        builder.parquet_schema(),
                        canonical.fields().iter().map(|f| f.name().as_str()),
                    );
                    let stream = builder
                        .with_projection(mask)
                        .with_row_groups(vec![group])
                        .with_row_selection(selection)
                        .with_batch_size(ranks.len())
                        .build()?;
                    // Tasks, so that pages decode on every core.
                    reads.push(tokio::spawn(stream.try_collect::<Vec<_>>()));
                }
                group_start = group_end;
            }
            part_start += part.rows;
        }
        let mut batches: Vec<RecordBatch> = Vec::new();
        for read in reads {
            let read = read
                .await
                .map_err(|e| QueryError::Internal(format!("search index: a read stopped: {e}")))?;
            batches.extend(read?);
        }
        let all = concat_batches(&canonical, &batches)?;
        if all.num_rows() != ranks.len() {
            return Err(QueryError::Internal(format!(
                "search index: {} rows read for {} positions",
                all.num_rows(),
                ranks.len()
            )));
        }
        // Back into page order.
        let mut inverse = vec![0u32; order.len()];
        for (fetched, page) in order.iter().enumerate() {
            inverse[*page] = fetched as u32;
        }
        Ok(vec![take_record_batch(&all, &UInt32Array::from(inverse))?])
    }
}

/// The first index in `0..n` for which `pred` is false (`pred` true then false).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

/// Runs seconds of CPU work on a thread of its own, which ends with it, rather than
/// holding a thread of the blocking pool that queries share. The thread starts at
/// once; the future is its result.
fn on_own_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> impl Future<Output = Result<T>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("search-index".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| QueryError::Internal(format!("search index: no thread: {e}")));
    async move {
        spawned?;
        rx.await
            .map_err(|_| QueryError::Internal("search index build failed".into()))?
    }
}

/// Columns as read, in file order, before sorting by `org_id`.
#[derive(Debug, Default)]
struct Staged {
    keys: Vec<u8>,
    key_ends: Vec<u64>,
    org_ids: Vec<u8>,
    org_id_ends: Vec<u64>,
    dims: Vec<Dims>,
    regions: Interner,
    provinces: Interner,
    sectors: Interner,
    /// A founding year outside what [`Dims::year`] holds was seen.
    unrepresentable_year: bool,
    /// The search key being computed (reused).
    key: String,
}

impl Staged {
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let text = |name: &str| -> Result<&arrow::array::StringArray> {
            batch
                .column_by_name(name)
                .and_then(|a| a.as_string_opt::<i32>())
                .ok_or_else(|| {
                    QueryError::Internal(format!("search index: no text column `{name}`"))
                })
        };
        let (org_id, family) = (text(c::ORG_ID)?, text(c::FAMILY)?);
        let (source_id, name, name_ar) = (text(c::SOURCE_ID)?, text(c::NAME)?, text(c::NAME_AR)?);
        let (region, province, sector) = (
            text(c::REGION_CODE)?,
            text(c::PROVINCE_CODE)?,
            text(c::SECTOR_CODE)?,
        );
        let year = batch
            .column_by_name(c::FOUNDED_YEAR)
            .and_then(|a| a.as_primitive_opt::<Int32Type>())
            .ok_or_else(|| QueryError::Internal("search index: no `founded_year`".into()))?;
        fn opt(a: &arrow::array::StringArray, i: usize) -> Option<&str> {
            a.is_valid(i).then(|| a.value(i))
        }
        for i in 0..batch.num_rows() {
            self.org_ids.extend_from_slice(org_id.value(i).as_bytes());
            self.org_id_ends.push(self.org_ids.len() as u64);
            self.key.clear();
            push_search_key_of(
                name.value(i),
                opt(name_ar, i),
                source_id.value(i),
                &mut self.key,
            );
            self.keys.extend_from_slice(self.key.as_bytes());
            self.keys.push(0);
            self.key_ends.push(self.keys.len() as u64);
            let y = if year.is_valid(i) {
                match i16::try_from(year.value(i)) {
                    Ok(y) if y != NO_YEAR => y,
                    _ => {
                        self.unrepresentable_year = true;
                        NO_YEAR
                    }
                }
            } else {
                NO_YEAR
            };
            self.dims.push(Dims {
                family: Family::parse(family.value(i)).map_or(0, family_id),
                region: self.regions.id(opt(region, i)).min(u32::from(u8::MAX)) as u8,
                province: self.provinces.id(opt(province, i)).min(u32::from(u16::MAX)) as u16,
                sector: self.sectors.id(opt(sector, i)).min(u32::from(u16::MAX)) as u16,
                year: y,
            });
        }
        Ok(())
    }

    fn finish(mut self, parts: Vec<Part>) -> Result<SearchIndex> {
        let n = self.dims.len();
        let too_many = self.regions.len() >= u8::MAX as usize
            || self.provinces.len() >= u16::MAX as usize
            || self.sectors.len() >= u16::MAX as usize
            || n >= u32::MAX as usize;
        if too_many || self.unrepresentable_year {
            return Err(QueryError::Internal(
                "search index: more organisations or dimension values than it holds; searches scan instead"
                    .into(),
            ));
        }
        let order = {
            let org_id = |i: usize| slice(&self.org_ids, &self.org_id_ends, i);
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_unstable_by(|&a, &b| org_id(a as usize).cmp(org_id(b as usize)));
            order
        };
        // One column at a time, each freed once copied, to keep the peak low.
        let (keys, key_starts) = permute(&order, &self.keys, &self.key_ends);
        self.keys = Vec::new();
        self.key_ends = Vec::new();
        let (org_ids, org_id_starts) = permute(&order, &self.org_ids, &self.org_id_ends);
        self.org_ids = Vec::new();
        self.org_id_ends = Vec::new();
        let dims = order.iter().map(|&r| self.dims[r as usize]).collect();
        let grams = GramFilter::build(&keys, &key_starts, cores());
        Ok(SearchIndex {
            keys,
            key_starts,
            org_ids,
            org_id_starts,
            dims,
            rows: order,
            grams,
            regions: self.regions,
            provinces: self.provinces,
            sectors: self.sectors,
            parts,
        })
    }
}

/// The `i`th of the values stored back to back in `data`, ending at `ends`.
fn slice<'a>(data: &'a [u8], ends: &[u64], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &data[start..ends[i] as usize]
}

/// Values reordered by `order`, with the start of each and the end of the last.
fn permute(order: &[u32], data: &[u8], ends: &[u64]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::with_capacity(data.len());
    let mut starts = Vec::with_capacity(order.len() + 1);
    for &i in order {
        starts.push(out.len() as u64);
        out.extend_from_slice(slice(data, ends, i as usize));
    }
    starts.push(out.len() as u64);
    (out, starts)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, StringArray};

    use super::*;

    /// An index over `n` made-up organisations, without Parquet parts (`find` only).
    fn index(n: usize) -> (SearchIndex, Vec<(String, String, Dims)>) {
        let names = ["nour", "tifaouine", "al amal", "tiwizi", "e"];
        let regions = ["MA-01", "MA-09"];
        let mut rows = Vec::new();
        let (mut org_id, mut family, mut source_id, mut name, mut key) =
            (vec![], vec![], vec![], vec![], vec![]);
        let (mut region, mut province, mut sector, mut year) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            // Ids out of order, so the index must sort them.
            let number = (i * 7_919) % n;
            let word = names[i % names.len()];
            org_id.push(format!("cooperative:COOP-{number:06}"));
            source_id.push(format!("COOP-{number:06}"));
            family.push("cooperative");
            // The index computes each key from the name and identifier.
            name.push(format!("Coopérative {} {}", word.to_uppercase(), i % 97));
            key.push(format!("cooperative {word} {} | coop {number:06}", i % 97));
            region.push((i % 5 != 0).then(|| regions[i % 2]));
            province.push(None::<&str>);
            sector.push(if i % 3 == 0 { "AGRI" } else { "ARGAN" });
            year.push((i % 4 != 0).then_some(1980 + (i % 40) as i32));
        }
        let batch = RecordBatch::try_from_iter([
            (c::ORG_ID, Arc::new(StringArray::from(org_id.clone())) as _),
            (c::FAMILY, Arc::new(StringArray::from(family)) as _),
            (c::SOURCE_ID, Arc::new(StringArray::from(source_id)) as _),
            (c::NAME, Arc::new(StringArray::from(name)) as _),
            (
                c::NAME_AR,
                Arc::new(StringArray::from(vec![None::<&str>; n])) as _,
            ),
            (c::REGION_CODE, Arc::new(StringArray::from(region)) as _),
            (c::PROVINCE_CODE, Arc::new(StringArray::from(province)) as _),
            (c::SECTOR_CODE, Arc::new(StringArray::from(sector)) as _),
            (c::FOUNDED_YEAR, Arc::new(Int32Array::from(year)) as _),
        ])
        .unwrap();
        let mut staged = Staged::default();
        staged.add(&batch).unwrap();
        for (i, k) in key.iter().enumerate() {
            let at = staged.key_ends[i] as usize - k.len() - 1;
            assert_eq!(&staged.keys[at..at + k.len()], k.as_bytes(), "key {i}");
        }
        for i in 0..n {
            rows.push((org_id[i].clone(), key[i].clone(), staged.dims[i]));
        }
        (staged.finish(Vec::new()).unwrap(), rows)
    }

    /// The meaning of a search, by brute force.
    fn naive(
        index: &SearchIndex,
        rows: &[(String, String, Dims)],
        words: &[String],
        filter: &Filter,
        after: Option<&str>,
        first: usize,
    ) -> (Vec<String>, bool, u64) {
        let compiled = index.compile(filter);
        let mut matching: Vec<&(String, String, Dims)> = rows
            .iter()
            .filter(|(_, k, d)| compiled.matches(d) && words.iter().all(|w| k.contains(w.as_str())))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        let total = matching.len() as u64;
        let after: Vec<String> = matching
            .iter()
            .filter(|r| after.is_none_or(|a| r.0.as_str() > a))
            .map(|r| r.0.clone())
            .collect();
        let more = after.len() > first;
        (after.into_iter().take(first).collect(), more, total)
    }

    #[test]
    fn slices_and_brute_force_agree() {
        let (index, rows) = index(12_000);
        let org_ids = |hits: &Hits| -> Vec<String> {
            hits.ranks
                .iter()
                .map(|&r| String::from_utf8(index.org_id(r).to_vec()).unwrap())
                .collect()
        };
        let filters = [
            Filter::default(),
            Filter {
                regions: vec!["MA-09".into()],
                founded_from: Some(1990),
                ..Filter::default()
            },
            Filter {
                sectors: vec!["AGRI".into()],
                families: vec![Family::Cooperative],
                founded_to: Some(2000),
                ..Filter::default()
            },
            Filter {
                families: vec![Family::Mutual],
                ..Filter::default()
            },
        ];
        let searches: [&[&str]; 7] = [
            &[],
            &["nour"],
            &["nour", "12"],
            &["12", "nour"],
            &["e"],
            &["0049"],
            &["absent"],
        ];
        let mut checked = 0;
        for words in searches {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            for filter in &filters {
                for after in [None, Some("cooperative:001234"), Some("zzz")] {
                    for (first, with_total) in [(1, false), (20, true), (20, false), (500, false)] {
                        let expected = naive(&index, &rows, &words, filter, after, first);
                        for threads in [1, 2, 3, 7] {
                            let request = OrganisationsRequest {
                                filter: filter.clone(),
                                search: None,
                                after: after.map(str::to_owned),
                                first,
                                with_total,
                            };
                            let hits =
                                index.find_on(threads, &words, &request, &AtomicBool::new(false));
                            let what = format!("{words:?} {filter:?} {after:?} {first} {threads}");
                            assert_eq!(org_ids(&hits), expected.0, "{what}");
                            assert_eq!(hits.has_next_page, expected.1, "{what}");
                            if with_total {
                                assert_eq!(hits.total, Some(expected.2), "{what}");
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 7 * 4 * 3 * 4 * 4);
    }

    #[test]
    fn a_cancelled_search_stops_without_scanning() {
        let (index, _) = index(12_000);
        let request = OrganisationsRequest {
            filter: Filter::default(),
            search: None,
            after: None,
            first: 1000,
            with_total: true,
        };
        for words in [vec![], vec!["e".to_owned()], vec!["nour".to_owned()]] {
            for threads in [1, 3] {
                let live = index.find_on(threads, &words, &request, &AtomicBool::new(false));
                assert!(live.total.unwrap() > 100, "{words:?}");
                let cancelled = index.find_on(threads, &words, &request, &AtomicBool::new(true));
                assert_eq!(cancelled.total, Some(0), "{words:?} {threads}");
                assert!(cancelled.ranks.is_empty());
            }
        }
    }
}
