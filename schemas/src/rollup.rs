//! The rollup: every measure summed per combination of the dimensions a query can group
//! or filter by (family, region, province, sector, founding year, status).
//!
//! The measures of [`crate::measures`] are integer sums, and every filter field is a
//! dimension, so any aggregate can be answered by summing rollup rows instead of
//! scanning organisations. Written at publish time (by `ess_ingest::rollup`); far
//! smaller than the table. This module holds its definition only.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::arrow_schema::col;
use crate::measures::col as m;

/// The rollup's schema: the six dimension columns (named as in the organisations
/// table), then the measure columns of [`crate::measures::col::ALL`].
pub fn rollup_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = vec![
                Field::new(col::FAMILY, DataType::Utf8, false),
                Field::new(col::REGION_CODE, DataType::Utf8, true),
                Field::new(col::PROVINCE_CODE, DataType::Utf8, true),
                Field::new(col::SECTOR_CODE, DataType::Utf8, false),
                Field::new(col::FOUNDED_YEAR, DataType::Int32, true),
                Field::new(col::STATUS, DataType::Utf8, false),
            ];
            fields.extend(
                m::ALL
                    .iter()
                    .map(|n| Field::new(*n, DataType::Int64, false)),
            );
            Arc::new(Schema::new(fields))
        })
        .clone()
}
