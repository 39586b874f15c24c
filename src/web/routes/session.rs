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
#[utoipa::path(get, path = "/api/session-info", tag = "session", responses((status = 200, description = "Session figures", body = SessionInfo)))]
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
    Ok(HttpResponse::Ok().json(SessionInfo {
        session_id: sid.get(..8).unwrap_or(sid).to_owned(),
        created: session.created,
        expires: session.idle_expires,
        expires_at_latest: session.expire_at,
        idle_ttl_secs: state.cfg.session_ttl_secs,
        now: now_secs(),
        profiles: ids.len(),
        comparisons: cmp,
        jobs,
        bytes,
        max_upload_bytes: state.cfg.max_upload_bytes,
        janitor: (!janitor.is_empty()).then_some(janitor),
    }))
}

/// Answer of `GET /api/session-info`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// The first 8 characters of the session id (never the whole secret).
    session_id: String,
    /// When the session began (unix seconds).
    created: i64,
    /// When it expires if idle (unix seconds; every request moves it on).
    expires: i64,
    /// When it expires however active it is (unix seconds).
    expires_at_latest: i64,
    /// The idle expiry in seconds.
    idle_ttl_secs: u64,
    /// The server's clock (unix seconds), to count down from.
    now: i64,
    /// Profiles in the session.
    profiles: usize,
    /// Comparisons in the session.
    comparisons: u64,
    /// Jobs in the session.
    jobs: u64,
    /// Bytes of the session's uploads.
    bytes: u64,
    /// The upload limit per request (the UI refuses an oversized batch before sending).
    max_upload_bytes: u64,
    /// The janitor's last run (`at` and counts), null before its first run.
    #[schema(value_type = Option<Object>)]
    janitor: Option<HashMap<String, i64>>,
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
