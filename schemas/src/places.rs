//! Place resolution (SOURCES.md, "Place resolution"): province first, then the current
//! region, then an unambiguous legacy region.

use crate::organisation::{Flags, QualityFlag};
use crate::reference::Reference;

/// Where a row is, after resolution: codes borrowed from the reference data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResolvedPlace<'r> {
    /// ISO code of the region, when resolved.
    pub region_code: Option<&'r str>,
    /// ISO code of the province, when resolved.
    pub province_code: Option<&'r str>,
}

/// Resolves a row's region and province texts, raising the place flags on `flags`.
pub fn resolve_place<'r>(
    reference: &'r Reference,
    region_text: &str,
    province_text: &str,
    flags: &mut Flags,
) -> ResolvedPlace<'r> {
    let region_text = region_text.trim();
    let province_text = province_text.trim();

    // 1. The province decides the region.
    if !province_text.is_empty()
        && let Some(province) = reference.match_province(province_text)
    {
        if !region_text.is_empty() {
            let conflict = match reference.match_region(region_text) {
                Some(region) => region.code != province.region_code,
                None => reference
                    .match_legacy_region(region_text)
                    .is_some_and(|legacy| {
                        !legacy.current_region_codes.contains(&province.region_code)
                    }),
            };
            if conflict {
                flags.raise(QualityFlag::RegionConflict);
            }
        }
        return ResolvedPlace {
            region_code: Some(&province.region_code),
            province_code: Some(&province.code),
        };
    }

    if !region_text.is_empty() {
        // 2. A current region.
        if let Some(region) = reference.match_region(region_text) {
            return ResolvedPlace {
                region_code: Some(&region.code),
                province_code: None,
            };
        }
        // 3. A legacy region whose territory lies in exactly one current region.
        if let Some(legacy) = reference.match_legacy_region(region_text)
            && let [only] = legacy.current_region_codes.as_slice()
        {
            flags.raise(QualityFlag::LegacyRegion);
            return ResolvedPlace {
                region_code: Some(only),
                province_code: None,
            };
        }
    }

    // 4. Unresolved.
    if !region_text.is_empty() || !province_text.is_empty() {
        flags.raise(QualityFlag::UnresolvedPlace);
    }
    ResolvedPlace::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use rstest::rstest;

    fn resolve(
        region: &str,
        province: &str,
    ) -> (
        Option<&'static str>,
        Option<&'static str>,
        Vec<&'static str>,
    ) {
        let mut flags = Flags::default();
        let p = resolve_place(reference(), region, province, &mut flags);
        (
            p.region_code,
            p.province_code,
            flags.iter().map(|f| f.as_str()).collect(),
        )
    }

    #[rstest]
    // Province first, in every spelling.
    #[case("", "Fès", Some("MA-03"), Some("MA-FES"), &[])]
    #[case("", "fes", Some("MA-03"), Some("MA-FES"), &[])]
    #[case("", "EL HAJEB", Some("MA-03"), Some("MA-HAJ"), &[])]
    #[case("", "Province de Berkane", Some("MA-02"), Some("MA-BER"), &[])]
    #[case("", "Préfecture de Inezgane-Aït Melloul", Some("MA-09"), Some("MA-INE"), &[])]
    #[case("", "إقليم إفران", Some("MA-03"), Some("MA-IFR"), &[])]
    #[case("", "الصويرة", Some("MA-07"), Some("MA-ESI"), &[])]
    #[case("", "Tinerhir", Some("MA-08"), Some("MA-TIN"), &[])]
    #[case("", "Agadir-Ida Ou Tanane", Some("MA-09"), Some("MA-AGD"), &[])]
    #[case("", "es-semara", Some("MA-11"), Some("MA-ESM"), &[])]
    #[case("", "Chtouka-Aït Baha", Some("MA-09"), Some("MA-CHT"), &[])]
    #[case("", "Nouaceur", Some("MA-06"), Some("MA-NOU"), &[])]
    // Province and a matching region: no flag.
    #[case("Fès-Meknès", "Sefrou", Some("MA-03"), Some("MA-SEF"), &[])]
    #[case("Région Souss-Massa", "tiznit", Some("MA-09"), Some("MA-TIZ"), &[])]
    // A current region other than the province's.
    #[case("Béni Mellal-Khénifra", "sidi ifni", Some("MA-10"), Some("MA-SIF"), &["region_conflict"])]
    #[case("Tanger-Tétouan-Al Hoceïma", "Assa-Zag", Some("MA-10"), Some("MA-ASZ"), &["region_conflict"])]
    // A legacy region containing the province's region: no flag.
    #[case("Marrakech-Tensift-Al Haouz", "Youssoufia", Some("MA-07"), Some("MA-YUS"), &[])]
    #[case("Meknès-Tafilalet", "Midelt", Some("MA-08"), Some("MA-MID"), &[])]
    // A legacy region none of whose current regions is the province's.
    #[case("Meknès-Tafilalet", "Fquih Ben Salah", Some("MA-05"), Some("MA-FQH"), &[])]
    #[case("Fès-Boulemane", "Meknès", Some("MA-03"), Some("MA-MEK"), &[])]
    #[case("Guelmim-Es-Semara", "Inezgane-Aït Melloul", Some("MA-09"), Some("MA-INE"), &[])]
    #[case("Grand Casablanca", "Safi", Some("MA-07"), Some("MA-SAF"), &["region_conflict"])]
    // Region text that names nothing does not conflict.
    #[case("Atlantis", "Rabat", Some("MA-04"), Some("MA-RAB"), &[])]
    // Current region alone, every language and alias.
    #[case("Drâa-Tafilalet", "", Some("MA-08"), None, &[])]
    #[case("DRAA-TAFILALET", "", Some("MA-08"), None, &[])]
    #[case("  Laayoune Sakia El Hamra ", "", Some("MA-11"), None, &[])]
    #[case("جهة الشرق", "", Some("MA-02"), None, &[])]
    #[case("جهة مراكش آسفي", "", Some("MA-07"), None, &[])]
    #[case("Fez-Meknes", "", Some("MA-03"), None, &[])]
    #[case("Région de l'Oriental", "", Some("MA-02"), None, &[])]
    #[case("Tanger-Tetouan-Alhoceima", "", Some("MA-01"), None, &[])]
    // Unmatched province falls back to the region, unflagged.
    #[case("Souss-Massa", "Centre Tafraout", Some("MA-09"), None, &[])]
    // Legacy regions: only when one current region.
    #[case("Grand Casablanca", "", Some("MA-06"), None, &["legacy_region"])]
    #[case("Fès-Boulemane", "", Some("MA-03"), None, &["legacy_region"])]
    #[case("Tadla-Azilal", "", Some("MA-05"), None, &["legacy_region"])]
    #[case("Gharb-Chrarda-Béni Hssen", "", None, None, &["unresolved_place"])]
    #[case("Souss-Massa-Drâa", "", None, None, &["unresolved_place"])]
    // Nothing.
    #[case("", "", None, None, &[])]
    #[case("   ", "", None, None, &[])]
    #[case("", "Douar Ait Ali", None, None, &["unresolved_place"])]
    fn resolution(
        #[case] region: &str,
        #[case] province: &str,
        #[case] want_region: Option<&str>,
        #[case] want_province: Option<&str>,
        #[case] want_flags: &[&str],
    ) {
        let (r, p, f) = resolve(region, province);
        assert_eq!(r, want_region, "region of ({region:?}, {province:?})");
        assert_eq!(p, want_province, "province of ({region:?}, {province:?})");
        assert_eq!(f, want_flags, "flags of ({region:?}, {province:?})");
    }
}
