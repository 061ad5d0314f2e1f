//! What to answer a `GET` or `HEAD` of an immutable file, from its request headers
//! (RFC 9110 §13–14): `304` when the client's copy is current (`If-None-Match`, else
//! `If-Modified-Since`), `206` with one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`;
//! a suffix longer than the file is the whole file), `416` for a range that starts
//! past the end, `400` for a `Range` that does not parse, and the whole file when
//! `If-Range` names another version or several ranges are asked for (a server may
//! ignore those; no reader this service knows of sends them). The range grammar is
//! `http-range-header`'s, as in tower-http; tower-http's `ServeFile` is not used
//! because it reads local files only, and these are in an object store.

use std::ops::RangeInclusive;
use std::time::SystemTime;

use axum::http::{HeaderMap, header};
use http_range_header::{StartPosition, parse_range_header};

/// The answer to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `200`, the whole file.
    Whole,
    /// `206`, these bytes.
    Part(RangeInclusive<u64>),
    /// `304`.
    NotModified,
    /// `416`.
    Unsatisfiable,
    /// `400`: the `Range` header, and why it does not parse.
    Malformed(String),
}

/// Whether `If-None-Match` names `tag` (quoted, strong or `W/`) or `*`: RFC 9110's
/// weak comparison, over every `If-None-Match` line and every tag in each.
pub fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    let ours = tag.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == ours || t == "*")
}

/// The answer for a file of `size` bytes whose strong validator is `etag` (quoted)
/// and which was last modified at `modified` (whole seconds).
pub fn answer(headers: &HeaderMap, size: u64, etag: &str, modified: SystemTime) -> Answer {
    if headers.contains_key(header::IF_NONE_MATCH) {
        if none_match(headers, etag) {
            return Answer::NotModified;
        }
    } else if let Some(since) = header_date(headers, header::IF_MODIFIED_SINCE)
        && modified <= since
    {
        return Answer::NotModified;
    }
    let Some(range) = headers.get(header::RANGE) else {
        return Answer::Whole;
    };
    if let Some(v) = headers.get(header::IF_RANGE) {
        let current = match v.to_str() {
            Ok(v) if v.starts_with('"') => v == etag,
            Ok(_) => header_date(headers, header::IF_RANGE) == Some(modified),
            Err(_) => false,
        };
        if !current {
            return Answer::Whole;
        }
    }
    let Ok(text) = range.to_str() else {
        return Answer::Malformed("the Range header is not text".into());
    };
    let parsed = match parse_range_header(text) {
        Ok(p) => p,
        Err(e) => {
            return Answer::Malformed(format!(
                "{:?} is not a byte range ({}); use bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX",
                text.chars().take(64).collect::<String>(),
                e.to_string().trim_start_matches("RangeUnsatisfiable: ")
            ));
        }
    };
    if parsed.ranges.len() != 1 {
        return Answer::Whole;
    }
    if size == 0 {
        return Answer::Unsatisfiable;
    }
    // A suffix longer than the file is all of it (RFC 9110 §14.1.2).
    if let StartPosition::FromLast(n) = parsed.ranges[0].start
        && n > size
    {
        return Answer::Part(0..=size - 1);
    }
    match parsed.validate(size) {
        Ok(mut ranges) => Answer::Part(ranges.remove(0)),
        Err(_) => Answer::Unsatisfiable,
    }
}

fn header_date(headers: &HeaderMap, name: header::HeaderName) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(name)?.to_str().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::{Duration, UNIX_EPOCH};

    const ETAG: &str = "\"abc\"";

    fn ask(pairs: &[(header::HeaderName, &str)]) -> Answer {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        answer(
            &h,
            1000,
            ETAG,
            UNIX_EPOCH + Duration::from_secs(1_000_000_000),
        )
    }

    #[test]
    fn ranges_of_the_three_forms() {
        assert_eq!(ask(&[]), Answer::Whole);
        assert_eq!(ask(&[(header::RANGE, "bytes=0-9")]), Answer::Part(0..=9));
        assert_eq!(
            ask(&[(header::RANGE, "bytes=990-")]),
            Answer::Part(990..=999)
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=-10")]),
            Answer::Part(990..=999)
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=-5000")]),
            Answer::Part(0..=999)
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=500-5000")]),
            Answer::Part(500..=999)
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=1000-")]),
            Answer::Unsatisfiable
        );
        assert_eq!(ask(&[(header::RANGE, "bytes=5-2")]), Answer::Unsatisfiable);
        assert_eq!(ask(&[(header::RANGE, "bytes=0-1,5-6")]), Answer::Whole);
        for bad in ["bytes=a-b", "items=0-1", "bytes=", "bytes=--1", "0-1"] {
            assert!(
                matches!(ask(&[(header::RANGE, bad)]), Answer::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn validators() {
        assert_eq!(ask(&[(header::IF_NONE_MATCH, ETAG)]), Answer::NotModified);
        assert_eq!(
            ask(&[(header::IF_NONE_MATCH, "\"x\", W/\"abc\"")]),
            Answer::NotModified
        );
        assert_eq!(ask(&[(header::IF_NONE_MATCH, "\"x\"")]), Answer::Whole);
        assert_eq!(
            ask(&[(header::IF_MODIFIED_SINCE, "Sun, 09 Sep 2001 01:46:40 GMT")]),
            Answer::NotModified
        );
        assert_eq!(
            ask(&[(header::IF_MODIFIED_SINCE, "Sun, 09 Sep 2001 01:46:39 GMT")]),
            Answer::Whole
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=0-1"), (header::IF_RANGE, "\"old\"")]),
            Answer::Whole
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=0-1"), (header::IF_RANGE, ETAG)]),
            Answer::Part(0..=1)
        );
    }
}
