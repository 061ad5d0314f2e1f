//! Progress of a running ingest, shared with whoever displays it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters an ingest updates as it goes; read them from another thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of registry files in all.
    pub bytes_total: AtomicU64,
    /// Bytes of registry files parsed so far.
    pub bytes_done: std::sync::Arc<AtomicU64>,
    /// Rows read (or written) so far.
    pub rows: AtomicU64,
    /// Rows expected in all, when known in advance (synthetic data).
    pub rows_total: AtomicU64,
    phase: Mutex<String>,
}

impl Progress {
    /// What the ingest is doing now (a file name, or a publishing step).
    pub fn phase(&self) -> String {
        self.phase.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub(crate) fn set_phase(&self, phase: impl Into<String>) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase.into();
        }
    }

    pub(crate) fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }
}
