//! A registry row's raw values become a canonical [`Organisation`], or a rejection.

use std::collections::HashMap;

use ess_schemas::places::{ResolvedPlace, resolve_place};
use ess_schemas::reference::{OTHER_SECTOR, Reference};
use ess_schemas::values::{
    DateForms, Raw, cooperative_status, date_field, employees_total, integer_field, mutual_status,
    yes_no,
};
use ess_schemas::{Family, Flags, Organisation, QualityFlag, Status};

use crate::fields::{Field, RawRecord};

/// Why a row is not an organisation. It goes to the quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A stable reason code (`missing_source_id`, `missing_name`, `invalid_id`,
    /// `invalid_json`, `not_an_object`).
    pub reason: &'static str,
    /// A human-readable detail.
    pub detail: String,
}

impl Rejection {
    /// A rejection with its detail.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}

/// The source identifier: trimmed text; a number without its decimal part; a number
/// that is not whole, or a value that is not text or number, rejects the row.
fn source_id(raw: &Raw) -> Result<String, Rejection> {
    let id = match raw {
        Raw::Empty => String::new(),
        Raw::Text(s) => s.trim().to_owned(),
        Raw::Int(i) => i.to_string(),
        Raw::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 => {
            (*f as i64).to_string()
        }
        other => {
            return Err(Rejection::new(
                "invalid_id",
                format!(
                    "identifier `{}` is not a whole number or text",
                    other.describe()
                ),
            ));
        }
    };
    if id.is_empty() {
        return Err(Rejection::new(
            "missing_source_id",
            "the row has no identifier",
        ));
    }
    Ok(id)
}

fn text(raw: &Raw) -> String {
    raw.as_text().trim().to_owned()
}

/// Splits an association's `Domaine d'intervention` on ` / ` and `;`.
fn activity_labels(text: &str) -> Vec<String> {
    text.split(';')
        .flat_map(|part| part.split(" / "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What decides whether a row is accepted: its identifier and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The source identifier (trimmed; never empty).
    pub source_id: String,
    /// The name: the Latin-script name, or else the Arabic one (never empty).
    pub name: String,
    /// The Arabic name, when given.
    pub name_ar: Option<String>,
}

/// A row's identity, or why it is rejected. Only the identifier and the names reject a
/// row: the first pass of an ingest (duplicate resolution) calls this alone, and must
/// accept exactly the rows [`Normalizer::normalize`] accepts.
pub fn identity(record: &RawRecord) -> Result<Identity, Rejection> {
    let source_id = source_id(record.get(Field::SourceId))?;
    let name_latin = text(record.get(Field::Name));
    let name_ar = Some(text(record.get(Field::NameAr))).filter(|s| !s.is_empty());
    let name = match (name_latin.is_empty(), &name_ar) {
        (false, _) => name_latin,
        (true, Some(ar)) => ar.clone(),
        (true, None) => {
            return Err(Rejection::new(
                "missing_name",
                format!("organisation `{source_id}` has no name"),
            ));
        }
    };
    Ok(Identity {
        source_id,
        name,
        name_ar,
    })
}

/// [`identity`] of a row whose fields are all text (a CSV row), without allocating:
/// its trimmed identifier when the row is accepted.
pub fn text_identity<'t>(source_id: &'t str, name: &str, name_ar: &str) -> Option<&'t str> {
    let id = source_id.trim();
    let named = !name.trim().is_empty() || !name_ar.trim().is_empty();
    (!id.is_empty() && named).then_some(id)
}

/// Normalises one row of `family`'s registry (with a fresh [`Normalizer`]).
pub fn normalize(
    reference: &Reference,
    family: Family,
    record: &RawRecord,
    source_file: &str,
    source_row: i64,
) -> Result<Organisation, Rejection> {
    Normalizer::new(reference).normalize(family, record, source_file, source_row)
}

/// Distinct texts memoised before the memo is emptied (adversarial input stays bounded).
const MEMO_LIMIT: usize = 100_000;

/// Normalises rows, remembering how each distinct place and sector text resolved:
/// registries repeat a few hundred spellings millions of times, and resolution (Unicode
/// normalisation, then lookups) is a pure function of the text.
#[derive(Debug)]
pub struct Normalizer<'r> {
    reference: &'r Reference,
    /// Region text → province text → resolution.
    places: Memo<Memo<(ResolvedPlace, Flags)>>,
    places_len: usize,
    /// Per family (as indexed by [`family_index`]): label → sector code.
    sectors: [Memo<Option<String>>; 3],
}

/// A map looked up by borrowed text, so a hit allocates nothing.
type Memo<V> = HashMap<String, V, foldhash::fast::FixedState>;

fn family_index(family: Family) -> usize {
    match family {
        Family::Cooperative => 0,
        Family::Association => 1,
        Family::Mutual => 2,
    }
}

impl<'r> Normalizer<'r> {
    /// A normaliser over `reference`.
    pub fn new(reference: &'r Reference) -> Self {
        Normalizer {
            reference,
            places: Memo::default(),
            places_len: 0,
            sectors: Default::default(),
        }
    }

    fn place(&mut self, region: &str, province: &str, flags: &mut Flags) -> ResolvedPlace {
        if self.places_len > MEMO_LIMIT {
            self.places.clear();
            self.places_len = 0;
        }
        let provinces = match self.places.get_mut(region) {
            Some(p) => p,
            None => self.places.entry(region.to_owned()).or_default(),
        };
        let (place, raised) = match provinces.get(province) {
            Some(hit) => hit,
            None => {
                let mut raised = Flags::default();
                let place = resolve_place(self.reference, region, province, &mut raised);
                self.places_len += 1;
                provinces
                    .entry(province.to_owned())
                    .or_insert((place, raised))
            }
        };
        for f in raised.iter() {
            flags.raise(f);
        }
        place.clone()
    }

    fn sector(&mut self, family: Family, label: &str) -> Option<String> {
        let memo = &mut self.sectors[family_index(family)];
        if memo.len() > MEMO_LIMIT {
            memo.clear();
        }
        if let Some(code) = memo.get(label) {
            return code.clone();
        }
        let code = self
            .reference
            .match_sector(family, label)
            .map(|s| s.code.clone());
        memo.insert(label.to_owned(), code.clone());
        code
    }

    /// Normalises one row of `family`'s registry.
    pub fn normalize(
        &mut self,
        family: Family,
        record: &RawRecord,
        source_file: &str,
        source_row: i64,
    ) -> Result<Organisation, Rejection> {
        let Identity {
            source_id,
            name,
            name_ar,
        } = identity(record)?;

        let mut flags = Flags::default();

        let sector_text = text(record.get(Field::Sector));
        let activities = match family {
            Family::Association => activity_labels(&sector_text),
            _ => Vec::new(),
        };
        let label = match family {
            Family::Association => activities.first().cloned().unwrap_or_default(),
            _ => sector_text,
        };
        let sector_code = if label.is_empty() {
            OTHER_SECTOR.to_owned()
        } else {
            match self.sector(family, &label) {
                Some(code) => code,
                None => {
                    flags.raise(QualityFlag::UnknownSector);
                    OTHER_SECTOR.to_owned()
                }
            }
        };

        let place = self.place(
            &record.get(Field::Region).as_text(),
            &record.get(Field::Province).as_text(),
            &mut flags,
        );

        let forms = match family {
            Family::Cooperative => DateForms::Csv,
            Family::Association => DateForms::Xlsx,
            Family::Mutual => DateForms::Json,
        };
        let founded = date_field(record.get(Field::Founded), forms, &mut flags);

        let status = match family {
            Family::Cooperative => cooperative_status(record.get(Field::Status), &mut flags),
            Family::Association => Status::Active,
            Family::Mutual => mutual_status(record.get(Field::Status), &mut flags),
        };

        let members_total = integer_field(record.get(Field::Members), &mut flags);
        let members_women = integer_field(record.get(Field::MembersWomen), &mut flags);
        let given_total = integer_field(record.get(Field::EmployeesTotal), &mut flags);
        let employees_women = integer_field(record.get(Field::EmployeesWomen), &mut flags);
        let employees_men = integer_field(record.get(Field::EmployeesMen), &mut flags);
        let volunteers = integer_field(record.get(Field::Volunteers), &mut flags);
        let employees_total =
            employees_total(given_total, employees_women, employees_men, &mut flags);
        let public_utility = match family {
            Family::Association => yes_no(record.get(Field::PublicUtility)),
            _ => None,
        };

        Ok(Organisation {
            org_id: [family.as_str(), ":", &source_id].concat(),
            family,
            source_id,
            name,
            name_ar,
            sector_code,
            activities,
            region_code: place.region_code,
            province_code: place.province_code,
            founded_on: founded.on,
            founded_year: founded.year,
            status,
            members_total,
            members_women,
            employees_total,
            employees_women,
            employees_men,
            volunteers,
            public_utility,
            quality_flags: flags,
            source_file: source_file.to_owned(),
            source_row,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ess_schemas::reference;

    fn record(pairs: &[(Field, Raw)]) -> RawRecord {
        let mut r = RawRecord::default();
        for (f, v) in pairs {
            r.set(*f, v.clone());
        }
        r
    }

    fn t(s: &str) -> Raw {
        Raw::Text(s.into())
    }

    #[test]
    fn a_cooperative_row() {
        let r = record(&[
            (Field::SourceId, t(" 2294-000042 ")),
            (Field::Name, t("Coopérative Zitoune 42")),
            (Field::Founded, t("02/03/2017")),
            (Field::Region, t("L'Oriental")),
            (Field::Province, t("Taourirt")),
            (Field::Sector, t(" argane ")),
            (Field::Members, t("16")),
            (Field::MembersWomen, t("3")),
            (Field::EmployeesTotal, t("N/D")),
            (Field::EmployeesWomen, t("0")),
            (Field::EmployeesMen, t("0")),
            (Field::Status, t("En liquidation")),
        ]);
        let o = normalize(reference(), Family::Cooperative, &r, "c.csv", 2).unwrap();
        assert_eq!(o.org_id, "cooperative:2294-000042");
        assert_eq!(o.sector_code, "ARGAN");
        assert_eq!(o.region_code.as_deref(), Some("MA-02"));
        assert_eq!(o.province_code.as_deref(), Some("MA-TAI"));
        assert_eq!(o.founded_year, Some(2017));
        assert_eq!(o.status, Status::InLiquidation);
        assert_eq!(
            o.employees_total,
            Some(0),
            "women + men when no total is given"
        );
        assert!(o.quality_flags.is_empty());
        assert!(o.activities.is_empty());
    }

    #[test]
    fn an_association_row_falls_back_to_the_arabic_name_and_splits_activities() {
        let r = record(&[
            (Field::SourceId, Raw::Float(1203.0)),
            (Field::NameAr, t("جمعية 3")),
            (Field::Sector, t("Alphabétisation / Sport;; Inconnu")),
            (Field::EmployeesWomen, t("beaucoup")),
            (Field::EmployeesMen, Raw::Float(2.0)),
            (Field::PublicUtility, t("Oui")),
        ]);
        let o = normalize(reference(), Family::Association, &r, "a.xlsx", 9).unwrap();
        assert_eq!(o.source_id, "1203");
        assert_eq!(o.name, "جمعية 3");
        assert_eq!(o.name_ar.as_deref(), Some("جمعية 3"));
        assert_eq!(o.sector_code, "EDU");
        assert_eq!(o.activities, vec!["Alphabétisation", "Sport", "Inconnu"]);
        assert_eq!(o.employees_women, None);
        assert_eq!(o.employees_total, None);
        assert!(o.quality_flags.contains(QualityFlag::InvalidNumber));
        assert_eq!(o.status, Status::Active);
        assert_eq!(o.public_utility, Some(true));
    }

    #[test]
    fn unknown_and_empty_sectors() {
        let base = [(Field::SourceId, t("1")), (Field::Name, t("X"))];
        let mut r = record(&base);
        r.set(Field::Sector, t("Spatial"));
        let o = normalize(reference(), Family::Mutual, &r, "m.json", 1).unwrap();
        assert_eq!(o.sector_code, "OTHER");
        assert!(o.quality_flags.contains(QualityFlag::UnknownSector));
        let o = normalize(reference(), Family::Mutual, &record(&base), "m.json", 1).unwrap();
        assert_eq!(o.sector_code, "OTHER");
        assert!(o.quality_flags.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn text_identity_accepts_what_identity_accepts(
            id in "[ \t1a]{0,3}",
            name in "[ \ta]{0,2}",
            name_ar in proptest::option::of("[ \tع]{0,2}"),
        ) {
            let mut r = record(&[(Field::SourceId, t(&id)), (Field::Name, t(&name))]);
            if let Some(ar) = &name_ar {
                r.set_text(Field::NameAr, ar);
            }
            let full = identity(&r).ok().map(|i| i.source_id);
            let text = text_identity(&id, &name, name_ar.as_deref().unwrap_or(""));
            proptest::prop_assert_eq!(full.as_deref(), text);
        }
    }

    #[test]
    fn rejections() {
        let reject = |pairs: &[(Field, Raw)]| {
            normalize(reference(), Family::Cooperative, &record(pairs), "c.csv", 3)
                .unwrap_err()
                .reason
        };
        assert_eq!(reject(&[(Field::Name, t("X"))]), "missing_source_id");
        assert_eq!(
            reject(&[(Field::SourceId, t("  ")), (Field::Name, t("X"))]),
            "missing_source_id"
        );
        assert_eq!(reject(&[(Field::SourceId, t("1"))]), "missing_name");
        assert_eq!(
            reject(&[(Field::SourceId, Raw::Float(1.5)), (Field::Name, t("X"))]),
            "invalid_id"
        );
    }
}
