//! The `ess` binary as users and scripts run it (CONTRACT.md, "Command line").

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use ess_ingest::samples::SAMPLES;
use ess_schemas::Family;

#[test]
fn ingest_then_info() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let files = sample_args(dir.path());
    let out = ingest(&store, &files);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The first ingest into an empty store is the normal case: nothing to warn of.
    assert_eq!(text(&out.stderr), "");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("snapshot 000001 published"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} organisations", expected_total())),
        "{stdout}"
    );
    assert!(stdout.contains("cooperatives_2025_q1.csv"), "{stdout}");
    // The whole summary, as a person reads it.
    let store_url = format!("file://{}", store.display());
    insta::with_settings!({ filters => vec![
        (store_url.as_str(), "[store]"),
        (r"in \d+\.\d+s", "in [seconds]s"),
    ] }, {
        insta::assert_snapshot!("ingest_summary", stdout);
    });

    let out = ess(&["info", "--store", store.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["snapshot_id"], "000001");
    assert_eq!(info["rows"], expected_total());
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
fn a_file_passed_with_the_wrong_flag_is_named_as_what_it_is_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let files = sample_args(dir.path());
    let path = |name: &str| files.iter().find(|f| f.ends_with(name)).unwrap().clone();
    let mut said = String::new();
    for (flag, file, looks_like, fits) in [
        (
            "--cooperatives",
            "associations_2025.xlsx",
            "an XLSX workbook",
            "--associations",
        ),
        ("--cooperatives", "mutuals_acaps.json", "JSON", "--mutuals"),
        (
            "--mutuals",
            "cooperatives_2024.csv",
            "CSV text",
            "--cooperatives",
        ),
        (
            "--associations",
            "cooperatives_2024.csv",
            "CSV text",
            "--cooperatives",
        ),
        (
            "--associations",
            "mutuals_sante.ndjson",
            "JSON",
            "--mutuals",
        ),
    ] {
        let out = ess_with(
            &["ingest", "--store", &store, flag, &path(file)],
            &[("RUST_BACKTRACE".into(), "1".into())],
        );
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("looks like {looks_like}"))
                && err.contains(&format!("pass it with {fits}")),
            "{flag} {file}: {err}"
        );
        assert_eq!(err.matches(file).count(), 1, "said once: {err}");
        assert!(!err.contains("backtrace") && !err.contains("PK"), "{err}");
        said.push_str(&format!("$ ess ingest {flag} {file}\n{err}\n"));
    }
    // The messages whole, as a person reads them.
    let dir = dir.path().display().to_string();
    insta::with_settings!({ filters => vec![(dir.as_str(), "[dir]")] }, {
        insta::assert_snapshot!("wrong_flags", said);
    });
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

    // A store in the layout of earlier versions (snapshots committed as
    // `_manifests/*.json`): every command says what it is and what to do.
    let old = dir.path().join("old-store");
    std::fs::create_dir_all(old.join("_manifests")).unwrap();
    std::fs::write(old.join("_manifests/00000000000000000001.json"), "{}").unwrap();
    let old_arg = old.display().to_string();
    let samples = sample_args(dir.path());
    let mut ingest_old = vec!["ingest", "--store", &old_arg];
    ingest_old.extend(samples.iter().map(String::as_str));
    for args in [
        ingest_old,
        vec!["info", "--store", &old_arg, "--json"],
        vec!["snapshots", "--store", &old_arg],
        vec!["serve", "--store", &old_arg, "--addr", "127.0.0.1:0"],
        vec!["vacuum", "--store", &old_arg],
    ] {
        let out = ess(&args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("old layout") && stderr.contains("publish into a new store"),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !old.join("organisations").exists(),
        "nothing is written beside an old layout"
    );
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
    assert_eq!(
        answer["data"]["snapshot"]["organisations"],
        expected_total()
    );
    stop(child);
}

#[test]
fn demo_publishes_the_embedded_samples_and_serves_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ess"))
        .args(["demo", "--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("TMPDIR", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(Some(child));
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.contains("listening on http://"))
        .expect("a listening line");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let answer = graphql(&addr, "{ snapshot { id organisations } }");
    assert_eq!(
        answer["data"]["snapshot"]["organisations"],
        expected_total()
    );
    let (status, page) = http(
        &addr,
        "GET /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(page.contains("graphiql"), "GraphiQL in the browser");
    drop(lines); // a closed stdout does not stop the server
    assert_eq!(
        graphql(&addr, "{ snapshot { id } }")["data"]["snapshot"]["id"],
        "000001"
    );
    stop(server);
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
    assert_eq!(
        past["data"]["aggregate"]["total"]["organisations"],
        expected_total()
    );
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

/// Publishes the samples to `store`, then kills ingests of a larger file with SIGKILL
/// at seeded random points; after each kill the store must answer with a whole
/// snapshot. Then vacuum reclaims what the kills left, and the latest snapshot serves
/// the numbers its manifest states. Returns the committed run ids.
fn kill_rounds(
    dir: &Path,
    store: &str,
    env: &[(String, String)],
    rounds: usize,
) -> std::collections::HashSet<String> {
    let mut args = vec!["ingest".to_owned(), "--store".to_owned(), store.to_owned()];
    args.extend(sample_args(dir));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ess_with(&args, env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let big = dir.join("big.csv");
    big_csv(&big, 60_000);
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();

    // How long one ingest of the big file takes here, so that the kills land inside
    // ingests: deterministic "random" points from 5% to 95% of it, from early parsing
    // to the end of publishing.
    let started = std::time::Instant::now();
    let out = ess_with(
        &[
            "ingest",
            "--store",
            store,
            "--cooperatives",
            big.to_str().unwrap(),
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let whole = started.elapsed().as_millis() as u64;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut interrupted = 0;
    for round in 0..rounds {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = std::time::Duration::from_millis(whole * (5 + seed % 90) / 100);
        let mut child = Command::new(env!("CARGO_BIN_EXE_ess"))
            .args([
                "ingest",
                "--store",
                store,
                "--cooperatives",
                big.to_str().unwrap(),
            ])
            .env("RUST_LOG", "warn")
            .env("TMPDIR", &tmp)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        // Killed, not finished: no exit code.
        if status.code().is_none() {
            interrupted += 1;
        }

        let out = ess_with(&["info", "--store", store, "--json"], env);
        assert!(
            out.status.success(),
            "round {round} ({delay:?}): {}",
            text(&out.stderr)
        );
    }

    assert!(
        interrupted * 2 >= rounds,
        "only {interrupted} of {rounds} kills interrupted an ingest (one takes {whole} ms)"
    );

    let out = ess_with(&["vacuum", "--store", store, "--retention", "0s"], env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("dry run: nothing deleted"),
        "{}",
        text(&out.stdout)
    );
    let out = ess_with(
        &[
            "vacuum",
            "--store",
            store,
            "--retention",
            "0s",
            "--apply",
            "--json",
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dry_run"], false);
    let out = ess_with(
        &["vacuum", "--store", store, "--retention", "0s", "--json"],
        env,
    );
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        again["leftovers"],
        serde_json::json!([]),
        "nothing left after --apply"
    );
    assert_eq!(
        again["table_files"], 0,
        "no file of a killed run left in the table"
    );

    let out = ess_with(&["snapshots", "--store", store, "--json"], env);
    let manifests: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let latest = manifests.last().unwrap();
    let (server, addr) = start_server_at(store, &["--refresh", "0"], env);
    let answer = graphql(
        &addr,
        "{ snapshot { id } aggregate(groupBy: []) { total { organisations } } }",
    );
    assert_eq!(answer["data"]["snapshot"]["id"], latest["snapshot_id"]);
    assert_eq!(
        answer["data"]["aggregate"]["total"]["organisations"],
        latest["rows"]
    );
    stop(server);
    manifests
        .iter()
        .map(|m| m["run_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sigkill_at_random_points_on_a_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let runs = kill_rounds(dir.path(), store.to_str().unwrap(), &[], 5);
    // Only the folders of committed snapshots remain, staging files included.
    for entry in std::fs::read_dir(store.join("snapshots")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(runs.contains(&name), "leftover {name} survived vacuum");
    }
}

#[test]
fn sigkill_at_random_points_on_s3() {
    let moto = ess_tests::moto::Moto::start();
    moto.create_bucket("killed");
    let dir = tempfile::tempdir().unwrap();
    kill_rounds(dir.path(), "s3://killed/ess", &moto.aws_settings(), 3);
}

#[test]
fn schema_prints_the_committed_sdl() {
    let out = ess(&["schema"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), include_str!("../schema.graphql"));
}

#[test]
fn s3_stores_and_files_for_ingest_info_serve_and_downloads() {
    let moto = ess_tests::moto::Moto::start();
    moto.create_bucket("registries");
    moto.create_bucket("ess");
    let env = moto.aws_settings();
    // The registry files themselves come from S3.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let inputs = moto.store("registries");
    let mut args: Vec<String> = vec![
        "ingest".into(),
        "--store".into(),
        "s3://ess/open-data".into(),
    ];
    for s in SAMPLES {
        rt.block_on(object_store::ObjectStoreExt::put(
            &inputs,
            &object_store::path::Path::from(format!("2025/{}", s.name)),
            s.bytes.to_vec().into(),
        ))
        .unwrap();
        let flag = match s.family {
            Family::Cooperative => "--cooperatives",
            Family::Association => "--associations",
            Family::Mutual => "--mutuals",
        };
        args.push(flag.into());
        args.push(format!("s3://registries/2025/{}", s.name));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ess_with(&args, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("snapshot 000001 published to s3://ess/open-data"),
        "{}",
        text(&out.stdout)
    );

    let out = ess_with(&["info", "--store", "s3://ess/open-data", "--json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["rows"], expected_total());
    let part = info["organisations_parquet"][0].as_str().unwrap();
    assert!(
        part.starts_with("s3://ess/open-data/organisations/"),
        "{part}"
    );
    assert_eq!(info["table"], "s3://ess/open-data/organisations");
    assert_eq!(info["table_version"], 1);

    let (child, addr) = start_server_at("s3://ess/open-data", &["--refresh", "0"], &env);
    let answer = graphql(
        &addr,
        "{ aggregate(groupBy: [FAMILY]) { rows { family organisations } } snapshot { downloads { name url } } }",
    );
    let rows = answer["data"]["aggregate"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        rows.iter()
            .map(|r| r["organisations"].as_i64().unwrap())
            .sum::<i64>() as u64,
        expected_total()
    );
    let url = answer["data"]["snapshot"]["downloads"][0]["url"]
        .as_str()
        .unwrap();
    let url = url[url.find("/downloads/").unwrap()..].to_owned();
    let (status, body) = http(
        &addr,
        &format!("GET {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200);
    assert!(body.starts_with("PAR1"), "a Parquet file streamed from S3");
    stop(child);

    // Credentials that do not exist are a clear failure, not a hang.
    let mut bad = env.clone();
    bad.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    bad.push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()));
    let out = ess_with(&["info", "--store", "s3://ess/open-data"], &bad);
    assert!(!out.status.success());
}
