//! `ess`: the command line of the ESS open-data platform.

use ess_api::cli;
use ess_api::store::AwsSettings;
use tracing_subscriber::EnvFilter;

/// mimalloc: ingest allocates and frees across threads (batches built by one thread,
/// written by another), where it keeps both time and peak memory lower than the
/// system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
