//! Batches on the workers: when the last parse job of a batch ends, the worker that ended
//! it queues one compare job per candidate (against the batch's reference baseline run);
//! when the last of those ends, that worker computes the `profdiff.batch/v1` summary on
//! the CPU pool and stores it under `batch:{id}:data`.
//!
//! Delivery is at-least-once and several workers finish jobs at once, so each phase ends
//! through one Lua step that adds the finished id to a Redis set in the batch's session
//! namespace (`:parsed`, `:compared`) and answers "complete and not yet moved on" exactly
//! when the set holds every id. Re-delivered jobs add nothing new; a worker that dies
//! between "complete" and "moved on" leaves its job unacked, so the re-run repeats the
//! step. Everything the steps write is keyed by ids fixed when the batch was created, so
//! repeating one is harmless (at worst a compare job is queued twice; its handler skips a
//! comparison that is already stored).

use serde::{Deserialize, Serialize};

use super::{CompareJob, JobContext, JobError};
use crate::actors::CpuError;
use crate::jobs::queue::reservation_field;
use crate::store::{now_millis, now_secs, Record};

/// Rows of the summary's top-regressions/improvements lists.
pub const TOP: usize = 20;

/// One candidate's comparison, fixed when the batch is created (field `comparisons` of
/// the batch record, a JSON list in candidate order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchComparison {
    /// Candidate profile id.
    pub candidate: String,
    /// Comparison id (served by `/api/comparisons/{id}`).
    pub id: String,
    /// Status-record id of its compare job.
    pub job: String,
}

/// The batch record's id lists and comparisons.
#[derive(Debug, Default, Clone)]
pub struct BatchPlan {
    /// Baseline profile ids, upload order.
    pub baseline: Vec<String>,
    /// Candidate profile ids, upload order.
    pub candidates: Vec<String>,
    /// One per candidate, same order.
    pub comparisons: Vec<BatchComparison>,
}

impl BatchPlan {
    /// Reads the plan from a batch record; ids that are not well formed are dropped.
    pub fn of(rec: &Record) -> Self {
        let ids = |f: &str| -> Vec<String> {
            rec.get(f)
                .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
                .unwrap_or_default()
                .into_iter()
                .filter(|id| crate::keyspace::is_valid_id(id))
                .collect()
        };
        let comparisons = rec
            .get("comparisons")
            .and_then(|s| serde_json::from_str::<Vec<BatchComparison>>(s).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                [&c.candidate, &c.id, &c.job]
                    .iter()
                    .all(|id| crate::keyspace::is_valid_id(id))
            })
            .collect();
        Self {
            baseline: ids("baseline"),
            candidates: ids("candidate"),
            comparisons,
        }
    }
}

/// The reference baseline run each candidate is compared with: the baseline run whose
/// total time is the median (the lower middle one for an even count; ties keep upload
/// order), so a candidate's comparison shows the same baseline the summary's
/// `baseline_total_time` (the median of the runs) stands for; with one run it is that run.
/// `runs` are (profile id, total time) of the parsed baseline runs in upload order.
pub fn reference_baseline(runs: &[(String, f64)]) -> Option<&str> {
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|a, b| runs[*a].1.total_cmp(&runs[*b].1).then(a.cmp(b)));
    let mid = *order.get(runs.len().checked_sub(1)? / 2)?;
    Some(runs[mid].0.as_str())
}

// KEYS: batch, parsed set, reserved hash. ARGV: profile id, expire_at, reserved field.
// 1 = every parse has ended and the compare phase has not been queued yet.
const PARSE_ENDED_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HDEL', KEYS[3], ARGV[3])
  return 0
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIREAT', KEYS[2], ARGV[2])
-- A record without `total` predates worker-side batches: never advance it.
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '')
if not total then return 0 end
if redis.call('SCARD', KEYS[2]) < total then return 0 end
if redis.call('HEXISTS', KEYS[1], 'compares_queued') == 1 then return 0 end
return 1
"#;

// KEYS: batch, compared set, reserved hash. ARGV: jobs queued, reserved field, baseline.
// Marks the compare phase queued and frees the reserved slots (the jobs are in the queue
// now). 1 = every compare job has already ended (or none was needed): summarize now.
const COMPARES_QUEUED_LUA: &str = r#"
redis.call('HDEL', KEYS[3], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'compares_queued', ARGV[1], 'reference_baseline', ARGV[3])
if redis.call('HEXISTS', KEYS[1], 'summarized') == 1 then return 0 end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then return 1 end
return 0
"#;

// KEYS: batch, compared set. ARGV: comparison id, expire_at.
// 1 = this was the last compare job of the batch and no summary is stored yet.
const COMPARE_ENDED_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIREAT', KEYS[2], ARGV[2])
local queued = redis.call('HGET', KEYS[1], 'compares_queued')
if not queued then return 0 end
if redis.call('SCARD', KEYS[2]) < tonumber(queued) then return 0 end
if redis.call('HEXISTS', KEYS[1], 'summarized') == 1 then return 0 end
return 1
"#;

// KEYS: batch, data. ARGV: blob ('' = no summary), expire_at, error.
const SUMMARIZED_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('SET', KEYS[2], ARGV[1], 'EXAT', ARGV[2]) end
redis.call('HSET', KEYS[1], 'summarized', ARGV[4], 'summary_error', ARGV[3])
return 1
"#;

/// A parse job of batch `bid` has ended (any outcome, or found its profile gone).
pub(super) async fn parse_ended(
    ctx: &JobContext,
    sid: &str,
    bid: &str,
    pid: &str,
    expire_at: i64,
) -> Result<(), JobError> {
    let keys = ctx.store.keys();
    let complete: i32 = redis::Script::new(PARSE_ENDED_LUA)
        .key(keys.batch(sid, bid))
        .key(keys.batch_parsed(sid, bid))
        .key(keys.queue_reserved())
        .arg(pid)
        .arg(expire_at)
        .arg(reservation_field(sid, bid))
        .invoke_async(&mut ctx.store.conn())
        .await
        .map_err(transient)?;
    if complete == 1 {
        queue_compares(ctx, sid, bid, expire_at).await?;
    }
    Ok(())
}

/// A compare job of batch `bid` has ended (any outcome).
pub(super) async fn compare_ended(
    ctx: &JobContext,
    sid: &str,
    bid: &str,
    cid: &str,
    expire_at: i64,
) -> Result<(), JobError> {
    let keys = ctx.store.keys();
    let last: i32 = redis::Script::new(COMPARE_ENDED_LUA)
        .key(keys.batch(sid, bid))
        .key(keys.batch_compared(sid, bid))
        .arg(cid)
        .arg(expire_at)
        .invoke_async(&mut ctx.store.conn())
        .await
        .map_err(transient)?;
    if last == 1 {
        summarize(ctx, sid, bid, expire_at).await?;
    }
    Ok(())
}

fn transient(e: redis::RedisError) -> JobError {
    JobError::Transient(e.to_string())
}

/// Creates each candidate's comparison (a compare job, or at once a failed comparison when
/// the candidate or every baseline run could not be parsed) and queues the jobs.
async fn queue_compares(
    ctx: &JobContext,
    sid: &str,
    bid: &str,
    expire_at: i64,
) -> Result<(), JobError> {
    let store = &ctx.store;
    let keys = store.keys();
    let Some(rec) = store.record(&keys.batch(sid, bid)).await? else {
        return Ok(()); // cleared meanwhile
    };
    let plan = BatchPlan::of(&rec);
    // Status and total time of every run; a missing record is a deleted profile.
    let mut status = std::collections::HashMap::new();
    let mut base_runs = Vec::new();
    for pid in plan.baseline.iter().chain(&plan.candidates) {
        let prec = store.record(&keys.profile(sid, pid)).await?;
        let st = prec
            .as_ref()
            .and_then(|r| r.get("status").cloned())
            .unwrap_or_else(|| "deleted".into());
        let err = prec
            .as_ref()
            .and_then(|r| r.get("error").cloned())
            .unwrap_or_else(|| "the profile was deleted".into());
        if st == "ready" && plan.baseline.contains(pid) {
            let total = prec
                .as_ref()
                .and_then(|r| r.get("summary"))
                .and_then(|s| serde_json::from_str::<crate::store::StoredSummary>(s).ok())
                .map(|s| s.total_time)
                .unwrap_or(0.0);
            if !base_runs.iter().any(|(p, _)| p == pid) {
                base_runs.push((pid.clone(), total));
            }
        }
        status.insert(pid.clone(), (st, err));
    }
    let reference = reference_baseline(&base_runs).map(str::to_owned);
    let now = now_millis();
    let mut jobs = Vec::new();
    let mut p = redis::pipe();
    for c in &plan.comparisons {
        let ckey = keys.comparison(sid, &c.id);
        let jkey = keys.job(sid, &c.job);
        let (cst, cerr) = status
            .get(&c.candidate)
            .cloned()
            .unwrap_or_else(|| ("deleted".into(), String::new()));
        let failure = match (&reference, cst.as_str()) {
            (None, _) => Some("no baseline run of the batch could be parsed".to_string()),
            (Some(_), "ready") => None,
            _ => Some(format!("the candidate profile could not be parsed: {cerr}")),
        };
        let status_word = if failure.is_some() {
            "failed"
        } else {
            "queued"
        };
        let error = failure.clone().unwrap_or_default();
        p.hset_multiple(
            &ckey,
            &[
                ("baseline", reference.as_deref().unwrap_or("")),
                ("candidate", c.candidate.as_str()),
                ("status", status_word),
                ("error", error.as_str()),
                ("job", c.job.as_str()),
                ("created", &now.to_string()),
                ("batch", bid),
            ],
        )
        .ignore()
        .expire_at(&ckey, expire_at)
        .ignore()
        .zadd(keys.comparisons(sid), &c.id, now)
        .ignore()
        .hset_multiple(
            &jkey,
            &[
                ("kind", "compare"),
                ("status", status_word),
                ("error", error.as_str()),
                ("target", c.id.as_str()),
                ("updated", &now_secs().to_string()),
            ],
        )
        .ignore()
        .expire_at(&jkey, expire_at)
        .ignore()
        .zadd(keys.jobs(sid), &c.job, now)
        .ignore();
        if let (None, Some(base)) = (failure, &reference) {
            jobs.push(CompareJob {
                session: sid.to_owned(),
                comparison_id: c.id.clone(),
                job_id: c.job.clone(),
                baseline: base.clone(),
                candidate: c.candidate.clone(),
                expire_at,
                batch: Some(bid.to_owned()),
            });
        }
    }
    for idx in [keys.comparisons(sid), keys.jobs(sid)] {
        p.expire_at(idx, expire_at).ignore();
    }
    // The session may have been cleared between reading the batch and now; a comparison
    // record written after that would outlive it only until the session's expiry.
    if !store.session_alive(sid).await? {
        return Ok(());
    }
    let mut conn = store.conn();
    p.query_async::<()>(&mut conn).await.map_err(transient)?;
    let queued = jobs.len();
    for job in jobs {
        ctx.queues
            .push_compare(job)
            .await
            .map_err(|e| JobError::Transient(e.to_string()))?;
    }
    let now_complete: i32 = redis::Script::new(COMPARES_QUEUED_LUA)
        .key(keys.batch(sid, bid))
        .key(keys.batch_compared(sid, bid))
        .key(keys.queue_reserved())
        .arg(queued)
        .arg(reservation_field(sid, bid))
        .arg(reference.as_deref().unwrap_or(""))
        .invoke_async(&mut conn)
        .await
        .map_err(transient)?;
    tracing::info!(batch = %bid, queued, "batch parsed; compare jobs queued");
    if now_complete == 1 {
        summarize(ctx, sid, bid, expire_at).await?;
    }
    Ok(())
}

/// Computes the summary on the CPU pool from the parsed runs and stores it.
async fn summarize(ctx: &JobContext, sid: &str, bid: &str, expire_at: i64) -> Result<(), JobError> {
    let store = &ctx.store;
    let keys = store.keys();
    let Some(rec) = store.record(&keys.batch(sid, bid)).await? else {
        return Ok(());
    };
    let plan = BatchPlan::of(&rec);
    let mut sides = (Vec::new(), Vec::new());
    for (ids, out) in [
        (&plan.baseline, &mut sides.0),
        (&plan.candidates, &mut sides.1),
    ] {
        for pid in ids {
            let ready = store
                .record(&keys.profile(sid, pid))
                .await?
                .is_some_and(|r| r.get("status").map(String::as_str) == Some("ready"));
            if !ready {
                continue;
            }
            if let Some(blob) = store.get_profile_blob(sid, pid).await? {
                out.push(blob);
            }
        }
    }
    // Only a pool that is going away is worth retrying; anything else would fail the same
    // way on every delivery, so the batch ends with the reason instead of staying open.
    let (blob, error) = match ctx.pool.summarize(sides.0, sides.1, TOP).await {
        Ok(Some(b)) => (Some(b), String::new()),
        Ok(None) => (
            None,
            "no baseline or no candidate dump could be parsed".to_owned(),
        ),
        Err(CpuError::Unavailable) => return Err(CpuError::Unavailable.into()),
        Err(e) => {
            tracing::error!(batch = %bid, error = %e, "could not summarize the batch");
            (None, format!("could not summarize the batch: {e}"))
        }
    };
    let _: i32 = redis::Script::new(SUMMARIZED_LUA)
        .key(keys.batch(sid, bid))
        .key(keys.batch_data(sid, bid))
        .arg(blob.unwrap_or_default())
        .arg(expire_at)
        .arg(error)
        .arg(now_millis())
        .invoke_async(&mut store.conn())
        .await
        .map_err(transient)?;
    tracing::info!(batch = %bid, "batch summarized");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_is_the_median_run_lower_middle_for_even_counts() {
        let runs = |t: &[f64]| -> Vec<(String, f64)> {
            t.iter()
                .enumerate()
                .map(|(i, t)| (format!("p{i}"), *t))
                .collect()
        };
        assert_eq!(reference_baseline(&runs(&[])), None);
        assert_eq!(reference_baseline(&runs(&[5.0])), Some("p0"));
        assert_eq!(reference_baseline(&runs(&[3.0, 1.0, 2.0])), Some("p2"));
        assert_eq!(reference_baseline(&runs(&[4.0, 1.0, 3.0, 2.0])), Some("p3"));
        // Ties keep upload order.
        assert_eq!(reference_baseline(&runs(&[2.0, 2.0, 2.0])), Some("p1"));
    }
}
