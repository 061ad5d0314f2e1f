//! Reading a page's organisations from Parquet by position: one read per row group
//! holding a wanted row, decoding only the pages that hold them (offset index).

use super::*;

/// One Parquet file of the snapshot, with its footer and page index read once.
#[derive(Debug, Clone)]
pub(super) struct Part {
    pub(super) path: ObjectPath,
    pub(super) size: u64,
    pub(super) rows: u64,
    pub(super) metadata: ArrowReaderMetadata,
}

impl Part {
    pub(super) async fn open(store: &Arc<dyn ObjectStore>, path: ObjectPath) -> Result<Self> {
        let size = store.head(&path).await?.size;
        let mut reader = PartReader {
            store: store.clone(),
            path: path.clone(),
            size,
        };
        let metadata = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .load_and_finish(&mut reader, size)
            .await?;
        let rows = metadata.file_metadata().num_rows() as u64;
        let metadata = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())?;
        Ok(Part {
            path,
            size,
            rows,
            metadata,
        })
    }

    pub(super) fn reader(
        &self,
        store: &Arc<dyn ObjectStore>,
    ) -> ParquetRecordBatchStreamBuilder<PartReader> {
        ParquetRecordBatchStreamBuilder::new_with_metadata(
            PartReader {
                store: store.clone(),
                path: self.path.clone(),
                size: self.size,
            },
            self.metadata.clone(),
        )
    }
}

/// Byte ranges of one object, for the Parquet reader. Written here rather than
/// parquet's `ParquetObjectReader`, which parquet 59 deprecates in favour of exactly
/// this: an `AsyncFileReader` over the object store (apache/arrow-rs#10308).
pub(super) struct PartReader {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) path: ObjectPath,
    pub(super) size: u64,
}

pub(super) fn external(e: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

impl AsyncFileReader for PartReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

impl SearchIndex {
    /// The organisations at `ranks` (ascending), read from Parquet by position, as one
    /// batch of the canonical schema in that order.
    pub async fn fetch(
        &self,
        store: &Arc<dyn ObjectStore>,
        ranks: &[usize],
    ) -> Result<Vec<RecordBatch>> {
        if ranks.is_empty() {
            return Ok(Vec::new());
        }
        // (row, position in the page), by row.
        let mut wanted: Vec<(u64, usize)> = ranks
            .iter()
            .enumerate()
            .map(|(i, &r)| (u64::from(self.rows[r]), i))
            .collect();
        wanted.sort_unstable();
        // One read per row group holding wanted rows, all at once: rows of a page are
        // often far apart.
        let canonical = organisation_schema();
        let mut reads = Vec::new();
        let mut order = Vec::with_capacity(ranks.len()); // page position of each fetched row
        let mut part_start = 0u64;
        let mut next = 0;
        for part in &self.parts {
            let mut group_start = part_start;
            for (group, meta) in part.metadata.metadata().row_groups().iter().enumerate() {
                let group_rows = meta.num_rows() as u64;
                let group_end = group_start + group_rows;
                let mut ranges: Vec<Range<usize>> = Vec::new();
                while next < wanted.len() && wanted[next].0 < group_end {
                    let row = (wanted[next].0 - group_start) as usize;
                    ranges.push(row..row + 1);
                    order.push(wanted[next].1);
                    next += 1;
                }
                if !ranges.is_empty() {
                    let selection = RowSelection::from_consecutive_ranges(
                        ranges.into_iter(),
                        group_rows as usize,
                    );
                    let builder = part.reader(store);
                    // The canonical columns only: files of snapshots published before
                    // `search_key` was dropped from them still hold it.
                    let mask = ProjectionMask::columns(
                        builder.parquet_schema(),
                        canonical.fields().iter().map(|f| f.name().as_str()),
                    );
                    let stream = builder
                        .with_projection(mask)
                        .with_row_groups(vec![group])
                        .with_row_selection(selection)
                        .with_batch_size(ranks.len())
                        .build()?;
                    // Tasks, so that pages decode on every core.
                    reads.push(tokio::spawn(stream.try_collect::<Vec<_>>()));
                }
                group_start = group_end;
            }
            part_start += part.rows;
        }
        let mut batches: Vec<RecordBatch> = Vec::new();
        for read in reads {
            let read = read
                .await
                .map_err(|e| QueryError::Internal(format!("search index: a read stopped: {e}")))?;
            batches.extend(read?);
        }
        let all = concat_batches(&canonical, &batches)?;
        if all.num_rows() != ranks.len() {
            return Err(QueryError::Internal(format!(
                "search index: {} rows read for {} positions",
                all.num_rows(),
                ranks.len()
            )));
        }
        // Back into page order.
        let mut inverse = vec![0u32; order.len()];
        for (fetched, page) in order.iter().enumerate() {
            inverse[*page] = fetched as u32;
        }
        Ok(vec![take_record_batch(&all, &UInt32Array::from(inverse))?])
    }
}
