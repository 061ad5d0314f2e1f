//! `/`: the public dashboard, and `/assets/…`: its files, embedded in the binary
//! (`api/assets/dashboard/`: plain ES modules, a style sheet, no build step).
//!
//! Every asset is served under a name that holds a hash of its content
//! (`/assets/app.3f2a9c1b.js`), cached for a year: a new build serves new names.
//! The files refer to each other as `/assets/<file>`; those references are rewritten
//! to the hashed names when the server starts, leaves first (a file's hash covers the
//! names it refers to). The page itself revalidates (`no-cache`, with an `ETag`), so a
//! browser always gets the names of the build it talks to.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ess_ingest::downloads::sha256_hex;

use crate::http::ranges::none_match;

/// The page's files, as written in `api/assets/dashboard/`.
const FILES: &[(&str, &[u8])] = &[
    (
        "index.html",
        include_bytes!("../../assets/dashboard/index.html"),
    ),
    ("app.js", include_bytes!("../../assets/dashboard/app.js")),
    ("api.js", include_bytes!("../../assets/dashboard/api.js")),
    (
        "charts.js",
        include_bytes!("../../assets/dashboard/charts.js"),
    ),
    ("i18n.js", include_bytes!("../../assets/dashboard/i18n.js")),
    (
        "style.css",
        include_bytes!("../../assets/dashboard/style.css"),
    ),
];

/// The page's policy: its own scripts and styles only, requests to this server only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A file ready to serve.
#[derive(Debug)]
struct Served {
    body: Vec<u8>,
    content_type: &'static str,
    etag: String,
}

/// The page and its assets by hashed name.
#[derive(Debug)]
struct Site {
    page: Served,
    assets: BTreeMap<String, Served>,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `/assets/<file>` references of a text file, to files of the page.
fn references(text: &str) -> Vec<&'static str> {
    FILES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| text.contains(&format!("/assets/{name}")))
        .collect()
}

/// A file's name with `hash` before its extension.
fn hashed_name(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        // Leaves first: a file is done once every file it refers to is. Every file
        // is text (HTML, JS, CSS). Done: its hashed name, its content's hash, its body.
        let mut done: BTreeMap<&str, (String, String, Vec<u8>)> = BTreeMap::new();
        while done.len() < FILES.len() {
            let before = done.len();
            for (name, bytes) in FILES {
                if done.contains_key(name) {
                    continue;
                }
                let mut text = String::from_utf8_lossy(bytes).into_owned();
                let refs = references(&text);
                if refs.iter().any(|r| *r != *name && !done.contains_key(r)) {
                    continue;
                }
                for r in refs.iter().filter(|r| **r != *name) {
                    text = text.replace(&format!("/assets/{r}"), &format!("/assets/{}", done[r].0));
                }
                let body = text.into_bytes();
                let hash = sha256_hex(&body)[..8].to_owned();
                done.insert(name, (hashed_name(name, &hash), hash, body));
            }
            assert!(
                done.len() > before,
                "the dashboard's files refer to each other in a cycle"
            );
        }
        let mut assets = BTreeMap::new();
        let mut page = None;
        for (name, (hashed, hash, body)) in done {
            let served = Served {
                etag: format!("\"{hash}\""),
                content_type: content_type(name),
                body,
            };
            if name == "index.html" {
                page = Some(served);
            } else {
                assets.insert(hashed, served);
            }
        }
        Site {
            page: page.expect("the dashboard has an index.html"),
            assets,
        }
    })
}

/// `GET /`: the page, revalidated on every visit.
pub async fn page(headers: HeaderMap) -> Response {
    let page = &site().page;
    let mut response = respond(page, &headers, "no-cache");
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// `GET /assets/{name}`: an asset by its hashed name.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match site().assets.get(&name) {
        Some(asset) => respond(asset, &headers, "public, max-age=31536000, immutable"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn respond(file: &'static Served, headers: &HeaderMap, cache: &'static str) -> Response {
    let mut response = if none_match(headers, &file.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, file.content_type)],
            file.body.as_slice(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&file.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_names_a_hashed_asset_that_is_served() {
        let s = site();
        let page = String::from_utf8_lossy(&s.page.body);
        for (name, _) in FILES.iter().filter(|(n, _)| *n != "index.html") {
            assert!(
                !page.contains(&format!("\"/assets/{name}\"")),
                "{name} is referred to by its hashed name"
            );
        }
        for (hashed, asset) in &s.assets {
            assert!(hashed.split('.').count() >= 3, "{hashed}");
            let text = String::from_utf8_lossy(&asset.body);
            for (name, _) in FILES {
                assert!(
                    !text.contains(&format!("/assets/{name}\"")),
                    "{hashed} refers to {name} unhashed"
                );
            }
        }
    }
}
