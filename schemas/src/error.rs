//! Errors of the schema crate.

/// What went wrong reading data against the canonical schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A batch lacks a canonical column.
    #[error(
        "column `{column}` is missing from the batch; is this an organisations table of this version?"
    )]
    MissingColumn {
        /// The column.
        column: String,
    },
    /// A column has another type than the canonical schema gives it.
    #[error("column `{column}` does not have its canonical type")]
    ColumnType {
        /// The column.
        column: String,
    },
    /// A value that the canonical schema does not allow.
    #[error("column `{column}` holds `{value}`, which the canonical schema does not allow")]
    BadValue {
        /// The column.
        column: String,
        /// The value.
        value: String,
    },
}
