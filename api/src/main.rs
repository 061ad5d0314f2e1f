//! `ess`: the command line of the ESS open-data platform.
//!
//! The binary allocates with jemalloc (`tikv-jemallocator`), whose resident peak during
//! an ingest is about 1.6× the live heap, where mimalloc's is 2.4× (BENCHMARKS.md,
//! "Where the ingest's memory went").

use ess_api::cli;
use ess_api::store::AwsSettings;

/// jemalloc: ingest allocates and frees across threads (batches built by one thread,
/// encoded by another, freed by a third). jemalloc's arenas reuse those blocks, where
/// mimalloc keeps each thread's pages and holds freed memory for a second before
/// returning it: the same ingest time, and a peak memory about 90 MiB lower at 1M and
/// 10M rows (BENCHMARKS.md, "What was tried"). The system allocator is slower than
/// either.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Logging is set up by `cli::run`, once the flags are read.
    match cli::run(std::env::args_os(), AwsSettings::from_env()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            std::process::ExitCode::FAILURE
        }
    }
}

/// Says what went wrong, once: the error, then each cause its message does not
/// already say. No backtrace: a person reads this, and a failure of `ess` itself is
/// logged where it happens.
fn report(e: &(dyn std::error::Error + 'static)) {
    use std::io::Write;
    let mut text = format!("error: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(&format!("\n  caused by: {said}"));
        }
        cause = c.source();
    }
    let _ = writeln!(std::io::stderr(), "{text}");
}
