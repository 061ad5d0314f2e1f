//! What changed between two snapshots: organisations added, removed and changed, per
//! family and region.
//!
//! Both snapshots are streamed in `org_id` order and merged, so memory does not grow
//! with their size. "Changed" means a canonical value differs; provenance (file and row)
//! alone does not count, nor does the search key derived from the names.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use datafusion::physical_plan::SendableRecordBatchStream;
use ess_schemas::arrow_schema::organisations_from_batch;
use ess_schemas::layout::Manifest;
use ess_schemas::{Family, Organisation};
use futures::StreamExt;

use crate::engine::SnapshotEngine;
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

/// Organisations of a stream, one at a time.
struct Cursor {
    stream: SendableRecordBatchStream,
    buffer: VecDeque<Organisation>,
}

impl Cursor {
    async fn peek(&mut self) -> Result<Option<&Organisation>> {
        while self.buffer.is_empty() {
            match self.stream.next().await {
                Some(batch) => self.buffer.extend(organisations_from_batch(&batch?)?),
                None => return Ok(None),
            }
        }
        Ok(self.buffer.front())
    }

    fn pop(&mut self) -> Option<Organisation> {
        self.buffer.pop_front()
    }
}

fn same_content(a: &Organisation, b: &Organisation) -> bool {
    let mut b = b.clone();
    b.source_file.clone_from(&a.source_file);
    b.source_row = a.source_row;
    *a == b
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
    let mut a = Cursor {
        stream: from.sorted_stream().await?,
        buffer: VecDeque::new(),
    };
    let mut b = Cursor {
        stream: to.sorted_stream().await?,
        buffer: VecDeque::new(),
    };
    let mut counts: BTreeMap<(Family, Option<String>), DiffCounts> = BTreeMap::new();
    let mut bump = |o: &Organisation, f: fn(&mut DiffCounts)| {
        f(counts.entry((o.family, o.region_code.clone())).or_default());
    };
    loop {
        let order = match (a.peek().await?, b.peek().await?) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.org_id.cmp(&y.org_id),
        };
        match order {
            std::cmp::Ordering::Less => {
                let o = a.pop().expect("peeked");
                bump(&o, |c| c.removed += 1);
            }
            std::cmp::Ordering::Greater => {
                let o = b.pop().expect("peeked");
                bump(&o, |c| c.added += 1);
            }
            std::cmp::Ordering::Equal => {
                let (x, y) = (a.pop().expect("peeked"), b.pop().expect("peeked"));
                if same_content(&x, &y) {
                    bump(&y, |c| c.unchanged += 1);
                } else {
                    bump(&y, |c| c.changed += 1);
                }
            }
        }
    }
    // Unknown regions last within a family.
    let mut rows: Vec<DiffRow> = counts
        .into_iter()
        .map(|((family, region), counts)| DiffRow {
            family,
            region,
            counts,
        })
        .collect();
    rows.sort_by(|x, y| {
        (x.family, x.region.is_none(), &x.region).cmp(&(y.family, y.region.is_none(), &y.region))
    });
    Ok(SnapshotDiff {
        from: from.manifest().clone(),
        to: to.manifest().clone(),
        rows,
    })
}
