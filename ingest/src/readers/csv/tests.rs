//! The CSV reader against the `csv` crate, on the samples' quirks and on arbitrary
//! bytes.

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
    let mut scanner = Scanner::new(Cursor::new(bytes.to_vec()), encoding, "t.csv", block).unwrap();
    let mut out = Vec::new();
    while let Some((line, record)) = scanner.next_record().unwrap() {
        out.push((line, record.fields().map(<[u8]>::to_vec).collect()));
    }
    out
}

/// Records as the parsing thread hands them on, in chunks of `rows` (header left
/// out; `None`: the header is not one of a cooperative registry).
fn chunked(bytes: &[u8], encoding: TextEncoding, rows: usize) -> Option<Vec<(u64, Vec<Vec<u8>>)>> {
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
        let mut b = b"N\xc2\xb0 immatriculation;Raison sociale;Secteur;Adh\xc3\xa9rents\n".to_vec();
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
