//! Errors as clients see them: a stable `code` in the extensions and a message in the
//! API's own terms. What went wrong inside (store paths, engine messages) goes to the
//! log with the request's id, never to the client; the HTTP layer adds that id to
//! every error (`requestId`).

use async_graphql::ErrorExtensions;
use ess_query::QueryError;

/// An error with `code`.
pub fn coded(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code))
}

/// An argument that cannot be answered as given.
pub fn invalid(field: &str, message: &str) -> async_graphql::Error {
    coded("INVALID_REQUEST", format!("invalid {field}: {message}"))
}

/// A query crate error as a client sees it.
pub fn query_error(e: QueryError) -> async_graphql::Error {
    match e.root() {
        QueryError::InvalidRequest { .. } => coded("INVALID_REQUEST", e.root().to_string()),
        QueryError::UnknownSnapshot { .. } | QueryError::Expired { .. } => {
            coded("NOT_FOUND", e.root().to_string())
        }
        QueryError::NoSnapshot { .. } => coded(
            "NOT_FOUND",
            "no snapshot has been published yet: there is nothing to answer from",
        ),
        QueryError::ResourcesExhausted { .. } => {
            tracing::warn!(error = %e, "query refused: memory pool exhausted");
            coded(
                "RESOURCES_EXHAUSTED",
                "the server has no memory to spare for this query now: try again in a moment, or ask for less",
            )
        }
        _ => {
            tracing::error!(error = %e, "query failed");
            coded(
                "INTERNAL",
                "the server could not answer this; it has been logged under this request's id",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_inside() {
        let e = query_error(QueryError::NoSnapshot {
            store: "/home/someone/secret/store".into(),
        });
        assert!(!e.message.contains("secret"), "{}", e.message);
        let e = query_error(QueryError::Internal("run 5f1c… at /var/data".into()));
        assert!(!e.message.contains("/var/data"), "{}", e.message);
        let e = query_error(QueryError::Shared(std::sync::Arc::new(
            QueryError::InvalidRequest {
                field: "first",
                message: "must be between 1 and 1000, not 0".into(),
            },
        )));
        assert_eq!(
            e.message,
            "invalid first: must be between 1 and 1000, not 0"
        );
    }
}
