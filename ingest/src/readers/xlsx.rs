//! The association registry: XLSX. The sheet is the first whose name starts with
//! "assoc", else the first; title and blank rows may precede the header row, the first
//! of the first 10 rows with an `Identifiant` cell. Cells are streamed (calamine's
//! `worksheet_cells_reader`), so a large sheet is never held in memory whole.

use std::io::{Read, Seek};

use calamine::{DataRef, Reader, Xlsx, open_workbook_from_rs};
use ess_schemas::Family;
use ess_schemas::match_key::normalize_key;
use ess_schemas::value_rules::Raw;

use super::{ReadSummary, RowSink, raw_json};
use crate::error::{IngestError, Result};
use crate::input_fields::{ColumnMap, Field, RawRecord, Record};

/// The header row must be among the first rows of the sheet.
const HEADER_SEARCH_ROWS: u32 = 10;

/// Reads an association workbook.
pub fn read_xlsx(
    input: impl Read + Seek,
    file: &str,
    sink: &mut dyn RowSink,
) -> Result<ReadSummary> {
    let xlsx_err = |e: calamine::XlsxError| IngestError::Xlsx {
        file: file.to_owned(),
        source: Box::new(e),
    };
    let mut workbook: Xlsx<_> = open_workbook_from_rs(input).map_err(xlsx_err)?;
    let names = workbook.sheet_names();
    let sheet = names
        .iter()
        .find(|n| normalize_key(n).starts_with("assoc"))
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| IngestError::Xlsx {
            file: file.to_owned(),
            source: "the workbook has no sheet".into(),
        })?;
    let mut summary = ReadSummary {
        sheet: Some(sheet.clone()),
        ..ReadSummary::default()
    };

    let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(xlsx_err)?;
    let mut rows = RowAssembler::default();
    let mut state = SheetState {
        file,
        sheet: &sheet,
        columns: None,
        raw: RawRecord::default(),
        summary: &mut summary,
    };
    while let Some(cell) = cells.next_cell().map_err(xlsx_err)? {
        let (row, col) = cell.get_position();
        if let Some((index, values)) = rows.push(row, col, raw_value(cell.get_value())) {
            state.row(index, values, sink)?;
        }
    }
    if let Some((index, values)) = rows.finish() {
        state.row(index, values, sink)?;
    }
    if state.columns.is_none() {
        return Err(IngestError::NoHeaderRow {
            file: file.to_owned(),
            sheet,
        });
    }
    Ok(summary)
}

/// Groups streamed cells into rows.
#[derive(Default)]
struct RowAssembler {
    current: Option<u32>,
    values: Vec<Raw>,
}

impl RowAssembler {
    /// Adds a cell; returns the previous row when this cell starts a new one.
    fn push(&mut self, row: u32, col: u32, value: Raw) -> Option<(u32, Vec<Raw>)> {
        let done = match self.current {
            Some(r) if r != row => self.finish(),
            _ => None,
        };
        self.current = Some(row);
        let col = col as usize;
        if self.values.len() <= col {
            self.values.resize(col + 1, Raw::Empty);
        }
        self.values[col] = value;
        done
    }

    fn finish(&mut self) -> Option<(u32, Vec<Raw>)> {
        let row = self.current.take()?;
        Some((row, std::mem::take(&mut self.values)))
    }
}

struct SheetState<'a> {
    file: &'a str,
    sheet: &'a str,
    columns: Option<ColumnMap>,
    raw: RawRecord,
    summary: &'a mut ReadSummary,
}

impl SheetState<'_> {
    /// Handles one sheet row (`index` from 0; its row number is `index + 1`).
    fn row(&mut self, index: u32, values: Vec<Raw>, sink: &mut dyn RowSink) -> Result<()> {
        if values.iter().all(Raw::is_blank) {
            return Ok(());
        }
        let Some(map) = &self.columns else {
            if index >= HEADER_SEARCH_ROWS {
                return Err(IngestError::NoHeaderRow {
                    file: self.file.to_owned(),
                    sheet: self.sheet.to_owned(),
                });
            }
            if values
                .iter()
                .any(|v| normalize_key(&v.to_text()) == "identifiant")
            {
                let map = ColumnMap::new(
                    Family::Association,
                    values.iter().map(Raw::to_text).collect(),
                );
                for field in [Field::SourceId] {
                    if !map.has(field) {
                        return Err(IngestError::MissingColumn {
                            file: self.file.to_owned(),
                            field: field.name(),
                            expected: ColumnMap::spellings(Family::Association, field),
                            found: map.headers.join(" | "),
                        });
                    }
                }
                self.summary.unknown_columns = map.unknown.clone();
                self.columns = Some(map);
            }
            return Ok(());
        };
        let row_number = i64::from(index) + 1;
        self.raw.clear();
        for (value, field) in values.iter().zip(&map.columns) {
            if let Some(field) = field {
                self.raw.set(*field, value.clone());
            }
        }
        if let Some(rejection) = sink.row(row_number, Record::Raw(&self.raw)) {
            let raw = raw_json(&map.headers, values.iter().map(Raw::describe));
            sink.reject(row_number, rejection, raw);
        }
        Ok(())
    }
}

fn raw_value(cell: &DataRef<'_>) -> Raw {
    match cell {
        DataRef::Empty => Raw::Empty,
        DataRef::Int(i) => Raw::Int(*i),
        DataRef::Float(f) => Raw::Float(*f),
        DataRef::String(s) => Raw::Text(s.clone()),
        DataRef::SharedString(s) => Raw::Text((*s).to_owned()),
        DataRef::Bool(b) => Raw::Bool(*b),
        DataRef::DateTime(dt) => match dt.as_datetime() {
            Some(d) if dt.is_datetime() => Raw::Date(d.date()),
            _ => Raw::Other(format!("duration {}", dt.as_f64())),
        },
        DataRef::DateTimeIso(s) => {
            chrono::NaiveDate::parse_from_str(&s[..s.len().min(10)], "%Y-%m-%d")
                .map(Raw::Date)
                .unwrap_or_else(|_| Raw::Other(s.clone()))
        }
        DataRef::DurationIso(s) => Raw::Other(s.clone()),
        DataRef::Error(e) => Raw::Other(format!("#{e:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::testing::Collect;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    use std::io::Cursor;

    fn workbook(sheets: &[&str], header_row: u32, rows: &[Vec<Cell>]) -> Vec<u8> {
        let mut wb = Workbook::new();
        let date = Format::new().set_num_format("dd/mm/yyyy");
        for name in sheets {
            let ws = wb.add_worksheet();
            ws.set_name(*name).unwrap();
            if !name.to_lowercase().starts_with("assoc") && sheets.len() > 1 {
                ws.write_string(0, 0, "Lisez-moi").unwrap();
                continue;
            }
            ws.write_string(0, 0, "Registre des associations — extraction")
                .unwrap();
            let headers: Vec<&str> = crate::input_fields::ASSOCIATION_HEADER_ROW
                .into_iter()
                .chain(["Remarque"])
                .collect();
            for (c, h) in headers.iter().enumerate() {
                ws.write_string(header_row, c as u16, *h).unwrap();
            }
            for (r, row) in rows.iter().enumerate() {
                let r = header_row + 1 + r as u32;
                for (c, cell) in row.iter().enumerate() {
                    let c = c as u16;
                    match cell {
                        Cell::S(s) => ws.write_string(r, c, *s).map(|_| ()),
                        Cell::N(n) => ws.write_number(r, c, *n).map(|_| ()),
                        Cell::D(y, m, d) => ws
                            .write_datetime_with_format(
                                r,
                                c,
                                ExcelDateTime::from_ymd(*y, *m, *d).unwrap(),
                                &date,
                            )
                            .map(|_| ()),
                        Cell::E => Ok(()),
                    }
                    .unwrap();
                }
            }
        }
        wb.save_to_buffer().unwrap()
    }

    #[derive(Clone)]
    enum Cell {
        S(&'static str),
        N(f64),
        D(u16, u8, u8),
        E,
    }
    use Cell::*;

    fn read(bytes: Vec<u8>) -> (Collect, ReadSummary) {
        let mut sink = Collect::new(Family::Association);
        let summary = read_xlsx(Cursor::new(bytes), "a.xlsx", &mut sink).unwrap();
        (sink, summary)
    }

    #[test]
    fn title_rows_dates_and_numbers() {
        let rows = vec![
            vec![
                S("A1"),
                S("Association Nour"),
                S("جمعية"),
                S("Droits des femmes;Agriculture"),
                S("Béni Mellal-Khénifra"),
                S("sidi ifni"),
                D(2002, 7, 6),
                N(5.0),
                N(0.0),
                N(1.0),
                N(12.0),
                S("Non"),
                S("x"),
            ],
            vec![
                N(1002.0),
                E,
                S("جمعية 2"),
                S("Alphabétisation / Sport"),
                S("L'ORIENTAL"),
                S("Jerada"),
                S("12/08/2020"),
                S("15"),
                S("beaucoup"),
                N(2.5),
                E,
                S("Oui"),
            ],
            vec![E, E, E, E, E, E, E, E, E, E, E, E],
            vec![
                S("A3"),
                S("Sans date"),
                E,
                E,
                E,
                E,
                S("2020-08-12"),
                E,
                E,
                E,
                E,
                E,
            ],
            vec![
                S("A4"),
                S("Année seule"),
                E,
                E,
                E,
                E,
                N(2019.0),
                E,
                E,
                E,
                E,
                E,
            ],
            vec![S("A5"), E, E, S("Culture")],
            vec![S(" "), S("Sans identifiant")],
        ];
        let (sink, summary) = read(workbook(&["Lisez-moi", "Associations déclarées"], 2, &rows));
        assert_eq!(summary.sheet.as_deref(), Some("Associations déclarées"));
        assert_eq!(summary.unknown_columns, vec!["Remarque"]);
        let a = &sink.accepted;
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].source_row, 4);
        assert_eq!(a[0].founded_on, chrono::NaiveDate::from_ymd_opt(2002, 7, 6));
        assert_eq!(a[0].sector_code, "SOCIAL");
        assert_eq!(a[0].region_code.as_deref(), Some("MA-10"));
        assert_eq!(a[0].employees_total, Some(1));
        assert_eq!(a[0].public_utility, Some(false));
        assert_eq!(a[1].source_id, "1002");
        assert_eq!(a[1].name, "جمعية 2");
        assert_eq!(a[1].founded_year, Some(2020));
        assert_eq!(a[1].members_total, Some(15));
        assert_eq!(a[1].employees_women, None);
        assert_eq!(a[1].employees_men, None);
        assert!(
            a[1].quality_flags
                .contains(ess_schemas::QualityFlag::InvalidNumber)
        );
        // The all-empty row (6) is not a row; text yyyy-mm-dd and a number are invalid
        // dates in the association registry.
        assert_eq!(a[2].source_row, 7);
        assert!(
            a[2].quality_flags
                .contains(ess_schemas::QualityFlag::InvalidDate)
        );
        assert!(
            a[3].quality_flags
                .contains(ess_schemas::QualityFlag::InvalidDate)
        );
        let rejected: Vec<_> = sink
            .rejected
            .iter()
            .map(|(r, j, _)| (*r, j.reason))
            .collect();
        assert_eq!(
            rejected,
            vec![(9, "missing_name"), (10, "missing_source_id")]
        );
        assert!(sink.rejected[1].2.contains("Sans identifiant"));
    }

    #[test]
    fn the_first_sheet_when_none_is_named_assoc() {
        let rows = vec![vec![S("A1"), S("X")]];
        let (sink, summary) = read(workbook(&["Feuil1"], 0, &rows));
        assert_eq!(summary.sheet.as_deref(), Some("Feuil1"));
        assert_eq!(sink.accepted[0].source_row, 2);
    }

    #[test]
    fn no_header_in_the_first_ten_rows_is_an_error() {
        let mut sink = Collect::new(Family::Association);
        let bytes = workbook(&["Associations"], 12, &[vec![S("A1"), S("X")]]);
        let err = read_xlsx(Cursor::new(bytes), "late.xlsx", &mut sink).unwrap_err();
        assert!(err.to_string().contains("no header row"), "{err}");
        let err = read_xlsx(Cursor::new(b"not a zip".to_vec()), "bad.xlsx", &mut sink).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.xlsx: not a readable XLSX workbook"),
            "{err}"
        );
    }
}
