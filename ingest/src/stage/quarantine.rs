//! The quarantine: rejected rows with their file, row, reason and raw values, written
//! a bounded batch at a time.

use super::*;

#[derive(Default)]
pub(super) struct QuarantineBuilder {
    pub(super) family: StringBuilder,
    pub(super) file: StringBuilder,
    pub(super) row: Int64Builder,
    pub(super) reason: StringBuilder,
    pub(super) detail: StringBuilder,
    pub(super) raw: StringBuilder,
    pub(super) len: usize,
    /// Bytes of `raw` and `detail` since the last batch.
    pub(super) bytes: usize,
}

pub(super) struct QuarantineWriter {
    pub(super) writer: ArrowWriter<File>,
    pub(super) builder: QuarantineBuilder,
    pub(super) rows: u64,
}

impl QuarantineWriter {
    pub(super) fn push(
        &mut self,
        family: Family,
        file: &str,
        row: i64,
        rejection: &Rejection,
        raw: &str,
    ) -> Result<()> {
        let b = &mut self.builder;
        b.family.append_value(family.as_str());
        b.file.append_value(file);
        b.row.append_value(row);
        b.reason.append_value(rejection.reason);
        b.detail.append_value(&rejection.detail);
        b.raw.append_value(raw);
        b.len += 1;
        b.bytes += raw.len() + rejection.detail.len();
        self.rows += 1;
        if b.len >= BATCH_ROWS || b.bytes >= QUARANTINE_BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<()> {
        let b = &mut self.builder;
        if b.len == 0 {
            return Ok(());
        }
        b.len = 0;
        b.bytes = 0;
        let batch = RecordBatch::try_new(
            quarantine_schema(),
            vec![
                Arc::new(b.family.finish()),
                Arc::new(b.file.finish()),
                Arc::new(b.row.finish()),
                Arc::new(b.reason.finish()),
                Arc::new(b.detail.finish()),
                Arc::new(b.raw.finish()),
            ],
        )
        .map_err(encode_err("the quarantine"))?;
        // Each batch its own row group, so the writer holds none of it afterwards.
        self.writer
            .write(&batch)
            .and_then(|()| self.writer.flush())
            .map_err(parquet_err("the quarantine"))
    }
}

/// A row sent to the quarantine.
#[derive(Debug)]
pub(super) struct RejectedRow {
    pub(super) row: i64,
    pub(super) rejection: Rejection,
    pub(super) raw: String,
}
