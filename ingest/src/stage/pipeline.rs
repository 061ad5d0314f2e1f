//! Pass two's pipeline: rows normalised on several threads in runs, collected in row
//! order into the final files; the cooperative CSV read in parallel chunks.
//!
//! A `RowWorker` has its own normaliser memo, batch builder and rollup keyer; it keys
//! its rows for the rollup while they are in its cache, and drops the superseded ones
//! itself, asking the superseded set once per superseded row (`next_from`), not once
//! per row. XLSX and JSON go through one worker on the reading thread (`Collector`).
//! The cooperative CSV (`read_csv_parallel`), on N = min(cores, 8) workers:
//!
//! ```text
//! parser thread ──CsvChunk (8,192 records: bytes + line numbers)──► N workers
//! N workers (chunk k's rows are numbered from k × 8,192, so each knows which of
//!            its rows are superseded) ──Normalised run (batch + keyed rollup rows)──►
//! caller thread: applies runs in chunk order (report counts, quarantine, rollup,
//!                Parquet), so the results are exactly those of one thread
//! ```
//!
//! At most 2N + 1 chunks are out at once (parsed and not yet applied: the parser takes
//! a token per chunk, the caller gives one back per run applied), so a worker held up
//! by the scheduler cannot let the others' runs pile up.

use super::*;

/// What normalising a run of consecutive rows of one file produced, in row order.
#[derive(Debug, Default)]
pub(super) struct Normalised {
    /// The accepted rows that stay (not superseded), and the same rows keyed for the
    /// rollup.
    pub(super) kept: Option<(RecordBatch, RollupRows)>,
    pub(super) rejected: Vec<RejectedRow>,
    pub(super) accepted: u64,
    /// [`row_check`] summed over the accepted rows.
    pub(super) check: u64,
    /// Accepted rows raising each flag, indexed like [`QualityFlag::ALL`].
    pub(super) flags: [u64; QualityFlag::ALL.len()],
}

/// Normalises rows of one file into [`Normalised`] runs: the part of an ingest that
/// runs on several threads (each with its own memo and batch builder).
pub(super) struct RowWorker<'a> {
    pub(super) family: Family,
    pub(super) file: &'a str,
    pub(super) kept: Kept<'a>,
    /// The number of the next row, as pass one numbered it.
    pub(super) next_row: u64,
    /// The first superseded row at or after `next_row` (`u64::MAX`: none): rows come
    /// in order, so the superseded set is asked once per superseded row, not per row.
    pub(super) next_superseded: u64,
    pub(super) normalizer: Normalizer<'static>,
    pub(super) builder: OrganisationBatchBuilder,
    pub(super) keyer: RollupKeyer,
    pub(super) out: Normalised,
}

impl<'a> RowWorker<'a> {
    pub(super) fn new(family: Family, file: &'a str, kept: Kept<'a>) -> Self {
        RowWorker {
            family,
            file,
            kept,
            next_row: kept.first_row,
            next_superseded: kept.next_superseded(kept.first_row),
            normalizer: Normalizer::new(reference()),
            builder: OrganisationBatchBuilder::default(),
            keyer: RollupKeyer::default(),
            out: Normalised::default(),
        }
    }

    /// Goes on from row `row` (the first of a CSV chunk).
    pub(super) fn seek(&mut self, row: u64) {
        self.next_row = row;
        self.next_superseded = self.kept.next_superseded(row);
    }

    /// Rows taken since the last [`RowWorker::take`].
    pub(super) fn len(&self) -> usize {
        self.builder.len() + self.out.rejected.len()
    }

    pub(super) fn take(&mut self) -> Normalised {
        if !self.builder.is_empty() {
            self.out.kept = Some((self.builder.finish(), self.keyer.take()));
        }
        std::mem::take(&mut self.out)
    }
}

impl RowSink for RowWorker<'_> {
    fn row(&mut self, row: i64, record: Record<'_>) -> Option<Rejection> {
        match self
            .normalizer
            .normalize_ref(self.family, record, self.file, row)
        {
            Ok(org) => {
                let number = self.next_row;
                self.next_row += 1;
                if self.next_superseded < number {
                    // Passed over: a row pass one superseded was rejected here, which
                    // only a file changed between the passes does (its checksum then
                    // fails the ingest). Caught up, so no later row is misjudged.
                    self.next_superseded = self.kept.next_superseded(number);
                }
                let superseded = number == self.next_superseded;
                if superseded {
                    self.next_superseded = self.kept.next_superseded(number + 1);
                }
                self.out.accepted += 1;
                for flag in org.quality_flags.iter() {
                    self.out.flags[flag.index()] += 1;
                }
                let id = id_hash(self.family, org.source_id);
                self.out.check = self.out.check.wrapping_add(row_check(number, id));
                if !superseded {
                    self.builder.push_ref(&org);
                    self.keyer.push(&org);
                }
                None
            }
            Err(rejection) => Some(rejection),
        }
    }

    fn reject(&mut self, row: i64, rejection: Rejection, raw: String) {
        self.next_row += 1;
        self.out.rejected.push(RejectedRow {
            row,
            rejection,
            raw,
        });
    }
}

/// Where normalised runs of one file go, in file order: the report's counts, the
/// final Parquet parts and the quarantine.
pub(super) struct Output<'a, 'p> {
    pub(super) family: Family,
    pub(super) file: &'a str,
    pub(super) report: &'a mut FileReport,
    pub(super) organisations: &'a mut FinalWriter<'p>,
    pub(super) quarantine: &'a mut QuarantineWriter,
    /// [`row_check`] summed over the file's accepted rows so far.
    pub(super) check: u64,
    pub(super) progress: &'a Progress,
}

impl Output<'_, '_> {
    pub(super) fn absorb(&mut self, run: Normalised) -> Result<()> {
        let report = &mut *self.report;
        let rejected = run.rejected.len() as u64;
        report.rows_read += run.accepted + rejected;
        report.accepted += run.accepted;
        report.rejected += rejected;
        self.check = self.check.wrapping_add(run.check);
        for (flag, n) in QualityFlag::ALL.iter().zip(run.flags) {
            if n > 0 {
                *report.flags.entry(flag.as_str().to_owned()).or_default() += n;
            }
        }
        for r in run.rejected {
            *report
                .rejected_by_reason
                .entry(r.rejection.reason.to_owned())
                .or_default() += 1;
            tracing::debug!(file = self.file, row = r.row, reason = r.rejection.reason, detail = %r.rejection.detail, "row rejected");
            self.quarantine
                .push(self.family, self.file, r.row, &r.rejection, &r.raw)?;
        }
        self.progress.add_rows(run.accepted + rejected);
        if let Some((batch, rollup)) = run.kept {
            self.organisations.write(&batch, rollup)?;
        }
        Ok(())
    }
}

/// The [`RowSink`] of a file read on one thread (XLSX, JSON): a worker whose runs go
/// straight to the output.
pub(super) struct Collector<'w, 'o, 'p> {
    pub(super) worker: RowWorker<'w>,
    pub(super) output: &'o mut Output<'w, 'p>,
    /// The first write failure; readers cannot return errors through the sink.
    pub(super) error: Option<IngestError>,
}

impl Collector<'_, '_, '_> {
    pub(super) fn flush(&mut self) {
        let run = self.worker.take();
        if let Err(e) = self.output.absorb(run)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    pub(super) fn flush_when_full(&mut self) {
        if self.worker.len() >= BATCH_ROWS {
            self.flush();
        }
    }
}

impl RowSink for Collector<'_, '_, '_> {
    fn row(&mut self, row: i64, record: Record<'_>) -> Option<Rejection> {
        let rejection = self.worker.row(row, record);
        if rejection.is_none() {
            self.flush_when_full();
        }
        rejection
    }

    fn reject(&mut self, row: i64, rejection: Rejection, raw: String) {
        self.worker.reject(row, rejection, raw);
        self.flush_when_full();
    }
}

/// Reads a cooperative CSV on several threads: this one parses records into chunks,
/// workers normalise chunks, and the caller's thread applies their results to `output`
/// in file order (so duplicates, row numbers and counts are as a single thread makes
/// them).
pub(super) fn read_csv_parallel(
    input: impl std::io::Read + Send + 'static,
    encoding: crate::readers::text::TextEncoding,
    file: &str,
    kept: Kept<'_>,
    output: &mut Output<'_, '_>,
) -> Result<ReadSummary> {
    let workers = crate::worker_threads();
    let family = output.family;
    std::thread::scope(|scope| {
        // One chunk and one normalised run waiting per worker: with two each, the peak
        // memory was 6–12 MiB higher for no measurable gain in time (BENCHMARKS.md).
        // Many workers take from one queue (crossbeam's channels are multi-consumer);
        // the queue closes with the last of them, which stops the parser.
        let (work_tx, work_rx) = crossbeam_channel::bounded::<(u64, csv::CsvChunk)>(workers);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<(u64, Normalised)>(workers);
        // Chunks handed out and not yet applied, at most: a worker held up (two cores
        // are shared by every thread of the ingest) made the others' results pile up
        // in `waiting` unbounded, its memory a matter of scheduling. The parser takes
        // a token before sending a chunk; applying a run gives one back.
        let window = 2 * workers + 1;
        let (token_tx, token_rx) = crossbeam_channel::bounded::<()>(window);
        for _ in 0..window {
            token_tx.send(()).expect("room for every token");
        }
        for _ in 0..workers {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut worker = RowWorker::new(family, file, kept);
                while let Ok((seq, chunk)) = work_rx.recv() {
                    // Every chunk but the last holds `CHUNK_ROWS` rows, so its first
                    // row's number is known.
                    worker.seek(kept.first_row + seq * csv::CHUNK_ROWS as u64);
                    chunk.feed(&mut worker);
                    if done_tx.send((seq, worker.take())).is_err() {
                        break;
                    }
                }
            });
        }
        drop((work_rx, done_tx));
        let parser = scope.spawn(move || {
            let mut seq = 0u64;
            let stopped = || IngestError::Task("the normalising threads stopped".into());
            csv::read_csv_chunks(input, encoding, file, csv::CHUNK_ROWS, &mut |chunk| {
                token_rx.recv().map_err(|_| stopped())?;
                work_tx.send((seq, chunk)).map_err(|_| stopped())?;
                seq += 1;
                Ok(())
            })
        });

        // Results arrive in any order; they are applied in file order.
        let mut waiting: BTreeMap<u64, Normalised> = BTreeMap::new();
        let mut next = 0u64;
        let mut failed = None;
        let mut busy = std::time::Duration::ZERO;
        let mut most_waiting = 0;
        'receive: for (seq, run) in done_rx.iter() {
            waiting.insert(seq, run);
            most_waiting = most_waiting.max(waiting.len());
            debug_assert!(most_waiting <= window, "{most_waiting} runs waiting");
            let started = Instant::now();
            while let Some(run) = waiting.remove(&next) {
                next += 1;
                if let Err(e) = output.absorb(run) {
                    failed = Some(e);
                    break 'receive;
                }
                // The parser may hold at most `window` tokens, so this never blocks.
                let _ = token_tx.try_send(());
            }
            busy += started.elapsed();
        }
        tracing::debug!(
            chunks = next,
            seconds_applying = busy.as_secs_f64(),
            most_waiting,
            "CSV chunks applied in order"
        );
        // Stops the workers, then the parser, if we broke off.
        drop((done_rx, token_tx));
        let parsed = parser
            .join()
            .map_err(|_| IngestError::Task("the CSV parser panicked".into()))?;
        if let Some(e) = failed {
            return Err(e);
        }
        let summary = parsed?;
        debug_assert!(waiting.is_empty());
        Ok(summary)
    })
}
