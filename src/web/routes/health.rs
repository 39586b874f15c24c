//! `GET /api/health`: liveness and Redis connectivity.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::web::AppState;

/// 200 `{"status":"ok","redis":true}` or 503 `{"status":"degraded","redis":false}`.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let mut conn = state.store.conn();
    let keys = state.store.keys().clone();
    let probe = async {
        let mut p = redis::pipe();
        p.cmd("PING")
            .hgetall(keys.janitor_last())
            .get(keys.schema_version());
        p.query_async::<(String, std::collections::HashMap<String, i64>, Option<u32>)>(&mut conn)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok((_, janitor, schema))) => HttpResponse::Ok().json(json!({
            "status": "ok",
            "redis": true,
            "schema_version": schema,
            "janitor": if janitor.is_empty() { serde_json::Value::Null } else { json!(janitor) },
        })),
        _ => HttpResponse::ServiceUnavailable().json(json!({"status": "degraded", "redis": false})),
    }
}
