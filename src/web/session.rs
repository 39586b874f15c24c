//! Sessions: an unguessable id (UUIDv4, 122 random bits) in an HttpOnly SameSite=Lax
//! cookie, or the same id as `Authorization: Bearer`. Sliding idle expiry plus an
//! absolute cap; bound to a keyed hash of the User-Agent, so a cookie replayed from
//! another User-Agent gets a fresh, empty session.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use profdiff_workers::keyspace::is_valid_id;
use profdiff_workers::store::now_secs;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::config::Config;

/// The caller's session, put in request extensions by [`middleware`].
#[derive(Debug, Clone)]
pub struct Session {
    /// Session id (32 lowercase hex).
    pub id: Arc<str>,
    /// Unix time it was created.
    pub created: i64,
    /// Unix time its data expires at the latest (absolute cap).
    pub expire_at: i64,
    /// Unix time it expires if idle from now.
    pub idle_expires: i64,
}

fn ua_hash(secret: &[u8], req: &ServiceRequest) -> String {
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(secret);
    h.update([0]);
    h.update(ua);
    hex::encode(&h.finalize()[..16])
}

fn presented_id(req: &ServiceRequest) -> Option<String> {
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        if let Some(tok) = auth.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")) {
            return Some(tok.trim().to_string());
        }
    }
    req.cookie(Config::COOKIE).map(|c| c.value().to_string())
}

async fn resolve(state: &AppState, req: &ServiceRequest) -> Result<(Session, bool), ApiError> {
    let keys = state.store.keys();
    let mut conn = state.store.conn();
    let ua = ua_hash(&state.secret, req);
    let now = now_secs();
    let ttl = state.cfg.session_ttl_secs as i64;
    let max_age = state.cfg.session_max_age_secs as i64;
    if let Some(sid) = presented_id(req).filter(|s| is_valid_id(s)) {
        let (created, stored_ua): (Option<i64>, Option<String>) = redis::cmd("HMGET")
            .arg(keys.session_meta(&sid))
            .arg("created")
            .arg("ua")
            .query_async(&mut conn)
            .await?;
        if let (Some(created), Some(stored_ua)) = (created, stored_ua) {
            let expire_at = created + max_age;
            if stored_ua == ua && now < expire_at {
                let idle_expires = (now + ttl).min(expire_at);
                // HSET before EXPIREAT, atomically: if the record expired since the HMGET,
                // the HSET recreates it and must not leave it without a TTL (immortal).
                let mut p = redis::pipe();
                p.atomic()
                    .hset(keys.session_meta(&sid), "last_seen", now)
                    .ignore()
                    .expire_at(keys.session_meta(&sid), idle_expires)
                    .ignore()
                    .zadd(keys.sessions(), &sid, now)
                    .ignore();
                p.query_async::<()>(&mut conn).await?;
                let s = Session {
                    id: sid.into(),
                    created,
                    expire_at,
                    idle_expires,
                };
                return Ok((s, false));
            }
        }
    }
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let expire_at = now + max_age;
    let idle_expires = (now + ttl).min(expire_at);
    let meta = keys.session_meta(&sid);
    let mut p = redis::pipe();
    p.atomic()
        .hset_multiple(
            &meta,
            &[
                ("created", now.to_string()),
                ("ua", ua),
                ("last_seen", now.to_string()),
            ],
        )
        .ignore()
        .expire_at(&meta, idle_expires)
        .ignore()
        .zadd(keys.sessions(), &sid, now)
        .ignore();
    p.query_async::<()>(&mut conn).await?;
    Ok((
        Session {
            id: sid.into(),
            created: now,
            expire_at,
            idle_expires,
        },
        true,
    ))
}

/// Resolves or creates the session for `/api/*` routes that need one.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(ApiError::Internal("app state missing".into()).into());
    };
    let (session, _new) = resolve(&state, &req).await?;
    req.extensions_mut().insert(session.clone());
    let mut res = next.call(req).await?;
    // Always (re)send the cookie so its Max-Age slides with the session.
    let cookie = Cookie::build(Config::COOKIE, session.id.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.cfg.cookie_secure)
        .max_age(CookieDuration::seconds(
            (session.idle_expires - now_secs()).max(0),
        ))
        .finish();
    res.response_mut().add_cookie(&cookie).ok();
    Ok(res)
}
