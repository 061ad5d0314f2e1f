//! What the tests of the `ess` binary share: running it, serving a store on a free
//! port, and speaking HTTP to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ess_ingest::samples::SAMPLES;
use ess_schemas::Family;

pub fn ess(args: &[&str]) -> Output {
    ess_with(args, &[])
}

pub fn ess_with(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ess"))
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("ess runs")
}

/// Organisations published from every sample, as `expected_aggregates.json` says.
pub fn expected_total() -> u64 {
    let expected: serde_json::Value =
        serde_json::from_str(ess_ingest::samples::EXPECTED_AGGREGATES).unwrap();
    expected["total"].as_u64().expect("total is a count")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes the embedded samples to `dir`; returns the ingest arguments, in order.
pub fn sample_args(dir: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for s in SAMPLES {
        let path = dir.join(s.name);
        std::fs::write(&path, s.bytes).unwrap();
        let flag = match s.family {
            Family::Cooperative => "--cooperatives",
            Family::Association => "--associations",
            Family::Mutual => "--mutuals",
        };
        args.push(flag.to_owned());
        args.push(path.display().to_string());
    }
    args
}

pub fn ingest(store: &Path, files: &[String]) -> Output {
    let mut args = vec![
        "ingest".to_owned(),
        "--store".to_owned(),
        store.display().to_string(),
    ];
    args.extend_from_slice(files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ess(&args)
}

pub fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let response = String::from_utf8_lossy(&bytes);
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A server child, killed if the test ends without stopping it (a panic), so no
/// process outlives the test holding its output open.
pub struct Server(pub Option<std::process::Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `ess serve` on a free port; returns the child and its address.
pub fn start_server(store: &Path, extra: &[&str]) -> (Server, String) {
    start_server_at(store.to_str().unwrap(), extra, &[])
}

pub fn start_server_at(store: &str, extra: &[&str], env: &[(String, String)]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ess"))
        .args(["serve", "--store", store, "--addr", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (Server(Some(child)), addr)
}

pub fn graphql(addr: &str, query: &str) -> serde_json::Value {
    let body = serde_json::json!({ "query": query }).to_string();
    let (status, body) = http(
        addr,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

pub fn stop(mut server: Server) {
    let child = server.0.as_mut().expect("running");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    server.0 = None;
    assert!(status.success(), "graceful stop exits 0, got {status}");
}
