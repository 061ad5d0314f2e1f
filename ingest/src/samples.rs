//! The sample registries of `shared/samples/`, embedded: what `ess demo` publishes and
//! what the acceptance test checks against `expected_aggregates.json`.

use ess_schemas::Family;

use crate::source::SourceFile;

/// An embedded sample registry file.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Its registry.
    pub family: Family,
    /// File name.
    pub name: &'static str,
    /// Content.
    pub bytes: &'static [u8],
}

/// The sample files, in the order they must be ingested (`spec/README.md`).
pub const SAMPLES: [Sample; 6] = [
    Sample {
        family: Family::Cooperative,
        name: "cooperatives_2019_legacy.csv",
        bytes: include_bytes!("../samples/cooperatives_2019_legacy.csv"),
    },
    Sample {
        family: Family::Cooperative,
        name: "cooperatives_2024.csv",
        bytes: include_bytes!("../samples/cooperatives_2024.csv"),
    },
    Sample {
        family: Family::Cooperative,
        name: "cooperatives_2025_q1.csv",
        bytes: include_bytes!("../samples/cooperatives_2025_q1.csv"),
    },
    Sample {
        family: Family::Association,
        name: "associations_2025.xlsx",
        bytes: include_bytes!("../samples/associations_2025.xlsx"),
    },
    Sample {
        family: Family::Mutual,
        name: "mutuals_acaps.json",
        bytes: include_bytes!("../samples/mutuals_acaps.json"),
    },
    Sample {
        family: Family::Mutual,
        name: "mutuals_sante.ndjson",
        bytes: include_bytes!("../samples/mutuals_sante.ndjson"),
    },
];

/// `expected_aggregates.json`: the aggregates a correct ingest of [`SAMPLES`] gives.
pub const EXPECTED_AGGREGATES: &str = include_str!("../samples/expected_aggregates.json");

/// The samples as ingest sources, in order.
pub fn sample_sources() -> Vec<SourceFile> {
    SAMPLES
        .iter()
        .map(|s| SourceFile::bytes(s.family, s.name, s.bytes))
        .collect()
}

/// Publishes the first sample file into `store` (test setup).
#[cfg(test)]
pub(crate) async fn publish_first_sample(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
) -> crate::IngestOutcome {
    crate::IngestJob::builder()
        .store(store.clone())
        .sources(sample_sources().into_iter().take(1))
        .build()
        .expect("a source")
        .run()
        .await
        .expect("the first sample publishes")
}
