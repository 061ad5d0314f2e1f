//! Integration tests: one binary, linked once.

mod census;
mod conformance;
mod downloads;
mod expected;
mod exports;
mod graphql_acceptance;
mod history;
mod http;
mod interop;
mod limits;
mod pinned;
mod query_samples;
mod rules;
mod search;
mod server;
mod shared_copies;
mod support;
mod synth;
