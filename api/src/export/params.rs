//! The query string of an export: the GraphQL arguments, as URL parameters.
//!
//! ```text
//! groupBy=region,sector        dimensions (aggregate only): family, region, province,
//!                              sector, foundedYear, status
//! family=cooperative           filters, as GraphQL's OrganisationFilter: a list is
//! region=MA-09&region=MA-01    comma-separated or repeated
//! province=… sector=…
//! status=active,dissolved
//! foundedFrom=2010 foundedTo=2020
//! search=argan                 (organisations only)
//! snapshot=000003              a snapshot's id (default: the one served)
//! census=true                  (aggregate only) each row's 2024 census context
//! lang=fr|ar|en                labels and headings (default fr)
//! format=csv|excel-fr          (default csv)
//! ```
//!
//! An unknown parameter is an error (a typo would otherwise widen the export
//! silently); codes are checked against the reference data by the query crate, as for
//! GraphQL, with the same messages.

use ess_query::{Dimension, Filter};
use ess_schemas::{Family, Lang};

use crate::export::csv::CsvFormat;

/// What an export asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportParams {
    /// Dimensions, in order.
    pub group_by: Vec<Dimension>,
    /// Which organisations.
    pub filter: Filter,
    /// Search text.
    pub search: Option<String>,
    /// A snapshot's id, as given.
    pub snapshot: Option<String>,
    /// Labels and headings.
    pub lang: Lang,
    /// CSV dialect.
    pub format: CsvFormat,
    /// Whether an aggregate carries the census context of each row.
    pub census: bool,
}

impl Default for ExportParams {
    /// Every organisation of the snapshot served, grouped by nothing, in French, as
    /// RFC 4180 CSV.
    fn default() -> Self {
        ExportParams {
            group_by: Vec::new(),
            filter: Filter::default(),
            search: None,
            snapshot: None,
            lang: Lang::Fr,
            format: CsvFormat::Plain,
            census: false,
        }
    }
}

/// Which export the parameters are for: each accepts its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// `/export/aggregate.csv`.
    Aggregate,
    /// `/export/organisations.csv`.
    Organisations,
}

impl ExportKind {
    /// Its name in URLs and file names: `aggregate` or `organisations`.
    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Aggregate => "aggregate",
            ExportKind::Organisations => "organisations",
        }
    }
}

/// A parameter that cannot be used as given: its name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter.
    pub param: String,
    /// What is wrong, in the API's terms.
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.param, self.message)
    }
}

/// Parameter values longer than this are refused (the longest legitimate one, every
/// province code, is under 600 bytes).
const MAX_VALUE: usize = 4096;

/// The dimensions by their URL names.
const DIMENSIONS: &[(&str, Dimension)] = &[
    ("family", Dimension::Family),
    ("region", Dimension::Region),
    ("province", Dimension::Province),
    ("sector", Dimension::Sector),
    ("foundedYear", Dimension::FoundedYear),
    ("status", Dimension::Status),
];

/// A dimension's URL name.
pub fn dimension_name(d: Dimension) -> &'static str {
    DIMENSIONS
        .iter()
        .find(|(_, x)| *x == d)
        .map(|(n, _)| *n)
        .expect("every dimension is named")
}

impl ExportParams {
    /// Parses a raw query string.
    pub fn parse(query: Option<&str>, kind: ExportKind) -> Result<ExportParams, ParamError> {
        let mut p = ExportParams::default();
        let mut group_by_given = false;
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let err = |message: String| ParamError {
                param: name.to_string(),
                message,
            };
            if value.len() > MAX_VALUE {
                return Err(err(format!("longer than {MAX_VALUE} bytes")));
            }
            let list = || {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            match (name.as_ref(), kind) {
                ("groupBy", ExportKind::Aggregate) => {
                    group_by_given = true;
                    for v in list() {
                        let d = DIMENSIONS
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(&v) || snake(n) == v)
                            .map(|(_, d)| *d)
                            .ok_or_else(|| {
                                err(format!(
                                    "unknown dimension {v:?}; one of {}",
                                    DIMENSIONS
                                        .iter()
                                        .map(|(n, _)| *n)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ))
                            })?;
                        if !p.group_by.contains(&d) {
                            p.group_by.push(d);
                        }
                    }
                }
                ("family", _) => {
                    for v in list() {
                        let f = Family::parse(&v.to_ascii_lowercase()).ok_or_else(|| {
                            err(format!(
                                "unknown family {v:?}; one of cooperative, association, mutual"
                            ))
                        })?;
                        p.filter.families.push(f);
                    }
                }
                ("region", _) => p.filter.regions.extend(list()),
                ("province", _) => p.filter.provinces.extend(list()),
                ("sector", _) => p.filter.sectors.extend(list()),
                ("status", _) => p.filter.statuses.extend(list()),
                ("foundedFrom", _) => p.filter.founded_from = Some(year(&value).map_err(err)?),
                ("foundedTo", _) => p.filter.founded_to = Some(year(&value).map_err(err)?),
                ("search", ExportKind::Organisations) => {
                    p.search = Some(value.to_string()).filter(|s| !s.trim().is_empty());
                }
                ("snapshot", _) => p.snapshot = Some(value.to_string()),
                ("census", ExportKind::Aggregate) => {
                    p.census = match value.as_ref() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(err(format!("{value:?} is not true or false"))),
                    }
                }
                ("lang", _) => {
                    p.lang = match value.to_ascii_lowercase().as_str() {
                        "fr" => Lang::Fr,
                        "ar" => Lang::Ar,
                        "en" => Lang::En,
                        _ => {
                            return Err(err(format!(
                                "unknown language {value:?}; one of fr, ar, en"
                            )));
                        }
                    }
                }
                ("format", _) => {
                    p.format = match value.as_ref() {
                        "csv" => CsvFormat::Plain,
                        "excel-fr" => CsvFormat::ExcelFr,
                        _ => {
                            return Err(err(format!(
                                "unknown format {value:?}; one of csv, excel-fr"
                            )));
                        }
                    }
                }
                (other, _) => {
                    return Err(ParamError {
                        param: "parameter".into(),
                        message: format!(
                            "{other:?} is not a parameter of this export; it takes {}",
                            accepted(kind)
                        ),
                    });
                }
            }
        }
        if kind == ExportKind::Aggregate && !group_by_given {
            return Err(ParamError {
                param: "groupBy".into(),
                message:
                    "required: the dimensions to group by (an empty value for the total alone)"
                        .into(),
            });
        }
        Ok(p)
    }

    /// The permanent link of this export of snapshot `snapshot_id`, on the server at
    /// `base`: it gives the same numbers whenever it is followed.
    pub fn permanent_url(&self, base: &str, snapshot_id: &str, kind: ExportKind) -> String {
        format!(
            "{base}/export/{}.csv?{}",
            kind.name(),
            self.permanent_query(snapshot_id, kind)
        )
    }

    /// The query string that asks for exactly this export of snapshot `snapshot_id`:
    /// the permanent link of its numbers.
    pub fn permanent_query(&self, snapshot_id: &str, kind: ExportKind) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("snapshot", snapshot_id);
        if kind == ExportKind::Aggregate {
            let dims: Vec<_> = self.group_by.iter().map(|d| dimension_name(*d)).collect();
            q.append_pair("groupBy", &dims.join(","));
        }
        let f = self.filter.normalized();
        let join = |v: &[String]| v.join(",");
        if !f.families.is_empty() {
            let v: Vec<_> = f.families.iter().map(|x| x.as_str().to_owned()).collect();
            q.append_pair("family", &join(&v));
        }
        for (name, v) in [
            ("region", &f.regions),
            ("province", &f.provinces),
            ("sector", &f.sectors),
            ("status", &f.statuses),
        ] {
            if !v.is_empty() {
                q.append_pair(name, &join(v));
            }
        }
        if let Some(y) = f.founded_from {
            q.append_pair("foundedFrom", &y.to_string());
        }
        if let Some(y) = f.founded_to {
            q.append_pair("foundedTo", &y.to_string());
        }
        if let Some(s) = &self.search {
            q.append_pair("search", s);
        }
        if self.lang != Lang::Fr {
            q.append_pair("lang", self.lang.tag());
        }
        if self.census {
            q.append_pair("census", "true");
        }
        if self.format == CsvFormat::ExcelFr {
            q.append_pair("format", "excel-fr");
        }
        q.finish()
    }
}

/// `foundedYear` → `founded_year`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn year(value: &str) -> Result<i32, String> {
    value
        .trim()
        .parse::<i32>()
        .map_err(|_| format!("{value:?} is not a year"))
}

fn accepted(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Aggregate => {
            "groupBy, family, region, province, sector, status, foundedFrom, foundedTo, snapshot, census, lang, format"
        }
        ExportKind::Organisations => {
            "search, family, region, province, sector, status, foundedFrom, foundedTo, snapshot, lang, format"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_comma_separated_or_repeated() {
        let p = ExportParams::parse(
            Some("groupBy=region,sector&family=cooperative&region=MA-09&region=MA-01,MA-02&foundedFrom=2010&lang=ar&format=excel-fr"),
            ExportKind::Aggregate,
        )
        .unwrap();
        assert_eq!(p.group_by, [Dimension::Region, Dimension::Sector]);
        assert_eq!(p.filter.families, [Family::Cooperative]);
        assert_eq!(p.filter.regions, ["MA-09", "MA-01", "MA-02"]);
        assert_eq!(p.filter.founded_from, Some(2010));
        assert_eq!((p.lang, p.format), (Lang::Ar, CsvFormat::ExcelFr));
    }

    #[test]
    fn the_permanent_query_reads_back_as_the_same_export() {
        let p = ExportParams::parse(
            Some("groupBy=foundedYear,family&sector=AGRI&search=x&lang=en"),
            ExportKind::Aggregate,
        );
        // `search` is not an aggregate's parameter.
        assert_eq!(p.unwrap_err().param, "parameter");
        let p = ExportParams::parse(
            Some("groupBy=founded_year,family&sector=AGRI&region=MA-02,MA-01&lang=en"),
            ExportKind::Aggregate,
        )
        .unwrap();
        let q = p.permanent_query("000004", ExportKind::Aggregate);
        assert_eq!(
            q,
            "snapshot=000004&groupBy=foundedYear%2Cfamily&region=MA-01%2CMA-02&sector=AGRI&lang=en"
        );
        let again = ExportParams::parse(Some(&q), ExportKind::Aggregate).unwrap();
        assert_eq!(again.group_by, p.group_by);
        assert_eq!(again.filter, p.filter.normalized());
        assert_eq!(again.snapshot.as_deref(), Some("000004"));
    }

    #[test]
    fn bad_parameters_name_themselves() {
        for (q, param) in [
            ("groupBy=regoin", "groupBy"),
            ("groupBy=region&family=coop", "family"),
            ("groupBy=region&foundedFrom=abc", "foundedFrom"),
            ("groupBy=region&lang=de", "lang"),
            ("groupBy=region&format=xlsx", "format"),
            ("groupBy=region&regoin=MA-01", "parameter"),
            ("family=mutual", "groupBy"),
        ] {
            let e = ExportParams::parse(Some(q), ExportKind::Aggregate).unwrap_err();
            assert_eq!(e.param, param, "{q}: {e}");
        }
        let long = format!("search={}", "a".repeat(MAX_VALUE + 1));
        assert!(ExportParams::parse(Some(&long), ExportKind::Organisations).is_err());
    }
}
