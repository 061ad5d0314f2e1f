//! Organisations as CSV: the published columns in file order, headed in the export's
//! language, each code followed by its label (family, sector, region, province,
//! status). Lists (activities, quality flags) are joined with ` | `; an unknown value
//! is an empty cell.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Int32Type, Int64Type};
use ess_schemas::Lang;
use ess_schemas::arrow_schema::col;
use ess_schemas::columns::{ORGANISATION_COLUMNS, code_label};

use crate::export::csv::CsvChunks;

/// The label column that follows a code column, with its headings.
fn label_heading(column: &str, lang: Lang) -> Option<&'static str> {
    let h = match column {
        col::FAMILY => ["Famille (libellé)", "الصنف (التسمية)", "Family (label)"],
        col::SECTOR_CODE => ["Secteur", "القطاع", "Sector"],
        col::REGION_CODE => ["Région", "الجهة", "Region"],
        col::PROVINCE_CODE => ["Province", "الإقليم", "Province"],
        col::STATUS => ["Statut (libellé)", "الوضعية (التسمية)", "Status (label)"],
        _ => return None,
    };
    Some(h[lang.index()])
}

/// Writes the heading.
pub fn write_heading(csv: &mut CsvChunks, lang: Lang) {
    let mut heading = Vec::new();
    for c in ORGANISATION_COLUMNS {
        heading.push(c.heading(lang));
        if let Some(h) = label_heading(c.name, lang) {
            heading.push(h);
        }
    }
    csv.record(heading);
}

/// Writes the rows of `batch` (the organisations schema).
pub fn write_batch(csv: &mut CsvChunks, batch: &RecordBatch, lang: Lang) {
    // Per column: its name, its array, and whether a label column follows it.
    let columns: Vec<(&str, Option<&dyn Array>, bool)> = ORGANISATION_COLUMNS
        .iter()
        .map(|c| {
            let array = batch.column_by_name(c.name).map(|a| a.as_ref());
            (c.name, array, label_heading(c.name, lang).is_some())
        })
        .collect();
    let mut row: Vec<String> = Vec::with_capacity(columns.len() + 5);
    for i in 0..batch.num_rows() {
        row.clear();
        for (name, array, has_label) in &columns {
            let cell = array.map(|a| cell(a, i)).unwrap_or_default();
            if *has_label {
                let l = if cell.is_empty() {
                    String::new()
                } else {
                    code_label(name, &cell, lang).to_owned()
                };
                row.push(cell);
                row.push(l);
            } else {
                row.push(cell);
            }
        }
        csv.record(&row);
    }
}

/// One cell as text: empty when null.
fn cell(array: &dyn Array, i: usize) -> String {
    if array.is_null(i) {
        return String::new();
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_owned(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Boolean => array.as_boolean().value(i).to_string(),
        DataType::Date32 => array
            .as_primitive::<Date32Type>()
            .value_as_date(i)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        DataType::List(_) => {
            let values = array.as_list::<i32>().value(i);
            (0..values.len())
                .map(|j| cell(values.as_ref(), j))
                .collect::<Vec<_>>()
                .join(" | ")
        }
        _ => arrow::util::display::ArrayFormatter::try_new(array, &Default::default())
            .map(|f| f.value(i).to_string())
            .unwrap_or_default(),
    }
}
