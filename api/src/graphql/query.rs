//! The query root: what a request can ask for.

use std::sync::Arc;

use async_graphql::{Context, Object};
use ess_query::{AggregateRequest, GroupKey, OrganisationsRequest};
use ess_schemas::reference;

use crate::export::ExportParams;
use crate::graphql::census::area_of;
use crate::graphql::cursor::{decode_cursor, encode_cursor};
use crate::graphql::errors::{coded, query_error};
use crate::graphql::inputs::{Dimension, OrganisationFilter};
use crate::graphql::types::{
    Aggregate, AggregateRow, DiffRow, Organisation, OrganisationConnection, OrganisationEdge,
    PageInfo, Province, Region, Sector, Snapshot, SnapshotDiff,
};
use crate::state::{AppState, Served};

/// The snapshot a field answers from: the one named, else the one the request started
/// on.
async fn served(ctx: &Context<'_>, snapshot: Option<&str>) -> async_graphql::Result<Arc<Served>> {
    let state = ctx.data_unchecked::<AppState>();
    match (snapshot, ctx.data_opt::<Arc<Served>>()) {
        (None, Some(pinned)) => Ok(pinned.clone()),
        (id, _) => state.snapshot(id).await.map_err(query_error),
    }
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
            .map_err(query_error)?;
        let look = ctx.look_ahead();
        let uses_census = look.field("rows").field("census").exists()
            || look.field("total").field("census").exists();
        let rows = out
            .group_list()
            .iter()
            .map(|g| AggregateRow {
                area: uses_census
                    .then(|| area_of(&request, &g.key, false))
                    .flatten(),
                key: g.key.clone(),
                sums: g.sums,
            })
            .collect();
        let total_key = GroupKey::default();
        Ok(Aggregate {
            rows,
            total: AggregateRow {
                area: uses_census
                    .then(|| area_of(&request, &total_key, true))
                    .flatten(),
                key: total_key,
                sums: out.total().map_err(query_error)?,
            },
            uses_census,
            snapshot: Snapshot {
                manifest: served.engine.shared_manifest(),
            },
            request,
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
            .map_err(query_error)?;
        let edges: Vec<OrganisationEdge> = page
            .organisations()
            .map_err(query_error)?
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
                manifest: served.engine.shared_manifest(),
            },
            asked: ExportParams {
                filter: request.filter.clone(),
                search: request.search.clone(),
                ..ExportParams::default()
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
            manifest: served(ctx, None).await?.engine.shared_manifest(),
        })
    }

    /// Every published snapshot, newest first.
    async fn snapshots(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Snapshot>> {
        let state = ctx.data_unchecked::<AppState>();
        let mut all = state.catalog.list().await.map_err(query_error)?;
        all.reverse();
        Ok(all
            .into_iter()
            .map(|manifest| Snapshot {
                manifest: Arc::new(manifest),
            })
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
            Some(id) => state.snapshot(Some(&id)).await.map_err(query_error)?,
            None => state
                .previous(&to)
                .await
                .map_err(query_error)?
                .ok_or_else(|| {
                    coded(
                        "NOT_FOUND",
                        format!(
                            "snapshot {} is the first one: there is nothing to compare it with",
                            to.manifest().snapshot_id
                        ),
                    )
                })?,
        };
        let d = ess_query::diff(&from.engine, &to.engine)
            .await
            .map_err(query_error)?;
        let total = d.total();
        Ok(SnapshotDiff {
            from: Snapshot {
                manifest: Arc::new(d.from.clone()),
            },
            to: Snapshot {
                manifest: Arc::new(d.to.clone()),
            },
            rows: d
                .rows
                .iter()
                .map(|r| DiffRow {
                    family: Some(r.family.into()),
                    region: r.region.clone(),
                    counts: r.counts.clone(),
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
