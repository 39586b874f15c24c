//! `GET /api/debug/all-sessions`: ops view of live sessions. Needs the admin token
//! (`X-Admin-Token` or `Authorization: Bearer`); answers 404 when none is configured.

use actix_web::{web, HttpRequest, HttpResponse};
use redis::AsyncCommands;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::web::error::{ApiError, ApiResult};
use crate::web::AppState;

pub(crate) fn token_of(req: &HttpRequest) -> Option<&str> {
    let h = req.headers();
    h.get("x-admin-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            h.get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.strip_prefix("Bearer "))
        })
}

/// Compares digests so the check takes the same time wherever the strings differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// Lists live sessions (id prefix, last activity, counts).
#[utoipa::path(get, path = "/api/debug/all-sessions", tag = "admin", responses((status = 200, description = "All sessions"), (status = 401, description = "Missing or wrong admin token", body = crate::web::error::ErrorBody), (status = 404, description = "No admin token configured", body = crate::web::error::ErrorBody)))]
pub async fn all_sessions(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let Some(expected) = state.cfg.admin_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(ApiError::NotFound("route"));
    };
    if !token_of(&req).is_some_and(|t| same(t, expected)) {
        return Err(ApiError::Unauthorized);
    }
    let keys = state.store.keys();
    let mut conn = state.store.conn();
    let ids: Vec<(String, i64)> = conn.zrange_withscores(keys.sessions(), 0, 999).await?;
    let mut p = redis::pipe();
    for (sid, _) in &ids {
        p.exists(keys.session_meta(sid))
            .zcard(keys.profiles(sid))
            .zcard(keys.comparisons(sid));
    }
    let counts: Vec<(bool, u64, u64)> = if ids.is_empty() {
        Vec::new()
    } else {
        let flat: Vec<redis::Value> = p.query_async(&mut conn).await?;
        flat.chunks(3)
            .map(|c| {
                let n = |v: &redis::Value| redis::from_redis_value::<u64>(v.clone()).unwrap_or(0);
                (
                    c.first().map(n).unwrap_or(0) > 0,
                    c.get(1).map(n).unwrap_or(0),
                    c.get(2).map(n).unwrap_or(0),
                )
            })
            .collect()
    };
    let sessions: Vec<_> = ids
        .iter()
        .zip(counts)
        .filter(|(_, (alive, _, _))| *alive)
        .map(|((sid, last), (_, profiles, comparisons))| {
            json!({
                "id_prefix": sid.get(..8).unwrap_or(sid),
                "last_seen": last,
                "profiles": profiles,
                "comparisons": comparisons,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"count": sessions.len(), "sessions": sessions})))
}
