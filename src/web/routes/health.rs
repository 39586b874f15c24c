//! `GET /api/health`: liveness and Redis connectivity.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::web::AppState;

type Counts = std::collections::HashMap<String, i64>;

/// A healthy answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
    /// Always true here.
    redis: bool,
    /// The Redis key layout version (null before the first migration).
    schema_version: Option<u32>,
    /// The janitor's last run (`at`, counts), null before its first run.
    #[schema(value_type = Option<Object>)]
    janitor: Option<Counts>,
    /// Job totals (`parse_done`, `compare_failed`, ...).
    #[schema(value_type = Object)]
    jobs: Counts,
}

/// The answer while Redis cannot be reached.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Degraded {
    /// Always `degraded`.
    status: &'static str,
    /// Always false here.
    redis: bool,
}

/// 200 `{"status":"ok","redis":true,...}` or 503 `{"status":"degraded","redis":false}`.
#[utoipa::path(get, path = "/api/health", tag = "meta", responses((status = 200, description = "Healthy", body = Health), (status = 503, description = "Redis unreachable", body = Degraded)))]
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
        Ok(Ok((_, janitor, schema, jobs))) => HttpResponse::Ok().json(Health {
            status: "ok",
            redis: true,
            schema_version: schema,
            janitor: (!janitor.is_empty()).then_some(janitor),
            jobs,
        }),
        _ => HttpResponse::ServiceUnavailable().json(Degraded {
            status: "degraded",
            redis: false,
        }),
    }
}
