//! Every limit of the public server, in one place: what a request, a client and the
//! whole server may cost. Each is a flag of `ess serve` and `ess demo` with the
//! default below; SECURITY.md says why each default is what it is.
//!
//! - [`cost`]: what a GraphQL document may cost before it runs (depth, aliases, root
//!   fields, and a cost that grows with `first`, the groups of an aggregate, diffs
//!   and past snapshots).
//! - [`lanes`]: how many requests run at once, and how many of the expensive ones;
//!   past either, `503` with `Retry-After`.
//! - [`rate`]: requests per second per client, `429` past it.
//!
//! The rest is enforced where the work happens: the body cap and the request timeout
//! in `http`, connections and header/write timeouts in `server`, search text, memory
//! pool and answer cache in `ess_query` ([`Limits::query_config`]).

pub mod cost;
pub mod lanes;
pub mod rate;

use std::time::Duration;

use ess_query::{QueryConfig, SearchLimits};

/// The limits of one server. Built once from the command line and passed down.
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// Largest request body; larger ones get `413` before they are read.
    #[arg(long, default_value = "256KiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub max_body: u64,

    /// Longest a GraphQL request or export may run; it is then stopped (its work
    /// cancelled) and answered `503`.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "AGE")]
    pub request_timeout: Duration,

    /// Longest a connection may take to send a request's headers, counted from when
    /// it opens or its last response ends (so also how long an idle connection
    /// stays open).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "AGE")]
    pub header_timeout: Duration,

    /// Longest a response may wait for a client that does not read it.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "AGE")]
    pub write_timeout: Duration,

    /// Open connections at most (also at most a quarter of the process's file
    /// descriptor limit); past it, new connections get `503` and are closed.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,

    /// Requests being answered at once, at most; past it, `503` with `Retry-After`.
    /// Health, readiness and metrics are not counted.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_inflight: usize,

    /// Expensive requests (cost at least `--heavy-cost`) run at once, at most
    /// (default: the cores less one, at least one, so cheap requests keep a core).
    #[arg(long, default_value_t = default_heavy_concurrency(), value_name = "N")]
    pub heavy_concurrency: usize,

    /// Expensive requests that may wait for their turn; past it, `503`.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub heavy_queue: usize,

    /// Longest an expensive request waits for its turn before `503`.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "AGE")]
    pub queue_wait: Duration,

    /// Cost from which a request is expensive (a diff, a search without an index, a
    /// page of hundreds of organisations with every field).
    #[arg(long, default_value_t = 10_000, value_name = "COST")]
    pub heavy_cost: u64,

    /// Largest cost of one GraphQL request (see `limits::cost`).
    #[arg(long, default_value_t = 50_000, value_name = "COST")]
    pub max_cost: u64,

    /// Deepest selection (fields, fragments inlined, leaves counted).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_depth: usize,

    /// Aliased fields in one request (fragments expanded).
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_aliases: u64,

    /// Root fields in one request (fragments expanded).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_root_fields: u64,

    /// Fields written in one request (each fragment counted once).
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub max_fields: usize,

    /// Requests per second per client (IP address; IPv6 by /64); 0 turns the limit
    /// off.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub rate_limit: u32,

    /// Requests a client may send at once above its rate.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub rate_burst: u32,

    /// Take the client's address from the last `X-Forwarded-For` entry: only behind
    /// a proxy that sets it.
    #[arg(long)]
    pub trust_forwarded_for: bool,

    /// Characters of search text, at most.
    #[arg(long, default_value_t = SearchLimits::default().max_chars, value_name = "N")]
    pub search_max_chars: usize,

    /// Distinct words of a search, at most.
    #[arg(long, default_value_t = SearchLimits::default().max_words, value_name = "N")]
    pub search_max_words: usize,

    /// Memory all queries may hold at once (sorts and aggregations spill past it).
    #[arg(long, default_value = "512MiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub memory_pool: u64,

    /// Memory for cached answers.
    #[arg(long, default_value = "128MiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub cache_memory: u64,

    /// How long browsers and CDNs may reuse a GraphQL GET answer without asking
    /// again (it then revalidates with its ETag: `304` when unchanged).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "AGE")]
    pub cache_max_age: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        use clap::Parser;
        /// The flags alone, to read their defaults.
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            limits: Limits,
        }
        Defaults::parse_from(["ess"]).limits
    }
}

impl Limits {
    /// What the query engines of the server may hold and accept.
    pub fn query_config(&self) -> QueryConfig {
        QueryConfig {
            memory_pool_bytes: usize::try_from(self.memory_pool).unwrap_or(usize::MAX),
            cache_bytes: self.cache_memory,
            search: SearchLimits {
                max_chars: self.search_max_chars,
                max_words: self.search_max_words,
            },
        }
    }
}

fn default_heavy_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// A number and the unit after it.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(at);
    Some((digits.parse().ok()?, unit.trim()))
}

/// `30s`, `15m`, `24h`, `7d`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (n, unit) = number_and_unit(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 30s, 15m, 24h or 7d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d")),
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// `512`, `64KiB`, `256MiB`, `1GiB` (also `KB`, `MB`, `GB` as powers of 1,000).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (n, unit) = number_and_unit(text)
        .ok_or_else(|| format!("`{text}` is not a size such as 64KiB, 256MiB or 1GiB"))?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(format!("`{text}`: the unit is B, KiB, MiB or GiB")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let l = Limits::default();
        assert_eq!(l.max_body, 256 << 10);
        assert_eq!(l.request_timeout, Duration::from_secs(30));
        assert_eq!(l.max_cost, 50_000);
        assert_eq!(l.rate_limit, 50);
        assert!(l.heavy_concurrency >= 1);
        assert_eq!(l.query_config().search, SearchLimits::default());
    }

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_bytes("64KiB"), Ok(65_536));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("10MB"), Ok(10_000_000));
        assert!(parse_bytes("ten").is_err());
        assert!(parse_bytes("99999999999999GiB").is_err());
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("1y").is_err());
    }
}
