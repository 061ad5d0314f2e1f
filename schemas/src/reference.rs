//! The reference data of `schemas/reference/`, embedded in the binary: regions,
//! provinces, legacy regions, the sector taxonomy and the aliases that map registry
//! spellings onto them.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::match_key::{normalize_key, place_key};
use crate::organisation::Family;

/// The raw CSV files, as shipped in `schemas/reference/`.
pub mod files {
    /// `regions.csv`: the 12 regions of the 2015 division.
    pub const REGIONS: &str = include_str!("../reference/regions.csv");
    /// `provinces.csv`: the 75 prefectures and provinces.
    pub const PROVINCES: &str = include_str!("../reference/provinces.csv");
    /// `legacy_regions.csv`: the 16 regions of the 1997 division.
    pub const LEGACY_REGIONS: &str = include_str!("../reference/legacy_regions.csv");
    /// `sectors.csv`: the canonical sector taxonomy.
    pub const SECTORS: &str = include_str!("../reference/sectors.csv");
    /// `sector_aliases.csv`: registry sector labels → canonical codes, per family.
    pub const SECTOR_ALIASES: &str = include_str!("../reference/sector_aliases.csv");
    /// `place_aliases.csv`: other spellings of regions and provinces.
    pub const PLACE_ALIASES: &str = include_str!("../reference/place_aliases.csv");
}

/// A label in the three languages the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// French.
    Fr,
    /// Arabic.
    Ar,
    /// English.
    En,
}

impl Lang {
    /// The position of this language in the `[French, Arabic, English]` tables of
    /// labels.
    pub fn index(self) -> usize {
        match self {
            Lang::Fr => 0,
            Lang::Ar => 1,
            Lang::En => 2,
        }
    }

    /// Its BCP 47 tag (`fr`, `ar`, `en`), as URLs and JSON-LD write it.
    pub fn tag(self) -> &'static str {
        ["fr", "ar", "en"][self.index()]
    }
}

/// A region of the 2015 division.
#[derive(Debug, Clone, Deserialize)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `MA-03`.
    pub code: String,
    /// French name.
    pub name_fr: String,
    /// Arabic name.
    pub name_ar: String,
    /// English name.
    pub name_en: String,
}

impl Region {
    /// The name in `lang`.
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.name_fr,
            Lang::Ar => &self.name_ar,
            Lang::En => &self.name_en,
        }
    }
}

/// A prefecture or province.
#[derive(Debug, Clone, Deserialize)]
pub struct Province {
    /// ISO 3166-2 code, e.g. `MA-FES`.
    pub code: String,
    /// The code of the region it belongs to.
    pub region_code: String,
    /// `prefecture` or `province`.
    pub kind: String,
    /// French name.
    pub name_fr: String,
    /// Arabic name.
    pub name_ar: String,
}

impl Province {
    /// The name in `lang`; provinces have no English name, so English is French.
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ar => &self.name_ar,
            Lang::Fr | Lang::En => &self.name_fr,
        }
    }
}

/// A region of the 1997 division and the current regions its territory lies in.
#[derive(Debug, Clone)]
pub struct LegacyRegion {
    /// Name as in the reference file.
    pub name: String,
    /// Current region codes.
    pub current_region_codes: Vec<String>,
}

/// A canonical ESS sector.
#[derive(Debug, Clone, Deserialize)]
pub struct Sector {
    /// Canonical code, e.g. `ARGAN`.
    pub code: String,
    /// French label.
    pub name_fr: String,
    /// Arabic label.
    pub name_ar: String,
    /// English label.
    pub name_en: String,
}

impl Sector {
    /// The label in `lang`.
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.name_fr,
            Lang::Ar => &self.name_ar,
            Lang::En => &self.name_en,
        }
    }
}

/// The sector code used for empty and unknown labels.
pub const OTHER_SECTOR: &str = "OTHER";

/// All reference data with its lookup indexes. Get it with [`reference()`].
#[derive(Debug)]
pub struct Reference {
    regions: Vec<Region>,
    provinces: Vec<Province>,
    legacy_regions: Vec<LegacyRegion>,
    sectors: Vec<Sector>,
    region_by_key: HashMap<String, usize>,
    province_by_key: HashMap<String, usize>,
    legacy_by_key: HashMap<String, usize>,
    sector_by_alias: HashMap<(Family, String), usize>,
}

#[derive(Deserialize)]
struct LegacyRow {
    legacy_name: String,
    current_region_codes: String,
}

#[derive(Deserialize)]
struct PlaceAliasRow {
    kind: String,
    alias: String,
    code: String,
}

#[derive(Deserialize)]
struct SectorAliasRow {
    family: String,
    label: String,
    sector_code: String,
}

fn parse<T: for<'de> Deserialize<'de>>(name: &str, text: &str) -> Vec<T> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("embedded reference file {name} is malformed: {e}"))
}

/// The embedded reference data, parsed once.
pub fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(Reference::load)
}

impl Reference {
    fn load() -> Self {
        let regions: Vec<Region> = parse("regions.csv", files::REGIONS);
        let provinces: Vec<Province> = parse("provinces.csv", files::PROVINCES);
        let legacy_regions: Vec<LegacyRegion> =
            parse::<LegacyRow>("legacy_regions.csv", files::LEGACY_REGIONS)
                .into_iter()
                .map(|r| LegacyRegion {
                    name: r.legacy_name,
                    current_region_codes: r
                        .current_region_codes
                        .split(';')
                        .map(|c| c.trim().to_owned())
                        .filter(|c| !c.is_empty())
                        .collect(),
                })
                .collect();
        let sectors: Vec<Sector> = parse("sectors.csv", files::SECTORS);

        let region_index = |code: &str| regions.iter().position(|r| r.code == code);
        let province_index = |code: &str| provinces.iter().position(|p| p.code == code);

        let mut region_by_key = HashMap::new();
        for (i, r) in regions.iter().enumerate() {
            for name in [&r.name_fr, &r.name_ar, &r.name_en] {
                region_by_key.insert(place_key(name), i);
            }
        }
        let mut province_by_key = HashMap::new();
        for (i, p) in provinces.iter().enumerate() {
            for name in [&p.name_fr, &p.name_ar] {
                province_by_key.insert(place_key(name), i);
            }
        }
        for a in parse::<PlaceAliasRow>("place_aliases.csv", files::PLACE_ALIASES) {
            let key = place_key(&a.alias);
            match a.kind.as_str() {
                "region" => {
                    let i = region_index(&a.code)
                        .unwrap_or_else(|| panic!("place alias {} names no region", a.code));
                    region_by_key.insert(key, i);
                }
                "province" => {
                    let i = province_index(&a.code)
                        .unwrap_or_else(|| panic!("place alias {} names no province", a.code));
                    province_by_key.insert(key, i);
                }
                other => panic!("place_aliases.csv: unknown kind {other}"),
            }
        }
        let legacy_by_key = legacy_regions
            .iter()
            .enumerate()
            .map(|(i, l)| (place_key(&l.name), i))
            .collect();

        let mut sector_by_alias = HashMap::new();
        for a in parse::<SectorAliasRow>("sector_aliases.csv", files::SECTOR_ALIASES) {
            let family = Family::parse(&a.family)
                .unwrap_or_else(|| panic!("sector_aliases.csv: unknown family {}", a.family));
            let i = sectors
                .iter()
                .position(|s| s.code == a.sector_code)
                .unwrap_or_else(|| panic!("sector alias {} names no sector", a.sector_code));
            sector_by_alias.insert((family, normalize_key(&a.label)), i);
        }

        Reference {
            regions,
            provinces,
            legacy_regions,
            sectors,
            region_by_key,
            province_by_key,
            legacy_by_key,
            sector_by_alias,
        }
    }

    /// The 12 current regions, in code order.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The 75 prefectures and provinces.
    pub fn provinces(&self) -> &[Province] {
        &self.provinces
    }

    /// The 16 legacy regions.
    pub fn legacy_regions(&self) -> &[LegacyRegion] {
        &self.legacy_regions
    }

    /// The canonical sectors.
    pub fn sectors(&self) -> &[Sector] {
        &self.sectors
    }

    /// The region with this ISO code.
    pub fn region(&self, code: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code == code)
    }

    /// The province with this ISO code.
    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.code == code)
    }

    /// The sector with this canonical code.
    pub fn sector(&self, code: &str) -> Option<&Sector> {
        self.sectors.iter().find(|s| s.code == code)
    }

    /// The current region a place text names (French, Arabic, English or alias).
    pub fn match_region(&self, text: &str) -> Option<&Region> {
        self.region_by_key
            .get(&place_key(text))
            .map(|&i| &self.regions[i])
    }

    /// The province a place text names (French, Arabic or alias).
    pub fn match_province(&self, text: &str) -> Option<&Province> {
        self.province_by_key
            .get(&place_key(text))
            .map(|&i| &self.provinces[i])
    }

    /// The legacy region a place text names.
    pub fn match_legacy_region(&self, text: &str) -> Option<&LegacyRegion> {
        self.legacy_by_key
            .get(&place_key(text))
            .map(|&i| &self.legacy_regions[i])
    }

    /// The canonical sector a registry label maps to, among the aliases of `family`.
    pub fn match_sector(&self, family: Family, label: &str) -> Option<&Sector> {
        self.sector_by_alias
            .get(&(family, normalize_key(label)))
            .map(|&i| &self.sectors[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_reference_readme() {
        let r = reference();
        assert_eq!(r.regions().len(), 12);
        assert_eq!(r.provinces().len(), 75);
        assert_eq!(r.legacy_regions().len(), 16);
        assert_eq!(r.sectors().len(), 20);
        assert!(r.sector(OTHER_SECTOR).is_some());
    }

    #[test]
    fn every_province_names_a_region_and_legacy_regions_name_current_ones() {
        let r = reference();
        for p in r.provinces() {
            assert!(r.region(&p.region_code).is_some(), "{}", p.code);
        }
        for l in r.legacy_regions() {
            assert!(!l.current_region_codes.is_empty());
            for c in &l.current_region_codes {
                assert!(r.region(c).is_some(), "{} → {c}", l.name);
            }
        }
    }

    #[test]
    fn no_key_is_ambiguous() {
        // Two different places with the same key would make matching order-dependent.
        let r = reference();
        let mut seen: HashMap<String, &str> = HashMap::new();
        for reg in r.regions() {
            for name in [&reg.name_fr, &reg.name_ar, &reg.name_en] {
                if let Some(prev) = seen.insert(place_key(name), &reg.code) {
                    assert_eq!(prev, reg.code, "{name}");
                }
            }
        }
        let mut seen: HashMap<String, &str> = HashMap::new();
        for p in r.provinces() {
            for name in [&p.name_fr, &p.name_ar] {
                if let Some(prev) = seen.insert(place_key(name), &p.code) {
                    assert_eq!(prev, p.code, "{name}");
                }
            }
        }
    }

    #[test]
    fn nouaceur_and_chtouka_are_where_they_are_on_the_ground() {
        let r = reference();
        assert_eq!(r.province("MA-NOU").unwrap().region_code, "MA-06");
        assert_eq!(r.province("MA-CHT").unwrap().region_code, "MA-09");
    }

    #[test]
    fn sector_aliases_are_per_family() {
        let r = reference();
        assert_eq!(
            r.match_sector(Family::Cooperative, " argane ")
                .unwrap()
                .code,
            "ARGAN"
        );
        assert_eq!(
            r.match_sector(Family::Association, "Autre").unwrap().code,
            "OTHER"
        );
        assert!(r.match_sector(Family::Association, "Argane").is_none());
        assert_eq!(
            r.match_sector(Family::Mutual, "SOCIETE MUTUELLE D’ASSURANCE")
                .unwrap()
                .code,
            "INSURANCE"
        );
    }
}
