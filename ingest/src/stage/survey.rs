//! Pass one over a file: its hash and encoding, and its accepted rows' identifiers,
//! spilled beside the ingest, that resolve duplicates (last wins).
//!
//! For the cooperative CSV three threads share the work: one hashes the file and finds
//! its encoding, one reads the identities as UTF-8 with the `memchr` scanner (without
//! allocating, and without decoding a name that holds a printable ASCII byte:
//! `bytes_named`, `named_identity`), and one hashes and spills the identifiers it is
//! handed in batches of `ID_BATCH` (16,384) in reading order (`take_ids_beside`), so
//! the reading thread only splits records. A file found to be Windows-1252 has its
//! identities forgotten (the spill files truncated back to a `Mark`) and read again.
//! XLSX and JSON are hashed, then read for their identities on one thread.

use super::*;

/// What pass one learnt of a file.
#[derive(Debug, Clone)]
pub(super) struct Survey {
    pub(super) sha256: String,
    /// The text encoding (CSV only).
    pub(super) encoding: Option<TextEncoding>,
    /// The number of the file's first row among all files' rows.
    pub(super) first_row: u64,
    /// Rows read (accepted or rejected).
    pub(super) rows: u64,
    /// [`row_check`] summed over accepted rows: pass two must find the same.
    pub(super) check: u64,
}

/// Pass one over a file: its hash and encoding, and its accepted rows' identifiers into
/// `dedup`. Rows are numbered from `first_row`.
pub(super) fn survey(
    source: &LocalSource,
    first_row: u64,
    dedup: &mut Dedup,
    progress: &Progress,
) -> Result<Survey> {
    let io_err = |e| IngestError::Io {
        file: source.name.clone(),
        source: e,
    };
    let counted = || {
        source
            .data
            .open()
            .map(|r| CountingReader::new(r, progress.bytes_done.clone()))
            .map_err(io_err)
    };
    let spill_dir = dedup.dir().to_owned();
    let spill_err = |e| IngestError::Staging {
        path: spill_dir.clone(),
        source: e,
    };
    let family = source.family;
    let name = source.name.as_str();
    match family {
        Family::Cooperative => std::thread::scope(|scope| {
            // The hash and the encoding are found on another thread, while this one reads
            // the rows as UTF-8 (with or without a byte-order mark): what nearly every
            // file is. A file in Windows-1252 is read again, once that is known.
            let hashing = scope.spawn(|| -> std::io::Result<(TextEncoding, String)> {
                let mut hashing = HashingReader::new(source.data.open()?);
                let encoding = detect_encoding(&mut hashing)?;
                Ok((encoding, hashing.hex()))
            });
            let mark = dedup.mark().map_err(spill_err)?;
            let (read, ids) = take_ids_beside(IdSink::new(family, first_row, dedup), |take| {
                csv::scan_identities(counted()?, TextEncoding::Utf8Bom, name, take)
            })?;
            let speculative = ids.finish();
            let (encoding, sha256) = hashing
                .join()
                .map_err(|_| IngestError::Task("the hashing thread panicked".into()))?
                .map_err(io_err)?;
            let (rows, check) = if encoding == TextEncoding::Windows1252 {
                dedup.rollback(mark).map_err(spill_err)?;
                let (read, ids) = take_ids_beside(IdSink::new(family, first_row, dedup), |take| {
                    csv::scan_identities(counted()?, encoding, name, take)
                })?;
                read?;
                ids.finish().map_err(spill_err)?
            } else {
                read?;
                speculative.map_err(spill_err)?
            };
            Ok(Survey {
                sha256,
                encoding: Some(encoding),
                first_row,
                rows,
                check,
            })
        }),
        Family::Association | Family::Mutual => {
            let mut hashing = HashingReader::new(source.data.open().map_err(io_err)?);
            std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io_err)?;
            let mut ids = IdSink::new(family, first_row, dedup);
            if family == Family::Association {
                xlsx::read_xlsx(counted()?, name, &mut ids)?;
            } else {
                json::read_json(counted()?, name, &mut ids)?;
            }
            let (rows, check) = ids.finish().map_err(spill_err)?;
            Ok(Survey {
                sha256: hashing.hex(),
                encoding: None,
                first_row,
                rows,
                check,
            })
        }
    }
}

/// A number that changes when an accepted row's number or identifier does; summed
/// over a file's accepted rows (in any order), it tells whether pass two read the rows
/// pass one read.
pub(super) fn row_check(row: u64, id: [u64; 2]) -> u64 {
    let x = id[0] ^ id[1].rotate_left(29) ^ row.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x ^ (x >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Rows' identifiers (`None`: rejected) handed from the thread that reads them to the
/// one that hashes and spills them, in reading order.
#[derive(Debug, Default)]
pub(super) struct IdBatch {
    pub(super) text: String,
    /// End of each row's identifier in `text`; `usize::MAX`: rejected.
    pub(super) ends: Vec<usize>,
}

/// Identifiers per [`IdBatch`].
pub(super) const ID_BATCH: usize = 16_384;

/// Bytes of identifiers per [`IdBatch`] at most, however long they are.
pub(super) const ID_BATCH_BYTES: usize = ID_BATCH * 64;

impl IdBatch {
    pub(super) fn push(&mut self, id: Option<&str>) {
        match id {
            Some(id) => {
                self.text.push_str(id);
                self.ends.push(self.text.len());
            }
            None => self.ends.push(usize::MAX),
        }
    }

    pub(super) fn each(&self, mut f: impl FnMut(Option<&str>)) {
        let mut start = 0;
        for &end in &self.ends {
            if end == usize::MAX {
                f(None);
            } else {
                f(Some(&self.text[start..end]));
                start = end;
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// Runs `scan` (which reads a file's rows and hands each one's identifier to its
/// argument) on this thread while another hashes the identifiers and spills them into
/// `ids`: reading the records is the pass's slow half, and the other core is otherwise
/// only hashing the file. Gives back `scan`'s result and `ids`.
pub(super) fn take_ids_beside<'d>(
    mut ids: IdSink<'d>,
    scan: impl FnOnce(&mut dyn FnMut(Option<&str>)) -> Result<()>,
) -> Result<(Result<()>, IdSink<'d>)> {
    let (full, to_take) = sync_channel::<IdBatch>(2);
    let (emptied, to_fill) = sync_channel::<IdBatch>(3);
    std::thread::scope(|s| {
        let taker = s.spawn(move || {
            for batch in to_take {
                batch.each(|id| ids.take(id));
                let _ = emptied.try_send(batch);
            }
            ids
        });
        let mut batch = IdBatch::default();
        let send = |batch: &mut IdBatch| {
            let mut next = to_fill.try_recv().unwrap_or_default();
            next.clear();
            // Fails only if the taker stopped (it panicked): its join says so.
            let _ = full.send(std::mem::replace(batch, next));
        };
        let read = scan(&mut |id| {
            batch.push(id);
            if batch.ends.len() >= ID_BATCH || batch.text.len() >= ID_BATCH_BYTES {
                send(&mut batch);
            }
        });
        if !batch.ends.is_empty() {
            send(&mut batch);
        }
        drop(full);
        let ids = taker
            .join()
            .map_err(|_| IngestError::Task("the identifier thread panicked".into()))?;
        Ok((read, ids))
    })
}

/// Pass one's sink: accepts a row as normalisation would ([`identity`]) and files its
/// identifier in the duplicate index.
pub(super) struct IdSink<'d> {
    pub(super) family: Family,
    pub(super) dedup: &'d mut Dedup,
    pub(super) next_row: u64,
    pub(super) first_row: u64,
    pub(super) check: u64,
    pub(super) error: Option<std::io::Error>,
}

impl<'d> IdSink<'d> {
    pub(super) fn new(family: Family, first_row: u64, dedup: &'d mut Dedup) -> Self {
        IdSink {
            family,
            dedup,
            next_row: first_row,
            first_row,
            check: 0,
            error: None,
        }
    }

    /// Rows read and their check, or the first spill failure.
    pub(super) fn finish(self) -> std::io::Result<(u64, u64)> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.next_row - self.first_row, self.check)),
        }
    }

    /// Takes the next row: accepted with this identifier, or (`None`) rejected.
    pub(super) fn take(&mut self, source_id: Option<&str>) {
        let row = self.next_row;
        self.next_row += 1;
        let Some(source_id) = source_id else { return };
        let id = id_hash(self.family, source_id);
        self.check = self.check.wrapping_add(row_check(row, id));
        if let Err(e) = self.dedup.accept(id, row)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }
}

impl RowSink for IdSink<'_> {
    fn row(&mut self, _row: i64, record: Record<'_>) -> Option<Rejection> {
        match identity(record) {
            Ok(identity) => {
                self.take(Some(&identity.source_id));
                None
            }
            // Counted when the reader hands the row to `reject`.
            Err(rejection) => Some(rejection),
        }
    }

    fn reject(&mut self, _row: i64, _rejection: Rejection, _raw: String) {
        self.next_row += 1;
    }
}
