//! The rollup: every measure summed per combination of the dimensions a query can group
//! or filter by (family, region, province, sector, founding year, status).
//!
//! The measures of [`crate::measures`] are integer sums, and every filter field is a
//! dimension, so any aggregate can be answered by summing rollup rows instead of
//! scanning organisations. Written at publish time; far smaller than the table.

use std::collections::HashMap;
use std::hash::BuildHasher;
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

/// Partitions of the groups (by a hash of their key). There are up to a few hundred
/// thousand groups (bounded by the reference data, not by rows); one table of them is
/// tens of MiB, and a row added straight to it is a cache miss or two. Rows are instead
/// appended to their partition's short queue, which is added to the partition's table
/// (a few thousand groups: in cache) when full.
const PARTITIONS: usize = 64;
/// Rows queued per partition before they are added to its table.
const QUEUED: usize = 512;

/// A row waiting in its partition's queue: its group and its measures (null as 0).
#[derive(Debug, Clone, Copy)]
struct Queued {
    key: IdKey,
    /// Members, women members, employees, women employees, men employees.
    values: [i64; 5],
    /// Whether both women and men employees are known.
    gender_known: bool,
}

#[derive(Debug, Default)]
struct Partition {
    groups: HashMap<IdKey, Sums, foldhash::fast::FixedState>,
    queue: Vec<Queued>,
}

impl Partition {
    fn drain_queue(&mut self) {
        for q in self.queue.drain(..) {
            let s = self.groups.entry(q.key).or_default();
            let [members, members_women, employees, women, men] = q.values;
            s.organisations += 1;
            s.members += members;
            s.members_women += members_women;
            s.employees += employees;
            s.employees_women += women;
            s.employees_men += men;
            if q.gender_known {
                s.gender_known += 1;
                s.gender_known_women += women;
                s.gender_known_men += men;
            }
        }
    }
}

/// Accumulates organisation batches into rollup rows.
#[derive(Debug, Default)]
pub struct RollupBuilder {
    /// [`PARTITIONS`] of them once a row was added.
    partitions: Vec<Partition>,
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
        if batch.num_rows() == 0 {
            return;
        }
        if self.partitions.is_empty() {
            self.partitions = (0..PARTITIONS).map(|_| Partition::default()).collect();
        }
        // Not the tables' own hasher: the partition must not fix bits a table uses.
        let spread = foldhash::fast::FixedState::with_seed(0x726f_6c6c_7570);
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
            let partition = &mut self.partitions[(spread.hash_one(key) >> 58) as usize];
            partition.queue.push(Queued {
                key,
                values: [
                    v(members, row),
                    v(members_women, row),
                    v(employees, row),
                    v(women, row),
                    v(men, row),
                ],
                gender_known: women.is_valid(row) && men.is_valid(row),
            });
            if partition.queue.len() >= QUEUED {
                partition.drain_queue();
            }
        }
    }

    /// Every group, once the queues are drained.
    fn groups(&mut self) -> impl Iterator<Item = (&IdKey, &Sums)> {
        for p in &mut self.partitions {
            p.drain_queue();
        }
        self.partitions.iter().flat_map(|p| &p.groups)
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
    pub fn organisations_by_family(&mut self) -> HashMap<String, u64> {
        let mut by_id: HashMap<u32, u64> = HashMap::new();
        for (key, sums) in self.groups() {
            *by_id.entry(key[0]).or_default() += sums.organisations as u64;
        }
        by_id
            .into_iter()
            .map(|(id, n)| (self.texts[0].value(id).unwrap_or_default().to_owned(), n))
            .collect()
    }

    /// Rollup rows so far.
    pub fn len(&mut self) -> usize {
        self.groups().count()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }

    /// The rollup as one batch, sorted by its dimensions.
    pub fn finish(self) -> RecordBatch {
        let mut batches = Vec::new();
        self.finish_into(usize::MAX, |b| {
            batches.push(b);
            Ok::<_, std::convert::Infallible>(())
        })
        .unwrap_or_else(|never| match never {});
        match batches.pop() {
            Some(batch) => batch,
            None => RecordBatch::new_empty(rollup_schema()),
        }
    }

    /// The rollup, sorted by its dimensions, handed to `emit` in batches of up to
    /// `rows` rows: only the sort order (16 bytes a group) and one batch are built at
    /// a time, not a copy of every group.
    pub fn finish_into<E>(
        mut self,
        rows: usize,
        mut emit: impl FnMut(RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        self.groups().for_each(drop);
        // Each interned text's rank among its dimension's texts (0 for null, first).
        let ranks = self.texts.each_ref().map(Interner::ranks);
        let sort_key = |id: &IdKey| {
            let rank = |i: usize| ranks[i][id[i] as usize];
            // As [`KeyRef`] orders: family, region, province, sector, year, status.
            (rank(0), rank(1), rank(2), rank(3), id[5], rank(4))
        };
        let mut order: Vec<(&IdKey, &Sums)> =
            self.partitions.iter().flat_map(|p| &p.groups).collect();
        order.sort_unstable_by_key(|(id, _)| sort_key(id));
        for slice in order.chunks(rows.max(1)) {
            emit(self.batch(slice))?;
        }
        Ok(())
    }

    /// Rollup rows for these groups, in this order.
    fn batch(&self, groups: &[(&IdKey, &Sums)]) -> RecordBatch {
        let n = groups.len();
        let mut family = StringBuilder::with_capacity(n, n * 12);
        let mut region = StringBuilder::with_capacity(n, n * 5);
        let mut province = StringBuilder::with_capacity(n, n * 8);
        let mut sector = StringBuilder::with_capacity(n, n * 8);
        let mut year = Int32Builder::with_capacity(n);
        let mut status = StringBuilder::with_capacity(n, n * 8);
        let mut measures: Vec<Int64Builder> = (0..m::ALL.len())
            .map(|_| Int64Builder::with_capacity(n))
            .collect();
        for (id, sums) in groups {
            let (f, r, p, s, y, st) = self.key(id);
            family.append_value(f);
            region.append_option(r);
            province.append_option(p);
            sector.append_value(s);
            year.append_option(y);
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

    #[test]
    fn queued_rows_sum_as_a_direct_count_does() {
        // Enough rows and groups that every partition's queue fills and drains several
        // times; some rows left queued at the end.
        let mut expected: std::collections::BTreeMap<(Option<String>, i32), [i64; 4]> =
            Default::default();
        let mut r = RollupBuilder::default();
        let mut b = OrganisationBatchBuilder::default();
        for i in 0..100_003i64 {
            let region = (i % 7 != 0).then(|| format!("MA-{:02}", i % 13));
            let year = 1950 + (i % 71) as i32;
            let women = (i % 5 != 0).then_some(i % 9);
            let men = (i % 3 != 0).then_some(i % 4);
            let mut o = org(&i.to_string(), region.as_deref(), women, men);
            o.founded_year = Some(year);
            o.members_total = (i % 11 != 0).then_some(i % 100);
            b.push(&o);
            let e = expected.entry((region, year)).or_default();
            e[0] += 1;
            e[1] += o.members_total.unwrap_or(0);
            e[2] += women.unwrap_or(0);
            e[3] += (women.is_some() && men.is_some()) as i64;
            if b.len() == 8_192 {
                r.add(&b.finish());
            }
        }
        r.add(&b.finish());
        assert_eq!(r.len(), expected.len());
        let batch = r.finish();
        let region = batch
            .column_by_name(col::REGION_CODE)
            .unwrap()
            .as_string::<i32>();
        let year = batch
            .column_by_name(col::FOUNDED_YEAR)
            .unwrap()
            .as_primitive::<Int32Type>();
        let measure = |name| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_primitive::<Int64Type>()
                .clone()
        };
        let (orgs, members, women, known) = (
            measure(m::ORGANISATIONS),
            measure(m::MEMBERS),
            measure(m::EMPLOYEES_WOMEN),
            measure(m::GENDER_KNOWN),
        );
        let got: std::collections::BTreeMap<_, _> = (0..batch.num_rows())
            .map(|i| {
                (
                    (text_at(region, i).map(str::to_owned), year.value(i)),
                    [
                        orgs.value(i),
                        members.value(i),
                        women.value(i),
                        known.value(i),
                    ],
                )
            })
            .collect();
        assert_eq!(got, expected);
    }

    fn varied_rollup() -> RollupBuilder {
        let mut b = OrganisationBatchBuilder::default();
        for i in 0..500i64 {
            let region = ["MA-09", "MA-01", "MA-10", "MA-1"][i as usize % 4];
            let mut o = org(&i.to_string(), (i % 5 != 0).then_some(region), None, None);
            o.founded_year = (i % 7 != 0).then_some(1990 + (i % 13) as i32 - 6);
            o.sector_code = ["ARGAN", "AGRI", "B"][i as usize % 3].into();
            o.status = [Status::Active, Status::Dissolved][i as usize % 2];
            b.push(&o);
        }
        let mut r = RollupBuilder::default();
        r.add(&b.finish());
        r
    }

    #[test]
    fn rows_are_sorted_by_their_dimensions_and_sliced_in_that_order() {
        let whole = varied_rollup().finish();
        let dims = |b: &RecordBatch, i: usize| {
            let text = |name| {
                let a = b.column_by_name(name).unwrap().as_string::<i32>();
                a.is_valid(i).then(|| a.value(i).to_owned())
            };
            let year = b
                .column_by_name(col::FOUNDED_YEAR)
                .unwrap()
                .as_primitive::<Int32Type>();
            (
                text(col::FAMILY),
                text(col::REGION_CODE),
                text(col::PROVINCE_CODE),
                text(col::SECTOR_CODE),
                year.is_valid(i).then(|| year.value(i)),
                text(col::STATUS),
            )
        };
        let keys: Vec<_> = (0..whole.num_rows()).map(|i| dims(&whole, i)).collect();
        assert!(keys.len() > 100);
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        assert_eq!(keys[0].1, None, "null regions first");
        let mut slices = Vec::new();
        varied_rollup()
            .finish_into(7, |b| {
                slices.push(b);
                Ok::<_, ()>(())
            })
            .unwrap();
        assert!(slices.iter().all(|b| b.num_rows() <= 7));
        let joined = arrow::compute::concat_batches(&rollup_schema(), &slices).unwrap();
        assert_eq!(joined, whole);
    }
}
