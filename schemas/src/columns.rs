//! What every published column means, in French and English, with its heading in
//! French, Arabic and English: written into the Parquet files offered for download,
//! the Data Package's table schemas, and the headings of CSV exports.

use crate::Lang;
use crate::arrow_schema::{col, quarantine_col};

/// One column: its name in the files, its Table Schema type, its headings and what it
/// holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDoc {
    /// The column's name in the files.
    pub name: &'static str,
    /// Its Frictionless Table Schema type (`string`, `integer`, `date`, `boolean`,
    /// `array`).
    pub kind: &'static str,
    /// Short headings: French, Arabic, English.
    pub heading: [&'static str; 3],
    /// What it holds, in French.
    pub fr: &'static str,
    /// What it holds, in English.
    pub en: &'static str,
}

impl ColumnDoc {
    /// The heading in `lang`.
    pub fn heading(&self, lang: Lang) -> &'static str {
        self.heading[lang.index()]
    }
}

const fn doc(
    name: &'static str,
    kind: &'static str,
    heading: [&'static str; 3],
    fr: &'static str,
    en: &'static str,
) -> ColumnDoc {
    ColumnDoc {
        name,
        kind,
        heading,
        fr,
        en,
    }
}

/// The columns of the organisations files, in file order.
pub const ORGANISATION_COLUMNS: &[ColumnDoc] = &[
    doc(
        col::ORG_ID,
        "string",
        ["Identifiant", "المعرف", "Identifier"],
        "Identifiant de l'organisation dans le jeu de données : <famille>:<identifiant du registre>, unique dans un instantané.",
        "The organisation's identifier in the dataset: <family>:<registry identifier>, unique within a snapshot.",
    ),
    doc(
        col::FAMILY,
        "string",
        ["Famille", "الصنف", "Family"],
        "Famille de l'économie sociale et solidaire : cooperative, association ou mutual.",
        "Social and solidarity economy family: cooperative, association or mutual.",
    ),
    doc(
        col::SOURCE_ID,
        "string",
        [
            "Identifiant du registre",
            "معرف السجل",
            "Registry identifier",
        ],
        "Identifiant de l'organisation dans son registre d'origine.",
        "The organisation's identifier in its source registry.",
    ),
    doc(
        col::NAME,
        "string",
        ["Nom", "الاسم", "Name"],
        "Nom de l'organisation, en caractères latins quand le registre le donne.",
        "The organisation's name, in Latin script where the registry gives it.",
    ),
    doc(
        col::NAME_AR,
        "string",
        ["Nom en arabe", "الاسم بالعربية", "Arabic name"],
        "Nom de l'organisation en arabe ; vide si le registre ne le donne pas.",
        "The organisation's name in Arabic; empty where the registry does not give it.",
    ),
    doc(
        col::SECTOR_CODE,
        "string",
        ["Secteur (code)", "القطاع (رمز)", "Sector (code)"],
        "Code du secteur d'activité canonique (OTHER quand le libellé du registre n'en désigne aucun).",
        "Canonical sector code (OTHER when the registry's label names none).",
    ),
    doc(
        col::ACTIVITIES,
        "array",
        ["Activités", "الأنشطة", "Activities"],
        "Libellés d'activité tels que le registre les donne.",
        "Activity labels as the registry gives them.",
    ),
    doc(
        col::REGION_CODE,
        "string",
        ["Région (code)", "الجهة (رمز)", "Region (code)"],
        "Code ISO 3166-2 de la région (découpage de 2015) ; vide si le lieu n'a pas pu être résolu.",
        "ISO 3166-2 code of the region (2015 division); empty when the place could not be resolved.",
    ),
    doc(
        col::PROVINCE_CODE,
        "string",
        ["Province (code)", "الإقليم (رمز)", "Province (code)"],
        "Code ISO 3166-2 de la province ou préfecture ; vide si elle n'a pas pu être résolue.",
        "ISO 3166-2 code of the province or prefecture; empty when it could not be resolved.",
    ),
    doc(
        col::FOUNDED_ON,
        "date",
        ["Date de création", "تاريخ التأسيس", "Founding date"],
        "Date de création ; vide si inconnue ou invalide dans le registre.",
        "Founding date; empty when unknown or invalid in the registry.",
    ),
    doc(
        col::FOUNDED_YEAR,
        "integer",
        ["Année de création", "سنة التأسيس", "Founding year"],
        "Année de création ; vide si inconnue.",
        "Founding year; empty when unknown.",
    ),
    doc(
        col::STATUS,
        "string",
        ["Statut", "الوضعية", "Status"],
        "Statut juridique : active, in_liquidation, dissolved ou unknown.",
        "Legal status: active, in_liquidation, dissolved or unknown.",
    ),
    doc(
        col::MEMBERS_TOTAL,
        "integer",
        ["Membres", "الأعضاء", "Members"],
        "Nombre de membres (adhérents) ; vide si inconnu.",
        "Number of members; empty when unknown.",
    ),
    doc(
        col::MEMBERS_WOMEN,
        "integer",
        ["Membres femmes", "العضوات", "Women members"],
        "Nombre de femmes parmi les membres ; vide si inconnu (les associations et mutuelles ne le déclarent pas).",
        "Number of women among the members; empty when unknown (associations and mutuals do not report it).",
    ),
    doc(
        col::EMPLOYEES_TOTAL,
        "integer",
        ["Salariés", "الأجراء", "Employees"],
        "Nombre de salariés : le total déclaré, sinon femmes + hommes quand les deux sont connus ; vide si inconnu.",
        "Number of employees: the total reported, else women + men when both are known; empty when unknown.",
    ),
    doc(
        col::EMPLOYEES_WOMEN,
        "integer",
        ["Salariées femmes", "الأجيرات", "Women employees"],
        "Nombre de femmes salariées ; vide si inconnu.",
        "Number of women employees; empty when unknown.",
    ),
    doc(
        col::EMPLOYEES_MEN,
        "integer",
        ["Salariés hommes", "الأجراء الذكور", "Men employees"],
        "Nombre d'hommes salariés ; vide si inconnu.",
        "Number of men employees; empty when unknown.",
    ),
    doc(
        col::VOLUNTEERS,
        "integer",
        ["Bénévoles", "المتطوعون", "Volunteers"],
        "Nombre de bénévoles ; vide si inconnu.",
        "Number of volunteers; empty when unknown.",
    ),
    doc(
        col::PUBLIC_UTILITY,
        "boolean",
        ["Utilité publique", "المنفعة العامة", "Public utility"],
        "Reconnue d'utilité publique (associations) ; vide si le registre ne le dit pas.",
        "Recognised as being of public utility (associations); empty when the registry does not say.",
    ),
    doc(
        col::QUALITY_FLAGS,
        "array",
        ["Signalements qualité", "ملاحظات الجودة", "Quality flags"],
        "Problèmes relevés dans la ligne du registre (invalid_number, invalid_date, unknown_sector, employment_mismatch, region_conflict, legacy_region, unresolved_place).",
        "Problems found in the registry row (invalid_number, invalid_date, unknown_sector, employment_mismatch, region_conflict, legacy_region, unresolved_place).",
    ),
    doc(
        col::SOURCE_FILE,
        "string",
        ["Fichier source", "الملف المصدر", "Source file"],
        "Nom du fichier du registre dont vient la ligne.",
        "Name of the registry file the row comes from.",
    ),
    doc(
        col::SOURCE_ROW,
        "integer",
        ["Ligne source", "السطر في المصدر", "Source row"],
        "Numéro de la ligne dans ce fichier (CSV : ligne où commence l'enregistrement, l'en-tête étant la ligne 1 ; XLSX : ligne de la feuille ; JSON : position à partir de 1).",
        "Row number in that file (CSV: the line where the record starts, the header being line 1; XLSX: the sheet's row; JSON: the position from 1).",
    ),
];

/// The columns of the quarantine file, in file order.
pub const QUARANTINE_COLUMNS: &[ColumnDoc] = &[
    doc(
        quarantine_col::FAMILY,
        "string",
        ["Famille", "الصنف", "Family"],
        "Famille du registre dont vient la ligne rejetée.",
        "Family of the registry the rejected row comes from.",
    ),
    doc(
        quarantine_col::SOURCE_FILE,
        "string",
        ["Fichier source", "الملف المصدر", "Source file"],
        "Nom du fichier du registre.",
        "Name of the registry file.",
    ),
    doc(
        quarantine_col::SOURCE_ROW,
        "integer",
        ["Ligne source", "السطر في المصدر", "Source row"],
        "Numéro de la ligne dans ce fichier.",
        "Row number in that file.",
    ),
    doc(
        quarantine_col::REASON,
        "string",
        ["Motif", "السبب", "Reason"],
        "Pourquoi la ligne n'est pas une organisation (missing_source_id, missing_name, unparseable…).",
        "Why the row is not an organisation (missing_source_id, missing_name, unparseable…).",
    ),
    doc(
        quarantine_col::DETAIL,
        "string",
        ["Détail", "التفاصيل", "Detail"],
        "Le motif, détaillé.",
        "The reason, in detail.",
    ),
    doc(
        quarantine_col::RAW,
        "string",
        ["Valeurs brutes", "القيم الخام", "Raw values"],
        "Les valeurs de la ligne telles que lues, en objet JSON (en-tête → texte).",
        "The row's values as read, as a JSON object (heading → text).",
    ),
];

/// The measures of an aggregate, as CSV exports head them: (GraphQL name, headings
/// in French, Arabic and English).
pub const MEASURE_HEADINGS: &[(&str, [&str; 3])] = &[
    (
        "organisations",
        ["Organisations", "عدد الهيئات", "Organisations"],
    ),
    ("members", ["Membres", "الأعضاء", "Members"]),
    (
        "membersWomen",
        ["Membres femmes", "العضوات", "Women members"],
    ),
    ("employees", ["Salariés", "الأجراء", "Employees"]),
    (
        "employeesWomen",
        ["Salariées femmes", "الأجيرات", "Women employees"],
    ),
    (
        "employeesMen",
        ["Salariés hommes", "الأجراء الذكور", "Men employees"],
    ),
    (
        "genderCoverage",
        [
            "Couverture femmes/hommes",
            "نسبة التغطية حسب الجنس",
            "Gender coverage",
        ],
    ),
    (
        "womenEmploymentShare",
        [
            "Part des femmes parmi les salariés",
            "حصة النساء من الأجراء",
            "Women's share of employees",
        ],
    ),
];

/// The census context of an aggregate, as CSV exports head it (`census=true`):
/// (GraphQL name on `CensusContext`, headings in French, Arabic and English).
pub const CENSUS_HEADINGS: &[(&str, [&str; 3])] = &[
    (
        "area",
        ["Zone du recensement", "منطقة الإحصاء", "Census area"],
    ),
    (
        "population",
        [
            "Population légale (RGPH 2024)",
            "السكان القانونيون (إحصاء 2024)",
            "Legal population (RGPH 2024)",
        ],
    ),
    (
        "populationWomen",
        [
            "Population municipale, femmes",
            "السكان البلديون، نساء",
            "Municipal population, women",
        ],
    ),
    (
        "populationMen",
        [
            "Population municipale, hommes",
            "السكان البلديون، رجال",
            "Municipal population, men",
        ],
    ),
    (
        "employed",
        [
            "Actifs occupés de 15 ans et plus",
            "النشيطون المشتغلون البالغون 15 سنة فما فوق",
            "Employed aged 15 and over",
        ],
    ),
    (
        "employedWomen",
        ["Actives occupées", "النشيطات المشتغلات", "Employed women"],
    ),
    (
        "employedMen",
        [
            "Actifs occupés, hommes",
            "النشيطون المشتغلون، رجال",
            "Employed men",
        ],
    ),
    (
        "organisationsPer100kInhabitants",
        [
            "Organisations pour 100 000 habitants",
            "عدد الهيئات لكل 100000 نسمة",
            "Organisations per 100,000 inhabitants",
        ],
    ),
    (
        "membersPer1000Inhabitants",
        [
            "Membres pour 1 000 habitants",
            "الأعضاء لكل 1000 نسمة",
            "Members per 1,000 inhabitants",
        ],
    ),
    (
        "membersWomenPer1000Women",
        [
            "Membres femmes pour 1 000 femmes",
            "العضوات لكل 1000 امرأة",
            "Women members per 1,000 women",
        ],
    ),
    (
        "employeesShareOfEmployed",
        [
            "Salariés / actifs occupés",
            "الأجراء / النشيطون المشتغلون",
            "Employees / employed",
        ],
    ),
    (
        "employeesWomenShareOfEmployedWomen",
        [
            "Salariées / actives occupées",
            "الأجيرات / النشيطات المشتغلات",
            "Women employees / employed women",
        ],
    ),
    (
        "employeesMenShareOfEmployedMen",
        [
            "Salariés hommes / actifs occupés hommes",
            "الأجراء الذكور / النشيطون المشتغلون الذكور",
            "Men employees / employed men",
        ],
    ),
    (
        "censusCooperativeMembers",
        [
            "Coopérateurs parmi les actifs occupés, selon le recensement",
            "المتعاونون من بين النشيطين المشتغلين حسب الإحصاء",
            "Cooperative members among the employed, census estimate",
        ],
    ),
    (
        "censusCooperativeMembersWomen",
        [
            "Coopératrices parmi les actives occupées, selon le recensement",
            "المتعاونات من بين النشيطات المشتغلات حسب الإحصاء",
            "Women cooperative members among the employed, census estimate",
        ],
    ),
    (
        "censusCooperativeMembersMen",
        [
            "Coopérateurs hommes parmi les actifs occupés, selon le recensement",
            "المتعاونون الذكور من بين النشيطين المشتغلين حسب الإحصاء",
            "Men cooperative members among the employed, census estimate",
        ],
    ),
];

/// The word for a value that is not known, in `lang`.
pub fn unknown_label(lang: Lang) -> &'static str {
    ["inconnu", "غير معروف", "unknown"][lang.index()]
}

/// A family's label in `lang`.
pub fn family_label(family: crate::Family, lang: Lang) -> &'static str {
    use crate::Family;
    let labels = match family {
        Family::Cooperative => ["coopérative", "تعاونية", "cooperative"],
        Family::Association => ["association", "جمعية", "association"],
        Family::Mutual => ["mutuelle", "تعاضدية", "mutual"],
    };
    labels[lang.index()]
}

/// A family's registry, as citations name it, in `lang`.
pub fn registry_label(family: crate::Family, lang: Lang) -> &'static str {
    use crate::Family;
    let labels = match family {
        Family::Cooperative => [
            "registre des coopératives",
            "سجل التعاونيات",
            "cooperative registry",
        ],
        Family::Association => [
            "registre des associations",
            "سجل الجمعيات",
            "association registry",
        ],
        Family::Mutual => [
            "registre des mutuelles",
            "سجل التعاضديات",
            "mutual registry",
        ],
    };
    labels[lang.index()]
}

/// A status's label in `lang` (the code itself when it is not one of the four).
pub fn status_label(status: &str, lang: Lang) -> &str {
    let labels = match status {
        "active" => ["en activité", "نشطة", "active"],
        "in_liquidation" => ["en liquidation", "في طور التصفية", "in liquidation"],
        "dissolved" => ["dissoute", "منحلة", "dissolved"],
        "unknown" => ["inconnu", "غير معروف", "unknown"],
        other => return other,
    };
    labels[lang.index()]
}

/// The label in `lang` of `code`, a value of the code column `column` (family,
/// sector, region, province or status); the code itself when it has none.
pub fn code_label<'a>(column: &str, code: &'a str, lang: Lang) -> &'a str {
    let r = crate::reference::reference();
    match column {
        col::FAMILY => crate::Family::parse(code).map_or(code, |f| family_label(f, lang)),
        col::SECTOR_CODE => r.sector(code).map_or(code, |s| s.name(lang)),
        col::REGION_CODE => r.region(code).map_or(code, |s| s.name(lang)),
        col::PROVINCE_CODE => r.province(code).map_or(code, |s| s.name(lang)),
        col::STATUS => status_label(code, lang),
        _ => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow_schema::{organisation_schema, quarantine_schema};

    #[test]
    fn every_published_column_is_described_in_order() {
        let names: Vec<_> = organisation_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let documented: Vec<_> = ORGANISATION_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, documented);
        let names: Vec<_> = quarantine_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let documented: Vec<_> = QUARANTINE_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, documented);
        for c in ORGANISATION_COLUMNS.iter().chain(QUARANTINE_COLUMNS) {
            assert!(c.heading.iter().all(|h| !h.is_empty()), "{}", c.name);
            assert!(!c.fr.is_empty() && !c.en.is_empty(), "{}", c.name);
        }
    }

    #[test]
    fn measures_have_headings_in_every_language() {
        let heading = |measure: &str, lang: Lang| {
            let (_, h) = MEASURE_HEADINGS
                .iter()
                .find(|(m, _)| *m == measure)
                .unwrap();
            h[lang.index()]
        };
        for lang in [Lang::Fr, Lang::Ar, Lang::En] {
            assert!(!heading("members", lang).is_empty());
        }
        assert_eq!(heading("membersWomen", Lang::En), "Women members");
        for status in crate::Status::ALL {
            assert_ne!(status_label(status.as_str(), Lang::Ar), status.as_str());
        }
    }
}
