//! Parsed GraphQL documents, kept by their text: dashboards send the same few queries
//! again and again, and parsing is the largest share of a cached answer's cost. A
//! text is checked for nesting and parsed once; its cost is still found for every
//! request (it depends on the variables and the snapshot). Bounded by bytes (`moka`).

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

use crate::limits::cost::{CostError, check_nesting};

/// Bytes of query text whose documents are kept (a document takes a few times its
/// text).
const KEPT_BYTES: u64 = 8 << 20;

/// Why a text is not a document.
#[derive(Debug)]
pub enum ParseError {
    /// Nested too deeply to be parsed.
    Nesting(CostError),
    /// Not GraphQL.
    Syntax(String),
}

/// The parsed documents of a server.
#[derive(Debug, Clone)]
pub struct Documents {
    parsed: moka::sync::Cache<Arc<str>, Arc<ExecutableDocument>>,
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            parsed: moka::sync::Cache::builder()
                .max_capacity(KEPT_BYTES)
                .weigher(|text: &Arc<str>, _| {
                    u32::try_from(text.len() * 4 + 256).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl Documents {
    /// The document `text` parses to.
    pub fn parse(&self, text: &str) -> Result<Arc<ExecutableDocument>, ParseError> {
        if let Some(doc) = self.parsed.get(text) {
            return Ok(doc);
        }
        check_nesting(text).map_err(ParseError::Nesting)?;
        let doc = Arc::new(
            async_graphql::parser::parse_query(text)
                .map_err(|e| ParseError::Syntax(e.to_string()))?,
        );
        self.parsed.insert(text.into(), doc.clone());
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_bad_ones_are_not_kept() {
        let docs = Documents::default();
        let a = docs.parse("{ regions { code } }").unwrap();
        let b = docs.parse("{ regions { code } }").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(matches!(
            docs.parse("{ regions {"),
            Err(ParseError::Syntax(_))
        ));
        let deep = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
        assert!(matches!(docs.parse(&deep), Err(ParseError::Nesting(_))));
        assert!(
            matches!(docs.parse(&deep), Err(ParseError::Nesting(_))),
            "never kept"
        );
    }
}
