//! `ess`: the command line of the ESS open-data platform.

use ess_api::cli;
use ess_api::store::AwsSettings;
use tracing_subscriber::EnvFilter;

/// jemalloc: ingest allocates and frees across threads (batches built by one thread,
/// encoded by another, freed by a third). jemalloc's arenas reuse those blocks where
/// mimalloc kept each thread's pages and freed memory for a second before returning
/// it: the same ingest time, and a peak memory about 90 MiB lower at 1M and 10M rows
/// (BENCHMARKS.md, eighth round). The system allocator was slower than either.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; RUST_LOG overrides the default level.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,ess_ingest=info,ess_api=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    cli::run(std::env::args_os(), AwsSettings::from_env()).await?;
    Ok(())
}
