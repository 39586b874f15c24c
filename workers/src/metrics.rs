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

/// Records a finished job: totals, this minute's bucket, its duration, and, when it
/// failed, the error. Best effort: a lost figure must never fail a job.
pub async fn record_job(
    conn: &mut ConnectionManager,
    keys: &Keyspace,
    kind: &str,
    job_id: &str,
    secs: f64,
    error: Option<&str>,
) {
    let now = crate::store::now_secs();
    let minute = now.div_euclid(60);
    let outcome = if error.is_some() { "failed" } else { "done" };
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
    if let Some(err) = error {
        let entry = serde_json::json!({"kind": kind, "job_id": job_id, "error": err, "at": now});
        p.lpush(keys.stats_failures(), entry.to_string())
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
