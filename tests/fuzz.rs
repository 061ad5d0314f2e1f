//! Hostile requests against the whole app, in-process: at least 10,000 of them, built
//! from the schema with random arguments, hostile text (NUL, right-to-left marks,
//! lone surrogates, combining marks, megabyte lengths), deep and wide selections,
//! fragments, variables of the wrong type, GET and POST, and mutated bytes. No
//! request may panic the server, get a `5xx` other than a deliberate `503`, or show
//! an internal detail; and the heap must come back to its level.
//!
//! A test binary of its own: it measures the process's live heap (the `cap`
//! allocator counts every allocation), which other tests running beside it in one
//! binary would disturb. Deterministic: the requests come from a fixed seed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use ess_api::AppState;
use ess_api::limits::Limits;
use ess_api::store::Store;
use ess_ingest::IngestJob;
use ess_ingest::samples::sample_sources;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use serde_json::{Value, json};
use tower::ServiceExt;

#[global_allocator]
static HEAP: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// Requests sent, at least.
const REQUESTS: usize = 10_000;
/// Requests in flight at once.
const WORKERS: usize = 8;

/// xorshift64*: small, fast, and the same sequence for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const HOSTILE: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "a\u{0}b",
    "\u{202e}evil\u{202c}",
    "\u{200f}تعاونية\u{200e}",
    "e\u{301}\u{301}\u{301}",
    "🧕🏽👩‍🌾",
    "%_\\",
    "' OR 1=1 --",
    "\"}]}",
    "{ __schema }",
    "\\u0000",
    "\u{feff}",
    "\u{fffd}\u{fffe}",
    "MA-09",
    "ARGAN",
    "cooperative:COOP-2203-000029",
];

fn hostile(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => (0..rng.below(64))
            .filter_map(|_| char::from_u32(rng.next() as u32 % 0x11_0000))
            .collect(),
        1 => "x".repeat(rng.below(5_000)),
        2 => rng.pick(HOSTILE).repeat(rng.below(300)),
        3 if rng.chance(3) => "m".repeat(1 << 20),
        _ => rng.pick(HOSTILE).to_string(),
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn id(rng: &mut Rng) -> String {
    let ids = [
        "1",
        "000001",
        "0",
        "-1",
        "2",
        "999999",
        "00000000000000000001",
        "1e3",
        "abc",
    ];
    if rng.chance(80) {
        rng.pick(&ids).to_string()
    } else {
        hostile(rng)
    }
}

fn filter(rng: &mut Rng) -> String {
    let mut parts = Vec::new();
    let list = |rng: &mut Rng, good: &[&str]| -> String {
        let items: Vec<String> = (0..rng.below(4))
            .map(|_| {
                if rng.chance(70) {
                    quoted(rng.pick::<&str>(good))
                } else {
                    quoted(&hostile(rng))
                }
            })
            .collect();
        format!("[{}]", items.join(", "))
    };
    if rng.chance(40) {
        let fams: Vec<&str> = (0..rng.below(4))
            .map(|_| *rng.pick(&["COOPERATIVE", "ASSOCIATION", "MUTUAL", "NOPE"]))
            .collect();
        parts.push(format!("family: [{}]", fams.join(", ")));
    }
    if rng.chance(40) {
        parts.push(format!(
            "region: {}",
            list(rng, &["MA-09", "MA-03", "MA-01", "MA-99"])
        ));
    }
    if rng.chance(20) {
        parts.push(format!(
            "province: {}",
            list(rng, &["MA-FES", "MA-AGD", "MA-XXX"])
        ));
    }
    if rng.chance(30) {
        parts.push(format!(
            "sector: {}",
            list(rng, &["ARGAN", "AGRI", "argan"])
        ));
    }
    if rng.chance(30) {
        let year = |rng: &mut Rng| match rng.below(4) {
            0 => i64::from(i32::MIN),
            1 => i64::from(i32::MAX),
            2 => 1990 + rng.below(40) as i64,
            _ => rng.next() as i32 as i64,
        };
        parts.push(format!(
            "foundedYear: {{from: {}, to: {}}}",
            year(rng),
            year(rng)
        ));
    }
    format!("{{{}}}", parts.join(", "))
}

fn row_fields(rng: &mut Rng) -> String {
    let all = [
        "family",
        "region { code name }",
        "region { name(lang: AR) }",
        "province { code region { code } }",
        "sector { name(lang: EN) }",
        "foundedYear",
        "status",
        "organisations",
        "members",
        "membersWomen",
        "employees",
        "employeesWomen",
        "employeesMen",
        "genderCoverage",
        "womenEmploymentShare",
        "__typename",
    ];
    pick_some(rng, &all)
}

fn node_fields(rng: &mut Rng) -> String {
    let all = [
        "orgId",
        "family",
        "sourceId",
        "name",
        "nameAr",
        "sectorCode",
        "sector { code name }",
        "activities",
        "regionCode",
        "region { name(lang: EN) }",
        "provinceCode",
        "province { name }",
        "foundedOn",
        "foundedYear",
        "status",
        "membersTotal",
        "membersWomen",
        "employeesTotal",
        "employeesWomen",
        "employeesMen",
        "volunteers",
        "publicUtility",
        "qualityFlags",
        "sourceFile",
        "sourceRow",
    ];
    pick_some(rng, &all)
}

fn snapshot_fields(rng: &mut Rng) -> String {
    let all = [
        "id",
        "createdAt",
        "organisations",
        "rejected",
        "sequence",
        "downloads",
        "files { family file sha256 rowsRead accepted rejected superseded }",
    ];
    pick_some(rng, &all)
}

fn pick_some(rng: &mut Rng, all: &[&str]) -> String {
    let n = 1 + rng.below(all.len());
    (0..n).map(|_| *rng.pick(all)).collect::<Vec<_>>().join(" ")
}

fn dims(rng: &mut Rng) -> String {
    let d: Vec<&str> = (0..rng.below(4))
        .map(|_| {
            *rng.pick(&[
                "FAMILY",
                "REGION",
                "PROVINCE",
                "SECTOR",
                "FOUNDED_YEAR",
                "STATUS",
                "NOPE",
            ])
        })
        .collect();
    format!("[{}]", d.join(", "))
}

/// One root field with random arguments and selections.
fn root(rng: &mut Rng) -> String {
    let snapshot = |rng: &mut Rng| {
        if rng.chance(25) {
            format!(", snapshot: {}", quoted(&id(rng)))
        } else {
            String::new()
        }
    };
    match rng.below(10) {
        0 | 1 => format!(
            "aggregate(groupBy: {}, filter: {}{}) {{ rows {{ {} }} total {{ {} }} snapshot {{ {} }} }}",
            dims(rng),
            filter(rng),
            snapshot(rng),
            row_fields(rng),
            row_fields(rng),
            snapshot_fields(rng)
        ),
        2 | 3 => {
            let first = match rng.below(5) {
                0 => "-1".to_owned(),
                1 => "0".to_owned(),
                2 => "1000".to_owned(),
                3 => "2147483647".to_owned(),
                _ => (1 + rng.below(50)).to_string(),
            };
            let after = if rng.chance(30) {
                format!(", after: {}", quoted(&hostile(rng)))
            } else {
                String::new()
            };
            format!(
                "organisations(filter: {}, search: {}, first: {first}{after}{}) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {} }} }} }}",
                filter(rng),
                quoted(&hostile(rng)),
                snapshot(rng),
                node_fields(rng)
            )
        }
        4 => "regions { code name(lang: AR) }".to_owned(),
        5 => "provinces { code name region { code } }".to_owned(),
        6 => format!(
            "snapshot {{ {} }} snapshots {{ {} }}",
            snapshot_fields(rng),
            snapshot_fields(rng)
        ),
        7 => format!(
            "diff(from: {}, to: {}) {{ from {{ id }} to {{ id }} rows {{ family region {{ code }} added removed changed unchanged }} total {{ added }} }}",
            quoted(&id(rng)),
            quoted(&id(rng))
        ),
        8 => {
            // Introspection, nested as deep as the dice say.
            let depth = rng.below(12);
            let mut q = String::from("__schema { types { name ");
            for _ in 0..depth {
                q.push_str("fields { name type { name ofType { name } ");
            }
            q.push_str(&"} } ".repeat(depth));
            q.push_str("} }");
            q
        }
        _ => format!(
            "sectors {{ code name(lang: {}) }}",
            rng.pick(&["FR", "AR", "EN", "XX"])
        ),
    }
}

/// A whole document: a few root fields, with aliases, fragments, width and depth.
fn document(rng: &mut Rng) -> String {
    let mut fields: Vec<String> = (0..1 + rng.below(3))
        .map(|i| {
            let f = root(rng);
            if rng.chance(50) {
                format!("a{i}: {f}")
            } else {
                f
            }
        })
        .collect();
    if rng.chance(5) {
        // Wide: the same field aliased many times.
        let n = rng.below(3_000);
        fields.push(
            (0..n)
                .map(|i| format!("w{i}: regions {{ code }}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    if rng.chance(5) {
        // Deep: brackets beyond what any query needs.
        let n = rng.below(2_000);
        fields.push(format!("{}x{}", "x { ".repeat(n), " }".repeat(n)));
    }
    let body = fields.join(" ");
    match rng.below(10) {
        0 => format!("query Q {{ ...F }} fragment F on Query {{ {body} }}"),
        1 => format!("{{ ... on Query {{ {body} }} }}"),
        2 => {
            // A fragment bomb.
            let mut q = String::from("{ regions { ...B0 } }");
            let levels = 5 + rng.below(30);
            for i in 0..levels {
                q.push_str(&format!(
                    " fragment B{i} on Region {{ ...B{} ...B{} }}",
                    i + 1,
                    i + 1
                ));
            }
            q.push_str(&format!(" fragment B{levels} on Region {{ code }}"));
            q
        }
        3 => format!(
            "query($f: Int, $s: String) {{ organisations(first: $f, search: $s) {{ totalCount }} {body} }}"
        ),
        _ => format!("{{ {body} }}"),
    }
}

fn variables(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => json!({"f": rng.next() as i64, "s": hostile(rng)}),
        1 => json!({"f": "ten", "s": 5}),
        2 => json!([1, 2, 3]),
        3 => json!({"f": {"nested": [[[[1]]]]}}),
        _ => Value::Null,
    }
}

/// One request: POST, GET, or bytes mutated from a POST.
fn request(rng: &mut Rng) -> Request<Body> {
    let body = json!({ "query": document(rng), "variables": variables(rng) }).to_string();
    match rng.below(20) {
        0..=13 => Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap(),
        14..=16 => {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("query", &document(rng))
                .append_pair("variables", &variables(rng).to_string())
                .finish();
            // A URI too long for `http` to hold is sent as the body instead.
            Request::get(format!("/graphql?{q}"))
                .body(Body::empty())
                .unwrap_or_else(|_| {
                    Request::post("/graphql")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body))
                        .unwrap()
                })
        }
        _ => {
            let mut bytes = body.into_bytes();
            for _ in 0..1 + rng.below(8) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len());
                match rng.below(4) {
                    0 => bytes[at] = rng.next() as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    2 => bytes.insert(at, *rng.pick(b"{}[]\"\\\x00\xff:,")),
                    _ => {
                        let lone: &[u8] = b"\\ud800";
                        bytes.splice(at..at, lone.iter().copied());
                    }
                }
            }
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(bytes))
                .unwrap()
        }
    }
}

/// What no answer may show.
const INTERNAL: &[&str] = &[
    "panicked",
    "DataFusion",
    "Parquet",
    "parquet:",
    "object store",
    "object_store",
    "Internal(",
    "InvalidRequest(",
    "Error(",
    "memory://",
    "RUST_BACKTRACE",
    "src/",
];

async fn published() -> Arc<dyn ObjectStore> {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    IngestJob::builder()
        .store(store.clone())
        .sources(sample_sources())
        .build()
        .unwrap()
        .run()
        .await
        .unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // the run's figures, for whoever reads the test log
async fn ten_thousand_hostile_requests_crash_nothing_and_leak_nothing() {
    let store = published().await;
    let state = AppState::open(
        Store {
            store,
            url: "memory://".into(),
        },
        Limits {
            rate_limit: 0,
            cache_memory: 8 << 20,
            ..Limits::default()
        },
    )
    .await
    .unwrap();
    let app = ess_api::app(state);
    let sent = Arc::new(AtomicUsize::new(0));
    let by_status = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        u16,
        usize,
    >::new()));

    let run = |from: usize, to: usize| {
        let (app, sent, by_status) = (app.clone(), sent.clone(), by_status.clone());
        async move {
            let mut workers = Vec::new();
            for w in 0..WORKERS {
                let (app, sent, by_status) = (app.clone(), sent.clone(), by_status.clone());
                workers.push(tokio::spawn(async move {
                    let mut rng = Rng(1);
                    for i in from..to {
                        if i % WORKERS != w {
                            continue;
                        }
                        // The same request for the same index, whatever ran before.
                        rng.0 = 0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x1000_0000_01B3);
                        let request = request(&mut rng);
                        let what = format!(
                            "{} {}",
                            request.method(),
                            request
                                .uri()
                                .to_string()
                                .chars()
                                .take(300)
                                .collect::<String>()
                        );
                        let response = app.clone().oneshot(request).await.unwrap();
                        let status = response.status();
                        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
                        let text = String::from_utf8_lossy(&body);
                        if status.is_server_error() {
                            assert_eq!(
                                status,
                                StatusCode::SERVICE_UNAVAILABLE,
                                "#{i} {what}: {text}"
                            );
                            let v: Value = serde_json::from_slice(&body).unwrap();
                            let code = v["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
                            assert!(
                                ["OVERLOADED", "TIMEOUT", "RESOURCES_EXHAUSTED"].contains(&code),
                                "#{i} {what}: {text}"
                            );
                        }
                        if status != StatusCode::NOT_MODIFIED {
                            let v: Value = serde_json::from_slice(&body)
                                .unwrap_or_else(|e| panic!("#{i} {what}: not JSON ({e}): {text}"));
                            if let Some(errors) = v["errors"].as_array() {
                                for e in errors {
                                    let m = e["message"].as_str().unwrap_or("");
                                    assert!(m.len() <= 1_200, "#{i} a long message: {m}");
                                    assert!(e["extensions"]["code"].is_string(), "#{i} {e}");
                                    assert!(e["extensions"]["requestId"].is_string(), "#{i} {e}");
                                    for bad in INTERNAL {
                                        assert!(!m.contains(bad), "#{i} {what}: `{bad}` in {m}");
                                    }
                                }
                            }
                        }
                        *by_status
                            .lock()
                            .unwrap()
                            .entry(status.as_u16())
                            .or_default() += 1;
                        sent.fetch_add(1, Ordering::Relaxed);
                        // What a rejected body quotes back is bounded.
                        assert!(body.len() < 4 << 20 || status == StatusCode::OK, "#{i}");
                    }
                }));
            }
            for w in workers {
                w.await.unwrap();
            }
        }
    };

    // Warm up (caches, lazily built tables), then measure the heap.
    run(0, 1_000).await;
    let warm = HEAP.allocated();
    run(1_000, REQUESTS).await;
    let after = HEAP.allocated();
    let statuses = by_status.lock().unwrap().clone();
    eprintln!(
        "fuzz: {} requests, statuses {statuses:?}, heap {} MiB after warm-up, {} MiB after, peak {} MiB",
        sent.load(Ordering::Relaxed),
        warm >> 20,
        after >> 20,
        HEAP.max_allocated() >> 20
    );
    assert!(sent.load(Ordering::Relaxed) >= REQUESTS);
    // Every kind of answer was seen: the requests reached every layer.
    for status in [200u16, 400, 413] {
        assert!(
            statuses.contains_key(&status),
            "no {status} in {statuses:?}"
        );
    }
    // Bounded caches may fill (8 MiB of answers, 16 MiB of persisted queries), and
    // nothing else may stay.
    assert!(
        after < warm + (48 << 20),
        "the heap grew from {} to {} MiB",
        warm >> 20,
        after >> 20
    );
}
