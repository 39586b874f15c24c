//! Public-deployment guards: security headers on every response, and rate limits on the
//! requests that create work (uploads and compares).
//!
//! The limits are a fixed window counted in Redis, not in process memory (as
//! actix-governor would): several `profdiff web` processes behind one load balancer must
//! share one budget per session and per client address, and Redis is already the one
//! shared state. One pipelined round trip per limited request; keys expire with their
//! window.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use profdiff_workers::store::now_secs;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::session::Session;
use super::AppState;

/// CSP for responses that do not set their own (API JSON, errors): nothing may load,
/// nothing may frame it. Pages (the UI, /ops) set a stricter-than-default one of their own.
pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
form-action 'none'";

/// Headers every response carries (unless the handler set its own value).
const HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", DEFAULT_CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

fn add_headers(h: &mut actix_web::http::header::HeaderMap) {
    for (name, value) in HEADERS {
        let name = HeaderName::from_static(name);
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// Adds the security headers to every response, error responses from inner middleware
/// included (actix's `DefaultHeaders` skips those).
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match next.call(req).await {
        Ok(mut res) => {
            add_headers(res.headers_mut());
            Ok(res)
        }
        Err(mut e) => {
            e.add_response_mapper(|mut res| {
                add_headers(res.headers_mut());
                res
            });
            Err(e)
        }
    }
}

/// Requests that start work and so count against the limits: (method, path).
const LIMITED: &[(Method, &str)] = &[
    (Method::POST, "/api/upload"),
    (Method::POST, "/api/compare"),
];

/// The client address as the limiter sees it.
fn client_addr(req: &ServiceRequest, trust_forwarded: bool) -> String {
    if trust_forwarded {
        if let Some(ip) = req.connection_info().realip_remote_addr() {
            return ip.to_string();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Short keyed digest so addresses never appear in key names.
fn digest(secret: &[u8], s: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update([1]);
    h.update(s.as_bytes());
    hex::encode(&h.finalize()[..12])
}

/// Counts one request of the session and of the client address in the current window;
/// `Err(RateLimited)` when either is over its budget.
async fn check(state: &AppState, sid: Option<&str>, addr: &str) -> Result<(), ApiError> {
    let cfg = &state.cfg;
    let window = cfg.rate_limit_window_secs.max(1);
    let now = u64::try_from(now_secs()).unwrap_or(0);
    let idx = now / window;
    let retry_after = (idx.saturating_add(1).saturating_mul(window))
        .saturating_sub(now)
        .max(1);
    let keys = state.store.keys();
    let mut checks: Vec<(&'static str, String, u64)> = Vec::new();
    if let (Some(sid), true) = (sid, cfg.rate_limit_per_session > 0) {
        checks.push((
            "session",
            keys.rate_limit("sid", &digest(&state.secret, sid), idx),
            cfg.rate_limit_per_session,
        ));
    }
    if cfg.rate_limit_per_ip > 0 {
        checks.push((
            "address",
            keys.rate_limit("ip", &digest(&state.secret, addr), idx),
            cfg.rate_limit_per_ip,
        ));
    }
    if checks.is_empty() {
        return Ok(());
    }
    let mut p = redis::pipe();
    for (_, key, _) in &checks {
        // The window index is in the key, so re-setting the expiry is harmless.
        p.incr(key, 1u64)
            .cmd("EXPIRE")
            .arg(key)
            .arg(window.saturating_add(1))
            .ignore();
    }
    let mut conn = state.store.conn();
    let counts: Vec<u64> = p.query_async(&mut conn).await?;
    for ((scope, _, limit), n) in checks.iter().zip(counts) {
        if n > *limit {
            return Err(ApiError::RateLimited { scope, retry_after });
        }
    }
    Ok(())
}

/// Rate-limits uploads and compares per session and per client address; runs inside
/// the session middleware so a refused request still gets its cookie.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limited = LIMITED
        .iter()
        .any(|(m, p)| req.method() == m && req.path() == *p);
    if !limited {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(ApiError::Internal("app state missing".into()).into());
    };
    let sid = req.extensions().get::<Session>().map(|s| s.id.clone());
    let addr = client_addr(&req, state.cfg.trust_forwarded_for);
    if let Err(e) = check(&state, sid.as_deref(), &addr).await {
        if matches!(e, ApiError::RateLimited { .. }) {
            tracing::info!(error = %e, "rate limited");
        }
        let res = e.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_table_is_valid() {
        // `HeaderName::from_static` panics on upper case or bad bytes.
        for (n, v) in HEADERS {
            let _ = HeaderName::from_static(n);
            let _ = HeaderValue::from_static(v);
        }
    }
}
