//! The OpenAPI 3 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /api/openapi.json` (public, no session).

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::{ops, routes};

pub use super::route_table::ROUTES;


/// The document; one entry per handler.
#[derive(OpenApi)]
#[openapi(
    info(title = "profdiff", description = "Upload Python profile dumps and compare them."),
    paths(
        routes::health::health,
        openapi_json,
        routes::debug::all_sessions,
        routes::upload::upload,
        routes::profiles::list,
        routes::profiles::get,
        routes::profiles::delete,
        routes::graph::get,
        routes::graph::comparison_summary,
        routes::jobs::get,
        routes::comparisons::create,
        routes::comparisons::get,
        routes::batches::create,
        routes::batches::get,
        routes::session::clear,
        routes::session::info,
        ops::stats,
        ops::metrics,
        ops::page,
        ops::script,
        ops::style,
        routes::ui::index,
        routes::ui::favicon,
        routes::ui::asset,
    )
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "This OpenAPI 3 document", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
