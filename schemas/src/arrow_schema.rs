//! The canonical Arrow schema of the published `organisations` table, and conversion
//! between [`Organisation`] values and Arrow record batches.
//!
//! Types are chosen to open without fuss in pandas, polars, DuckDB and R: plain
//! `Utf8` strings, `Int64` counts, `Date32` dates, `List<Utf8>` for multi-valued
//! fields.

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Int32Builder,
    Int64Builder, ListBuilder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{DataType, Date32Type, Field, Int32Type, Int64Type, Schema, SchemaRef};
use chrono::NaiveDate;

use crate::error::SchemaError;
use crate::match_key::push_normalized_key;
use crate::organisation::{Family, Flags, Organisation, OrganisationRef, QualityFlag, Status};

/// Column names of the `organisations` table.
pub mod col {
    /// `<family>:<source_id>`; unique within a snapshot.
    pub const ORG_ID: &str = "org_id";
    /// `cooperative`, `association` or `mutual`.
    pub const FAMILY: &str = "family";
    /// The registry's own identifier, trimmed.
    pub const SOURCE_ID: &str = "source_id";
    /// Name, Latin script where available.
    pub const NAME: &str = "name";
    /// Arabic name.
    pub const NAME_AR: &str = "name_ar";
    /// Canonical sector code (`sectors.csv`).
    pub const SECTOR_CODE: &str = "sector_code";
    /// All activity labels given.
    pub const ACTIVITIES: &str = "activities";
    /// ISO 3166-2 region code.
    pub const REGION_CODE: &str = "region_code";
    /// ISO 3166-2 province code.
    pub const PROVINCE_CODE: &str = "province_code";
    /// Founding date.
    pub const FOUNDED_ON: &str = "founded_on";
    /// Founding year.
    pub const FOUNDED_YEAR: &str = "founded_year";
    /// `active`, `in_liquidation`, `dissolved` or `unknown`.
    pub const STATUS: &str = "status";
    /// Members.
    pub const MEMBERS_TOTAL: &str = "members_total";
    /// Women members.
    pub const MEMBERS_WOMEN: &str = "members_women";
    /// Employees (total).
    pub const EMPLOYEES_TOTAL: &str = "employees_total";
    /// Women employees.
    pub const EMPLOYEES_WOMEN: &str = "employees_women";
    /// Men employees.
    pub const EMPLOYEES_MEN: &str = "employees_men";
    /// Volunteers.
    pub const VOLUNTEERS: &str = "volunteers";
    /// Public utility.
    pub const PUBLIC_UTILITY: &str = "public_utility";
    /// Data-quality flags.
    pub const QUALITY_FLAGS: &str = "quality_flags";
    /// Registry file name.
    pub const SOURCE_FILE: &str = "source_file";
    /// Row number in the registry file.
    pub const SOURCE_ROW: &str = "source_row";
    /// Normalised text of name, Arabic name and identifier, for accent- and
    /// case-insensitive search ([`search_key`](super::search_key)). Written in the
    /// Parquet of snapshots published before it was dropped from the files; the query
    /// layer computes it from the columns and never reads it.
    pub const SEARCH_KEY: &str = "search_key";
}

fn utf8_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// The canonical `organisations` schema.
pub fn organisation_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new(col::ORG_ID, DataType::Utf8, false),
                Field::new(col::FAMILY, DataType::Utf8, false),
                Field::new(col::SOURCE_ID, DataType::Utf8, false),
                Field::new(col::NAME, DataType::Utf8, false),
                Field::new(col::NAME_AR, DataType::Utf8, true),
                Field::new(col::SECTOR_CODE, DataType::Utf8, false),
                Field::new(col::ACTIVITIES, utf8_list(), false),
                Field::new(col::REGION_CODE, DataType::Utf8, true),
                Field::new(col::PROVINCE_CODE, DataType::Utf8, true),
                Field::new(col::FOUNDED_ON, DataType::Date32, true),
                Field::new(col::FOUNDED_YEAR, DataType::Int32, true),
                Field::new(col::STATUS, DataType::Utf8, false),
                Field::new(col::MEMBERS_TOTAL, DataType::Int64, true),
                Field::new(col::MEMBERS_WOMEN, DataType::Int64, true),
                Field::new(col::EMPLOYEES_TOTAL, DataType::Int64, true),
                Field::new(col::EMPLOYEES_WOMEN, DataType::Int64, true),
                Field::new(col::EMPLOYEES_MEN, DataType::Int64, true),
                Field::new(col::VOLUNTEERS, DataType::Int64, true),
                Field::new(col::PUBLIC_UTILITY, DataType::Boolean, true),
                Field::new(col::QUALITY_FLAGS, utf8_list(), false),
                Field::new(col::SOURCE_FILE, DataType::Utf8, false),
                Field::new(col::SOURCE_ROW, DataType::Int64, false),
            ]))
        })
        .clone()
}

/// Column names of the `quarantine` table.
pub mod quarantine_col {
    /// Family of the registry.
    pub const FAMILY: &str = "family";
    /// Registry file name.
    pub const SOURCE_FILE: &str = "source_file";
    /// Row number in that file.
    pub const SOURCE_ROW: &str = "source_row";
    /// Why the row was rejected (`missing_source_id`, `missing_name`, …).
    pub const REASON: &str = "reason";
    /// A human-readable detail.
    pub const DETAIL: &str = "detail";
    /// The row's raw values as a JSON object (header → text).
    pub const RAW: &str = "raw";
}

/// The `quarantine` schema: rejected rows with their provenance.
pub fn quarantine_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new(quarantine_col::FAMILY, DataType::Utf8, false),
                Field::new(quarantine_col::SOURCE_FILE, DataType::Utf8, false),
                Field::new(quarantine_col::SOURCE_ROW, DataType::Int64, false),
                Field::new(quarantine_col::REASON, DataType::Utf8, false),
                Field::new(quarantine_col::DETAIL, DataType::Utf8, false),
                Field::new(quarantine_col::RAW, DataType::Utf8, false),
            ]))
        })
        .clone()
}

/// The text indexed for search: name, Arabic name and identifier, normalised.
pub fn search_key(org: &Organisation) -> String {
    let mut key = String::new();
    push_search_key_of(&org.name, org.name_ar.as_deref(), &org.source_id, &mut key);
    key
}

/// Appends the search key of an organisation's `name`, Arabic name and `source_id` to
/// `out`: the normalised texts joined by ` | `.
pub fn push_search_key_of(name: &str, name_ar: Option<&str>, source_id: &str, out: &mut String) {
    push_normalized_key(name, out);
    if let Some(ar) = name_ar {
        out.push_str(" | ");
        push_normalized_key(ar, out);
    }
    out.push_str(" | ");
    push_normalized_key(source_id, out);
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// Accumulates organisations into record batches of the canonical schema.
#[derive(Debug)]
pub struct OrganisationBatchBuilder {
    org_id: StringBuilder,
    family: StringBuilder,
    source_id: StringBuilder,
    name: StringBuilder,
    name_ar: StringBuilder,
    sector_code: StringBuilder,
    activities: ListBuilder<StringBuilder>,
    region_code: StringBuilder,
    province_code: StringBuilder,
    founded_on: Date32Builder,
    founded_year: Int32Builder,
    status: StringBuilder,
    members_total: Int64Builder,
    members_women: Int64Builder,
    employees_total: Int64Builder,
    employees_women: Int64Builder,
    employees_men: Int64Builder,
    volunteers: Int64Builder,
    public_utility: BooleanBuilder,
    quality_flags: ListBuilder<StringBuilder>,
    source_file: StringBuilder,
    source_row: Int64Builder,
    len: usize,
}

impl Default for OrganisationBatchBuilder {
    fn default() -> Self {
        Self::sized(Room::default())
    }
}

/// What a batch held, to size the builders of the next one: rows, bytes of each
/// long text column (`org_id`, `source_id`, `name`, `name_ar`, `source_file`), and
/// labels and their bytes in each list column (`activities`, `quality_flags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Room {
    rows: usize,
    text: [usize; 5],
    lists: [(usize, usize); 2],
}

impl Room {
    /// The same with an eighth more of each: batches vary a little (superseded rows,
    /// longer names), and a buffer one byte short doubles (a copy, and twice the
    /// memory until the batch is freed), so every batch is sized to fit whole.
    fn with_headroom(self) -> Self {
        let more = |n: usize| n + n / 8;
        Room {
            rows: more(self.rows),
            text: self.text.map(more),
            lists: self.lists.map(|(items, bytes)| (more(items), more(bytes))),
        }
    }
}

impl OrganisationBatchBuilder {
    /// Empty builders with the room a batch like `room` needs.
    fn sized(room: Room) -> Self {
        let rows = room.rows;
        let list = |(items, bytes): (usize, usize)| {
            ListBuilder::with_capacity(StringBuilder::with_capacity(items, bytes), rows)
                .with_field(Arc::new(Field::new("item", DataType::Utf8, true)))
        };
        let short = || StringBuilder::with_capacity(rows, rows * 8);
        let [org_id, source_id, name, name_ar, source_file] = room.text;
        let [activities, quality_flags] = room.lists;
        let text = |bytes: usize| StringBuilder::with_capacity(rows, bytes);
        Self {
            org_id: text(org_id),
            family: short(),
            source_id: text(source_id),
            name: text(name),
            name_ar: text(name_ar),
            sector_code: short(),
            activities: list(activities),
            region_code: short(),
            province_code: short(),
            founded_on: Date32Builder::with_capacity(rows),
            founded_year: Int32Builder::with_capacity(rows),
            status: short(),
            members_total: Int64Builder::with_capacity(rows),
            members_women: Int64Builder::with_capacity(rows),
            employees_total: Int64Builder::with_capacity(rows),
            employees_women: Int64Builder::with_capacity(rows),
            employees_men: Int64Builder::with_capacity(rows),
            volunteers: Int64Builder::with_capacity(rows),
            public_utility: BooleanBuilder::with_capacity(rows),
            quality_flags: list(quality_flags),
            source_file: text(source_file),
            source_row: Int64Builder::with_capacity(rows),
            len: 0,
        }
    }

    /// What the builders hold so far.
    fn room(&self) -> Room {
        let list = |b: &ListBuilder<StringBuilder>| {
            (b.values_ref().len(), b.values_ref().values_slice().len())
        };
        Room {
            rows: self.len,
            text: [
                &self.org_id,
                &self.source_id,
                &self.name,
                &self.name_ar,
                &self.source_file,
            ]
            .map(|b| b.values_slice().len()),
            lists: [list(&self.activities), list(&self.quality_flags)],
        }
    }

    /// Appends one organisation.
    pub fn push(&mut self, org: &Organisation) {
        self.push_ref(&org.borrowed());
    }

    /// Appends one organisation whose texts are borrowed.
    pub fn push_ref(&mut self, org: &OrganisationRef<'_>) {
        self.org_id.append_value(org.org_id);
        self.family.append_value(org.family.as_str());
        self.source_id.append_value(org.source_id);
        self.name.append_value(org.name);
        self.name_ar.append_option(org.name_ar);
        self.sector_code.append_value(org.sector_code);
        for a in org.activities {
            self.activities.values().append_value(a);
        }
        self.activities.append(true);
        self.region_code.append_option(org.region_code);
        self.province_code.append_option(org.province_code);
        self.founded_on
            .append_option(org.founded_on.map(|d| (d - EPOCH).num_days() as i32));
        self.founded_year.append_option(org.founded_year);
        self.status.append_value(org.status.as_str());
        self.members_total.append_option(org.members_total);
        self.members_women.append_option(org.members_women);
        self.employees_total.append_option(org.employees_total);
        self.employees_women.append_option(org.employees_women);
        self.employees_men.append_option(org.employees_men);
        self.volunteers.append_option(org.volunteers);
        self.public_utility.append_option(org.public_utility);
        for f in org.quality_flags.iter() {
            self.quality_flags.values().append_value(f.as_str());
        }
        self.quality_flags.append(true);
        self.source_file.append_value(org.source_file);
        self.source_row.append_value(org.source_row);
        self.len += 1;
    }

    /// Organisations appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was appended since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The appended organisations as a batch; the builder starts again empty.
    pub fn finish(&mut self) -> RecordBatch {
        // The next batch is likely the size of this one: room for it up front saves
        // growing every buffer from nothing again.
        let room = self.room();
        self.len = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.org_id.finish()),
            Arc::new(self.family.finish()),
            Arc::new(self.source_id.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.name_ar.finish()),
            Arc::new(self.sector_code.finish()),
            Arc::new(self.activities.finish()),
            Arc::new(self.region_code.finish()),
            Arc::new(self.province_code.finish()),
            Arc::new(self.founded_on.finish()),
            Arc::new(self.founded_year.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.members_total.finish()),
            Arc::new(self.members_women.finish()),
            Arc::new(self.employees_total.finish()),
            Arc::new(self.employees_women.finish()),
            Arc::new(self.employees_men.finish()),
            Arc::new(self.volunteers.finish()),
            Arc::new(self.public_utility.finish()),
            Arc::new(self.quality_flags.finish()),
            Arc::new(self.source_file.finish()),
            Arc::new(self.source_row.finish()),
        ];
        *self = Self::sized(room.with_headroom());
        RecordBatch::try_new(organisation_schema(), columns)
            .expect("builder columns follow the canonical schema")
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, SchemaError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| SchemaError::MissingColumn {
            column: name.to_owned(),
        })
}

fn strings<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a arrow::array::StringArray, SchemaError> {
    column(batch, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| SchemaError::ColumnType {
            column: name.to_owned(),
        })
}

fn opt_i64(batch: &RecordBatch, name: &str, row: usize) -> Result<Option<i64>, SchemaError> {
    let a = column(batch, name)?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| SchemaError::ColumnType {
            column: name.to_owned(),
        })?;
    Ok(a.is_valid(row).then(|| a.value(row)))
}

fn opt_str(batch: &RecordBatch, name: &str, row: usize) -> Result<Option<String>, SchemaError> {
    let a = strings(batch, name)?;
    Ok(a.is_valid(row).then(|| a.value(row).to_owned()))
}

fn str_list(batch: &RecordBatch, name: &str, row: usize) -> Result<Vec<String>, SchemaError> {
    let list =
        column(batch, name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| SchemaError::ColumnType {
                column: name.to_owned(),
            })?;
    if list.is_null(row) {
        return Ok(Vec::new());
    }
    let values = list.value(row);
    let values = values.as_string::<i32>();
    Ok(values.iter().flatten().map(str::to_owned).collect())
}

/// Reads the organisations of a batch of the canonical schema (or a projection that
/// keeps every canonical column).
pub fn organisations_from_batch(batch: &RecordBatch) -> Result<Vec<Organisation>, SchemaError> {
    let bad = |column: &str, value: &str| SchemaError::BadValue {
        column: column.to_owned(),
        value: value.to_owned(),
    };
    let founded_on = column(batch, col::FOUNDED_ON)?
        .as_primitive_opt::<Date32Type>()
        .ok_or_else(|| SchemaError::ColumnType {
            column: col::FOUNDED_ON.into(),
        })?;
    let founded_year = column(batch, col::FOUNDED_YEAR)?
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| SchemaError::ColumnType {
            column: col::FOUNDED_YEAR.into(),
        })?;
    let public_utility = column(batch, col::PUBLIC_UTILITY)?
        .as_boolean_opt()
        .ok_or_else(|| SchemaError::ColumnType {
            column: col::PUBLIC_UTILITY.into(),
        })?;
    (0..batch.num_rows())
        .map(|row| {
            let req = |name: &str| -> Result<String, SchemaError> {
                opt_str(batch, name, row)?.ok_or_else(|| bad(name, "null"))
            };
            let family_text = req(col::FAMILY)?;
            let status_text = req(col::STATUS)?;
            let mut quality_flags = Flags::default();
            for f in str_list(batch, col::QUALITY_FLAGS, row)? {
                let flag = QualityFlag::ALL
                    .into_iter()
                    .find(|q| q.as_str() == f)
                    .ok_or_else(|| bad(col::QUALITY_FLAGS, &f))?;
                quality_flags.raise(flag);
            }
            Ok(Organisation {
                org_id: req(col::ORG_ID)?,
                family: Family::parse(&family_text)
                    .ok_or_else(|| bad(col::FAMILY, &family_text))?,
                source_id: req(col::SOURCE_ID)?,
                name: req(col::NAME)?,
                name_ar: opt_str(batch, col::NAME_AR, row)?,
                sector_code: req(col::SECTOR_CODE)?,
                activities: str_list(batch, col::ACTIVITIES, row)?,
                region_code: opt_str(batch, col::REGION_CODE, row)?,
                province_code: opt_str(batch, col::PROVINCE_CODE, row)?,
                founded_on: founded_on
                    .is_valid(row)
                    .then(|| EPOCH + chrono::Duration::days(founded_on.value(row) as i64)),
                founded_year: founded_year.is_valid(row).then(|| founded_year.value(row)),
                status: [
                    Status::Active,
                    Status::InLiquidation,
                    Status::Dissolved,
                    Status::Unknown,
                ]
                .into_iter()
                .find(|s| s.as_str() == status_text)
                .ok_or_else(|| bad(col::STATUS, &status_text))?,
                members_total: opt_i64(batch, col::MEMBERS_TOTAL, row)?,
                members_women: opt_i64(batch, col::MEMBERS_WOMEN, row)?,
                employees_total: opt_i64(batch, col::EMPLOYEES_TOTAL, row)?,
                employees_women: opt_i64(batch, col::EMPLOYEES_WOMEN, row)?,
                employees_men: opt_i64(batch, col::EMPLOYEES_MEN, row)?,
                volunteers: opt_i64(batch, col::VOLUNTEERS, row)?,
                public_utility: public_utility
                    .is_valid(row)
                    .then(|| public_utility.value(row)),
                quality_flags,
                source_file: req(col::SOURCE_FILE)?,
                source_row: opt_i64(batch, col::SOURCE_ROW, row)?
                    .ok_or_else(|| bad(col::SOURCE_ROW, "null"))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Organisation {
        let mut flags = Flags::default();
        flags.raise(QualityFlag::InvalidDate);
        flags.raise(QualityFlag::LegacyRegion);
        Organisation {
            org_id: "association:A1".into(),
            family: Family::Association,
            source_id: "A1".into(),
            name: "Association Tifaouine".into(),
            name_ar: Some("جمعية تيفاوين".into()),
            sector_code: "SOCIAL".into(),
            activities: vec!["Solidarité".into(), "Sport".into()],
            region_code: Some("MA-09".into()),
            province_code: None,
            founded_on: NaiveDate::from_ymd_opt(1999, 12, 31),
            founded_year: Some(1999),
            status: Status::Active,
            members_total: Some(12),
            members_women: None,
            employees_total: Some(3),
            employees_women: Some(1),
            employees_men: Some(2),
            volunteers: Some(0),
            public_utility: Some(true),
            quality_flags: flags,
            source_file: "associations.xlsx".into(),
            source_row: 4,
        }
    }

    #[test]
    fn batches_round_trip() {
        let mut other = sample();
        other.org_id = "association:A2".into();
        other.name_ar = None;
        other.activities.clear();
        other.quality_flags = Flags::default();
        other.founded_on = None;
        other.public_utility = None;
        let mut b = OrganisationBatchBuilder::default();
        b.push(&sample());
        b.push(&other);
        assert_eq!(b.len(), 2);
        let batch = b.finish();
        assert!(b.is_empty());
        assert_eq!(batch.schema(), organisation_schema());
        let back = organisations_from_batch(&batch).unwrap();
        assert_eq!(back, vec![sample(), other]);
    }

    #[test]
    fn search_key_is_normalised() {
        assert_eq!(
            search_key(&sample()),
            "association tifaouine | جمعية تيفاوين | a1"
        );
    }

    #[test]
    fn schema_has_every_column_sources_md_names() {
        let names = [
            "org_id",
            "family",
            "source_id",
            "name",
            "name_ar",
            "sector_code",
            "activities",
            "region_code",
            "province_code",
            "founded_on",
            "founded_year",
            "status",
            "members_total",
            "members_women",
            "employees_total",
            "employees_women",
            "employees_men",
            "volunteers",
            "public_utility",
            "quality_flags",
            "source_file",
            "source_row",
        ];
        let schema = organisation_schema();
        for n in names {
            assert!(schema.field_with_name(n).is_ok(), "{n}");
        }
    }
}
