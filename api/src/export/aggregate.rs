//! An aggregate as CSV: for each dimension grouped by, its code and its label (a year
//! is its own label), then the measures of SOURCES.md. A group whose value is not
//! known has an empty code and the label "unknown" in the export's language; it is
//! never dropped, so the rows add up to the total.

use ess_query::{AggregateOutput, AggregateRequest, Dimension, GroupKey};
use ess_schemas::census::Area;
use ess_schemas::columns::{CENSUS_HEADINGS, MEASURE_HEADINGS, code_label, unknown_label};
use ess_schemas::measures::Sums;
use ess_schemas::{Family, Lang};

use crate::export::csv::CsvChunks;
use crate::graphql::census::area_of;

/// A dimension's heading in French, Arabic and English.
fn dimension_heading(d: Dimension, lang: Lang) -> &'static str {
    let h = match d {
        Dimension::Family => ["Famille", "الصنف", "Family"],
        Dimension::Region => ["Région", "الجهة", "Region"],
        Dimension::Province => ["Province", "الإقليم", "Province"],
        Dimension::Sector => ["Secteur", "القطاع", "Sector"],
        Dimension::FoundedYear => ["Année de création", "سنة التأسيس", "Founding year"],
        Dimension::Status => ["Statut", "الوضعية", "Status"],
    };
    h[lang.index()]
}

fn code_heading(d: Dimension, lang: Lang) -> String {
    let code = match lang {
        Lang::Ar => "رمز",
        Lang::Fr | Lang::En => "code",
    };
    format!("{} ({code})", dimension_heading(d, lang))
}

/// Writes the heading and every group of `out` (of `request`); `census`: with each
/// row's census context (`crate::graphql::census`: empty cells where the row's place
/// is unknown).
pub fn write(
    csv: &mut CsvChunks,
    out: &AggregateOutput,
    request: &AggregateRequest,
    lang: Lang,
    census: bool,
) {
    let mut heading = Vec::new();
    for d in &out.group_by {
        if *d == Dimension::FoundedYear {
            heading.push(dimension_heading(*d, lang).to_owned());
        } else {
            heading.push(code_heading(*d, lang));
            heading.push(dimension_heading(*d, lang).to_owned());
        }
    }
    heading.extend(
        MEASURE_HEADINGS
            .iter()
            .map(|(_, h)| h[lang.index()].to_owned()),
    );
    if census {
        heading.extend(
            CENSUS_HEADINGS
                .iter()
                .map(|(_, h)| h[lang.index()].to_owned()),
        );
    }
    csv.record(&heading);
    for group in out.group_list() {
        let mut row = Vec::with_capacity(heading.len());
        for d in &out.group_by {
            push_dimension(&mut row, *d, &group.key, lang);
        }
        push_measures(&mut row, &group.sums, csv);
        if census {
            push_census(
                &mut row,
                area_of(request, &group.key, false),
                &group.sums,
                csv,
            );
        }
        csv.record(&row);
    }
}

/// The census context, in [`CENSUS_HEADINGS`] order.
fn push_census(row: &mut Vec<String>, area: Option<Area>, sums: &Sums, csv: &CsvChunks) {
    let Some(area) = area else {
        row.extend(std::iter::repeat_n(String::new(), CENSUS_HEADINGS.len()));
        return;
    };
    let f = &area.figures;
    let r = f.rates(sums);
    row.push(area.code.clone());
    for v in [
        f.population,
        f.population_women,
        f.population_men,
        f.employed,
        f.employed_women,
        f.employed_men,
    ] {
        row.push(v.to_string());
    }
    for v in [
        r.organisations_per_100k_inhabitants,
        r.members_per_1000_inhabitants,
        r.members_women_per_1000_women,
        r.employees_share_of_employed,
        r.employees_women_share_of_employed_women,
        r.employees_men_share_of_employed_men,
        Some(f.cooperative_members),
        Some(f.cooperative_members_women),
        Some(f.cooperative_members_men),
    ] {
        row.push(v.map(|v| csv.format().decimal(v)).unwrap_or_default());
    }
}

fn push_dimension(row: &mut Vec<String>, d: Dimension, key: &GroupKey, lang: Lang) {
    let unknown = || unknown_label(lang).to_owned();
    let code = match d {
        Dimension::FoundedYear => {
            row.push(key.founded_year.map_or_else(unknown, |y| y.to_string()));
            return;
        }
        Dimension::Family => key.family.map(Family::as_str),
        Dimension::Region => key.region.as_deref(),
        Dimension::Province => key.province.as_deref(),
        Dimension::Sector => key.sector.as_deref(),
        Dimension::Status => key.status.as_deref(),
    };
    row.push(code.unwrap_or_default().to_owned());
    row.push(code.map_or_else(unknown, |c| code_label(d.column(), c, lang).to_owned()));
}

/// The measures in [`MEASURE_HEADINGS`] order.
fn push_measures(row: &mut Vec<String>, s: &Sums, csv: &CsvChunks) {
    for v in [
        s.organisations,
        s.members,
        s.members_women,
        s.employees,
        s.employees_women,
        s.employees_men,
    ] {
        row.push(v.to_string());
    }
    for v in [s.gender_coverage(), s.women_employment_share()] {
        row.push(v.map(|v| csv.format().decimal(v)).unwrap_or_default());
    }
}
