//! The GraphQL schema of CONTRACT.md. Names here are public: add freely, rename never.

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, ErrorExtensions, InputObject, Object, Schema,
    SimpleObject,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ess_query::{AggregateRequest, Filter, GroupKey, OrganisationsRequest, QueryError};
use ess_schemas::layout::Manifest;
use ess_schemas::measures::Sums;
use ess_schemas::{Lang as SchemaLang, reference};

use std::sync::Arc;

use crate::state::{AppState, Served};

/// The executable schema.
pub type EssSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Builds the schema over `state`.
pub fn schema(state: AppState) -> EssSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(state)
        .limit_depth(12)
        .limit_complexity(5_000)
        .finish()
}

/// The SDL of the schema, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}

fn graphql_error(e: QueryError) -> async_graphql::Error {
    let code = match &e {
        QueryError::InvalidRequest { .. } => "INVALID_REQUEST",
        QueryError::NoSnapshot { .. } | QueryError::UnknownSnapshot { .. } => "NOT_FOUND",
        _ => "INTERNAL",
    };
    if code == "INTERNAL" {
        tracing::error!(error = %e, "query failed");
    }
    async_graphql::Error::new(e.to_string()).extend_with(|_, ext| ext.set("code", code))
}

/// The snapshot a field answers from: the one named, else the one the request started
/// on.
async fn served(ctx: &Context<'_>, snapshot: Option<&str>) -> async_graphql::Result<Arc<Served>> {
    let state = ctx.data_unchecked::<AppState>();
    match (snapshot, ctx.data_opt::<Arc<Served>>()) {
        (None, Some(pinned)) => Ok(pinned.clone()),
        (id, _) => state.snapshot(id).await.map_err(graphql_error),
    }
}

/// An ESS family.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Family {
    /// Cooperatives.
    Cooperative,
    /// Associations.
    Association,
    /// Mutuals.
    Mutual,
}

impl From<Family> for ess_schemas::Family {
    fn from(f: Family) -> Self {
        match f {
            Family::Cooperative => ess_schemas::Family::Cooperative,
            Family::Association => ess_schemas::Family::Association,
            Family::Mutual => ess_schemas::Family::Mutual,
        }
    }
}

impl From<ess_schemas::Family> for Family {
    fn from(f: ess_schemas::Family) -> Self {
        match f {
            ess_schemas::Family::Cooperative => Family::Cooperative,
            ess_schemas::Family::Association => Family::Association,
            ess_schemas::Family::Mutual => Family::Mutual,
        }
    }
}

/// A dimension to group by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Dimension {
    /// By family.
    Family,
    /// By region.
    Region,
    /// By province.
    Province,
    /// By sector.
    Sector,
    /// By founding year.
    FoundedYear,
    /// By status.
    Status,
}

impl From<Dimension> for ess_query::Dimension {
    fn from(d: Dimension) -> Self {
        match d {
            Dimension::Family => ess_query::Dimension::Family,
            Dimension::Region => ess_query::Dimension::Region,
            Dimension::Province => ess_query::Dimension::Province,
            Dimension::Sector => ess_query::Dimension::Sector,
            Dimension::FoundedYear => ess_query::Dimension::FoundedYear,
            Dimension::Status => ess_query::Dimension::Status,
        }
    }
}

/// A language for names and labels.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum Lang {
    /// French.
    #[default]
    Fr,
    /// Arabic.
    Ar,
    /// English.
    En,
}

impl From<Lang> for SchemaLang {
    fn from(l: Lang) -> Self {
        match l {
            Lang::Fr => SchemaLang::Fr,
            Lang::Ar => SchemaLang::Ar,
            Lang::En => SchemaLang::En,
        }
    }
}

/// Inclusive bounds.
#[derive(InputObject, Debug, Default)]
pub struct IntRange {
    /// Lower bound, inclusive.
    pub from: Option<i32>,
    /// Upper bound, inclusive.
    pub to: Option<i32>,
}

/// Which organisations. Lists are "any of"; fields combine with "and".
#[derive(InputObject, Debug, Default)]
pub struct OrganisationFilter {
    /// Families.
    pub family: Option<Vec<Family>>,
    /// ISO 3166-2 region codes, e.g. "MA-03".
    pub region: Option<Vec<String>>,
    /// ISO 3166-2 province codes, e.g. "MA-FES".
    pub province: Option<Vec<String>>,
    /// Canonical sector codes, e.g. "AGRI".
    pub sector: Option<Vec<String>>,
    /// Founding years.
    pub founded_year: Option<IntRange>,
}

impl OrganisationFilter {
    /// The query crate's filter.
    fn into_filter(f: Option<OrganisationFilter>) -> Filter {
        let f = f.unwrap_or_default();
        let year = f.founded_year.unwrap_or_default();
        Filter {
            families: f
                .family
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            regions: f.region.unwrap_or_default(),
            provinces: f.province.unwrap_or_default(),
            sectors: f.sector.unwrap_or_default(),
            founded_from: year.from,
            founded_to: year.to,
        }
    }
}

/// A region of the 2015 division.
#[derive(Debug, Clone)]
pub struct Region {
    code: String,
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
    code: String,
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
    code: String,
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
    key: GroupKey,
    sums: Sums,
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
}

/// An aggregate's answer.
#[derive(Debug, Clone)]
pub struct Aggregate {
    rows: Vec<AggregateRow>,
    total: AggregateRow,
    snapshot: Snapshot,
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
}

/// A published snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    manifest: Manifest,
}

/// Organisations added, removed and changed between two snapshots, for one family and
/// region (or in all).
#[derive(Debug, Clone)]
pub struct DiffRow {
    family: Option<Family>,
    region: Option<String>,
    counts: ess_query::DiffCounts,
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
    from: Snapshot,
    to: Snapshot,
    rows: Vec<DiffRow>,
    total: DiffRow,
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
            .map_err(graphql_error)?;
        Ok(report
            .files
            .iter()
            .map(|f| IngestedFile {
                family: ess_schemas::Family::parse(&f.family)
                    .map(Into::into)
                    .unwrap_or(Family::Cooperative),
                file: f.file.clone(),
                sha256: f.sha256.clone(),
                rows_read: f.rows_read as i64,
                accepted: f.accepted as i64,
                rejected: f.rejected as i64,
                superseded: f.superseded as i64,
            })
            .collect())
    }
    /// Download paths of its Parquet extracts (relative to the server).
    async fn downloads(&self) -> Vec<String> {
        crate::http::download_paths(&self.manifest)
    }
}

/// A canonical organisation with its provenance.
#[derive(Debug, Clone)]
pub struct Organisation(ess_schemas::Organisation);

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
pub struct OrganisationConnection {
    /// The page.
    pub edges: Vec<OrganisationEdge>,
    /// Paging state.
    pub page_info: PageInfo,
    /// Organisations matching, all pages together.
    pub total_count: i64,
    /// The snapshot the page comes from.
    pub snapshot: Snapshot,
}

fn encode_cursor(org_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(org_id)
}

fn decode_cursor(cursor: &str) -> async_graphql::Result<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            async_graphql::Error::new(format!(
                "invalid after: `{cursor}` is not a cursor; pass a pageInfo.endCursor or edge cursor"
            ))
            .extend_with(|_, ext| ext.set("code", "INVALID_REQUEST"))
        })
}

/// The query root.
#[derive(Debug, Default)]
pub struct Query;

#[Object]
impl Query {
    /// Measures grouped by dimensions, over the organisations of the filter.
    async fn aggregate(
        &self,
        ctx: &Context<'_>,
        group_by: Vec<Dimension>,
        filter: Option<OrganisationFilter>,
        #[graphql(desc = "a past snapshot's id (default: the one served)")] snapshot: Option<
            String,
        >,
    ) -> async_graphql::Result<Aggregate> {
        let served = served(ctx, snapshot.as_deref()).await?;
        let request = AggregateRequest {
            group_by: group_by.into_iter().map(Into::into).collect(),
            filter: OrganisationFilter::into_filter(filter),
        };
        let out = served
            .engine
            .aggregate(&request)
            .await
            .map_err(graphql_error)?;
        let rows = out
            .groups()
            .map_err(graphql_error)?
            .into_iter()
            .map(|g| AggregateRow {
                key: g.key,
                sums: g.sums,
            })
            .collect();
        Ok(Aggregate {
            rows,
            total: AggregateRow {
                key: GroupKey::default(),
                sums: out.total().map_err(graphql_error)?,
            },
            snapshot: Snapshot {
                manifest: served.manifest().clone(),
            },
        })
    }

    /// Organisations, in `orgId` order, with an optional search over name, Arabic name
    /// and identifier (accent- and case-insensitive).
    async fn organisations(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrganisationFilter>,
        search: Option<String>,
        #[graphql(desc = "page size, 1 to 1000 (default 20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "a past snapshot's id (default: the one served)")] snapshot: Option<
            String,
        >,
    ) -> async_graphql::Result<OrganisationConnection> {
        let served = served(ctx, snapshot.as_deref()).await?;
        let first = first.unwrap_or(20);
        let request = OrganisationsRequest {
            filter: OrganisationFilter::into_filter(filter),
            search: search.filter(|s| !s.trim().is_empty()),
            after: after.as_deref().map(decode_cursor).transpose()?,
            first: usize::try_from(first).unwrap_or(0),
            // Counting every match is a second pass: only when the query asks for it.
            with_total: ctx.look_ahead().field("totalCount").exists(),
        };
        let page = served
            .engine
            .organisations(&request)
            .await
            .map_err(graphql_error)?;
        let edges: Vec<OrganisationEdge> = page
            .organisations()
            .map_err(graphql_error)?
            .into_iter()
            .map(|o| OrganisationEdge {
                cursor: encode_cursor(&o.org_id),
                node: Organisation(o),
            })
            .collect();
        Ok(OrganisationConnection {
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: page.total_count.unwrap_or(0) as i64,
            snapshot: Snapshot {
                manifest: served.manifest().clone(),
            },
        })
    }

    /// The 12 regions.
    async fn regions(&self) -> Vec<Region> {
        reference()
            .regions()
            .iter()
            .map(|r| Region {
                code: r.code.clone(),
            })
            .collect()
    }

    /// The 75 prefectures and provinces.
    async fn provinces(&self) -> Vec<Province> {
        reference()
            .provinces()
            .iter()
            .map(|p| Province {
                code: p.code.clone(),
            })
            .collect()
    }

    /// The canonical sectors.
    async fn sectors(&self) -> Vec<Sector> {
        reference()
            .sectors()
            .iter()
            .map(|s| Sector {
                code: s.code.clone(),
            })
            .collect()
    }

    /// The snapshot being served.
    async fn snapshot(&self, ctx: &Context<'_>) -> async_graphql::Result<Snapshot> {
        Ok(Snapshot {
            manifest: served(ctx, None).await?.manifest().clone(),
        })
    }

    /// Every published snapshot, newest first.
    async fn snapshots(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Snapshot>> {
        let state = ctx.data_unchecked::<AppState>();
        let mut all = state.catalog.list().await.map_err(graphql_error)?;
        all.reverse();
        Ok(all
            .into_iter()
            .map(|manifest| Snapshot { manifest })
            .collect())
    }

    /// Organisations added, removed and changed from snapshot `from` to snapshot `to`,
    /// per family and region. `to` defaults to the snapshot served, `from` to the one
    /// before `to`.
    async fn diff(
        &self,
        ctx: &Context<'_>,
        from: Option<String>,
        to: Option<String>,
    ) -> async_graphql::Result<SnapshotDiff> {
        let state = ctx.data_unchecked::<AppState>();
        let to = served(ctx, to.as_deref()).await?;
        let from = match from {
            Some(id) => state.snapshot(Some(&id)).await.map_err(graphql_error)?,
            None => state
                .previous(&to)
                .await
                .map_err(graphql_error)?
                .ok_or_else(|| {
                    async_graphql::Error::new(format!(
                        "snapshot {} is the first one: there is nothing to compare it with",
                        to.manifest().snapshot_id
                    ))
                    .extend_with(|_, ext| ext.set("code", "NOT_FOUND"))
                })?,
        };
        let d = ess_query::diff(&from.engine, &to.engine)
            .await
            .map_err(graphql_error)?;
        let total = d.total();
        Ok(SnapshotDiff {
            from: Snapshot { manifest: d.from },
            to: Snapshot { manifest: d.to },
            rows: d
                .rows
                .into_iter()
                .map(|r| DiffRow {
                    family: Some(r.family.into()),
                    region: r.region,
                    counts: r.counts,
                })
                .collect(),
            total: DiffRow {
                family: None,
                region: None,
                counts: total,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let id = "cooperative:COOP-2203-000029";
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        assert!(decode_cursor("***").is_err());
    }

    #[test]
    fn the_committed_sdl_is_current() {
        let committed = include_str!("../schema.graphql");
        assert!(
            committed == sdl(),
            "api/schema.graphql is out of date: run `cargo run -- schema > api/schema.graphql` and review the diff"
        );
    }
}
