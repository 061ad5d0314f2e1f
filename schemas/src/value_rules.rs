//! Value rules shared by every registry (SOURCES.md, "Rules common to all
//! registries"): integers, dates, statuses, yes/no, and the employees total.

use chrono::{Datelike, NaiveDate};

use crate::match_key::{normalize_key, push_normalized_key};
use crate::organisation::{Flags, QualityFlag, Status};

/// `str::trim`, answered without decoding when both ends are printable ASCII, which no
/// trimming removes: nearly every registry value, and a row has a dozen to trim.
#[inline]
pub fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// A value as a reader found it, before any rule is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// A missing or null field, or an empty cell: read as empty text.
    Empty,
    /// Text (CSV fields, text cells, JSON strings).
    Text(String),
    /// A whole number (JSON integers).
    Int(i64),
    /// A floating-point number (numeric XLSX cells, JSON numbers with a fraction or
    /// exponent).
    Float(f64),
    /// A boolean (XLSX boolean cells, JSON booleans).
    Bool(bool),
    /// A date (XLSX date cells).
    Date(NaiveDate),
    /// Anything else (a JSON object or array, an XLSX error cell), with a description.
    Other(String),
}

impl Raw {
    /// The value as text, for fields that take text (names, places, labels).
    /// Numbers become their decimal text; a whole float is written without a fraction.
    pub fn to_text(&self) -> String {
        self.as_text().into_owned()
    }

    /// [`Raw::to_text`], borrowing where the value is already text.
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Raw::Empty => Cow::Borrowed(""),
            Raw::Text(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.owned_text()),
        }
    }

    fn owned_text(&self) -> String {
        match self {
            Raw::Empty => String::new(),
            Raw::Text(s) => s.clone(),
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Raw::Float(f) => f.to_string(),
            Raw::Bool(b) => b.to_string(),
            Raw::Date(d) => d.format("%Y-%m-%d").to_string(),
            Raw::Other(_) => String::new(),
        }
    }

    /// Whether this is empty text (after trimming) or missing.
    pub fn is_blank(&self) -> bool {
        match self {
            Raw::Empty => true,
            Raw::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// A short rendering for the quarantine's raw values.
    pub fn describe(&self) -> String {
        match self {
            Raw::Other(d) => d.clone(),
            other => other.to_text(),
        }
    }

    /// The value borrowed.
    pub fn as_ref(&self) -> RawRef<'_> {
        match self {
            Raw::Empty => RawRef::Empty,
            Raw::Text(s) => RawRef::Text(s),
            Raw::Int(i) => RawRef::Int(*i),
            Raw::Float(f) => RawRef::Float(*f),
            Raw::Bool(b) => RawRef::Bool(*b),
            Raw::Date(d) => RawRef::Date(*d),
            Raw::Other(d) => RawRef::Other(d),
        }
    }
}

/// A [`Raw`] value borrowed: what the rules read, whether the value is held in a
/// `Raw` or is a CSV field's text where the parser left it (no copy per field).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawRef<'a> {
    /// See [`Raw::Empty`].
    Empty,
    /// See [`Raw::Text`].
    Text(&'a str),
    /// See [`Raw::Int`].
    Int(i64),
    /// See [`Raw::Float`].
    Float(f64),
    /// See [`Raw::Bool`].
    Bool(bool),
    /// See [`Raw::Date`].
    Date(NaiveDate),
    /// See [`Raw::Other`].
    Other(&'a str),
}

impl<'a> From<&'a Raw> for RawRef<'a> {
    fn from(raw: &'a Raw) -> Self {
        raw.as_ref()
    }
}

impl<'a> RawRef<'a> {
    /// The value owned.
    pub fn to_owned(self) -> Raw {
        match self {
            RawRef::Empty => Raw::Empty,
            RawRef::Text(s) => Raw::Text(s.to_owned()),
            RawRef::Int(i) => Raw::Int(i),
            RawRef::Float(f) => Raw::Float(f),
            RawRef::Bool(b) => Raw::Bool(b),
            RawRef::Date(d) => Raw::Date(d),
            RawRef::Other(d) => Raw::Other(d.to_owned()),
        }
    }

    /// [`Raw::as_text`]: borrowed where the value is text.
    pub fn as_text(self) -> std::borrow::Cow<'a, str> {
        match self {
            RawRef::Empty => std::borrow::Cow::Borrowed(""),
            RawRef::Text(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.to_owned().owned_text()),
        }
    }

    /// [`Raw::describe`].
    pub fn describe(self) -> String {
        match self {
            RawRef::Text(s) | RawRef::Other(s) => s.to_owned(),
            other => other.to_owned().describe(),
        }
    }
}

/// Texts that mean "unknown" in a number field, compared case-insensitively.
const UNKNOWN_NUMBER_TEXTS: &[&str] = &["-", "n/d", "na", "?"];

/// Thousands separators removed from number texts.
const THOUSANDS_SEPARATORS: &[char] = &[' ', '\u{00A0}', '\u{202F}'];

/// An integer field. `Ok(None)` is unknown (empty, `-`, `N/D`, `NA`, `?`); `Err` is a
/// value that is not a non-negative integer, read as null and flagged `invalid_number`.
pub fn parse_integer<'a>(raw: impl Into<RawRef<'a>>) -> Result<Option<i64>, InvalidValue> {
    match raw.into() {
        RawRef::Empty => Ok(None),
        RawRef::Text(text) => parse_integer_text(text),
        RawRef::Int(i) if i >= 0 => Ok(Some(i)),
        RawRef::Float(f) if f.is_finite() && f.fract() == 0.0 && (0.0..9.0e18).contains(&f) => {
            Ok(Some(f as i64))
        }
        _ => Err(InvalidValue),
    }
}

fn parse_integer_text(text: &str) -> Result<Option<i64>, InvalidValue> {
    // Most values are plain digits: no need to copy them without separators.
    let plain = trim(text);
    if !plain.is_empty() && plain.len() <= 18 && plain.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(
            plain
                .bytes()
                .fold(0i64, |n, b| n * 10 + i64::from(b - b'0')),
        ));
    }
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !THOUSANDS_SEPARATORS.contains(c))
        .collect();
    if cleaned.is_empty()
        || UNKNOWN_NUMBER_TEXTS
            .iter()
            .any(|u| cleaned.eq_ignore_ascii_case(u))
    {
        return Ok(None);
    }
    if !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue);
    }
    cleaned.parse::<i64>().map(Some).map_err(|_| InvalidValue)
}

/// A value that breaks its field's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidValue;

/// Applies [`parse_integer`], raising `invalid_number` on `flags` for invalid values.
pub fn integer_field<'a>(raw: impl Into<RawRef<'a>>, flags: &mut Flags) -> Option<i64> {
    parse_integer(raw).unwrap_or_else(|InvalidValue| {
        flags.raise(QualityFlag::InvalidNumber);
        None
    })
}

/// The date forms a registry accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateForms {
    /// Cooperatives (CSV): `dd/mm/yyyy`, `yyyy-mm-dd` or a bare year `yyyy`.
    Csv,
    /// Associations (XLSX): date cells, or text `dd/mm/yyyy`.
    Xlsx,
    /// Mutuals (JSON): `yyyy-mm-dd`.
    Json,
}

/// A founding date: the date when a full valid date was given, and the year when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Founded {
    /// The date.
    pub on: Option<NaiveDate>,
    /// The year.
    pub year: Option<i32>,
}

/// A date field under the forms of its registry. `Err` is an impossible date or one in
/// no accepted format: date and year unknown, flagged `invalid_date`.
pub fn parse_date<'a>(
    raw: impl Into<RawRef<'a>>,
    forms: DateForms,
) -> Result<Founded, InvalidValue> {
    match raw.into() {
        RawRef::Empty => Ok(Founded::default()),
        RawRef::Date(d) if forms == DateForms::Xlsx => Ok(Founded {
            on: Some(d),
            year: Some(d.year()),
        }),
        RawRef::Text(text) => {
            let text = trim(text);
            if text.is_empty() {
                return Ok(Founded::default());
            }
            let parsed = match forms {
                DateForms::Csv => parse_dmy(text)
                    .or_else(|| parse_ymd(text))
                    .map(full)
                    .or_else(|| parse_bare_year(text)),
                DateForms::Xlsx => parse_dmy(text).map(full),
                DateForms::Json => parse_ymd(text).map(full),
            };
            parsed.ok_or(InvalidValue)
        }
        _ => Err(InvalidValue),
    }
}

/// Applies [`parse_date`], raising `invalid_date` on `flags` for invalid values.
pub fn date_field<'a>(raw: impl Into<RawRef<'a>>, forms: DateForms, flags: &mut Flags) -> Founded {
    parse_date(raw, forms).unwrap_or_else(|InvalidValue| {
        flags.raise(QualityFlag::InvalidDate);
        Founded::default()
    })
}

fn full(d: NaiveDate) -> Founded {
    Founded {
        on: Some(d),
        year: Some(d.year()),
    }
}

/// A run of ASCII digits: its value (meaningful up to 9 digits) and its length.
#[derive(Debug, Clone, Copy)]
struct Digits {
    value: u32,
    len: usize,
}

/// Splits `text` on `sep` into exactly three non-empty runs of ASCII digits, read in
/// one pass over the bytes (a date is read on every row of a registry).
fn three_parts(text: &str, sep: u8) -> Option<[Digits; 3]> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut parts = [Digits { value: 0, len: 0 }; 3];
    for (i, part) in parts.iter_mut().enumerate() {
        let start = at;
        let mut value = 0u32;
        while let Some(b) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            value = value.wrapping_mul(10).wrapping_add(u32::from(b - b'0'));
            at += 1;
        }
        *part = Digits {
            value,
            len: at - start,
        };
        if part.len == 0 {
            return None;
        }
        if i < 2 {
            if bytes.get(at) != Some(&sep) {
                return None;
            }
            at += 1;
        }
    }
    (at == bytes.len()).then_some(parts)
}

fn ymd(y: Digits, m: Digits, d: Digits) -> Option<NaiveDate> {
    if y.len != 4 || m.len > 2 || d.len > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.value as i32, m.value, d.value)
}

fn parse_dmy(text: &str) -> Option<NaiveDate> {
    let [d, m, y] = three_parts(text, b'/')?;
    ymd(y, m, d)
}

fn parse_ymd(text: &str) -> Option<NaiveDate> {
    let [y, m, d] = three_parts(text, b'-')?;
    ymd(y, m, d)
}

fn parse_bare_year(text: &str) -> Option<Founded> {
    (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())).then(|| Founded {
        on: None,
        year: text.parse().ok(),
    })
}

/// A cooperative's `Statut`. Unrecognised text is `unknown`, flagged `unknown_status`.
pub fn cooperative_status<'a>(raw: impl Into<RawRef<'a>>, flags: &mut Flags) -> Status {
    status_from(raw.into(), flags, |key| match key {
        "active" | "en activite" => Some(Status::Active),
        "en liquidation" => Some(Status::InLiquidation),
        "dissoute" | "radiee" => Some(Status::Dissolved),
        _ => None,
    })
}

/// A mutual's `statut`. Unrecognised text is `unknown`, flagged `unknown_status`.
pub fn mutual_status<'a>(raw: impl Into<RawRef<'a>>, flags: &mut Flags) -> Status {
    status_from(raw.into(), flags, |key| match key {
        "agreee" => Some(Status::Active),
        "retrait d agrement" => Some(Status::Dissolved),
        _ => None,
    })
}

fn status_from(raw: RawRef<'_>, flags: &mut Flags, map: impl Fn(&str) -> Option<Status>) -> Status {
    thread_local! {
        /// The key being built: a status is read on every row.
        static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let status = KEY.with_borrow_mut(|key| {
        key.clear();
        push_normalized_key(&raw.as_text(), key);
        if key.is_empty() {
            Some(Status::Unknown)
        } else {
            map(key)
        }
    });
    status.unwrap_or_else(|| {
        flags.raise(QualityFlag::UnknownStatus);
        Status::Unknown
    })
}

/// `Utilité publique`: `Oui`/`Non` (and boolean cells). Anything else is unknown.
pub fn yes_no<'a>(raw: impl Into<RawRef<'a>>) -> Option<bool> {
    match raw.into() {
        RawRef::Bool(b) => Some(b),
        other => match normalize_key(&other.as_text()).as_str() {
            "oui" | "yes" | "true" | "نعم" => Some(true),
            "non" | "no" | "false" | "لا" => Some(false),
            _ => None,
        },
    }
}

/// The employees total (SOURCES.md, "Employees total"): the total as given when
/// present, else women + men when both are known. Raises `employment_mismatch` when
/// all three are known and the parts do not add up.
pub fn employees_total(
    given: Option<i64>,
    women: Option<i64>,
    men: Option<i64>,
    flags: &mut Flags,
) -> Option<i64> {
    match (given, women, men) {
        (Some(total), Some(w), Some(m)) => {
            if w.checked_add(m) != Some(total) {
                flags.raise(QualityFlag::EmploymentMismatch);
            }
            Some(total)
        }
        (Some(total), _, _) => Some(total),
        (None, Some(w), Some(m)) => w.checked_add(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn text(s: &str) -> Raw {
        Raw::Text(s.to_owned())
    }

    #[rstest]
    #[case(Raw::Empty, Ok(None))]
    #[case(text(""), Ok(None))]
    #[case(text("  "), Ok(None))]
    #[case(text("-"), Ok(None))]
    #[case(text("N/D"), Ok(None))]
    #[case(text("n/d"), Ok(None))]
    #[case(text("NA"), Ok(None))]
    #[case(text("na"), Ok(None))]
    #[case(text("?"), Ok(None))]
    #[case(text("0"), Ok(Some(0)))]
    #[case(text(" 42 "), Ok(Some(42)))]
    #[case(text("007"), Ok(Some(7)))]
    #[case(text("17 983"), Ok(Some(17983)))]
    #[case(text("1\u{00A0}234\u{00A0}567"), Ok(Some(1_234_567)))]
    #[case(text("12\u{202F}000"), Ok(Some(12_000)))]
    #[case(text("-1"), Err(InvalidValue))]
    #[case(text("-27"), Err(InvalidValue))]
    #[case(text("beaucoup"), Err(InvalidValue))]
    #[case(text("12.5"), Err(InvalidValue))]
    #[case(text("12,000"), Err(InvalidValue))]
    #[case(text("+3"), Err(InvalidValue))]
    #[case(text("99999999999999999999999"), Err(InvalidValue))]
    #[case(Raw::Int(5), Ok(Some(5)))]
    #[case(Raw::Int(-5), Err(InvalidValue))]
    #[case(Raw::Float(12.0), Ok(Some(12)))]
    #[case(Raw::Float(12.5), Err(InvalidValue))]
    #[case(Raw::Float(-1.0), Err(InvalidValue))]
    #[case(Raw::Float(f64::NAN), Err(InvalidValue))]
    #[case(Raw::Bool(true), Err(InvalidValue))]
    #[case(Raw::Other("object".into()), Err(InvalidValue))]
    fn integers(#[case] raw: Raw, #[case] expected: Result<Option<i64>, InvalidValue>) {
        assert_eq!(parse_integer(&raw), expected, "{raw:?}");
    }

    fn date(y: i32, m: u32, d: u32) -> Founded {
        full(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[rstest]
    #[case(DateForms::Csv, text("31/01/2019"), Ok(date(2019, 1, 31)))]
    #[case(DateForms::Csv, text("1/3/2019"), Ok(date(2019, 3, 1)))]
    #[case(DateForms::Csv, text("2019-03-01"), Ok(date(2019, 3, 1)))]
    #[case(DateForms::Csv, text(" 2014 "), Ok(Founded { on: None, year: Some(2014) }))]
    #[case(DateForms::Csv, text(""), Ok(Founded::default()))]
    #[case(DateForms::Csv, text("31/02/2019"), Err(InvalidValue))]
    #[case(DateForms::Csv, text("2019-02-30"), Err(InvalidValue))]
    #[case(DateForms::Csv, text("29/02/2020"), Ok(date(2020, 2, 29)))]
    #[case(DateForms::Csv, text("29/02/2019"), Err(InvalidValue))]
    #[case(DateForms::Csv, text("vers 1990"), Err(InvalidValue))]
    #[case(DateForms::Csv, text("2019/03/01"), Err(InvalidValue))]
    #[case(DateForms::Csv, text("01-03-2019"), Err(InvalidValue))]
    #[case(DateForms::Csv, text("19"), Err(InvalidValue))]
    #[case(DateForms::Csv, text("1/3/19"), Err(InvalidValue))]
    #[case(DateForms::Xlsx, Raw::Date(NaiveDate::from_ymd_opt(2002, 7, 6).unwrap()), Ok(date(2002, 7, 6)))]
    #[case(DateForms::Xlsx, text("12/08/2020"), Ok(date(2020, 8, 12)))]
    #[case(DateForms::Xlsx, text("2020-08-12"), Err(InvalidValue))]
    #[case(DateForms::Xlsx, text("2020"), Err(InvalidValue))]
    #[case(DateForms::Xlsx, Raw::Float(43000.0), Err(InvalidValue))]
    #[case(DateForms::Xlsx, Raw::Empty, Ok(Founded::default()))]
    #[case(DateForms::Json, text("1993-08-12"), Ok(date(1993, 8, 12)))]
    #[case(DateForms::Json, text("1969-02-30"), Err(InvalidValue))]
    #[case(DateForms::Json, text("12/08/1993"), Err(InvalidValue))]
    #[case(DateForms::Json, Raw::Int(1993), Err(InvalidValue))]
    #[case(DateForms::Json, Raw::Empty, Ok(Founded::default()))]
    fn dates(
        #[case] forms: DateForms,
        #[case] raw: Raw,
        #[case] expected: Result<Founded, InvalidValue>,
    ) {
        assert_eq!(parse_date(&raw, forms), expected, "{raw:?} as {forms:?}");
    }

    #[rstest]
    #[case("Active", Status::Active, false)]
    #[case("En activité", Status::Active, false)]
    #[case("EN ACTIVITE", Status::Active, false)]
    #[case("En liquidation", Status::InLiquidation, false)]
    #[case("Dissoute", Status::Dissolved, false)]
    #[case("Radiée", Status::Dissolved, false)]
    #[case("", Status::Unknown, false)]
    #[case("Suspendue", Status::Unknown, true)]
    fn cooperative_statuses(#[case] input: &str, #[case] expected: Status, #[case] flagged: bool) {
        let mut flags = Flags::default();
        assert_eq!(cooperative_status(&text(input), &mut flags), expected);
        assert_eq!(flags.contains(QualityFlag::UnknownStatus), flagged);
    }

    #[rstest]
    #[case("agréée", Status::Active)]
    #[case("Agréée", Status::Active)]
    #[case("retrait d'agrément", Status::Dissolved)]
    #[case("retrait d’agrément", Status::Dissolved)]
    #[case("", Status::Unknown)]
    fn mutual_statuses(#[case] input: &str, #[case] expected: Status) {
        assert_eq!(mutual_status(&text(input), &mut Flags::default()), expected);
    }

    #[rstest]
    #[case(Some(10), Some(4), Some(6), Some(10), false)]
    #[case(Some(10), Some(4), Some(5), Some(10), true)]
    #[case(Some(10), None, Some(5), Some(10), false)]
    #[case(None, Some(4), Some(5), Some(9), false)]
    #[case(None, Some(4), None, None, false)]
    #[case(None, None, None, None, false)]
    fn employees(
        #[case] given: Option<i64>,
        #[case] women: Option<i64>,
        #[case] men: Option<i64>,
        #[case] expected: Option<i64>,
        #[case] mismatch: bool,
    ) {
        let mut flags = Flags::default();
        assert_eq!(employees_total(given, women, men, &mut flags), expected);
        assert_eq!(flags.contains(QualityFlag::EmploymentMismatch), mismatch);
    }

    proptest! {
        #[test]
        fn trimming_is_str_trim(s in "\\PC{0,6}|[ a-z\u{a0}\u{3000}é\t\r\n]{0,6}") {
            prop_assert_eq!(trim(&s), s.trim());
        }

        #[test]
        fn integer_text_never_panics(s in "\\PC*") {
            let _ = parse_integer(&Raw::Text(s.clone()));
            let _ = parse_date(&Raw::Text(s.clone()), DateForms::Csv);
            let _ = parse_date(&Raw::Text(s), DateForms::Xlsx);
        }

        #[test]
        fn integers_round_trip_with_separators(n in 0i64..10_000_000_000) {
            let plain = n.to_string();
            prop_assert_eq!(parse_integer(&Raw::Text(plain.clone())), Ok(Some(n)));
            // Group in threes with a no-break space, as spreadsheets export them.
            let grouped: String = plain
                .chars()
                .rev()
                .enumerate()
                .flat_map(|(i, c)| {
                    let sep = (i > 0 && i % 3 == 0).then_some('\u{00A0}');
                    [sep, Some(c)].into_iter().flatten()
                })
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            prop_assert_eq!(parse_integer(&Raw::Text(grouped)), Ok(Some(n)));
        }

        #[test]
        fn dates_are_read_as_by_splitting_and_parsing_parts(
            s in "[0-9/\\-]{0,12}|[0-9]{1,5}[/-][0-9]{1,3}[/-][0-9]{1,5}|\\PC{0,10}"
        ) {
            // The reading before the one-pass parser: split, check, parse each part.
            fn by_split(text: &str, sep: char, order: [usize; 3]) -> Option<NaiveDate> {
                let parts: Vec<&str> = text.split(sep).collect();
                if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
                    return None;
                }
                let [y, m, d] = order.map(|i| parts[i]);
                if y.len() != 4 || m.len() > 2 || d.len() > 2 {
                    return None;
                }
                NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
            }
            prop_assert_eq!(parse_dmy(&s), by_split(&s, '/', [2, 1, 0]));
            prop_assert_eq!(parse_ymd(&s), by_split(&s, '-', [0, 1, 2]));
        }

        #[test]
        fn dates_round_trip(days in 0i64..60_000) {
            let d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
            let dmy = d.format("%d/%m/%Y").to_string();
            let iso = d.format("%Y-%m-%d").to_string();
            prop_assert_eq!(parse_date(&Raw::Text(dmy), DateForms::Csv), Ok(full(d)));
            prop_assert_eq!(parse_date(&Raw::Text(iso), DateForms::Json), Ok(full(d)));
        }
    }
}
