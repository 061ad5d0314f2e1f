//! The cooperative registry: CSV, `;` or `,` sniffed from the header line, UTF-8 (with
//! or without BOM) or Windows-1252, quoted fields with delimiters, `""` and line
//! breaks, headers in any order and spelling.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::rc::Rc;
use std::sync::Arc;

use ess_schemas::Family;

use super::text::{TextEncoding, decoded};
use super::{ReadSummary, RowSink, raw_json};
use crate::error::{IngestError, Result};
use crate::fields::{ColumnMap, Field, RawRecord};

/// Records per [`CsvChunk`].
pub const CHUNK_ROWS: usize = 8192;

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
/// chunk becomes [`RawRecord`]s only where it is normalised.
#[derive(Debug)]
pub struct CsvChunk {
    map: Arc<ColumnMap>,
    data: Vec<u8>,
    /// End offset in `data` of every field of every record.
    ends: Vec<usize>,
    /// Per record: its line, the index of its first field in `ends`, its field count.
    records: Vec<(i64, usize, usize)>,
}

impl CsvChunk {
    fn new(map: Arc<ColumnMap>) -> Self {
        CsvChunk {
            map,
            data: Vec::with_capacity(CHUNK_ROWS * 128),
            ends: Vec::with_capacity(CHUNK_ROWS * 16),
            records: Vec::with_capacity(CHUNK_ROWS),
        }
    }

    fn push(&mut self, line: i64, record: &csv::ByteRecord) {
        let first = self.ends.len();
        for field in record.iter() {
            self.data.extend_from_slice(field);
            self.ends.push(self.data.len());
        }
        self.records.push((line, first, record.len()));
    }

    /// Records in the chunk.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the chunk holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn fields(&self, first: usize, count: usize) -> impl Iterator<Item = &[u8]> {
        (first..first + count).map(move |i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.data[start..self.ends[i]]
        })
    }

    /// Hands every record to `sink`, in order; rejected ones go back to it with their
    /// raw values.
    pub fn feed(&self, sink: &mut dyn RowSink) {
        let mut raw = RawRecord::default();
        for &(line, first, count) in &self.records {
            raw.clear();
            for (value, field) in self.fields(first, count).zip(&self.map.columns) {
                if let Some(field) = field {
                    raw.set_text(*field, &String::from_utf8_lossy(value));
                }
            }
            if let Some(rejection) = sink.row(line, &raw) {
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
    let io_err = |source| IngestError::Io {
        file: file.to_owned(),
        source,
    };
    let mut text = BufReader::with_capacity(256 * 1024, decoded(input, encoding));

    // Sniff the delimiter on the first line that is not blank.
    let mut head = Vec::new();
    let delimiter = loop {
        let start = head.len();
        if text.read_until(b'\n', &mut head).map_err(io_err)? == 0 {
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

    let mut summary = ReadSummary {
        encoding: Some(encoding.label().to_owned()),
        delimiter: Some((delimiter as char).to_string()),
        ..ReadSummary::default()
    };

    let mut record = csv::ByteRecord::new();
    let mut chunk: Option<CsvChunk> = None;
    let mut columns: Option<Arc<ColumnMap>> = None;
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| IngestError::Csv {
                file: file.to_owned(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
        if !more {
            break;
        }
        if is_blank(&record) {
            continue;
        }
        let line = lines
            .borrow_mut()
            .line_at(record.position().map_or(0, |p| p.byte())) as i64;
        let Some(map) = &columns else {
            let headers: Vec<String> = record
                .iter()
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
            summary.unknown_columns = map.unknown.clone();
            columns = Some(Arc::new(map));
            continue;
        };
        let current = chunk.get_or_insert_with(|| CsvChunk::new(map.clone()));
        current.push(line, &record);
        if current.len() >= chunk_rows {
            emit(chunk.take().expect("filled above"))?;
        }
    }
    if columns.is_none() {
        return Err(IngestError::MissingColumn {
            file: file.to_owned(),
            field: Field::SourceId.name(),
            expected: ColumnMap::spellings(Family::Cooperative, Field::SourceId),
            found: "none: the file is empty".to_owned(),
        });
    }
    // A chunk exists only once a record was pushed into it.
    if let Some(last) = chunk {
        emit(last)?;
    }
    Ok(summary)
}

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

/// A record holding only delimiters, spaces and empty quoted fields is not a row.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record
        .iter()
        .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::testing::Collect;
    use crate::readers::text::detect_encoding;

    fn read(bytes: &[u8]) -> (Collect, ReadSummary) {
        let mut sink = Collect::new(Family::Cooperative);
        let enc = detect_encoding(bytes).unwrap();
        let summary = read_csv(Cursor::new(bytes.to_vec()), enc, "t.csv", &mut sink).unwrap();
        (sink, summary)
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

    mod properties {
        use super::*;
        use proptest::prelude::*;

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
