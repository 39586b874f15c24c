//! `GET /api/session-info` and `POST /api/clear`.

use actix_web::{web, HttpResponse};
use profdiff_workers::store::now_secs;
use redis::AsyncCommands;
use serde_json::json;
use std::collections::HashMap;

use crate::web::error::ApiResult;
use crate::web::session::Session;
use crate::web::AppState;

/// Id prefix, created, expiry, counts, bytes, the upload limit, and the janitor's last run.
#[utoipa::path(get, path = "/api/session-info", tag = "session", responses((status = 200, description = "Session figures")))]
pub async fn info(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
) -> ApiResult<HttpResponse> {
    let keys = state.store.keys();
    let sid = &*session.id;
    let mut conn = state.store.conn();
    let ids: Vec<String> = conn.zrange(keys.profiles(sid), 0, -1).await?;
    let mut p = redis::pipe();
    p.zcard(keys.comparisons(sid))
        .zcard(keys.jobs(sid))
        .hgetall(keys.janitor_last());
    for id in &ids {
        p.hget(keys.profile(sid, id), "size");
    }
    // Janitor figures are counts and a timestamp: numbers, as /api/health shows them.
    let (cmp, jobs, janitor, sizes): (u64, u64, HashMap<String, i64>, Vec<Option<u64>>) = {
        let v: Vec<redis::Value> = p.query_async(&mut conn).await?;
        let mut it = v.into_iter();
        let cmp = it
            .next()
            .and_then(|v| redis::from_redis_value(v).ok())
            .unwrap_or(0);
        let jobs = it
            .next()
            .and_then(|v| redis::from_redis_value(v).ok())
            .unwrap_or(0);
        let janitor = it
            .next()
            .and_then(|v| redis::from_redis_value(v).ok())
            .unwrap_or_default();
        let sizes = it.map(|v| redis::from_redis_value(v).ok()).collect();
        (cmp, jobs, janitor, sizes)
    };
    let bytes: u64 = sizes.iter().flatten().sum();
    Ok(HttpResponse::Ok().json(json!({
        "session_id": sid.get(..8).unwrap_or(sid),
        "created": session.created,
        "expires": session.idle_expires,
        "expires_at_latest": session.expire_at,
        "idle_ttl_secs": state.cfg.session_ttl_secs,
        "now": now_secs(),
        "profiles": ids.len(),
        "comparisons": cmp,
        "jobs": jobs,
        "bytes": bytes,
        // The UI refuses an oversized batch before sending it.
        "max_upload_bytes": state.cfg.max_upload_bytes,
        "janitor": if janitor.is_empty() { serde_json::Value::Null } else { json!(janitor) },
    })))
}

/// Deletes this session's profiles, comparisons, jobs and files; keeps the session.
#[utoipa::path(post, path = "/api/clear", tag = "session", responses((status = 200, description = "Session emptied")))]
pub async fn clear(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
) -> ApiResult<HttpResponse> {
    let keys = state.store.keys();
    let sid = &*session.id;
    let mut conn = state.store.conn();
    let (pids, cids, jids): (Vec<String>, Vec<String>, Vec<String>) = redis::pipe()
        .zrange(keys.profiles(sid), 0, -1)
        .zrange(keys.comparisons(sid), 0, -1)
        .zrange(keys.jobs(sid), 0, -1)
        .query_async(&mut conn)
        .await?;
    let mut doomed: Vec<String> = vec![keys.profiles(sid), keys.comparisons(sid), keys.jobs(sid)];
    for id in &pids {
        doomed.push(keys.profile(sid, id));
        doomed.push(keys.profile_data(sid, id));
    }
    for id in &cids {
        doomed.push(keys.comparison(sid, id));
        doomed.push(keys.comparison_data(sid, id));
    }
    for id in &jids {
        doomed.push(keys.job(sid, id));
    }
    let bids: Vec<String> = conn.zrange(keys.batches(sid), 0, -1).await?;
    doomed.push(keys.batches(sid));
    for id in &bids {
        doomed.push(keys.batch(sid, id));
        doomed.push(keys.batch_data(sid, id));
        doomed.push(keys.batch_parsed(sid, id));
        doomed.push(keys.batch_compared(sid, id));
    }
    for chunk in doomed.chunks(500) {
        let _: u64 = conn.del(chunk).await?;
    }
    // Slots held for the cleared batches' compare jobs are free again.
    if !bids.is_empty() {
        let fields: Vec<String> = bids.iter().map(|b| format!("{sid}:{b}")).collect();
        let _: u64 = conn.hdel(keys.queue_reserved(), fields).await?;
    }
    let dir = state.cfg.uploads_dir().join(sid);
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok(HttpResponse::Ok().json(json!({
        "cleared": true,
        "profiles_removed": pids.len(),
        "comparisons_removed": cids.len(),
    })))
}
