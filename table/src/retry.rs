//! Retries with exponential backoff for transient object-store errors.
//!
//! Transient: timeouts, connection resets, 5xx (object_store reports them as
//! `Generic`). Permanent: not found, already exists, precondition failed, permission
//! denied, unauthenticated, invalid path, not supported — retrying cannot help, so they
//! are returned at once.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time.
    pub base: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(50),
            max: Duration::from_secs(2),
        }
    }
}

/// Whether retrying can help.
pub fn is_transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    !matches!(
        e,
        E::NotFound { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::NotSupported { .. }
            | E::NotImplemented { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::InvalidPath { .. }
            | E::UnknownConfigurationKey { .. }
    )
}

impl RetryPolicy {
    /// Runs `op` until it succeeds, fails permanently, or attempts run out.
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, object_store::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        let mut wait = self.base;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt < self.attempts && is_transient(&e) => {
                    tracing::warn!(what, attempt, error = %e, wait_ms = wait.as_millis() as u64, "transient store error; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.max);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Every object under `prefix`, listed with retries.
pub async fn list_all(
    store: &dyn object_store::ObjectStore,
    prefix: &str,
    retry: &RetryPolicy,
) -> Result<Vec<object_store::ObjectMeta>, object_store::Error> {
    use futures::TryStreamExt;
    let path = object_store::path::Path::from(prefix);
    retry
        .run("list", || store.list(Some(&path)).try_collect::<Vec<_>>())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient() -> object_store::Error {
        object_store::Error::Generic {
            store: "test",
            source: "connection reset".into(),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            base: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let got = policy
            .run("op", || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(transient())
                } else {
                    Ok(7)
                }
            })
            .await
            .unwrap();
        assert_eq!((got, calls.load(Ordering::SeqCst)), (7, 4));
    }

    #[tokio::test]
    async fn permanent_errors_and_exhaustion_are_returned() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let e = policy
            .run("op", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(object_store::Error::PermissionDenied {
                    path: "x".into(),
                    source: "denied".into(),
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(e, object_store::Error::PermissionDenied { .. }));
        assert_eq!(
            calls.swap(0, Ordering::SeqCst),
            1,
            "no retry of a permanent error"
        );
        let e = policy
            .run("op", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(transient())
            })
            .await
            .unwrap_err();
        assert!(is_transient(&e));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
