//! The objects of the schema: places, sectors, aggregates, snapshots, diffs and
//! organisations.

use async_graphql::{Context, Object, SimpleObject};
use ess_query::GroupKey;
use ess_schemas::layout::Manifest;
use ess_schemas::measures::Sums;
use ess_schemas::reference;

use crate::export::{ExportKind, ExportParams};
use crate::graphql::census::CensusContext;
use crate::graphql::errors::query_error;
use crate::graphql::inputs::{Family, Lang};
use crate::public_url::BaseUrl;
use crate::state::AppState;

/// A region of the 2015 division.
#[derive(Debug, Clone)]
pub struct Region {
    pub(crate) code: String,
}

#[Object]
impl Region {
    /// ISO 3166-2 code.
    async fn code(&self) -> &str {
        &self.code
    }

    /// Name in `lang`.
    async fn name(&self, #[graphql(default)] lang: Lang) -> String {
        reference()
            .region(&self.code)
            .map_or_else(|| self.code.clone(), |r| r.name(lang.into()).to_owned())
    }
}

/// A prefecture or province.
#[derive(Debug, Clone)]
pub struct Province {
    pub(crate) code: String,
}

#[Object]
impl Province {
    /// ISO 3166-2 code.
    async fn code(&self) -> &str {
        &self.code
    }

    /// Name in `lang` (provinces have no English name: English is French).
    async fn name(&self, #[graphql(default)] lang: Lang) -> String {
        reference()
            .province(&self.code)
            .map_or_else(|| self.code.clone(), |p| p.name(lang.into()).to_owned())
    }

    /// The region it belongs to.
    async fn region(&self) -> Region {
        Region {
            code: reference()
                .province(&self.code)
                .map(|p| p.region_code.clone())
                .unwrap_or_default(),
        }
    }
}

/// A canonical sector.
#[derive(Debug, Clone)]
pub struct Sector {
    pub(crate) code: String,
}

#[Object]
impl Sector {
    /// Canonical code.
    async fn code(&self) -> &str {
        &self.code
    }

    /// Label in `lang`.
    async fn name(&self, #[graphql(default)] lang: Lang) -> String {
        reference()
            .sector(&self.code)
            .map_or_else(|| self.code.clone(), |s| s.name(lang.into()).to_owned())
    }
}

/// One group of an aggregate (or the total).
#[derive(Debug, Clone)]
pub struct AggregateRow {
    pub(crate) key: GroupKey,
    pub(crate) sums: Sums,
    /// The census area of its organisations, if known.
    pub(crate) area: Option<ess_schemas::census::Area>,
}

#[Object]
impl AggregateRow {
    /// Family, when grouped by it.
    async fn family(&self) -> Option<Family> {
        self.key.family.map(Into::into)
    }
    /// Region, when grouped by it (null also for organisations with no known region).
    async fn region(&self) -> Option<Region> {
        self.key.region.clone().map(|code| Region { code })
    }
    /// Province, when grouped by it.
    async fn province(&self) -> Option<Province> {
        self.key.province.clone().map(|code| Province { code })
    }
    /// Sector, when grouped by it.
    async fn sector(&self) -> Option<Sector> {
        self.key.sector.clone().map(|code| Sector { code })
    }
    /// Founding year, when grouped by it.
    async fn founded_year(&self) -> Option<i32> {
        self.key.founded_year
    }
    /// Status (`active`, `in_liquidation`, `dissolved`, `unknown`), when grouped by it.
    async fn status(&self) -> Option<&str> {
        self.key.status.as_deref()
    }
    /// Number of organisations.
    async fn organisations(&self) -> i64 {
        self.sums.organisations
    }
    /// Sum of members.
    async fn members(&self) -> i64 {
        self.sums.members
    }
    /// Sum of women members (cooperatives only report them).
    async fn members_women(&self) -> i64 {
        self.sums.members_women
    }
    /// Sum of employees.
    async fn employees(&self) -> i64 {
        self.sums.employees
    }
    /// Sum of women employees.
    async fn employees_women(&self) -> i64 {
        self.sums.employees_women
    }
    /// Sum of men employees.
    async fn employees_men(&self) -> i64 {
        self.sums.employees_men
    }
    /// Share of organisations whose women and men employees are both known.
    async fn gender_coverage(&self) -> Option<f64> {
        self.sums.gender_coverage()
    }
    /// Over organisations with both known: women / (women + men); null when 0.
    async fn women_employment_share(&self) -> Option<f64> {
        self.sums.women_employment_share()
    }
    /// The 2024 census (HCP, RGPH 2024) beside these measures: of the row's region
    /// or province when the aggregate groups by them, else of the filter's area (its
    /// regions and provinces, or the whole country), so that rows grouped by family,
    /// sector, founding year or status share their filter's denominator. Null when
    /// the row's region or province is unknown.
    async fn census(&self) -> Option<CensusContext> {
        self.area
            .clone()
            .map(|area| CensusContext::new(area, &self.sums))
    }
}

/// An aggregate's answer.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub(crate) rows: Vec<AggregateRow>,
    pub(crate) total: AggregateRow,
    pub(crate) snapshot: Snapshot,
    /// What was asked: the permanent link asks it again.
    pub(crate) request: ess_query::AggregateRequest,
    /// Whether the answer holds census figures (its citation credits HCP).
    pub(crate) uses_census: bool,
}

#[Object]
impl Aggregate {
    /// One row per group, ordered by the dimensions, unknown values last.
    async fn rows(&self) -> &[AggregateRow] {
        &self.rows
    }
    /// The measures over every organisation of the filter.
    async fn total(&self) -> &AggregateRow {
        &self.total
    }
    /// The snapshot the numbers come from: cite it.
    async fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
    /// How to cite these numbers: dataset, snapshot id and date, source registries,
    /// licence, and a permanent link (a CSV export pinned to this snapshot) that gives
    /// exactly these numbers again.
    async fn citation(&self, ctx: &Context<'_>, #[graphql(default)] lang: Lang) -> Citation {
        let params = ExportParams {
            group_by: self.request.group_by.clone(),
            filter: self.request.filter.clone(),
            census: self.uses_census,
            ..ExportParams::default()
        };
        Citation::of(
            ctx,
            &self.snapshot.manifest,
            lang,
            &params,
            ExportKind::Aggregate,
        )
    }
}

/// How to cite an answer.
#[derive(SimpleObject, Debug, Clone)]
pub struct Citation {
    /// The reference to quote, link included.
    pub text: String,
    /// The permanent link: the same numbers, from the same snapshot, as CSV.
    pub url: String,
}

impl Citation {
    pub(crate) fn of(
        ctx: &Context<'_>,
        manifest: &Manifest,
        lang: Lang,
        params: &ExportParams,
        kind: ExportKind,
    ) -> Citation {
        let params = ExportParams {
            lang: lang.into(),
            ..params.clone()
        };
        let c = crate::citation::cite_export(manifest, &base(ctx), &params, kind);
        Citation {
            text: c.text,
            url: c.url,
        }
    }
}

/// The base of this request's absolute links.
fn base(ctx: &Context<'_>) -> String {
    match ctx.data_opt::<BaseUrl>() {
        Some(b) => b.0.clone(),
        None => ctx
            .data_unchecked::<AppState>()
            .public_url()
            .unwrap_or("http://localhost")
            .to_owned(),
    }
}

/// A file of a snapshot one may download.
#[derive(SimpleObject, Debug, Clone)]
pub struct Download {
    /// Its name (`organisations-cooperative.parquet`, `datapackage.json`, …).
    pub name: String,
    /// Its absolute URL (answers `HEAD` and byte ranges).
    pub url: String,
    /// Size in bytes.
    pub bytes: i64,
    /// Rows, for tables.
    pub rows: Option<i64>,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Media type.
    pub media_type: String,
}

/// A published snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) manifest: std::sync::Arc<Manifest>,
}

/// Organisations added, removed and changed between two snapshots, for one family and
/// region (or in all).
#[derive(Debug, Clone)]
pub struct DiffRow {
    pub(crate) family: Option<Family>,
    pub(crate) region: Option<String>,
    pub(crate) counts: ess_query::DiffCounts,
}

#[Object]
impl DiffRow {
    /// Family (null on the total).
    async fn family(&self) -> Option<Family> {
        self.family
    }
    /// Region (null when unknown, and on the total).
    async fn region(&self) -> Option<Region> {
        self.region.clone().map(|code| Region { code })
    }
    /// Organisations in the later snapshot only.
    async fn added(&self) -> i64 {
        self.counts.added as i64
    }
    /// Organisations in the earlier snapshot only.
    async fn removed(&self) -> i64 {
        self.counts.removed as i64
    }
    /// Organisations in both with some canonical value changed (provenance alone does
    /// not count).
    async fn changed(&self) -> i64 {
        self.counts.changed as i64
    }
    /// Organisations in both, unchanged.
    async fn unchanged(&self) -> i64 {
        self.counts.unchanged as i64
    }
}

/// What changed from one snapshot to another.
#[derive(Debug, Clone)]
pub struct SnapshotDiff {
    pub(crate) from: Snapshot,
    pub(crate) to: Snapshot,
    pub(crate) rows: Vec<DiffRow>,
    pub(crate) total: DiffRow,
}

#[Object]
impl SnapshotDiff {
    /// The earlier snapshot.
    async fn from(&self) -> &Snapshot {
        &self.from
    }
    /// The later snapshot.
    async fn to(&self) -> &Snapshot {
        &self.to
    }
    /// Per family and region.
    async fn rows(&self) -> &[DiffRow] {
        &self.rows
    }
    /// Over everything.
    async fn total(&self) -> &DiffRow {
        &self.total
    }
}

/// A registry file ingested into a snapshot.
#[derive(SimpleObject, Debug, Clone)]
pub struct IngestedFile {
    /// Family of the registry.
    pub family: Family,
    /// File name.
    pub file: String,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Rows read.
    pub rows_read: i64,
    /// Rows that became organisations.
    pub accepted: i64,
    /// Rows sent to the quarantine.
    pub rejected: i64,
    /// Accepted rows replaced by a later row with the same identifier.
    pub superseded: i64,
}

#[Object]
impl Snapshot {
    /// Snapshot id.
    async fn id(&self) -> &str {
        &self.manifest.snapshot_id
    }
    /// When it was published (RFC 3339, UTC).
    async fn created_at(&self) -> &str {
        &self.manifest.created_at
    }
    /// Organisations in it.
    async fn organisations(&self) -> i64 {
        self.manifest.rows as i64
    }
    /// Rows rejected to the quarantine.
    async fn rejected(&self) -> i64 {
        self.manifest.quarantine_rows as i64
    }
    /// Position in the store's history, from 1.
    async fn sequence(&self) -> i64 {
        self.manifest.sequence as i64
    }
    /// The registry files it was built from, with their counts.
    async fn files(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<IngestedFile>> {
        let state = ctx.data_unchecked::<AppState>();
        let report = state
            .catalog
            .report(&self.manifest)
            .await
            .map_err(query_error)?;
        report
            .files
            .iter()
            .map(|f| {
                let family = ess_schemas::Family::parse(&f.family).ok_or_else(|| {
                    query_error(ess_query::QueryError::Internal(format!(
                        "the report of snapshot {} names an unknown family `{}`",
                        self.manifest.snapshot_id, f.family
                    )))
                })?;
                Ok(IngestedFile {
                    family: family.into(),
                    file: f.file.clone(),
                    sha256: f.sha256.clone(),
                    rows_read: f.rows_read as i64,
                    accepted: f.accepted as i64,
                    rejected: f.rejected as i64,
                    superseded: f.superseded as i64,
                })
            })
            .collect()
    }
    /// Its files: every organisation in one Parquet file and one per family, the
    /// quarantine, the ingest report, and its Data Package and DCAT descriptions.
    async fn downloads(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Download>> {
        let state = ctx.data_unchecked::<AppState>();
        let files = crate::downloads::list(state, &self.manifest, &base(ctx))
            .await
            .map_err(query_error)?;
        Ok(files
            .into_iter()
            .map(|f| Download {
                name: f.name,
                url: f.url,
                bytes: f.bytes as i64,
                rows: f.rows.map(|r| r as i64),
                sha256: f.sha256,
                media_type: f.media_type,
            })
            .collect())
    }
}

/// A canonical organisation with its provenance.
#[derive(Debug, Clone)]
pub struct Organisation(pub(crate) ess_schemas::Organisation);

#[Object]
impl Organisation {
    /// `<family>:<source_id>`.
    async fn org_id(&self) -> &str {
        &self.0.org_id
    }
    /// Family.
    async fn family(&self) -> Family {
        self.0.family.into()
    }
    /// Identifier in the source registry.
    async fn source_id(&self) -> &str {
        &self.0.source_id
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Arabic name.
    async fn name_ar(&self) -> Option<&str> {
        self.0.name_ar.as_deref()
    }
    /// Canonical sector code.
    async fn sector_code(&self) -> &str {
        &self.0.sector_code
    }
    /// Sector.
    async fn sector(&self) -> Sector {
        Sector {
            code: self.0.sector_code.clone(),
        }
    }
    /// Activity labels as given (associations).
    async fn activities(&self) -> &[String] {
        &self.0.activities
    }
    /// Region code.
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    /// Region.
    async fn region(&self) -> Option<Region> {
        self.0.region_code.clone().map(|code| Region { code })
    }
    /// Province code.
    async fn province_code(&self) -> Option<&str> {
        self.0.province_code.as_deref()
    }
    /// Province.
    async fn province(&self) -> Option<Province> {
        self.0.province_code.clone().map(|code| Province { code })
    }
    /// Founding date, `yyyy-mm-dd`.
    async fn founded_on(&self) -> Option<String> {
        self.0.founded_on.map(|d| d.format("%Y-%m-%d").to_string())
    }
    /// Founding year.
    async fn founded_year(&self) -> Option<i32> {
        self.0.founded_year
    }
    /// Status.
    async fn status(&self) -> &str {
        self.0.status.as_str()
    }
    /// Members.
    async fn members_total(&self) -> Option<i64> {
        self.0.members_total
    }
    /// Women members.
    async fn members_women(&self) -> Option<i64> {
        self.0.members_women
    }
    /// Employees.
    async fn employees_total(&self) -> Option<i64> {
        self.0.employees_total
    }
    /// Women employees.
    async fn employees_women(&self) -> Option<i64> {
        self.0.employees_women
    }
    /// Men employees.
    async fn employees_men(&self) -> Option<i64> {
        self.0.employees_men
    }
    /// Volunteers.
    async fn volunteers(&self) -> Option<i64> {
        self.0.volunteers
    }
    /// Recognised of public utility.
    async fn public_utility(&self) -> Option<bool> {
        self.0.public_utility
    }
    /// Data-quality flags.
    async fn quality_flags(&self) -> Vec<&str> {
        self.0.quality_flags.iter().map(|f| f.as_str()).collect()
    }
    /// Registry file it came from.
    async fn source_file(&self) -> &str {
        &self.0.source_file
    }
    /// Row in that file.
    async fn source_row(&self) -> i64 {
        self.0.source_row
    }
}

/// An edge of the organisations connection.
#[derive(SimpleObject, Debug, Clone)]
pub struct OrganisationEdge {
    /// The organisation.
    pub node: Organisation,
    /// Pass as `after` to continue after it.
    pub cursor: String,
}

/// Paging state.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether more organisations follow.
    pub has_next_page: bool,
    /// The last edge's cursor.
    pub end_cursor: Option<String>,
}

/// A page of organisations (Relay connection).
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct OrganisationConnection {
    /// The page.
    pub edges: Vec<OrganisationEdge>,
    /// Paging state.
    pub page_info: PageInfo,
    /// Organisations matching, all pages together.
    pub total_count: i64,
    /// The snapshot the page comes from.
    pub snapshot: Snapshot,
    /// The filter and search asked for: the permanent link asks them again.
    #[graphql(skip)]
    pub asked: ExportParams,
}

#[async_graphql::ComplexObject]
impl OrganisationConnection {
    /// How to cite this list: dataset, snapshot id and date, source registries,
    /// licence, and a permanent link (every organisation of this filter and search, as
    /// CSV, from this snapshot).
    async fn citation(&self, ctx: &Context<'_>, #[graphql(default)] lang: Lang) -> Citation {
        Citation::of(
            ctx,
            &self.snapshot.manifest,
            lang,
            &self.asked,
            ExportKind::Organisations,
        )
    }
}
