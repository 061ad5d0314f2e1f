//! The search index answers `organisations` exactly as DataFusion's scan does: same
//! organisations, same order, same pages, counts and `hasNextPage`, for searches,
//! filters and cursors over synthetic registries (accents, Arabic, unknown places).

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use ess_ingest::synth::{SynthOptions, synth};
use ess_ingest::{IngestJob, Progress};
use ess_query::{Filter, OrganisationPage, OrganisationsRequest, SnapshotEngine};
use ess_schemas::Family;
use ess_schemas::arrow_schema::{col, organisation_schema};
use ess_schemas::layout::Manifest;
use object_store::ObjectStore;
use object_store::memory::InMemory;

async fn synthetic_engine() -> SnapshotEngine {
    let (store, manifest) = synthetic_snapshot().await;
    SnapshotEngine::open(store, manifest).await.unwrap()
}

pub(crate) async fn synthetic_snapshot() -> (Arc<dyn ObjectStore>, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    let truth = synth(
        &SynthOptions {
            out: dir.path().to_owned(),
            cooperatives: 6_000,
            associations: 1_500,
            mutuals: 300,
            seed: 11,
            rows_per_workbook: 2_000,
        },
        &Progress::default(),
    )
    .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let out = IngestJob::builder()
        .store(store.clone())
        .sources(truth.sources())
        // Several parts and row groups, so rows are fetched across files.
        .layout(ess_ingest::ParquetLayout {
            rows_per_file: 1_000,
            row_group_rows: 1_000,
        })
        .build()
        .unwrap()
        .run()
        .await
        .unwrap();
    assert!(out.manifest.organisations_parquet.len() >= 3);
    (store, out.manifest)
}

fn ids(page: &OrganisationPage) -> Vec<String> {
    page.organisations()
        .unwrap()
        .into_iter()
        .map(|o| o.org_id)
        .collect()
}

async fn both(engine: &SnapshotEngine, request: &OrganisationsRequest) -> Vec<String> {
    let scanned = engine.organisations_scanning(request).await.unwrap();
    let indexed = engine.organisations(request).await.unwrap();
    assert_eq!(
        indexed.organisations().unwrap(),
        scanned.organisations().unwrap(),
        "{request:?}"
    );
    assert_eq!(indexed.has_next_page, scanned.has_next_page, "{request:?}");
    assert_eq!(indexed.total_count, scanned.total_count, "{request:?}");
    ids(&indexed)
}

#[tokio::test]
async fn the_index_answers_as_the_scan_does() {
    let engine = synthetic_engine().await;
    assert!(!engine.search_index_ready());
    engine.build_search_index().await.unwrap();
    assert!(engine.search_index_ready());

    let searches = [
        None,
        Some("tifaouine"),
        Some("TIFAOUINE 12"),
        Some("coopérative al amal"),
        Some("Cooperative  Al   Amal 7"),
        Some("mutuelle"),
        Some("association nour 2"),
        Some("جمعية 12"),
        Some("000123"),
        Some("12 tifaouine"),
        Some("e"),
        Some("nothing-like-this"),
        Some("   "),
        Some("%"),
        Some("_"),
    ];
    let filters = [
        Filter::default(),
        Filter {
            families: vec![Family::Association, Family::Mutual],
            ..Filter::default()
        },
        Filter {
            regions: vec!["MA-09".into(), "MA-01".into(), "MA-12".into()],
            ..Filter::default()
        },
        Filter {
            provinces: vec!["MA-TIZ".into(), "MA-AGD".into()],
            ..Filter::default()
        },
        Filter {
            sectors: vec!["ARGAN".into(), "AGRI".into()],
            founded_from: Some(2005),
            ..Filter::default()
        },
        Filter {
            founded_from: Some(1990),
            founded_to: Some(1999),
            ..Filter::default()
        },
    ];
    let mut nonempty = 0;
    let shapes = [(1, true), (20, false), (100, true)];
    for (i, search) in searches.into_iter().enumerate() {
        for (j, filter) in filters.iter().enumerate() {
            // Each search with every filter; page shapes in turn.
            {
                let (first, with_total) = shapes[(i + j) % shapes.len()];
                let request = OrganisationsRequest {
                    filter: filter.clone(),
                    search: search.map(str::to_owned),
                    after: None,
                    first,
                    with_total,
                };
                let page = both(&engine, &request).await;
                if !page.is_empty() {
                    nonempty += 1;
                }
                // The next page, from the cursor.
                if let Some(last) = page.last() {
                    both(
                        &engine,
                        &OrganisationsRequest {
                            after: Some(last.clone()),
                            ..request.clone()
                        },
                    )
                    .await;
                }
            }
        }
    }
    assert!(nonempty > 40, "the queries find organisations: {nonempty}");

    // Cursors that are not org_ids of the snapshot still order as text.
    for after in ["", "association:", "cooperative:COOP-000005", "zzz"] {
        both(
            &engine,
            &OrganisationsRequest {
                search: Some("nour".into()),
                after: Some(after.into()),
                first: 7,
                ..OrganisationsRequest::default()
            },
        )
        .await;
    }
}

#[tokio::test]
async fn paging_through_a_search_with_the_index_visits_every_match_once() {
    let engine = synthetic_engine().await;
    engine.build_search_index().await.unwrap();
    let request = OrganisationsRequest {
        search: Some("al baraka".into()),
        first: 97,
        with_total: true,
        ..OrganisationsRequest::default()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut after = None;
    let total = loop {
        let page = engine
            .organisations(&OrganisationsRequest {
                after: after.clone(),
                ..request.clone()
            })
            .await
            .unwrap();
        let page_ids = ids(&page);
        seen.extend(page_ids.iter().cloned());
        after = page_ids.last().cloned();
        if !page.has_next_page {
            break page.total_count.unwrap();
        }
    };
    assert!(seen.len() > 150, "{}", seen.len());
    assert_eq!(seen.len() as u64, total);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "org_id order, no repeat"
    );
}

/// Rewrites every organisations part of `manifest` in `store` through `change`, which
/// maps each batch to the new file's schema and columns.
async fn rewrite_parts(
    store: &Arc<dyn ObjectStore>,
    manifest: &Manifest,
    change: impl Fn(&RecordBatch) -> (SchemaRef, Vec<ArrayRef>),
) {
    use object_store::ObjectStoreExt;
    use object_store::path::Path;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    for part in &manifest.organisations_parquet {
        let path = Path::from(part.as_str());
        let bytes = store.get(&path).await.unwrap().bytes().await.unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader
            .map(|batch| {
                let (schema, columns) = change(&batch.unwrap());
                RecordBatch::try_new(schema, columns).unwrap()
            })
            .collect();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, batches[0].schema(), None).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
        store.put(&path, out.into()).await.unwrap();
    }
}

/// A snapshot whose files lack a column the index reads (`name_ar` here): building the
/// index fails with an error that names it, rather than hanging or guessing, and
/// searches go on answering by scanning (which reads the missing column as null).
#[tokio::test]
async fn an_index_build_over_files_without_a_column_it_reads_fails_and_names_it() {
    let (store, manifest) = synthetic_snapshot().await;
    rewrite_parts(&store, &manifest, |batch| {
        let keep: Vec<usize> = (0..batch.num_columns())
            .filter(|&i| batch.schema().field(i).name() != col::NAME_AR)
            .collect();
        let projected = batch.project(&keep).unwrap();
        (projected.schema(), projected.columns().to_vec())
    })
    .await;
    let engine = SnapshotEngine::open(store, manifest).await.unwrap();
    let error = engine.build_search_index().await.unwrap_err().to_string();
    assert!(error.contains(col::NAME_AR), "{error}");
    assert!(!engine.search_index_ready());
    let page = engine
        .organisations(&OrganisationsRequest {
            search: Some("tifaouine".into()),
            first: 5,
            ..OrganisationsRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page).len(), 5);
}

/// Snapshots published before `search_key` was dropped from the files hold it as a 23rd
/// column. Such a snapshot is read as the canonical 22 columns, and searched on the key
/// computed from the names, by the index and the scan alike: the stored column (here
/// made stale on purpose) is never read.
#[tokio::test]
async fn files_that_still_hold_a_search_key_column_are_read_without_it() {
    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};

    let (store, manifest) = synthetic_snapshot().await;
    let mut fields = organisation_schema().fields().to_vec();
    fields.push(Arc::new(Field::new(col::SEARCH_KEY, DataType::Utf8, false)));
    let old = Arc::new(Schema::new(fields));
    rewrite_parts(&store, &manifest, |batch| {
        let stale: ArrayRef = Arc::new(StringArray::from(vec!["stale"; batch.num_rows()]));
        let mut columns = batch.columns().to_vec();
        columns.push(stale);
        (old.clone(), columns)
    })
    .await;

    let engine = SnapshotEngine::open(store, manifest).await.unwrap();
    engine.build_search_index().await.unwrap();
    for search in ["tifaouine 12", "coop 0001", "جمعية", "stale"] {
        let request = OrganisationsRequest {
            search: Some(search.into()),
            first: 20,
            with_total: true,
            ..OrganisationsRequest::default()
        };
        let page = both(&engine, &request).await;
        assert_eq!(page.is_empty(), search == "stale", "{search}: {page:?}");
        let indexed = engine.organisations(&request).await.unwrap();
        for batch in &indexed.batches {
            assert_eq!(batch.schema(), organisation_schema(), "{search}");
        }
    }
}
