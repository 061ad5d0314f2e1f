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
//! - a bloom filter of the byte trigrams of each block of 128 keys
//!   (`crate::trigram_filter`).
//!
//! About 100 bytes per organisation in all (the trigram filter: 4 of them). The key is
//! computed from the snapshot's `name`, `name_ar` and `source_id` columns on a thread
//! of its own while the next batch decodes; the files store no key, and the index is
//! dropped when a newer snapshot is served.
//!
//! A search runs one SIMD substring scan (`memchr::memmem`) of its rarest word (fewest
//! hits in a sample of the keys) over the blocks of the key buffer whose filter holds
//! every trigram of every word, from the cursor on; a hit's key is checked for the
//! other words and the filter. From `PARALLEL_FROM` organisations (1Mi) on, the keys
//! are cut in slices (as many as the cores, at most 8) scanned in parallel on rayon's
//! pool, which every search of the process shares (no threads started per search). Keys are
//! in `org_id` order, so the first page is complete after `first + 1` matching hits
//! and the scan stops (the first slice stops the others once it alone fills the page).
//! A search checks a cancellation flag between runs of blocks, so a request that is
//! gone stops it. The page's rows are then read from Parquet by position (page index,
//! row selection), not by scanning.
//!
//! Matching is exactly the DataFusion path's: every word of the normalised search text
//! is a substring of the search key; filters are `IN` lists and inclusive year bounds,
//! with unknown values matching no list and no bound. Tests compare both paths, the
//! slices against brute force, and check that every matching key's block is scanned.
//!
//! - `build`: the index built from the snapshot's files.
//! - `fetch`: a page's rows read from Parquet by position.

mod build;
mod fetch;
#[cfg(test)]
mod tests;

use fetch::*;

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
use rayon::prelude::*;

use crate::error::{QueryError, Result};
use crate::request::{Filter, OrganisationsRequest};
use crate::trigram_filter::{GramFilter, Probe};

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

/// A filter compiled against the index's dictionaries.
pub(super) struct Compiled {
    pub(super) families: Option<[bool; 4]>,
    pub(super) regions: Option<Vec<bool>>,
    pub(super) provinces: Option<Vec<bool>>,
    pub(super) sectors: Option<Vec<bool>>,
    pub(super) from: Option<i32>,
    pub(super) to: Option<i32>,
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
pub(super) const PARALLEL_FROM: usize = 1 << 20;

/// Keys scanned between checks that another slice has already filled the page.
pub(super) const WINDOW: usize = 1 << 16;

/// Threads a search or the trigram filter's build runs on: the cores, at most 8.
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// One search, compiled.
pub(super) struct Scan<'a> {
    /// The words, rarest first.
    pub(super) finders: Vec<memmem::Finder<'a>>,
    /// The words' trigrams, to skip blocks that cannot match.
    pub(super) probe: Probe,
    pub(super) filter: Compiled,
    /// The first rank after the cursor.
    pub(super) start: usize,
    /// Page entries wanted: the page and one more (`hasNextPage`).
    pub(super) need: usize,
    pub(super) with_total: bool,
    /// Set when the request is gone: every slice stops.
    pub(super) cancel: &'a AtomicBool,
}

/// What one slice of a scan found.
#[derive(Debug, Default)]
pub(super) struct Slice {
    pub(super) ranks: Vec<usize>,
    pub(super) total: u64,
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
    pub(super) fn find_on(
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

        // Large ranges are cut in slices scanned on every core (rayon's pool, shared by
        // every search in the process: concurrent searches queue for the same cores
        // rather than each starting threads of its own); a slice's matches count only
        // after those of the slices before it.
        let threads = threads.clamp(1, (self.len() - from).max(1));
        let bounds: Vec<usize> = (0..=threads)
            .map(|t| from + (self.len() - from) * t / threads)
            .collect();
        let stop = AtomicBool::new(false);
        let slices: Vec<Slice> = if threads == 1 {
            vec![self.scan(from..self.len(), &scan, &stop, true)]
        } else {
            bounds
                .par_windows(2)
                .enumerate()
                .map(|(t, w)| self.scan(w[0]..w[1], &scan, &stop, t == 0))
                .collect()
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
    pub(super) fn scan(
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
    pub(super) fn rank_at(&self, from: usize, at: usize) -> usize {
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

    pub(super) fn compile(&self, filter: &Filter) -> Compiled {
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
}

/// The first index in `0..n` for which `pred` is false (`pred` true then false).
pub(super) fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
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
pub(super) fn on_own_thread<T: Send + 'static>(
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
