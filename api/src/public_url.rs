//! The address the service is reached at, for the absolute links answers carry
//! (citations, download URLs, portal metadata).
//!
//! `--public-url https://ess.example.ma` when the server sits behind a proxy or a
//! name; otherwise the request's own `Host`, checked to be a host name or address
//! (a client cannot inject text into links other clients will cite).

use axum::http::{HeaderMap, header};

/// The base of absolute links for one request (GraphQL resolvers find it in the
/// request's data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub String);

/// The service's public address, as a flag of `ess serve` and `ess demo`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PublicUrl {
    /// The address clients reach this server at, for the links in citations,
    /// downloads and portal metadata (default: http:// and the request's Host).
    #[arg(long = "public-url", value_name = "URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("an http:// or https:// address with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("an address without ?query or #fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The base of absolute links for a request: `configured`, else `http://` and the
/// request's `Host` when it is a plain host name or address, else
/// `http://localhost`.
pub fn base_url(configured: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(base) = configured {
        return base.to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_host_is_used_only_when_it_is_a_host() {
        let mut h = HeaderMap::new();
        assert_eq!(base_url(None, &h), "http://localhost");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(base_url(None, &h), "http://127.0.0.1:8080");
        h.insert(
            header::HOST,
            HeaderValue::from_static("evil.example/<script>"),
        );
        assert_eq!(base_url(None, &h), "http://localhost");
        assert_eq!(
            base_url(Some("https://ess.example.ma"), &h),
            "https://ess.example.ma"
        );
    }

    #[test]
    fn a_public_url_is_an_http_address() {
        assert_eq!(
            parse_public_url("https://ess.example.ma/data/").unwrap(),
            "https://ess.example.ma/data"
        );
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("https://x/?a=1").is_err());
        assert!(parse_public_url("not a url").is_err());
    }
}
