//! The two CSV dialects of exports, and the cells they write.
//!
//! - `csv` (the default): RFC 4180, UTF-8, `,` between fields, `.` in decimals.
//! - `excel-fr`: what a spreadsheet in a French locale opens right with a double
//!   click: UTF-8 with a byte-order mark (without it Excel reads Windows-1252 and
//!   garbles accents and Arabic), `;` between fields, `,` in decimals.
//!
//! Both end lines with CRLF (RFC 4180) and start with one `# source: …` line: the
//! citation of the numbers below it (pandas: `comment="#"`).

use bytes::Bytes;

/// A CSV dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvFormat {
    /// RFC 4180.
    #[default]
    Plain,
    /// French-locale spreadsheets.
    ExcelFr,
}

impl CsvFormat {
    fn delimiter(self) -> u8 {
        match self {
            CsvFormat::Plain => b',',
            CsvFormat::ExcelFr => b';',
        }
    }

    /// A number with a fractional part, as this dialect writes it.
    pub fn decimal(self, v: f64) -> String {
        let text = format!("{v}");
        match self {
            CsvFormat::Plain => text,
            CsvFormat::ExcelFr => text.replace('.', ","),
        }
    }
}

/// Writes records into chunks of bytes (one chunk per batch of rows, for streaming).
pub struct CsvChunks {
    format: CsvFormat,
    writer: csv::Writer<Vec<u8>>,
}

impl CsvChunks {
    /// A writer whose first chunk starts with the byte-order mark (for `excel-fr`)
    /// and the `# source:` line.
    pub fn new(format: CsvFormat, citation: &str) -> Self {
        let mut start = Vec::new();
        if format == CsvFormat::ExcelFr {
            start.extend_from_slice("\u{feff}".as_bytes());
        }
        start.extend_from_slice(b"# source: ");
        // One line, whatever the citation holds.
        start.extend(
            citation
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect::<String>()
                .as_bytes(),
        );
        start.extend_from_slice(b"\r\n");
        CsvChunks {
            format,
            writer: writer(format, start),
        }
    }

    /// The dialect.
    pub fn format(&self) -> CsvFormat {
        self.format
    }

    /// Adds a record.
    pub fn record<I, T>(&mut self, fields: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        // Writing into memory cannot fail.
        self.writer
            .write_record(fields)
            .expect("writing CSV into memory");
    }

    /// The bytes written since the last chunk.
    pub fn take(&mut self) -> Bytes {
        let full = std::mem::replace(&mut self.writer, writer(self.format, Vec::new()));
        Bytes::from(full.into_inner().expect("flushing into memory"))
    }
}

fn writer(format: CsvFormat, start: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(format.delimiter())
        .terminator(csv::Terminator::CRLF)
        .from_writer(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_fr_has_a_bom_semicolons_and_decimal_commas() {
        let mut w = CsvChunks::new(CsvFormat::ExcelFr, "ESS Open Data, instantané 000001");
        let share = w.format().decimal(0.25);
        w.record(["Région", "Part; des femmes", share.as_str()]);
        let text = String::from_utf8(w.take().to_vec()).unwrap();
        assert_eq!(
            text,
            "\u{feff}# source: ESS Open Data, instantané 000001\r\nRégion;\"Part; des femmes\";0,25\r\n"
        );
        w.record(["x"]);
        assert_eq!(&w.take()[..], b"x\r\n");
    }

    #[test]
    fn plain_csv_quotes_what_it_must() {
        let mut w = CsvChunks::new(CsvFormat::Plain, "a\nb");
        w.record(["a,b", "say \"hi\"", "جمعية"]);
        let text = String::from_utf8(w.take().to_vec()).unwrap();
        assert_eq!(
            text,
            "# source: a b\r\n\"a,b\",\"say \"\"hi\"\"\",جمعية\r\n"
        );
    }
}
