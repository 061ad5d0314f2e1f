//! The synthetic generator against its own ground truth: an ingest of what it writes
//! must give exactly the organisations, rejections, duplicates and members it recorded
//! — at a size and with a mix the samples do not have.

use std::sync::Arc;

use ess_ingest::Progress;
use ess_ingest::synth::{SynthOptions, synth};
use ess_query::{AggregateRequest, Dimension, SnapshotEngine};
use object_store::ObjectStore;
use object_store::memory::InMemory;

use crate::support::publish;

fn options(out: std::path::PathBuf) -> SynthOptions {
    SynthOptions {
        out,
        cooperatives: 40_000, // several parsing chunks, normalised in parallel
        associations: 2_500,
        mutuals: 400,
        seed: 7,
        rows_per_workbook: 1_000,
    }
}

#[tokio::test]
async fn an_ingest_of_synthetic_registries_matches_their_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let truth = synth(&options(dir.path().to_owned()), &Progress::default()).unwrap();
    assert_eq!(
        truth.files.len(),
        1 + 3 + 1,
        "2,500 associations at 1,000 a workbook"
    );

    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let out = publish(&store, truth.sources()).await;
    assert!(out.report.reconciles());
    for (family, t) in &truth.families {
        let got = &out.report.families[family];
        assert_eq!(got.rows_read, t.rows, "{family} rows");
        assert_eq!(got.rejected, t.rejected, "{family} rejected");
        assert_eq!(got.superseded, t.superseded, "{family} superseded");
        assert_eq!(got.organisations, t.organisations, "{family} organisations");
    }
    assert!(
        truth.families["cooperative"].superseded > 0 && truth.families["cooperative"].rejected > 0
    );

    let engine = SnapshotEngine::open(store, out.manifest).await.unwrap();
    let by_family = engine
        .aggregate(&AggregateRequest {
            group_by: vec![Dimension::Family],
            ..AggregateRequest::default()
        })
        .await
        .unwrap();
    for g in by_family.groups().unwrap() {
        let family = g.key.family.unwrap().as_str();
        assert_eq!(
            g.sums.members, truth.families[family].members,
            "{family} members"
        );
    }
    // Messy place texts still resolve for most rows.
    let regions = engine
        .aggregate(&AggregateRequest {
            group_by: vec![Dimension::Region],
            ..AggregateRequest::default()
        })
        .await
        .unwrap();
    let groups = regions.groups().unwrap();
    assert_eq!(groups.len(), 13, "12 regions and the unknown");
    let unknown = groups
        .iter()
        .find(|g| g.key.region.is_none())
        .unwrap()
        .sums
        .organisations;
    assert!(
        unknown * 10 < regions.total().unwrap().organisations,
        "{unknown} unresolved"
    );
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let small = |dir: &std::path::Path| SynthOptions {
        cooperatives: 500,
        associations: 300,
        mutuals: 50,
        ..options(dir.to_owned())
    };
    let ta = synth(&small(a.path()), &Progress::default()).unwrap();
    synth(&small(b.path()), &Progress::default()).unwrap();
    for (_, path) in &ta.files {
        let name = path.file_name().unwrap();
        assert!(
            std::fs::read(path).unwrap() == std::fs::read(b.path().join(name)).unwrap(),
            "{name:?} differs between two runs with one seed"
        );
    }
    let other = tempfile::tempdir().unwrap();
    synth(
        &SynthOptions {
            seed: 8,
            ..small(other.path())
        },
        &Progress::default(),
    )
    .unwrap();
    assert_ne!(
        std::fs::read(a.path().join("cooperatives.csv")).unwrap(),
        std::fs::read(other.path().join("cooperatives.csv")).unwrap()
    );
}

/// The registry's national picture at the end of November 2025: cooperatives,
/// members, women members.
const NATIONAL: [(&str, f64); 3] = [
    ("organisations", 65_315.0),
    ("members", 788_969.0),
    ("membersWomen", 272_583.0),
];

#[tokio::test]
async fn national_scale_synthetic_cooperatives_look_like_moroccos() {
    let dir = tempfile::tempdir().unwrap();
    let truth = synth(
        &SynthOptions {
            cooperatives: 65_315,
            associations: 0,
            mutuals: 0,
            seed: 1,
            ..options(dir.path().to_owned())
        },
        &Progress::default(),
    )
    .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let out = publish(&store, truth.sources()).await;
    let engine = SnapshotEngine::open(store, out.manifest).await.unwrap();
    let by_region = engine
        .aggregate(&AggregateRequest {
            group_by: vec![Dimension::Region],
            filter: Default::default(),
        })
        .await
        .unwrap();
    let total = by_region.total().unwrap();
    for (measure, want) in NATIONAL {
        let got = match measure {
            "organisations" => total.organisations,
            "members" => total.members,
            _ => total.members_women,
        } as f64;
        assert!(
            (got - want).abs() / want <= 0.05,
            "{measure}: {got} is not within 5% of {want}"
        );
    }
    // Not every cooperative reports its employees by sex.
    let coverage = total.gender_coverage().unwrap();
    assert!(
        (0.5..0.85).contains(&coverage),
        "gender coverage {coverage}"
    );
    // Souss-Massa and Marrakech-Safi hold most cooperatives of women: their share of
    // women members is above the country's.
    let share = |s: &ess_schemas::measures::Sums| s.members_women as f64 / s.members as f64;
    for region in ["MA-09", "MA-07"] {
        let g = by_region
            .group_list()
            .iter()
            .find(|g| g.key.region.as_deref() == Some(region))
            .unwrap();
        assert!(share(&g.sums) > share(&total) + 0.05, "{region}");
    }
    // Regions weighted by population: Casablanca-Settat, the most populous, has more
    // cooperatives than Dakhla-Oued Ed-Dahab, the least.
    let orgs = |code: &str| {
        by_region
            .group_list()
            .iter()
            .find(|g| g.key.region.as_deref() == Some(code))
            .map_or(0, |g| g.sums.organisations)
    };
    assert!(orgs("MA-06") > 10 * orgs("MA-12"));
}
