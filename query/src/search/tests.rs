//! The index against brute force, and a cancelled search.

use arrow::array::{Int32Array, StringArray};

use super::build::Staged;
use super::*;

/// An index over `n` made-up organisations, without Parquet parts (`find` only).
fn index(n: usize) -> (SearchIndex, Vec<(String, String, Dims)>) {
    let names = ["nour", "tifaouine", "al amal", "tiwizi", "e"];
    let regions = ["MA-01", "MA-09"];
    let mut rows = Vec::new();
    let (mut org_id, mut family, mut source_id, mut name, mut key) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut region, mut province, mut sector, mut year) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        // Ids out of order, so the index must sort them.
        let number = (i * 7_919) % n;
        let word = names[i % names.len()];
        org_id.push(format!("cooperative:COOP-{number:06}"));
        source_id.push(format!("COOP-{number:06}"));
        family.push("cooperative");
        // The index computes each key from the name and identifier.
        name.push(format!("Coopérative {} {}", word.to_uppercase(), i % 97));
        key.push(format!("cooperative {word} {} | coop {number:06}", i % 97));
        region.push((i % 5 != 0).then(|| regions[i % 2]));
        province.push(None::<&str>);
        sector.push(if i % 3 == 0 { "AGRI" } else { "ARGAN" });
        year.push((i % 4 != 0).then_some(1980 + (i % 40) as i32));
    }
    let batch = RecordBatch::try_from_iter([
        (c::ORG_ID, Arc::new(StringArray::from(org_id.clone())) as _),
        (c::FAMILY, Arc::new(StringArray::from(family)) as _),
        (c::SOURCE_ID, Arc::new(StringArray::from(source_id)) as _),
        (c::NAME, Arc::new(StringArray::from(name)) as _),
        (
            c::NAME_AR,
            Arc::new(StringArray::from(vec![None::<&str>; n])) as _,
        ),
        (c::REGION_CODE, Arc::new(StringArray::from(region)) as _),
        (c::PROVINCE_CODE, Arc::new(StringArray::from(province)) as _),
        (c::SECTOR_CODE, Arc::new(StringArray::from(sector)) as _),
        (c::FOUNDED_YEAR, Arc::new(Int32Array::from(year)) as _),
    ])
    .unwrap();
    let mut staged = Staged::default();
    staged.add(&batch).unwrap();
    for (i, k) in key.iter().enumerate() {
        let at = staged.key_ends[i] as usize - k.len() - 1;
        assert_eq!(&staged.keys[at..at + k.len()], k.as_bytes(), "key {i}");
    }
    for i in 0..n {
        rows.push((org_id[i].clone(), key[i].clone(), staged.dims[i]));
    }
    (staged.finish(Vec::new()).unwrap(), rows)
}

/// The meaning of a search, by brute force.
fn naive(
    index: &SearchIndex,
    rows: &[(String, String, Dims)],
    words: &[String],
    filter: &Filter,
    after: Option<&str>,
    first: usize,
) -> (Vec<String>, bool, u64) {
    let compiled = index.compile(filter);
    let mut matching: Vec<&(String, String, Dims)> = rows
        .iter()
        .filter(|(_, k, d)| compiled.matches(d) && words.iter().all(|w| k.contains(w.as_str())))
        .collect();
    matching.sort_by(|a, b| a.0.cmp(&b.0));
    let total = matching.len() as u64;
    let after: Vec<String> = matching
        .iter()
        .filter(|r| after.is_none_or(|a| r.0.as_str() > a))
        .map(|r| r.0.clone())
        .collect();
    let more = after.len() > first;
    (after.into_iter().take(first).collect(), more, total)
}

#[test]
fn slices_and_brute_force_agree() {
    let (index, rows) = index(12_000);
    let org_ids = |hits: &Hits| -> Vec<String> {
        hits.ranks
            .iter()
            .map(|&r| String::from_utf8(index.org_id(r).to_vec()).unwrap())
            .collect()
    };
    let filters = [
        Filter::default(),
        Filter {
            regions: vec!["MA-09".into()],
            founded_from: Some(1990),
            ..Filter::default()
        },
        Filter {
            sectors: vec!["AGRI".into()],
            families: vec![Family::Cooperative],
            founded_to: Some(2000),
            ..Filter::default()
        },
        Filter {
            families: vec![Family::Mutual],
            ..Filter::default()
        },
    ];
    let searches: [&[&str]; 7] = [
        &[],
        &["nour"],
        &["nour", "12"],
        &["12", "nour"],
        &["e"],
        &["0049"],
        &["absent"],
    ];
    let mut checked = 0;
    for words in searches {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        for filter in &filters {
            for after in [None, Some("cooperative:001234"), Some("zzz")] {
                for (first, with_total) in [(1, false), (20, true), (20, false), (500, false)] {
                    let expected = naive(&index, &rows, &words, filter, after, first);
                    for threads in [1, 2, 3, 7] {
                        let request = OrganisationsRequest {
                            filter: filter.clone(),
                            search: None,
                            after: after.map(str::to_owned),
                            first,
                            with_total,
                        };
                        let hits =
                            index.find_on(threads, &words, &request, &AtomicBool::new(false));
                        let what = format!("{words:?} {filter:?} {after:?} {first} {threads}");
                        assert_eq!(org_ids(&hits), expected.0, "{what}");
                        assert_eq!(hits.has_next_page, expected.1, "{what}");
                        if with_total {
                            assert_eq!(hits.total, Some(expected.2), "{what}");
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 7 * 4 * 3 * 4 * 4);
}

#[test]
fn a_cancelled_search_stops_without_scanning() {
    let (index, _) = index(12_000);
    let request = OrganisationsRequest {
        filter: Filter::default(),
        search: None,
        after: None,
        first: 1000,
        with_total: true,
    };
    for words in [vec![], vec!["e".to_owned()], vec!["nour".to_owned()]] {
        for threads in [1, 3] {
            let live = index.find_on(threads, &words, &request, &AtomicBool::new(false));
            assert!(live.total.unwrap() > 100, "{words:?}");
            let cancelled = index.find_on(threads, &words, &request, &AtomicBool::new(true));
            assert_eq!(cancelled.total, Some(0), "{words:?} {threads}");
            assert!(cancelled.ranks.is_empty());
        }
    }
}
