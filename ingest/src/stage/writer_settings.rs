//! The Parquet writer settings of the published files (organisations, rollup,
//! quarantine):
//!
//! - zstd level 1; the codes with small dictionaries (family, file, region, province,
//!   status, year) left uncompressed, their bit-packed indices being about as short as
//!   zstd would make them;
//! - row groups of `ParquetLayout::row_group_rows` (32Ki by default), pages of at most
//!   4,096 rows, with page statistics and the column and offset indexes, so a search
//!   page decodes only the pages that hold its rows;
//! - dictionaries on every column but the nearly unique ones: identifiers, names, row
//!   numbers and founding dates;
//! - statistics per column chunk only on identifiers and row numbers, none on names;
//! - identifiers (`org_id`, `source_id`) as `DELTA_BYTE_ARRAY`, row numbers as
//!   `DELTA_BINARY_PACKED`; pyarrow (pandas), polars and DuckDB read both.
//!
//! The figures behind each choice are in BENCHMARKS.md.

use super::*;

/// Parquet writer settings for published files: zstd, page-level statistics (which
/// also writes the column and offset indexes), and dictionary encoding.
///
/// zstd at level 1: on the 10M-row benchmark file level 3 made the organisations files
/// only 0.14% smaller, for about a second more of encoding (BENCHMARKS.md).
///
/// Columns that are unique or nearly so per row (identifiers, names, row numbers) skip
/// the dictionary, which would only be built to be abandoned, and keep statistics per
/// column chunk only (none for names): no filter prunes pages on them, and min/max of
/// long texts is costly to compute.
pub(crate) fn writer_properties(layout: &ParquetLayout) -> WriterProperties {
    use ess_schemas::arrow_schema::col;
    use parquet::schema::types::ColumnPath;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(layout.row_group_rows))
        // Small pages: a search page reads its 20 rows by position, decoding only
        // the pages that hold them (with the offset index).
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_created_by(format!("ess {}", env!("CARGO_PKG_VERSION")));
    for column in [
        col::ORG_ID,
        col::SOURCE_ID,
        col::NAME,
        col::NAME_AR,
        col::SOURCE_ROW,
    ] {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::Chunk);
    }
    // Founding dates are nearly all distinct within a row group (~15k of 32Ki rows): a
    // dictionary only adds its page and indices. Without it, on 200k synthetic rows, the
    // files are 2.5% smaller and the ingest runs 0.8% fewer instructions. Statistics
    // per page stay.
    builder = builder.set_column_dictionary_enabled(ColumnPath::from(col::FOUNDED_ON), false);
    // Identifiers share most of their bytes with the row before ("cooperative:COOP-00…"):
    // DELTA_BYTE_ARRAY stores the length of the shared prefix and the rest. Row numbers
    // mostly step by one: DELTA_BINARY_PACKED. On 200k synthetic rows the files are 9%
    // smaller and the ingest runs 1.4% fewer instructions, zstd having less to take out.
    // pyarrow (pandas), polars and DuckDB read both (checked on a 1M-row file); R's arrow
    // has pyarrow's C++ reader.
    for column in [col::ORG_ID, col::SOURCE_ID] {
        builder = builder.set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BYTE_ARRAY);
    }
    builder = builder.set_column_encoding(
        ColumnPath::from(col::SOURCE_ROW),
        Encoding::DELTA_BINARY_PACKED,
    );
    // Codes from small dictionaries (family and file: one value; regions, provinces,
    // statuses, years: tens): their pages hold bit-packed indices, already about as
    // short as the codes' entropy, which zstd did not shorten (at 1M synthetic rows it
    // made four of the six larger). Stored uncompressed: 1.0% fewer instructions, files
    // 0.8% larger. Measures and sectors keep zstd, which takes 12–36% off them.
    for column in [
        col::FAMILY,
        col::SOURCE_FILE,
        col::REGION_CODE,
        col::PROVINCE_CODE,
        col::STATUS,
        col::FOUNDED_YEAR,
    ] {
        builder =
            builder.set_column_compression(ColumnPath::from(column), Compression::UNCOMPRESSED);
    }
    // Names are only ever searched inside, where min/max cannot help; comparing every
    // long text for them costs time.
    for column in [col::NAME, col::NAME_AR] {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    builder.build()
}
