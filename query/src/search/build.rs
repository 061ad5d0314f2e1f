//! Building the index: the snapshot's keys, identifiers, dimensions and row
//! positions read from its Parquet files, sorted by `org_id`, with their trigram
//! filters.

use super::*;

impl SearchIndex {
    /// Reads the snapshot's `org_id`, name, identifier and dimension columns and builds
    /// the index. Batches are decoded here while a thread of its own computes their
    /// search keys and stages them, then sorts.
    pub async fn build(store: Arc<dyn ObjectStore>, manifest: &Manifest) -> Result<Self> {
        let (batches, mut staging) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let staged = on_own_thread(move || {
            let mut staged = Staged::default();
            while let Some(batch) = staging.blocking_recv() {
                staged.add(&batch)?;
            }
            Ok(staged)
        });
        let mut parts = Vec::new();
        for path in &manifest.organisations_parquet {
            let part = Part::open(&store, ObjectPath::from(path.as_str())).await?;
            let builder = part.reader(&store);
            let mask = ProjectionMask::columns(
                builder.parquet_schema(),
                [
                    c::ORG_ID,
                    c::FAMILY,
                    c::SOURCE_ID,
                    c::NAME,
                    c::NAME_AR,
                    c::REGION_CODE,
                    c::PROVINCE_CODE,
                    c::SECTOR_CODE,
                    c::FOUNDED_YEAR,
                ],
            );
            let mut stream = builder
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()?;
            let mut read = 0u64;
            while let Some(batch) = stream.try_next().await? {
                read += batch.num_rows() as u64;
                if batches.send(batch).await.is_err() {
                    // The staging thread stopped: its error says why.
                    drop(batches);
                    return Err(staged.await.err().unwrap_or_else(|| {
                        QueryError::Internal("search index: staging stopped".into())
                    }));
                }
            }
            if read != part.rows {
                return Err(QueryError::Internal(format!(
                    "search index: `{path}` read {read} rows of {}",
                    part.rows
                )));
            }
            parts.push(part);
        }
        drop(batches);
        let staged = staged.await?;
        on_own_thread(move || staged.finish(parts)).await
    }
}

/// Columns as read, in file order, before sorting by `org_id`.
#[derive(Debug, Default)]
pub(super) struct Staged {
    pub(super) keys: Vec<u8>,
    pub(super) key_ends: Vec<u64>,
    pub(super) org_ids: Vec<u8>,
    pub(super) org_id_ends: Vec<u64>,
    pub(super) dims: Vec<Dims>,
    pub(super) regions: Interner,
    pub(super) provinces: Interner,
    pub(super) sectors: Interner,
    /// A founding year outside what [`Dims::year`] holds was seen.
    pub(super) unrepresentable_year: bool,
    /// The search key being computed (reused).
    pub(super) key: String,
}

impl Staged {
    pub(super) fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let text = |name: &str| -> Result<&arrow::array::StringArray> {
            batch
                .column_by_name(name)
                .and_then(|a| a.as_string_opt::<i32>())
                .ok_or_else(|| {
                    QueryError::Internal(format!("search index: no text column `{name}`"))
                })
        };
        let (org_id, family) = (text(c::ORG_ID)?, text(c::FAMILY)?);
        let (source_id, name, name_ar) = (text(c::SOURCE_ID)?, text(c::NAME)?, text(c::NAME_AR)?);
        let (region, province, sector) = (
            text(c::REGION_CODE)?,
            text(c::PROVINCE_CODE)?,
            text(c::SECTOR_CODE)?,
        );
        let year = batch
            .column_by_name(c::FOUNDED_YEAR)
            .and_then(|a| a.as_primitive_opt::<Int32Type>())
            .ok_or_else(|| QueryError::Internal("search index: no `founded_year`".into()))?;
        fn opt(a: &arrow::array::StringArray, i: usize) -> Option<&str> {
            a.is_valid(i).then(|| a.value(i))
        }
        for i in 0..batch.num_rows() {
            self.org_ids.extend_from_slice(org_id.value(i).as_bytes());
            self.org_id_ends.push(self.org_ids.len() as u64);
            self.key.clear();
            push_search_key_of(
                name.value(i),
                opt(name_ar, i),
                source_id.value(i),
                &mut self.key,
            );
            self.keys.extend_from_slice(self.key.as_bytes());
            self.keys.push(0);
            self.key_ends.push(self.keys.len() as u64);
            let y = if year.is_valid(i) {
                match i16::try_from(year.value(i)) {
                    Ok(y) if y != NO_YEAR => y,
                    _ => {
                        self.unrepresentable_year = true;
                        NO_YEAR
                    }
                }
            } else {
                NO_YEAR
            };
            self.dims.push(Dims {
                family: Family::parse(family.value(i)).map_or(0, family_id),
                region: self.regions.id(opt(region, i)).min(u32::from(u8::MAX)) as u8,
                province: self.provinces.id(opt(province, i)).min(u32::from(u16::MAX)) as u16,
                sector: self.sectors.id(opt(sector, i)).min(u32::from(u16::MAX)) as u16,
                year: y,
            });
        }
        Ok(())
    }

    pub(super) fn finish(mut self, parts: Vec<Part>) -> Result<SearchIndex> {
        let n = self.dims.len();
        let too_many = self.regions.len() >= u8::MAX as usize
            || self.provinces.len() >= u16::MAX as usize
            || self.sectors.len() >= u16::MAX as usize
            || n >= u32::MAX as usize;
        if too_many || self.unrepresentable_year {
            return Err(QueryError::Internal(
                "search index: more organisations or dimension values than it holds; searches scan instead"
                    .into(),
            ));
        }
        let order = {
            let org_id = |i: usize| slice(&self.org_ids, &self.org_id_ends, i);
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_unstable_by(|&a, &b| org_id(a as usize).cmp(org_id(b as usize)));
            order
        };
        // One column at a time, each freed once copied, to keep the peak low.
        let (keys, key_starts) = permute(&order, &self.keys, &self.key_ends);
        self.keys = Vec::new();
        self.key_ends = Vec::new();
        let (org_ids, org_id_starts) = permute(&order, &self.org_ids, &self.org_id_ends);
        self.org_ids = Vec::new();
        self.org_id_ends = Vec::new();
        let dims = order.iter().map(|&r| self.dims[r as usize]).collect();
        let grams = GramFilter::build(&keys, &key_starts, cores());
        Ok(SearchIndex {
            keys,
            key_starts,
            org_ids,
            org_id_starts,
            dims,
            rows: order,
            grams,
            regions: self.regions,
            provinces: self.provinces,
            sectors: self.sectors,
            parts,
        })
    }
}

/// The `i`th of the values stored back to back in `data`, ending at `ends`.
pub(super) fn slice<'a>(data: &'a [u8], ends: &[u64], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &data[start..ends[i] as usize]
}

/// Values reordered by `order`, with the start of each and the end of the last.
pub(super) fn permute(order: &[u32], data: &[u8], ends: &[u64]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::with_capacity(data.len());
    let mut starts = Vec::with_capacity(order.len() + 1);
    for &i in order {
        starts.push(out.len() as u64);
        out.extend_from_slice(slice(data, ends, i as usize));
    }
    starts.push(out.len() as u64);
    (out, starts)
}
