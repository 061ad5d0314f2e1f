//! The cooperative registry: CSV, `;` or `,` sniffed from the header line, UTF-8 (with
//! or without BOM) or Windows-1252, quoted fields with delimiters, `""` and line
//! breaks, headers in any order and spelling.
//!
//! Records are parsed into `CsvChunk`s of `CHUNK_ROWS` (8,192) records: their bytes in
//! one buffer, field spans as 32-bit offsets (a run of 8,192 records over 4 GiB is an
//! error naming the line: an unclosed quote). A chunk is checked as UTF-8 once, with
//! SIMD (`simdutf8`), and its fields are read in place where they are normalised
//! (`TextRow`: no copy per field); the records of a chunk that is not valid UTF-8 are
//! decoded field by field into a `RawRecord`. The file's encoding is found beforehand
//! (`readers::text`) and the text decoded as it is scanned.
//!
//! - `scanner`: records split from raw bytes (a `memchr` fast path, `csv_core` for
//!   quoted records), and pass one's identities.

mod scanner;
#[cfg(test)]
mod tests;

pub use scanner::scan_identities;
use scanner::*;

use std::io::{self, Read};
use std::sync::Arc;

use ess_schemas::Family;

use super::text::{TextEncoding, decoded};
use super::{ReadSummary, RowSink, raw_json};
use crate::error::{IngestError, Result};
use crate::input_fields::{ColumnMap, Field, RawRecord, Record, TextRow};
use crate::normalize::{bytes_named, named_identity};

/// Records per [`CsvChunk`].
pub const CHUNK_ROWS: usize = 8192;

/// Bytes (and fields) a [`CsvChunk`] holds at most: its offsets are 32-bit.
const CHUNK_BYTES_MAX: usize = u32::MAX as usize;

/// Reads a cooperative CSV already known to be in `encoding`, row by row into `sink`.
pub fn read_csv(
    input: impl Read + Send + 'static,
    encoding: TextEncoding,
    file: &str,
    sink: &mut dyn RowSink,
) -> Result<ReadSummary> {
    read_csv_chunks(input, encoding, file, CHUNK_ROWS, &mut |chunk| {
        chunk.feed(sink);
        Ok(())
    })
}

/// Parsed CSV records, in file order, with the line each starts on: what the parsing
/// thread hands to the normalising threads. Fields are kept as bytes in one buffer; a
/// chunk's records are read in place ([`TextRow`]) where they are normalised.
#[derive(Debug)]
pub struct CsvChunk {
    map: Arc<ColumnMap>,
    /// Each record's fields, with the delimiters between them when it was a plain line.
    data: Vec<u8>,
    /// Where every field of every record is in `data` (32-bit offsets: half the memory
    /// of `usize` ones, and a chunk's bytes are checked to fit, [`CHUNK_BYTES_MAX`]).
    spans: Vec<(u32, u32)>,
    /// Per record: its line, the index of its first field in `spans`, its field count.
    records: Vec<(i64, u32, u32)>,
    /// Bytes and fields held at most ([`CHUNK_BYTES_MAX`]; less in tests).
    limit: usize,
}

impl CsvChunk {
    fn new(map: Arc<ColumnMap>) -> Self {
        CsvChunk {
            map,
            data: Vec::with_capacity(CHUNK_ROWS * 128),
            spans: Vec::with_capacity(CHUNK_ROWS * 16),
            records: Vec::with_capacity(CHUNK_ROWS),
            limit: CHUNK_BYTES_MAX,
        }
    }

    /// Adds a record: its bytes in one copy, not field by field. Fails when the chunk
    /// would pass [`CHUNK_BYTES_MAX`] (a record of gigabytes: an unclosed quote).
    fn push(&mut self, line: i64, record: RecordView<'_>) -> std::result::Result<(), ()> {
        let (bytes, ranges) = record.spans();
        let (base, first) = (self.data.len(), self.spans.len());
        if base + bytes.len() > self.limit || first + ranges.len() > self.limit {
            return Err(());
        }
        self.data.extend_from_slice(bytes);
        // Both fit in 32 bits: checked above.
        let offset = |i: usize| (base + i) as u32;
        self.spans
            .extend(ranges.iter().map(|r| (offset(r.start), offset(r.end))));
        self.records.push((line, first as u32, ranges.len() as u32));
        Ok(())
    }

    /// Records in the chunk.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the chunk holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Where field `i` (of all records) is in `data`.
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        let (start, end) = self.spans[i];
        start as usize..end as usize
    }

    fn fields(&self, first: usize, count: usize) -> impl Iterator<Item = &[u8]> {
        (first..first + count).map(move |i| &self.data[self.range(i)])
    }

    /// Hands every record to `sink`, in order; rejected ones go back to it with their
    /// raw values.
    pub fn feed(&self, sink: &mut dyn RowSink) {
        // Decoded text is UTF-8, so the whole chunk is checked once; fields end at ASCII
        // delimiters, quotes or line ends, which are never inside a character, so each
        // is then a slice of it, read in place (each boundary is checked all the same).
        let text = simdutf8::basic::from_utf8(&self.data).ok();
        let mut raw = RawRecord::default();
        for &(line, first, count) in &self.records {
            let (first, count) = (first as usize, count as usize);
            let spans = &self.spans[first..first + count];
            let in_place = text.filter(|t| {
                spans.iter().all(|&(start, end)| {
                    t.is_char_boundary(start as usize) && t.is_char_boundary(end as usize)
                })
            });
            let record = match in_place {
                Some(text) => Record::Text(TextRow {
                    text,
                    spans,
                    columns: &self.map.by_field,
                }),
                None => {
                    // Bytes that are not UTF-8: each field decoded on its own.
                    raw.clear();
                    for (i, field) in (first..first + count).zip(&self.map.columns) {
                        if let Some(field) = field {
                            let value = String::from_utf8_lossy(&self.data[self.range(i)]);
                            raw.set_text(*field, &value);
                        }
                    }
                    Record::Raw(&raw)
                }
            };
            if let Some(rejection) = sink.row(line, record) {
                let values = self
                    .fields(first, count)
                    .map(|v| String::from_utf8_lossy(v).into_owned());
                sink.reject(line, rejection, raw_json(&self.map.headers, values));
            }
        }
    }
}

/// Parses a cooperative CSV already known to be in `encoding` into chunks of up to
/// `chunk_rows` records, handed to `emit` in file order. Blank records are skipped; the
/// header row is read and checked here.
pub fn read_csv_chunks(
    input: impl Read + Send + 'static,
    encoding: TextEncoding,
    file: &str,
    chunk_rows: usize,
    emit: &mut dyn FnMut(CsvChunk) -> Result<()>,
) -> Result<ReadSummary> {
    read_chunks_within(input, encoding, file, chunk_rows, CHUNK_BYTES_MAX, emit)
}

/// [`read_csv_chunks`], each chunk holding at most `limit` bytes and fields.
fn read_chunks_within(
    input: impl Read + Send + 'static,
    encoding: TextEncoding,
    file: &str,
    chunk_rows: usize,
    limit: usize,
    emit: &mut dyn FnMut(CsvChunk) -> Result<()>,
) -> Result<ReadSummary> {
    let mut scanner = Scanner::new(input, encoding, file, SCAN_BLOCK)?;
    let mut summary = ReadSummary {
        encoding: Some(encoding.label().to_owned()),
        delimiter: Some((scanner.delimiter as char).to_string()),
        ..ReadSummary::default()
    };
    let mut chunk: Option<CsvChunk> = None;
    let mut columns: Option<Arc<ColumnMap>> = None;
    while let Some((line, record)) = scanner.next_record()? {
        let Some(map) = &columns else {
            let map = header_map(record.fields(), file)?;
            summary.unknown_columns = map.unknown.clone();
            columns = Some(Arc::new(map));
            continue;
        };
        let current = chunk.get_or_insert_with(|| CsvChunk {
            limit,
            ..CsvChunk::new(map.clone())
        });
        if current.push(line as i64, record).is_err() {
            return Err(chunk_too_large(file, line));
        }
        if current.len() >= chunk_rows {
            emit(chunk.take().expect("filled above"))?;
        }
    }
    if columns.is_none() {
        return Err(no_header(file));
    }
    // A chunk exists only once a record was pushed into it.
    if let Some(last) = chunk {
        emit(last)?;
    }
    Ok(summary)
}

/// A run of records too large to hold: nearly always a quote that never closes, so
/// that the rest of the file reads as one field.
fn chunk_too_large(file: &str, line: u64) -> IngestError {
    IngestError::Io {
        file: file.to_owned(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the records from line {line} on hold more than 4 GiB in {CHUNK_ROWS} rows; \
                 is a quoted field never closed?"
            ),
        ),
    }
}

/// The columns of a header row; the identifier and name columns are required.
fn header_map<'f>(fields: impl Iterator<Item = &'f [u8]>, file: &str) -> Result<ColumnMap> {
    let headers: Vec<String> = fields
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let map = ColumnMap::new(Family::Cooperative, headers);
    for field in [Field::SourceId, Field::Name] {
        if !map.has(field) {
            return Err(IngestError::MissingColumn {
                file: file.to_owned(),
                field: field.name(),
                expected: ColumnMap::spellings(Family::Cooperative, field),
                found: map.headers.join(" | "),
            });
        }
    }
    Ok(map)
}

fn no_header(file: &str) -> IngestError {
    IngestError::MissingColumn {
        file: file.to_owned(),
        field: Field::SourceId.name(),
        expected: ColumnMap::spellings(Family::Cooperative, Field::SourceId),
        found: "none: the file is empty".to_owned(),
    }
}
