//! Records split from raw bytes: a line without quotes or inner carriage returns is
//! one record, split on the delimiter with `memchr`; any other record is parsed by
//! `csv_core` (the `csv` crate's state machine) from its start; line numbers are
//! counted from line feeds. The input is read in blocks of `SCAN_BLOCK` (4 MiB) into a
//! buffer zeroed once, when it grows. Pass one's identities are read with it. A
//! property test checks records and line numbers against the `csv` crate on arbitrary
//! input.

use super::*;

/// Bytes read at a time by the [`Scanner`].
pub(super) const SCAN_BLOCK: usize = 4 << 20;

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

pub(super) fn scan_identities_in_blocks(
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
pub(super) fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
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
pub(super) struct Scanner<'f> {
    pub(super) file: &'f str,
    pub(super) text: Box<dyn Read + Send>,
    pub(super) block: usize,
    /// Input read so far and not yet consumed is `buf[at..end]`; the rest of `buf` is
    /// room for the next read (zeroed once, when it grows, not at every read).
    pub(super) buf: Vec<u8>,
    pub(super) end: usize,
    /// The next record starts at `buf[at..]`.
    pub(super) at: usize,
    pub(super) eof: bool,
    /// 1 + line feeds before `buf[at]`.
    pub(super) line: u64,
    pub(super) delimiter: u8,
    pub(super) core: csv_core::Reader,
    pub(super) record: ScannedRecord,
}

impl<'f> Scanner<'f> {
    /// A scanner over `input`; the delimiter is sniffed from the first line that is not
    /// blank.
    pub(super) fn new(
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
    pub(super) fn limit_fields(&mut self, limit: usize) {
        self.record.limit = limit;
    }

    /// Reads more input after `buf[at..]`; false at the end of the file.
    pub(super) fn fill(&mut self) -> Result<bool> {
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
    pub(super) fn next_record(&mut self) -> Result<Option<(u64, RecordView<'_>)>> {
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
pub(super) fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
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
pub(super) enum Scan {
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
pub(super) struct ScannedRecord {
    pub(super) parsed: bool,
    /// A plain line's length (its fields are ranges of it).
    pub(super) line_len: usize,
    pub(super) delimiter: u8,
    /// Fields a plain line is split into at most, before the rest of it.
    pub(super) limit: usize,
    pub(super) unquoted: Vec<u8>,
    pub(super) ends: Vec<usize>,
    pub(super) ranges: Vec<std::ops::Range<usize>>,
}

impl ScannedRecord {
    pub(super) fn new(delimiter: u8) -> Self {
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
pub(super) struct RecordView<'a> {
    pub(super) record: &'a ScannedRecord,
    pub(super) input: &'a [u8],
}

impl<'a> RecordView<'a> {
    pub(super) fn field(&self, i: usize) -> Option<&'a [u8]> {
        let range = self.record.ranges.get(i)?.clone();
        Some(if self.record.parsed {
            &self.record.unquoted[range]
        } else {
            &self.input[range]
        })
    }

    /// The bytes that hold every field (a plain line holds its delimiters too), and each
    /// field's range in them.
    pub(super) fn spans(&self) -> (&'a [u8], &'a [std::ops::Range<usize>]) {
        let ranges = &self.record.ranges[..];
        let end = ranges.last().map_or(0, |r| r.end);
        let bytes = if self.record.parsed {
            &self.record.unquoted[..end]
        } else {
            &self.input[..end]
        };
        (bytes, ranges)
    }

    pub(super) fn fields(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let view = *self;
        (0..self.record.ranges.len()).filter_map(move |i| view.field(i))
    }

    /// A record holding only delimiters, spaces and empty quoted fields is not a row.
    pub(super) fn is_blank(&self) -> bool {
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
pub(super) fn scan_record(
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
pub(super) fn sniff_delimiter(line: &[u8]) -> u8 {
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
