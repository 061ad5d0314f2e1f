//! Tests of the staging: passes, parts, quarantine, parallel reading.

use super::*;
use crate::readers::testing::Collect;
use crate::readers::text::TextEncoding;
use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A cooperative CSV `c.csv` in memory.
fn csv_source(bytes: impl Into<Vec<u8>>) -> LocalSource {
    LocalSource {
        family: Family::Cooperative,
        name: "c.csv".into(),
        data: LocalData::Bytes(bytes::Bytes::from(bytes.into())),
    }
}

/// Stages one cooperative CSV `c.csv` with the default layout.
fn stage_csv(bytes: Vec<u8>, dir: &Path) -> Staged {
    stage(
        &[csv_source(bytes)],
        dir,
        ParquetLayout::default(),
        &Progress::default(),
        &mut |_, _| Ok(()),
    )
    .unwrap()
}

/// A CSV over several chunks: ids repeat far apart (last wins across chunks), and
/// some rows are rejected.
fn messy_csv(rows: usize) -> String {
    let mut csv = String::from("N° immatriculation;Raison sociale;Région;Adhérents\n");
    for i in 0..rows {
        match i % 997 {
            13 => csv.push_str(&format!(";Sans numéro {i};Souss-Massa;3\n")),
            14 => csv.push('\n'),
            _ => csv.push_str(&format!(
                "C-{};Coop {i};Souss-Massa;{}\n",
                i % 15_000,
                i % 40
            )),
        }
    }
    csv
}

#[test]
fn identifiers_handed_to_another_thread_are_taken_as_inline() {
    // Over several batches, with rejected rows, empty and long identifiers.
    let ids: Vec<Option<String>> = (0..ID_BATCH * 2 + 321)
        .map(|i| match i % 101 {
            7 => None,
            8 => Some(String::new()),
            9 => Some("x".repeat(5_000)),
            _ => Some(format!("C-{}", i % 20_000)),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (mut inline, mut beside) = (
        Dedup::new(&dir.path().join("a")).unwrap(),
        Dedup::new(&dir.path().join("b")).unwrap(),
    );
    let mut sink = IdSink::new(Family::Cooperative, 5, &mut inline);
    ids.iter().for_each(|id| sink.take(id.as_deref()));
    let expected = sink.finish().unwrap();
    let (read, sink) = take_ids_beside(IdSink::new(Family::Cooperative, 5, &mut beside), |take| {
        ids.iter().for_each(|id| take(id.as_deref()));
        Ok(())
    })
    .unwrap();
    read.unwrap();
    assert_eq!(sink.finish().unwrap(), expected);
    assert_eq!(expected.0, ids.len() as u64);
    let (a, b) = (inline.resolve().unwrap(), beside.resolve().unwrap());
    assert_eq!(a.rows().collect::<Vec<_>>(), b.rows().collect::<Vec<_>>());
    assert!(a.count() > 0);

    // A scan's error comes back with the rows taken before it.
    let mut third = Dedup::new(&dir.path().join("c")).unwrap();
    let (read, sink) = take_ids_beside(IdSink::new(Family::Cooperative, 0, &mut third), |take| {
        take(Some("A"));
        Err(IngestError::Task("stopped".into()))
    })
    .unwrap();
    assert!(read.unwrap_err().to_string().contains("stopped"));
    assert_eq!(sink.finish().unwrap().0, 1);
}

#[test]
fn a_file_that_changes_between_the_passes_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let before = csv_source("N° immatriculation;Raison sociale\n1;A\n2;B\n1;C\n");
    let mut dedup = Dedup::new(&dir.path().join("dedup")).unwrap();
    let progress = Progress::default();
    let survey = survey(&before, 0, &mut dedup, &progress).unwrap();
    assert_eq!((survey.rows, survey.first_row), (3, 0));
    let superseded = dedup.resolve().unwrap();
    // Same row count, one identifier edited; then a row more.
    for after in [
        "N° immatriculation;Raison sociale\n1;A\n3;B\n1;C\n",
        "N° immatriculation;Raison sociale\n1;A\n2;B\n1;C\n4;D\n",
    ] {
        let err = write_rows(
            &[csv_source(after)],
            vec![survey.clone()],
            &superseded,
            dir.path(),
            ParquetLayout::default(),
            &progress,
            &mut |_, _| Ok(()),
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::Changed { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("c.csv changed while it was being read")
        );
    }
    // Unchanged, it goes through.
    let staged = write_rows(
        &[before],
        vec![survey],
        &superseded,
        dir.path(),
        ParquetLayout::default(),
        &progress,
        &mut |_, _| Ok(()),
    )
    .unwrap();
    assert_eq!((staged.organisations, staged.files[0].superseded), (2, 1));
}

#[test]
fn a_windows_1252_file_is_read_again_for_its_identities() {
    // Read as UTF-8 first, `\xe9` is not `é`: the identifiers filed then must be
    // forgotten, or `\xe91` would count twice and `é1` never supersede.
    let mut bytes = b"Immatriculation;Raison sociale\n".to_vec();
    bytes.extend_from_slice(b"\xe91;Coop\xe9rative\n2;B\n\xe91;C\n2;D\n3;E\n");
    let dir = tempfile::tempdir().unwrap();
    let staged = stage_csv(bytes, dir.path());
    let f = &staged.files[0];
    assert_eq!(f.encoding.as_deref(), Some("windows-1252"));
    assert_eq!((f.accepted, f.superseded, staged.organisations), (5, 2, 3));
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        File::open(&staged.organisation_parts[0]).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut ids = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let col = b.column_by_name("source_id").unwrap().as_string::<i32>();
        ids.extend(col.iter().map(|v| v.unwrap().to_owned()));
    }
    assert_eq!(ids, ["é1", "2", "3"]);
}

#[test]
fn each_part_is_announced_complete_in_order_and_a_refusal_stops_the_ingest() {
    let csv = messy_csv(30_000);
    let source = || csv_source(csv.clone());
    let layout = ParquetLayout {
        rows_per_file: 4_000,
        row_group_rows: 1_000,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut announced = Vec::new();
    let staged = stage(
        &[source()],
        dir.path(),
        layout,
        &Progress::default(),
        &mut |n, path| {
            // Complete when announced: it opens, and holds its rows.
            let rows = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
                .unwrap()
                .metadata()
                .file_metadata()
                .num_rows();
            announced.push((n, path.to_owned(), rows));
            Ok(())
        },
    )
    .unwrap();
    assert!(staged.organisation_parts.len() >= 2, "15,000 organisations");
    let expected: Vec<_> = staged
        .organisation_parts
        .iter()
        .enumerate()
        .map(|(n, p)| (n, p.clone()))
        .collect();
    let got: Vec<_> = announced.iter().map(|(n, p, _)| (*n, p.clone())).collect();
    assert_eq!(got, expected);
    let rows: i64 = announced.iter().map(|(_, _, r)| r).sum();
    assert_eq!(rows as u64, staged.organisations);

    let dir = tempfile::tempdir().unwrap();
    let err = stage(
        &[source()],
        dir.path(),
        layout,
        &Progress::default(),
        &mut |_, _| Err(IngestError::Task("upload refused".into())),
    )
    .unwrap_err();
    assert!(err.to_string().contains("upload refused"), "{err}");
}

#[test]
fn parallel_csv_reading_gives_what_one_thread_gives() {
    let csv = messy_csv(40_000);
    // One thread, row by row.
    let mut one = Collect::new(Family::Cooperative);
    csv::read_csv(
        std::io::Cursor::new(csv.clone().into_bytes()),
        TextEncoding::Utf8,
        "c.csv",
        &mut one,
    )
    .unwrap();
    let mut last: HashMap<String, (i64, i64)> = HashMap::new();
    for o in &one.accepted {
        last.insert(o.org_id.clone(), (o.source_row, o.members_total.unwrap()));
    }

    let dir = tempfile::tempdir().unwrap();
    let staged = stage_csv(csv.into_bytes(), dir.path());
    let f = &staged.files[0];
    assert!(one.rejected.len() > 10 && f.superseded > 10_000);
    assert_eq!(f.accepted, one.accepted.len() as u64);
    assert_eq!(f.rejected, one.rejected.len() as u64);
    assert_eq!(f.superseded, f.accepted - last.len() as u64);
    assert_eq!(staged.quarantine_rows, one.rejected.len() as u64);

    let mut got: Vec<(String, i64, i64)> = Vec::new();
    for part in &staged.organisation_parts {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(part).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            let b = b.unwrap();
            let ids = b.column_by_name("org_id").unwrap().as_string::<i32>();
            let source_ids = b.column_by_name("source_id").unwrap().as_string::<i32>();
            let rows = b.column_by_name("source_row").unwrap();
            let members = b.column_by_name("members_total").unwrap();
            let (rows, members) = (
                rows.as_primitive::<Int64Type>(),
                members.as_primitive::<Int64Type>(),
            );
            for i in 0..b.num_rows() {
                // Both identifier columns are delta-encoded: each reads back whole.
                assert_eq!(
                    ids.value(i).strip_prefix("cooperative:"),
                    Some(source_ids.value(i))
                );
                got.push((ids.value(i).to_owned(), rows.value(i), members.value(i)));
            }
        }
    }
    assert_eq!(got.len(), last.len());
    // In file order, each id once, from its last row.
    assert!(got.windows(2).all(|w| w[0].1 < w[1].1));
    for (id, row, members) in &got {
        assert_eq!(last[id], (*row, *members), "{id}");
    }
}

#[test]
fn dictionaries_and_statistics_are_kept_where_they_pay() {
    use ess_schemas::arrow_schema::col;
    use parquet::schema::types::ColumnPath;
    let props = writer_properties(&ParquetLayout::default());
    let dictionary = |c: &str| props.dictionary_enabled(&ColumnPath::from(c));
    let statistics = |c: &str| props.statistics_enabled(&ColumnPath::from(c));
    // Dimensions and counts repeat: a dictionary, and page statistics to prune on.
    for c in [
        col::REGION_CODE,
        col::SECTOR_CODE,
        col::FOUNDED_YEAR,
        col::MEMBERS_TOTAL,
    ] {
        assert!(dictionary(c), "{c}");
        assert_eq!(statistics(c), EnabledStatistics::Page, "{c}");
    }
    // Founding dates are nearly unique per row group: no dictionary, page statistics.
    assert!(!dictionary(col::FOUNDED_ON));
    assert_eq!(statistics(col::FOUNDED_ON), EnabledStatistics::Page);
    // Identifiers and names: no dictionary; chunk statistics, none for names.
    for c in [col::ORG_ID, col::SOURCE_ID, col::SOURCE_ROW] {
        assert!(!dictionary(c), "{c}");
        assert_eq!(statistics(c), EnabledStatistics::Chunk, "{c}");
    }
    for c in [col::NAME, col::NAME_AR] {
        assert!(!dictionary(c), "{c}");
        assert_eq!(statistics(c), EnabledStatistics::None, "{c}");
    }
}

#[test]
fn identifiers_are_delta_encoded_and_small_codes_left_uncompressed() {
    use ess_schemas::arrow_schema::col;
    use parquet::basic::{Compression, Encoding};
    let dir = tempfile::tempdir().unwrap();
    let staged = stage_csv(messy_csv(40_000).into_bytes(), dir.path());
    let file = File::open(&staged.organisation_parts[0]).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let meta = builder.metadata().clone();
    let schema = meta.file_metadata().schema_descr_ptr();
    let chunk = |name: &str| {
        let i = (0..schema.num_columns())
            .find(|&i| schema.column(i).path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        meta.row_group(0).column(i).clone()
    };
    for c in [col::ORG_ID, col::SOURCE_ID] {
        let chunk = chunk(c);
        assert!(
            chunk.encodings().any(|e| e == Encoding::DELTA_BYTE_ARRAY),
            "{c}"
        );
        assert!(matches!(chunk.compression(), Compression::ZSTD(_)), "{c}");
    }
    assert!(
        chunk(col::SOURCE_ROW)
            .encodings()
            .any(|e| e == Encoding::DELTA_BINARY_PACKED)
    );
    for c in [
        col::FAMILY,
        col::REGION_CODE,
        col::STATUS,
        col::FOUNDED_YEAR,
    ] {
        let chunk = chunk(c);
        assert_eq!(chunk.compression(), Compression::UNCOMPRESSED, "{c}");
        assert!(
            chunk.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
            "{c}"
        );
    }
    assert!(matches!(
        chunk(col::MEMBERS_TOTAL).compression(),
        Compression::ZSTD(_)
    ));
    // That these columns read back whole (each id from its last row, in order) is
    // checked on the same file by `parallel_csv_reading_gives_what_one_thread_gives`.
}

#[test]
fn rejected_rows_with_long_raw_values_are_written_in_row_groups_of_a_bounded_size() {
    // 3,000 nameless rows with 1 KB of raw values each: 3 MB of quarantine, which
    // must come out whole, in order, in several row groups none much over 256 KiB.
    let mut csv = String::from("N° immatriculation;Raison sociale;Secteur\n");
    let long = "x".repeat(1000);
    for i in 0..3_000 {
        csv.push_str(&format!("R-{i};;{long}\n"));
        csv.push_str(&format!("A-{i};Coop {i};Artisanat\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let staged = stage_csv(csv.into_bytes(), dir.path());
    assert_eq!(staged.files[0].rejected, 3_000);
    assert_eq!(staged.quarantine_rows, 3_000);

    let builder =
        ParquetRecordBatchReaderBuilder::try_new(File::open(&staged.quarantine).unwrap()).unwrap();
    let meta = builder.metadata().clone();
    assert!(
        meta.num_row_groups() >= 11,
        "{} row groups",
        meta.num_row_groups()
    );
    for g in meta.row_groups() {
        // Rows of ~1 KB of raw value each: no group holds much more than 256 KiB.
        assert!(g.num_rows() <= 280, "{} rows in a group", g.num_rows());
    }
    let mut rows = Vec::new();
    for b in builder.build().unwrap() {
        let b = b.unwrap();
        let r = b
            .column_by_name("source_row")
            .unwrap()
            .as_primitive::<Int64Type>();
        let raw = b.column_by_name("raw").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            assert!(raw.value(i).contains(&long));
            rows.push(r.value(i));
        }
    }
    assert_eq!(rows, (0..3_000).map(|i| 2 + 2 * i).collect::<Vec<i64>>());
}
