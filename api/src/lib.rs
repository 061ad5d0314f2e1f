//! The GraphQL API and the `ess` command.
//!
//! - [`store`]: `STORE` and `FILE` arguments to object stores.
//! - [`graphql`]: the GraphQL schema of CONTRACT.md.
//! - [`http`]: the axum application ([`http::app`]).
//! - [`cli`]: the `ess` subcommands.

pub mod cli;
pub mod graphql;
pub mod http;
pub mod prefix;
pub mod state;
pub mod store;

pub use http::app;
pub use state::AppState;
