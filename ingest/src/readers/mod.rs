//! Readers of the three registry formats. A reader walks its file once, hands each
//! row to a [`RowSink`] and sends what the sink rejects, with the row's raw values, to
//! the quarantine.

pub mod csv;
pub mod json;
pub mod text;
pub mod xlsx;

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::input_fields::Record;
use crate::normalize::Rejection;

/// Where a reader sends rows.
pub trait RowSink {
    /// Takes a row's values. Returns the rejection when the row is not an
    /// organisation; the reader then calls [`RowSink::reject`] with the raw values.
    fn row(&mut self, row: i64, record: Record<'_>) -> Option<Rejection>;

    /// Sends a row to the quarantine, with its raw values as a JSON object.
    fn reject(&mut self, row: i64, rejection: Rejection, raw: String);
}

/// What a reader learnt about its file.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    /// Text encoding, where it applies.
    pub encoding: Option<String>,
    /// CSV delimiter.
    pub delimiter: Option<String>,
    /// XLSX sheet.
    pub sheet: Option<String>,
    /// Columns no header spelling matched.
    pub unknown_columns: Vec<String>,
}

/// A reader that counts the bytes read through it, for progress reports.
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    /// Counts into `count`.
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: io::Seek> io::Seek for CountingReader<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A row's raw values as a JSON object keyed by the file's headers, for the quarantine.
/// Cells beyond the header row are keyed `column N`.
pub(crate) fn raw_json(headers: &[String], values: impl Iterator<Item = String>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = values
        .enumerate()
        .map(|(i, v)| {
            let key = headers
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("column {}", i + 1));
            (key, serde_json::Value::String(v))
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
pub(crate) mod testing {
    //! A sink that keeps everything, for reader tests.

    use super::*;
    use ess_schemas::{Family, Organisation, reference};

    use crate::normalize::normalize;

    #[derive(Debug)]
    pub struct Collect {
        pub family: Family,
        pub accepted: Vec<Organisation>,
        pub rejected: Vec<(i64, Rejection, String)>,
    }

    impl Collect {
        pub fn new(family: Family) -> Self {
            Collect {
                family,
                accepted: Vec::new(),
                rejected: Vec::new(),
            }
        }
    }

    impl RowSink for Collect {
        fn row(&mut self, row: i64, record: Record<'_>) -> Option<Rejection> {
            match normalize(reference(), self.family, record, "test", row) {
                Ok(o) => {
                    self.accepted.push(o);
                    None
                }
                Err(r) => Some(r),
            }
        }

        fn reject(&mut self, row: i64, rejection: Rejection, raw: String) {
            self.rejected.push((row, rejection, raw));
        }
    }
}
