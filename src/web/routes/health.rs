//! `GET /api/health`: liveness and Redis connectivity.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::web::AppState;

type Counts = std::collections::HashMap<String, i64>;

/// 200 `{"status":"ok","redis":true}` or 503 `{"status":"degraded","redis":false}`.
#[utoipa::path(get, path = "/api/health", tag = "meta", responses((status = 200, description = "Healthy"), (status = 503, description = "Redis unreachable", body = crate::web::error::ErrorBody)))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let mut conn = state.store.conn();
    let keys = state.store.keys().clone();
    let probe = async {
        let mut p = redis::pipe();
        p.cmd("PING")
            .hgetall(keys.janitor_last())
            .get(keys.schema_version())
            .hgetall(keys.counters());
        p.query_async::<(String, Counts, Option<u32>, Counts)>(&mut conn)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok((_, janitor, schema, jobs))) => HttpResponse::Ok().json(json!({
            "status": "ok",
            "redis": true,
            "schema_version": schema,
            "janitor": if janitor.is_empty() { serde_json::Value::Null } else { json!(janitor) },
            "jobs": jobs,
        })),
        _ => HttpResponse::ServiceUnavailable().json(json!({"status": "degraded", "redis": false})),
    }
}
