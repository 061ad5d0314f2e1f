//! The final files of pass two: the organisations' Parquet parts (one family each)
//! and the rollup, written as rows arrive.

use super::*;

/// Which rows of a file pass two keeps: those not superseded. Rows are numbered as in
/// pass one, from `first_row`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kept<'a> {
    pub(super) superseded: &'a Superseded,
    pub(super) first_row: u64,
}

impl Kept<'_> {
    /// The first superseded row at or after `row`, `u64::MAX` if none.
    pub(super) fn next_superseded(&self, row: u64) -> u64 {
        self.superseded.next_from(row).unwrap_or(u64::MAX)
    }
}

/// The final Parquet parts and the rollup, written as rows arrive.
pub(super) struct FinalWriter<'p> {
    pub(super) part_done: PartDone<'p>,
    pub(super) dir: PathBuf,
    pub(super) layout: ParquetLayout,
    pub(super) props: WriterProperties,
    pub(super) rollup: RollupBuilder,
    pub(super) spill_path: PathBuf,
    pub(super) parts: Vec<PathBuf>,
    pub(super) writer: Option<ParallelWriter>,
    pub(super) in_part: usize,
    /// The family of the open part's rows: a part holds one family, so that readers
    /// of the table skip a family's files by their statistics.
    pub(super) part_family: Option<String>,
    pub(super) total: u64,
}

/// The family of a batch's rows (a batch comes from one registry file, so one
/// family).
pub(super) fn batch_family(batch: &RecordBatch) -> Option<String> {
    use arrow::array::{Array, AsArray};
    let families = batch.column_by_name(col::FAMILY)?.as_string_opt::<i32>()?;
    (!families.is_empty() && families.is_valid(0)).then(|| families.value(0).to_owned())
}

impl<'p> FinalWriter<'p> {
    pub(super) fn new(dir: &Path, layout: ParquetLayout, part_done: PartDone<'p>) -> Result<Self> {
        let spill_path = dir.join("rollup-spill");
        let spill = FileSpill::create(&spill_path).map_err(staging_err(&spill_path))?;
        Ok(FinalWriter {
            part_done,
            dir: dir.to_owned(),
            layout,
            props: writer_properties(&layout),
            rollup: RollupBuilder::with_spill(Box::new(spill), ROLLUP_BUDGET),
            spill_path,
            parts: Vec::new(),
            writer: None,
            in_part: 0,
            part_family: None,
            total: 0,
        })
    }

    pub(super) fn write(&mut self, batch: &RecordBatch, rollup: RollupRows) -> Result<()> {
        self.rollup.add_rows(rollup);
        let family = batch_family(batch);
        let other_family = family.is_some() && family != self.part_family;
        if self.writer.is_none() || self.in_part >= self.layout.rows_per_file || other_family {
            self.part_family = family;
            self.close_part()?;
            let path = self
                .dir
                .join(format!("part-{:05}.parquet", self.parts.len()));
            let f = File::create(&path).map_err(staging_err(&path))?;
            self.writer = Some(
                ParallelWriter::try_new(
                    f,
                    organisation_schema(),
                    self.props.clone(),
                    self.layout.row_group_rows,
                )
                .map_err(parquet_err("organisations"))?,
            );
            self.parts.push(path);
            self.in_part = 0;
        }
        self.in_part += batch.num_rows();
        self.total += batch.num_rows() as u64;
        self.writer
            .as_mut()
            .expect("opened above")
            .write(batch)
            .map_err(parquet_err("organisations"))
    }

    /// Closes the open part, if any, and says it is done.
    pub(super) fn close_part(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(parquet_err("organisations"))?;
            let n = self.parts.len() - 1;
            (self.part_done)(n, &self.parts[n])?;
        }
        Ok(())
    }

    /// Closes the last part and writes the rollup.
    pub(super) fn finish(mut self) -> Result<FinalFiles> {
        if self.parts.is_empty() {
            // An empty snapshot still has one (empty) file, so readers see the schema.
            let path = self.dir.join("part-00000.parquet");
            let f = File::create(&path).map_err(staging_err(&path))?;
            ArrowWriter::try_new(f, organisation_schema(), Some(self.props.clone()))
                .and_then(|w| w.close())
                .map_err(parquet_err("organisations"))?;
            (self.part_done)(0, &path)?;
            self.parts.push(path);
        } else {
            self.close_part()?;
        }
        // The rollup already counts every organisation per family.
        let by_family: HashMap<Family, u64> = self
            .rollup
            .organisations_by_family()
            .into_iter()
            .filter_map(|(f, n)| Family::parse(&f).map(|f| (f, n)))
            .collect();
        if let Some(source) = self.rollup.take_spill_error() {
            return Err(IngestError::Staging {
                path: self.spill_path,
                source,
            });
        }
        tracing::debug!(
            groups_spilled = self.rollup.spilled_groups(),
            "rollup accumulated"
        );
        // Written once every row is in, with nothing else left to do: its columns are
        // encoded on every core (it was ~10% of a 1M-row ingest's time on one).
        let rollup_path = self.dir.join("rollup.parquet");
        let f = File::create(&rollup_path).map_err(staging_err(&rollup_path))?;
        let rows = self.layout.row_group_rows;
        let mut w = ParallelWriter::try_new(f, rollup_schema(), self.props, rows)
            .map_err(parquet_err("the rollup"))?;
        self.rollup
            .finish_into(rows, |batch| w.write(&batch))
            .map_err(parquet_err("the rollup"))?;
        w.close().map_err(parquet_err("the rollup"))?;
        let _ = std::fs::remove_file(&self.spill_path);
        Ok(FinalFiles {
            parts: self.parts,
            organisations: self.total,
            by_family,
            rollup: rollup_path,
        })
    }
}

/// What the final pass wrote.
pub(super) struct FinalFiles {
    pub(super) parts: Vec<PathBuf>,
    pub(super) organisations: u64,
    pub(super) by_family: HashMap<Family, u64>,
    pub(super) rollup: PathBuf,
}
