//! The arguments of the schema: enums, the organisation filter, ranges.

use async_graphql::{Enum, InputObject};
use ess_query::Filter;

/// An ESS family.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "ess_schemas::Family")]
pub enum Family {
    /// Cooperatives.
    Cooperative,
    /// Associations.
    Association,
    /// Mutuals.
    Mutual,
}

/// A dimension to group by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "ess_query::Dimension")]
pub enum Dimension {
    /// By family.
    Family,
    /// By region.
    Region,
    /// By province.
    Province,
    /// By sector.
    Sector,
    /// By founding year.
    FoundedYear,
    /// By status.
    Status,
}

/// A language for names and labels.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
#[graphql(remote = "ess_schemas::Lang")]
pub enum Lang {
    /// French.
    #[default]
    Fr,
    /// Arabic.
    Ar,
    /// English.
    En,
}

/// Inclusive bounds.
#[derive(InputObject, Debug, Default)]
pub struct IntRange {
    /// Lower bound, inclusive.
    pub from: Option<i32>,
    /// Upper bound, inclusive.
    pub to: Option<i32>,
}

/// Which organisations. Lists are "any of"; fields combine with "and".
#[derive(InputObject, Debug, Default)]
pub struct OrganisationFilter {
    /// Families.
    pub family: Option<Vec<Family>>,
    /// ISO 3166-2 region codes, e.g. "MA-03".
    pub region: Option<Vec<String>>,
    /// ISO 3166-2 province codes, e.g. "MA-FES".
    pub province: Option<Vec<String>>,
    /// Canonical sector codes, e.g. "AGRI".
    pub sector: Option<Vec<String>>,
    /// Founding years.
    pub founded_year: Option<IntRange>,
    /// Statuses: `active`, `in_liquidation`, `dissolved`, `unknown`.
    pub status: Option<Vec<String>>,
}

impl OrganisationFilter {
    /// The query crate's filter.
    pub(crate) fn into_filter(f: Option<OrganisationFilter>) -> Filter {
        let f = f.unwrap_or_default();
        let year = f.founded_year.unwrap_or_default();
        Filter {
            families: f
                .family
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            regions: f.region.unwrap_or_default(),
            provinces: f.province.unwrap_or_default(),
            sectors: f.sector.unwrap_or_default(),
            founded_from: year.from,
            founded_to: year.to,
            statuses: f.status.unwrap_or_default(),
        }
    }
}
