//! The statistics a Delta `add` carries for a data file — rows, and per column its
//! smallest and largest value and its nulls — read from the file's own Parquet footer,
//! so that engines reading the table skip the files a filter excludes (a family, a
//! region, a range of `org_id`s) without opening them.
//!
//! Only columns whose every row group has statistics are given; lists and booleans
//! are left out (no reader prunes on them). Parquet's bounds of long strings are
//! truncated outward (the minimum to a prefix, the maximum past the true one), so
//! they stay bounds.

use std::collections::BTreeMap;

use arrow::datatypes::DataType;
use ess_schemas::arrow_schema::organisation_schema;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;
use serde_json::{Value, json};

/// A column's bounds over a file.
#[derive(Debug, Default)]
struct Bounds {
    min: Option<Value>,
    max: Option<Value>,
    nulls: u64,
    /// A row group without a null count: no count is given.
    nulls_unknown: bool,
    /// A row group without bounds: none are given.
    incomplete: bool,
}

/// A statistic as Delta's JSON writes it, for a column of `ty`.
fn value(ty: &DataType, stats: &Statistics, max: bool) -> Option<Value> {
    match (ty, stats) {
        (DataType::Utf8, Statistics::ByteArray(s)) => {
            let v = if max { s.max_opt()? } else { s.min_opt()? };
            Some(Value::String(
                std::str::from_utf8(v.data()).ok()?.to_owned(),
            ))
        }
        (DataType::Int64, Statistics::Int64(s)) => {
            Some(json!(if max { s.max_opt()? } else { s.min_opt()? }))
        }
        (DataType::Int32, Statistics::Int32(s)) => {
            Some(json!(if max { s.max_opt()? } else { s.min_opt()? }))
        }
        (DataType::Date32, Statistics::Int32(s)) => {
            let days = *(if max { s.max_opt()? } else { s.min_opt()? });
            let date = chrono::NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)?;
            Some(Value::String(date.format("%Y-%m-%d").to_string()))
        }
        _ => None,
    }
}

fn wider(a: &Value, b: &Value, max: bool) -> bool {
    let order = match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_i64()
            .zip(y.as_i64())
            .map_or(std::cmp::Ordering::Equal, |(x, y)| x.cmp(&y)),
        _ => std::cmp::Ordering::Equal,
    };
    if max { order.is_lt() } else { order.is_gt() }
}

/// The Delta statistics JSON of a data file whose footer is `meta`.
pub fn file_stats(meta: &ParquetMetaData) -> String {
    let schema = organisation_schema();
    let descr = meta.file_metadata().schema_descr();
    let mut columns: BTreeMap<String, Bounds> = BTreeMap::new();
    for (i, column) in descr.columns().iter().enumerate() {
        let path = column.path().parts();
        let [name] = path else {
            continue; // a list's leaf
        };
        let Ok(field) = schema.field_with_name(name) else {
            continue;
        };
        if !matches!(
            field.data_type(),
            DataType::Utf8 | DataType::Int64 | DataType::Int32 | DataType::Date32
        ) {
            continue;
        }
        let bounds = columns.entry(name.clone()).or_default();
        for rg in meta.row_groups() {
            let Some(stats) = rg.column(i).statistics() else {
                bounds.incomplete = true;
                bounds.nulls_unknown = true;
                continue;
            };
            match stats.null_count_opt() {
                Some(n) => bounds.nulls += n,
                None => bounds.nulls_unknown = true,
            }
            for (slot, max) in [(&mut bounds.min, false), (&mut bounds.max, true)] {
                match value(field.data_type(), stats, max) {
                    None => bounds.incomplete = true,
                    Some(v) => {
                        if slot.as_ref().is_none_or(|cur| wider(cur, &v, max)) {
                            *slot = Some(v);
                        }
                    }
                }
            }
        }
    }
    let (mut min, mut max, mut nulls) = (
        serde_json::Map::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
    );
    for (name, b) in columns {
        if !b.nulls_unknown {
            nulls.insert(name.clone(), json!(b.nulls));
        }
        if b.incomplete {
            continue;
        }
        if let (Some(lo), Some(hi)) = (b.min, b.max) {
            min.insert(name.clone(), lo);
            max.insert(name, hi);
        }
    }
    json!({
        "numRecords": meta.file_metadata().num_rows(),
        "minValues": min,
        "maxValues": max,
        "nullCount": nulls,
    })
    .to_string()
}
