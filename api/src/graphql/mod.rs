//! The GraphQL schema of CONTRACT.md. Names here are public: add freely, rename never.
//!
//! - [`query`]: the query root and its resolvers.
//! - [`types`]: the objects answers are made of.
//! - [`census`]: the 2024 census beside an aggregate's rows.
//! - [`inputs`]: enums and filters.
//! - [`cursor`]: page cursors.
//! - [`errors`]: errors as clients see them.
//!
//! What a request may cost is checked before it runs (`crate::limits::cost`), which
//! replaces async-graphql's own depth and complexity limits.

pub mod census;
pub mod cursor;
pub mod errors;
pub mod inputs;
pub mod query;
pub mod types;

use async_graphql::{EmptyMutation, EmptySubscription, Schema};

pub use inputs::{Dimension, Family, Lang, OrganisationFilter};
pub use query::Query;

use crate::state::AppState;

/// The executable schema.
pub type EssSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Directives on one field, at most.
const MAX_DIRECTIVES: usize = 8;

/// Builds the schema over `state`.
pub fn schema(state: AppState) -> EssSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(state)
        .limit_directives(MAX_DIRECTIVES)
        .finish()
}

/// The SDL of the schema, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_sdl_is_current() {
        let committed = include_str!("../../schema.graphql");
        assert!(
            committed == sdl(),
            "api/schema.graphql is out of date: run `cargo run -- schema > api/schema.graphql` and review the diff"
        );
    }
}
