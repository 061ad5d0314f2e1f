//! The rollup: every measure summed per combination of the dimensions a query can group
//! or filter by (family, region, province, sector, founding year, status).
//!
//! The measures of [`crate::measures`] are integer sums, and every filter field is a
//! dimension, so any aggregate can be answered by summing rollup rows instead of
//! scanning organisations. Written at publish time; far smaller than the table.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};

use crate::arrow_schema::col;
use crate::interner::Interner;
use crate::measures::{Sums, col as m};

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

/// A group's dimension values: family, region, province, sector, year, status.
type KeyRef<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    Option<i32>,
    &'a str,
);

/// A group while accumulating: each text dimension as an index into its interner
/// (0 stands for null), so adding a row allocates nothing.
type IdKey = [u32; 6];

/// Accumulates organisation batches into rollup rows.
#[derive(Debug, Default)]
pub struct RollupBuilder {
    groups: HashMap<IdKey, Sums, foldhash::fast::FixedState>,
    /// Interners of family, region, province, sector and status.
    texts: [Interner; 5],
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> &'a arrow::array::StringArray {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("organisations batch without `{name}`"))
        .as_string::<i32>()
}

fn ints<'a>(batch: &'a RecordBatch, name: &str) -> &'a arrow::array::Int64Array {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("organisations batch without `{name}`"))
        .as_primitive::<Int64Type>()
}

fn text_at(a: &arrow::array::StringArray, row: usize) -> Option<&str> {
    a.is_valid(row).then(|| a.value(row))
}

impl RollupBuilder {
    /// Adds the organisations of a batch of the canonical schema.
    pub fn add(&mut self, batch: &RecordBatch) {
        let columns = [
            strings(batch, col::FAMILY),
            strings(batch, col::REGION_CODE),
            strings(batch, col::PROVINCE_CODE),
            strings(batch, col::SECTOR_CODE),
            strings(batch, col::STATUS),
        ];
        let year = batch
            .column_by_name(col::FOUNDED_YEAR)
            .expect("founded_year")
            .as_primitive::<Int32Type>();
        let members = ints(batch, col::MEMBERS_TOTAL);
        let members_women = ints(batch, col::MEMBERS_WOMEN);
        let employees = ints(batch, col::EMPLOYEES_TOTAL);
        let women = ints(batch, col::EMPLOYEES_WOMEN);
        let men = ints(batch, col::EMPLOYEES_MEN);
        let v = |a: &arrow::array::Int64Array, row: usize| {
            if a.is_valid(row) { a.value(row) } else { 0 }
        };
        for row in 0..batch.num_rows() {
            let mut key: IdKey = [0; 6];
            for (i, column) in columns.iter().enumerate() {
                key[i] = self.texts[i].id(text_at(column, row));
            }
            // The year, shifted so that 0 stays free for null.
            key[5] = if year.is_valid(row) {
                (year.value(row) as u32) ^ 0x8000_0000
            } else {
                0
            };
            let s = self.groups.entry(key).or_default();
            s.organisations += 1;
            s.members += v(members, row);
            s.members_women += v(members_women, row);
            s.employees += v(employees, row);
            s.employees_women += v(women, row);
            s.employees_men += v(men, row);
            if women.is_valid(row) && men.is_valid(row) {
                s.gender_known += 1;
                s.gender_known_women += women.value(row);
                s.gender_known_men += men.value(row);
            }
        }
    }

    /// A group's key, borrowing the interned texts (for sorting without copies).
    fn key(&self, id: &IdKey) -> KeyRef<'_> {
        let text = |i: usize| self.texts[i].value(id[i]);
        (
            text(0).unwrap_or_default(),
            text(1),
            text(2),
            text(3).unwrap_or_default(),
            (id[5] != 0).then(|| (id[5] ^ 0x8000_0000) as i32),
            text(4).unwrap_or_default(),
        )
    }

    /// Organisations added so far, per family (as written in the `family` column).
    pub fn organisations_by_family(&self) -> HashMap<String, u64> {
        let mut out: HashMap<String, u64> = HashMap::new();
        for (key, sums) in &self.groups {
            let family = self.texts[0].value(key[0]).unwrap_or_default();
            *out.entry(family.to_owned()).or_default() += sums.organisations as u64;
        }
        out
    }

    /// Rollup rows so far.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The rollup as one batch, sorted by its dimensions.
    pub fn finish(self) -> RecordBatch {
        let mut rows: Vec<(KeyRef<'_>, &Sums)> = self
            .groups
            .iter()
            .map(|(id, sums)| (self.key(id), sums))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut family = StringBuilder::new();
        let mut region = StringBuilder::new();
        let mut province = StringBuilder::new();
        let mut sector = StringBuilder::new();
        let mut year = Int32Builder::new();
        let mut status = StringBuilder::new();
        let mut measures: Vec<Int64Builder> =
            (0..m::ALL.len()).map(|_| Int64Builder::new()).collect();
        for ((f, r, p, s, y, st), sums) in &rows {
            family.append_value(f);
            region.append_option(*r);
            province.append_option(*p);
            sector.append_value(s);
            year.append_option(*y);
            status.append_value(st);
            let values = [
                sums.organisations,
                sums.members,
                sums.members_women,
                sums.employees,
                sums.employees_women,
                sums.employees_men,
                sums.gender_known,
                sums.gender_known_women,
                sums.gender_known_men,
            ];
            for (b, v) in measures.iter_mut().zip(values) {
                b.append_value(v);
            }
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(family.finish()),
            Arc::new(region.finish()),
            Arc::new(province.finish()),
            Arc::new(sector.finish()),
            Arc::new(year.finish()),
            Arc::new(status.finish()),
        ];
        columns.extend(
            measures
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        RecordBatch::try_new(rollup_schema(), columns).expect("rollup columns follow its schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow_schema::OrganisationBatchBuilder;
    use crate::{Family, Flags, Organisation, Status};

    fn org(id: &str, region: Option<&str>, women: Option<i64>, men: Option<i64>) -> Organisation {
        Organisation {
            org_id: format!("cooperative:{id}"),
            family: Family::Cooperative,
            source_id: id.into(),
            name: id.into(),
            name_ar: None,
            sector_code: "AGRI".into(),
            activities: vec![],
            region_code: region.map(Into::into),
            province_code: None,
            founded_on: None,
            founded_year: Some(2020),
            status: Status::Active,
            members_total: Some(10),
            members_women: None,
            employees_total: Some(3),
            employees_women: women,
            employees_men: men,
            volunteers: None,
            public_utility: None,
            quality_flags: Flags::default(),
            source_file: "f".into(),
            source_row: 2,
        }
    }

    #[test]
    fn groups_sum_and_keep_unknowns() {
        let mut b = OrganisationBatchBuilder::default();
        b.push(&org("1", Some("MA-09"), Some(1), Some(2)));
        b.push(&org("2", Some("MA-09"), Some(4), None));
        b.push(&org("3", None, Some(1), Some(1)));
        let mut r = RollupBuilder::default();
        r.add(&b.finish());
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.organisations_by_family(),
            HashMap::from([("cooperative".to_owned(), 3)])
        );
        let batch = r.finish();
        assert_eq!(batch.schema(), rollup_schema());
        let orgs = batch
            .column_by_name(m::ORGANISATIONS)
            .unwrap()
            .as_primitive::<Int64Type>();
        let known_women = batch
            .column_by_name(m::GENDER_KNOWN_WOMEN)
            .unwrap()
            .as_primitive::<Int64Type>();
        let women = batch
            .column_by_name(m::EMPLOYEES_WOMEN)
            .unwrap()
            .as_primitive::<Int64Type>();
        // Sorted: the known region first (None sorts first in Rust: check by value).
        let region = batch
            .column_by_name(col::REGION_CODE)
            .unwrap()
            .as_string::<i32>();
        let ma09 = (0..2).find(|&i| region.is_valid(i)).unwrap();
        assert_eq!(
            (orgs.value(ma09), women.value(ma09), known_women.value(ma09)),
            (2, 5, 1)
        );
        assert_eq!(orgs.value(1 - ma09), 1);
    }
}
