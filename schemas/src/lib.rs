//! The canonical model of the ESS open-data platform, with no I/O.
//!
//! - [`match_key`]: the normalised matching key for names, labels and headers.
//! - [`reference`](mod@reference): regions, provinces, legacy regions and sectors, embedded.
//! - [`places`]: place resolution (province, region, legacy region).
//! - [`value_rules`]: integer, date, status and employees rules.
//! - [`organisation`]: the canonical organisation, families, statuses, quality flags.
//! - [`arrow_schema`]: the Arrow schema of the published tables and batch conversion.
//! - [`census`]: the 2024 census (HCP) by country, region and province.
//! - [`columns`]: what each published column means, with its headings (FR, AR, EN).
//! - [`measures`]: aggregate measures.
//! - [`layout`]: the snapshot layout, manifest and ingest report.
//! - [`rollup`]: measures pre-summed per combination of dimensions.
//! - [`interner`]: distinct texts numbered, for dimension values held per row.

pub mod arrow_schema;
pub mod census;
pub mod columns;
pub mod error;
pub mod interner;
pub mod layout;
pub mod match_key;
pub mod measures;
pub mod organisation;
pub mod places;
pub mod reference;
pub mod rollup;
pub mod value_rules;

pub use error::SchemaError;
pub use organisation::{Family, Flags, Organisation, OrganisationRef, QualityFlag, Status};
pub use reference::{Lang, reference};
