//! Service-wide job figures kept in Redis for the ops dashboard and `/metrics`: every
//! process shares one Redis, so figures that must be global are counted there (apalis-redis
//! 1.0's own metrics are unusable). Totals never expire; per-minute buckets live ~1 h;
//! the last durations and failures are capped lists.

use redis::aio::ConnectionManager;

use crate::keyspace::Keyspace;

/// Upper bounds (seconds) of the job-duration histogram buckets.
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// How long a per-minute bucket is kept (a bit over the hour the charts show).
pub const MINUTE_TTL_SECS: u64 = 3_900;
/// Durations kept per job kind for p50/p95.
pub const DURATIONS_KEPT: isize = 1_000;
/// Recent failures kept (with their errors).
pub const FAILURES_KEPT: isize = 50;

/// Field of the histogram bucket a duration falls in (`{kind}_dur_le_{bound}` or
/// `{kind}_dur_le_inf`); counts are per bucket, made cumulative when read.
pub fn bucket_field(kind: &str, secs: f64) -> String {
    match DURATION_BUCKETS.iter().find(|b| secs <= **b) {
        Some(b) => format!("{kind}_dur_le_{b}"),
        None => format!("{kind}_dur_le_inf"),
    }
}

/// Why a job ended failed. Either way it is dead: it is never run again (apalis gets an
/// `AbortError`), so every failure is listed with its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadReason {
    /// The input was refused (bad dump, missing profile, ...); never retried.
    BadInput,
    /// Transient errors (Redis, I/O) outlasted every attempt.
    RetriesExhausted,
}

impl DeadReason {
    /// The word used in figures and failure entries.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeadReason::BadInput => "bad_input",
            DeadReason::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// A failed job's details for the failure list.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// The error shown to users.
    pub error: &'a str,
    /// Why it is dead.
    pub reason: DeadReason,
    /// Attempts made (1 for bad input; the retry budget when exhausted).
    pub attempts: u32,
    /// The profile or comparison id the job worked on.
    pub target: &'a str,
    /// The worker that ran it last.
    pub worker: &'a str,
}

/// Records a job start: its kind's started total, this minute's `{kind}_started`, and the
/// job in the worker's current-jobs hash (TTL `ttl_secs`, refreshed by the caller while
/// the job runs). Best effort.
pub async fn record_start(
    conn: &mut ConnectionManager,
    keys: &Keyspace,
    kind: &str,
    job_id: &str,
    worker: &str,
    ttl_secs: i64,
) {
    let now = crate::store::now_secs();
    let mkey = keys.stats_minute(now.div_euclid(60));
    let field = format!("{kind}_started");
    let wkey = keys.worker_jobs(worker);
    let entry = serde_json::json!({"kind": kind, "job_id": job_id, "since": now});
    let mut p = redis::pipe();
    p.hincr(keys.counters(), &field, 1)
        .ignore()
        .hincr(&mkey, &field, 1)
        .ignore()
        .expire(&mkey, MINUTE_TTL_SECS as i64)
        .ignore()
        .hset(&wkey, job_id, entry.to_string())
        .ignore()
        .expire(&wkey, ttl_secs)
        .ignore();
    if let Err(e) = p.query_async::<()>(conn).await {
        tracing::warn!(error = %e, "could not record a job start");
    }
}

/// Keeps a worker's current-jobs entry alive while a job runs.
pub async fn refresh_current(
    conn: &mut ConnectionManager,
    keys: &Keyspace,
    worker: &str,
    ttl_secs: i64,
) {
    let r: redis::RedisResult<()> = redis::cmd("EXPIRE")
        .arg(keys.worker_jobs(worker))
        .arg(ttl_secs)
        .query_async(conn)
        .await;
    if let Err(e) = r {
        tracing::debug!(error = %e, "could not refresh the current-jobs entry");
    }
}

/// Removes a finished job from its worker's current-jobs hash.
pub async fn record_end(conn: &mut ConnectionManager, keys: &Keyspace, job_id: &str, worker: &str) {
    let r: redis::RedisResult<()> = redis::cmd("HDEL")
        .arg(keys.worker_jobs(worker))
        .arg(job_id)
        .query_async(conn)
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not clear the current-jobs entry");
    }
}

/// Records a finished job: totals, this minute's bucket, its duration, and, when it
/// failed, the failure with its error. Best effort: a lost figure must never fail a job.
pub async fn record_job(
    conn: &mut ConnectionManager,
    keys: &Keyspace,
    kind: &str,
    job_id: &str,
    secs: f64,
    failure: Option<Failure<'_>>,
) {
    let now = crate::store::now_secs();
    let minute = now.div_euclid(60);
    let outcome = if failure.is_some() { "failed" } else { "done" };
    let field = format!("{kind}_{outcome}");
    let mkey = keys.stats_minute(minute);
    let dkey = keys.stats_durations(kind);
    let mut p = redis::pipe();
    p.hincr(keys.counters(), &field, 1)
        .ignore()
        .hincr(keys.stats_histogram(), bucket_field(kind, secs), 1)
        .ignore()
        .hincr(
            keys.stats_histogram(),
            format!("{kind}_dur_sum_us"),
            (secs * 1e6).round() as i64,
        )
        .ignore()
        .hincr(&mkey, &field, 1)
        .ignore()
        .expire(&mkey, MINUTE_TTL_SECS as i64)
        .ignore()
        .lpush(&dkey, secs)
        .ignore()
        .ltrim(&dkey, 0, DURATIONS_KEPT - 1)
        .ignore();
    if let Some(f) = failure {
        let entry = serde_json::json!({"kind": kind, "job_id": job_id, "error": f.error,
            "at": now, "reason": f.reason.as_str(), "attempts": f.attempts,
            "target": f.target, "worker": f.worker, "secs": secs});
        p.hincr(
            keys.counters(),
            format!("{kind}_dead_{}", f.reason.as_str()),
            1,
        )
        .ignore()
        .lpush(keys.stats_failures(), entry.to_string())
        .ignore()
        .ltrim(keys.stats_failures(), 0, FAILURES_KEPT - 1)
        .ignore();
    }
    if let Err(e) = p.query_async::<()>(conn).await {
        tracing::warn!(error = %e, "could not record job figures");
    }
}

/// Counts one retry of a transient failure (total and this minute).
pub async fn record_retry(conn: &mut ConnectionManager, keys: &Keyspace, kind: &str) {
    let minute = crate::store::now_secs().div_euclid(60);
    let mkey = keys.stats_minute(minute);
    let field = format!("{kind}_retries");
    let mut p = redis::pipe();
    p.hincr(keys.counters(), &field, 1)
        .ignore()
        .hincr(&mkey, &field, 1)
        .ignore()
        .expire(&mkey, MINUTE_TTL_SECS as i64)
        .ignore();
    if let Err(e) = p.query_async::<()>(conn).await {
        tracing::warn!(error = %e, "could not record a retry");
    }
}

/// The `q`-quantile (0..=1) of `values` by nearest rank; `None` when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values
        .get(rank.saturating_sub(1).min(values.len() - 1))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), Some(50.0));
        assert_eq!(quantile(&mut v, 0.95), Some(95.0));
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantile(&mut [3.0], 0.95), Some(3.0));
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket_field("parse", 0.0), "parse_dur_le_0.005");
        assert_eq!(bucket_field("parse", 0.3), "parse_dur_le_0.5");
        assert_eq!(bucket_field("parse", 100.0), "parse_dur_le_inf");
    }
}
