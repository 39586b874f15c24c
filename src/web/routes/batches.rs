//! `POST /api/batches` (many dumps with roles: multipart fields `baseline` and
//! `candidate`, each repeatable) and `GET /api/batches/{id}` (progress, then the
//! `profdiff.batch/v1` summary).
//!
//! Each dump becomes an ordinary profile with a parse job (so it also shows in
//! `/api/profiles`). The rest happens on the workers (`profdiff_workers::jobs::batch`):
//! when the last parse ends they queue one compare job per candidate, and when the last
//! of those ends they store the summary under `batch:{id}:data`. This module only creates
//! the batch (with its comparison ids fixed up front) and reports on it.

use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::TryStreamExt;
use profdiff_workers::compare::BatchSummary;
use profdiff_workers::jobs::batch::{BatchComparison, BatchPlan};
use profdiff_workers::jobs::queue::reservation_field;
use profdiff_workers::store::{codec, now_millis};
use redis::AsyncCommands;
use serde::Deserialize;
use serde_json::json;

use super::upload::{admit, remove_all, sanitize_name, save_field, stage_parses, Saved};
use super::{new_id, owned_record};
use crate::web::archive;
use crate::web::error::{ApiError, ApiResult};
use crate::web::session::Session;
use crate::web::AppState;

/// Most dumps in one batch (each is a parse job and a blob read for the summary).
const MAX_BATCH_FILES: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Baseline,
    Candidate,
}

/// Stores the dumps, queues their parse jobs and records the batch; 202
/// `{"batch_id","profiles":[{"id","name","role","job_id"}]}`.
#[utoipa::path(post, path = "/api/batches", tag = "batches", request_body(content_type = "multipart/form-data", description = "Fields `baseline`, `candidate`, `archive`"),responses((status = 202, description = "Batch accepted"), (status = 400, description = "Bad request", body = crate::web::error::ErrorBody), (status = 413, description = "Over the upload limit", body = crate::web::error::ErrorBody), (status = 415, description = "Unsupported file type", body = crate::web::error::ErrorBody), (status = 422, description = "Archive over the unpacked limits", body = crate::web::error::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    mut payload: Multipart,
) -> ApiResult<HttpResponse> {
    let limit = state.cfg.max_upload_bytes;
    let dir = admit(&req, &state, &session.id).await?;
    let mut saved: Vec<Saved<Role>> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let mut field = match payload.try_next().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                remove_all(&saved).await;
                return Err(ApiError::BadRequest(format!(
                    "malformed multipart body: {e}"
                )));
            }
        };
        let role = match field.name() {
            Some("baseline") => Some(Role::Baseline),
            Some("candidate") => Some(Role::Candidate),
            Some("archive") => None,
            other => {
                let other = other.unwrap_or("").to_owned();
                remove_all(&saved).await;
                return Err(ApiError::BadRequest(format!(
                    "unknown multipart field {other:?} (use `baseline`, `candidate` or `archive`)"
                )));
            }
        };
        if saved.len() >= MAX_BATCH_FILES {
            remove_all(&saved).await;
            return Err(ApiError::BadRequest(format!(
                "too many dumps in one batch (limit {MAX_BATCH_FILES})"
            )));
        }
        let raw = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .unwrap_or("")
            .to_string();
        let name = sanitize_name(&raw);
        let kind = archive::Kind::of_name(&name);
        if kind.is_none() && (role.is_none() || !extension_ok(&name)) {
            remove_all(&saved).await;
            return Err(ApiError::Unsupported(format!(
                "{name:?}: a batch accepts .prof, .pstats and .pkl dumps, and .zip, .tar.gz \
                 or .tgz archives of them (field `archive` for folders baseline/ and candidate/)"
            )));
        }
        let (id, path, size) = match save_field(&mut field, &dir, &mut total, limit).await {
            Ok(saved_field) => saved_field,
            Err(e) => {
                remove_all(&saved).await;
                return Err(e);
            }
        };
        match (kind, role) {
            (None, Some(role)) => saved.push(Saved {
                id,
                name,
                path,
                size,
                role,
            }),
            (Some(kind), role) => {
                let limits = archive::Limits {
                    max_entries: MAX_BATCH_FILES.saturating_sub(saved.len()),
                    max_entry_bytes: limit,
                    max_total_bytes: limit.saturating_mul(8),
                    max_ratio: 100,
                    ratio_floor: 1 << 20,
                };
                let (src, out) = (path.clone(), dir.clone());
                let unpacked = web::block(move || archive::unpack(&src, kind, &out, limits)).await;
                let _ = tokio::fs::remove_file(&path).await;
                let entries = match unpacked {
                    Ok(Ok(e)) => e,
                    Ok(Err(e)) => {
                        remove_all(&saved).await;
                        return Err(archive_error(e));
                    }
                    Err(e) => {
                        remove_all(&saved).await;
                        return Err(ApiError::Internal(e.to_string()));
                    }
                };
                let mut homeless = None;
                for e in entries {
                    let r = match (role, e.role) {
                        (Some(r), _) => Some(r),
                        (None, Some(archive::FolderRole::Baseline)) => Some(Role::Baseline),
                        (None, Some(archive::FolderRole::Candidate)) => Some(Role::Candidate),
                        (None, None) => None,
                    };
                    let id = e
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    match r {
                        Some(role) => saved.push(Saved {
                            id,
                            name: sanitize_name(&e.name),
                            path: e.path,
                            size: e.size,
                            role,
                        }),
                        None => {
                            homeless.get_or_insert(e.name);
                            let _ = tokio::fs::remove_file(&e.path).await;
                        }
                    }
                }
                if let Some(n) = homeless {
                    remove_all(&saved).await;
                    return Err(ApiError::BadRequest(format!(
                        "archive entry {n:?} is in neither a baseline/ nor a candidate/ folder \
                         (or send the archive in the field `baseline` or `candidate`)"
                    )));
                }
            }
            (None, None) => {
                // Refused above already; kept so that no file is ever left unrecorded.
                let _ = tokio::fs::remove_file(&path).await;
                remove_all(&saved).await;
                return Err(ApiError::Unsupported(format!(
                    "{name:?}: the field `archive` takes .zip, .tar.gz or .tgz files"
                )));
            }
        }
    }
    let count = |r: Role| saved.iter().filter(|s| s.role == r).count();
    if count(Role::Baseline) == 0 || count(Role::Candidate) == 0 {
        remove_all(&saved).await;
        return Err(ApiError::BadRequest(
            "a batch needs at least one `baseline` and one `candidate` file".into(),
        ));
    }

    // Admission for the whole batch: its parse jobs now and the compare jobs a worker
    // queues later (held as reserved slots until then), so the batch never takes the
    // queues past the cap.
    let n_candidates = count(Role::Candidate);
    let adding = (saved.len() + n_candidates) as u64;
    let queued = match state.queues.depth().await {
        Ok(q) => q,
        Err(e) => {
            remove_all(&saved).await;
            return Err(e.into());
        }
    };
    if queued.saturating_add(adding) > state.cfg.queue_cap {
        remove_all(&saved).await;
        return Err(ApiError::Busy { queued });
    }

    let keys = state.store.keys();
    let sid = &*session.id;
    let now = now_millis();
    let bid = new_id();
    let ids = |r: Role| -> Vec<&str> {
        saved
            .iter()
            .filter(|s| s.role == r)
            .map(|s| s.id.as_str())
            .collect()
    };
    let mut p = redis::pipe();
    p.atomic();
    let jobs = stage_parses(&mut p, keys, &session, &saved, now, Some(&bid));
    let mut out: Vec<serde_json::Value> = saved
        .iter()
        .zip(&jobs)
        .map(|(s, job)| {
            let role = if s.role == Role::Baseline {
                "baseline"
            } else {
                "candidate"
            };
            json!({"id": s.id, "name": s.name, "role": role, "job_id": job.job_id, "size": s.size})
        })
        .collect();
    // Comparison and job ids are fixed now so that whichever worker queues the compare
    // jobs (and any repeat of that step) uses the same ones.
    let comparisons: Vec<BatchComparison> = ids(Role::Candidate)
        .into_iter()
        .map(|c| BatchComparison {
            candidate: c.to_owned(),
            id: new_id(),
            job: new_id(),
        })
        .collect();
    let bkey = keys.batch(sid, &bid);
    p.hset_multiple(
        &bkey,
        &[
            ("baseline", json!(ids(Role::Baseline)).to_string()),
            ("candidate", json!(ids(Role::Candidate)).to_string()),
            ("created", now.to_string()),
            ("total", saved.len().to_string()),
            ("comparisons", json!(comparisons).to_string()),
        ],
    )
    .ignore()
    .hset(
        keys.queue_reserved(),
        reservation_field(sid, &bid),
        n_candidates,
    )
    .ignore()
    .expire_at(&bkey, session.expire_at)
    .ignore()
    .zadd(keys.batches(sid), &bid, now)
    .ignore();
    p.expire_at(keys.batches(sid), session.expire_at).ignore();
    if let Err(e) = p.query_async::<()>(&mut state.store.conn()).await {
        remove_all(&saved).await;
        return Err(e.into());
    }
    for job in jobs {
        state.queues.push_parse(job).await?;
    }
    for (o, c) in out
        .iter_mut()
        .filter(|o| o["role"] == "candidate")
        .zip(&comparisons)
    {
        o["comparison_id"] = json!(c.id);
    }
    Ok(HttpResponse::Accepted().json(json!({
        "batch_id": bid,
        "status": "queued",
        "profiles": out,
    })))
}

fn extension_ok(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| {
        ["prof", "pstats", "pkl"].contains(&ext.to_ascii_lowercase().as_str())
    })
}

fn archive_error(e: archive::ArchiveError) -> ApiError {
    use archive::ArchiveError as E;
    match e {
        E::UnsafePath(_) | E::TooManyEntries(_) | E::Corrupt { .. } => {
            ApiError::BadRequest(e.to_string())
        }
        E::Bomb { .. } => ApiError::Unprocessable(e.to_string()),
        E::Io(m) => ApiError::Internal(m),
    }
}

/// Query of `GET /api/batches/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// Rows of `groups.functions` to return (default 50, 0 = all).
    limit: Option<usize>,
    /// `file:line(name)` or a bare name: adds `function` with its per-run trend.
    function: Option<String>,
}

/// Progress of both phases (parse, then compare); the summary once the workers stored it.
#[utoipa::path(get, path = "/api/batches/{id}", tag = "batches", params(("id" = String, Path, description = "Batch id"), BatchQuery), responses((status = 200, description = "Batch done, with summary"), (status = 202, description = "Still parsing or comparing"), (status = 404, description = "No such batch", body = crate::web::error::ErrorBody), (status = 422, description = "Batch failed: its state with `status: failed` and `error` (not the error body)")))]
pub async fn get(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
    q: web::Query<BatchQuery>,
) -> ApiResult<HttpResponse> {
    let keys = state.store.keys();
    let sid = &*session.id;
    let rec = owned_record(&state, "batch", &id, &keys.batch(sid, &id)).await?;
    let plan = BatchPlan::of(&rec);
    let cmp_of: std::collections::HashMap<&str, &BatchComparison> = plan
        .comparisons
        .iter()
        .map(|c| (c.candidate.as_str(), c))
        .collect();
    // Every run's and every comparison's record in one round trip.
    let mut p = redis::pipe();
    for pid in plan.baseline.iter().chain(&plan.candidates) {
        p.hgetall(keys.profile(sid, pid));
    }
    for c in &plan.comparisons {
        p.hgetall(keys.comparison(sid, &c.id));
    }
    let records: Vec<profdiff_workers::store::Record> = if p.is_empty() {
        Vec::new()
    } else {
        p.query_async(&mut state.store.conn()).await?
    };
    let mut records = records.into_iter();
    let mut runs = Vec::new();
    let (mut done, mut failed) = (0usize, Vec::new());
    for (role, pid) in plan
        .baseline
        .iter()
        .map(|p| ("baseline", p))
        .chain(plan.candidates.iter().map(|p| ("candidate", p)))
    {
        let prec = records.next().unwrap_or_default();
        let status = prec
            .get("status")
            .cloned()
            .unwrap_or_else(|| "deleted".into());
        let name = prec.get("name").cloned().unwrap_or_default();
        match status.as_str() {
            "ready" => done += 1,
            "failed" | "deleted" => {
                done += 1;
                failed.push(json!({"id": pid, "name": name, "role": role,
                    "error": prec.get("error").cloned().unwrap_or_else(|| "profile deleted".into())}));
            }
            _ => {}
        }
        let mut run = json!({"id": pid, "name": name, "role": role, "status": status});
        if let Some(c) = cmp_of.get(pid.as_str()) {
            run["comparison_id"] = json!(c.id);
        }
        runs.push(run);
    }
    // The compare phase: one comparison per candidate, created by the worker that saw the
    // last parse end (until then they are "pending").
    let mut comparisons = Vec::with_capacity(plan.comparisons.len());
    let (mut cmp_done, mut cmp_failed) = (0usize, 0usize);
    for c in &plan.comparisons {
        let crec = records.next().unwrap_or_default();
        let status = crec
            .get("status")
            .cloned()
            .unwrap_or_else(|| "pending".into());
        match status.as_str() {
            "done" => cmp_done += 1,
            "failed" => {
                cmp_done += 1;
                cmp_failed += 1;
            }
            _ => {}
        }
        comparisons.push(json!({
            "candidate": c.candidate,
            "comparison_id": c.id,
            "job_id": c.job,
            "baseline": crec.get("baseline").filter(|b| !b.is_empty()),
            "status": status,
            "error": crec.get("error").filter(|e| !e.is_empty()),
        }));
    }
    let total = runs.len();
    let n_failed = failed.len();
    let n_cmp = plan.comparisons.len();
    let mut out = json!({
        "id": id.as_str(),
        "progress": {
            "done": done, "total": total, "failed": n_failed,
            "parse": {"done": done, "total": total, "failed": n_failed},
            "compare": {"done": cmp_done, "total": n_cmp, "failed": cmp_failed},
            "jobs": {"done": done + cmp_done, "total": total + n_cmp},
        },
        "failures": failed,
        "profiles": runs,
        "comparisons": comparisons,
        "reference_baseline": rec.get("reference_baseline").filter(|b| !b.is_empty()),
    });
    // A record without `total` predates worker-side batches: the workers never advance
    // it, but a summary the web tier stored back then is still served.
    let legacy = !rec.contains_key("total");
    if !legacy && !rec.contains_key("summarized") {
        out["status"] = json!("running");
        return Ok(HttpResponse::Accepted().json(out));
    }
    let cached: Option<Vec<u8>> = state.store.conn().get(keys.batch_data(sid, &id)).await?;
    if legacy && cached.is_none() {
        out["status"] = json!("running");
        return Ok(HttpResponse::Accepted().json(out));
    }
    let Some(blob) = cached else {
        out["status"] = json!("failed");
        out["error"] = json!(rec
            .get("summary_error")
            .filter(|e| !e.is_empty())
            .map(String::as_str)
            .unwrap_or("no baseline or no candidate dump could be parsed"));
        return Ok(HttpResponse::UnprocessableEntity().json(out));
    };
    let summary = web::block(move || codec::decode::<BatchSummary>(&blob))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let q = q.into_inner();
    let detail = q
        .function
        .as_deref()
        .and_then(|f| summary.groups.function(f).cloned());
    let mut s = summary;
    match q.limit.unwrap_or(50) {
        0 => {}
        n => s.groups.functions.truncate(n),
    }
    out["status"] = json!(if n_failed > 0 || cmp_failed > 0 {
        "done_with_failures"
    } else {
        "done"
    });
    out["summary"] = serde_json::to_value(&s).map_err(|e| ApiError::Internal(e.to_string()))?;
    if q.function.is_some() {
        out["function"] = match detail {
            Some(d) => json!({
                "file": d.file, "line": d.line, "name": d.name,
                "baseline": d.tt.baseline.values, "candidate": d.tt.candidate.values,
                "baseline_runs": s.groups.baseline.runs, "candidate_runs": s.groups.candidate.runs,
                "verdict": d.tt.verdict, "test": d.tt.test,
            }),
            None => return Err(ApiError::NotFound("function")),
        };
    }
    Ok(HttpResponse::Ok().json(out))
}
