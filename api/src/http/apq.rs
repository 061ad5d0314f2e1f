//! Automatic persisted queries, as Apollo clients send them: a request may carry
//! `extensions.persistedQuery {version: 1, sha256Hash}` instead of its text; the
//! server answers `PersistedQueryNotFound` for a hash it does not know, and the
//! client sends the text with the hash once, which the server checks and keeps. A
//! dashboard's queries then travel as short GET URLs a CDN can cache.
//!
//! Kept texts are bounded by bytes (`moka`), so a client cannot fill the memory with
//! queries.

use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::http::problem::Problem;

/// Bytes of query text kept.
const KEPT_BYTES: u64 = 16 << 20;

/// The persisted queries of a server.
#[derive(Debug, Clone)]
pub struct PersistedQueries {
    texts: moka::sync::Cache<[u8; 32], std::sync::Arc<str>>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        PersistedQueries {
            texts: moka::sync::Cache::builder()
                .max_capacity(KEPT_BYTES)
                .weigher(|_, text: &std::sync::Arc<str>| {
                    u32::try_from(text.len() + 64).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

/// Why a persisted query could not be used.
fn apq_problem(code: &'static str, message: &str) -> Problem {
    // Apollo's link retries with the text on exactly this message and code, and
    // reads it from a 200 answer.
    Problem::new(StatusCode::OK, code, message)
}

impl PersistedQueries {
    /// The text of a request: `query` as sent (kept under its hash when the request
    /// names one), or the text kept under the hash it names.
    pub fn resolve(
        &self,
        query: Option<String>,
        extensions: Option<&serde_json::Value>,
    ) -> Result<String, Problem> {
        let persisted = extensions.and_then(|e| e.get("persistedQuery"));
        let Some(persisted) = persisted else {
            return query.ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "the request has no `query`",
                )
            });
        };
        if persisted.get("version").and_then(|v| v.as_u64()) != Some(1) {
            return Err(apq_problem(
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "PersistedQueryNotSupported: only version 1 of persisted queries is supported",
            ));
        }
        let hash = persisted
            .get("sha256Hash")
            .and_then(|h| h.as_str())
            .and_then(parse_hash)
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "persistedQuery.sha256Hash must be 64 hexadecimal digits",
                )
            })?;
        match query {
            Some(text) => {
                if Sha256::digest(text.as_bytes()).as_slice() != hash {
                    return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "PERSISTED_QUERY_HASH_MISMATCH",
                        "persistedQuery.sha256Hash is not the SHA-256 of `query`",
                    ));
                }
                self.texts.insert(hash, text.as_str().into());
                Ok(text)
            }
            None => {
                self.texts.get(&hash).map(|t| t.to_string()).ok_or_else(|| {
                    apq_problem("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
                })
            }
        }
    }
}

fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(hash: &str) -> serde_json::Value {
        serde_json::json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
    }

    #[test]
    fn unknown_hashes_are_asked_for_then_kept() {
        let apq = PersistedQueries::default();
        let text = "{ regions { code } }";
        let hash: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let first = apq.resolve(None, Some(&ext(&hash))).unwrap_err();
        assert_eq!(first.code, "PERSISTED_QUERY_NOT_FOUND");
        assert_eq!(first.message, "PersistedQueryNotFound");
        assert_eq!(
            apq.resolve(Some(text.into()), Some(&ext(&hash))).unwrap(),
            text
        );
        assert_eq!(apq.resolve(None, Some(&ext(&hash))).unwrap(), text);
        let wrong = apq
            .resolve(Some("{ sectors { code } }".into()), Some(&ext(&hash)))
            .unwrap_err();
        assert_eq!(wrong.code, "PERSISTED_QUERY_HASH_MISMATCH");
        assert_eq!(
            apq.resolve(None, Some(&ext("zz"))).unwrap_err().code,
            "BAD_REQUEST"
        );
        assert_eq!(apq.resolve(Some(text.into()), None).unwrap(), text);
        assert_eq!(apq.resolve(None, None).unwrap_err().code, "BAD_REQUEST");
    }
}
