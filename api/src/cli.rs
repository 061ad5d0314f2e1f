//! The `ess` subcommands (CONTRACT.md, "Command line"). This module and `main` are the
//! only places that print.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use ess_ingest::samples::sample_sources;
use ess_ingest::{IngestError, IngestJob, IngestOutcome, Progress, SourceFile};
use ess_query::{Catalog, QueryError};
use ess_schemas::Family;
use ess_schemas::layout::IngestReport;
use tokio::net::TcpListener;

use crate::http::app;
use crate::limits::{Limits, parse_duration};
use crate::public_url::PublicUrl;
use crate::state::AppState;
use crate::store::{AwsSettings, Store, StoreError, open_store, source_file};

/// The address servers listen on unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Morocco's social and solidarity economy registries as one open dataset.
#[derive(Debug, Parser)]
#[command(name = "ess", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines (on stderr) are written: `text`, or `json` (one object a line).
    #[arg(long, global = true, default_value = "text", env = "ESS_LOG_FORMAT")]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people (colours on a terminal).
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish the embedded sample registries into a local store and serve them.
    Demo {
        /// Address to listen on (`127.0.0.1:0` takes a free port).
        #[arg(long, default_value = DEFAULT_ADDR)]
        addr: String,
        /// Keep the demo store in this directory (default: a temporary one).
        #[arg(long)]
        store: Option<String>,
        #[command(flatten)]
        public: PublicUrl,
        #[command(flatten)]
        limits: Limits,
    },
    /// Read registry files (in the order given) and publish one new snapshot.
    Ingest {
        /// Where snapshots live: a directory, file:///path, memory:// or s3://bucket/prefix.
        #[arg(long)]
        store: String,
        /// A cooperative registry (CSV).
        #[arg(long = "cooperatives", value_name = "FILE")]
        cooperatives: Vec<String>,
        /// An association registry (XLSX).
        #[arg(long = "associations", value_name = "FILE")]
        associations: Vec<String>,
        /// A mutual registry (JSON array or JSON Lines).
        #[arg(long = "mutuals", value_name = "FILE")]
        mutuals: Vec<String>,
        /// Print the ingest report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve the latest snapshot of a store over GraphQL.
    Serve {
        /// Where snapshots live.
        #[arg(long)]
        store: String,
        /// Address to listen on (`127.0.0.1:0` takes a free port).
        #[arg(long, default_value = DEFAULT_ADDR)]
        addr: String,
        /// Check for a newer snapshot every this many seconds (0: never).
        #[arg(long, default_value_t = 10)]
        refresh: u64,
        #[command(flatten)]
        public: PublicUrl,
        #[command(flatten)]
        limits: Limits,
    },
    /// List the snapshots of a store, oldest first.
    Snapshots {
        /// Where snapshots live.
        #[arg(long)]
        store: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find (and with --apply delete) the data of interrupted ingests.
    Vacuum {
        /// Where snapshots live.
        #[arg(long)]
        store: String,
        /// Keep leftovers younger than this (`30s`, `15m`, `24h`, `7d`): they may be
        /// ingests still running.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        retention: Duration,
        /// Delete; without it, only report.
        #[arg(long)]
        apply: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Describe the latest snapshot of a store.
    Info {
        /// Where snapshots live.
        #[arg(long)]
        store: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Write synthetic registries (deterministic from the seed) for tests and benchmarks.
    Synth {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Cooperative rows (CSV).
        #[arg(long, default_value_t = 0)]
        cooperatives: usize,
        /// Association rows (XLSX, split into workbooks).
        #[arg(long, default_value_t = 0)]
        associations: usize,
        /// Mutual rows (JSON Lines).
        #[arg(long, default_value_t = 0)]
        mutuals: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Association rows per workbook (at most 1,000,000).
        #[arg(long, default_value_t = ess_ingest::synth::MAX_ROWS_PER_WORKBOOK)]
        rows_per_workbook: usize,
    },
}

/// What the command line reports when it cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A store or file argument.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ingest failed: nothing was published.
    #[error("nothing was published: {0}")]
    Ingest(#[from] IngestError),
    /// Reading a snapshot failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The server could not start or run.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `ess` with these arguments (the first is the program name), after setting up
/// logging.
pub async fn run(
    args: impl IntoIterator<Item = OsString>,
    aws: AwsSettings,
) -> Result<(), CliError> {
    let matches = Cli::command().get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let _log = init_logging(cli.log_format);
    match cli.command {
        Command::Demo {
            addr,
            store,
            public,
            limits,
        } => demo(&addr, store.as_deref(), &aws, public, limits).await,
        Command::Ingest { store, json, .. } => {
            let sub = matches
                .subcommand_matches("ingest")
                .expect("ingest matched");
            let store = open_store(&store, &aws)?;
            let sources = ordered_sources(sub, &aws)?;
            let outcome = ingest(&store, sources).await?;
            print_outcome(&store, &outcome, json);
            Ok(())
        }
        Command::Serve {
            store,
            addr,
            refresh,
            public,
            limits,
        } => {
            let store = open_store(&store, &aws)?;
            let state = AppState::open(store, limits).await?;
            state.set_public_url(public.public_url);
            if refresh > 0 {
                state.spawn_refresh(Duration::from_secs(refresh));
            }
            serve(state, &addr, None).await
        }
        Command::Snapshots { store, json } => snapshots(&open_store(&store, &aws)?, json).await,
        Command::Vacuum {
            store,
            retention,
            apply,
            json,
        } => {
            let store = open_store(&store, &aws)?;
            let report =
                ess_ingest::vacuum(store.store.clone(), retention, !apply, store.local_root())
                    .await?;
            print_vacuum(&store, &report, json);
            Ok(())
        }
        Command::Info { store, json } => info(&open_store(&store, &aws)?, json).await,
        Command::Synth {
            out,
            cooperatives,
            associations,
            mutuals,
            seed,
            rows_per_workbook,
        } => {
            let options = ess_ingest::synth::SynthOptions {
                out,
                cooperatives,
                associations,
                mutuals,
                seed,
                rows_per_workbook,
            };
            let progress = Arc::new(Progress::default());
            let line = ProgressLine::start(&progress);
            let truth =
                tokio::task::spawn_blocking(move || ess_ingest::synth::synth(&options, &progress))
                    .await
                    .map_err(|e| IngestError::Task(e.to_string()))??;
            drop(line);
            let mut out = String::new();
            for (family, t) in &truth.families {
                out.push_str(&format!(
                    "{family:<12} {:>10} rows: {} organisations, {} rejected, {} superseded\n",
                    t.rows, t.organisations, t.rejected, t.superseded
                ));
            }
            out.push_str(&format!(
                "ground truth in synth_truth.json; ingest with:\n  {}\n",
                truth.ingest_command("STORE")
            ));
            print_text(&out);
            Ok(())
        }
        Command::Schema => {
            print_text(&crate::graphql::sdl());
            Ok(())
        }
    }
}

async fn snapshots(store: &Store, json: bool) -> Result<(), CliError> {
    let catalog = Catalog::new(store.store.clone(), store.url.clone());
    let all = catalog.list().await?;
    if json {
        print_text(&format!(
            "{}\n",
            serde_json::to_string_pretty(&all).expect("JSON")
        ));
        return Ok(());
    }
    let mut out = format!(
        "{:<8} {:<26} {:>10}  {}\n",
        "id", "created", "rows", "sources"
    );
    for m in &all {
        let sources = m
            .sources
            .iter()
            .map(|s| s.file.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "{:<8} {:<26} {:>10}  {sources}\n",
            m.snapshot_id, m.created_at, m.rows
        ));
    }
    if all.is_empty() {
        out.push_str("(no snapshot yet)\n");
    }
    print_text(&out);
    Ok(())
}

fn print_vacuum(store: &Store, report: &ess_ingest::VacuumReport, json: bool) {
    if json {
        print_text(&format!(
            "{}\n",
            serde_json::to_string_pretty(report).expect("JSON")
        ));
        return;
    }
    let mut out = format!(
        "{}: {} snapshots readable, {} expired by this vacuum{}, {} leftover runs; {} table files to delete\n",
        store.url,
        report.snapshots,
        report.expired.len(),
        if report.expired.is_empty() {
            String::new()
        } else {
            format!(" ({})", report.expired.join(", "))
        },
        report.leftovers.len(),
        report.table_files,
    );
    for l in &report.leftovers {
        out.push_str(&format!(
            "  {}  {} objects, {} bytes, last written {}{}\n",
            l.run_id,
            l.objects,
            l.bytes,
            l.newest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            if l.expired {
                ""
            } else {
                " (within retention: kept)"
            }
        ));
    }
    out.push_str(&if report.dry_run {
        "dry run: nothing deleted; pass --apply to delete what is past the retention\n".to_owned()
    } else {
        format!(
            "deleted {} objects, {} bytes\n",
            report.deleted_objects, report.deleted_bytes
        )
    });
    print_text(&out);
}

/// The files of `--cooperatives`, `--associations` and `--mutuals` in the order given
/// on the command line, across flags.
fn ordered_sources(sub: &ArgMatches, aws: &AwsSettings) -> Result<Vec<SourceFile>, StoreError> {
    let mut indexed: Vec<(usize, Family, String)> = Vec::new();
    for (flag, family) in [
        ("cooperatives", Family::Cooperative),
        ("associations", Family::Association),
        ("mutuals", Family::Mutual),
    ] {
        if let (Some(values), Some(indices)) = (sub.get_many::<String>(flag), sub.indices_of(flag))
        {
            indexed.extend(indices.zip(values).map(|(i, v)| (i, family, v.clone())));
        }
    }
    indexed.sort_by_key(|(i, _, _)| *i);
    indexed
        .into_iter()
        .map(|(_, family, spec)| source_file(family, &spec, aws))
        .collect()
}

async fn ingest(store: &Store, sources: Vec<SourceFile>) -> Result<IngestOutcome, CliError> {
    let progress = Arc::new(Progress::default());
    let line = ProgressLine::start(&progress);
    let mut job = IngestJob::builder()
        .store(store.store.clone())
        .sources(sources)
        .progress(progress);
    if let Some(root) = store.local_root() {
        // Finished files are moved into the directory, not streamed through buffers.
        job = job.local_root(root);
    }
    let result = job.build()?.run().await;
    drop(line);
    Ok(result?)
}

/// The progress line of a long job, drawn only when stderr is a terminal (logs stay
/// clean otherwise) and erased when dropped.
struct ProgressLine(Option<tokio::task::JoinHandle<()>>);

impl ProgressLine {
    fn start(progress: &Arc<Progress>) -> Self {
        ProgressLine(
            std::io::stderr()
                .is_terminal()
                .then(|| tokio::spawn(show_progress(progress.clone()))),
        )
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            eprint_text("\r\x1b[2K");
        }
    }
}

/// Redraws one status line on a terminal: phase, rows, bytes, rate and time left.
async fn show_progress(progress: Arc<Progress>) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let done = progress.bytes_done.load(Ordering::Relaxed) as f64;
        let total = progress.bytes_total.load(Ordering::Relaxed) as f64;
        let rows = progress.rows.load(Ordering::Relaxed);
        let rows_total = progress.rows_total.load(Ordering::Relaxed) as f64;
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        let rate = done / secs;
        let row_rate = rows as f64 / secs;
        let left = if rate > 0.0 && total > done {
            format!("{:.0}s left", (total - done) / rate)
        } else if row_rate > 0.0 && rows_total > rows as f64 {
            format!("{:.0}s left", (rows_total - rows as f64) / row_rate)
        } else {
            "…".to_owned()
        };
        eprint_text(&format!(
            "\r\x1b[2K{} · {rows} rows · {:.1}/{:.1} MB · {:.1} MB/s · {:.0} rows/s · {left}",
            progress.phase(),
            done / 1e6,
            total / 1e6,
            rate / 1e6,
            rows as f64 / secs,
        ));
    }
}

async fn demo(
    addr: &str,
    store: Option<&str>,
    aws: &AwsSettings,
    public: PublicUrl,
    limits: Limits,
) -> Result<(), CliError> {
    let temp;
    let store = match store {
        Some(spec) => open_store(spec, aws)?,
        None => {
            temp = tempfile::Builder::new().prefix("ess-demo-").tempdir()?;
            open_store(&temp.path().display().to_string(), aws)?
        }
    };
    let outcome = ingest(&store, sample_sources()).await?;
    print_outcome(&store, &outcome, false);
    let state = AppState::open(store, limits).await?;
    state.set_public_url(public.public_url);
    state.spawn_refresh(Duration::from_secs(10));
    serve(state, addr, Some(DEMO_HINT)).await
}

const DEMO_HINT: &str = r#"Open the dashboard at the address above (/), or GraphiQL at /graphql, and try:

  {
    aggregate(groupBy: [REGION], filter: {family: [COOPERATIVE], sector: ["ARGAN"]}) {
      rows { region { code name } organisations members membersWomen
             employeesWomen employeesMen womenEmploymentShare }
      snapshot { id createdAt }
    }
  }
"#;

/// Binds, prints the `listening on` line, and serves until SIGINT or SIGTERM.
pub async fn serve(state: AppState, addr: &str, hint: Option<&str>) -> Result<(), CliError> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let snapshot = state.current().manifest().snapshot_id.clone();
    print_text(&format!(
        "snapshot {snapshot} of {}: listening on http://{local} (dashboard at http://{local}/, GraphiQL at http://{local}/graphql)\n",
        state.store.url
    ));
    if let Some(h) = hint {
        print_text(h);
    }
    tracing::info!(%local, snapshot, "serving");
    let (limits, metrics) = (state.limits.clone(), state.metrics.clone());
    let draining = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        draining.drain();
        tracing::info!("stopping: no new connections; finishing the requests in flight");
    };
    crate::server::serve(listener, app(state), &limits, metrics, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

async fn info(store: &Store, json: bool) -> Result<(), CliError> {
    let catalog = Catalog::new(store.store.clone(), store.url.clone());
    let m = catalog.latest().await?;
    let value = serde_json::json!({
        "snapshot_id": m.snapshot_id,
        "sequence": m.sequence,
        "table": store.location(ess_schemas::layout::TABLE_DIR),
        "table_version": m.sequence,
        "created_at": m.created_at,
        "rows": m.rows,
        "rows_by_family": m.rows_by_family,
        "organisations_parquet": m.organisations_parquet.iter().map(|p| store.location(p)).collect::<Vec<_>>(),
        "quarantine_parquet": store.location(&m.quarantine_parquet),
        "quarantine_rows": m.quarantine_rows,
        "report": store.location(&m.report),
        "sources": m.sources,
        "store": store.url,
    });
    if json {
        print_text(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("JSON")
        ));
    } else {
        let mut out = format!(
            "snapshot {} (#{}) created {}\n{} organisations ({}), {} rows in quarantine\n",
            m.snapshot_id,
            m.sequence,
            m.created_at,
            m.rows,
            m.rows_by_family
                .iter()
                .map(|(f, n)| format!("{f}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            m.quarantine_rows
        );
        for p in &m.organisations_parquet {
            out.push_str(&format!("  {}\n", store.location(p)));
        }
        print_text(&out);
    }
    Ok(())
}

fn print_outcome(store: &Store, outcome: &IngestOutcome, json: bool) {
    if json {
        print_text(&format!(
            "{}\n",
            serde_json::to_string_pretty(&outcome.report).expect("JSON")
        ));
        return;
    }
    let mut out = report_table(&outcome.report);
    let m = &outcome.manifest;
    out.push_str(&format!(
        "\nsnapshot {} published to {}: {} organisations, {} rows in quarantine, in {:.2}s\n",
        m.snapshot_id, store.url, m.rows, m.quarantine_rows, outcome.metrics.seconds
    ));
    print_text(&out);
}

/// The ingest report as a plain-text table.
pub fn report_table(report: &IngestReport) -> String {
    let mut out = format!(
        "{:<34} {:<12} {:>9} {:>9} {:>9} {:>10}  flags\n",
        "file", "family", "read", "accepted", "rejected", "superseded"
    );
    for f in &report.files {
        let flags = f
            .flags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "{:<34} {:<12} {:>9} {:>9} {:>9} {:>10}  {flags}\n",
            f.file, f.family, f.rows_read, f.accepted, f.rejected, f.superseded
        ));
        if !f.unknown_columns.is_empty() {
            out.push_str(&format!(
                "    ignored columns: {}\n",
                f.unknown_columns.join(", ")
            ));
        }
        if !f.rejected_by_reason.is_empty() {
            let reasons = f
                .rejected_by_reason
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&format!("    rejected: {reasons}\n"));
        }
    }
    for (family, t) in &report.families {
        out.push_str(&format!(
            "{:<34} {:<12} {:>9} {:>9} {:>9} {:>10}  → {} organisations\n",
            "total", family, t.rows_read, t.accepted, t.rejected, t.superseded, t.organisations
        ));
    }
    out
}

/// Sets up logging to stderr: `RUST_LOG` chooses what (by default warnings, the
/// ingest's and the server's progress, and one access-log line per request), lines
/// are written by a thread of their own so that requests never wait on stderr. The
/// guard flushes them when dropped.
fn init_logging(format: LogFormat) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,ess_ingest=info,ess_api=info"));
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.ok().map(|()| guard)
}

/// Writes to stdout; a closed stdout (`ess demo | head -1`) must not stop a server.
fn print_text(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[allow(clippy::print_stderr)]
fn eprint_text(text: &str) {
    eprint!("{text}");
}
