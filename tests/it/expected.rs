//! `expected_aggregates.json`, read as the acceptance tests need it.

use std::collections::BTreeMap;

use ess_ingest::samples::EXPECTED_AGGREGATES;
use serde_json::Value;

/// The measures of one expected group, as the GraphQL API names them.
pub const MEASURES: [&str; 8] = [
    "organisations",
    "members",
    "membersWomen",
    "employees",
    "employeesWomen",
    "employeesMen",
    "genderCoverage",
    "womenEmploymentShare",
];

/// A grouping of the expected file and how to ask for it.
pub struct Grouping {
    /// Key in the JSON file.
    pub key: &'static str,
    /// GraphQL dimensions, in key order.
    pub dimensions: &'static [&'static str],
    /// GraphQL filter, if any.
    pub filter: Option<&'static str>,
}

/// Every grouping of `expected_aggregates.json`.
pub const GROUPINGS: [Grouping; 6] = [
    Grouping {
        key: "region_family",
        dimensions: &["REGION", "FAMILY"],
        filter: None,
    },
    Grouping {
        key: "sector_family",
        dimensions: &["SECTOR", "FAMILY"],
        filter: None,
    },
    Grouping {
        key: "province",
        dimensions: &["PROVINCE"],
        filter: None,
    },
    Grouping {
        key: "family",
        dimensions: &["FAMILY"],
        filter: None,
    },
    Grouping {
        key: "year_family",
        dimensions: &["FOUNDED_YEAR", "FAMILY"],
        filter: None,
    },
    Grouping {
        key: "coop_fes_meknes_by_sector",
        dimensions: &["SECTOR"],
        filter: Some(r#"{family: [COOPERATIVE], region: ["MA-03"]}"#),
    },
];

/// The whole file.
pub fn expected() -> Value {
    serde_json::from_str(EXPECTED_AGGREGATES).expect("expected_aggregates.json parses")
}

/// Organisations published from every sample (`total`).
pub fn total() -> u64 {
    expected()["total"].as_u64().expect("total is a count")
}

/// One grouping's expected groups: key (`A|B`, `None` for unknown) → measures.
pub fn groups(key: &str) -> BTreeMap<String, Value> {
    expected()[key]
        .as_object()
        .unwrap_or_else(|| panic!("{key} missing"))
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Compares measure maps exactly (floats included: both sides divide the same
/// integers in IEEE double).
pub fn assert_same_measures(context: &str, want: &Value, got: &Value) {
    for m in MEASURES {
        assert_eq!(got[m], want[m], "{context}: {m} (want {want}, got {got})");
    }
}
