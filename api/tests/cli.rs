//! The `ess` binary as users and scripts run it (CONTRACT.md, "Command line").

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ess_ingest::samples::SAMPLES;
use ess_schemas::Family;

fn ess(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ess"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("ess runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes the embedded samples to `dir`; returns the ingest arguments, in order.
fn sample_args(dir: &Path) -> Vec<String> {
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

fn ingest(store: &Path, files: &[String]) -> Output {
    let mut args = vec![
        "ingest".to_owned(),
        "--store".to_owned(),
        store.display().to_string(),
    ];
    args.extend_from_slice(files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ess(&args)
}

#[test]
fn ingest_then_info() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let files = sample_args(dir.path());
    let out = ingest(&store, &files);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("snapshot 000001 published"), "{stdout}");
    assert!(stdout.contains("1034 organisations"), "{stdout}");
    assert!(stdout.contains("cooperatives_2025_q1.csv"), "{stdout}");

    let out = ess(&["info", "--store", store.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["snapshot_id"], "000001");
    assert_eq!(info["rows"], 1034);
    assert!(info["created_at"].as_str().unwrap().contains('T'));
    let parquet = info["organisations_parquet"][0].as_str().unwrap();
    let local = PathBuf::from(parquet.strip_prefix("file://").expect("a file:// location"));
    let bytes = std::fs::read(&local).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");

    // A second ingest commits the next snapshot; the first stays as it was.
    let out = ingest(&store, &files[..2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("snapshot 000002 published"));
    assert_eq!(std::fs::read(&local).unwrap(), bytes);
    let out = ess(&[
        "info",
        "--store",
        &format!("file://{}", store.display()),
        "--json",
    ]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["snapshot_id"], "000002");
}

#[test]
fn failures_exit_non_zero_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store_arg = store.display().to_string();

    let out = ess(&["ingest", "--store", &store_arg]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no registry file given"),
        "{}",
        text(&out.stderr)
    );

    let out = ess(&[
        "ingest",
        "--store",
        &store_arg,
        "--cooperatives",
        "/no/such.csv",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("/no/such.csv"),
        "{}",
        text(&out.stderr)
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "Nom;Secteur\nA;B\n").unwrap();
    let out = ess(&[
        "ingest",
        "--store",
        &store_arg,
        "--cooperatives",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("nothing was published")
            && stderr.contains("bad.csv: no column for `source_id`"),
        "{stderr}"
    );

    let out = ess(&["info", "--store", &store_arg, "--json"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("has no snapshot yet"),
        "{}",
        text(&out.stderr)
    );

    let out = ess(&["serve", "--store", &store_arg, "--addr", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("has no snapshot yet"));
}

fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_prints_its_address_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    assert!(ingest(&store, &sample_args(dir.path())).status.success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_ess"))
        .args([
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
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

    let (status, body) = http(
        &addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let query = r#"{"query":"{ snapshot { id organisations } }"}"#;
    let (status, body) = http(
        &addr,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{query}",
            query.len()
        ),
    );
    assert_eq!(status, 200);
    assert!(body.contains(r#""organisations":1034"#), "{body}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful stop exits 0, got {status}");
}

#[test]
fn schema_prints_the_committed_sdl() {
    let out = ess(&["schema"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), include_str!("../schema.graphql"));
}
