//! The listener: accepts connections and serves the app on each (HTTP/1.1), within
//! the connection limits of [`Limits`]:
//!
//! - at most `--max-connections` open at once (and at most a quarter of the file
//!   descriptors the process may open, after raising its soft limit to the hard
//!   one); past it, a new connection gets a `503` and is closed at once;
//! - a request's headers must arrive within `--header-timeout` of the connection
//!   opening or of its last response (so a slow or idle connection is closed);
//! - a client that stops reading its response for `--write-timeout` is dropped.
//!
//! A graceful shutdown stops accepting, lets requests in flight finish (at most
//! [`DRAIN`]), then returns.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::limits::Limits;
use crate::metrics::Metrics;

/// Longest a shutdown waits for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(30);

/// Largest request head (request line and headers) a connection may send.
const MAX_HEAD: usize = 128 << 10;

/// What a connection past the limit is told before it is closed.
static REFUSAL: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let body = r#"{"errors":[{"message":"the server has as many connections open as it can hold: try again in a moment","extensions":{"code":"OVERLOADED"}}]}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// The connections the process may hold: `max`, at most a quarter of its file
/// descriptors (raised to the hard limit first).
pub fn connection_budget(max: usize) -> usize {
    let descriptors = rlimit::increase_nofile_limit(u64::MAX)
        .ok()
        .or_else(|| {
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        })
        .unwrap_or(1024);
    let quarter = usize::try_from(descriptors / 4).unwrap_or(usize::MAX);
    max.min(quarter).max(1)
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let budget = connection_budget(limits.max_connections);
    let open = Arc::new(Semaphore::new(budget));
    tracing::debug!(connections = budget, "accepting connections");
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, most likely: let some close.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics.reject("connections");
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.write_timeout));
        let io = TokioIo::new(Box::pin(io));
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection =
            graceful.watch(http1.serve_connection(io, TowerToHyperService::new(service)));
        let connections = metrics.connections().clone();
        connections.inc();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
            connections.dec();
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("requests still running {DRAIN:?} after the shutdown began: stopping anyway");
        }
    }
    Ok(())
}

/// Tells a connection past the limit to come back later, and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&REFUSAL)).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_well_formed() {
        let text = std::str::from_utf8(&REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], "OVERLOADED");
    }

    #[test]
    fn the_budget_stays_under_the_descriptors() {
        assert_eq!(connection_budget(1), 1);
        assert!(connection_budget(usize::MAX) < usize::MAX);
    }
}
