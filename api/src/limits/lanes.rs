//! How many requests run at once: at most `--max-inflight` of every kind, and of the
//! expensive ones (cost at least `--heavy-cost`) at most `--heavy-concurrency`, with
//! at most `--heavy-queue` waiting up to `--queue-wait` for their turn. Past any of
//! these a request is shed at once with `503` and `Retry-After`, rather than queued
//! behind work it cannot overtake: cheap requests keep answering in milliseconds
//! while expensive ones queue among themselves, and `/healthz` is never counted.
//!
//! tower's `ConcurrencyLimit` and `LoadShed` layers see a request before it is
//! parsed, so they cannot tell an expensive query from a cheap one; the lanes are two
//! tokio semaphores taken by the GraphQL handler once the query is costed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::Limits;

/// A request refused because the server is at capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded {
    /// Which limit: `inflight` or `heavy`.
    pub lane: &'static str,
    /// When to try again.
    pub retry_after: Duration,
}

/// The server's capacity.
#[derive(Debug)]
pub struct Lanes {
    max_inflight: usize,
    inflight: Arc<Semaphore>,
    heavy: Arc<Semaphore>,
    heavy_waiting: AtomicUsize,
    heavy_queue: usize,
    queue_wait: Duration,
    heavy_cost: u64,
}

/// A place among the expensive requests (held with the request's place in flight).
#[derive(Debug)]
pub struct HeavyPermit {
    _permit: OwnedSemaphorePermit,
}

/// Counts a request waiting for a heavy slot while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Lanes {
    /// Lanes sized by `limits`.
    pub fn new(limits: &Limits) -> Self {
        Lanes {
            max_inflight: limits.max_inflight.max(1),
            inflight: Arc::new(Semaphore::new(limits.max_inflight.max(1))),
            heavy: Arc::new(Semaphore::new(limits.heavy_concurrency.max(1))),
            heavy_waiting: AtomicUsize::new(0),
            heavy_queue: limits.heavy_queue,
            queue_wait: limits.queue_wait,
            heavy_cost: limits.heavy_cost,
        }
    }

    /// A place in flight now, or `Overloaded`.
    pub fn enter(&self) -> Result<OwnedSemaphorePermit, Overloaded> {
        self.inflight
            .clone()
            .try_acquire_owned()
            .map_err(|_| Overloaded {
                lane: "inflight",
                retry_after: Duration::from_secs(1),
            })
    }

    /// Whether a request of this cost is expensive.
    pub fn is_heavy(&self, cost: u64) -> bool {
        cost >= self.heavy_cost
    }

    /// A place among the expensive requests, after at most `--queue-wait` in a queue
    /// of at most `--heavy-queue`; `Overloaded` otherwise.
    pub async fn heavy(&self) -> Result<HeavyPermit, Overloaded> {
        let refused = Overloaded {
            lane: "heavy",
            retry_after: self.queue_wait.max(Duration::from_secs(1)),
        };
        if let Ok(permit) = self.heavy.clone().try_acquire_owned() {
            return Ok(HeavyPermit { _permit: permit });
        }
        if self.heavy_waiting.fetch_add(1, Ordering::AcqRel) >= self.heavy_queue {
            self.heavy_waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(refused);
        }
        let _waiting = Waiting(&self.heavy_waiting);
        match tokio::time::timeout(self.queue_wait, self.heavy.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(HeavyPermit { _permit: permit }),
            _ => Err(refused),
        }
    }

    /// Requests in flight now.
    pub fn inflight(&self) -> usize {
        self.max_inflight - self.inflight.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_capacity_requests_are_shed_not_queued() {
        let limits = Limits {
            max_inflight: 2,
            heavy_concurrency: 1,
            heavy_queue: 1,
            queue_wait: Duration::from_millis(50),
            ..Limits::default()
        };
        let lanes = Lanes::new(&limits);
        let a = lanes.enter().unwrap();
        let _b = lanes.enter().unwrap();
        assert_eq!(lanes.enter().unwrap_err().lane, "inflight");
        drop(a);
        assert!(lanes.enter().is_ok());

        let held = lanes.heavy().await.unwrap();
        // One may wait (and times out), a second is refused at once.
        let (waited, refused) = tokio::join!(lanes.heavy(), async {
            tokio::task::yield_now().await;
            lanes.heavy().await
        });
        assert_eq!(waited.unwrap_err().lane, "heavy");
        assert_eq!(refused.unwrap_err().lane, "heavy");
        drop(held);
        assert!(lanes.heavy().await.is_ok());
    }
}
