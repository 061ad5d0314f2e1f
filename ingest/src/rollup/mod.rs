//! Building the rollup ([`ess_schemas::rollup`]) as rows are written: every measure
//! summed per combination of dimensions, in hash tables of bounded size whose rarest
//! groups are spilled (`spill`) and summed back in when the rollup is written.
//!
//! - Each worker keys its rows while they are in its cache ([`RollupKeyer`]: dimension
//!   texts numbered by its own interners, families and statuses by variant); the
//!   builder translates each number once per text, so the in-order thread only queues
//!   small records.
//! - Groups are partitioned by (family, region, province), found from a short list per
//!   province without hashing. A row waits in its partition's queue (256 rows), which
//!   is added to the partition's table when full: a few thousand groups, in cache,
//!   keyed by sector, status and year packed in one 128-bit number.
//! - The tables have room for at most `ROLLUP_BUDGET` groups (131,072, ~13 MiB),
//!   counting their capacity, not the groups in them, since a table grows by doubling.
//!   Past it, the groups that met the fewest organisations are written to a temporary
//!   file until half the budget is free: the frequent ones stay, so few rows miss.
//! - The rollup is written a partition at a time, partitions in the order of their
//!   (family, region, province) texts, each one's spilled runs summed back in and its
//!   groups sorted by sector, year and status (each dimension's texts ranked once):
//!   the file is sorted by every dimension without a sort of all groups.

mod spill;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{Int32Type, Int64Type};
use ess_schemas::arrow_schema::col;
use ess_schemas::interner::Interner;
use ess_schemas::measures::{Sums, col as m};
use ess_schemas::organisation::{Family, OrganisationRef, Status};
use ess_schemas::rollup::rollup_schema;

pub(crate) use spill::{FileSpill, ROLLUP_BUDGET};

/// A group's dimension values: family, region, province, sector, year, status.
type KeyRef<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    Option<i32>,
    &'a str,
);

/// A group while accumulating: family, region, province, sector and status as indexes
/// into their interners (0 stands for null), then the year (shifted so that 0 stays
/// free for null), so adding a row allocates nothing.
type IdKey = [u32; 6];

/// Rows queued per partition before they are added to its table.
const QUEUED: usize = 256;

/// Bytes of one group in a spilled run: its key, then its nine sums.
const GROUP_BYTES: usize = 6 * 4 + 9 * 8;

/// A row waiting in its partition's queue: its group and its measures (null as 0).
#[derive(Debug, Clone, Copy)]
struct Queued {
    key: IdKey,
    /// Members, women members, employees, women employees, men employees.
    values: [i64; 5],
    /// Whether both women and men employees are known.
    gender_known: bool,
}

fn add_sums(s: &mut Sums, o: &Sums) {
    let (a, b) = (s.to_array(), o.to_array());
    *s = Sums::from_array(std::array::from_fn(|i| a[i] + b[i]));
}

/// A group's key within its partition: sector, status and year in one number, hashed
/// with one multiply rather than the whole six-word key hashed as 24 bytes.
fn inner_key(key: &IdKey) -> u128 {
    (u128::from(key[3]) << 64) | (u128::from(key[4]) << 32) | u128::from(key[5])
}

/// The whole key of a group of the partition `outer` (family, region, province).
fn whole_key(outer: [u32; 3], inner: u128) -> IdKey {
    let [f, r, p] = outer;
    [
        f,
        r,
        p,
        (inner >> 64) as u32,
        (inner >> 32) as u32,
        inner as u32,
    ]
}

/// Groups of one family, region and province: the unit the rollup partitions, spills
/// and sorts by. There are a few hundred partitions at most (bounded by the reference
/// data), each a few thousand groups (sector × year × status): small enough that a row
/// added to its table is a cache hit. Rows are appended to a short queue first, added
/// to the table when it is full.
#[derive(Debug, Default)]
struct Partition {
    /// Family, region and province: the first three words of its groups' keys.
    outer: [u32; 3],
    /// Sums by [`inner_key`].
    groups: HashMap<u128, Sums, foldhash::fast::FixedState>,
    queue: Vec<Queued>,
    /// Runs of this partition's groups spilled so far (see [`RollupSpill`]).
    runs: Vec<u64>,
}

impl Partition {
    fn new(outer: [u32; 3]) -> Self {
        Partition {
            outer,
            ..Partition::default()
        }
    }

    /// Adds the queued rows to the table.
    fn drain_queue(&mut self) {
        for q in self.queue.drain(..) {
            let s = self.groups.entry(inner_key(&q.key)).or_default();
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

/// Where a [`RollupBuilder`] past its budget puts the groups it stops holding in
/// memory, and reads them back from when it is finished. The ingest keeps them in a
/// temporary file; this crate does no I/O.
pub trait RollupSpill: Send {
    /// Stores one run of groups (opaque bytes); returns its number for [`Self::read_run`].
    fn write_run(&mut self, bytes: &[u8]) -> std::io::Result<u64>;
    /// Reads run `run` back into `out` (which is cleared first).
    fn read_run(&mut self, run: u64, out: &mut Vec<u8>) -> std::io::Result<()>;
}

/// The year as the last key word: shifted so that 0 stays free for null.
fn year_key(year: Option<i32>) -> u32 {
    year.map_or(0, |y| (y as u32) ^ 0x8000_0000)
}

/// Keys organisations for the rollup on the thread that normalises them, while their
/// texts are in that core's cache: each dimension text is numbered by the keyer's own
/// interners, and [`RollupBuilder::add_rows`] translates the numbers once per text.
#[derive(Debug)]
pub struct RollupKeyer {
    id: u64,
    texts: [Interner; 5],
    /// Texts of each interner already handed on.
    shipped: [usize; 5],
    /// The numbers of families and of statuses, by variant (0: not yet numbered), so
    /// that these two are not looked up by text for every row.
    families: [u32; Family::ALL.len()],
    statuses: [u32; Status::ALL.len()],
    rows: Vec<Queued>,
}

/// Rows keyed by a [`RollupKeyer`], with the texts it numbered since its last ones.
#[derive(Debug)]
pub struct RollupRows {
    keyer: u64,
    new_texts: [Vec<String>; 5],
    rows: Vec<Queued>,
}

impl Default for RollupKeyer {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        RollupKeyer {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            texts: Default::default(),
            shipped: [0; 5],
            families: [0; Family::ALL.len()],
            statuses: [0; Status::ALL.len()],
            rows: Vec::new(),
        }
    }
}

impl RollupKeyer {
    /// Keys one organisation.
    pub fn push(&mut self, org: &OrganisationRef<'_>) {
        let family = &mut self.families[org.family as usize];
        if *family == 0 {
            *family = self.texts[0].id(Some(org.family.as_str()));
        }
        let status = &mut self.statuses[org.status as usize];
        if *status == 0 {
            *status = self.texts[4].id(Some(org.status.as_str()));
        }
        let key: IdKey = [
            *family,
            self.texts[1].id(org.region_code),
            self.texts[2].id(org.province_code),
            self.texts[3].id(Some(org.sector_code)),
            *status,
            year_key(org.founded_year),
        ];
        self.rows.push(Queued {
            key,
            values: [
                org.members_total.unwrap_or(0),
                org.members_women.unwrap_or(0),
                org.employees_total.unwrap_or(0),
                org.employees_women.unwrap_or(0),
                org.employees_men.unwrap_or(0),
            ],
            gender_known: org.employees_women.is_some() && org.employees_men.is_some(),
        });
    }

    /// The rows keyed since the last call, for [`RollupBuilder::add_rows`].
    pub fn take(&mut self) -> RollupRows {
        let new_texts = std::array::from_fn(|i| {
            let interner = &self.texts[i];
            let texts = (self.shipped[i] + 1..=interner.len())
                .map(|id| interner.value(id as u32).unwrap_or_default().to_owned())
                .collect();
            self.shipped[i] = interner.len();
            texts
        });
        RollupRows {
            keyer: self.id,
            new_texts,
            rows: std::mem::take(&mut self.rows),
        }
    }
}

/// Accumulates organisation batches into rollup rows.
///
/// Memory: with [`RollupBuilder::with_spill`], the partitions' tables have room for at
/// most `budget` groups (their capacity, not the groups in them: a table grows by
/// doubling, so counting groups would let the memory vary by up to twice with the
/// data); past it the groups that met the fewest organisations are written out as runs.
/// When finished, each partition's runs are read back and summed into it, one
/// partition at a time, in sort order.
#[derive(Default)]
pub struct RollupBuilder {
    partitions: Vec<Partition>,
    /// The partitions of each province (by interned id, 0 for none), with their family
    /// and region: a short list (one entry, mostly), searched without hashing.
    by_province: Vec<Vec<([u32; 2], u32)>>,
    /// Interners of family, region, province, sector and status.
    texts: [Interner; 5],
    /// Per [`RollupKeyer`]: its numbers of each dimension's texts, as ours.
    translations: HashMap<u64, [Vec<u32>; 5], foldhash::fast::FixedState>,
    /// Organisations added, by family id.
    by_family: Vec<u64>,
    /// Room for groups in the partitions' tables: the sum of their capacities.
    held: usize,
    spill: Option<(Box<dyn RollupSpill>, usize)>,
    /// The first spill failure; the groups then stay in memory.
    spill_error: Option<std::io::Error>,
    /// Groups written out so far (counted once per run they are in).
    spilled: u64,
    buf: Vec<u8>,
}

impl std::fmt::Debug for RollupBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollupBuilder")
            .field("partitions", &self.partitions.len())
            .field("held", &self.held)
            .field("spilled", &self.spilled)
            .finish_non_exhaustive()
    }
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
    /// A builder that holds at most `budget` groups in memory, spilling the rest to
    /// `spill`.
    pub fn with_spill(spill: Box<dyn RollupSpill>, budget: usize) -> Self {
        RollupBuilder {
            spill: Some((spill, budget.max(1))),
            ..RollupBuilder::default()
        }
    }

    /// Adds the organisations of a batch of the canonical schema.
    pub fn add(&mut self, batch: &RecordBatch) {
        if batch.num_rows() == 0 {
            return;
        }
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
            key[5] = year_key(year.is_valid(row).then(|| year.value(row)));
            self.push(Queued {
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
        }
    }

    /// Adds rows keyed where they were normalised (see [`RollupKeyer`]).
    pub fn add_rows(&mut self, rows: RollupRows) {
        // The keyer's numbers, translated to this builder's once per text.
        let mut to_ours = self.translations.remove(&rows.keyer).unwrap_or_default();
        for (i, texts) in rows.new_texts.iter().enumerate() {
            for text in texts {
                to_ours[i].push(self.texts[i].id(Some(text)));
            }
        }
        for mut q in rows.rows {
            for (i, id) in q.key[..5].iter_mut().enumerate() {
                if *id != 0 {
                    *id = to_ours[i][*id as usize - 1];
                }
            }
            self.push(q);
        }
        self.translations.insert(rows.keyer, to_ours);
    }

    fn push(&mut self, q: Queued) {
        let family = q.key[0] as usize;
        if self.by_family.len() <= family {
            self.by_family.resize(family + 1, 0);
        }
        self.by_family[family] += 1;
        let p = self.partition(q.key[0], q.key[1], q.key[2]);
        let partition = &mut self.partitions[p];
        partition.queue.push(q);
        if partition.queue.len() >= QUEUED {
            let before = partition.groups.capacity();
            partition.drain_queue();
            self.held = self.held + partition.groups.capacity() - before;
            self.spill_if_over_budget();
        }
    }

    /// The index of the partition of (family, region, province), made if new.
    #[inline]
    fn partition(&mut self, family: u32, region: u32, province: u32) -> usize {
        let province = province as usize;
        if self.by_province.len() <= province {
            self.by_province.resize_with(province + 1, Vec::new);
        }
        let list = &mut self.by_province[province];
        if let Some((_, p)) = list.iter().find(|(k, _)| *k == [family, region]) {
            return *p as usize;
        }
        let p = self.partitions.len();
        self.partitions
            .push(Partition::new([family, region, province as u32]));
        list.push(([family, region], p as u32));
        p
    }

    /// Past the budget, writes out the groups that have met the fewest organisations
    /// (those with at most 1, then 2, 4, … until half the budget is free): the
    /// frequent groups stay, so few rows land in a group that is not in memory. Half,
    /// not a quarter: the budget counts the tables' room, which a table's doubling
    /// takes in one step, and every spill sweeps every table.
    fn spill_if_over_budget(&mut self) {
        let Some((_, budget)) = &self.spill else {
            return;
        };
        let budget = *budget;
        if self.held <= budget || self.spill_error.is_some() {
            return;
        }
        let mut most = 1;
        while self.held > budget / 2 {
            for p in 0..self.partitions.len() {
                if let Err(e) = self.spill_partition(p, most) {
                    self.spill_error = Some(e);
                    return;
                }
            }
            most *= 2;
        }
    }

    /// Writes out the groups of partition `p` that have met at most `most`
    /// organisations, as one run.
    fn spill_partition(&mut self, p: usize, most: i64) -> std::io::Result<()> {
        let Some((spill, _)) = &mut self.spill else {
            return Ok(());
        };
        let partition = &mut self.partitions[p];
        let buf = &mut self.buf;
        buf.clear();
        let before = partition.groups.len();
        // Taken before `retain`: the tombstones it may leave take room from `capacity`.
        let room = partition.groups.capacity();
        let outer = partition.outer;
        partition.groups.retain(|inner, sums| {
            if sums.organisations > most {
                return true;
            }
            let key = whole_key(outer, *inner);
            for k in key {
                buf.extend_from_slice(&k.to_le_bytes());
            }
            for v in sums.to_array() {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            false
        });
        let n = before - partition.groups.len();
        if n == 0 {
            return Ok(());
        }
        let run = spill.write_run(buf)?;
        partition.runs.push(run);
        // `retain` keeps the table's memory.
        partition.groups.shrink_to_fit();
        self.held = self.held - room + partition.groups.capacity();
        self.spilled += n as u64;
        Ok(())
    }

    /// The first failure to spill, if any (the groups then stayed in memory).
    pub fn take_spill_error(&mut self) -> Option<std::io::Error> {
        self.spill_error.take()
    }

    /// Groups written out to the spill so far, counted once per run they are in.
    pub fn spilled_groups(&self) -> u64 {
        self.spilled
    }

    /// Organisations added so far, per family (as written in the `family` column).
    pub fn organisations_by_family(&self) -> HashMap<String, u64> {
        self.by_family
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(id, n)| {
                let family = self.texts[0].value(id as u32).unwrap_or_default();
                (family.to_owned(), *n)
            })
            .collect()
    }

    /// A group's key, borrowing the interned texts.
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

    /// The rollup as one batch, sorted by its dimensions (without a spill).
    pub fn finish(self) -> RecordBatch {
        let mut batches = Vec::new();
        self.finish_into(usize::MAX, |b| {
            batches.push(b);
            Ok::<_, std::io::Error>(())
        })
        .expect("no spill to read back");
        match batches.pop() {
            Some(batch) => batch,
            None => RecordBatch::new_empty(rollup_schema()),
        }
    }

    /// The rollup, sorted by its dimensions, handed to `emit` in batches of up to
    /// `rows` rows. Partitions are taken one at a time in sort order: a partition's
    /// spilled runs are read back and summed into its table, its groups sorted and
    /// emitted, and the table freed.
    pub fn finish_into<E: From<std::io::Error>>(
        mut self,
        rows: usize,
        mut emit: impl FnMut(RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(e) = self.spill_error.take() {
            return Err(e.into());
        }
        let rows = rows.max(1);
        // Each interned text's rank among its dimension's texts (0 for null, first).
        let ranks = self.texts.each_ref().map(Interner::ranks);
        let mut order: Vec<([u32; 3], usize)> = self
            .partitions
            .iter()
            .enumerate()
            .map(|(p, partition)| (partition.outer, p))
            .collect();
        order.sort_unstable_by_key(|(k, _)| {
            (
                ranks[0][k[0] as usize],
                ranks[1][k[1] as usize],
                ranks[2][k[2] as usize],
            )
        });
        let mut pending: Vec<(IdKey, Sums)> = Vec::with_capacity(rows.min(1 << 16));
        let mut run = Vec::new();
        for (_, p) in order {
            let mut partition = std::mem::take(&mut self.partitions[p]);
            partition.drain_queue();
            if let Some((spill, _)) = &mut self.spill {
                for id in std::mem::take(&mut partition.runs) {
                    spill.read_run(id, &mut run)?;
                    for g in run.chunks_exact(GROUP_BYTES) {
                        let word = |i: usize| {
                            u32::from_le_bytes(g[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
                        };
                        let key: IdKey = std::array::from_fn(word);
                        let sums = Sums::from_array(std::array::from_fn(|i| {
                            let at = 24 + i * 8;
                            i64::from_le_bytes(g[at..at + 8].try_into().expect("8 bytes"))
                        }));
                        add_sums(partition.groups.entry(inner_key(&key)).or_default(), &sums);
                    }
                }
            }
            let outer = partition.outer;
            let mut groups: Vec<(IdKey, Sums)> = partition
                .groups
                .into_iter()
                .map(|(inner, sums)| (whole_key(outer, inner), sums))
                .collect();
            // Within a partition (one family, region, province): sector, year, status.
            groups.sort_unstable_by_key(|(id, _)| {
                (ranks[3][id[3] as usize], id[5], ranks[4][id[4] as usize])
            });
            for g in groups {
                pending.push(g);
                if pending.len() == rows {
                    emit(self.batch(&pending))?;
                    pending.clear();
                }
            }
        }
        if !pending.is_empty() {
            emit(self.batch(&pending))?;
        }
        Ok(())
    }

    /// Rollup rows for these groups, in this order.
    fn batch(&self, groups: &[(IdKey, Sums)]) -> RecordBatch {
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
            for (b, v) in measures.iter_mut().zip(sums.to_array()) {
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
