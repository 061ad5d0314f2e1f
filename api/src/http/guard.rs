//! The limits every public request passes before its handler: the client's rate
//! (`429`), the server's capacity (`503`), and the body's size (`413`, before a byte
//! of it is read: an `Expect: 100-continue` above the cap gets `413`, not `100`; a
//! body without a declared length is cut by `http_body_util::Limited` where it passes
//! the cap).
//! Health, readiness and metrics are not behind them.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::Http;
use crate::http::access::{Client, RequestId};
use crate::http::problem::Problem;

/// Rate, then capacity, then the body's size.
pub async fn guard(State(http): State<Http>, request: Request, next: Next) -> Response {
    let id = request.extensions().get::<RequestId>().cloned();
    let client = request
        .extensions()
        .get::<Client>()
        .map_or_else(|| http.rates.client(&request), |c| c.0);
    let rate = match http.rates.check(client) {
        Ok(rate) => rate,
        Err(limited) => {
            http.state.metrics.reject("rate");
            let mut response = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!(
                    "too many requests from your address: at most {} at once and {} a second; try again in a moment",
                    limited.limit, http.state.limits.rate_limit
                ),
            )
            .retry_after(limited.retry_after)
            .into_response_for(id.as_ref());
            set_rate_headers(
                &mut response,
                limited.limit,
                0,
                limited.retry_after.as_secs() + 1,
            );
            return response;
        }
    };
    let permit = match http.lanes.enter() {
        Ok(p) => p,
        Err(overloaded) => {
            http.state.metrics.reject("inflight");
            return overloaded_problem(overloaded).into_response_for(id.as_ref());
        }
    };
    // The body: refused from its declared length before a byte of it is read (so an
    // `Expect: 100-continue` is never answered `100`), and cut where it grows past the
    // cap while read (the handler then answers 413).
    let max = http.state.limits.max_body;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        http.state.metrics.reject("body");
        return body_too_large(max).into_response_for(id.as_ref());
    }
    let request = request.map(|body| {
        axum::body::Body::new(http_body_util::Limited::new(
            body,
            usize::try_from(max).unwrap_or(usize::MAX),
        ))
    });
    let mut response = next.run(request).await;
    drop(permit);
    if let Some(rate) = rate {
        set_rate_headers(&mut response, rate.limit, rate.remaining, rate.reset);
    }
    response
}

/// The answer to a request shed for capacity.
pub fn overloaded_problem(o: crate::limits::lanes::Overloaded) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "OVERLOADED",
        "the server is answering as many requests as it can: try again in a moment",
    )
    .retry_after(o.retry_after)
}

fn set_rate_headers(response: &mut Response, limit: u32, remaining: u32, reset: u64) {
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(reset));
}

/// The answer to a body over `--max-body`.
pub fn body_too_large(max: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "BODY_TOO_LARGE",
        format!("the request is larger than the {max} bytes this server accepts"),
    )
}
