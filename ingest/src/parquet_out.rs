//! A Parquet file writer that encodes the columns of each row group on several threads,
//! while the caller goes on producing the next row group.
//!
//! ```text
//! caller ──row groups (bounded)──► writer thread ──columns──► encoder threads (scoped)
//!                                        └── appends column chunks in order, closes the file
//! ```
//!
//! The file is the same as [`ArrowWriter`] writes (the Arrow schema is embedded): only
//! the encoding work is spread. Memory is bounded to about two row groups.

use std::fs::File;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

/// Writes one Parquet file from record batches, encoding columns in parallel.
pub(crate) struct ParallelWriter {
    row_group_rows: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    sender: Option<SyncSender<Vec<RecordBatch>>>,
    thread: Option<JoinHandle<Result<()>>>,
}

/// Threads that encode columns: the machine's cores, at least one.
fn encoder_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl ParallelWriter {
    /// A writer of `file` with `props`; row groups hold `row_group_rows` rows.
    pub(crate) fn try_new(
        file: File,
        schema: SchemaRef,
        props: WriterProperties,
        row_group_rows: usize,
    ) -> Result<Self> {
        let (writer, factory) =
            ArrowWriter::try_new(file, schema.clone(), Some(props))?.into_serialized_writer()?;
        // A rendezvous: one row group fills while the previous one is encoded.
        let (sender, receiver) = sync_channel::<Vec<RecordBatch>>(0);
        let thread = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || {
                let mut writer = writer;
                for (index, batches) in receiver.into_iter().enumerate() {
                    write_row_group(&mut writer, &factory, &schema, index, &batches)?;
                }
                writer.close().map(|_| ())
            })
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(ParallelWriter {
            row_group_rows: row_group_rows.max(1),
            pending: Vec::new(),
            pending_rows: 0,
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Adds a batch; a full row group goes to the writer thread.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut batch = batch.clone();
        while batch.num_rows() > 0 {
            let room = self.row_group_rows - self.pending_rows;
            let take = room.min(batch.num_rows());
            self.pending.push(batch.slice(0, take));
            self.pending_rows += take;
            batch = batch.slice(take, batch.num_rows() - take);
            if self.pending_rows == self.row_group_rows {
                self.send()?;
            }
        }
        Ok(())
    }

    fn send(&mut self) -> Result<()> {
        let batches = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        let sent = self.sender.as_ref().map(|s| s.send(batches));
        if !matches!(sent, Some(Ok(()))) {
            // The writer thread stopped: its error says why.
            return Err(self.join().err().unwrap_or_else(|| {
                ParquetError::General("the Parquet writer thread stopped".into())
            }));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<()> {
        self.sender = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| ParquetError::General("the Parquet writer thread panicked".into()))?,
            None => Ok(()),
        }
    }

    /// Writes what is pending and the file footer.
    pub(crate) fn close(mut self) -> Result<()> {
        if self.pending_rows > 0 {
            self.send()?;
        }
        self.join()
    }
}

impl Drop for ParallelWriter {
    fn drop(&mut self) {
        // An abandoned writer (an error elsewhere) still stops its thread.
        self.sender = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One column's encoding job: its writer and its leaves from every batch.
type Job = (ArrowColumnWriter, Vec<ArrowLeafColumn>);

fn write_row_group(
    writer: &mut SerializedFileWriter<File>,
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    index: usize,
    batches: &[RecordBatch],
) -> Result<()> {
    let writers = factory.create_column_writers(index)?;
    let mut leaves: Vec<Vec<ArrowLeafColumn>> = (0..writers.len()).map(|_| Vec::new()).collect();
    let mut bytes = vec![0usize; writers.len()];
    for batch in batches {
        let mut leaf = 0;
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            for l in compute_leaves(field, column)? {
                leaves[leaf].push(l);
                bytes[leaf] += column.get_buffer_memory_size();
                leaf += 1;
            }
        }
    }
    // Largest columns first, so the threads finish together.
    let mut order: Vec<usize> = (0..writers.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(bytes[i]));
    let jobs: Vec<Mutex<Option<Job>>> = writers
        .into_iter()
        .zip(leaves)
        .map(|job| Mutex::new(Some(job)))
        .collect();
    let chunks: Vec<Mutex<Option<Result<ArrowColumnChunk>>>> =
        (0..jobs.len()).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let threads = encoder_threads().min(jobs.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(at) else { break };
                    let (mut w, leaves) = jobs[i].lock().expect("lock").take().expect("once");
                    let result = leaves
                        .iter()
                        .try_for_each(|l| w.write(l))
                        .and_then(|()| w.close());
                    *chunks[i].lock().expect("lock") = Some(result);
                }
            });
        }
    });
    let mut row_group = writer.next_row_group()?;
    for chunk in chunks {
        let chunk = chunk
            .into_inner()
            .expect("lock")
            .expect("every column encoded")?;
        chunk.append_to_row_group(&mut row_group)?;
    }
    row_group.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use arrow::array::{Int64Array, ListBuilder, StringArray, StringBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn batch(schema: &SchemaRef, from: i64, n: i64) -> RecordBatch {
        let mut list = ListBuilder::new(StringBuilder::new());
        for i in from..from + n {
            for j in 0..(i % 3) {
                list.values().append_value(format!("v{j}"));
            }
            list.append(i % 5 != 0);
        }
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(from..from + n)),
                Arc::new(StringArray::from_iter(
                    (from..from + n).map(|i| (i % 7 != 0).then(|| format!("name {i}"))),
                )),
                Arc::new(list.finish()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn writes_the_same_rows_as_arrow_writer_in_row_groups() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
        ]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut w = ParallelWriter::try_new(
            File::create(&path).unwrap(),
            schema.clone(),
            WriterProperties::default(),
            1000,
        )
        .unwrap();
        let mut expected = Vec::new();
        for k in 0..7 {
            let b = batch(&schema, k * 450, 450);
            w.write(&b).unwrap();
            expected.push(b);
        }
        w.close().unwrap();

        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let groups: Vec<i64> = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, vec![1000, 1000, 1000, 150]);
        assert_eq!(builder.schema(), &schema);
        let got: Vec<RecordBatch> = builder.build().unwrap().map(|b| b.unwrap()).collect();
        let got = arrow::compute::concat_batches(&schema, &got).unwrap();
        let expected = arrow::compute::concat_batches(&schema, &expected).unwrap();
        assert_eq!(got, expected);
    }

    #[test]
    fn an_empty_file_has_the_schema() {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.parquet");
        ParallelWriter::try_new(
            File::create(&path).unwrap(),
            schema.clone(),
            WriterProperties::default(),
            10,
        )
        .unwrap()
        .close()
        .unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(builder.schema(), &schema);
        assert_eq!(builder.metadata().file_metadata().num_rows(), 0);
    }
}
