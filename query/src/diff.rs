//! What changed between two snapshots: organisations added, removed and changed, per
//! family and region.
//!
//! One DataFusion plan, in bounded memory however large the snapshots: each snapshot's
//! rows are read as `(org_id, family, region, content)` — `content` a 64-bit hash of
//! every canonical value but the provenance (file and row), which alone does not
//! count as a change — and the two are joined on `org_id` by a sort-merge join, whose
//! sorts spill to disk past their share of the runtime's memory pool; the join's rows
//! are then counted per family and region. A change is missed only if two different
//! contents of one organisation hash alike (a chance of 2⁻⁶⁴ per changed organisation).

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use arrow::row::{RowConverter, SortField};
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::{DataFrame, Expr, SessionConfig, coalesce, col, lit, when};
use ess_schemas::Family;
use ess_schemas::arrow_schema::{col as c, organisation_schema};
use ess_schemas::layout::Manifest;

use crate::engine::{SnapshotEngine, organisations_table};
use crate::error::{QueryError, Result};
use crate::runtime::{Answer, Question};

/// Counts for one family and region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffCounts {
    /// In the later snapshot only.
    pub added: u64,
    /// In the earlier snapshot only.
    pub removed: u64,
    /// In both, with some canonical value changed.
    pub changed: u64,
    /// In both, unchanged.
    pub unchanged: u64,
}

/// One row of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRow {
    /// Family.
    pub family: Family,
    /// Region code (of the later snapshot; of the earlier one for removals); `None`
    /// when unknown.
    pub region: Option<String>,
    /// The counts.
    pub counts: DiffCounts,
}

/// The differences between two snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotDiff {
    /// The earlier snapshot.
    pub from: Manifest,
    /// The later snapshot.
    pub to: Manifest,
    /// Per family and region, ordered by family then region (unknown last).
    pub rows: Vec<DiffRow>,
}

impl SnapshotDiff {
    /// Counts over every row.
    pub fn total(&self) -> DiffCounts {
        let mut t = DiffCounts::default();
        for r in &self.rows {
            t.added += r.counts.added;
            t.removed += r.counts.removed;
            t.changed += r.counts.changed;
            t.unchanged += r.counts.unchanged;
        }
        t
    }
}

/// Compares `from` (earlier) with `to` (later); a diff asked again (or while it is
/// being computed) comes from the runtime's answer cache.
pub async fn diff(from: &SnapshotEngine, to: &SnapshotEngine) -> Result<Arc<SnapshotDiff>> {
    let question = Question::DiffFrom(from.manifest().sequence);
    let compute = async { Ok(Answer::Diff(Arc::new(compute(from, to).await?))) };
    match to
        .runtime()
        .answer(to.manifest().sequence, question, compute)
        .await?
    {
        Answer::Diff(d) => Ok(d),
        _ => Err(QueryError::Internal("a diff's answer is not one".into())),
    }
}

async fn compute(from: &SnapshotEngine, to: &SnapshotEngine) -> Result<SnapshotDiff> {
    let span = tracing::info_span!("diff", from = %from.manifest().snapshot_id, to = %to.manifest().snapshot_id);
    let _enter = span.enter();
    // A sort-merge join, not a hash join: its sorts spill; a hash table would not. Its
    // rows are narrow, so a sort keeps little aside for merging what it spilled.
    let ctx = to.runtime().session_with(
        SessionConfig::new()
            .set_bool("datafusion.optimizer.prefer_hash_join", false)
            .set_usize(
                "datafusion.execution.sort_spill_reservation_bytes",
                256 << 10,
            ),
    );
    let side = |manifest: &Manifest, p: &str| -> Result<DataFrame> {
        let df = ctx.read_table(organisations_table(manifest)?)?;
        let content = content_hash_udf(df.schema().as_arrow())?;
        let hashed: Vec<Expr> = content_columns().iter().map(|n| col(n.as_str())).collect();
        Ok(df.select(vec![
            col(c::ORG_ID).alias(format!("{p}id")),
            col(c::FAMILY).alias(format!("{p}family")),
            col(c::REGION_CODE).alias(format!("{p}region")),
            content.call(hashed).alias(format!("{p}content")),
        ])?)
    };
    let joined = side(from.manifest(), "a_")?.join(
        side(to.manifest(), "b_")?,
        JoinType::Full,
        &["a_id"],
        &["b_id"],
        None,
    )?;
    let is = |kind: Expr| when(kind, lit(1i64)).otherwise(lit(0i64));
    let added = col("a_id").is_null();
    let removed = col("b_id").is_null();
    let both = col("a_id").is_not_null().and(col("b_id").is_not_null());
    let counts = joined
        .aggregate(
            vec![
                coalesce(vec![col("b_family"), col("a_family")]).alias("family"),
                when(removed.clone(), col("a_region"))
                    .otherwise(col("b_region"))?
                    .alias("region"),
            ],
            vec![
                sum(is(added)?).alias("added"),
                sum(is(removed.clone())?).alias("removed"),
                sum(is(both
                    .clone()
                    .and(col("a_content").not_eq(col("b_content"))))?)
                .alias("changed"),
                sum(is(both.and(col("a_content").eq(col("b_content"))))?).alias("unchanged"),
            ],
        )?
        .collect()
        .await?;
    let mut rows = Vec::new();
    for batch in &counts {
        let text = |name: &str| -> Result<arrow::array::StringArray> {
            let a = batch
                .column_by_name(name)
                .ok_or_else(|| QueryError::Internal(format!("diff: no column `{name}`")))?;
            Ok(arrow::compute::cast(a, &DataType::Utf8)?
                .as_string::<i32>()
                .clone())
        };
        let number = |name: &str| -> Result<arrow::array::Int64Array> {
            let a = batch
                .column_by_name(name)
                .ok_or_else(|| QueryError::Internal(format!("diff: no column `{name}`")))?;
            Ok(arrow::compute::cast(a, &DataType::Int64)?
                .as_primitive::<Int64Type>()
                .clone())
        };
        let (family, region) = (text("family")?, text("region")?);
        let [added, removed, changed, unchanged] = [
            number("added")?,
            number("removed")?,
            number("changed")?,
            number("unchanged")?,
        ];
        for i in 0..batch.num_rows() {
            let family = Family::parse(family.value(i)).ok_or_else(|| {
                QueryError::Internal(format!("diff: unknown family `{}`", family.value(i)))
            })?;
            let n = |a: &arrow::array::Int64Array| a.value(i) as u64;
            rows.push(DiffRow {
                family,
                region: region.is_valid(i).then(|| region.value(i).to_owned()),
                counts: DiffCounts {
                    added: n(&added),
                    removed: n(&removed),
                    changed: n(&changed),
                    unchanged: n(&unchanged),
                },
            });
        }
    }
    // Unknown regions last within a family.
    rows.sort_by(|x, y| {
        (x.family, x.region.is_none(), &x.region).cmp(&(y.family, y.region.is_none(), &y.region))
    });
    Ok(SnapshotDiff {
        from: from.manifest().clone(),
        to: to.manifest().clone(),
        rows,
    })
}

/// The columns a change is looked for in: every canonical one but the provenance.
fn content_columns() -> Vec<String> {
    organisation_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| n != c::SOURCE_FILE && n != c::SOURCE_ROW)
        .collect()
}

/// `content(…)`: a 64-bit hash of a row's values in the content columns, from their
/// row-format bytes (`arrow::row`: equal values, equal bytes; nulls included).
fn content_hash_udf(schema: &arrow::datatypes::Schema) -> Result<ScalarUDF> {
    let types: Vec<DataType> = content_columns()
        .iter()
        .map(|n| schema.field_with_name(n).map(|f| f.data_type().clone()))
        .collect::<std::result::Result<_, _>>()?;
    let fields: Vec<SortField> = types.iter().cloned().map(SortField::new).collect();
    Ok(create_udf(
        "content",
        types,
        DataType::UInt64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let converter = RowConverter::new(fields.clone())?;
            let rows = converter.convert_columns(&arrays)?;
            let hasher = foldhash::quality::FixedState::with_seed(0x00e5_5d1f);
            let hashes: arrow::array::UInt64Array = rows
                .iter()
                .map(|r| Some(std::hash::BuildHasher::hash_one(&hasher, r.as_ref())))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(hashes)))
        }),
    ))
}
