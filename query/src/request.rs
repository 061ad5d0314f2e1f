//! Typed requests: what to group by, which organisations, which page.

use ess_schemas::arrow_schema::col;
use ess_schemas::match_key::normalize_key;
use ess_schemas::{Family, reference};

use crate::error::{QueryError, Result};

/// A dimension organisations can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The registry family.
    Family,
    /// The region (ISO code).
    Region,
    /// The province (ISO code).
    Province,
    /// The canonical sector.
    Sector,
    /// The founding year.
    FoundedYear,
    /// The legal status.
    Status,
}

impl Dimension {
    /// The column that holds it.
    pub fn column(self) -> &'static str {
        match self {
            Dimension::Family => col::FAMILY,
            Dimension::Region => col::REGION_CODE,
            Dimension::Province => col::PROVINCE_CODE,
            Dimension::Sector => col::SECTOR_CODE,
            Dimension::FoundedYear => col::FOUNDED_YEAR,
            Dimension::Status => col::STATUS,
        }
    }
}

/// Which organisations a query covers. Every list is an "any of"; lists combine with
/// "and". An empty list does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Families.
    pub families: Vec<Family>,
    /// Region ISO codes, e.g. `MA-03`.
    pub regions: Vec<String>,
    /// Province ISO codes, e.g. `MA-FES`.
    pub provinces: Vec<String>,
    /// Canonical sector codes, e.g. `ARGAN`.
    pub sectors: Vec<String>,
    /// Founding years, inclusive bounds.
    pub founded_from: Option<i32>,
    /// Founding years, inclusive upper bound.
    pub founded_to: Option<i32>,
    /// Statuses (`active`, `in_liquidation`, `dissolved`, `unknown`).
    pub statuses: Vec<String>,
}

impl Filter {
    /// The same filter with its lists sorted and deduplicated: equal filters compare
    /// equal (the result cache's key).
    pub fn normalized(&self) -> Filter {
        fn norm<T: Ord + Clone>(v: &[T]) -> Vec<T> {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        }
        Filter {
            families: norm(&self.families),
            regions: norm(&self.regions),
            provinces: norm(&self.provinces),
            sectors: norm(&self.sectors),
            founded_from: self.founded_from,
            founded_to: self.founded_to,
            statuses: norm(&self.statuses),
        }
    }

    /// Checks every code against the reference data, so that a typo is an error that
    /// says so rather than an empty answer.
    pub fn validate(&self) -> Result<()> {
        let r = reference();
        check_codes(
            "region",
            &self.regions,
            |c| r.region(c).is_some(),
            || r.regions().iter().map(|x| x.code.clone()).collect(),
        )?;
        check_codes(
            "province",
            &self.provinces,
            |c| r.province(c).is_some(),
            || r.provinces().iter().map(|x| x.code.clone()).collect(),
        )?;
        check_codes(
            "sector",
            &self.sectors,
            |c| r.sector(c).is_some(),
            || r.sectors().iter().map(|x| x.code.clone()).collect(),
        )?;
        check_codes(
            "status",
            &self.statuses,
            |c| ess_schemas::Status::ALL.iter().any(|s| s.as_str() == c),
            || {
                ess_schemas::Status::ALL
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect()
            },
        )?;
        if let (Some(from), Some(to)) = (self.founded_from, self.founded_to)
            && from > to
        {
            return Err(QueryError::InvalidRequest {
                field: "foundedYear",
                message: format!("`from` ({from}) is after `to` ({to})"),
            });
        }
        Ok(())
    }
}

fn check_codes(
    field: &'static str,
    codes: &[String],
    known: impl Fn(&str) -> bool,
    all: impl Fn() -> Vec<String>,
) -> Result<()> {
    match codes.iter().find(|c| !known(c)) {
        None => Ok(()),
        Some(bad) => Err(QueryError::InvalidRequest {
            field,
            message: format!(
                "unknown {field} code `{bad}`; known codes: {}",
                all().join(", ")
            ),
        }),
    }
}

/// An aggregate: measures over the organisations of `filter`, grouped by `group_by`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AggregateRequest {
    /// Dimensions, in order (no repeats).
    pub group_by: Vec<Dimension>,
    /// Which organisations.
    pub filter: Filter,
}

impl AggregateRequest {
    /// Checks the request.
    pub fn validate(&self) -> Result<()> {
        for (i, d) in self.group_by.iter().enumerate() {
            if self.group_by[..i].contains(d) {
                return Err(QueryError::InvalidRequest {
                    field: "groupBy",
                    message: format!("{d:?} is listed twice"),
                });
            }
        }
        self.filter.validate()
    }
}

/// The most organisations one page may hold.
pub const MAX_PAGE: usize = 1000;

/// How long a search may be: a person's search is a few words, and every word is
/// matched against every key, so both bounds cap a search's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Characters of search text, at most.
    pub max_chars: usize,
    /// Distinct words, at most (repeated words count once).
    pub max_words: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_chars: 200,
            max_words: 10,
        }
    }
}

impl SearchLimits {
    /// The distinct words of `search`, normalised as the search key is (every one must
    /// occur in a key for it to match), in their first order; an error when the text
    /// or its words are over the limits. The error never repeats the text.
    pub fn words(&self, search: Option<&str>) -> Result<Vec<String>> {
        let Some(search) = search else {
            return Ok(Vec::new());
        };
        let chars = search.chars().count();
        if chars > self.max_chars {
            return Err(QueryError::InvalidRequest {
                field: "search",
                message: format!(
                    "at most {} characters, not {chars}: search for a few words of a name or an identifier",
                    self.max_chars
                ),
            });
        }
        let key = normalize_key(search);
        let mut words: Vec<String> = Vec::new();
        for w in key.split(' ').filter(|w| !w.is_empty()) {
            if !words.iter().any(|seen| seen == w) {
                words.push(w.to_owned());
            }
        }
        if words.len() > self.max_words {
            return Err(QueryError::InvalidRequest {
                field: "search",
                message: format!(
                    "at most {} different words, not {}",
                    self.max_words,
                    words.len()
                ),
            });
        }
        Ok(words)
    }
}

/// A page of organisations, in `org_id` order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrganisationsRequest {
    /// Which organisations.
    pub filter: Filter,
    /// Words to find in the name, Arabic name or identifier (accent- and
    /// case-insensitive substring).
    pub search: Option<String>,
    /// Organisations after this `org_id` (the previous page's last).
    pub after: Option<String>,
    /// Page size, 1 to [`MAX_PAGE`].
    pub first: usize,
    /// Whether to count every match (a second pass over the data; skip it when the
    /// count is not needed).
    pub with_total: bool,
}

impl Default for OrganisationsRequest {
    fn default() -> Self {
        OrganisationsRequest {
            filter: Filter::default(),
            search: None,
            after: None,
            first: 20,
            with_total: true,
        }
    }
}

impl OrganisationsRequest {
    /// Checks the request.
    pub fn validate(&self) -> Result<()> {
        if self.first == 0 || self.first > MAX_PAGE {
            return Err(QueryError::InvalidRequest {
                field: "first",
                message: format!("must be between 1 and {MAX_PAGE}, not {}", self.first),
            });
        }
        self.filter.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_are_errors_that_list_the_known_ones() {
        let f = Filter {
            regions: vec!["MA-03".into(), "MA-99".into()],
            ..Filter::default()
        };
        let msg = f.validate().unwrap_err().to_string();
        assert!(
            msg.contains("unknown region code `MA-99`") && msg.contains("MA-12"),
            "{msg}"
        );
        let f = Filter {
            sectors: vec!["argan".into()],
            ..Filter::default()
        };
        assert!(f.validate().unwrap_err().to_string().contains("ARGAN"));
    }

    #[test]
    fn search_words_are_normalised_deduplicated_and_bounded() {
        let limits = SearchLimits {
            max_chars: 40,
            max_words: 3,
        };
        assert_eq!(
            limits
                .words(Some("Coopérative  COOPERATIVE argane"))
                .unwrap(),
            ["cooperative", "argane"]
        );
        assert!(limits.words(None).unwrap().is_empty());
        let long = "a".repeat(41);
        let msg = limits.words(Some(&long)).unwrap_err().to_string();
        assert!(msg.contains("at most 40 characters, not 41"), "{msg}");
        assert!(!msg.contains(&long), "the text is not echoed: {msg}");
        let msg = limits.words(Some("a b c d a")).unwrap_err().to_string();
        assert!(msg.contains("at most 3 different words, not 4"), "{msg}");
        // Repeats count once, whatever their number.
        assert_eq!(limits.words(Some("x x x x x x")).unwrap(), ["x"]);
    }

    #[test]
    fn bad_ranges_pages_and_repeats() {
        let f = Filter {
            founded_from: Some(2020),
            founded_to: Some(2010),
            ..Filter::default()
        };
        assert!(f.validate().is_err());
        let r = OrganisationsRequest {
            first: 0,
            ..OrganisationsRequest::default()
        };
        assert!(r.validate().is_err());
        let a = AggregateRequest {
            group_by: vec![Dimension::Region, Dimension::Region],
            ..AggregateRequest::default()
        };
        assert!(a.validate().unwrap_err().to_string().contains("twice"));
    }
}
