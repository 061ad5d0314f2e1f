//! The limits every public request passes before its handler: the client's rate
//! (`429`), the server's capacity (`503`), and the body's size (`413`, before a byte
//! of it is read: an `Expect: 100-continue` above the cap gets `413`, not `100`).
//! Health, readiness and metrics are not behind them.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::Http;
use crate::http::access::{Client, RequestId};
use crate::http::problem::Problem;

/// Rate, then capacity.
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

/// Turns the body-limit layer's bare `413` into the API's error shape.
pub async fn body_limit_problem(
    State(http): State<Http>,
    request: Request,
    next: Next,
) -> Response {
    let id = request.extensions().get::<RequestId>().cloned();
    let response = next.run(request).await;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| !v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && plain {
        http.state.metrics.reject("body");
        return body_too_large(http.state.limits.max_body).into_response_for(id.as_ref());
    }
    response
}

/// The answer to a body over `--max-body`.
pub fn body_too_large(max: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "BODY_TOO_LARGE",
        format!("the request is larger than the {max} bytes this server accepts"),
    )
}
