//! `/metrics`, in Prometheus's text format: requests by route and status, their
//! latency, rejections by limit, open connections; and read at each scrape, the
//! snapshot served and its age, the answer cache's hits, misses and size, the memory
//! pool's use, and the requests in flight.

use std::fmt::Write as _;
use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DownloadLabels {
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SnapshotLabels {
    snapshot: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

type Histograms = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms,
    rejections: Family<LimitLabels, Counter>,
    connections: Gauge<i64, AtomicI64>,
    downloads: Family<DownloadLabels, Counter>,
    download_bytes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What is read from the server at each scrape.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    /// The snapshot served.
    pub snapshot: String,
    /// Its sequence number.
    pub sequence: u64,
    /// Seconds since it was published.
    pub age_seconds: i64,
    /// Whether its search index is ready.
    pub index_ready: bool,
    /// Bytes the queries hold in the memory pool.
    pub pool_reserved: u64,
    /// The pool's size.
    pub pool_limit: u64,
    /// Answers found in the cache.
    pub cache_hits: u64,
    /// Answers computed.
    pub cache_misses: u64,
    /// Bytes of cached answers.
    pub cache_bytes: u64,
    /// Requests in flight.
    pub inflight: u64,
    /// Clients with a rate bucket.
    pub rate_clients: u64,
}

impl Metrics {
    /// Counters at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "ess_http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let latency: Histograms =
            Family::new_with_constructor(|| Histogram::new(BUCKETS.iter().copied()));
        registry.register(
            "ess_http_request_duration_seconds",
            "Time to answer a request (to its headers), by route",
            latency.clone(),
        );
        let rejections = Family::<LimitLabels, Counter>::default();
        registry.register(
            "ess_rejections",
            "Requests and connections refused, by the limit that refused them",
            rejections.clone(),
        );
        let connections = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "ess_connections_open",
            "Client connections open",
            connections.clone(),
        );
        let downloads = Family::<DownloadLabels, Counter>::default();
        registry.register(
            "ess_download_responses",
            "Answers to file downloads, by method and status (206: a range)",
            downloads.clone(),
        );
        let download_bytes = Counter::default();
        registry.register(
            "ess_download_body_bytes",
            "Bytes of file downloads' bodies announced (Content-Length of GET answers)",
            download_bytes.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            rejections,
            connections,
            downloads,
            download_bytes,
        }
    }

    /// Counts a request answered.
    pub fn request(&self, route: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
    }

    /// Counts a download (`head`: a `HEAD`) answered with `status`, whose body is
    /// `bytes` long.
    pub fn download(&self, head: bool, status: u16, bytes: u64) {
        let method = if head { "HEAD" } else { "GET" };
        self.downloads
            .get_or_create(&DownloadLabels { method, status })
            .inc();
        if !head {
            self.download_bytes.inc_by(bytes);
        }
    }

    /// Counts a refusal by `limit`.
    pub fn reject(&self, limit: &'static str) {
        self.rejections.get_or_create(&LimitLabels { limit }).inc();
    }

    /// Refusals by `limit` so far.
    pub fn rejected(&self, limit: &'static str) -> u64 {
        self.rejections.get_or_create(&LimitLabels { limit }).get()
    }

    /// The open connections gauge.
    pub fn connections(&self) -> &Gauge<i64, AtomicI64> {
        &self.connections
    }

    /// Every metric, with `readings`, in Prometheus's text format.
    pub fn encode(&self, readings: &Readings) -> String {
        let mut out = String::new();
        let mut read = Registry::default();
        let info = Family::<SnapshotLabels, Gauge>::default();
        info.get_or_create(&SnapshotLabels {
            snapshot: readings.snapshot.clone(),
        })
        .set(1);
        read.register("ess_snapshot_info", "The snapshot served", info);
        let gauges: [(&str, &str, i64); 8] = [
            (
                "ess_snapshot_sequence",
                "Sequence number of the snapshot served",
                as_i64(readings.sequence),
            ),
            (
                "ess_snapshot_age_seconds",
                "Seconds since the snapshot served was published",
                readings.age_seconds,
            ),
            (
                "ess_search_index_ready",
                "1 when the served snapshot's search index is ready",
                i64::from(readings.index_ready),
            ),
            (
                "ess_memory_pool_reserved_bytes",
                "Bytes queries hold in the memory pool",
                as_i64(readings.pool_reserved),
            ),
            (
                "ess_memory_pool_limit_bytes",
                "Size of the memory pool",
                as_i64(readings.pool_limit),
            ),
            (
                "ess_answer_cache_bytes",
                "Bytes of cached answers",
                as_i64(readings.cache_bytes),
            ),
            (
                "ess_requests_inflight",
                "Requests being answered",
                as_i64(readings.inflight),
            ),
            (
                "ess_rate_limited_clients",
                "Clients with a rate-limit bucket",
                as_i64(readings.rate_clients),
            ),
        ];
        for (name, help, value) in gauges {
            read.register(name, help, ConstGauge::new(value));
        }
        let lookups = Family::<CacheLabels, Counter>::default();
        lookups
            .get_or_create(&CacheLabels { result: "hit" })
            .inc_by(readings.cache_hits);
        lookups
            .get_or_create(&CacheLabels { result: "miss" })
            .inc_by(readings.cache_misses);
        read.register(
            "ess_answer_cache_lookups",
            "Answers looked up in the cache, by result",
            lookups,
        );
        // The encoders only fail on a failing writer; a String never fails.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_text::encode(&mut out, &read);
        let _ = writeln!(out);
        out
    }
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_readings_are_encoded() {
        let m = Metrics::new();
        m.request("graphql", 200, 0.002);
        m.request("graphql", 200, 0.004);
        m.reject("rate");
        m.connections().inc();
        let text = m.encode(&Readings {
            snapshot: "000002".into(),
            sequence: 2,
            cache_hits: 7,
            ..Readings::default()
        });
        for expected in [
            r#"ess_http_requests_total{route="graphql",status="200"} 2"#,
            r#"ess_rejections_total{limit="rate"} 1"#,
            "ess_connections_open 1",
            r#"ess_snapshot_info{snapshot="000002"} 1"#,
            "ess_snapshot_sequence 2",
            r#"ess_answer_cache_lookups_total{result="hit"} 7"#,
            r#"ess_http_request_duration_seconds_count{route="graphql"} 2"#,
        ] {
            assert!(text.contains(expected), "{expected} not in\n{text}");
        }
        assert_eq!(m.rejected("rate"), 1);
    }
}
