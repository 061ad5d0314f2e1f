//! CSV exports for people who work in spreadsheets: any aggregate, and any
//! organisations search, with the same filters as GraphQL, labels in French, Arabic
//! or English, and the citation of the numbers on the first line.
//!
//! - [`params`]: the URL parameters, parsed and written back (permanent links).
//! - [`csv`]: the two dialects (RFC 4180, and French-locale spreadsheets).
//! - [`aggregate`]: an aggregate's groups as rows.
//! - [`organisations`]: organisations as rows, batch by batch (streamed).

pub mod aggregate;
pub mod csv;
pub mod organisations;
pub mod params;

pub use params::{ExportKind, ExportParams, ParamError};
