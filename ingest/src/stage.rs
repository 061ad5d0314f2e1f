//! The blocking part of an ingest, on local disk: read every file twice, first for the
//! identities that resolve duplicates (last wins), then to normalise the rows and write
//! those that stay to the final Parquet files (see [`stage`]).
//!
//! Memory stays flat as files grow: rows go to Parquet in batches as they are read,
//! the duplicate index is spilled to disk (`dedup.rs`), and the cooperative CSV
//! is normalised on every core in bounded chunks (`read_csv_parallel`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::array::{Int64Builder, RecordBatch, StringBuilder};
use ess_schemas::arrow_schema::{
    OrganisationBatchBuilder, col, organisation_schema, quarantine_schema,
};
use ess_schemas::layout::FileReport;
use ess_schemas::rollup::{RollupBuilder, RollupKeyer, RollupRows, rollup_schema};
use ess_schemas::{Family, QualityFlag, reference};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::dedup::{Dedup, Superseded, id_hash};
use crate::error::{IngestError, Result};
use crate::fields::Record;
use crate::normalize::{Normalizer, Rejection, identity};
use crate::parquet_out::ParallelWriter;
use crate::progress::Progress;
use crate::readers::text::{TextEncoding, detect_encoding};
use crate::readers::{CountingReader, ReadSummary, RowSink, csv, json, xlsx};
use crate::rollup_spill::{FileSpill, ROLLUP_BUDGET};
use crate::source::{HashingReader, LocalData};

/// Rows per record batch (of normalised rows, and of the quarantine).
const BATCH_ROWS: usize = 8192;

/// Raw and detail bytes of rejected rows held at most before they are written as a
/// row group of the quarantine: 10M synthetic rows reject ~10,000, and their raw values
/// (~500 bytes each) made 8,192-row groups of 4 MiB, held twice (builder and writer).
/// At 1 MiB a 10M-row ingest still held ~1 MiB more than a 1M-row one, whose few
/// hundred rejected rows never filled a group.
const QUARANTINE_BATCH_BYTES: usize = 256 << 10;

/// Rows per Parquet data page at most.
const PAGE_ROWS: usize = 4096;

/// Parquet layout options.
#[derive(Debug, Clone, Copy)]
pub struct ParquetLayout {
    /// Rows per Parquet file.
    pub rows_per_file: usize,
    /// Rows per row group. 32 Ki by default: the writer holds about two row groups
    /// (one filling, one being encoded); at 64 Ki the ingest's peak memory was ~25 MiB
    /// higher for the same time, at 128 Ki ~65 MiB (BENCHMARKS.md).
    pub row_group_rows: usize,
}

impl Default for ParquetLayout {
    fn default() -> Self {
        ParquetLayout {
            rows_per_file: 4_000_000,
            row_group_rows: 32 * 1024,
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
/// zstd at level 1: on the 10M-row benchmark file level 3 made the organisations files
/// only 0.14% smaller, for about a second more of encoding (BENCHMARKS.md).
///
/// Columns that are unique or nearly so per row (identifiers, names, row numbers) skip
/// the dictionary, which would only be built to be abandoned, and keep statistics per
/// column chunk only (none for names): no filter prunes pages on them, and min/max of
/// long texts is costly to compute.
pub(crate) fn writer_properties(layout: &ParquetLayout) -> WriterProperties {
    use ess_schemas::arrow_schema::col;
    use parquet::schema::types::ColumnPath;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
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
        col::SOURCE_ROW,
    ] {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::Chunk);
    }
    // Founding dates are nearly all distinct within a row group (~15k of 32Ki rows): a
    // dictionary only adds its page and indices. Without it, on 200k synthetic rows, the
    // files are 2.5% smaller and the ingest runs 0.8% fewer instructions. Statistics
    // per page stay.
    builder = builder.set_column_dictionary_enabled(ColumnPath::from(col::FOUNDED_ON), false);
    // Identifiers share most of their bytes with the row before ("cooperative:COOP-00…"):
    // DELTA_BYTE_ARRAY stores the length of the shared prefix and the rest. Row numbers
    // mostly step by one: DELTA_BINARY_PACKED. On 200k synthetic rows the files are 9%
    // smaller and the ingest runs 1.4% fewer instructions, zstd having less to take out.
    // pyarrow (pandas), polars and DuckDB read both (checked on a 1M-row file); R's arrow
    // has pyarrow's C++ reader.
    for column in [col::ORG_ID, col::SOURCE_ID] {
        builder = builder.set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BYTE_ARRAY);
    }
    builder = builder.set_column_encoding(
        ColumnPath::from(col::SOURCE_ROW),
        Encoding::DELTA_BINARY_PACKED,
    );
    // Codes from small dictionaries (family and file: one value; regions, provinces,
    // statuses, years: tens): their pages hold bit-packed indices, already about as
    // short as the codes' entropy, which zstd did not shorten (at 1M synthetic rows it
    // made four of the six larger). Stored uncompressed: 1.0% fewer instructions, files
    // 0.8% larger. Measures and sectors keep zstd, which takes 12–36% off them.
    for column in [
        col::FAMILY,
        col::SOURCE_FILE,
        col::REGION_CODE,
        col::PROVINCE_CODE,
        col::STATUS,
        col::FOUNDED_YEAR,
    ] {
        builder =
            builder.set_column_compression(ColumnPath::from(column), Compression::UNCOMPRESSED);
    }
    // Names are only ever searched inside, where min/max cannot help; comparing every
    // long text for them costs time.
    for column in [col::NAME, col::NAME_AR] {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    builder.build()
}

/// Runs the blocking part of an ingest in `dir`.
///
/// Every file is read twice. The first pass finds each file's hash and encoding,
/// decides which rows are accepted (only their identity can reject them) and files the
/// identifier of every accepted row in the duplicate index; resolving the index then
/// tells which rows a later one supersedes. The second pass normalises every row and
/// writes the rows that stay straight into the final Parquet parts, the rollup and the
/// quarantine: no row is written twice.
pub(crate) fn stage(
    sources: &[LocalSource],
    dir: &Path,
    layout: ParquetLayout,
    progress: &Progress,
    part_done: PartDone<'_>,
) -> Result<Staged> {
    // Pass one: hashes, encodings, identities.
    let dedup_dir = dir.join("dedup");
    let mut dedup = Dedup::new(&dedup_dir).map_err(staging_err(&dedup_dir))?;
    let mut surveys = Vec::with_capacity(sources.len());
    let mut next_row = 0u64;
    for source in sources {
        let started = Instant::now();
        progress.set_phase(format!("{}: identifiers", source.name));
        let survey = survey(source, next_row, &mut dedup, progress)?;
        tracing::debug!(
            file = %source.name,
            rows = survey.rows,
            seconds = started.elapsed().as_secs_f64(),
            "identities read"
        );
        next_row += survey.rows;
        surveys.push(survey);
    }
    progress.set_phase("resolving duplicates");
    let superseded = dedup.resolve().map_err(staging_err(&dedup_dir))?;
    tracing::debug!(superseded = superseded.count(), "duplicates resolved");
    write_rows(
        sources,
        surveys,
        &superseded,
        dir,
        layout,
        progress,
        part_done,
    )
}

/// Told of each organisations part, numbered from 0, as soon as it is complete (its
/// upload can start while the next is written). An error stops the ingest.
pub(crate) type PartDone<'a> = &'a mut (dyn FnMut(usize, &Path) -> Result<()> + Send);

/// Pass two: normalises every file's rows and writes the final files.
fn write_rows(
    sources: &[LocalSource],
    surveys: Vec<Survey>,
    superseded: &Superseded,
    dir: &Path,
    layout: ParquetLayout,
    progress: &Progress,
    part_done: PartDone<'_>,
) -> Result<Staged> {
    let quarantine_path = dir.join("quarantine.parquet");
    let quarantine_file = File::create(&quarantine_path).map_err(staging_err(&quarantine_path))?;
    let mut quarantine = QuarantineWriter {
        // Row groups of one batch (at most 8,192 rows and about 256 KiB of raw values):
        // the writer holds no more than that of rejected rows, however many a file has.
        writer: ArrowWriter::try_new(
            quarantine_file,
            quarantine_schema(),
            Some(writer_properties(&ParquetLayout {
                row_group_rows: BATCH_ROWS,
                ..layout
            })),
        )
        .map_err(parquet_err("the quarantine"))?,
        builder: QuarantineBuilder::default(),
        rows: 0,
    };
    let mut organisations = FinalWriter::new(dir, layout, part_done)?;
    let mut files = Vec::with_capacity(sources.len());
    for (source, survey) in sources.iter().zip(surveys) {
        let started = Instant::now();
        let span = tracing::info_span!("ingest_file", file = %source.name, family = %source.family);
        let _enter = span.enter();
        progress.set_phase(source.name.clone());
        let io_err = |e| IngestError::Io {
            file: source.name.clone(),
            source: e,
        };
        let rows = survey.first_row..survey.first_row + survey.rows;
        let mut report = FileReport {
            family: source.family.as_str().to_owned(),
            file: source.name.clone(),
            bytes: source.data.len().map_err(io_err)?,
            sha256: survey.sha256,
            superseded: superseded.count_in(rows.clone()),
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
            organisations: &mut organisations,
            quarantine: &mut quarantine,
            check: 0,
            progress,
        };
        let kept = Kept {
            superseded,
            first_row: survey.first_row,
        };
        let summary: ReadSummary = match source.family {
            Family::Cooperative => read_csv_parallel(
                input,
                survey.encoding.expect("found for CSV"),
                &source.name,
                kept,
                &mut output,
            )?,
            Family::Association | Family::Mutual => {
                let mut collector = Collector {
                    worker: RowWorker::new(source.family, &source.name, kept),
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
        if output.check != survey.check || report.rows_read != survey.rows {
            return Err(IngestError::Changed {
                file: source.name.clone(),
            });
        }
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
            superseded = report.superseded,
            seconds = started.elapsed().as_secs_f64(),
            "file read"
        );
        files.push(report);
    }
    quarantine.flush()?;
    let quarantine_rows = quarantine.rows;
    quarantine
        .writer
        .close()
        .map_err(parquet_err("the quarantine"))?;
    progress.set_phase("writing Parquet");
    let finishing = Instant::now();
    let FinalFiles {
        parts: organisation_parts,
        organisations,
        by_family: rows_by_family,
        rollup,
    } = organisations.finish()?;
    tracing::debug!(
        seconds = finishing.elapsed().as_secs_f64(),
        "last row group and rollup written"
    );
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

/// What pass one learnt of a file.
#[derive(Debug, Clone)]
struct Survey {
    sha256: String,
    /// The text encoding (CSV only).
    encoding: Option<TextEncoding>,
    /// The number of the file's first row among all files' rows.
    first_row: u64,
    /// Rows read (accepted or rejected).
    rows: u64,
    /// [`row_check`] summed over accepted rows: pass two must find the same.
    check: u64,
}

/// Pass one over a file: its hash and encoding, and its accepted rows' identifiers into
/// `dedup`. Rows are numbered from `first_row`.
fn survey(
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
fn row_check(row: u64, id: [u64; 2]) -> u64 {
    let x = id[0] ^ id[1].rotate_left(29) ^ row.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x ^ (x >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Rows' identifiers (`None`: rejected) handed from the thread that reads them to the
/// one that hashes and spills them, in reading order.
#[derive(Debug, Default)]
struct IdBatch {
    text: String,
    /// End of each row's identifier in `text`; `usize::MAX`: rejected.
    ends: Vec<usize>,
}

/// Identifiers per [`IdBatch`].
const ID_BATCH: usize = 16_384;

/// Bytes of identifiers per [`IdBatch`] at most, however long they are.
const ID_BATCH_BYTES: usize = ID_BATCH * 64;

impl IdBatch {
    fn push(&mut self, id: Option<&str>) {
        match id {
            Some(id) => {
                self.text.push_str(id);
                self.ends.push(self.text.len());
            }
            None => self.ends.push(usize::MAX),
        }
    }

    fn each(&self, mut f: impl FnMut(Option<&str>)) {
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

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// Runs `scan` (which reads a file's rows and hands each one's identifier to its
/// argument) on this thread while another hashes the identifiers and spills them into
/// `ids`: reading the records is the pass's slow half, and the other core is otherwise
/// only hashing the file. Gives back `scan`'s result and `ids`.
fn take_ids_beside<'d>(
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
struct IdSink<'d> {
    family: Family,
    dedup: &'d mut Dedup,
    next_row: u64,
    first_row: u64,
    check: u64,
    error: Option<std::io::Error>,
}

impl<'d> IdSink<'d> {
    fn new(family: Family, first_row: u64, dedup: &'d mut Dedup) -> Self {
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
    fn finish(self) -> std::io::Result<(u64, u64)> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.next_row - self.first_row, self.check)),
        }
    }

    /// Takes the next row: accepted with this identifier, or (`None`) rejected.
    fn take(&mut self, source_id: Option<&str>) {
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

/// Which rows of a file pass two keeps: those not superseded. Rows are numbered as in
/// pass one, from `first_row`.
#[derive(Debug, Clone, Copy)]
struct Kept<'a> {
    superseded: &'a Superseded,
    first_row: u64,
}

impl Kept<'_> {
    /// The first superseded row at or after `row`, `u64::MAX` if none.
    fn next_superseded(&self, row: u64) -> u64 {
        self.superseded.next_from(row).unwrap_or(u64::MAX)
    }
}

/// The final Parquet parts and the rollup, written as rows arrive.
struct FinalWriter<'p> {
    part_done: PartDone<'p>,
    dir: PathBuf,
    layout: ParquetLayout,
    props: WriterProperties,
    rollup: RollupBuilder,
    spill_path: PathBuf,
    parts: Vec<PathBuf>,
    writer: Option<ParallelWriter>,
    in_part: usize,
    /// The family of the open part's rows: a part holds one family, so that readers
    /// of the table skip a family's files by their statistics.
    part_family: Option<String>,
    total: u64,
}

/// The family of a batch's rows (a batch comes from one registry file, so one
/// family).
fn batch_family(batch: &RecordBatch) -> Option<String> {
    use arrow::array::{Array, AsArray};
    let families = batch.column_by_name(col::FAMILY)?.as_string_opt::<i32>()?;
    (!families.is_empty() && families.is_valid(0)).then(|| families.value(0).to_owned())
}

impl<'p> FinalWriter<'p> {
    fn new(dir: &Path, layout: ParquetLayout, part_done: PartDone<'p>) -> Result<Self> {
        let spill_path = dir.join("rollup-spill");
        let spill = FileSpill::create(&spill_path).map_err(staging_err(&spill_path))?;
        Ok(FinalWriter {
            part_done,
            dir: dir.to_owned(),
            layout,
            props: writer_properties(&layout),
            rollup: RollupBuilder::with_spill(Box::new(spill), ROLLUP_BUDGET),
            spill_path,
            parts: Vec::new(),
            writer: None,
            in_part: 0,
            part_family: None,
            total: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch, rollup: RollupRows) -> Result<()> {
        self.rollup.add_rows(rollup);
        let family = batch_family(batch);
        let other_family = family.is_some() && family != self.part_family;
        if self.writer.is_none() || self.in_part >= self.layout.rows_per_file || other_family {
            self.part_family = family;
            self.close_part()?;
            let path = self
                .dir
                .join(format!("part-{:05}.parquet", self.parts.len()));
            let f = File::create(&path).map_err(staging_err(&path))?;
            self.writer = Some(
                ParallelWriter::try_new(
                    f,
                    organisation_schema(),
                    self.props.clone(),
                    self.layout.row_group_rows,
                )
                .map_err(parquet_err("organisations"))?,
            );
            self.parts.push(path);
            self.in_part = 0;
        }
        self.in_part += batch.num_rows();
        self.total += batch.num_rows() as u64;
        self.writer
            .as_mut()
            .expect("opened above")
            .write(batch)
            .map_err(parquet_err("organisations"))
    }

    /// Closes the open part, if any, and says it is done.
    fn close_part(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(parquet_err("organisations"))?;
            let n = self.parts.len() - 1;
            (self.part_done)(n, &self.parts[n])?;
        }
        Ok(())
    }

    /// Closes the last part and writes the rollup.
    fn finish(mut self) -> Result<FinalFiles> {
        if self.parts.is_empty() {
            // An empty snapshot still has one (empty) file, so readers see the schema.
            let path = self.dir.join("part-00000.parquet");
            let f = File::create(&path).map_err(staging_err(&path))?;
            ArrowWriter::try_new(f, organisation_schema(), Some(self.props.clone()))
                .and_then(|w| w.close())
                .map_err(parquet_err("organisations"))?;
            (self.part_done)(0, &path)?;
            self.parts.push(path);
        } else {
            self.close_part()?;
        }
        // The rollup already counts every organisation per family.
        let by_family: HashMap<Family, u64> = self
            .rollup
            .organisations_by_family()
            .into_iter()
            .filter_map(|(f, n)| Family::parse(&f).map(|f| (f, n)))
            .collect();
        if let Some(source) = self.rollup.take_spill_error() {
            return Err(IngestError::Staging {
                path: self.spill_path,
                source,
            });
        }
        tracing::debug!(
            groups_spilled = self.rollup.spilled_groups(),
            "rollup accumulated"
        );
        // Written once every row is in, with nothing else left to do: its columns are
        // encoded on every core (it was ~10% of a 1M-row ingest's time on one).
        let rollup_path = self.dir.join("rollup.parquet");
        let f = File::create(&rollup_path).map_err(staging_err(&rollup_path))?;
        let rows = self.layout.row_group_rows;
        let mut w = ParallelWriter::try_new(f, rollup_schema(), self.props, rows)
            .map_err(parquet_err("the rollup"))?;
        self.rollup
            .finish_into(rows, |batch| w.write(&batch))
            .map_err(parquet_err("the rollup"))?;
        w.close().map_err(parquet_err("the rollup"))?;
        let _ = std::fs::remove_file(&self.spill_path);
        Ok(FinalFiles {
            parts: self.parts,
            organisations: self.total,
            by_family,
            rollup: rollup_path,
        })
    }
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
    /// Bytes of `raw` and `detail` since the last batch.
    bytes: usize,
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
        b.bytes += raw.len() + rejection.detail.len();
        self.rows += 1;
        if b.len >= BATCH_ROWS || b.bytes >= QUARANTINE_BATCH_BYTES {
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
        b.bytes = 0;
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
        // Each batch its own row group, so the writer holds none of it afterwards.
        self.writer
            .write(&batch)
            .and_then(|()| self.writer.flush())
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
    /// The accepted rows that stay (not superseded), and the same rows keyed for the
    /// rollup.
    kept: Option<(RecordBatch, RollupRows)>,
    rejected: Vec<RejectedRow>,
    accepted: u64,
    /// [`row_check`] summed over the accepted rows.
    check: u64,
    /// Accepted rows raising each flag, indexed like [`QualityFlag::ALL`].
    flags: [u64; QualityFlag::ALL.len()],
}

/// Normalises rows of one file into [`Normalised`] runs: the part of an ingest that
/// runs on several threads (each with its own memo and batch builder).
struct RowWorker<'a> {
    family: Family,
    file: &'a str,
    kept: Kept<'a>,
    /// The number of the next row, as pass one numbered it.
    next_row: u64,
    /// The first superseded row at or after `next_row` (`u64::MAX`: none): rows come
    /// in order, so the superseded set is asked once per superseded row, not per row.
    next_superseded: u64,
    normalizer: Normalizer<'static>,
    builder: OrganisationBatchBuilder,
    keyer: RollupKeyer,
    out: Normalised,
}

impl<'a> RowWorker<'a> {
    fn new(family: Family, file: &'a str, kept: Kept<'a>) -> Self {
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
    fn seek(&mut self, row: u64) {
        self.next_row = row;
        self.next_superseded = self.kept.next_superseded(row);
    }

    /// Rows taken since the last [`RowWorker::take`].
    fn len(&self) -> usize {
        self.builder.len() + self.out.rejected.len()
    }

    fn take(&mut self) -> Normalised {
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
struct Output<'a, 'p> {
    family: Family,
    file: &'a str,
    report: &'a mut FileReport,
    organisations: &'a mut FinalWriter<'p>,
    quarantine: &'a mut QuarantineWriter,
    /// [`row_check`] summed over the file's accepted rows so far.
    check: u64,
    progress: &'a Progress,
}

impl Output<'_, '_> {
    fn absorb(&mut self, run: Normalised) -> Result<()> {
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
struct Collector<'w, 'o, 'p> {
    worker: RowWorker<'w>,
    output: &'o mut Output<'w, 'p>,
    /// The first write failure; readers cannot return errors through the sink.
    error: Option<IngestError>,
}

impl Collector<'_, '_, '_> {
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
fn read_csv_parallel(
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
        let (work_tx, work_rx) = sync_channel::<(u64, csv::CsvChunk)>(workers);
        // Shared by the workers; dropped with the last of them, which stops the parser.
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Normalised)>(workers);
        // Chunks handed out and not yet applied, at most: a worker held up (two cores
        // are shared by every thread of the ingest) made the others' results pile up
        // in `waiting` unbounded, its memory a matter of scheduling. The parser takes
        // a token before sending a chunk; applying a run gives one back.
        let window = 2 * workers + 1;
        let (token_tx, token_rx) = sync_channel::<()>(window);
        for _ in 0..window {
            token_tx.send(()).expect("room for every token");
        }
        for _ in 0..workers {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut worker = RowWorker::new(family, file, kept);
                loop {
                    let next = work_rx.lock().expect("work queue").recv();
                    let Ok((seq, chunk)) = next else { break };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::testing::Collect;
    use crate::readers::text::TextEncoding;
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// A cooperative CSV `c.csv` in memory.
    fn csv_source(bytes: impl Into<Vec<u8>>) -> LocalSource {
        LocalSource {
            family: Family::Cooperative,
            name: "c.csv".into(),
            data: LocalData::Bytes(bytes::Bytes::from(bytes.into())),
        }
    }

    /// Stages one cooperative CSV `c.csv` with the default layout.
    fn stage_csv(bytes: Vec<u8>, dir: &Path) -> Staged {
        stage(
            &[csv_source(bytes)],
            dir,
            ParquetLayout::default(),
            &Progress::default(),
            &mut |_, _| Ok(()),
        )
        .unwrap()
    }

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
    fn identifiers_handed_to_another_thread_are_taken_as_inline() {
        // Over several batches, with rejected rows, empty and long identifiers.
        let ids: Vec<Option<String>> = (0..ID_BATCH * 2 + 321)
            .map(|i| match i % 101 {
                7 => None,
                8 => Some(String::new()),
                9 => Some("x".repeat(5_000)),
                _ => Some(format!("C-{}", i % 20_000)),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let (mut inline, mut beside) = (
            Dedup::new(&dir.path().join("a")).unwrap(),
            Dedup::new(&dir.path().join("b")).unwrap(),
        );
        let mut sink = IdSink::new(Family::Cooperative, 5, &mut inline);
        ids.iter().for_each(|id| sink.take(id.as_deref()));
        let expected = sink.finish().unwrap();
        let (read, sink) =
            take_ids_beside(IdSink::new(Family::Cooperative, 5, &mut beside), |take| {
                ids.iter().for_each(|id| take(id.as_deref()));
                Ok(())
            })
            .unwrap();
        read.unwrap();
        assert_eq!(sink.finish().unwrap(), expected);
        assert_eq!(expected.0, ids.len() as u64);
        let (a, b) = (inline.resolve().unwrap(), beside.resolve().unwrap());
        assert_eq!(a.rows().collect::<Vec<_>>(), b.rows().collect::<Vec<_>>());
        assert!(a.count() > 0);

        // A scan's error comes back with the rows taken before it.
        let mut third = Dedup::new(&dir.path().join("c")).unwrap();
        let (read, sink) =
            take_ids_beside(IdSink::new(Family::Cooperative, 0, &mut third), |take| {
                take(Some("A"));
                Err(IngestError::Task("stopped".into()))
            })
            .unwrap();
        assert!(read.unwrap_err().to_string().contains("stopped"));
        assert_eq!(sink.finish().unwrap().0, 1);
    }

    #[test]
    fn a_file_that_changes_between_the_passes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let before = csv_source("N° immatriculation;Raison sociale\n1;A\n2;B\n1;C\n");
        let mut dedup = Dedup::new(&dir.path().join("dedup")).unwrap();
        let progress = Progress::default();
        let survey = survey(&before, 0, &mut dedup, &progress).unwrap();
        assert_eq!((survey.rows, survey.first_row), (3, 0));
        let superseded = dedup.resolve().unwrap();
        // Same row count, one identifier edited; then a row more.
        for after in [
            "N° immatriculation;Raison sociale\n1;A\n3;B\n1;C\n",
            "N° immatriculation;Raison sociale\n1;A\n2;B\n1;C\n4;D\n",
        ] {
            let err = write_rows(
                &[csv_source(after)],
                vec![survey.clone()],
                &superseded,
                dir.path(),
                ParquetLayout::default(),
                &progress,
                &mut |_, _| Ok(()),
            )
            .unwrap_err();
            assert!(matches!(err, IngestError::Changed { .. }), "{err}");
            assert!(
                err.to_string()
                    .starts_with("c.csv changed while it was being read")
            );
        }
        // Unchanged, it goes through.
        let staged = write_rows(
            &[before],
            vec![survey],
            &superseded,
            dir.path(),
            ParquetLayout::default(),
            &progress,
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert_eq!((staged.organisations, staged.files[0].superseded), (2, 1));
    }

    #[test]
    fn a_windows_1252_file_is_read_again_for_its_identities() {
        // Read as UTF-8 first, `\xe9` is not `é`: the identifiers filed then must be
        // forgotten, or `\xe91` would count twice and `é1` never supersede.
        let mut bytes = b"Immatriculation;Raison sociale\n".to_vec();
        bytes.extend_from_slice(b"\xe91;Coop\xe9rative\n2;B\n\xe91;C\n2;D\n3;E\n");
        let dir = tempfile::tempdir().unwrap();
        let staged = stage_csv(bytes, dir.path());
        let f = &staged.files[0];
        assert_eq!(f.encoding.as_deref(), Some("windows-1252"));
        assert_eq!((f.accepted, f.superseded, staged.organisations), (5, 2, 3));
        let reader = ParquetRecordBatchReaderBuilder::try_new(
            File::open(&staged.organisation_parts[0]).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let mut ids = Vec::new();
        for b in reader {
            let b = b.unwrap();
            let col = b.column_by_name("source_id").unwrap().as_string::<i32>();
            ids.extend(col.iter().map(|v| v.unwrap().to_owned()));
        }
        assert_eq!(ids, ["é1", "2", "3"]);
    }

    #[test]
    fn each_part_is_announced_complete_in_order_and_a_refusal_stops_the_ingest() {
        let csv = messy_csv(30_000);
        let source = || csv_source(csv.clone());
        let layout = ParquetLayout {
            rows_per_file: 4_000,
            row_group_rows: 1_000,
        };
        let dir = tempfile::tempdir().unwrap();
        let mut announced = Vec::new();
        let staged = stage(
            &[source()],
            dir.path(),
            layout,
            &Progress::default(),
            &mut |n, path| {
                // Complete when announced: it opens, and holds its rows.
                let rows = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
                    .unwrap()
                    .metadata()
                    .file_metadata()
                    .num_rows();
                announced.push((n, path.to_owned(), rows));
                Ok(())
            },
        )
        .unwrap();
        assert!(staged.organisation_parts.len() >= 2, "15,000 organisations");
        let expected: Vec<_> = staged
            .organisation_parts
            .iter()
            .enumerate()
            .map(|(n, p)| (n, p.clone()))
            .collect();
        let got: Vec<_> = announced.iter().map(|(n, p, _)| (*n, p.clone())).collect();
        assert_eq!(got, expected);
        let rows: i64 = announced.iter().map(|(_, _, r)| r).sum();
        assert_eq!(rows as u64, staged.organisations);

        let dir = tempfile::tempdir().unwrap();
        let err = stage(
            &[source()],
            dir.path(),
            layout,
            &Progress::default(),
            &mut |_, _| Err(IngestError::Task("upload refused".into())),
        )
        .unwrap_err();
        assert!(err.to_string().contains("upload refused"), "{err}");
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
        let staged = stage_csv(csv.into_bytes(), dir.path());
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
                let source_ids = b.column_by_name("source_id").unwrap().as_string::<i32>();
                let rows = b.column_by_name("source_row").unwrap();
                let members = b.column_by_name("members_total").unwrap();
                let (rows, members) = (
                    rows.as_primitive::<Int64Type>(),
                    members.as_primitive::<Int64Type>(),
                );
                for i in 0..b.num_rows() {
                    // Both identifier columns are delta-encoded: each reads back whole.
                    assert_eq!(
                        ids.value(i).strip_prefix("cooperative:"),
                        Some(source_ids.value(i))
                    );
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

    #[test]
    fn dictionaries_and_statistics_are_kept_where_they_pay() {
        use ess_schemas::arrow_schema::col;
        use parquet::schema::types::ColumnPath;
        let props = writer_properties(&ParquetLayout::default());
        let dictionary = |c: &str| props.dictionary_enabled(&ColumnPath::from(c));
        let statistics = |c: &str| props.statistics_enabled(&ColumnPath::from(c));
        // Dimensions and counts repeat: a dictionary, and page statistics to prune on.
        for c in [
            col::REGION_CODE,
            col::SECTOR_CODE,
            col::FOUNDED_YEAR,
            col::MEMBERS_TOTAL,
        ] {
            assert!(dictionary(c), "{c}");
            assert_eq!(statistics(c), EnabledStatistics::Page, "{c}");
        }
        // Founding dates are nearly unique per row group: no dictionary, page statistics.
        assert!(!dictionary(col::FOUNDED_ON));
        assert_eq!(statistics(col::FOUNDED_ON), EnabledStatistics::Page);
        // Identifiers and names: no dictionary; chunk statistics, none for names.
        for c in [col::ORG_ID, col::SOURCE_ID, col::SOURCE_ROW] {
            assert!(!dictionary(c), "{c}");
            assert_eq!(statistics(c), EnabledStatistics::Chunk, "{c}");
        }
        for c in [col::NAME, col::NAME_AR] {
            assert!(!dictionary(c), "{c}");
            assert_eq!(statistics(c), EnabledStatistics::None, "{c}");
        }
    }

    #[test]
    fn identifiers_are_delta_encoded_and_small_codes_left_uncompressed() {
        use ess_schemas::arrow_schema::col;
        use parquet::basic::{Compression, Encoding};
        let dir = tempfile::tempdir().unwrap();
        let staged = stage_csv(messy_csv(40_000).into_bytes(), dir.path());
        let file = File::open(&staged.organisation_parts[0]).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let meta = builder.metadata().clone();
        let schema = meta.file_metadata().schema_descr_ptr();
        let chunk = |name: &str| {
            let i = (0..schema.num_columns())
                .find(|&i| schema.column(i).path().string() == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            meta.row_group(0).column(i).clone()
        };
        for c in [col::ORG_ID, col::SOURCE_ID] {
            let chunk = chunk(c);
            assert!(
                chunk.encodings().any(|e| e == Encoding::DELTA_BYTE_ARRAY),
                "{c}"
            );
            assert!(matches!(chunk.compression(), Compression::ZSTD(_)), "{c}");
        }
        assert!(
            chunk(col::SOURCE_ROW)
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED)
        );
        for c in [
            col::FAMILY,
            col::REGION_CODE,
            col::STATUS,
            col::FOUNDED_YEAR,
        ] {
            let chunk = chunk(c);
            assert_eq!(chunk.compression(), Compression::UNCOMPRESSED, "{c}");
            assert!(
                chunk.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
                "{c}"
            );
        }
        assert!(matches!(
            chunk(col::MEMBERS_TOTAL).compression(),
            Compression::ZSTD(_)
        ));
        // That these columns read back whole (each id from its last row, in order) is
        // checked on the same file by `parallel_csv_reading_gives_what_one_thread_gives`.
    }

    #[test]
    fn rejected_rows_with_long_raw_values_are_written_in_row_groups_of_a_bounded_size() {
        // 3,000 nameless rows with 1 KB of raw values each: 3 MB of quarantine, which
        // must come out whole, in order, in several row groups none much over 256 KiB.
        let mut csv = String::from("N° immatriculation;Raison sociale;Secteur\n");
        let long = "x".repeat(1000);
        for i in 0..3_000 {
            csv.push_str(&format!("R-{i};;{long}\n"));
            csv.push_str(&format!("A-{i};Coop {i};Artisanat\n"));
        }
        let dir = tempfile::tempdir().unwrap();
        let staged = stage_csv(csv.into_bytes(), dir.path());
        assert_eq!(staged.files[0].rejected, 3_000);
        assert_eq!(staged.quarantine_rows, 3_000);

        let builder =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&staged.quarantine).unwrap())
                .unwrap();
        let meta = builder.metadata().clone();
        assert!(
            meta.num_row_groups() >= 11,
            "{} row groups",
            meta.num_row_groups()
        );
        for g in meta.row_groups() {
            // Rows of ~1 KB of raw value each: no group holds much more than 256 KiB.
            assert!(g.num_rows() <= 280, "{} rows in a group", g.num_rows());
        }
        let mut rows = Vec::new();
        for b in builder.build().unwrap() {
            let b = b.unwrap();
            let r = b
                .column_by_name("source_row")
                .unwrap()
                .as_primitive::<Int64Type>();
            let raw = b.column_by_name("raw").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                assert!(raw.value(i).contains(&long));
                rows.push(r.value(i));
            }
        }
        assert_eq!(rows, (0..3_000).map(|i| 2 + 2 * i).collect::<Vec<i64>>());
    }
}
