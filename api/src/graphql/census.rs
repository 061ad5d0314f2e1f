//! The 2024 census beside an aggregate's measures (`AggregateRow.census`): the
//! denominators of HCP's RGPH 2024 for the area the row's organisations are in, and
//! measures per inhabitant and per employed person.
//!
//! The area of a row is the filter's (its regions and provinces, or the whole
//! country) narrowed to the row's region or province when the aggregate groups by
//! them. A grouping by family, sector, founding year or status does not narrow it: its
//! rows share their filter's denominator. A row whose region or province is unknown
//! has no area, and so no census figures: nothing is divided by a population it does
//! not belong to.

use async_graphql::Object;
use ess_query::{AggregateRequest, Dimension, GroupKey};
use ess_schemas::census::{Area, Rates, census};
use ess_schemas::measures::Sums;

/// The census area of a row of `request` with `key` (`total`: the total row, whose
/// area is the filter's).
pub fn area_of(request: &AggregateRequest, key: &GroupKey, total: bool) -> Option<Area> {
    let unknown = |d: Dimension, known: bool| request.group_by.contains(&d) && !known;
    if !total
        && (unknown(Dimension::Region, key.region.is_some())
            || unknown(Dimension::Province, key.province.is_some()))
    {
        return None;
    }
    let f = &request.filter;
    census().area(|p| {
        (f.regions.is_empty() || f.regions.contains(&p.region_code))
            && (f.provinces.is_empty() || f.provinces.contains(&p.code))
            && key.region.as_ref().is_none_or(|r| *r == p.region_code)
            && key.province.as_ref().is_none_or(|c| *c == p.code)
    })
}

/// Census figures of a row's area, and the row's measures set against them. Every
/// derived measure inherits the coverage of its numerator: a sum counts unknown
/// values as 0 (SOURCES.md), so a rate over organisations that do not report a
/// measure understates it.
#[derive(Debug, Clone)]
pub struct CensusContext {
    area: Area,
    /// The row's measures set against the area, computed once for every field.
    rates: Rates,
}

impl CensusContext {
    /// The census of `area` beside a row's `sums`.
    pub fn new(area: Area, sums: &Sums) -> Self {
        let rates = area.figures.rates(sums);
        CensusContext { area, rates }
    }
}

#[Object]
impl CensusContext {
    /// The area the figures are of: `MA` (the country), a region's or a province's
    /// ISO code, or several provinces' codes joined by `+` (those of the filter).
    async fn area(&self) -> &str {
        &self.area.code
    }
    /// Legal population (HCP, RGPH 2024).
    async fn population(&self) -> i64 {
        self.area.figures.population as i64
    }
    /// Municipal population: the legal population less those counted apart
    /// (barracks, prisons, institutions); the population HCP gives by sex.
    async fn population_municipal(&self) -> i64 {
        self.area.figures.population_municipal as i64
    }
    /// Women in the municipal population.
    async fn population_women(&self) -> i64 {
        self.area.figures.population_women as i64
    }
    /// Men in the municipal population.
    async fn population_men(&self) -> i64 {
        self.area.figures.population_men as i64
    }
    /// Employed population aged 15 and over (HCP's estimate from the census sample).
    async fn employed(&self) -> i64 {
        self.area.figures.employed as i64
    }
    /// Employed women aged 15 and over.
    async fn employed_women(&self) -> i64 {
        self.area.figures.employed_women as i64
    }
    /// Employed men aged 15 and over.
    async fn employed_men(&self) -> i64 {
        self.area.figures.employed_men as i64
    }
    /// `organisations` / `population` × 100,000.
    #[graphql(name = "organisationsPer100kInhabitants")]
    async fn organisations_per_100k_inhabitants(&self) -> Option<f64> {
        self.rates.organisations_per_100k_inhabitants
    }
    /// `members` / `population` × 1,000. Members unknown count as 0.
    async fn members_per_1000_inhabitants(&self) -> Option<f64> {
        self.rates.members_per_1000_inhabitants
    }
    /// `membersWomen` / `populationWomen` × 1,000. Only cooperatives report women
    /// members; unknown counts as 0.
    async fn members_women_per_1000_women(&self) -> Option<f64> {
        self.rates.members_women_per_1000_women
    }
    /// `employees` / `employed`: the registry's employees as a share of the
    /// census's employed. Employees unknown count as 0.
    async fn employees_share_of_employed(&self) -> Option<f64> {
        self.rates.employees_share_of_employed
    }
    /// `employeesWomen` / `employedWomen`. Covers the organisations that report
    /// women employees (see `genderCoverage`).
    async fn employees_women_share_of_employed_women(&self) -> Option<f64> {
        self.rates.employees_women_share_of_employed_women
    }
    /// `employeesMen` / `employedMen`. Covers the organisations that report men
    /// employees (see `genderCoverage`).
    async fn employees_men_share_of_employed_men(&self) -> Option<f64> {
        self.rates.employees_men_share_of_employed_men
    }
    /// The census's own estimate of cooperative members among the employed: the
    /// share of the employed who declare themselves "coopérateur/associé" × the
    /// employed (a wider category than cooperative membership: partners of
    /// associations or firms where every member has an equal say count too). Set it
    /// beside the registry's `members`.
    async fn census_cooperative_members(&self) -> f64 {
        self.area.figures.cooperative_members
    }
    /// The same estimate among employed women (beside the registry's
    /// `membersWomen`).
    async fn census_cooperative_members_women(&self) -> f64 {
        self.area.figures.cooperative_members_women
    }
    /// The same estimate among employed men.
    async fn census_cooperative_members_men(&self) -> f64 {
        self.area.figures.cooperative_members_men
    }
}
