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
    /// Every status, in declaration order (`status as usize` indexes it).
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::InLiquidation,
        Status::Dissolved,
        Status::Unknown,
    ];

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

    /// Lowers every flag (keeping the allocation).
    pub fn clear(&mut self) {
        self.0.clear();
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

/// An [`Organisation`] whose texts are borrowed: what an ingest builds for each row
/// without allocating. [`Organisation::borrowed`] and [`OrganisationRef::to_owned`]
/// convert.
#[derive(Debug, Clone, Copy)]
pub struct OrganisationRef<'a> {
    /// See [`Organisation::org_id`].
    pub org_id: &'a str,
    /// See [`Organisation::family`].
    pub family: Family,
    /// See [`Organisation::source_id`].
    pub source_id: &'a str,
    /// See [`Organisation::name`].
    pub name: &'a str,
    /// See [`Organisation::name_ar`].
    pub name_ar: Option<&'a str>,
    /// See [`Organisation::sector_code`].
    pub sector_code: &'a str,
    /// See [`Organisation::activities`].
    pub activities: &'a [String],
    /// See [`Organisation::region_code`].
    pub region_code: Option<&'a str>,
    /// See [`Organisation::province_code`].
    pub province_code: Option<&'a str>,
    /// See [`Organisation::founded_on`].
    pub founded_on: Option<NaiveDate>,
    /// See [`Organisation::founded_year`].
    pub founded_year: Option<i32>,
    /// See [`Organisation::status`].
    pub status: Status,
    /// See [`Organisation::members_total`].
    pub members_total: Option<i64>,
    /// See [`Organisation::members_women`].
    pub members_women: Option<i64>,
    /// See [`Organisation::employees_total`].
    pub employees_total: Option<i64>,
    /// See [`Organisation::employees_women`].
    pub employees_women: Option<i64>,
    /// See [`Organisation::employees_men`].
    pub employees_men: Option<i64>,
    /// See [`Organisation::volunteers`].
    pub volunteers: Option<i64>,
    /// See [`Organisation::public_utility`].
    pub public_utility: Option<bool>,
    /// See [`Organisation::quality_flags`].
    pub quality_flags: &'a Flags,
    /// See [`Organisation::source_file`].
    pub source_file: &'a str,
    /// See [`Organisation::source_row`].
    pub source_row: i64,
}

impl Organisation {
    /// The organisation with its texts borrowed.
    pub fn borrowed(&self) -> OrganisationRef<'_> {
        OrganisationRef {
            org_id: &self.org_id,
            family: self.family,
            source_id: &self.source_id,
            name: &self.name,
            name_ar: self.name_ar.as_deref(),
            sector_code: &self.sector_code,
            activities: &self.activities,
            region_code: self.region_code.as_deref(),
            province_code: self.province_code.as_deref(),
            founded_on: self.founded_on,
            founded_year: self.founded_year,
            status: self.status,
            members_total: self.members_total,
            members_women: self.members_women,
            employees_total: self.employees_total,
            employees_women: self.employees_women,
            employees_men: self.employees_men,
            volunteers: self.volunteers,
            public_utility: self.public_utility,
            quality_flags: &self.quality_flags,
            source_file: &self.source_file,
            source_row: self.source_row,
        }
    }
}

impl OrganisationRef<'_> {
    /// The organisation with its own copies of the texts.
    pub fn to_owned(&self) -> Organisation {
        Organisation {
            org_id: self.org_id.to_owned(),
            family: self.family,
            source_id: self.source_id.to_owned(),
            name: self.name.to_owned(),
            name_ar: self.name_ar.map(str::to_owned),
            sector_code: self.sector_code.to_owned(),
            activities: self.activities.to_vec(),
            region_code: self.region_code.map(str::to_owned),
            province_code: self.province_code.map(str::to_owned),
            founded_on: self.founded_on,
            founded_year: self.founded_year,
            status: self.status,
            members_total: self.members_total,
            members_women: self.members_women,
            employees_total: self.employees_total,
            employees_women: self.employees_women,
            employees_men: self.employees_men,
            volunteers: self.volunteers,
            public_utility: self.public_utility,
            quality_flags: self.quality_flags.clone(),
            source_file: self.source_file.to_owned(),
            source_row: self.source_row,
        }
    }
}
