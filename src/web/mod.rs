//! The HTTP tier: sessions, uploads, job creation and reads of stored results.
//! It never decodes a dump; it stores bytes and queues work for the workers.

pub mod archive;
pub mod error;
pub mod openapi;
pub mod ops;
pub mod route_table;
pub mod routes;
pub mod security;
pub mod session;

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::middleware::from_fn;
use actix_web::web;
use profdiff_workers::jobs::queue::Queues;
use profdiff_workers::store::Store;

use crate::config::Config;
use error::ApiError;

/// Shared by all handlers.
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Job queues.
    pub queues: Queues,
    /// Settings.
    pub cfg: Arc<Config>,
    /// Key for the User-Agent binding.
    pub secret: Vec<u8>,
}

/// CORS for the configured origins (none: same-origin only).
pub fn cors(cfg: &Config) -> Cors {
    let mut c = Cors::default()
        .allowed_methods(vec!["GET", "POST", "DELETE"])
        .allow_any_header()
        .expose_headers(vec![actix_web::http::header::RETRY_AFTER])
        .supports_credentials()
        .max_age(3600);
    for o in &cfg.allowed_origins {
        if !o.is_empty() {
            c = c.allowed_origin(o);
        }
    }
    c
}

/// Registers every route (listed in `route_table::ROUTES`; keep both in step).
/// `/api/health`, `/api/openapi.json` and `/api/debug/*` need no session.
pub fn configure(app: &mut web::ServiceConfig) {
    app.app_data(
        web::JsonConfig::default()
            .limit(64 * 1024)
            .error_handler(|e, _| ApiError::BadRequest(format!("invalid JSON body: {e}")).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::BadRequest(format!("invalid query: {e}")).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| ApiError::BadRequest(format!("invalid path: {e}")).into()),
    )
    .service(
        web::scope("/api")
            .route("/health", web::get().to(routes::health::health))
            .route("/openapi.json", web::get().to(openapi::openapi_json))
            .route(
                "/debug/all-sessions",
                web::get().to(routes::debug::all_sessions),
            )
            .service(
                web::scope("")
                    .wrap(from_fn(security::rate_limit))
                    .wrap(from_fn(session::middleware))
                    .route("/upload", web::post().to(routes::upload::upload))
                    .route("/profiles", web::get().to(routes::profiles::list))
                    .route("/profiles/{id}", web::get().to(routes::profiles::get))
                    .route("/profiles/{id}", web::delete().to(routes::profiles::delete))
                    // UI: call graph of one profile (routes/graph.rs).
                    .route("/profiles/{id}/graph", web::get().to(routes::graph::get))
                    .route(
                        "/comparisons/{id}/summary",
                        web::get().to(routes::graph::comparison_summary),
                    )
                    .route("/jobs/{id}", web::get().to(routes::jobs::get))
                    .route("/compare", web::post().to(routes::comparisons::create))
                    .route("/comparisons/{id}", web::get().to(routes::comparisons::get))
                    .route("/batches", web::post().to(routes::batches::create))
                    .route("/batches/{id}", web::get().to(routes::batches::get))
                    .route("/clear", web::post().to(routes::session::clear))
                    .route("/session-info", web::get().to(routes::session::info))
                    .default_service(web::to(not_found)),
            ),
    )
    // Browser UI at `/` (routes/ui.rs).
    .configure(routes::ui::configure)
    .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
