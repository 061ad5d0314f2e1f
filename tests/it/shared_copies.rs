//! The embedded copies of `../shared/` must not drift from it. The copies in the
//! repository are what builds use (the binary works alone); the test suite runs with
//! the shared folder beside the clone, as CI has it, and they must be the same bytes.

use std::path::PathBuf;

use ess_ingest::samples::{EXPECTED_AGGREGATES, SAMPLES};
use ess_schemas::reference::files;

fn shared() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    assert!(
        dir.is_dir(),
        "the tests need ../shared beside the repository (as CI has it): {} is not a folder",
        dir.display()
    );
    dir
}

#[test]
fn embedded_samples_and_reference_match_shared() {
    let shared = shared();
    for s in SAMPLES {
        let theirs = std::fs::read(shared.join("samples").join(s.name)).unwrap();
        assert!(
            theirs == s.bytes,
            "samples/{} differs from ../shared",
            s.name
        );
    }
    let expected =
        std::fs::read_to_string(shared.join("samples/expected_aggregates.json")).unwrap();
    assert_eq!(
        expected, EXPECTED_AGGREGATES,
        "expected_aggregates.json differs from ../shared"
    );
    for (name, ours) in [
        ("regions.csv", files::REGIONS),
        ("provinces.csv", files::PROVINCES),
        ("legacy_regions.csv", files::LEGACY_REGIONS),
        ("sectors.csv", files::SECTORS),
        ("sector_aliases.csv", files::SECTOR_ALIASES),
        ("place_aliases.csv", files::PLACE_ALIASES),
    ] {
        let theirs = std::fs::read_to_string(shared.join("reference").join(name)).unwrap();
        assert_eq!(theirs, ours, "reference/{name} differs from ../shared");
    }
}
