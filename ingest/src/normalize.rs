//! A registry row's raw values become a canonical [`Organisation`], or a rejection.
//!
//! The rules are SOURCES.md's: identity, names, sectors through the family's aliases,
//! place resolution (province, region, legacy region: `ess_schemas::places`), dates
//! per registry, integers, employees total, status; each rule that does not take a
//! value as given raises a quality flag. A row without identifier or name is a
//! `Rejection`, which the reader sends to the quarantine with the row's raw values.
//! Pass one of an ingest calls `identity` alone (for CSV rows `bytes_named` and
//! `named_identity`, without allocating), which accepts exactly the rows
//! normalisation accepts.
//!
//! Place, sector and status texts are memoised per distinct spelling, looked up by
//! borrowed text. The ingest calls `Normalizer::normalize_ref`, which writes a row's
//! texts into buffers it reuses and returns an `OrganisationRef` borrowing them (codes
//! borrowed from the reference data): no allocation per row once the buffers have
//! grown. `normalize` (an owned `Organisation`) is the same code.

use std::collections::HashMap;

use ess_schemas::places::{ResolvedPlace, resolve_place};
use ess_schemas::reference::{OTHER_SECTOR, Reference};
use ess_schemas::value_rules::{
    DateForms, RawRef, cooperative_status, date_field, employees_total, integer_field,
    mutual_status, trim, yes_no,
};
use ess_schemas::{Family, Flags, Organisation, OrganisationRef, QualityFlag, Status};

use crate::input_fields::{Field, Record};

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

/// The source identifier, written to `out`: trimmed text; a number without its decimal
/// part; a number that is not whole, or a value that is not text or number, rejects
/// the row.
fn source_id_into(raw: RawRef<'_>, out: &mut String) -> Result<(), Rejection> {
    use std::fmt::Write;
    out.clear();
    match raw {
        RawRef::Empty => {}
        RawRef::Text(s) => out.push_str(trim(s)),
        RawRef::Int(i) => write!(out, "{i}").expect("writing to a String"),
        RawRef::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 => {
            write!(out, "{}", f as i64).expect("writing to a String")
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
    }
    if out.is_empty() {
        return Err(Rejection::new(
            "missing_source_id",
            "the row has no identifier",
        ));
    }
    Ok(())
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
pub fn identity<'r>(record: impl Into<Record<'r>>) -> Result<Identity, Rejection> {
    let mut text = IdentityText::default();
    identity_into(record.into(), &mut text)?;
    Ok(Identity {
        source_id: text.source_id,
        name: text.name,
        name_ar: Some(text.name_ar).filter(|s| !s.is_empty()),
    })
}

/// A row's identity in reusable buffers (`name_ar` empty when not given).
#[derive(Debug, Default)]
struct IdentityText {
    source_id: String,
    name: String,
    name_ar: String,
}

/// [`identity`], written into `out`.
fn identity_into(record: Record<'_>, out: &mut IdentityText) -> Result<(), Rejection> {
    source_id_into(record.get(Field::SourceId), &mut out.source_id)?;
    out.name_ar.clear();
    out.name_ar
        .push_str(trim(&record.get(Field::NameAr).as_text()));
    out.name.clear();
    let latin = record.get(Field::Name).as_text();
    let latin = trim(&latin);
    if !latin.is_empty() {
        out.name.push_str(latin);
    } else if !out.name_ar.is_empty() {
        out.name.push_str(&out.name_ar);
    } else {
        return Err(Rejection::new(
            "missing_name",
            format!("organisation `{}` has no name", out.source_id),
        ));
    }
    Ok(())
}

/// [`identity`] of a row whose fields are all text (a CSV row), without allocating:
/// its trimmed identifier when the row is accepted, that is when `source_id` trimmed is
/// not empty and the row is `named` ([`bytes_named`]).
pub fn named_identity(source_id: &str, named: bool) -> Option<&str> {
    let id = source_id.trim();
    (!id.is_empty() && named).then_some(id)
}

/// Whether a row with these names has one ([`identity`]'s test).
fn named(name: &str, name_ar: &str) -> bool {
    !name.trim().is_empty() || !name_ar.trim().is_empty()
}

/// Whether a row with these name fields, as read from a file before decoding (bytes
/// that are not UTF-8 read as U+FFFD), has a name, as `named` says of decoded ones. A
/// printable ASCII byte is a character no trimming removes, so nearly every row is
/// answered without decoding its names.
pub fn bytes_named(name: &[u8], name_ar: &[u8]) -> bool {
    let printable = |b: &[u8]| b.iter().any(u8::is_ascii_graphic);
    printable(name)
        || printable(name_ar)
        || named(
            &String::from_utf8_lossy(name),
            &String::from_utf8_lossy(name_ar),
        )
}

/// Normalises one row of `family`'s registry (with a fresh [`Normalizer`]).
pub fn normalize<'r>(
    reference: &Reference,
    family: Family,
    record: impl Into<Record<'r>>,
    source_file: &str,
    source_row: i64,
) -> Result<Organisation, Rejection> {
    Normalizer::new(reference).normalize(family, record, source_file, source_row)
}

/// Distinct texts memoised before the memo is emptied (adversarial input stays bounded).
const MEMO_LIMIT: usize = 100_000;

/// Normalises rows, remembering how each distinct place and sector text resolved:
/// registries repeat a few hundred spellings millions of times, and resolution (Unicode
/// normalisation, then lookups) is a pure function of the text. A row's texts are
/// written to buffers the normaliser reuses ([`Normalizer::normalize_ref`]), so a row
/// allocates nothing once they have grown.
#[derive(Debug)]
pub struct Normalizer<'r> {
    reference: &'r Reference,
    /// Region text → province text → resolution and the flags it raised.
    places: Memo<Memo<(ResolvedPlace<'r>, Flags)>>,
    places_len: usize,
    /// Per family (as indexed by [`family_index`]): label → sector code.
    sectors: [Memo<Option<&'r str>>; 3],
    /// Per family: status text → status and the flags it raised.
    statuses: [Memo<(Status, Flags)>; 3],
    identity: IdentityText,
    org_id: String,
    activities: Vec<String>,
    flags: Flags,
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

/// The resolution of `region` and `province` texts, memoised in `memo`.
fn place<'r>(
    reference: &'r Reference,
    memo: &mut Memo<Memo<(ResolvedPlace<'r>, Flags)>>,
    memo_len: &mut usize,
    region: &str,
    province: &str,
    flags: &mut Flags,
) -> ResolvedPlace<'r> {
    if *memo_len > MEMO_LIMIT {
        memo.clear();
        *memo_len = 0;
    }
    let provinces = match memo.get_mut(region) {
        Some(p) => p,
        None => memo.entry(region.to_owned()).or_default(),
    };
    let before = provinces.len();
    let place = memoised(provinces, province, flags, |raised| {
        resolve_place(reference, region, province, raised)
    });
    *memo_len += provinces.len() - before;
    place
}

/// `memo`'s value for `key`, resolved by `resolve` on a miss (the flags it raises kept
/// with it); the flags are raised in `flags` on every call, hit or miss.
fn memoised<V: Copy>(
    memo: &mut Memo<(V, Flags)>,
    key: &str,
    flags: &mut Flags,
    resolve: impl FnOnce(&mut Flags) -> V,
) -> V {
    let (value, raised) = match memo.get(key) {
        Some(hit) => hit,
        None => {
            let mut raised = Flags::default();
            let value = resolve(&mut raised);
            memo.entry(key.to_owned()).or_insert((value, raised))
        }
    };
    for f in raised.iter() {
        flags.raise(f);
    }
    *value
}

/// The sector code of `label` in `family`'s aliases, memoised in `memo`.
fn sector_code<'r>(
    reference: &'r Reference,
    memo: &mut Memo<Option<&'r str>>,
    family: Family,
    label: &str,
) -> Option<&'r str> {
    if memo.len() > MEMO_LIMIT {
        memo.clear();
    }
    if let Some(code) = memo.get(label) {
        return *code;
    }
    let code = reference
        .match_sector(family, label)
        .map(|s| s.code.as_str());
    memo.insert(label.to_owned(), code);
    code
}

/// The status of `raw` in `family`'s registry, text memoised in `memo`: a registry
/// writes its few statuses on every row, and each read normalises the text.
fn status(
    memo: &mut Memo<(Status, Flags)>,
    family: Family,
    raw: RawRef<'_>,
    flags: &mut Flags,
) -> Status {
    let read = |raw: RawRef<'_>, flags: &mut Flags| match family {
        Family::Mutual => mutual_status(raw, flags),
        _ => cooperative_status(raw, flags),
    };
    let RawRef::Text(text) = raw else {
        return read(raw, flags);
    };
    if memo.len() > MEMO_LIMIT {
        memo.clear();
    }
    memoised(memo, text, flags, |raised| read(raw, raised))
}

impl<'r> Normalizer<'r> {
    /// A normaliser over `reference`.
    pub fn new(reference: &'r Reference) -> Self {
        Normalizer {
            reference,
            places: Memo::default(),
            places_len: 0,
            sectors: Default::default(),
            statuses: Default::default(),
            identity: IdentityText::default(),
            org_id: String::new(),
            activities: Vec::new(),
            flags: Flags::default(),
        }
    }

    /// Normalises one row of `family`'s registry.
    pub fn normalize<'a>(
        &mut self,
        family: Family,
        record: impl Into<Record<'a>>,
        source_file: &str,
        source_row: i64,
    ) -> Result<Organisation, Rejection> {
        self.normalize_ref(family, record, source_file, source_row)
            .map(|o| o.to_owned())
    }

    /// Normalises one row of `family`'s registry, its texts borrowed from `record`, the
    /// reference data and the normaliser's buffers (until its next row).
    pub fn normalize_ref<'s, 'a>(
        &'s mut self,
        family: Family,
        record: impl Into<Record<'a>>,
        source_file: &'s str,
        source_row: i64,
    ) -> Result<OrganisationRef<'s>, Rejection> {
        let record = record.into();
        identity_into(record, &mut self.identity)?;
        let flags = &mut self.flags;
        flags.clear();

        let sector_raw = record.get(Field::Sector).as_text();
        let sector_text = trim(&sector_raw);
        self.activities.clear();
        if family == Family::Association {
            self.activities.extend(activity_labels(sector_text));
        }
        let label = match family {
            Family::Association => self.activities.first().map_or("", String::as_str),
            _ => sector_text,
        };
        let sector = if label.is_empty() {
            OTHER_SECTOR
        } else {
            let memo = &mut self.sectors[family_index(family)];
            match sector_code(self.reference, memo, family, label) {
                Some(code) => code,
                None => {
                    flags.raise(QualityFlag::UnknownSector);
                    OTHER_SECTOR
                }
            }
        };

        let place = place(
            self.reference,
            &mut self.places,
            &mut self.places_len,
            &record.get(Field::Region).as_text(),
            &record.get(Field::Province).as_text(),
            flags,
        );

        let forms = match family {
            Family::Cooperative => DateForms::Csv,
            Family::Association => DateForms::Xlsx,
            Family::Mutual => DateForms::Json,
        };
        let founded = date_field(record.get(Field::Founded), forms, flags);

        let status = match family {
            Family::Association => Status::Active,
            Family::Cooperative | Family::Mutual => status(
                &mut self.statuses[family_index(family)],
                family,
                record.get(Field::Status),
                flags,
            ),
        };

        let members_total = integer_field(record.get(Field::Members), flags);
        let members_women = integer_field(record.get(Field::MembersWomen), flags);
        let given_total = integer_field(record.get(Field::EmployeesTotal), flags);
        let employees_women = integer_field(record.get(Field::EmployeesWomen), flags);
        let employees_men = integer_field(record.get(Field::EmployeesMen), flags);
        let volunteers = integer_field(record.get(Field::Volunteers), flags);
        let employees_total = employees_total(given_total, employees_women, employees_men, flags);
        let public_utility = match family {
            Family::Association => yes_no(record.get(Field::PublicUtility)),
            _ => None,
        };

        self.org_id.clear();
        self.org_id.push_str(family.as_str());
        self.org_id.push(':');
        self.org_id.push_str(&self.identity.source_id);
        let identity = &self.identity;
        Ok(OrganisationRef {
            org_id: &self.org_id,
            family,
            source_id: &identity.source_id,
            name: &identity.name,
            name_ar: Some(identity.name_ar.as_str()).filter(|s| !s.is_empty()),
            sector_code: sector,
            activities: &self.activities,
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
            quality_flags: &self.flags,
            source_file,
            source_row,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input_fields::RawRecord;
    use ess_schemas::reference;
    use ess_schemas::value_rules::Raw;

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
        fn named_identity_accepts_what_identity_accepts(
            id in "[ \t1a]{0,3}",
            name in "[ \ta]{0,2}",
            name_ar in proptest::option::of("[ \tع]{0,2}"),
        ) {
            let mut r = record(&[(Field::SourceId, t(&id)), (Field::Name, t(&name))]);
            if let Some(ar) = &name_ar {
                r.set_text(Field::NameAr, ar);
            }
            let full = identity(&r).ok().map(|i| i.source_id);
            let text = named_identity(&id, named(&name, name_ar.as_deref().unwrap_or("")));
            proptest::prop_assert_eq!(full.as_deref(), text);
        }

        #[test]
        fn names_read_as_bytes_are_named_as_decoded_ones(
            name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6),
            pick in proptest::collection::vec(0usize..8, 0..4),
        ) {
            // Arbitrary bytes (invalid UTF-8 too), and texts of spaces, controls and
            // Unicode spaces with or without a letter.
            let parts = [" ", "\t", "\u{1}", "\u{a0}", "\u{202f}", "\u{3000}", "a", "ع"];
            let text: String = pick.iter().map(|&i| parts[i]).collect();
            for (a, b) in [(&name[..], text.as_bytes()), (text.as_bytes(), &name[..])] {
                let decoded = named(&String::from_utf8_lossy(a), &String::from_utf8_lossy(b));
                proptest::prop_assert_eq!(bytes_named(a, b), decoded, "{:?} {:?}", a, b);
            }
        }
    }

    #[test]
    fn a_reused_normaliser_carries_nothing_from_one_row_to_the_next() {
        let rows = [
            (
                Family::Association,
                record(&[
                    (Field::SourceId, t("A1")),
                    (Field::Name, t("Assoc")),
                    (Field::NameAr, t("جمعية")),
                    (Field::Sector, t("Sport; Culture")),
                    (Field::Region, t("Souss-Massa")),
                    (Field::Members, t("beaucoup")),
                ]),
            ),
            (
                Family::Association,
                record(&[(Field::SourceId, Raw::Int(7)), (Field::NameAr, t("ب"))]),
            ),
            (
                Family::Cooperative,
                record(&[
                    (Field::SourceId, t(" 12 ")),
                    (Field::Name, t("Coop")),
                    (Field::Sector, t("argane")),
                    (Field::Province, t("Taroudant")),
                ]),
            ),
            (Family::Cooperative, record(&[(Field::Name, t("Sans id"))])),
            (
                Family::Mutual,
                record(&[(Field::SourceId, t("M")), (Field::Name, t("Mutuelle"))]),
            ),
            (
                Family::Cooperative,
                record(&[(Field::SourceId, t("13")), (Field::Name, t("Coop 13"))]),
            ),
        ];
        // Statuses, memoised by text per family: the same text twice, unknown ones
        // flagged every time, and a mutual's text read by the mutual rules.
        let statuses = [
            (Family::Cooperative, "En liquidation"),
            (Family::Cooperative, "Bizarre"),
            (Family::Cooperative, "Bizarre"),
            (Family::Cooperative, "agréée"),
            (Family::Mutual, "Agréée"),
            (Family::Mutual, "agréée"),
            (Family::Mutual, "En liquidation"),
            (Family::Cooperative, " en  LIQUIDATION "),
        ]
        .map(|(family, status)| {
            let r = record(&[
                (Field::SourceId, t("S")),
                (Field::Name, t("Statut")),
                (Field::Status, t(status)),
            ]);
            (family, r)
        });
        let rows: Vec<_> = rows.into_iter().chain(statuses).collect();
        let mut reused = Normalizer::new(reference());
        for (i, (family, r)) in rows.iter().enumerate() {
            let fresh = normalize(reference(), *family, r, "f", i as i64);
            let again = reused
                .normalize_ref(*family, r, "f", i as i64)
                .map(|o| o.to_owned());
            assert_eq!(again, fresh, "row {i}");
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
