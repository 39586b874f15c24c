//! `POST /api/compare` (queue a comparison of two of this session's profiles) and
//! `GET /api/comparisons/{id}` (the stored result, filtered/sorted/paged server-side;
//! `?format=json` the `profdiff.comparison/v1` document, `?format=csv` a table).

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use profdiff_workers::jobs::engine::{write_csv, Comparison, Status, ViewOptions};
use profdiff_workers::jobs::CompareJob;
use profdiff_workers::store::{codec, now_millis};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{new_id, owned_record};
use crate::web::error::{ApiError, ApiResult};
use crate::web::session::Session;
use crate::web::AppState;

/// Body of `POST /api/compare`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompareBody {
    /// Profile id of the baseline (before).
    baseline: String,
    /// Profile id of the candidate (after).
    candidate: String,
}

/// Queues a comparison; 202 `{"job_id","comparison_id"}`.
#[utoipa::path(post, path = "/api/compare", tag = "comparisons", request_body = CompareBody,responses((status = 202, description = "Comparison job queued", body = CompareAccepted), (status = 400, description = "Bad request", body = crate::web::error::ErrorBody), (status = 404, description = "No such profile", body = crate::web::error::ErrorBody), (status = 422, description = "A side failed to parse", body = crate::web::error::ErrorBody), (status = 429, description = "Queues full or rate limited", body = crate::web::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    body: web::Json<CompareBody>,
) -> ApiResult<HttpResponse> {
    let keys = state.store.keys();
    let sid = &*session.id;
    for (role, pid) in [("baseline", &body.baseline), ("candidate", &body.candidate)] {
        let rec = owned_record(&state, "profile", pid, &keys.profile(sid, pid)).await?;
        if rec.get("status").map(String::as_str) == Some("failed") {
            return Err(ApiError::Unprocessable(format!(
                "the {role} profile could not be parsed: {}",
                rec.get("error").map(String::as_str).unwrap_or("")
            )));
        }
    }
    let queued = state.queues.depth().await?;
    if queued >= state.cfg.queue_cap {
        return Err(ApiError::Busy { queued });
    }
    let cid = new_id();
    let job_id = new_id();
    let now = now_millis();
    let ckey = keys.comparison(sid, &cid);
    let jkey = keys.job(sid, &job_id);
    let mut p = redis::pipe();
    p.atomic()
        .hset_multiple(
            &ckey,
            &[
                ("baseline", body.baseline.as_str()),
                ("candidate", body.candidate.as_str()),
                ("status", "queued"),
                ("error", ""),
                ("job", job_id.as_str()),
                ("created", &now.to_string()),
            ],
        )
        .ignore()
        .expire_at(&ckey, session.expire_at)
        .ignore()
        .zadd(keys.comparisons(sid), &cid, now)
        .ignore()
        .expire_at(keys.comparisons(sid), session.expire_at)
        .ignore()
        .hset_multiple(
            &jkey,
            &[
                ("kind", "compare"),
                ("status", "queued"),
                ("error", ""),
                ("target", cid.as_str()),
            ],
        )
        .ignore()
        .expire_at(&jkey, session.expire_at)
        .ignore()
        .zadd(keys.jobs(sid), &job_id, now)
        .ignore()
        .expire_at(keys.jobs(sid), session.expire_at)
        .ignore();
    p.query_async::<()>(&mut state.store.conn()).await?;
    state
        .queues
        .push_compare(CompareJob {
            session: sid.to_string(),
            comparison_id: cid.clone(),
            job_id: job_id.clone(),
            baseline: body.baseline.clone(),
            candidate: body.candidate.clone(),
            expire_at: session.expire_at,
            batch: None,
        })
        .await?;
    Ok(HttpResponse::Accepted().json(CompareAccepted {
        job_id,
        comparison_id: cid,
        status: "queued",
    }))
}

/// Answer of `POST /api/compare`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CompareAccepted {
    /// The compare job (poll `GET /api/jobs/{id}`).
    job_id: String,
    /// Where the result will be (`GET /api/comparisons/{id}`).
    comparison_id: String,
    /// Always `queued`.
    status: &'static str,
}

/// Query of `GET /api/comparisons/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    /// `json`: the whole `profdiff.comparison/v1` document; `csv`: a table; unset: a page
    /// of rows with `total_rows`.
    format: Option<String>,
    /// Column to sort by, e.g. `delta_tt`, `ct`, `name`; a leading `-` or `+` forces
    /// descending or ascending (otherwise numbers largest first, text A–Z). Unset:
    /// |Δ own time| largest first.
    sort: Option<String>,
    /// `asc` or `desc` (overrides the direction of `sort`).
    order: Option<String>,
    /// Most rows to return.
    limit: Option<usize>,
    /// Rows to skip.
    offset: Option<usize>,
    /// Regular expression matched against file, name and `file:line(name)`.
    q: Option<String>,
    /// Drop built-in (C) functions.
    hide_builtins: Option<bool>,
    /// Drop standard-library and site-packages code.
    hide_stdlib: Option<bool>,
    /// Keep rows whose |Δ own time| is at least this (fractions when `normalize`).
    min_delta: Option<f64>,
    /// Times as fractions of each side's total time.
    normalize: Option<bool>,
    /// Comma-separated statuses to keep: `added`, `removed`, `unchanged`, `changed`.
    status: Option<String>,
}

impl ViewQuery {
    fn options(&self) -> Result<ViewOptions, ApiError> {
        let mut o = ViewOptions::default();
        if let Some(s) = &self.sort {
            o.set_sort(s)
                .map_err(|e| ApiError::BadRequest(format!("sort: {e}")))?;
        }
        o.descending = match self.order.as_deref() {
            None => o.descending,
            Some("desc") => true,
            Some("asc") => false,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "order must be asc or desc, not {other:?}"
                )))
            }
        };
        o.limit = self.limit;
        o.offset = self.offset.unwrap_or(0);
        if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
            let re = regex::RegexBuilder::new(q)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| ApiError::BadRequest(format!("q is not a valid regex: {e}")))?;
            o.filter = Some(re);
        }
        o.hide_builtins = self.hide_builtins.unwrap_or(false);
        o.hide_stdlib = self.hide_stdlib.unwrap_or(false);
        if let Some(m) = self.min_delta {
            if !m.is_finite() {
                return Err(ApiError::BadRequest(
                    "min_delta must be a finite number".into(),
                ));
            }
            o.min_delta = Some(m);
        }
        o.normalize = self.normalize.unwrap_or(false);
        if let Some(list) = self.status.as_deref().filter(|s| !s.is_empty()) {
            let statuses = list
                .split(',')
                .map(str::parse::<Status>)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::BadRequest(format!("status: {e}")))?;
            o.statuses = Some(statuses);
        }
        Ok(o)
    }
}

/// A done comparison of this session, decoded: from this process's cache, else from its
/// stored blob (decoded off the async threads, then kept in the cache). Call it only
/// after the comparison's record was found in `sid`'s namespace: that proves it is the
/// caller's, which the cache alone cannot.
pub async fn load_comparison(state: &AppState, sid: &str, id: &str) -> ApiResult<Arc<Comparison>> {
    if let Some(cmp) = state.store.cached_comparison(sid, id) {
        return Ok(cmp);
    }
    let blob = state
        .store
        .get_comparison_blob(sid, id)
        .await?
        .ok_or(ApiError::NotFound("comparison"))?;
    let cmp = web::block(move || codec::decode::<Comparison>(&blob))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let cmp = Arc::new(cmp);
    state.store.remember_comparison(sid, id, cmp.clone());
    Ok(cmp)
}

/// The stored result (202 with the job status while it is not ready).
#[utoipa::path(get, path = "/api/comparisons/{id}", tag = "comparisons", params(("id" = String, Path, description = "Comparison id"), ViewQuery), responses((status = 200, description = "Comparison rows (JSON or CSV)"), (status = 202, description = "Not ready yet"), (status = 404, description = "No such comparison", body = crate::web::error::ErrorBody), (status = 422, description = "Comparison failed", body = crate::web::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
    query: web::Query<ViewQuery>,
) -> ApiResult<HttpResponse> {
    let sid = &*session.id;
    let rec = owned_record(
        &state,
        "comparison",
        &id,
        &state.store.keys().comparison(sid, &id),
    )
    .await?;
    let status = rec.get("status").cloned().unwrap_or_default();
    match status.as_str() {
        "done" => {}
        "failed" => {
            return Err(ApiError::Unprocessable(
                rec.get("error")
                    .cloned()
                    .unwrap_or_else(|| "comparison failed".into()),
            ))
        }
        _ => {
            return Ok(HttpResponse::Accepted().json(json!({
                "id": id.as_str(),
                "job_id": rec.get("job"),
                "status": status,
            })))
        }
    }
    let opts = query.options()?;
    let cmp = load_comparison(&state, sid, &id).await?;
    let want_csv = query.format.as_deref() == Some("csv");
    let (total_rows, doc, csv) = web::block(move || -> Result<(usize, Value, Vec<u8>), String> {
        let view = cmp.view(&opts);
        let mut csv = Vec::new();
        if want_csv {
            write_csv(&mut csv, &view.document).map_err(|e| e.to_string())?;
            return Ok((view.total_rows, Value::Null, csv));
        }
        let doc = serde_json::to_value(&view.document).map_err(|e| e.to_string())?;
        Ok((view.total_rows, doc, csv))
    })
    .await?
    .map_err(ApiError::Internal)?;
    match query.format.as_deref() {
        Some("json") => Ok(HttpResponse::Ok().json(doc)),
        Some("csv") => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "content-disposition",
                format!("attachment; filename=\"comparison-{}.csv\"", id.as_str()),
            ))
            .body(csv)),
        None => Ok(HttpResponse::Ok().json(json!({
            "id": id.as_str(),
            "status": "done",
            "baseline_id": rec.get("baseline"),
            "candidate_id": rec.get("candidate"),
            "total_rows": total_rows,
            "offset": query.offset.unwrap_or(0),
            "limit": query.limit,
            "comparison": doc,
        }))),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format must be json or csv, not {other:?}"
        ))),
    }
}
