//! Downloads as researchers read them, from a live `ess serve` on 127.0.0.1 over HTTP
//! only: polars, pyarrow (fsspec's HTTP filesystem) and DuckDB (httpfs) read family
//! files by byte ranges and reproduce `expected_aggregates.json`; `frictionless
//! validate` passes on the Data Package against the downloaded files; rdflib reads
//! the DCAT description (`tests/interop/downloads_read.py`). And a file larger than
//! 100 MB is downloaded while the server's memory stays flat.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/samples/expected_aggregates.json"
);

#[test]
fn polars_pyarrow_duckdb_frictionless_and_rdflib_read_the_downloads_remotely() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let files = sample_args(dir.path());
    let out = ingest(&store, &files);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (server, addr) = start_server(&store, &["--refresh", "0", "--rate-limit", "0"]);
    let graphql_answer = graphql(
        &addr,
        r#"{ aggregate(groupBy: [REGION]) { rows { region { code ar: name(lang: AR) } organisations members }
               total { organisations members employees } }
             organisations(filter: {family: [ASSOCIATION]}) { totalCount } }"#,
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/downloads_read.py"
    );
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg(EXPECTED)
        .arg(&scratch)
        .output()
        .expect("python3 runs");
    stop(server);
    assert!(
        out.status.success(),
        "downloads_read.py failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)));
    check_readers(&found);
    check_csv(&found["csv"], &graphql_answer["data"]);
}

/// The CSV exports as Python's csv module read them, against GraphQL's answers.
fn check_csv(csv: &Value, data: &Value) {
    let total = &data["aggregate"]["total"];
    for dialect in ["csv", "excel-fr"] {
        let a = &csv[format!("aggregate_{dialect}")];
        for m in ["organisations", "members", "employees"] {
            assert_eq!(a[m], total[m], "{dialect}: {m}");
        }
        for row in data["aggregate"]["rows"].as_array().unwrap() {
            let code = row["region"]["code"].as_str().unwrap_or("None");
            let got = &a["regions"][code];
            assert_eq!(
                got["organisations"], row["organisations"],
                "{dialect} {code}"
            );
            if let Some(ar) = row["region"]["ar"].as_str() {
                assert_eq!(
                    got["label"], ar,
                    "{dialect} {code}: the Arabic label intact"
                );
            }
        }
        assert!(
            a["source"]
                .as_str()
                .unwrap()
                .contains("/export/aggregate.csv?snapshot=000001")
        );
        let o = &csv[format!("organisations_{dialect}")];
        assert_eq!(o["rows"], data["organisations"]["totalCount"], "{dialect}");
        assert_eq!(o["ragged"], 0, "{dialect}");
        assert!(o["arabic_names"].as_u64().unwrap() > 0, "{dialect}: {o}");
        assert!(
            o["regions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().contains('è')),
            "{dialect}: accented labels intact: {o}"
        );
    }
    assert_eq!(csv["aggregate_excel-fr"]["decimal_commas"], true);
}

/// What the script found, against expected_aggregates.json.
fn check_readers(found: &Value) {
    let want: Value = serde_json::from_str(&std::fs::read_to_string(EXPECTED).unwrap()).unwrap();
    assert_eq!(found["differences"], serde_json::json!([]), "{found}");
    for name in ["polars", "pyarrow", "duckdb"] {
        let r = &found[name];
        // Over the three family files together, and over the file of every
        // organisation.
        for summary in ["families", "every"] {
            let s = &r[summary];
            assert_eq!(s["total"], want["total"], "{name} {summary}: total");
            for (family, w) in want["family"].as_object().unwrap() {
                for m in ["organisations", "members", "employees"] {
                    assert_eq!(
                        s["family"][family][m], w[m],
                        "{name} {summary}: {family} {m}"
                    );
                }
            }
            for (key, w) in want["region_family"].as_object().unwrap() {
                for m in ["organisations", "members", "employees"] {
                    assert_eq!(
                        s["region_family"][key][m], w[m],
                        "{name} {summary}: {key} {m}"
                    );
                }
            }
        }
        // By ranges, never a whole file.
        let responses = &r["responses"];
        assert!(
            responses["206"].as_u64().unwrap_or(0) > 0,
            "{name}: {responses}"
        );
        assert!(
            responses.get("200").is_none(),
            "{name} downloaded a file whole: {responses}"
        );
    }
    let f = &found["frictionless"];
    assert_eq!(f["valid"], true, "frictionless: {f}");
    assert_eq!(f["error_count"], 0, "frictionless: {f}");
    let resources = f["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 6, "{f}");
    assert!(resources.iter().all(|r| r["valid"] == true), "{f}");
    let matches = found["downloads_match_listing"].as_object().unwrap();
    assert_eq!(matches.len(), 6);
    assert!(matches.values().all(|m| m == true), "{matches:?}");
    let d = &found["dcat"];
    assert_eq!(d["context_inline"], true);
    assert_eq!(d["missing"], serde_json::json!([]), "{d}");
    let datasets = d["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 1, "{d}");
    for key in [
        "title",
        "description",
        "publisher",
        "license",
        "temporal",
        "spatial",
    ] {
        assert!(
            !datasets[0][key].is_null() && datasets[0][key] != serde_json::json!([]),
            "dcat {key}: {d}"
        );
    }
    let distributions = datasets[0]["distributions"].as_array().unwrap();
    assert_eq!(distributions.len(), 6, "{d}");
    assert!(
        distributions.iter().all(|x| x["matches_listing"] == true),
        "{d}"
    );
}

/// A registry with few rows whose names are long random text (which no compression
/// shortens), so that its organisations file is over 100 MB.
fn fat_csv(path: &Path, rows: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        out,
        "N° immatriculation;Raison sociale;Date de création;Région;Province;Secteur;Branche;Nombre d'adhérents;Dont femmes;Emplois permanents;Emplois femmes;Emplois hommes;Statut"
    )
    .unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut name = Vec::with_capacity(10_000);
    for i in 0..rows {
        name.clear();
        for _ in 0..10_000 {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
            name.push(alphabet[(r >> 58) as usize % alphabet.len()]);
        }
        writeln!(
            out,
            "BIG-{i:06};Coopérative {};02/03/2017;L'Oriental;Taourirt;Argane;;16;3;1;0;1;Active",
            std::str::from_utf8(&name).unwrap()
        )
        .unwrap();
    }
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_file_over_100_mb_streams_while_the_servers_memory_stays_flat() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("fat.csv");
    fat_csv(&csv, 14_500);
    let store = dir.path().join("store");
    let out = ingest(
        &store,
        &["--cooperatives".into(), csv.display().to_string()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    drop(std::fs::remove_file(&csv));
    let (server, addr) = start_server(&store, &["--refresh", "0"]);
    let pid = server.0.as_ref().unwrap().id();

    // Once the search index is built, the server's memory holds still.
    let started = Instant::now();
    loop {
        let (_, body) = http(
            &addr,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if body.contains("\"search_index\":\"ready\"") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "index never ready: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, list) = http(
        &addr,
        "GET /downloads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let list: Value = serde_json::from_str(&list).unwrap();
    let file = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "organisations-cooperative.parquet")
        .unwrap()
        .clone();
    let size = file["bytes"].as_u64().unwrap();
    assert!(size > 100_000_000, "the file is over 100 MB: {size}");

    let before = resident_kib(pid);
    let mut stream = TcpStream::connect(&addr).unwrap();
    let url = file["url"].as_str().unwrap();
    let path = &url[url.find("/downloads/").unwrap()..];
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // Read slowly enough that a server holding the file would show it, hashing the
    // body as it comes; sample the server's resident memory all along.
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut head = Vec::new();
    let mut body_bytes = 0u64;
    let mut peak = before;
    let mut reads = 0u64;
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if head.len() < 4 || !head.ends_with(b"\r\n\r\n") {
            let mut taken = 0;
            for b in chunk {
                head.push(*b);
                taken += 1;
                if head.ends_with(b"\r\n\r\n") {
                    break;
                }
            }
            chunk = &chunk[taken..];
        }
        hasher.update(chunk);
        body_bytes += chunk.len() as u64;
        reads += 1;
        if reads.is_multiple_of(64) {
            peak = peak.max(resident_kib(pid));
        }
    }
    peak = peak.max(resident_kib(pid));
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body_bytes, size);
    let sha: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha, file["sha256"].as_str().unwrap());
    let grew_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grew_mib < 32,
        "the server's memory grew by {grew_mib} MiB while sending {} MiB (from {} MiB)",
        size >> 20,
        before / 1024
    );
    stop(server);
}
