//! The files a snapshot offers for download, made from its staged files on local disk:
//! every organisation in one Parquet file, and one file per family.
//!
//! The table's files are copied column chunk by column chunk (their encoded pages
//! and page indexes as they are: nothing is decoded), under a footer that adds what a
//! reader needs to use the file alone: a description of every column (in the Arrow
//! schema's field metadata, which pyarrow, polars and R show, and as `ess.columns`)
//! and the snapshot's provenance (`ess.provenance`: its id and date, the licence, and
//! the registry files with their SHA-256). Each file's size, rows and SHA-256 are
//! taken as it is written, for the commit to record.
//!
//! A download names its snapshot, whose id is the table version the commit takes:
//! they are written for the version the commit is about to take, and again only if
//! another ingest takes that version first.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{Field, Schema};
use ess_schemas::Family;
use ess_schemas::arrow_schema::organisation_schema;
use ess_schemas::columns::{ColumnDoc, ORGANISATION_COLUMNS};
use ess_schemas::layout::{ALL_ORGANISATIONS_FILE, PARQUET_MEDIA_TYPE, SourceRef, family_file};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{KeyValue, PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{IngestError, Result};

/// The licence every published file is under.
pub const LICENCE: &str = "CC-BY-4.0";

/// Where a snapshot comes from, as its download files say it.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// The dataset.
    pub dataset: &'static str,
    /// The snapshot's id.
    pub snapshot_id: String,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// The ingest run that wrote it.
    pub run_id: String,
    /// The licence ([SPDX](https://spdx.org/licenses/) id).
    pub licence: &'static str,
    /// The registry files ingested, in order, with their SHA-256.
    pub sources: Vec<SourceRef>,
    /// The software that wrote it.
    pub writer: String,
}

/// The dataset's title, as files and citations give it.
pub const DATASET: &str = "ESS Open Data: organisations of Morocco's social and solidarity economy";

/// A download file written on local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDownload {
    /// Its public name.
    pub name: String,
    /// Where it is.
    pub local: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows.
    pub rows: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Media type.
    pub media_type: &'static str,
}

/// Writes the organisations download files in `dir` from the snapshot's table files
/// `parts` (on local disk, in order; each holds one family's rows): every
/// organisation, then one file per family (in [`Family::ALL`] order; a family with
/// no organisation gets a file with none).
pub fn write_organisation_downloads(
    dir: &Path,
    parts: &[PathBuf],
    provenance: &Provenance,
) -> Result<Vec<LocalDownload>> {
    let opened = parts
        .iter()
        .map(|path| {
            let file = File::open(path).map_err(|source| IngestError::Io {
                file: path.display().to_string(),
                source,
            })?;
            let meta = ParquetMetaDataReader::new()
                .with_page_index_policy(PageIndexPolicy::Optional)
                .parse_and_finish(&file)
                .map_err(parquet_err(path))?;
            Ok((part_family(path, &meta)?, file, meta))
        })
        .collect::<Result<Vec<_>>>()?;
    let properties = Arc::new(download_properties(provenance));
    let mut written = vec![concatenate(
        &dir.join(ALL_ORGANISATIONS_FILE),
        ALL_ORGANISATIONS_FILE,
        opened.iter().map(|(_, f, m)| (f, m)),
        &properties,
    )?];
    for family in Family::ALL {
        let name = family_file(family.as_str());
        written.push(concatenate(
            &dir.join(&name),
            &name,
            opened
                .iter()
                .filter(|(f, _, _)| *f == Some(family))
                .map(|(_, f, m)| (f, m)),
            &properties,
        )?);
    }
    Ok(written)
}

/// The family of a table file's rows, from its statistics (`None` for a file without
/// rows). A file holding more than one family breaks the staging's invariant.
fn part_family(path: &Path, meta: &ParquetMetaData) -> Result<Option<Family>> {
    use parquet::file::statistics::Statistics;
    let broken = |why: &str| IngestError::Encode {
        what: format!("the download files, from {}", path.display()),
        source: why.to_owned().into(),
    };
    let column = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == ess_schemas::arrow_schema::col::FAMILY)
        .ok_or_else(|| broken("the file has no family column"))?;
    let mut found = None;
    for group in meta.row_groups() {
        let Some(Statistics::ByteArray(s)) = group.column(column).statistics() else {
            return Err(broken("a row group has no statistics of its family"));
        };
        let (Some(min), Some(max)) = (s.min_opt(), s.max_opt()) else {
            return Err(broken("a row group has no statistics of its family"));
        };
        let family = (min == max)
            .then(|| std::str::from_utf8(min.data()).ok().and_then(Family::parse))
            .flatten()
            .ok_or_else(|| broken("a table file holds more than one family"))?;
        if found.is_some_and(|f| f != family) {
            return Err(broken("a table file holds more than one family"));
        }
        found = Some(family);
    }
    Ok(found)
}

/// The size and SHA-256 of a local file.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let io = |source| IngestError::Io {
        file: path.display().to_string(),
        source,
    };
    let mut hashing = HashingWriter::new(std::io::sink());
    std::io::copy(&mut File::open(path).map_err(io)?, &mut hashing).map_err(io)?;
    Ok(hashing.finish())
}

/// The SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes as lowercase hex.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn parquet_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> IngestError + '_ {
    move |e| IngestError::Encode {
        what: format!("the download file {}", path.display()),
        source: Box::new(e),
    }
}

/// The published files' writer settings, with the column descriptions and the
/// provenance in the footer. (Only the footer is written: the pages are copied.)
fn download_properties(provenance: &Provenance) -> WriterProperties {
    let columns: Vec<_> = ORGANISATION_COLUMNS
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name, "type": c.kind, "description_fr": c.fr, "description_en": c.en,
            })
        })
        .collect();
    let mut properties = WriterProperties::builder()
        .set_created_by(provenance.writer.clone())
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                "ess.provenance".to_owned(),
                serde_json::to_string(provenance).expect("provenance serialises"),
            ),
            KeyValue::new(
                "ess.columns".to_owned(),
                serde_json::to_string(&columns).expect("columns serialise"),
            ),
        ]))
        .build();
    parquet::arrow::add_encoded_arrow_schema_to_metadata(&described_schema(), &mut properties);
    properties
}

/// The organisations' Arrow schema with each field's description (English and
/// French) in its metadata.
fn described_schema() -> Schema {
    let schema = organisation_schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let doc: Option<&ColumnDoc> = ORGANISATION_COLUMNS.iter().find(|c| c.name == f.name());
            let mut metadata = HashMap::new();
            if let Some(doc) = doc {
                metadata.insert("description".to_owned(), doc.en.to_owned());
                metadata.insert("description_fr".to_owned(), doc.fr.to_owned());
            }
            f.as_ref().clone().with_metadata(metadata)
        })
        .collect();
    Schema::new(fields)
}

/// Writes `path` holding every row group of `inputs`, in order.
fn concatenate<'a>(
    path: &Path,
    name: &str,
    inputs: impl Iterator<Item = (&'a File, &'a ParquetMetaData)> + Clone,
    properties: &Arc<WriterProperties>,
) -> Result<LocalDownload> {
    let io = |source| IngestError::Io {
        file: path.display().to_string(),
        source,
    };
    let schema = {
        use parquet::arrow::ArrowSchemaConverter;
        ArrowSchemaConverter::new()
            .convert(&organisation_schema())
            .map_err(parquet_err(path))?
            .root_schema_ptr()
    };
    let out = HashingWriter::new(BufWriter::with_capacity(
        1 << 20,
        File::create(path).map_err(io)?,
    ));
    let mut writer =
        SerializedFileWriter::new(out, schema, properties.clone()).map_err(parquet_err(path))?;
    let mut rows = 0u64;
    for (file, meta) in inputs {
        let (column_indexes, offset_indexes) = (meta.column_index(), meta.offset_index());
        for (g, group) in meta.row_groups().iter().enumerate() {
            let mut out = writer.next_row_group().map_err(parquet_err(path))?;
            for (c, column) in group.columns().iter().enumerate() {
                out.append_column(
                    file,
                    ColumnCloseResult {
                        bytes_written: column.compressed_size() as u64,
                        rows_written: group.num_rows() as u64,
                        metadata: column.clone(),
                        bloom_filter: None,
                        column_index: column_indexes
                            .and_then(|x| x.get(g))
                            .and_then(|x| x.get(c))
                            .cloned(),
                        offset_index: offset_indexes
                            .and_then(|x| x.get(g))
                            .and_then(|x| x.get(c))
                            .cloned(),
                    },
                )
                .map_err(parquet_err(path))?;
            }
            out.close().map_err(parquet_err(path))?;
            rows += group.num_rows() as u64;
        }
    }
    let out = writer.into_inner().map_err(parquet_err(path))?;
    let (bytes, sha256) = out.finish_flushed().map_err(io)?;
    Ok(LocalDownload {
        name: name.to_owned(),
        local: path.to_owned(),
        bytes,
        rows,
        sha256,
        media_type: PARQUET_MEDIA_TYPE,
    })
}

/// Passes bytes through while hashing and counting them.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Flushes, and gives the bytes written and their SHA-256.
    fn finish_flushed(mut self) -> std::io::Result<(u64, String)> {
        self.inner.flush()?;
        Ok(self.finish())
    }

    fn finish(self) -> (u64, String) {
        (self.bytes, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
