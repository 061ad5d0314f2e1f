//! Aggregates and searches over one snapshot, planned with DataFusion's DataFrame API.
//!
//! The snapshot's Parquet files (and only those) are registered as a `ListingTable`
//! of the 22 canonical columns, so a column files of older snapshots still hold
//! (`search_key`) is never read. Its rollup, when it has one, is held in memory as a
//! `MemTable`: the measures are additive and every filter is a dimension, so
//! aggregates are answered from it. Sums are `coalesce(sum(x), 0)` (`measures`); the
//! two ratios are computed from them in `ess_schemas::measures`, so every consumer
//! rounds alike. Answers are cached per snapshot (a snapshot never changes);
//! `aggregate_scanning` and `organisations_scanning` bypass rollup, index and cache,
//! for the tests that check the paths agree and for benchmarks.
//!
//! `organisations` (search, filter, cursor) uses the snapshot's search index
//! (`crate::search`) once built, else DataFusion, which matches every word against the
//! same search key with one scalar UDF, `search_match(name, name_ar, source_id)`,
//! computed once per row that passed the filter. User text is only ever a literal.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanBuilder, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::{
    DataFrame, Expr, ParquetReadOptions, SessionContext, coalesce, col, lit, when,
};
use ess_schemas::arrow_schema::{
    col as c, organisation_schema, organisations_from_batch, push_search_key_of,
};
use ess_schemas::layout::Manifest;
use ess_schemas::measures::{Sums, col as m};
use ess_schemas::rollup::rollup_schema;
use ess_schemas::{Family, Organisation};
use object_store::ObjectStore;

use crate::error::{QueryError, Result};
use crate::request::{AggregateRequest, Dimension, Filter, OrganisationsRequest};
use crate::runtime::{Answer, QueryConfig, QueryRuntime, Question, STORE_URL};
use crate::search::SearchIndex;

/// The table name snapshots are registered under.
const TABLE: &str = "organisations";

/// The table name of the rollup, held in memory.
const ROLLUP: &str = "rollup";

/// Answers queries over one committed snapshot. Cheap to share behind an `Arc`.
pub struct SnapshotEngine {
    ctx: SessionContext,
    runtime: QueryRuntime,
    manifest: Arc<Manifest>,
    /// Built on demand ([`SnapshotEngine::build_search_index`]); until then, searches
    /// scan with DataFusion.
    search: std::sync::RwLock<Option<Arc<SearchIndex>>>,
    /// Set by [`SnapshotEngine::drop_search_index`]: no index is kept any more.
    search_retired: std::sync::atomic::AtomicBool,
    has_rollup: bool,
    /// Groups in the rollup (0 without one): the most rows an aggregate can have.
    rollup_groups: usize,
}

impl std::fmt::Debug for SnapshotEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotEngine")
            .field("snapshot", &self.manifest.snapshot_id)
            .finish_non_exhaustive()
    }
}

/// The key of one aggregate group: set for the dimensions grouped by, `None` for the
/// others and for organisations whose value is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupKey {
    /// Family.
    pub family: Option<Family>,
    /// Region code.
    pub region: Option<String>,
    /// Province code.
    pub province: Option<String>,
    /// Sector code.
    pub sector: Option<String>,
    /// Founding year.
    pub founded_year: Option<i32>,
    /// Status.
    pub status: Option<String>,
}

/// One group of an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Which group.
    pub key: GroupKey,
    /// Its measures.
    pub sums: Sums,
}

/// An aggregate's answer: one row per group, and the total over all groups.
#[derive(Debug, Clone)]
pub struct AggregateOutput {
    /// The dimensions grouped by.
    pub group_by: Vec<Dimension>,
    /// Groups: dimension columns, then the measure columns of
    /// [`ess_schemas::measures::col::ALL`]; ordered by the dimensions, nulls last.
    pub rows: Vec<RecordBatch>,
    /// One row: the measures over every organisation of the filter.
    pub total: Vec<RecordBatch>,
    /// The groups as typed values, read from `rows` once (answers are cached, and a
    /// cached answer is read many times).
    typed: Vec<Group>,
    /// The total as typed values.
    total_sums: Sums,
}

impl AggregateOutput {
    fn new(
        group_by: Vec<Dimension>,
        rows: Vec<RecordBatch>,
        total: Vec<RecordBatch>,
    ) -> Result<Self> {
        let mut typed = Vec::new();
        for batch in &rows {
            let columns = MeasureColumns::of(batch)?;
            for row in 0..batch.num_rows() {
                typed.push(Group {
                    key: group_key(batch, &group_by, row)?,
                    sums: columns.sums_at(row),
                });
            }
        }
        let total_sums = match total.iter().find(|b| b.num_rows() > 0) {
            Some(b) => MeasureColumns::of(b)?.sums_at(0),
            None => Sums::default(),
        };
        Ok(AggregateOutput {
            group_by,
            rows,
            total,
            typed,
            total_sums,
        })
    }

    /// The groups as typed values.
    pub fn groups(&self) -> Result<Vec<Group>> {
        Ok(self.typed.clone())
    }

    /// The groups as typed values, borrowed.
    pub fn group_list(&self) -> &[Group] {
        &self.typed
    }

    /// The total as typed values.
    pub fn total(&self) -> Result<Sums> {
        Ok(self.total_sums)
    }
}

/// A page of organisations.
#[derive(Debug, Clone)]
pub struct OrganisationPage {
    /// The organisations, in `org_id` order, canonical schema.
    pub batches: Vec<RecordBatch>,
    /// Organisations matching the filter and search, all pages together (when asked).
    pub total_count: Option<u64>,
    /// Whether more follow this page.
    pub has_next_page: bool,
}

impl OrganisationPage {
    /// The page's organisations as typed values.
    pub fn organisations(&self) -> Result<Vec<Organisation>> {
        let mut out = Vec::new();
        for b in &self.batches {
            out.extend(organisations_from_batch(b)?);
        }
        Ok(out)
    }
}

impl SnapshotEngine {
    /// An engine over the snapshot `manifest` describes, in `store`, on a runtime of
    /// its own with the default limits (tests and tools; a server shares one runtime
    /// between its engines: [`SnapshotEngine::open_in`]).
    pub async fn open(store: Arc<dyn ObjectStore>, manifest: Manifest) -> Result<Self> {
        let runtime = QueryRuntime::new(store, QueryConfig::default())?;
        Self::open_in(&runtime, manifest).await
    }

    /// An engine over the snapshot `manifest` describes, in the runtime's store.
    pub async fn open_in(runtime: &QueryRuntime, manifest: Manifest) -> Result<Self> {
        let ctx = runtime.session();
        ctx.register_table(TABLE, organisations_table(&manifest)?)?;
        let (has_rollup, rollup_groups) = match &manifest.rollup_parquet {
            Some(path) => {
                // With its own schema: plain Utf8, not the view types DataFusion
                // reads Parquet strings as by default.
                let schema = rollup_schema();
                let options = ParquetReadOptions::default().schema(&schema);
                let df = ctx
                    .read_parquet(format!("{STORE_URL}/{path}"), options)
                    .await?;
                let table_schema = Arc::new(df.schema().as_arrow().clone());
                let batches = df.collect().await?;
                let groups = batches.iter().map(|b| b.num_rows()).sum();
                let table = MemTable::try_new(table_schema, vec![batches])?;
                ctx.register_table(ROLLUP, Arc::new(table))?;
                (true, groups)
            }
            None => (false, 0),
        };
        Ok(SnapshotEngine {
            ctx,
            runtime: runtime.clone(),
            manifest: Arc::new(manifest),
            search: Default::default(),
            search_retired: Default::default(),
            has_rollup,
            rollup_groups,
        })
    }

    /// The runtime it runs on.
    pub fn runtime(&self) -> &QueryRuntime {
        &self.runtime
    }

    /// The most groups an aggregate of this snapshot can have: the rollup's groups
    /// (the snapshot's organisations without a rollup).
    pub fn max_groups(&self) -> usize {
        if self.has_rollup {
            self.rollup_groups
        } else {
            usize::try_from(self.manifest.rows).unwrap_or(usize::MAX)
        }
    }

    /// The snapshot's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The snapshot's manifest, shared.
    pub fn shared_manifest(&self) -> Arc<Manifest> {
        self.manifest.clone()
    }

    async fn filtered(&self, filter: &Filter) -> Result<DataFrame> {
        self.filtered_in(TABLE, filter).await
    }

    async fn filtered_in(&self, table: &str, filter: &Filter) -> Result<DataFrame> {
        let df = self.ctx.table(table).await?;
        Ok(match filter_expr(filter) {
            Some(e) => df.filter(e)?,
            None => df,
        })
    }

    /// Measures per group: from the rollup when the snapshot has one, and from a
    /// cache of earlier answers (a snapshot never changes, so neither do they).
    pub async fn aggregate(&self, request: &AggregateRequest) -> Result<Arc<AggregateOutput>> {
        request.validate()?;
        let key = AggregateRequest {
            group_by: request.group_by.clone(),
            filter: request.filter.normalized(),
        };
        let question = Question::Aggregate(key.clone());
        let compute = async {
            Ok(Answer::Aggregate(Arc::new(
                self.compute(&key, self.has_rollup).await?,
            )))
        };
        match self
            .runtime
            .answer(self.manifest.sequence, question, compute)
            .await?
        {
            Answer::Aggregate(out) => Ok(out),
            _ => Err(QueryError::Internal(
                "an aggregate's answer is not one".into(),
            )),
        }
    }

    /// Measures per group computed by scanning the organisations, bypassing rollup and
    /// cache: what a first query without a rollup costs (benchmarks, and tests that the
    /// two paths agree).
    pub async fn aggregate_scanning(&self, request: &AggregateRequest) -> Result<AggregateOutput> {
        request.validate()?;
        self.compute(request, false).await
    }

    async fn compute(
        &self,
        request: &AggregateRequest,
        from_rollup: bool,
    ) -> Result<AggregateOutput> {
        let span = tracing::info_span!("aggregate", snapshot = %self.manifest.snapshot_id, group_by = ?request.group_by, from_rollup);
        let _enter = span.enter();
        let started = std::time::Instant::now();
        let table = if from_rollup { ROLLUP } else { TABLE };
        let df = self.filtered_in(table, &request.filter).await?;
        let groups: Vec<Expr> = request.group_by.iter().map(|d| col(d.column())).collect();
        let mut grouped = measures(df.clone(), groups.clone(), from_rollup)?;
        if !groups.is_empty() {
            grouped = grouped.sort(groups.iter().map(|g| g.clone().sort(true, false)).collect())?;
        }
        let rows = grouped.collect().await?;
        let total = measures(df, Vec::new(), from_rollup)?.collect().await?;
        tracing::debug!(
            groups = rows.iter().map(|b| b.num_rows()).sum::<usize>(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "aggregate answered"
        );
        AggregateOutput::new(request.group_by.clone(), rows, total)
    }

    /// A page of organisations, in `org_id` order; repeated pages come from a cache.
    pub async fn organisations(
        &self,
        request: &OrganisationsRequest,
    ) -> Result<Arc<OrganisationPage>> {
        request.validate()?;
        let words = self
            .runtime
            .config()
            .search
            .words(request.search.as_deref())?;
        let key = OrganisationsRequest {
            filter: request.filter.normalized(),
            // Equal searches share an entry: the words are what is matched.
            search: (!words.is_empty()).then(|| words.join(" ")),
            ..request.clone()
        };
        let question = Question::Page(key.clone());
        let compute = async { Ok(Answer::Page(Arc::new(self.fetch_page(&key, words).await?))) };
        match self
            .runtime
            .answer(self.manifest.sequence, question, compute)
            .await?
        {
            Answer::Page(page) => Ok(page),
            _ => Err(QueryError::Internal("a page's answer is not one".into())),
        }
    }

    /// Builds the snapshot's search index (see [`crate::search`]), once; later
    /// searches use it. Takes seconds at national scale: servers run it in the
    /// background.
    pub async fn build_search_index(&self) -> Result<()> {
        if self.search_index_ready() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let index = SearchIndex::build(self.runtime.store().clone(), &self.manifest).await?;
        tracing::info!(
            snapshot = %self.manifest.snapshot_id,
            organisations = index.len(),
            mib = index.memory_bytes() / (1 << 20),
            seconds = started.elapsed().as_secs_f64(),
            "search index ready"
        );
        if !self
            .search_retired
            .load(std::sync::atomic::Ordering::Acquire)
        {
            *self.search.write().expect("lock") = Some(Arc::new(index));
        }
        Ok(())
    }

    /// Whether searches use the index.
    pub fn search_index_ready(&self) -> bool {
        self.search.read().expect("lock").is_some()
    }

    /// Frees the search index (a snapshot no longer served keeps answering, by
    /// scanning); an index still being built is dropped when done.
    pub fn drop_search_index(&self) {
        self.search_retired
            .store(true, std::sync::atomic::Ordering::Release);
        *self.search.write().expect("lock") = None;
    }

    /// Every organisation of the filter and search, in `org_id` order, as a stream of
    /// batches (exports: no row cap but the filter). The sort spills to disk under
    /// the runtime's memory pool; dropping the stream stops the work.
    pub async fn organisations_stream(
        &self,
        filter: &Filter,
        search: Option<&str>,
    ) -> Result<datafusion::physical_plan::SendableRecordBatchStream> {
        filter.validate()?;
        let words = self.runtime.config().search.words(search)?;
        let df = searched(self.filtered(filter).await?, words)?;
        Ok(df
            .sort(vec![col(c::ORG_ID).sort(true, false)])?
            .execute_stream()
            .await?)
    }

    /// A page as DataFusion scans it, bypassing index and cache (benchmarks, and tests
    /// that the paths agree).
    pub async fn organisations_scanning(
        &self,
        request: &OrganisationsRequest,
    ) -> Result<OrganisationPage> {
        request.validate()?;
        let words = self
            .runtime
            .config()
            .search
            .words(request.search.as_deref())?;
        self.scan_page(request, words).await
    }

    async fn fetch_page(
        &self,
        request: &OrganisationsRequest,
        words: Vec<String>,
    ) -> Result<OrganisationPage> {
        let index = self.search.read().expect("lock").clone();
        match index {
            // A 0 byte separates keys in the index; no normalised word holds one.
            // The index holds no status: a status filter is answered by scanning.
            Some(index)
                if words.iter().all(|w| !w.contains('\0'))
                    && request.filter.statuses.is_empty() =>
            {
                // A scan of up to the whole index: off the async threads, and stopped
                // when this request is dropped (timed out, or its client gone).
                let started = std::time::Instant::now();
                let cancel = CancelOnDrop::default();
                let hits = {
                    let (index, request, stop) = (index.clone(), request.clone(), cancel.flag());
                    tokio::task::spawn_blocking(move || index.find(&words, &request, &stop))
                        .await
                        .map_err(|e| QueryError::Internal(format!("search stopped: {e}")))?
                };
                let found = started.elapsed();
                let batches = index.fetch(self.runtime.store(), &hits.ranks).await?;
                tracing::debug!(
                    find_ms = found.as_secs_f64() * 1e3,
                    fetch_ms = (started.elapsed() - found).as_secs_f64() * 1e3,
                    rows = hits.ranks.len(),
                    "search answered from the index"
                );
                Ok(OrganisationPage {
                    batches,
                    total_count: hits.total,
                    has_next_page: hits.has_next_page,
                })
            }
            _ => self.scan_page(request, words).await,
        }
    }

    async fn scan_page(
        &self,
        request: &OrganisationsRequest,
        words: Vec<String>,
    ) -> Result<OrganisationPage> {
        let span = tracing::info_span!("organisations", snapshot = %self.manifest.snapshot_id);
        let _enter = span.enter();
        let mut df = searched(self.filtered(&request.filter).await?, words)?;
        let total_count = if request.with_total {
            Some(df.clone().count().await? as u64)
        } else {
            None
        };
        if let Some(after) = &request.after {
            df = df.filter(col(c::ORG_ID).gt(lit(after.clone())))?;
        }
        let batches = df
            .sort(vec![col(c::ORG_ID).sort(true, false)])?
            .limit(0, Some(request.first + 1))?
            .collect()
            .await?;
        let fetched: usize = batches.iter().map(|b| b.num_rows()).sum();
        let has_next_page = fetched > request.first;
        let batches = truncate(batches, request.first);
        Ok(OrganisationPage {
            batches,
            total_count,
            has_next_page,
        })
    }
}

/// `df`'s rows that hold every one of `words`. One predicate however many words: the
/// key computed once per row that passed the filter, as the index does, and every
/// word looked for in it. (A filter or an `AND` per word would nest the plan as deep
/// as the words are many.)
fn searched(df: DataFrame, words: Vec<String>) -> Result<DataFrame> {
    if words.is_empty() {
        return Ok(df);
    }
    Ok(df.filter(search_match_udf(words).call(vec![
        col(c::NAME),
        col(c::NAME_AR),
        col(c::SOURCE_ID),
    ]))?)
}

/// The snapshot's organisations as a DataFusion table: its files (and only those),
/// in the runtime's store.
pub(crate) fn organisations_table(manifest: &Manifest) -> Result<Arc<ListingTable>> {
    let paths = manifest
        .organisations_parquet
        .iter()
        .map(|p| ListingTableUrl::parse(format!("{STORE_URL}/{p}")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(paths)
        .with_listing_options(options)
        .with_schema(organisation_schema());
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// `search_match(name, name_ar, source_id)`: whether an organisation's search key
/// ([`push_search_key_of`], the text the index searches) holds every one of `words`,
/// for the scanning path.
fn search_match_udf(words: Vec<String>) -> ScalarUDF {
    let finders: Vec<memchr::memmem::Finder<'static>> = words
        .iter()
        .map(|w| memchr::memmem::Finder::new(w.as_bytes()).into_owned())
        .collect();
    create_udf(
        "search_match",
        vec![DataType::Utf8, DataType::Utf8, DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let text = |i: usize| {
                arrays
                    .get(i)
                    .and_then(|a| a.as_string_opt::<i32>())
                    .ok_or_else(|| {
                        datafusion::error::DataFusionError::Internal(format!(
                            "search_match: argument {i} is not text"
                        ))
                    })
            };
            let (name, name_ar, source_id) = (text(0)?, text(1)?, text(2)?);
            let mut matches = BooleanBuilder::with_capacity(name.len());
            let mut key = String::new();
            for i in 0..name.len() {
                if name.is_null(i) || source_id.is_null(i) {
                    matches.append_value(false);
                    continue;
                }
                key.clear();
                let ar = name_ar.is_valid(i).then(|| name_ar.value(i));
                push_search_key_of(name.value(i), ar, source_id.value(i), &mut key);
                matches.append_value(finders.iter().all(|f| f.find(key.as_bytes()).is_some()));
            }
            Ok(ColumnarValue::Array(Arc::new(matches.finish())))
        }),
    )
}

/// Sets its flag when dropped: a blocking search checks the flag and stops when the
/// request that started it is gone.
#[derive(Debug, Default)]
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl CancelOnDrop {
    fn flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.0.clone()
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn truncate(batches: Vec<RecordBatch>, mut keep: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for b in batches {
        if keep == 0 {
            break;
        }
        let n = b.num_rows().min(keep);
        out.push(b.slice(0, n));
        keep -= n;
    }
    out
}

/// The filter as one predicate, or `None` when it filters nothing.
fn filter_expr(filter: &Filter) -> Option<Expr> {
    let any_of = |column: &str, values: Vec<String>| -> Option<Expr> {
        (!values.is_empty())
            .then(|| col(column).in_list(values.into_iter().map(lit).collect(), false))
    };
    let mut parts: Vec<Expr> = [
        any_of(
            c::FAMILY,
            filter
                .families
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
        ),
        any_of(c::REGION_CODE, filter.regions.clone()),
        any_of(c::PROVINCE_CODE, filter.provinces.clone()),
        any_of(c::SECTOR_CODE, filter.sectors.clone()),
        any_of(c::STATUS, filter.statuses.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(from) = filter.founded_from {
        parts.push(col(c::FOUNDED_YEAR).gt_eq(lit(from)));
    }
    if let Some(to) = filter.founded_to {
        parts.push(col(c::FOUNDED_YEAR).lt_eq(lit(to)));
    }
    parts.into_iter().reduce(Expr::and)
}

/// Groups `df` and computes the integer sums of [`Sums`]; a sum over no known value
/// is 0, not null. From the rollup, the sums are sums of its pre-summed columns.
fn measures(df: DataFrame, groups: Vec<Expr>, from_rollup: bool) -> Result<DataFrame> {
    let known = col(c::EMPLOYEES_WOMEN)
        .is_not_null()
        .and(col(c::EMPLOYEES_MEN).is_not_null());
    let if_known = |e: Expr| when(known.clone(), e).otherwise(lit(0i64));
    let aggregates = if from_rollup {
        m::ALL
            .iter()
            .map(|name| sum(col(*name)).alias(*name))
            .collect()
    } else {
        vec![
            count(lit(1i64)).alias(m::ORGANISATIONS),
            sum(col(c::MEMBERS_TOTAL)).alias(m::MEMBERS),
            sum(col(c::MEMBERS_WOMEN)).alias(m::MEMBERS_WOMEN),
            sum(col(c::EMPLOYEES_TOTAL)).alias(m::EMPLOYEES),
            sum(col(c::EMPLOYEES_WOMEN)).alias(m::EMPLOYEES_WOMEN),
            sum(col(c::EMPLOYEES_MEN)).alias(m::EMPLOYEES_MEN),
            sum(if_known(lit(1i64))?).alias(m::GENDER_KNOWN),
            sum(if_known(col(c::EMPLOYEES_WOMEN))?).alias(m::GENDER_KNOWN_WOMEN),
            sum(if_known(col(c::EMPLOYEES_MEN))?).alias(m::GENDER_KNOWN_MEN),
        ]
    };
    let mut projection: Vec<Expr> = groups
        .iter()
        .map(|g| match g {
            Expr::Column(column) => col(column.name()),
            other => other.clone(),
        })
        .collect();
    projection.extend(
        m::ALL
            .iter()
            .map(|name| coalesce(vec![col(*name), lit(0i64)]).alias(*name)),
    );
    Ok(df.aggregate(groups, aggregates)?.select(projection)?)
}

/// The measure columns of an answer's batch, found once per batch.
struct MeasureColumns<'a>([&'a arrow::array::PrimitiveArray<Int64Type>; m::ALL.len()]);

impl<'a> MeasureColumns<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self> {
        let mut found = Vec::with_capacity(m::ALL.len());
        for name in m::ALL {
            found.push(
                batch
                    .column_by_name(name)
                    .and_then(|a| a.as_primitive_opt::<Int64Type>())
                    .ok_or_else(|| {
                        QueryError::Internal(format!(
                            "measure column `{name}` missing from the answer"
                        ))
                    })?,
            );
        }
        Ok(MeasureColumns(found.try_into().expect("one per measure")))
    }

    fn sums_at(&self, row: usize) -> Sums {
        let mut values = [0; m::ALL.len()];
        for (value, a) in values.iter_mut().zip(&self.0) {
            *value = if a.is_null(row) { 0 } else { a.value(row) };
        }
        Sums::from_array(values)
    }
}

fn group_key(batch: &RecordBatch, dims: &[Dimension], row: usize) -> Result<GroupKey> {
    let mut key = GroupKey::default();
    for d in dims {
        let array = batch.column_by_name(d.column()).ok_or_else(|| {
            QueryError::Internal(format!("column `{}` missing from the answer", d.column()))
        })?;
        if array.is_null(row) {
            continue;
        }
        let text = || -> Option<String> {
            match array.as_string_opt::<i32>() {
                Some(s) => Some(s.value(row).to_owned()),
                None => array.as_string_view_opt().map(|s| s.value(row).to_owned()),
            }
        };
        match d {
            Dimension::Family => key.family = text().as_deref().and_then(Family::parse),
            Dimension::Region => key.region = text(),
            Dimension::Province => key.province = text(),
            Dimension::Sector => key.sector = text(),
            Dimension::Status => key.status = text(),
            Dimension::FoundedYear => {
                key.founded_year = array.as_primitive_opt::<Int32Type>().map(|a| a.value(row))
            }
        }
    }
    Ok(key)
}
