//! The blocking part of an ingest, on local disk: read every file, normalise, stage
//! accepted rows, resolve duplicates (last wins), and write the final Parquet files.
//!
//! Memory stays flat as files grow: rows are staged to an Arrow IPC file in batches,
//! the duplicate index is spilled to disk (`dedup.rs`), and the cooperative CSV
//! is normalised on every core in bounded chunks (`read_csv_parallel`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::array::{BooleanArray, Int64Builder, RecordBatch, StringBuilder};
use arrow::compute::filter_record_batch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use ess_schemas::arrow_schema::{OrganisationBatchBuilder, organisation_schema, quarantine_schema};
use ess_schemas::layout::FileReport;
use ess_schemas::rollup::{RollupBuilder, rollup_schema};
use ess_schemas::{Family, QualityFlag, reference};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::dedup::{Dedup, Superseded, id_hash};
use crate::error::{IngestError, Result};
use crate::fields::RawRecord;
use crate::normalize::{Normalizer, Rejection};
use crate::parquet_out::ParallelWriter;
use crate::progress::Progress;
use crate::readers::text::detect_encoding;
use crate::readers::{CountingReader, ReadSummary, RowSink, csv, json, xlsx};
use crate::source::{HashingReader, LocalData};

/// Rows per record batch while staging.
const BATCH_ROWS: usize = 8192;

/// Rows per Parquet data page at most.
const PAGE_ROWS: usize = 4096;

/// Parquet layout options.
#[derive(Debug, Clone, Copy)]
pub struct ParquetLayout {
    /// Rows per Parquet file.
    pub rows_per_file: usize,
    /// Rows per row group.
    pub row_group_rows: usize,
}

impl Default for ParquetLayout {
    fn default() -> Self {
        ParquetLayout {
            rows_per_file: 4_000_000,
            row_group_rows: 128 * 1024,
        }
    }
}

/// A source ready to read from local disk or memory.
#[derive(Debug, Clone)]
pub(crate) struct LocalSource {
    pub family: Family,
    pub name: String,
    pub data: LocalData,
}

/// What staging produced: final files on local disk and the report's file entries.
#[derive(Debug)]
pub(crate) struct Staged {
    pub files: Vec<FileReport>,
    pub organisation_parts: Vec<PathBuf>,
    pub organisations: u64,
    pub rows_by_family: HashMap<Family, u64>,
    pub quarantine: PathBuf,
    pub quarantine_rows: u64,
    pub rollup: PathBuf,
}

fn staging_err(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Staging {
        path: path.to_owned(),
        source,
    }
}

fn encode_err(what: &str) -> impl Fn(arrow::error::ArrowError) -> IngestError + '_ {
    move |e| IngestError::Encode {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

fn parquet_err(what: &str) -> impl Fn(parquet::errors::ParquetError) -> IngestError + '_ {
    move |e| IngestError::Encode {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

/// Parquet writer settings for published files: zstd, page-level statistics (which
/// also writes the column and offset indexes), and dictionary encoding.
///
/// Columns that are unique or nearly so per row (identifiers, names, the search key,
/// row numbers) skip the dictionary, which would only be built to be abandoned, and keep
/// statistics per column chunk only: no filter prunes pages on them, and page-level
/// min/max of long texts is costly to compute.
pub(crate) fn writer_properties(layout: &ParquetLayout) -> WriterProperties {
    use ess_schemas::arrow_schema::col;
    use parquet::schema::types::ColumnPath;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(layout.row_group_rows))
        // Small pages: a search page reads its 20 rows by position, decoding only
        // the pages that hold them (with the offset index).
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_created_by(format!("ess {}", env!("CARGO_PKG_VERSION")));
    for column in [
        col::ORG_ID,
        col::SOURCE_ID,
        col::NAME,
        col::NAME_AR,
        col::SEARCH_KEY,
        col::SOURCE_ROW,
    ] {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::Chunk);
    }
    builder.build()
}

/// Runs the blocking part of an ingest in `dir`.
pub(crate) fn stage(
    sources: &[LocalSource],
    dir: &Path,
    layout: ParquetLayout,
    progress: &Progress,
) -> Result<Staged> {
    let staging_path = dir.join("staging.arrows");
    let quarantine_path = dir.join("quarantine.parquet");
    let staging_file = File::create(&staging_path).map_err(staging_err(&staging_path))?;
    let mut staging = StreamWriter::try_new(
        BufWriter::with_capacity(1 << 20, staging_file),
        &organisation_schema(),
    )
    .map_err(encode_err("the staging file"))?;
    let quarantine_file = File::create(&quarantine_path).map_err(staging_err(&quarantine_path))?;
    let mut quarantine = QuarantineWriter {
        writer: ArrowWriter::try_new(
            quarantine_file,
            quarantine_schema(),
            Some(writer_properties(&layout)),
        )
        .map_err(parquet_err("the quarantine"))?,
        builder: QuarantineBuilder::default(),
        rows: 0,
    };

    let dedup_dir = dir.join("dedup");
    let mut dedup = Dedup::new(&dedup_dir).map_err(staging_err(&dedup_dir))?;
    let mut files = Vec::with_capacity(sources.len());
    let mut file_of_row: Vec<(u64, usize)> = Vec::with_capacity(sources.len());

    for (index, source) in sources.iter().enumerate() {
        let started = Instant::now();
        let span = tracing::info_span!("ingest_file", file = %source.name, family = %source.family);
        let _enter = span.enter();
        progress.set_phase(source.name.clone());
        file_of_row.push((dedup.next_row(), index));
        let io_err = |e| IngestError::Io {
            file: source.name.clone(),
            source: e,
        };

        // A first pass hashes the file (and, for CSV, tells its encoding).
        let mut hashing = HashingReader::new(source.data.open().map_err(io_err)?);
        let encoding = if source.family == Family::Cooperative {
            Some(detect_encoding(&mut hashing).map_err(io_err)?)
        } else {
            std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io_err)?;
            None
        };
        let mut report = FileReport {
            family: source.family.as_str().to_owned(),
            file: source.name.clone(),
            bytes: source.data.len().map_err(io_err)?,
            sha256: hashing.hex(),
            ..FileReport::default()
        };

        let input = CountingReader::new(
            source.data.open().map_err(io_err)?,
            progress.bytes_done.clone(),
        );
        let mut output = Output {
            family: source.family,
            file: &source.name,
            report: &mut report,
            staging: &mut staging,
            quarantine: &mut quarantine,
            dedup: &mut dedup,
            progress,
        };
        let summary: ReadSummary = match source.family {
            Family::Cooperative => read_csv_parallel(
                input,
                encoding.expect("detected for CSV"),
                &source.name,
                &mut output,
            )?,
            Family::Association | Family::Mutual => {
                let mut collector = Collector {
                    worker: RowWorker::new(source.family, &source.name),
                    output: &mut output,
                    error: None,
                };
                let summary = if source.family == Family::Association {
                    xlsx::read_xlsx(input, &source.name, &mut collector)?
                } else {
                    json::read_json(input, &source.name, &mut collector)?
                };
                collector.flush();
                if let Some(e) = collector.error.take() {
                    return Err(e);
                }
                summary
            }
        };
        report.encoding = summary.encoding;
        report.delimiter = summary.delimiter;
        report.sheet = summary.sheet;
        report.unknown_columns = summary.unknown_columns;
        if !report.unknown_columns.is_empty() {
            tracing::info!(columns = ?report.unknown_columns, "unknown columns ignored");
        }
        tracing::info!(
            rows_read = report.rows_read,
            accepted = report.accepted,
            rejected = report.rejected,
            seconds = started.elapsed().as_secs_f64(),
            "file read"
        );
        files.push(report);
    }
    staging.finish().map_err(encode_err("the staging file"))?;
    drop(staging);
    quarantine.flush()?;
    let quarantine_rows = quarantine.rows;
    quarantine
        .writer
        .close()
        .map_err(parquet_err("the quarantine"))?;

    // Superseded rows are counted against the file they came from.
    progress.set_phase("resolving duplicates");
    let superseded = dedup.resolve().map_err(staging_err(&dedup_dir))?;
    for row in superseded.rows() {
        let at = file_of_row.partition_point(|(start, _)| *start <= row) - 1;
        files[file_of_row[at].1].superseded += 1;
    }
    tracing::debug!(superseded = superseded.count(), "duplicates resolved");

    progress.set_phase("writing Parquet");
    let FinalFiles {
        parts: organisation_parts,
        organisations,
        by_family: rows_by_family,
        rollup,
    } = write_final(&staging_path, &superseded, dir, layout)?;
    std::fs::remove_file(&staging_path).map_err(staging_err(&staging_path))?;
    Ok(Staged {
        files,
        organisation_parts,
        organisations,
        rows_by_family,
        quarantine: quarantine_path,
        quarantine_rows,
        rollup,
    })
}

/// Rereads the staged rows and writes those not superseded to Parquet parts, and
/// their rollup.
fn write_final(
    staging_path: &Path,
    superseded: &Superseded,
    dir: &Path,
    layout: ParquetLayout,
) -> Result<FinalFiles> {
    let mut rollup = RollupBuilder::default();
    let file = File::open(staging_path).map_err(staging_err(staging_path))?;
    let reader = StreamReader::try_new(BufReader::with_capacity(1 << 20, file), None)
        .map_err(encode_err("the staging file"))?;
    let props = writer_properties(&layout);
    let mut parts: Vec<PathBuf> = Vec::new();
    let mut writer: Option<ParallelWriter> = None;
    let mut in_part = 0usize;
    let mut offset = 0usize;
    let mut total = 0u64;
    for batch in reader {
        let batch = batch.map_err(encode_err("the staging file"))?;
        let keep: BooleanArray = (offset..offset + batch.num_rows())
            .map(|row| Some(!superseded.contains(row as u64)))
            .collect();
        offset += batch.num_rows();
        let batch = filter_record_batch(&batch, &keep).map_err(encode_err("the staging file"))?;
        if batch.num_rows() == 0 {
            continue;
        }
        rollup.add(&batch);
        if writer.is_none() || in_part >= layout.rows_per_file {
            if let Some(w) = writer.take() {
                w.close().map_err(parquet_err("organisations"))?;
            }
            let path = dir.join(format!("part-{:05}.parquet", parts.len()));
            let f = File::create(&path).map_err(staging_err(&path))?;
            writer = Some(
                ParallelWriter::try_new(
                    f,
                    organisation_schema(),
                    props.clone(),
                    layout.row_group_rows,
                )
                .map_err(parquet_err("organisations"))?,
            );
            parts.push(path);
            in_part = 0;
        }
        in_part += batch.num_rows();
        total += batch.num_rows() as u64;
        writer
            .as_mut()
            .expect("opened above")
            .write(&batch)
            .map_err(parquet_err("organisations"))?;
    }
    match writer {
        Some(w) => {
            w.close().map_err(parquet_err("organisations"))?;
        }
        None => {
            // An empty snapshot still has one (empty) file, so readers see the schema.
            let path = dir.join("part-00000.parquet");
            let f = File::create(&path).map_err(staging_err(&path))?;
            ArrowWriter::try_new(f, organisation_schema(), Some(props))
                .and_then(|w| w.close())
                .map_err(parquet_err("organisations"))?;
            parts.push(path);
        }
    }
    // The rollup already counts every organisation per family.
    let by_family: HashMap<Family, u64> = rollup
        .organisations_by_family()
        .into_iter()
        .filter_map(|(f, n)| Family::parse(&f).map(|f| (f, n)))
        .collect();
    let rollup_path = dir.join("rollup.parquet");
    let f = File::create(&rollup_path).map_err(staging_err(&rollup_path))?;
    let mut w = ArrowWriter::try_new(f, rollup_schema(), Some(writer_properties(&layout)))
        .map_err(parquet_err("the rollup"))?;
    w.write(&rollup.finish())
        .map_err(parquet_err("the rollup"))?;
    w.close().map_err(parquet_err("the rollup"))?;
    Ok(FinalFiles {
        parts,
        organisations: total,
        by_family,
        rollup: rollup_path,
    })
}

/// What the final pass wrote.
struct FinalFiles {
    parts: Vec<PathBuf>,
    organisations: u64,
    by_family: HashMap<Family, u64>,
    rollup: PathBuf,
}

#[derive(Default)]
struct QuarantineBuilder {
    family: StringBuilder,
    file: StringBuilder,
    row: Int64Builder,
    reason: StringBuilder,
    detail: StringBuilder,
    raw: StringBuilder,
    len: usize,
}

struct QuarantineWriter {
    writer: ArrowWriter<File>,
    builder: QuarantineBuilder,
    rows: u64,
}

impl QuarantineWriter {
    fn push(
        &mut self,
        family: Family,
        file: &str,
        row: i64,
        rejection: &Rejection,
        raw: &str,
    ) -> Result<()> {
        let b = &mut self.builder;
        b.family.append_value(family.as_str());
        b.file.append_value(file);
        b.row.append_value(row);
        b.reason.append_value(rejection.reason);
        b.detail.append_value(&rejection.detail);
        b.raw.append_value(raw);
        b.len += 1;
        self.rows += 1;
        if b.len >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let b = &mut self.builder;
        if b.len == 0 {
            return Ok(());
        }
        b.len = 0;
        let batch = RecordBatch::try_new(
            quarantine_schema(),
            vec![
                Arc::new(b.family.finish()),
                Arc::new(b.file.finish()),
                Arc::new(b.row.finish()),
                Arc::new(b.reason.finish()),
                Arc::new(b.detail.finish()),
                Arc::new(b.raw.finish()),
            ],
        )
        .map_err(encode_err("the quarantine"))?;
        self.writer
            .write(&batch)
            .map_err(parquet_err("the quarantine"))
    }
}

/// A row sent to the quarantine.
#[derive(Debug)]
struct RejectedRow {
    row: i64,
    rejection: Rejection,
    raw: String,
}

/// What normalising a run of consecutive rows of one file produced, in row order.
#[derive(Debug, Default)]
struct Normalised {
    batch: Option<RecordBatch>,
    /// The id hash of every accepted row, in the batch's order.
    ids: Vec<[u64; 2]>,
    rejected: Vec<RejectedRow>,
    accepted: u64,
    /// Accepted rows raising each flag, indexed like [`QualityFlag::ALL`].
    flags: [u64; QualityFlag::ALL.len()],
}

/// Normalises rows of one file into [`Normalised`] runs: the part of an ingest that
/// runs on several threads (each with its own memo and batch builder).
struct RowWorker<'a> {
    family: Family,
    file: &'a str,
    normalizer: Normalizer<'static>,
    builder: OrganisationBatchBuilder,
    out: Normalised,
}

impl<'a> RowWorker<'a> {
    fn new(family: Family, file: &'a str) -> Self {
        RowWorker {
            family,
            file,
            normalizer: Normalizer::new(reference()),
            builder: OrganisationBatchBuilder::default(),
            out: Normalised::default(),
        }
    }

    /// Rows taken since the last [`RowWorker::take`].
    fn len(&self) -> usize {
        self.builder.len() + self.out.rejected.len()
    }

    fn take(&mut self) -> Normalised {
        if !self.builder.is_empty() {
            self.out.batch = Some(self.builder.finish());
        }
        std::mem::take(&mut self.out)
    }
}

impl RowSink for RowWorker<'_> {
    fn row(&mut self, row: i64, record: &RawRecord) -> Option<Rejection> {
        match self
            .normalizer
            .normalize(self.family, record, self.file, row)
        {
            Ok(org) => {
                self.out.accepted += 1;
                for flag in org.quality_flags.iter() {
                    self.out.flags[flag.index()] += 1;
                }
                self.out.ids.push(id_hash(self.family, &org.source_id));
                self.builder.push(&org);
                None
            }
            Err(rejection) => Some(rejection),
        }
    }

    fn reject(&mut self, row: i64, rejection: Rejection, raw: String) {
        self.out.rejected.push(RejectedRow {
            row,
            rejection,
            raw,
        });
    }
}

/// Where normalised runs of one file go, in file order: the report's counts, the
/// duplicate index, the staging file and the quarantine.
struct Output<'a> {
    family: Family,
    file: &'a str,
    report: &'a mut FileReport,
    staging: &'a mut StreamWriter<BufWriter<File>>,
    quarantine: &'a mut QuarantineWriter,
    dedup: &'a mut Dedup,
    progress: &'a Progress,
}

impl Output<'_> {
    fn absorb(&mut self, run: Normalised) -> Result<()> {
        let report = &mut *self.report;
        let rejected = run.rejected.len() as u64;
        report.rows_read += run.accepted + rejected;
        report.accepted += run.accepted;
        report.rejected += rejected;
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
        for id in run.ids {
            self.dedup
                .accept(id)
                .map_err(|source| IngestError::Staging {
                    path: self.dedup.dir().to_owned(),
                    source,
                })?;
        }
        if let Some(batch) = run.batch {
            self.progress.add_rows(batch.num_rows() as u64);
            self.staging
                .write(&batch)
                .map_err(encode_err("the staging file"))?;
        }
        Ok(())
    }
}

/// The [`RowSink`] of a file read on one thread (XLSX, JSON): a worker whose runs go
/// straight to the output.
struct Collector<'w, 'o> {
    worker: RowWorker<'w>,
    output: &'o mut Output<'w>,
    /// The first write failure; readers cannot return errors through the sink.
    error: Option<IngestError>,
}

impl Collector<'_, '_> {
    fn flush(&mut self) {
        let run = self.worker.take();
        if let Err(e) = self.output.absorb(run)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    fn flush_when_full(&mut self) {
        if self.worker.len() >= BATCH_ROWS {
            self.flush();
        }
    }
}

impl RowSink for Collector<'_, '_> {
    fn row(&mut self, row: i64, record: &RawRecord) -> Option<Rejection> {
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
fn read_csv_parallel(
    input: impl std::io::Read + Send + 'static,
    encoding: crate::readers::text::TextEncoding,
    file: &str,
    output: &mut Output<'_>,
) -> Result<ReadSummary> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let family = output.family;
    std::thread::scope(|scope| {
        let (work_tx, work_rx) = sync_channel::<(u64, csv::CsvChunk)>(workers * 2);
        // Shared by the workers; dropped with the last of them, which stops the parser.
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Normalised)>(workers * 2);
        for _ in 0..workers {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut worker = RowWorker::new(family, file);
                loop {
                    let next = work_rx.lock().expect("work queue").recv();
                    let Ok((seq, chunk)) = next else { break };
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
            csv::read_csv_chunks(input, encoding, file, csv::CHUNK_ROWS, &mut |chunk| {
                work_tx
                    .send((seq, chunk))
                    .map_err(|_| IngestError::Task("the normalising threads stopped".into()))?;
                seq += 1;
                Ok(())
            })
        });

        // Results arrive in any order; they are applied in file order.
        let mut waiting: BTreeMap<u64, Normalised> = BTreeMap::new();
        let mut next = 0u64;
        let mut failed = None;
        let mut busy = std::time::Duration::ZERO;
        'receive: for (seq, run) in done_rx.iter() {
            waiting.insert(seq, run);
            let started = Instant::now();
            while let Some(run) = waiting.remove(&next) {
                next += 1;
                if let Err(e) = output.absorb(run) {
                    failed = Some(e);
                    break 'receive;
                }
            }
            busy += started.elapsed();
        }
        tracing::debug!(
            chunks = next,
            seconds_applying = busy.as_secs_f64(),
            "CSV chunks applied in order"
        );
        drop(done_rx); // stops the workers, then the parser, if we broke off
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::testing::Collect;
    use crate::readers::text::TextEncoding;
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// A CSV over several chunks: ids repeat far apart (last wins across chunks), and
    /// some rows are rejected.
    fn messy_csv(rows: usize) -> String {
        let mut csv = String::from("N° immatriculation;Raison sociale;Région;Adhérents\n");
        for i in 0..rows {
            match i % 997 {
                13 => csv.push_str(&format!(";Sans numéro {i};Souss-Massa;3\n")),
                14 => csv.push('\n'),
                _ => csv.push_str(&format!(
                    "C-{};Coop {i};Souss-Massa;{}\n",
                    i % 15_000,
                    i % 40
                )),
            }
        }
        csv
    }

    #[test]
    fn parallel_csv_reading_gives_what_one_thread_gives() {
        let csv = messy_csv(40_000);
        // One thread, row by row.
        let mut one = Collect::new(Family::Cooperative);
        csv::read_csv(
            std::io::Cursor::new(csv.clone().into_bytes()),
            TextEncoding::Utf8,
            "c.csv",
            &mut one,
        )
        .unwrap();
        let mut last: HashMap<String, (i64, i64)> = HashMap::new();
        for o in &one.accepted {
            last.insert(o.org_id.clone(), (o.source_row, o.members_total.unwrap()));
        }

        let dir = tempfile::tempdir().unwrap();
        let source = LocalSource {
            family: Family::Cooperative,
            name: "c.csv".into(),
            data: LocalData::Bytes(bytes::Bytes::from(csv.into_bytes())),
        };
        let staged = stage(
            &[source],
            dir.path(),
            ParquetLayout::default(),
            &Progress::default(),
        )
        .unwrap();
        let f = &staged.files[0];
        assert!(one.rejected.len() > 10 && f.superseded > 10_000);
        assert_eq!(f.accepted, one.accepted.len() as u64);
        assert_eq!(f.rejected, one.rejected.len() as u64);
        assert_eq!(f.superseded, f.accepted - last.len() as u64);
        assert_eq!(staged.quarantine_rows, one.rejected.len() as u64);

        let mut got: Vec<(String, i64, i64)> = Vec::new();
        for part in &staged.organisation_parts {
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(part).unwrap())
                .unwrap()
                .build()
                .unwrap();
            for b in reader {
                let b = b.unwrap();
                let ids = b.column_by_name("org_id").unwrap().as_string::<i32>();
                let rows = b.column_by_name("source_row").unwrap();
                let members = b.column_by_name("members_total").unwrap();
                let (rows, members) = (
                    rows.as_primitive::<Int64Type>(),
                    members.as_primitive::<Int64Type>(),
                );
                for i in 0..b.num_rows() {
                    got.push((ids.value(i).to_owned(), rows.value(i), members.value(i)));
                }
            }
        }
        assert_eq!(got.len(), last.len());
        // In file order, each id once, from its last row.
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1));
        for (id, row, members) in &got {
            assert_eq!(last[id], (*row, *members), "{id}");
        }
    }
}
