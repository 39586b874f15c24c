//! The OpenAPI 3 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /api/openapi.json` (public, no session).

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::{ops, routes};

/// The document; one entry per handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "profdiff",
        description = "Upload Python profile dumps and compare them."
    ),
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

#[cfg(test)]
mod tests {
    use super::super::route_table::ROUTES;
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn document_and_route_table_list_the_same_operations() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        let table: BTreeSet<_> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(table.len(), ROUTES.len(), "duplicate in ROUTES");
        assert_eq!(documented, table);
    }
}
