//! Requests per second per client: a token bucket per IP address (`governor`'s GCRA),
//! `--rate-limit` tokens a second and `--rate-burst` at most. A client past its rate
//! gets `429` with `Retry-After`; every answer says where the client stands in
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (the IETF draft's
//! fields).
//!
//! The client is the peer address of the connection, or with `--trust-forwarded-for`
//! (only behind a proxy that sets it) the last address of `X-Forwarded-For`, the one
//! the proxy added. IPv6 clients are counted by /64, the block one subscriber gets.
//! Buckets of clients gone quiet are forgotten every minute, so the table's size
//! follows the active clients.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::limits::Limits;

type Limiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// The per-client limiter of a server.
#[derive(Debug)]
pub struct ClientRates {
    limiter: Option<Limiter>,
    trust_forwarded_for: bool,
    burst: u32,
    per_second: u32,
}

/// Where a client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    /// The bucket's size.
    pub limit: u32,
    /// Requests it may still send at once.
    pub remaining: u32,
    /// Seconds until its bucket is full again.
    pub reset: u64,
}

/// A client past its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// When its next request will be accepted.
    pub retry_after: Duration,
    /// The bucket's size.
    pub limit: u32,
}

impl ClientRates {
    /// The limiter `limits` describe (none with `--rate-limit 0`).
    pub fn new(limits: &Limits) -> Self {
        let limiter = NonZeroU32::new(limits.rate_limit).map(|rate| {
            let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
                .with_middleware::<StateInformationMiddleware>()
        });
        ClientRates {
            limiter,
            trust_forwarded_for: limits.trust_forwarded_for,
            burst: limits.rate_burst.max(limits.rate_limit),
            per_second: limits.rate_limit,
        }
    }

    /// The client a request comes from (`0.0.0.0` when the transport says none: a
    /// request driven in-process).
    pub fn client<B>(&self, request: &Request<B>) -> IpAddr {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = self
            .trust_forwarded_for
            .then(|| forwarded_for(request.headers()))
            .flatten();
        forwarded.or(peer).unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    /// Takes one token from `client`'s bucket.
    pub fn check(&self, client: IpAddr) -> Result<Option<RateState>, RateLimited> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        match limiter.check_key(&bucket(client)) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let missing = self.burst.saturating_sub(remaining);
                Ok(Some(RateState {
                    limit: self.burst,
                    remaining,
                    reset: u64::from(missing).div_ceil(u64::from(self.per_second.max(1))),
                }))
            }
            Err(not_until) => Err(RateLimited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                limit: self.burst,
            }),
        }
    }

    /// Forgets the buckets of clients that are full again (quiet clients).
    pub fn forget_quiet(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Clients with a bucket now.
    pub fn clients(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// The last address of `X-Forwarded-For`, if it parses.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()?;
    let last = last.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The bucket of an address: itself for IPv4, its /64 for IPv6.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(per_second: u32, burst: u32, trust: bool) -> ClientRates {
        ClientRates::new(&Limits {
            rate_limit: per_second,
            rate_burst: burst,
            trust_forwarded_for: trust,
            ..Limits::default()
        })
    }

    #[test]
    fn a_client_past_its_burst_waits_and_others_do_not() {
        let r = rates(1, 3, false);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for left in (0..3).rev() {
            assert_eq!(r.check(a).unwrap().unwrap().remaining, left);
        }
        let limited = r.check(a).unwrap_err();
        assert!(
            limited.retry_after > Duration::ZERO && limited.retry_after <= Duration::from_secs(1)
        );
        assert!(r.check("192.0.2.2".parse().unwrap()).is_ok());
        // One /64 is one client.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        for _ in 0..3 {
            r.check(v6("2001:db8:1:1::1")).unwrap();
        }
        assert!(r.check(v6("2001:db8:1:1:ffff::9")).is_err());
        assert!(r.check(v6("2001:db8:1:2::1")).is_ok());
        assert!(
            rates(0, 0, false).check(a).unwrap().is_none(),
            "0 turns it off"
        );
    }

    #[test]
    fn forwarded_for_is_trusted_only_when_told() {
        let request = |xff: &str| {
            let mut req = Request::builder()
                .header("x-forwarded-for", xff)
                .body(())
                .unwrap();
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
            req
        };
        let req = request("198.51.100.7, 203.0.113.9");
        assert_eq!(rates(1, 1, false).client(&req), IpAddr::from([10, 0, 0, 1]));
        assert_eq!(
            rates(1, 1, true).client(&req),
            IpAddr::from([203, 0, 113, 9])
        );
        let garbage = request("not an address");
        assert_eq!(
            rates(1, 1, true).client(&garbage),
            IpAddr::from([10, 0, 0, 1])
        );
    }
}
