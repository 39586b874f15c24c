//! `GET /api/jobs/{id}`: one job's status, in this session only.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::check_id;
use crate::web::error::{ApiError, ApiResult};
use crate::web::session::Session;
use crate::web::AppState;

/// `{"id","kind","status","error"}`.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 200, description = "Job status"), (status = 404, description = "No such job", body = crate::web::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    check_id(&id, "job")?;
    let rec = state
        .store
        .record(&state.store.keys().job(&session.id, &id))
        .await?
        .ok_or(ApiError::NotFound("job"))?;
    let error = rec.get("error").filter(|e| !e.is_empty());
    Ok(HttpResponse::Ok().json(json!({
        "id": id.as_str(),
        "kind": rec.get("kind"),
        "status": rec.get("status"),
        "error": error,
        "target": rec.get("target"),
    })))
}
