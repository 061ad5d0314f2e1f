//! The blocking part of an ingest, on local disk: read every file, normalise, stage
//! accepted rows, resolve duplicates (last wins), and write the final Parquet files.
//!
//! Memory stays flat as files grow: rows are staged to an Arrow IPC file in batches,
//! and only the `source_id → row` index used for duplicates is kept in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{BooleanArray, Int64Builder, RecordBatch, StringBuilder};
use arrow::compute::filter_record_batch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use ess_schemas::arrow_schema::{OrganisationBatchBuilder, organisation_schema, quarantine_schema};
use ess_schemas::layout::FileReport;
use ess_schemas::rollup::{RollupBuilder, rollup_schema};
use ess_schemas::{Family, reference};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::error::{IngestError, Result};
use crate::fields::RawRecord;
use crate::normalize::{Normalizer, Rejection};
use crate::progress::Progress;
use crate::readers::text::detect_encoding;
use crate::readers::{CountingReader, ReadSummary, RowSink, csv, json, xlsx};
use crate::source::{HashingReader, LocalData};

/// Rows per record batch while staging.
const BATCH_ROWS: usize = 8192;

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
            row_group_rows: 256 * 1024,
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
pub(crate) fn writer_properties(layout: &ParquetLayout) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(layout.row_group_rows))
        .set_created_by(format!("ess {}", env!("CARGO_PKG_VERSION")))
        .build()
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

    let mut dedup = Dedup::default();
    let mut normalizer = Normalizer::new(reference());
    let mut files = Vec::with_capacity(sources.len());
    let mut file_of_row: Vec<(u64, usize)> = Vec::with_capacity(sources.len());

    for (index, source) in sources.iter().enumerate() {
        let started = Instant::now();
        let span = tracing::info_span!("ingest_file", file = %source.name, family = %source.family);
        let _enter = span.enter();
        progress.set_phase(source.name.clone());
        file_of_row.push((dedup.next_row, index));
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
        let mut collector = Collector {
            family: source.family,
            file: &source.name,
            report: &mut report,
            builder: OrganisationBatchBuilder::default(),
            staging: &mut staging,
            quarantine: &mut quarantine,
            dedup: &mut dedup,
            normalizer: &mut normalizer,
            progress,
            error: None,
        };
        let summary: ReadSummary = match source.family {
            Family::Cooperative => csv::read_csv(
                input,
                encoding.expect("detected for CSV"),
                &source.name,
                &mut collector,
            )?,
            Family::Association => xlsx::read_xlsx(input, &source.name, &mut collector)?,
            Family::Mutual => json::read_json(input, &source.name, &mut collector)?,
        };
        collector.flush()?;
        if let Some(e) = collector.error.take() {
            return Err(e);
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
    for (row, superseded) in dedup.superseded.iter().enumerate() {
        if *superseded {
            let at = file_of_row.partition_point(|(start, _)| *start <= row as u64) - 1;
            files[file_of_row[at].1].superseded += 1;
        }
    }

    drop(std::mem::take(&mut dedup.last)); // only the superseded marks are needed now
    progress.set_phase("writing Parquet");
    let FinalFiles {
        parts: organisation_parts,
        organisations,
        by_family: rows_by_family,
        rollup,
    } = write_final(&staging_path, &dedup.superseded, dir, layout)?;
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
    superseded: &[bool],
    dir: &Path,
    layout: ParquetLayout,
) -> Result<FinalFiles> {
    let mut rollup = RollupBuilder::default();
    let file = File::open(staging_path).map_err(staging_err(staging_path))?;
    let reader = StreamReader::try_new(BufReader::with_capacity(1 << 20, file), None)
        .map_err(encode_err("the staging file"))?;
    let props = writer_properties(&layout);
    let mut parts: Vec<PathBuf> = Vec::new();
    let mut writer: Option<ArrowWriter<File>> = None;
    let mut in_part = 0usize;
    let mut offset = 0usize;
    let mut total = 0u64;
    for batch in reader {
        let batch = batch.map_err(encode_err("the staging file"))?;
        let keep: BooleanArray = superseded[offset..offset + batch.num_rows()]
            .iter()
            .map(|s| Some(!s))
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
                ArrowWriter::try_new(f, organisation_schema(), Some(props.clone()))
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

/// Last-wins duplicate resolution: the last accepted row of each `source_id` within a
/// family wins; earlier ones are marked superseded by their staging position.
///
/// Ids are kept as 128-bit hashes (two independently keyed SipHash values) in one map
/// per family: 24-byte buckets instead of an owned string each. A collision between two
/// of ten million ids has a probability below 1e-24. Memory still grows with the number
/// of distinct ids (about 50 bytes each with the table's spare capacity).
#[derive(Debug, Default)]
struct Dedup {
    last: HashMap<Family, HashMap<[u64; 2], u64>>,
    superseded: Vec<bool>,
    next_row: u64,
}

fn id_hash(source_id: &str) -> [u64; 2] {
    use std::hash::{Hash, Hasher};
    let half = |salt: u64| {
        #[allow(deprecated)] // SipHasher's fixed keys are the point: stable across runs
        let mut h = std::hash::SipHasher::new_with_keys(0x6573_735f_6964, salt);
        source_id.hash(&mut h);
        h.finish()
    };
    [half(1), half(2)]
}

impl Dedup {
    fn accept(&mut self, family: Family, source_id: &str) {
        let row = self.next_row;
        self.next_row += 1;
        self.superseded.push(false);
        let ids = self.last.entry(family).or_default();
        if let Some(previous) = ids.insert(id_hash(source_id), row) {
            self.superseded[previous as usize] = true;
        }
    }
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

/// The [`RowSink`] of one file: normalises, counts, stages and quarantines.
struct Collector<'a> {
    family: Family,
    file: &'a str,
    report: &'a mut FileReport,
    builder: OrganisationBatchBuilder,
    staging: &'a mut StreamWriter<BufWriter<File>>,
    quarantine: &'a mut QuarantineWriter,
    dedup: &'a mut Dedup,
    normalizer: &'a mut Normalizer<'static>,
    progress: &'a Progress,
    /// The first write failure; readers cannot return errors through the sink.
    error: Option<IngestError>,
}

impl Collector<'_> {
    fn flush(&mut self) -> Result<()> {
        if self.builder.is_empty() {
            return Ok(());
        }
        self.progress.add_rows(self.builder.len() as u64);
        let batch = self.builder.finish();
        self.staging
            .write(&batch)
            .map_err(encode_err("the staging file"))
    }

    fn keep_error(&mut self, result: Result<()>) {
        if let Err(e) = result
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }
}

impl RowSink for Collector<'_> {
    fn row(&mut self, row: i64, record: &RawRecord) -> Option<Rejection> {
        match self
            .normalizer
            .normalize(self.family, record, self.file, row)
        {
            Ok(org) => {
                self.report.rows_read += 1;
                self.report.accepted += 1;
                for flag in org.quality_flags.iter() {
                    *self
                        .report
                        .flags
                        .entry(flag.as_str().to_owned())
                        .or_default() += 1;
                }
                self.dedup.accept(self.family, &org.source_id);
                self.builder.push(&org);
                if self.builder.len() >= BATCH_ROWS {
                    let r = self.flush();
                    self.keep_error(r);
                }
                None
            }
            Err(rejection) => Some(rejection),
        }
    }

    fn reject(&mut self, row: i64, rejection: Rejection, raw: String) {
        self.report.rows_read += 1;
        self.report.rejected += 1;
        *self
            .report
            .rejected_by_reason
            .entry(rejection.reason.to_owned())
            .or_default() += 1;
        tracing::debug!(file = self.file, row, reason = rejection.reason, detail = %rejection.detail, "row rejected");
        let r = self
            .quarantine
            .push(self.family, self.file, row, &rejection, &raw);
        self.keep_error(r);
    }
}
