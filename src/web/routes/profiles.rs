//! `GET /api/profiles`, `GET /api/profiles/{id}` (summary + top functions; `?function=`
//! for one function's callers and callees), `DELETE /api/profiles/{id}`.

use actix_web::{web, HttpResponse};
use profdiff_workers::profile::Profile;
use profdiff_workers::store::{codec, Record, StoredSummary};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::owned_record;
use crate::web::error::{ApiError, ApiResult};
use crate::web::session::Session;
use crate::web::AppState;

/// One profile as the list and the detail view show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileInfo {
    /// Profile id.
    id: String,
    /// The uploaded file's name, sanitised.
    name: Option<String>,
    /// `queued`, `parsing`, `ready` or `failed`.
    status: Option<String>,
    /// Bytes uploaded.
    size: Option<u64>,
    /// Container, e.g. `marshal v4` or `pickle p5` (once parsed).
    format: Option<String>,
    /// Why parsing failed, in words.
    error: Option<String>,
    /// The parse job.
    job_id: Option<String>,
    /// Upload time (unix milliseconds).
    uploaded: Option<i64>,
    /// Producer guess, e.g. `cProfile`, `profile`, `yappi` (once parsed).
    producer: Option<String>,
    /// Functions in the dump (once parsed).
    functions: Option<usize>,
    /// Σ calls, as pstats counts them (once parsed).
    total_calls: Option<i64>,
    /// Σ primitive calls (once parsed).
    primitive_calls: Option<i64>,
    /// Σ own time in seconds (once parsed).
    total_time: Option<f64>,
}

/// A profile record as the API shows it.
pub fn profile_info(id: &str, rec: &Record) -> ProfileInfo {
    let s = |k: &str| rec.get(k).filter(|v| !v.is_empty()).cloned();
    let summary: Option<StoredSummary> = rec
        .get("summary")
        .and_then(|v| serde_json::from_str(v).ok());
    ProfileInfo {
        id: id.to_owned(),
        name: s("name"),
        status: s("status"),
        size: rec.get("size").and_then(|v| v.parse().ok()),
        format: s("format"),
        error: s("error"),
        job_id: s("job"),
        uploaded: rec.get("uploaded").and_then(|v| v.parse().ok()),
        producer: summary.as_ref().map(|m| m.producer.clone()),
        functions: summary.as_ref().map(|m| m.functions),
        total_calls: summary.as_ref().map(|m| m.total_calls),
        primitive_calls: summary.as_ref().map(|m| m.primitive_calls),
        total_time: summary.as_ref().map(|m| m.total_time),
    }
}

/// Answer of `GET /api/profiles`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileList {
    /// Oldest first.
    profiles: Vec<ProfileInfo>,
}

/// This session's profiles, oldest first.
#[utoipa::path(get, path = "/api/profiles", tag = "profiles", responses((status = 200, description = "Profiles of the session", body = ProfileList)))]
pub async fn list(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
) -> ApiResult<HttpResponse> {
    let keys = state.store.keys();
    let mut conn = state.store.conn();
    let ids: Vec<String> = conn.zrange(keys.profiles(&session.id), 0, -1).await?;
    let mut p = redis::pipe();
    for id in &ids {
        p.hgetall(keys.profile(&session.id, id));
    }
    let recs: Vec<Record> = if ids.is_empty() {
        Vec::new()
    } else {
        p.query_async(&mut conn).await?
    };
    let profiles: Vec<ProfileInfo> = ids
        .iter()
        .zip(recs)
        .filter(|(_, r)| !r.is_empty())
        .map(|(id, r)| profile_info(id, &r))
        .collect();
    Ok(HttpResponse::Ok().json(ProfileList { profiles }))
}

/// Query of `GET /api/profiles/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetailQuery {
    /// How many top functions (by own time).
    limit: Option<usize>,
    /// A function name (or `file:line(name)`) to show callers and callees of.
    function: Option<String>,
}

fn entry(p: &Profile, key: u32) -> Value {
    let (file, line, name) = p.key_parts(key);
    json!({"file": file, "line": line, "name": name})
}

fn top_functions(p: &Profile, limit: usize) -> Vec<Value> {
    let mut idx: Vec<usize> = (0..p.functions.len()).collect();
    idx.sort_by(|&a, &b| {
        let (fa, fb) = (&p.functions[a], &p.functions[b]);
        fb.stats
            .tt
            .total_cmp(&fa.stats.tt)
            .then_with(|| p.key_parts(fa.key).cmp(&p.key_parts(fb.key)))
    });
    idx.into_iter()
        .take(limit)
        .map(|i| {
            let f = &p.functions[i];
            let mut e = entry(p, f.key);
            e["cc"] = json!(f.stats.cc);
            e["nc"] = json!(f.stats.nc);
            e["tt"] = json!(f.stats.tt);
            e["ct"] = json!(f.stats.ct);
            e
        })
        .collect()
}

fn function_detail(p: &Profile, wanted: &str) -> Vec<Value> {
    let callees = p.callees();
    p.functions
        .iter()
        .filter(|f| {
            let (file, line, name) = p.key_parts(f.key);
            name == wanted || format!("{file}:{line}({name})") == wanted
        })
        .take(20)
        .map(|f| {
            let mut e = entry(p, f.key);
            e["cc"] = json!(f.stats.cc);
            e["nc"] = json!(f.stats.nc);
            e["tt"] = json!(f.stats.tt);
            e["ct"] = json!(f.stats.ct);
            let edge = |key: u32, s: &profdiff_workers::profile::EdgeStats| {
                let mut v = entry(p, key);
                v["nc"] = json!(s.nc);
                v["cc"] = json!(s.cc);
                v["tt"] = json!(s.tt());
                v["ct"] = json!(s.ct());
                v
            };
            e["callers"] = p
                .callers(f)
                .iter()
                .map(|c| edge(c.caller, &c.stats))
                .collect();
            e["callees"] = callees
                .get(f.key as usize)
                .map(|list| {
                    list.iter()
                        .filter_map(|(fi, s)| p.functions.get(*fi as usize).map(|g| edge(g.key, s)))
                        .collect()
                })
                .unwrap_or(Value::Array(Vec::new()));
            e
        })
        .collect()
}

/// One profile: its record, and when parsed its top functions or one function's edges.
#[utoipa::path(get, path = "/api/profiles/{id}", tag = "profiles", params(("id" = String, Path, description = "Profile id"), DetailQuery), responses((status = 200, description = "Profile record with top functions"), (status = 404, description = "No such profile", body = crate::web::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
    q: web::Query<DetailQuery>,
) -> ApiResult<HttpResponse> {
    let rec = owned_record(
        &state,
        "profile",
        &id,
        &state.store.keys().profile(&session.id, &id),
    )
    .await?;
    let mut out = json!(profile_info(&id, &rec));
    if rec.get("status").map(String::as_str) == Some("ready") {
        if let Some(blob) = state.store.get_profile_blob(&session.id, &id).await? {
            let q = q.into_inner();
            let limit = q.limit.unwrap_or(50).min(10_000);
            let (top, detail) = web::block(move || -> Result<_, codec::CodecError> {
                let p: Profile = codec::decode_profile(&blob)?;
                let detail = q.function.as_deref().map(|f| function_detail(&p, f));
                Ok((top_functions(&p, limit), detail))
            })
            .await?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
            out["top_functions"] = json!(top);
            if let Some(d) = detail {
                out["function"] = json!(d);
            }
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Deletes one profile, its data and its upload file.
#[utoipa::path(delete, path = "/api/profiles/{id}", tag = "profiles", params(("id" = String, Path, description = "Profile id")), responses((status = 200, description = "Deleted"), (status = 404, description = "No such profile", body = crate::web::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let keys = state.store.keys();
    let key = keys.profile(&session.id, &id);
    owned_record(&state, "profile", &id, &key).await?;
    let mut p = redis::pipe();
    p.atomic()
        .del(&key)
        .ignore()
        .del(keys.profile_data(&session.id, &id))
        .ignore()
        .zrem(keys.profiles(&session.id), id.as_str())
        .ignore();
    p.query_async::<()>(&mut state.store.conn()).await?;
    let _ =
        tokio::fs::remove_file(state.cfg.uploads_dir().join(&*session.id).join(id.as_str())).await;
    Ok(HttpResponse::Ok().json(json!({"deleted": id.as_str()})))
}
