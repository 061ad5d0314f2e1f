//! The rollup against sums computed row by row, spilled or not.

use super::*;
use ess_schemas::arrow_schema::OrganisationBatchBuilder;
use ess_schemas::{Family, Flags, Organisation, Status};

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
    assert_eq!(
        r.organisations_by_family(),
        HashMap::from([("cooperative".to_owned(), 3)])
    );
    let batch = r.finish();
    assert_eq!(batch.num_rows(), 2);
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
    let batch = r.finish();
    assert_eq!(batch.num_rows(), expected.len());
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

/// Organisations over many groups: regions, provinces, sectors, years, statuses and
/// two families, some unknown.
fn varied_batches() -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    let mut b = OrganisationBatchBuilder::default();
    for i in 0..20_000i64 {
        let region = ["MA-09", "MA-01", "MA-10", "MA-1"][i as usize % 4];
        let mut o = org(
            &i.to_string(),
            (i % 5 != 0).then_some(region),
            Some(i % 3),
            None,
        );
        o.province_code = (i % 3 != 0).then(|| format!("P{}", i % 2));
        o.founded_year = (i % 7 != 0).then_some(1990 + (i % 53) as i32 - 6);
        o.sector_code = ["ARGAN", "AGRI", "B"][i as usize % 3].into();
        o.status = [Status::Active, Status::Dissolved][i as usize % 2];
        if i % 9 == 0 {
            o.family = Family::Association;
        }
        o.members_total = Some(i);
        b.push(&o);
        if b.len() == 701 {
            batches.push(b.finish());
        }
    }
    batches.push(b.finish());
    batches
}

fn varied_rollup() -> RollupBuilder {
    let mut r = RollupBuilder::default();
    for b in varied_batches() {
        r.add(&b);
    }
    r
}

#[test]
fn rows_keyed_by_several_keyers_sum_as_batches_do() {
    let mut expected = RollupBuilder::default();
    let mut keyed = RollupBuilder::default();
    let mut keyers = [RollupKeyer::default(), RollupKeyer::default()];
    let mut b = OrganisationBatchBuilder::default();
    for i in 0..3_000i64 {
        let region = ["MA-09", "MA-01", "MA-10"][i as usize % 3];
        let mut o = org(
            &i.to_string(),
            (i % 5 != 0).then_some(region),
            Some(i % 4),
            None,
        );
        o.province_code = (i % 4 == 0).then(|| format!("P{}", i % 7));
        o.sector_code = ["ARGAN", "AGRI", "B", "C"][i as usize % 4].into();
        o.founded_year = (i % 6 != 0).then_some(1950 + (i % 61) as i32);
        o.employees_men = (i % 3 == 0).then_some(i % 5);
        o.members_women = Some(i % 8);
        if i % 10 == 0 {
            o.family = Family::Mutual;
        }
        b.push(&o);
        // Each keyer sees different texts first; rows are handed on at odd times.
        let k = &mut keyers[(i / 7 % 2) as usize];
        k.push(&o.borrowed());
        if i % 97 == 0 {
            keyed.add_rows(k.take());
        }
    }
    expected.add(&b.finish());
    for k in &mut keyers {
        keyed.add_rows(k.take());
    }
    assert_eq!(
        keyed.organisations_by_family(),
        expected.organisations_by_family()
    );
    assert_eq!(keyed.finish(), expected.finish());
}

/// A spill in memory that counts its runs.
#[derive(Default)]
struct MemorySpill(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl RollupSpill for MemorySpill {
    fn write_run(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
        let mut runs = self.0.lock().unwrap();
        runs.push(bytes.to_vec());
        Ok(runs.len() as u64 - 1)
    }
    fn read_run(&mut self, run: u64, out: &mut Vec<u8>) -> std::io::Result<()> {
        out.clear();
        out.extend_from_slice(&self.0.lock().unwrap()[run as usize]);
        Ok(())
    }
}

#[test]
fn a_rollup_over_its_budget_spills_and_finishes_as_one_that_held_everything() {
    let whole = varied_rollup().finish();
    assert!(whole.num_rows() > 1_000, "{}", whole.num_rows());
    for budget in [1, 50, 400] {
        let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut r = RollupBuilder::with_spill(Box::new(MemorySpill(runs.clone())), budget);
        for b in varied_batches() {
            r.add(&b);
            // The tables' room, not only their groups, stays within the budget.
            assert!(r.held <= budget, "budget {budget}: {}", r.held);
            let room: usize = r.partitions.iter().map(|p| p.groups.capacity()).sum();
            assert_eq!(r.held, room, "budget {budget}");
        }
        assert!(r.spilled_groups() > 0, "budget {budget}");
        assert_eq!(
            r.organisations_by_family(),
            HashMap::from([
                ("cooperative".to_owned(), 17_777),
                ("association".to_owned(), 2_223)
            ])
        );
        let mut slices = Vec::new();
        r.finish_into(97, |b| {
            slices.push(b);
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
        assert!(runs.lock().unwrap().len() > 1);
        assert!(slices.iter().all(|b| b.num_rows() <= 97));
        let joined = arrow::compute::concat_batches(&rollup_schema(), &slices).unwrap();
        assert_eq!(joined, whole, "budget {budget}");
    }
}

/// A spill whose writes fail.
struct RefusingSpill;

impl RollupSpill for RefusingSpill {
    fn write_run(&mut self, _bytes: &[u8]) -> std::io::Result<u64> {
        Err(std::io::Error::other("disk full"))
    }
    fn read_run(&mut self, _run: u64, _out: &mut Vec<u8>) -> std::io::Result<()> {
        unreachable!("nothing was written")
    }
}

#[test]
fn a_failed_spill_is_reported_when_finishing() {
    let mut r = RollupBuilder::with_spill(Box::new(RefusingSpill), 10);
    for b in varied_batches() {
        r.add(&b);
    }
    let err = r
        .finish_into(100, |_| Ok::<_, std::io::Error>(()))
        .unwrap_err();
    assert_eq!(err.to_string(), "disk full");
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
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
    assert!(slices.iter().all(|b| b.num_rows() <= 7));
    let joined = arrow::compute::concat_batches(&rollup_schema(), &slices).unwrap();
    assert_eq!(joined, whole);
}
