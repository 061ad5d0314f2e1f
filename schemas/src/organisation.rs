//! The canonical organisation, as every registry row becomes one.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The three ESS families, one registry each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Cooperatives (CSV registry).
    Cooperative,
    /// Associations (XLSX registry).
    Association,
    /// Mutuals (JSON registry).
    Mutual,
}

impl Family {
    /// All families, in registry order.
    pub const ALL: [Family; 3] = [Family::Cooperative, Family::Association, Family::Mutual];

    /// The name used in `org_id` and the `family` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Cooperative => "cooperative",
            Family::Association => "association",
            Family::Mutual => "mutual",
        }
    }

    /// Parses the name written by [`Family::as_str`].
    pub fn parse(text: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Legal status of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Active (`Active`, `En activité`, `agréée`; every association).
    Active,
    /// Being wound up (`En liquidation`).
    InLiquidation,
    /// Dissolved or struck off (`Dissoute`, `Radiée`, `retrait d'agrément`).
    Dissolved,
    /// Not stated.
    Unknown,
}

impl Status {
    /// The value of the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::InLiquidation => "in_liquidation",
            Status::Dissolved => "dissolved",
            Status::Unknown => "unknown",
        }
    }
}

/// A data-quality flag raised while normalising a row. The row is kept; the flag says
/// which of its values were not taken as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// A number that is negative, fractional or not a number: read as unknown.
    InvalidNumber,
    /// An impossible date or a date in no accepted format: date and year unknown.
    InvalidDate,
    /// A sector label that matches no alias of its family: sector `OTHER`.
    UnknownSector,
    /// Employees women + men differ from the total given.
    EmploymentMismatch,
    /// The region text names a region other than the province's.
    RegionConflict,
    /// The region was resolved through a legacy (1997) region.
    LegacyRegion,
    /// Place texts were given but name no known region or province.
    UnresolvedPlace,
    /// A status text that maps to no known status: status `unknown`.
    UnknownStatus,
}

impl QualityFlag {
    /// Every flag, in a stable order.
    pub const ALL: [QualityFlag; 8] = [
        QualityFlag::InvalidNumber,
        QualityFlag::InvalidDate,
        QualityFlag::UnknownSector,
        QualityFlag::EmploymentMismatch,
        QualityFlag::RegionConflict,
        QualityFlag::LegacyRegion,
        QualityFlag::UnresolvedPlace,
        QualityFlag::UnknownStatus,
    ];

    /// The flag's position in [`QualityFlag::ALL`], for counting in arrays.
    pub fn index(self) -> usize {
        const {
            let mut i = 0;
            while i < QualityFlag::ALL.len() {
                assert!(
                    QualityFlag::ALL[i] as usize == i,
                    "ALL follows declaration order"
                );
                i += 1;
            }
        }
        self as usize
    }

    /// The name written to `quality_flags` and to the ingest report.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityFlag::InvalidNumber => "invalid_number",
            QualityFlag::InvalidDate => "invalid_date",
            QualityFlag::UnknownSector => "unknown_sector",
            QualityFlag::EmploymentMismatch => "employment_mismatch",
            QualityFlag::RegionConflict => "region_conflict",
            QualityFlag::LegacyRegion => "legacy_region",
            QualityFlag::UnresolvedPlace => "unresolved_place",
            QualityFlag::UnknownStatus => "unknown_status",
        }
    }
}

/// A small ordered set of quality flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(Vec<QualityFlag>);

impl Flags {
    /// Adds a flag once.
    pub fn raise(&mut self, flag: QualityFlag) {
        if !self.0.contains(&flag) {
            self.0.push(flag);
            self.0.sort();
        }
    }

    /// The flags raised, in [`QualityFlag::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = QualityFlag> + '_ {
        self.0.iter().copied()
    }

    /// Whether `flag` was raised.
    pub fn contains(&self, flag: QualityFlag) -> bool {
        self.0.contains(&flag)
    }

    /// Whether no flag was raised.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One canonical organisation: a row of the published `organisations` table.
///
/// Field names are the Parquet column names (see [`crate::arrow_schema`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    /// `<family>:<source_id>`, unique in a snapshot.
    pub org_id: String,
    /// The registry it comes from.
    pub family: Family,
    /// Registration number in the source registry, trimmed.
    pub source_id: String,
    /// Name (Latin script; associations fall back to the Arabic name).
    pub name: String,
    /// Arabic name (associations only).
    pub name_ar: Option<String>,
    /// Canonical sector code; `OTHER` for empty and unknown labels.
    pub sector_code: String,
    /// Every activity label given (associations), trimmed, in source order.
    pub activities: Vec<String>,
    /// ISO 3166-2 region code, null when unresolved.
    pub region_code: Option<String>,
    /// ISO 3166-2 province code, null when unresolved.
    pub province_code: Option<String>,
    /// Founding (or approval) date, when a full valid date was given.
    pub founded_on: Option<NaiveDate>,
    /// Founding year, when known (a bare year gives the year and no date).
    pub founded_year: Option<i32>,
    /// Legal status.
    pub status: Status,
    /// Members.
    pub members_total: Option<i64>,
    /// Women members (cooperatives only).
    pub members_women: Option<i64>,
    /// Employees: the total given, else women + men when both are known.
    pub employees_total: Option<i64>,
    /// Women employees.
    pub employees_women: Option<i64>,
    /// Men employees.
    pub employees_men: Option<i64>,
    /// Volunteers (associations only).
    pub volunteers: Option<i64>,
    /// Recognised of public utility (associations only).
    pub public_utility: Option<bool>,
    /// Data-quality flags.
    pub quality_flags: Flags,
    /// Name of the registry file the row came from.
    pub source_file: String,
    /// Row number in that file (see SOURCES.md, "Row numbers").
    pub source_row: i64,
}
