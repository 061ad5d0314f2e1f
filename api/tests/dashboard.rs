//! The dashboard in a real browser: `ess demo` on 127.0.0.1 (over a store that holds
//! an earlier snapshot, so that the snapshot selector and the changes have something
//! to show), driven by `tests/interop/dashboard_test.py` (Playwright for Python with
//! Debian's Chromium, axe-core from npm). Screenshots of each language and of a
//! phone's width are left in `target/screenshots/dashboard/`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/samples/expected_aggregates.json"
);

/// Where the screenshots go (README.md names it).
fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_dashboard_works_in_a_real_browser_in_three_languages() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // Snapshot 1: the first sample alone; `ess demo` then publishes every sample as
    // snapshot 2, the one served.
    let files = sample_args(dir.path());
    let out = ingest(&store, &files[..2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ess"))
        .args(["demo", "--addr", "127.0.0.1:0", "--store"])
        .arg(&store)
        .args(["--rate-limit", "0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(Some(child));
    let addr = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("listening on http://")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        })
        .expect("ess demo prints its address");

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/dashboard_test.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg(EXPECTED)
        .arg(screenshots())
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("python3 runs");
    stop(server);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "dashboard_test.py failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let found: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    check(&found);
    for shot in ["fr.png", "ar.png", "en.png", "phone-fr.png"] {
        let bytes = std::fs::read(screenshots().join(shot)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot}");
    }
}

/// What the browser found.
fn check(found: &Value) {
    assert_eq!(found["failures"], serde_json::json!([]), "{found}");
    let checks = found["checks"].as_object().expect("checks");
    for (name, c) in checks {
        assert_eq!(c["ok"], true, "{name}: {c}");
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(EXPECTED).unwrap()).unwrap();
    let filters = &checks["filters"];
    assert_eq!(
        filters["family_cooperative"],
        want["family"]["cooperative"]["organisations"]
    );
    assert_eq!(
        filters["region_family_MA-03|cooperative"],
        want["region_family"]["MA-03|cooperative"]["organisations"]
    );
    assert_eq!(checks["first_load"]["organisations"], want["total"]);
    // The whole first load, compressed as sent, under 250 KB.
    assert!(
        found["transfer_bytes"].as_u64().unwrap() < 250_000,
        "{found}"
    );
    assert_eq!(checks["arabic"]["dir"], "rtl");
    assert_eq!(checks["axe"]["violations"], 0, "{}", found["axe"]);
    assert_eq!(checks["phone"]["scroll_width_fr"], 360);
    assert_eq!(checks["phone"]["scroll_width_ar"], 360);
    let snapshots = checks["snapshot_selector"]["snapshots"].as_array().unwrap();
    assert_eq!(
        snapshots.len(),
        2,
        "the earlier snapshot is listed too: {snapshots:?}"
    );
}
