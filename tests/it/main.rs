//! Integration tests: one binary, linked once.

mod expected;
mod query_samples;
mod support;
