//! The blocking part of an ingest, on local disk: read every file twice, first for the
//! identities that resolve duplicates (last wins), then to normalise the rows and write
//! those that stay to the final Parquet files (see `stage`).
//!
//! Pass one reads every file for its identities only: whether a row is accepted
//! depends only on its identifier and names (`normalize::identity`), and every row,
//! accepted or not, is numbered in reading order. Each accepted row's `(id hash, row)`
//! goes to the duplicate index (`dedup.rs`), which, once every file is read, tells the
//! superseded rows (last wins, files in the order given). Pass two normalises every
//! row and writes those not superseded straight into the final files: no row is
//! written twice. Both passes sum a checksum of (row number, id hash) over the accepted
//! rows (`row_check`); if a file changed between them the ingest fails with "changed
//! while it was being read" rather than drop the wrong rows.
//!
//! Memory stays flat as files grow: rows go to Parquet in batches of `BATCH_ROWS`
//! (8,192) as they are read, in row groups of 32Ki rows (`ParquetLayout`; the writer
//! holds about two) and 4,096-row pages; the duplicate index is spilled to disk; the
//! quarantine is written in row groups of at most 8,192 rows and about 256 KiB of raw
//! values (`QUARANTINE_BATCH_BYTES`); the rollup's tables are bounded
//! (`ROLLUP_BUDGET`); and the cooperative CSV is normalised on every core in bounded
//! chunks (`read_csv_parallel`). Batch builders are sized from the last batch with an
//! eighth of headroom (`OrganisationBatchBuilder`), so no buffer is doubled for a batch
//! a little larger than the last.
//!
//! - `survey`: pass one (hashes, encodings, identities).
//! - `pipeline`: pass two's row workers, collector and parallel CSV reading.
//! - `output`: the organisations' parts and the rollup.
//! - `quarantine`: the rejected rows.
//! - `writer_settings`: the Parquet writer settings of published files.

mod output;
mod pipeline;
mod quarantine;
mod survey;
#[cfg(test)]
mod tests;
mod writer_settings;

use output::*;
use pipeline::*;
use quarantine::*;
use survey::*;
pub(crate) use writer_settings::writer_properties;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use crate::rollup::{RollupBuilder, RollupKeyer, RollupRows};
use arrow::array::{Int64Builder, RecordBatch, StringBuilder};
use ess_schemas::arrow_schema::{
    OrganisationBatchBuilder, col, organisation_schema, quarantine_schema,
};
use ess_schemas::layout::FileReport;
use ess_schemas::rollup::rollup_schema;
use ess_schemas::{Family, QualityFlag, reference};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::dedup::{Dedup, Superseded, id_hash};
use crate::error::{IngestError, Result};
use crate::input_fields::Record;
use crate::normalize::{Normalizer, Rejection, identity};
use crate::parquet_out::ParallelWriter;
use crate::progress::Progress;
use crate::readers::text::{TextEncoding, detect_encoding};
use crate::readers::{CountingReader, ReadSummary, RowSink, csv, json, xlsx};
use crate::rollup::{FileSpill, ROLLUP_BUDGET};
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
        source: Box::new(e),
    }
}

fn parquet_err(what: &str) -> impl Fn(parquet::errors::ParquetError) -> IngestError + '_ {
    move |e| IngestError::Encode {
        what: what.to_owned(),
        source: Box::new(e),
    }
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
