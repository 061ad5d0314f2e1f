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

/// Starts `ess serve` on a free port; returns the child and its address.
fn start_server(store: &Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ess"))
        .args([
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ])
        .args(extra)
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
    (child, addr)
}

fn graphql(addr: &str, query: &str) -> serde_json::Value {
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

fn stop(mut child: std::process::Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful stop exits 0, got {status}");
}

#[test]
fn serve_prints_its_address_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    assert!(ingest(&store, &sample_args(dir.path())).status.success());
    let (child, addr) = start_server(&store, &[]);
    let (status, body) = http(
        &addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let answer = graphql(&addr, "{ snapshot { id organisations } }");
    assert_eq!(answer["data"]["snapshot"]["organisations"], 1034);
    stop(child);
}

#[test]
fn a_running_server_picks_up_a_new_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let files = sample_args(dir.path());
    assert!(ingest(&store, &files).status.success());
    let (child, addr) = start_server(&store, &["--refresh", "1"]);
    assert_eq!(
        graphql(&addr, "{ snapshot { id } }")["data"]["snapshot"]["id"],
        "000001"
    );
    assert!(ingest(&store, &files[..2]).status.success());
    // The server checks every second; give it a bounded while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let id = graphql(&addr, "{ snapshot { id } }")["data"]["snapshot"]["id"].clone();
        if id == "000002" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still serving {id} after 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let past = graphql(
        &addr,
        r#"{ aggregate(groupBy: [], snapshot: "000001") { total { organisations } } }"#,
    );
    assert_eq!(past["data"]["aggregate"]["total"]["organisations"], 1034);
    stop(child);

    let out = ess(&["snapshots", "--store", store.to_str().unwrap()]);
    let listing = text(&out.stdout);
    assert!(
        listing.contains("000001")
            && listing.contains("000002")
            && listing.contains("cooperatives_2019_legacy.csv"),
        "{listing}"
    );
}

/// A cooperative registry of `rows` rows, from the sample's rows with fresh ids.
fn big_csv(path: &Path, rows: usize) {
    let sample = std::str::from_utf8(SAMPLES[1].bytes)
        .unwrap()
        .trim_start_matches('\u{FEFF}');
    let mut lines = sample.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    let mut out = String::with_capacity(rows * 120);
    out.push_str(header);
    out.push('\n');
    for i in 0..rows {
        let line = body[i % body.len()];
        let rest = line.split_once(';').unwrap().1;
        out.push_str(&format!("BIG-{i:08};{rest}\n"));
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn sigkill_at_random_points_leaves_the_store_readable_and_vacuum_reclaims() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap().to_owned();
    assert!(ingest(&store, &sample_args(dir.path())).status.success());
    let big = dir.path().join("big.csv");
    big_csv(&big, 60_000);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();

    // Deterministic "random" kill points, from early parsing to the end of publishing.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..5 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = std::time::Duration::from_millis(50 + seed % 4000);
        let mut child = Command::new(env!("CARGO_BIN_EXE_ess"))
            .args([
                "ingest",
                "--store",
                &store_arg,
                "--cooperatives",
                big.to_str().unwrap(),
            ])
            .env("RUST_LOG", "warn")
            .env("TMPDIR", &tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        // Whatever the point, the store answers with a whole snapshot.
        let out = ess(&["info", "--store", &store_arg, "--json"]);
        assert!(
            out.status.success(),
            "round {round} ({delay:?}): {}",
            text(&out.stderr)
        );
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for p in info["organisations_parquet"].as_array().unwrap() {
            let local = p.as_str().unwrap().strip_prefix("file://").unwrap();
            assert!(
                Path::new(local).is_file(),
                "round {round}: {local} is missing"
            );
        }
    }

    let out = ess(&["vacuum", "--store", &store_arg, "--retention", "0s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("dry run: nothing deleted"),
        "{}",
        text(&out.stdout)
    );
    let out = ess(&[
        "vacuum",
        "--store",
        &store_arg,
        "--retention",
        "0s",
        "--apply",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dry_run"], false);

    // Only the folders of committed snapshots remain.
    let out = ess(&["snapshots", "--store", &store_arg, "--json"]);
    let manifests: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let runs: std::collections::HashSet<String> = manifests
        .iter()
        .map(|m| m["run_id"].as_str().unwrap().to_owned())
        .collect();
    for entry in std::fs::read_dir(store.join("snapshots")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(runs.contains(&name), "leftover {name} survived vacuum");
    }

    // And the latest snapshot serves the numbers its manifest states.
    let latest = manifests.last().unwrap();
    let (child, addr) = start_server(&store, &["--refresh", "0"]);
    let answer = graphql(
        &addr,
        "{ snapshot { id } aggregate(groupBy: []) { total { organisations } } }",
    );
    assert_eq!(answer["data"]["snapshot"]["id"], latest["snapshot_id"]);
    assert_eq!(
        answer["data"]["aggregate"]["total"]["organisations"],
        latest["rows"]
    );
    stop(child);
}

#[test]
fn schema_prints_the_committed_sdl() {
    let out = ess(&["schema"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), include_str!("../schema.graphql"));
}
