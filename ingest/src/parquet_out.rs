//! A Parquet file writer that encodes the columns of each row group on several threads,
//! while the caller goes on producing the next row group.
//!
//! ```text
//! caller ──row groups (bounded)──► writer thread ──columns──► encoder threads
//!                                        └── appends column chunks in order, closes the file
//! ```
//!
//! The file is the same as [`ArrowWriter`] writes (the Arrow schema is embedded): only
//! the encoding work is spread. There is one encoder thread per core for the life of
//! the file, so their allocator caches stay warm; the columns of a row group are handed
//! out largest first, so the threads finish together. Memory is bounded to about two
//! row groups: one being filled while the previous one is encoded.

use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
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
                let encoders = Encoders::start(encoder_threads())?;
                for (index, batches) in receiver.into_iter().enumerate() {
                    write_row_group(&mut writer, &factory, &encoders, &schema, index, &batches)?;
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

/// Threads that encode columns, for the life of a file: the same threads every row
/// group, so each keeps its allocator heap warm (a thread per row group would be
/// hundreds of threads at 10M rows, each starting from fresh memory).
struct Encoders {
    jobs: Option<Sender<(usize, Job)>>,
    done: Receiver<(usize, Result<ArrowColumnChunk>)>,
    threads: Vec<JoinHandle<()>>,
}

impl Encoders {
    fn start(threads: usize) -> Result<Self> {
        let (jobs, queue) = channel::<(usize, Job)>();
        let queue = Arc::new(Mutex::new(queue));
        let (done_tx, done) = channel();
        let threads = (0..threads.max(1))
            .map(|_| {
                let (queue, done_tx) = (queue.clone(), done_tx.clone());
                std::thread::Builder::new()
                    .name("parquet-encoder".into())
                    .spawn(move || {
                        loop {
                            let next = queue.lock().expect("encoder queue").recv();
                            let Ok((i, (mut w, leaves))) = next else {
                                break;
                            };
                            // A panic becomes this column's error: the row group's
                            // writer waits for every column and must hear of each.
                            let chunk = std::panic::catch_unwind(AssertUnwindSafe(|| {
                                leaves
                                    .iter()
                                    .try_for_each(|l| w.write(l))
                                    .and_then(|()| w.close())
                            }))
                            .unwrap_or_else(|_| {
                                Err(ParquetError::General("a column encoder panicked".into()))
                            });
                            drop(leaves);
                            if done_tx.send((i, chunk)).is_err() {
                                break;
                            }
                        }
                    })
                    .map_err(|e| ParquetError::External(Box::new(e)))
            })
            .collect::<Result<_>>()?;
        Ok(Encoders {
            jobs: Some(jobs),
            done,
            threads,
        })
    }

    /// Encodes `jobs` (largest first, so the threads finish together), returning the
    /// column chunks in column order.
    fn encode(&self, jobs: Vec<Job>, bytes: &[usize]) -> Result<Vec<ArrowColumnChunk>> {
        let n = jobs.len();
        let mut jobs: Vec<(usize, Job)> = jobs.into_iter().enumerate().collect();
        jobs.sort_by_key(|(i, _)| std::cmp::Reverse(bytes[*i]));
        let sender = self.jobs.as_ref().expect("open until dropped");
        for job in jobs {
            sender
                .send(job)
                .map_err(|_| ParquetError::General("the column encoders stopped".into()))?;
        }
        // Every column's result is taken, failed or not, so none is left for the next
        // row group to mistake for its own.
        let mut chunks: Vec<Option<Result<ArrowColumnChunk>>> = (0..n).map(|_| None).collect();
        for _ in 0..n {
            let (i, chunk) = self
                .done
                .recv()
                .map_err(|_| ParquetError::General("the column encoders stopped".into()))?;
            chunks[i] = Some(chunk);
        }
        chunks
            .into_iter()
            .map(|c| c.expect("every column encoded"))
            .collect()
    }
}

impl Drop for Encoders {
    fn drop(&mut self) {
        self.jobs = None; // the threads stop once the queue is empty
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn write_row_group(
    writer: &mut SerializedFileWriter<File>,
    factory: &ArrowRowGroupWriterFactory,
    encoders: &Encoders,
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
    let chunks = encoders.encode(writers.into_iter().zip(leaves).collect(), &bytes)?;
    let mut row_group = writer.next_row_group()?;
    for chunk in chunks {
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
