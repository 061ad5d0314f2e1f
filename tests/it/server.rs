//! The listener over a real socket on 127.0.0.1: connection limit, header timeout,
//! and a body declared past the cap answered before `100 Continue`.

use std::net::SocketAddr;
use std::time::Duration;

use ess_api::limits::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::limits::app_with;

/// Serves the samples with `limits` on a free port; stops when the guard drops.
async fn listening(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (app, state) = app_with(limits).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let limits = state.limits.clone();
        ess_api::server::serve(listener, app, &limits, state.metrics.clone(), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop)
}

/// Reads what the server sends until it closes the connection or `within` passes.
async fn read_all(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[tokio::test]
async fn a_body_declared_past_the_cap_gets_413_and_never_100_continue() {
    let (addr, _stop) = listening(Limits::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 10000000000\r\nexpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(!head.contains("100 Continue"), "{head}");
    assert!(head.contains("BODY_TOO_LARGE"), "{head}");
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_and_slow_headers_are_cut() {
    let (addr, _stop) = listening(Limits {
        max_connections: 2,
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    // Two connections that send half a request and stall.
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    a.write_all(b"GET /healthz HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    b.write_all(b"GET /healthz HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    // A third is told the server is full, and closed.
    let mut c = TcpStream::connect(addr).await.unwrap();
    let (said, closed) = read_all(&mut c, Duration::from_secs(10)).await;
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(
        said.contains("OVERLOADED") && said.contains("retry-after: 1"),
        "{said}"
    );
    assert!(closed);
    // The stalled ones are closed once their headers are overdue.
    for stalled in [&mut a, &mut b] {
        let (_, closed) = read_all(stalled, Duration::from_secs(10)).await;
        assert!(
            closed,
            "a connection that never finished its headers stayed open"
        );
    }
    // Their places are free again: a whole request is answered.
    let mut d = TcpStream::connect(addr).await.unwrap();
    d.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (said, _) = read_all(&mut d, Duration::from_secs(10)).await;
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert!(said.contains("x-request-id"), "{said}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop) = listening(Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (said, closed) = read_all(&mut s, Duration::from_secs(10)).await;
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert!(closed, "the idle connection stayed open");
}
