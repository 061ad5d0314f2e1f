//! The GraphQL API and the `ess` command.
//!
//! - [`store`]: `STORE` and `FILE` arguments to object stores.
//! - [`state`]: the snapshot served, past snapshots, the query runtime.
//! - [`graphql`]: the GraphQL schema of CONTRACT.md.
//! - [`limits`]: every limit of the public server, with its flag and default.
//! - [`http`]: the axum application ([`http::app`]).
//! - [`downloads`]: a snapshot's downloadable files; [`metadata`]: its Data Package
//!   and DCAT description; [`export`]: CSV exports; [`citation`]: how answers are
//!   cited; [`public_url`]: the address links start with.
//! - [`server`]: the listener (connections, timeouts, graceful shutdown).
//! - [`metrics`]: Prometheus counters.
//! - [`cli`]: the `ess` subcommands.

pub mod citation;
pub mod cli;
pub mod downloads;
pub mod export;
pub mod graphql;
pub mod http;
pub mod limits;
pub mod metadata;
pub mod metrics;
pub mod prefix;
pub mod public_url;
pub mod server;
pub mod state;
pub mod store;

pub use http::app;
pub use state::AppState;
