//! `ess`: the command line of the ESS open-data platform.

use ess_api::cli;
use ess_api::store::AwsSettings;

/// jemalloc: ingest allocates and frees across threads (batches built by one thread,
/// encoded by another, freed by a third). jemalloc's arenas reuse those blocks where
/// mimalloc kept each thread's pages and freed memory for a second before returning
/// it: the same ingest time, and a peak memory about 90 MiB lower at 1M and 10M rows
/// (BENCHMARKS.md, eighth round). The system allocator was slower than either.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logging is set up by `cli::run`, once the flags are read.
    cli::run(std::env::args_os(), AwsSettings::from_env()).await?;
    Ok(())
}
