//! The cooperative registry: CSV, `;` or `,` sniffed from the header line, UTF-8 (with
//! or without BOM) or Windows-1252, quoted fields with delimiters, `""` and line
//! breaks, headers in any order and spelling.

use std::io::{self, Read};
use std::sync::Arc;

use ess_schemas::Family;

use super::text::{TextEncoding, decoded};
use super::{ReadSummary, RowSink, raw_json};
use crate::error::{IngestError, Result};
use crate::fields::{ColumnMap, Field, RawRecord, Record, TextRow};
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

/// Bytes read at a time by the [`Scanner`].
const SCAN_BLOCK: usize = 4 << 20;

/// The first pass over a cooperative CSV: for every row [`read_csv`] hands on, in the
/// same order, its identifier when [`named_identity`] accepts the row, else `None`.
/// Decoding only the identifier and name fields, it runs at memory speed.
pub fn scan_identities(
    input: impl Read + Send + 'static,
    encoding: TextEncoding,
    file: &str,
    on_row: &mut dyn FnMut(Option<&str>),
) -> Result<()> {
    scan_identities_in_blocks(input, encoding, file, SCAN_BLOCK, on_row)
}

fn scan_identities_in_blocks(
    input: impl Read + Send + 'static,
    encoding: TextEncoding,
    file: &str,
    block: usize,
    on_row: &mut dyn FnMut(Option<&str>),
) -> Result<()> {
    let mut scanner = Scanner::new(input, encoding, file, block)?;
    let mut columns: Option<[Option<usize>; 3]> = None;
    while let Some((_, record)) = scanner.next_record()? {
        match &columns {
            None => {
                let map = header_map(record.fields(), file)?;
                let column = |f: Field| map.columns.iter().position(|c| *c == Some(f));
                let wanted = [
                    column(Field::SourceId),
                    column(Field::Name),
                    column(Field::NameAr),
                ];
                let last = wanted.iter().flatten().max().copied().unwrap_or(0);
                columns = Some(wanted);
                scanner.limit_fields(last + 1);
            }
            Some([id, name, name_ar]) => {
                let bytes = |c: &Option<usize>| c.and_then(|c| record.field(c)).unwrap_or(b"");
                let named = bytes_named(bytes(name), bytes(name_ar));
                on_row(named_identity(&lossy(bytes(id)), named));
            }
        }
    }
    if columns.is_none() {
        return Err(no_header(file));
    }
    Ok(())
}

/// A field's text; bytes that are not UTF-8 become U+FFFD. (`from_utf8_lossy` alone
/// walks every field character by character; nearly every field is valid.)
fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Splits decoded CSV text into records as the `csv` crate does (its defaults: `"`
/// quotes, `""` inside quotes, `\r`, `\n` or `\r\n` ending records, rows of any length)
/// and numbers each by the line it starts on. Blank records are skipped.
///
/// A line with no quote and no carriage return inside is one record, split on the
/// delimiter: found with `memchr`, at memory speed. Any other record is parsed from its
/// start by `csv_core`, the state machine the `csv` crate runs. Tested against the
/// `csv` crate on arbitrary bytes.
struct Scanner<'f> {
    file: &'f str,
    text: Box<dyn Read + Send>,
    block: usize,
    /// Input read so far and not yet consumed is `buf[at..end]`; the rest of `buf` is
    /// room for the next read (zeroed once, when it grows, not at every read).
    buf: Vec<u8>,
    end: usize,
    /// The next record starts at `buf[at..]`.
    at: usize,
    eof: bool,
    /// 1 + line feeds before `buf[at]`.
    line: u64,
    delimiter: u8,
    core: csv_core::Reader,
    record: ScannedRecord,
}

impl<'f> Scanner<'f> {
    /// A scanner over `input`; the delimiter is sniffed from the first line that is not
    /// blank.
    fn new(
        input: impl Read + Send + 'static,
        encoding: TextEncoding,
        file: &'f str,
        block: usize,
    ) -> Result<Self> {
        let mut scanner = Scanner {
            file,
            text: decoded(input, encoding),
            block,
            buf: Vec::new(),
            end: 0,
            at: 0,
            eof: false,
            line: 1,
            delimiter: b';',
            core: csv_core::Reader::new(),
            record: ScannedRecord::new(b';'),
        };
        let mut from = 0;
        scanner.delimiter = loop {
            match memchr::memchr(b'\n', &scanner.buf[from..scanner.end]) {
                Some(n) => {
                    let line = &scanner.buf[from..from + n + 1];
                    if !line.iter().all(|b| b.is_ascii_whitespace()) {
                        break sniff_delimiter(line);
                    }
                    from += n + 1;
                }
                None if !scanner.fill()? => {
                    let line = &scanner.buf[from..scanner.end];
                    break if line.iter().all(|b| b.is_ascii_whitespace()) {
                        b';'
                    } else {
                        sniff_delimiter(line)
                    };
                }
                None => {}
            }
        };
        scanner.core = csv_core::ReaderBuilder::new()
            .delimiter(scanner.delimiter)
            .build();
        scanner.record = ScannedRecord::new(scanner.delimiter);
        // Like the `csv` crate, drop a byte-order mark at the very start of the text.
        if scanner.buf[..scanner.end].starts_with(b"\xEF\xBB\xBF") {
            scanner.at = 3;
        }
        Ok(scanner)
    }

    /// From now on, fields from the `limit`-th on come as one: fewer splits where only
    /// the first fields are wanted.
    fn limit_fields(&mut self, limit: usize) {
        self.record.limit = limit;
    }

    /// Reads more input after `buf[at..]`; false at the end of the file.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.buf.copy_within(self.at..self.end, 0);
        self.end -= self.at;
        self.at = 0;
        let room = self.end + self.block;
        if self.buf.len() < room {
            self.buf.resize(room, 0);
        }
        let n = read_full(&mut self.text, &mut self.buf[self.end..room]).map_err(|source| {
            IngestError::Io {
                file: self.file.to_owned(),
                source,
            }
        })?;
        self.end += n;
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// The next record that is not blank, with the line it starts on.
    fn next_record(&mut self) -> Result<Option<(u64, RecordView<'_>)>> {
        let (line, start) = loop {
            if self.at == self.end {
                if !self.fill()? {
                    return Ok(None);
                }
                continue;
            }
            let input = &self.buf[self.at..self.end];
            match scan_record(
                input,
                self.eof,
                self.delimiter,
                &mut self.core,
                &mut self.record,
            ) {
                Scan::NeedMore => {
                    self.fill()?;
                }
                Scan::Skip(n) => {
                    self.line += memchr::memchr_iter(b'\n', &input[..n]).count() as u64;
                    self.at += n;
                }
                Scan::Record(n) => {
                    let (line, newlines) = if self.record.parsed {
                        // A parsed record may start after line ends its parser skipped.
                        let leading = input
                            .iter()
                            .take_while(|b| matches!(b, b'\r' | b'\n'))
                            .filter(|b| **b == b'\n')
                            .count() as u64;
                        let newlines = memchr::memchr_iter(b'\n', &input[..n]).count();
                        (self.line + leading, newlines as u64)
                    } else {
                        // A plain line: one line feed at most, at its end.
                        (self.line, u64::from(input[n - 1] == b'\n'))
                    };
                    self.line += newlines;
                    let start = self.at;
                    self.at += n;
                    let view = RecordView {
                        record: &self.record,
                        input: &self.buf[start..self.end],
                    };
                    if !view.is_blank() {
                        break (line, start);
                    }
                }
            }
        };
        let view = RecordView {
            record: &self.record,
            input: &self.buf[start..self.end],
        };
        Ok(Some((line, view)))
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What [`scan_record`] found at the start of its input.
#[derive(Debug, PartialEq)]
enum Scan {
    /// The input ends inside the record: read more first.
    NeedMore,
    /// Line ends and no record; this many bytes.
    Skip(usize),
    /// A record, now in the [`ScannedRecord`], spanning this many bytes.
    Record(usize),
}

/// A record's fields: ranges of the input (a plain line), or of `unquoted` (a record
/// `csv_core` parsed).
#[derive(Debug)]
struct ScannedRecord {
    parsed: bool,
    /// A plain line's length (its fields are ranges of it).
    line_len: usize,
    delimiter: u8,
    /// Fields a plain line is split into at most, before the rest of it.
    limit: usize,
    unquoted: Vec<u8>,
    ends: Vec<usize>,
    ranges: Vec<std::ops::Range<usize>>,
}

impl ScannedRecord {
    fn new(delimiter: u8) -> Self {
        ScannedRecord {
            parsed: false,
            line_len: 0,
            delimiter,
            limit: usize::MAX,
            unquoted: Vec::new(),
            ends: Vec::new(),
            ranges: Vec::new(),
        }
    }
}

/// A record the [`Scanner`] found.
#[derive(Clone, Copy)]
struct RecordView<'a> {
    record: &'a ScannedRecord,
    input: &'a [u8],
}

impl<'a> RecordView<'a> {
    fn field(&self, i: usize) -> Option<&'a [u8]> {
        let range = self.record.ranges.get(i)?.clone();
        Some(if self.record.parsed {
            &self.record.unquoted[range]
        } else {
            &self.input[range]
        })
    }

    /// The bytes that hold every field (a plain line holds its delimiters too), and each
    /// field's range in them.
    fn spans(&self) -> (&'a [u8], &'a [std::ops::Range<usize>]) {
        let ranges = &self.record.ranges[..];
        let end = ranges.last().map_or(0, |r| r.end);
        let bytes = if self.record.parsed {
            &self.record.unquoted[..end]
        } else {
            &self.input[..end]
        };
        (bytes, ranges)
    }

    fn fields(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let view = *self;
        (0..self.record.ranges.len()).filter_map(move |i| view.field(i))
    }

    /// A record holding only delimiters, spaces and empty quoted fields is not a row.
    fn is_blank(&self) -> bool {
        if self.record.parsed {
            self.fields()
                .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
        } else {
            // A plain line (no quotes): only white space and delimiters.
            let delimiter = self.record.delimiter;
            self.input[..self.record.line_len]
                .iter()
                .all(|b| b.is_ascii_whitespace() || *b == delimiter)
        }
    }
}

/// Finds the record at the start of `input` (`eof`: nothing follows it).
fn scan_record(
    input: &[u8],
    eof: bool,
    delimiter: u8,
    core: &mut csv_core::Reader,
    record: &mut ScannedRecord,
) -> Scan {
    let (line_len, next) = match memchr::memchr(b'\n', input) {
        Some(n) => (n, n + 1),
        None if eof => (input.len(), input.len()),
        None => return Scan::NeedMore,
    };
    let mut line = &input[..line_len];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    if line.is_empty() {
        return Scan::Skip(next);
    }
    record.ranges.clear();
    if memchr::memchr2(b'"', b'\r', line).is_none() {
        // A plain line: the record is the line, its fields are split on the delimiter
        // (the first `limit` of them; the rest of the line is left whole).
        record.parsed = false;
        record.line_len = line.len();
        let mut start = 0;
        for d in memchr::memchr_iter(delimiter, line) {
            if record.ranges.len() == record.limit {
                break;
            }
            record.ranges.push(start..d);
            start = d + 1;
        }
        record.ranges.push(start..line.len());
        return Scan::Record(next);
    }

    // Quotes or a lone carriage return: csv_core parses the record from its start.
    record.parsed = true;
    core.reset();
    // After a reset csv_core drops a byte-order mark at the start of its input, which
    // the `csv` crate does only at the start of the file: one line end first (which a
    // record start discards) makes this read not the first.
    let primed = core.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
    debug_assert_eq!(primed.0, csv_core::ReadRecordResult::InputEmpty);
    let (mut consumed, mut out, mut ends) = (0, 0, 0);
    loop {
        if record.unquoted.len() < out + 1024 {
            record.unquoted.resize(2 * (out + 1024), 0);
        }
        if record.ends.len() < ends + 64 {
            record.ends.resize(2 * (ends + 64), 0);
        }
        if consumed == input.len() && !eof {
            return Scan::NeedMore;
        }
        let (result, nin, nout, nend) = core.read_record(
            &input[consumed..],
            &mut record.unquoted[out..],
            &mut record.ends[ends..],
        );
        consumed += nin;
        out += nout;
        ends += nend;
        match result {
            csv_core::ReadRecordResult::InputEmpty
            | csv_core::ReadRecordResult::OutputFull
            | csv_core::ReadRecordResult::OutputEndsFull => {}
            csv_core::ReadRecordResult::Record => {
                let mut start = 0;
                for &end in &record.ends[..ends] {
                    record.ranges.push(start..end);
                    start = end;
                }
                return Scan::Record(consumed);
            }
            csv_core::ReadRecordResult::End => return Scan::Skip(consumed.max(1)),
        }
    }
}

/// `;` or `,`, whichever occurs more often outside quotes on the header line.
fn sniff_delimiter(line: &[u8]) -> u8 {
    let (mut semicolons, mut commas, mut quoted) = (0usize, 0usize, false);
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b';' if !quoted => semicolons += 1,
            b',' if !quoted => commas += 1,
            _ => {}
        }
    }
    if commas > semicolons { b',' } else { b';' }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::testing::Collect;
    use crate::readers::text::detect_encoding;
    use std::io::Cursor;

    fn read(bytes: &[u8]) -> (Collect, ReadSummary) {
        let mut sink = Collect::new(Family::Cooperative);
        let enc = detect_encoding(bytes).unwrap();
        let summary = read_csv(Cursor::new(bytes.to_vec()), enc, "t.csv", &mut sink).unwrap();
        (sink, summary)
    }

    /// The reference the scanner is tested against: the `csv` crate, with line numbers
    /// from the positions of line ends (what this reader used before the scanner).
    mod reference {
        use super::*;
        use std::cell::RefCell;
        use std::collections::VecDeque;
        use std::io::BufRead;
        use std::rc::Rc;

        /// Line ends seen by the CSV parser but not yet passed by a record start.
        ///
        /// The csv crate's own line count drifts around blank lines, and its record byte
        /// offsets point into the previous line terminator; so the first line of a record is
        /// computed here from the positions of `\r` and `\n` bytes.
        #[derive(Debug, Default)]
        struct LineEnds {
            pending: VecDeque<(u64, u8)>,
            newlines_before: u64,
        }

        impl LineEnds {
            /// The line (from 1) on which the record whose byte offset is `offset` starts: the
            /// offset may point at line-end bytes, which are skipped.
            fn line_at(&mut self, offset: u64) -> u64 {
                while let Some(&(at, byte)) = self.pending.front() {
                    if at >= offset {
                        break;
                    }
                    if byte == b'\n' {
                        self.newlines_before += 1;
                    }
                    self.pending.pop_front();
                }
                let mut leading = 0;
                for (expected, &(at, byte)) in (offset..).zip(self.pending.iter()) {
                    if at != expected {
                        break;
                    }
                    if byte == b'\n' {
                        leading += 1;
                    }
                }
                1 + self.newlines_before + leading
            }
        }

        struct LineTracker<R> {
            inner: R,
            ends: Rc<RefCell<LineEnds>>,
            offset: u64,
        }

        impl<R: Read> Read for LineTracker<R> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.inner.read(buf)?;
                let mut ends = self.ends.borrow_mut();
                for (i, &b) in buf[..n].iter().enumerate() {
                    if b == b'\n' || b == b'\r' {
                        ends.pending.push_back((self.offset + i as u64, b));
                    }
                }
                self.offset += n as u64;
                Ok(n)
            }
        }

        /// Every record that is not blank, with its line: `(line, fields)`.
        pub fn records(bytes: &[u8], encoding: TextEncoding) -> Vec<(u64, Vec<Vec<u8>>)> {
            let mut text = io::BufReader::new(decoded(Cursor::new(bytes.to_vec()), encoding));
            let mut head = Vec::new();
            let delimiter = loop {
                let start = head.len();
                if text.read_until(b'\n', &mut head).unwrap() == 0 {
                    break b';';
                }
                let line = &head[start..];
                if !line.iter().all(|b| b.is_ascii_whitespace()) {
                    break sniff_delimiter(line);
                }
            };
            let lines = Rc::new(RefCell::new(LineEnds::default()));
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .has_headers(false)
                .flexible(true)
                .from_reader(LineTracker {
                    inner: Cursor::new(head).chain(text),
                    ends: lines.clone(),
                    offset: 0,
                });
            let mut out = Vec::new();
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record).unwrap() {
                if record
                    .iter()
                    .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
                {
                    continue;
                }
                let line = lines
                    .borrow_mut()
                    .line_at(record.position().map_or(0, |p| p.byte()));
                out.push((line, record.iter().map(<[u8]>::to_vec).collect()));
            }
            out
        }
    }

    /// What the scanner makes of `bytes`, read `block` bytes at a time.
    fn scanned(bytes: &[u8], encoding: TextEncoding, block: usize) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut scanner =
            Scanner::new(Cursor::new(bytes.to_vec()), encoding, "t.csv", block).unwrap();
        let mut out = Vec::new();
        while let Some((line, record)) = scanner.next_record().unwrap() {
            out.push((line, record.fields().map(<[u8]>::to_vec).collect()));
        }
        out
    }

    /// Records as the parsing thread hands them on, in chunks of `rows` (header left
    /// out; `None`: the header is not one of a cooperative registry).
    fn chunked(
        bytes: &[u8],
        encoding: TextEncoding,
        rows: usize,
    ) -> Option<Vec<(u64, Vec<Vec<u8>>)>> {
        let mut out = Vec::new();
        read_csv_chunks(
            Cursor::new(bytes.to_vec()),
            encoding,
            "t.csv",
            rows,
            &mut |chunk| {
                assert!(chunk.len() <= rows);
                for &(line, first, count) in &chunk.records {
                    let fields = chunk
                        .fields(first as usize, count as usize)
                        .map(<[u8]>::to_vec)
                        .collect();
                    out.push((line as u64, fields));
                }
                Ok(())
            },
        )
        .ok()?;
        Some(out)
    }

    #[test]
    fn records_are_read_in_place_and_bytes_that_are_not_utf8_are_decoded_per_field() {
        // Read as UTF-8 whatever the bytes (the encoding scan would have said
        // Windows-1252): the chunk is not valid UTF-8, so its records go through the
        // decoding path, and a chunk of valid text is read in place; both alike.
        let csv = |name: &[u8]| {
            let mut b =
                b"N\xc2\xb0 immatriculation;Raison sociale;Secteur;Adh\xc3\xa9rents\n".to_vec();
            b.extend_from_slice(b"7;");
            b.extend_from_slice(name);
            b.extend_from_slice(b";Argane;12\n8;;P\xc3\xaache;3\n");
            b
        };
        let read = |bytes: Vec<u8>| {
            let mut sink = Collect::new(Family::Cooperative);
            read_csv(Cursor::new(bytes), TextEncoding::Utf8, "t.csv", &mut sink).unwrap();
            sink
        };
        let valid = read(csv("Coop\u{e9}rative".as_bytes()));
        let invalid = read(csv(b"Coop\xe9rative"));
        for (sink, name) in [
            (&valid, "Coop\u{e9}rative"),
            (&invalid, "Coop\u{fffd}rative"),
        ] {
            assert_eq!(sink.accepted.len(), 1);
            let o = &sink.accepted[0];
            assert_eq!((o.source_id.as_str(), o.name.as_str()), ("7", name));
            assert_eq!(
                (o.sector_code.as_str(), o.members_total),
                ("ARGAN", Some(12))
            );
            assert_eq!(sink.rejected.len(), 1);
            assert_eq!(sink.rejected[0].1.reason, "missing_name");
            assert!(
                sink.rejected[0].2.contains("P\u{ea}che"),
                "{}",
                sink.rejected[0].2
            );
        }
    }

    #[test]
    fn a_run_of_records_too_large_to_hold_is_an_error_naming_file_and_line() {
        // A quote that never closes makes the rest of the file one field.
        let csv = "N° immatriculation;Raison sociale\n1;Coop 1\n2;\"Coop 2\n3;Coop 3\n4;Coop 4\n";
        let read = |limit| {
            let mut chunks = 0;
            read_chunks_within(
                Cursor::new(csv.as_bytes().to_vec()),
                TextEncoding::Utf8,
                "big.csv",
                CHUNK_ROWS,
                limit,
                &mut |_| {
                    chunks += 1;
                    Ok(())
                },
            )
            .map(|_| chunks)
        };
        assert_eq!(read(CHUNK_BYTES_MAX).unwrap(), 1);
        let err = read(16).unwrap_err().to_string();
        assert!(err.starts_with("big.csv: "), "{err}");
        assert!(err.contains("from line 3 on"), "{err}");
        assert!(err.contains("never closed"), "{err}");
    }

    #[test]
    fn semicolons_quotes_line_breaks_and_line_numbers() {
        let csv = "N° immatriculation;Raison sociale;Secteur;Observations\r\n\
                   1;\"Coop; dite \"\"Les femmes\"\"\nsection 2\";Argane;x\r\n\
                   \r\n\
                   ;;;\r\n\
                   \"\";\"  \";;\r\n\
                   2;Coop 2;Pêche;y\r\n\
                   ;Sans numéro;;\r\n";
        let (sink, summary) = read(csv.as_bytes());
        assert_eq!(summary.delimiter.as_deref(), Some(";"));
        assert_eq!(summary.unknown_columns, vec!["Observations"]);
        assert_eq!(sink.accepted.len(), 2);
        assert_eq!(
            sink.accepted[0].name,
            "Coop; dite \"Les femmes\"\nsection 2"
        );
        assert_eq!(sink.accepted[0].source_row, 2);
        assert_eq!(sink.accepted[0].sector_code, "ARGAN");
        // The quoted line break makes the first record span lines 2–3; then a blank
        // line (4), two blank records (5, 6).
        assert_eq!(sink.accepted[1].source_row, 7);
        assert_eq!(sink.accepted[1].sector_code, "FISH");
        assert_eq!(sink.rejected.len(), 1);
        let (row, rejection, raw) = &sink.rejected[0];
        assert_eq!(*row, 8);
        assert_eq!(rejection.reason, "missing_source_id");
        assert!(raw.contains("Sans numéro"), "{raw}");
    }

    #[test]
    fn commas_and_windows_1252_and_any_header_order() {
        let mut bytes =
            b"raison sociale,NUMERO IMMATRICULATION,Date de creation,Region,Province ,secteur\n"
                .to_vec();
        bytes.extend_from_slice(b"Coop\xe9rative A,7,2014,F\xe8s-Mekn\xe8s,,Main d'\x9cuvre\n");
        let (sink, summary) = read(&bytes);
        assert_eq!(summary.encoding.as_deref(), Some("windows-1252"));
        assert_eq!(summary.delimiter.as_deref(), Some(","));
        let o = &sink.accepted[0];
        assert_eq!(o.name, "Coopérative A");
        assert_eq!(o.source_id, "7");
        assert_eq!(o.founded_year, Some(2014));
        assert_eq!(o.founded_on, None);
        assert_eq!(o.region_code.as_deref(), Some("MA-03"));
        assert_eq!(o.sector_code, "TRADE");
    }

    #[test]
    fn bom_and_missing_trailing_newline() {
        let csv = "\u{FEFF}N° immatriculation;Raison sociale\n1;A\n2;B";
        let (sink, summary) = read(csv.as_bytes());
        assert_eq!(summary.encoding.as_deref(), Some("UTF-8 with BOM"));
        assert_eq!(sink.accepted.len(), 2);
        assert_eq!(sink.accepted[1].source_row, 3);
    }

    #[test]
    fn short_rows_read_missing_cells_as_empty() {
        let (sink, _) = read(b"N\xc2\xb0 immatriculation;Raison sociale;Statut\n1;A\n");
        assert_eq!(sink.accepted[0].status, ess_schemas::Status::Unknown);
    }

    #[test]
    fn a_file_without_the_identifier_column_is_an_error() {
        let mut sink = Collect::new(Family::Cooperative);
        let err = read_csv(
            Cursor::new(b"Nom;Secteur\nA;B\n".to_vec()),
            TextEncoding::Utf8,
            "bad.csv",
            &mut sink,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("bad.csv: no column for `source_id`"),
            "{msg}"
        );
        assert!(
            msg.contains("N° immatriculation") && msg.contains("Nom | Secteur"),
            "{msg}"
        );
    }

    #[test]
    fn an_empty_file_is_an_error_and_a_header_alone_is_no_rows() {
        let mut sink = Collect::new(Family::Cooperative);
        let err = read_csv(
            Cursor::new(Vec::new()),
            TextEncoding::Utf8,
            "e.csv",
            &mut sink,
        );
        assert!(err.unwrap_err().to_string().contains("the file is empty"));
        let (sink, _) = read("\n\nN° immatriculation;Raison sociale\n\n".as_bytes());
        assert!(sink.accepted.is_empty() && sink.rejected.is_empty());
    }

    type RowsOrError = Result<Vec<Option<String>>, String>;

    /// Every row `read_csv` hands on, as its accepted identifier or `None`.
    struct Identities(Vec<Option<String>>);

    impl RowSink for Identities {
        fn row(&mut self, _row: i64, record: Record<'_>) -> Option<crate::normalize::Rejection> {
            match crate::normalize::identity(record) {
                Ok(identity) => {
                    self.0.push(Some(identity.source_id));
                    None
                }
                Err(rejection) => Some(rejection),
            }
        }

        fn reject(&mut self, _row: i64, _rejection: crate::normalize::Rejection, _raw: String) {
            self.0.push(None);
        }
    }

    /// What `read_csv` and the identity scan (reading `block` bytes at a time) make of
    /// `bytes`: rows or the error message.
    fn both(bytes: &[u8], block: usize) -> (RowsOrError, RowsOrError) {
        let enc = detect_encoding(bytes).unwrap();
        let mut full = Identities(Vec::new());
        let read = read_csv(Cursor::new(bytes.to_vec()), enc, "t.csv", &mut full)
            .map(|_| full.0)
            .map_err(|e| e.to_string());
        let mut scanned = Vec::new();
        let scan = scan_identities_in_blocks(
            Cursor::new(bytes.to_vec()),
            enc,
            "t.csv",
            block,
            &mut |id| scanned.push(id.map(str::to_owned)),
        )
        .map(|()| scanned)
        .map_err(|e| e.to_string());
        (read, scan)
    }

    #[test]
    fn the_identity_scan_finds_the_rows_read_csv_reads() {
        let files: [&[u8]; 8] = [
            "N° immatriculation;Raison sociale;Secteur\r\n1;\"Coop; \"\"A\"\"\nB\";x\r\n\r\n;;;\r\n\"\";\"  \";;\r\n 2 ;Coop 2;y\r\n;Sans;\r\n3;\"\"\r\n".as_bytes(),
            b"\n \n\xef\xbb\xbfRaison sociale,Immatriculation\r1,2\r\r\n\"a\"b,\"4\"\"\"\r\n,5",
            b"",
            b"\n\n",
            b"Nom;Secteur\nA;B\n",
            b"N\xb0 immatriculation;Raison sociale\n1;Caf\xe9\n1;\n\"2\";\"unterminated\n",
            b"Raison sociale;Immatriculation\n\"a\rb\";9\nc\rd;10\n\"x\"\"\";\" 11 \"",
            b"Immatriculation;Raison sociale;Immatriculation\n1;a;2\n;b;3\n4\n",
        ];
        for bytes in files {
            let encoding = detect_encoding(bytes).unwrap();
            let expected = reference::records(bytes, encoding);
            for block in [1, 2, 3, 7, 64, 4096] {
                let what = format!("{:?} in blocks of {block}", String::from_utf8_lossy(bytes));
                assert_eq!(scanned(bytes, encoding, block), expected, "{what}");
                let (read, scan) = both(bytes, block);
                assert_eq!(scan, read, "{what}");
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn the_identity_scan_agrees_with_read_csv_on_any_bytes(
                header in prop::sample::select(vec![
                    "N° immatriculation;Raison sociale;Statut",
                    "Raison sociale,Immatriculation",
                    " \n\r\nImmatriculation;\"Raison sociale\"",
                    "\u{feff}Immatriculation;Raison sociale",
                    "\u{feff}\u{feff}Immatriculation;Raison sociale",
                    "\r\r\n\u{feff}Immatriculation,\"Raison\nsociale\"",
                ]),
                body in proptest::collection::vec(
                    prop::sample::select(vec![";", ",", "\"", "\n", "\r", "\r\n", " ", "\t", "a", "1", "é", "\"\"", "\u{feff}"]),
                    0..120,
                ),
                block in 1usize..40,
            ) {
                let text = format!("{header}\n{}", body.concat());
                let encoding = detect_encoding(text.as_bytes()).unwrap();
                let expected = reference::records(text.as_bytes(), encoding);
                prop_assert_eq!(scanned(text.as_bytes(), encoding, block), expected.clone());
                // Chunks copy each record whole: the same fields, plain lines or parsed.
                if let Some(chunks) = chunked(text.as_bytes(), encoding, 1 + block % 4) {
                    prop_assert_eq!(chunks, expected[1..].to_vec());
                }
                let (read, scan) = both(text.as_bytes(), block);
                prop_assert_eq!(scan, read);
            }
        }

        fn quote(field: &str, delimiter: char) -> String {
            if field.contains([delimiter, '"', '\n', '\r']) || field.starts_with(' ') {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field.to_owned()
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn every_row_comes_back_with_its_name_and_line(
                names in proptest::collection::vec("[a-zA-Zéè ;,\"\n]{1,12}", 1..20),
                blanks in proptest::collection::vec(0usize..3, 20),
                comma in any::<bool>(),
                crlf in any::<bool>(),
            ) {
                let d = if comma { ',' } else { ';' };
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = format!("N° immatriculation{d}Raison sociale{eol}");
                let mut line: i64 = 2;
                let mut want = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    for _ in 0..blanks[i] {
                        text.push_str(eol);
                        line += 1;
                    }
                    let field = quote(name, d);
                    text.push_str(&format!("ID{i}{d}{field}{eol}"));
                    if !name.trim().is_empty() {
                        want.push((format!("ID{i}"), name.trim().to_owned(), line));
                    }
                    line += 1 + name.matches('\n').count() as i64;
                }
                let (sink, _) = read(text.as_bytes());
                let got: Vec<_> = sink
                    .accepted
                    .iter()
                    .map(|o| (o.source_id.clone(), o.name.clone(), o.source_row))
                    .collect();
                prop_assert_eq!(got, want);
                prop_assert_eq!(sink.accepted.len() + sink.rejected.len(), names.len());
            }
        }
    }
}
