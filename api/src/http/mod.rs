//! The HTTP surface: the dashboard (`/`, `/assets/…`), `/graphql` (POST, GET queries
//! and GraphiQL), GraphiQL's assets,
//! `/downloads`, `/export`, and for operators `/healthz`, `/readyz` and `/metrics`.
//!
//! Every request gets an id, a span and an access-log line (`access`). Public routes
//! then pass the client's rate and the server's capacity (`guard`) and the body cap;
//! answers are compressed (gzip, br, zstd) when the client accepts it, except
//! downloaded files (served as stored, so that byte ranges are ranges of the file),
//! and CORS is open for read-only use. `main` adds only the listener (`crate::server`).
//!
//! - [`graphql`]: the GraphQL handlers (parse, cost, lanes, timeout, ETag).
//! - [`apq`]: automatic persisted queries.
//! - [`documents`]: parsed documents, kept by their text.
//! - [`dashboard`]: the public dashboard at `/`, its assets under content-hashed names.
//! - [`graphiql`]: the vendored GraphiQL page.
//! - [`downloads`]: a snapshot's files, with ranges and revalidation ([`ranges`]).
//! - [`export`]: CSV exports.
//! - [`ops`]: health, readiness, metrics.
//! - [`problem`]: the shape of errors the HTTP layer answers itself.

pub mod access;
pub mod apq;
pub mod dashboard;
pub mod documents;
pub mod downloads;
pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod guard;
pub mod ops;
pub mod problem;
pub mod ranges;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Method, header};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::DefaultPredicate;
use tower_http::cors::{Any, CorsLayer};

use crate::graphql::{EssSchema, schema};
use crate::limits::cost::CostModel;
use crate::limits::lanes::Lanes;
use crate::limits::rate::ClientRates;
use crate::state::AppState;

/// What the handlers share: one allocation, cloned by reference count for every
/// handler and layer a request passes.
#[derive(Clone)]
pub struct Http(Arc<Handlers>);

/// What [`Http`] holds.
pub struct Handlers {
    pub(crate) state: AppState,
    pub(crate) schema: EssSchema,
    pub(crate) lanes: Lanes,
    pub(crate) rates: Arc<ClientRates>,
    pub(crate) cost: CostModel,
    pub(crate) apq: apq::PersistedQueries,
    pub(crate) documents: documents::Documents,
}

impl std::ops::Deref for Http {
    type Target = Handlers;

    fn deref(&self) -> &Handlers {
        &self.0
    }
}

/// How often the rate buckets of quiet clients are forgotten.
const FORGET_QUIET: Duration = Duration::from_secs(60);

/// The application: every route, over `state`. `main` adds only the listener.
pub fn app(state: AppState) -> Router {
    let limits = state.limits.clone();
    let http = Http(Arc::new(Handlers {
        schema: schema(state.clone()),
        lanes: Lanes::new(&limits),
        rates: Arc::new(ClientRates::new(&limits)),
        cost: CostModel::new(&crate::graphql::sdl()),
        apq: apq::PersistedQueries::default(),
        documents: documents::Documents::default(),
        state,
    }));
    forget_quiet_clients(&http.rates);

    let public = Router::new()
        .route("/", get(dashboard::page))
        .route("/assets/{name}", get(dashboard::asset))
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/downloads", get(downloads::current))
        .route("/downloads/{snapshot}", get(downloads::of_snapshot))
        .route("/export/aggregate.csv", get(export::aggregate))
        .route("/export/organisations.csv", get(export::organisations))
        .layer(from_fn_with_state(http.clone(), guard::guard));
    let operators = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics));
    // Files as stored: a range is a range of the file, never of a compressed body.
    let files = Router::new()
        .route("/downloads/{snapshot}/{*name}", get(downloads::file))
        .layer(from_fn_with_state(http.clone(), guard::guard))
        .with_state(http.clone());

    public
        .merge(operators)
        .with_state(http.clone())
        .layer(CompressionLayer::new().compress_when(DefaultPredicate::new()))
        .merge(files)
        .layer(cors())
        .layer(from_fn_with_state(http, access::access))
}

/// Read-only CORS, open to every origin.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_RANGE,
            header::RANGE,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
        ])
        .expose_headers([
            header::ETAG,
            header::LAST_MODIFIED,
            header::ACCEPT_RANGES,
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::CONTENT_DISPOSITION,
            header::LINK,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(86_400))
}

/// Forgets quiet clients' rate buckets every minute, while the app lives.
fn forget_quiet_clients(rates: &Arc<ClientRates>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let rates = Arc::downgrade(rates);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(FORGET_QUIET);
        tick.tick().await;
        loop {
            tick.tick().await;
            match rates.upgrade() {
                Some(rates) => rates.forget_quiet(),
                None => return,
            }
        }
    });
}
