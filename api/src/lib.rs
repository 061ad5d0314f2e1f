//! The GraphQL API and the `ess` command.
//!
//! - [`store`]: `STORE` and `FILE` arguments to object stores.
//! - [`state`]: the snapshot served, past snapshots, the query runtime.
//! - [`graphql`]: the GraphQL schema of CONTRACT.md.
//! - [`limits`]: every limit of the public server, with its flag and default.
//! - [`http`]: the axum application ([`http::app`]).
//! - [`server`]: the listener (connections, timeouts, graceful shutdown).
//! - [`metrics`]: Prometheus counters.
//! - [`cli`]: the `ess` subcommands.

pub mod cli;
pub mod graphql;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod prefix;
pub mod server;
pub mod state;
pub mod store;

pub use http::app;
pub use state::AppState;
