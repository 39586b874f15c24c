//! `GET /api/jobs/{id}`: one job's status, in this session only.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::owned_record;
use crate::web::error::ApiResult;
use crate::web::session::Session;
use crate::web::AppState;

/// One job's status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobInfo {
    /// Job id.
    id: String,
    /// `parse` or `compare`.
    kind: Option<String>,
    /// `queued`, `running`, `done` or `failed`.
    status: Option<String>,
    /// For `failed`: what went wrong, in words; otherwise null.
    error: Option<String>,
    /// The profile or comparison id the job works on.
    target: Option<String>,
}

/// `{"id","kind","status","error","target"}`.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 200, description = "Job status", body = JobInfo), (status = 404, description = "No such job", body = crate::web::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = state.store.keys().job(&session.id, &id);
    let mut rec = owned_record(&state, "job", &id, &key).await?;
    Ok(HttpResponse::Ok().json(JobInfo {
        id: id.into_inner(),
        kind: rec.remove("kind"),
        status: rec.remove("status"),
        error: rec.remove("error").filter(|e| !e.is_empty()),
        target: rec.remove("target"),
    }))
}
