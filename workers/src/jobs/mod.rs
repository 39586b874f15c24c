//! Background jobs: `parse` (upload → stored profile) and `compare` (two stored profiles →
//! stored comparison), their status records, and the apalis workers that run them. Jobs of
//! a batch also advance it when they end (`batch`: compare jobs, then the summary).
//!
//! Delivery is at-least-once: a job may run again after a worker died mid-way, so every
//! handler checks its target first and writes results under deterministic keys.

pub mod batch;
pub mod engine;
pub mod queue;
pub mod runner;

use std::path::PathBuf;
use std::time::Duration;

use apalis::prelude::{AbortError, BoxDynError, Data, WorkerContext};
use serde::{Deserialize, Serialize};

use crate::actors::{CpuError, CpuPool};
use crate::store::{JobStatus, Store, StoreError};

/// Parse one uploaded dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseJob {
    /// Owning session.
    pub session: String,
    /// Profile id.
    pub profile_id: String,
    /// Status record id.
    pub job_id: String,
    /// Where the upload bytes are.
    pub path: PathBuf,
    /// Display name (sanitised).
    pub name: String,
    /// Absolute expiry of the session's data (unix seconds).
    pub expire_at: i64,
    /// The batch this dump belongs to, if any (absent in jobs queued before batches moved
    /// to the workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

/// Compare two profiles of one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareJob {
    /// Owning session.
    pub session: String,
    /// Comparison id.
    pub comparison_id: String,
    /// Status record id.
    pub job_id: String,
    /// Baseline profile id.
    pub baseline: String,
    /// Candidate profile id.
    pub candidate: String,
    /// Absolute expiry of the session's data (unix seconds).
    pub expire_at: i64,
    /// The batch this comparison belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

/// What handlers share.
#[derive(Clone)]
pub struct JobContext {
    /// Storage.
    pub store: Store,
    /// CPU pool.
    pub pool: CpuPool,
    /// Queues (batches add compare jobs from the worker side).
    pub queues: queue::Queues,
    /// How long a compare job waits for its profiles to be parsed.
    pub wait_for_profiles: Duration,
    /// Pause after a parse job is marked running (zero in production; the crash-recovery
    /// test sets it to kill a worker mid-job deterministically).
    pub parse_delay: Duration,
}

/// Attempts for transient failures (Redis, I/O) before a job is marked failed.
pub const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
enum JobError {
    /// The user's input is bad; fail now, never retry.
    #[error("{0}")]
    Input(String),
    /// Infrastructure trouble; retry.
    #[error("{0}")]
    Transient(String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Transient(e.to_string())
    }
}

impl From<CpuError> for JobError {
    fn from(e: CpuError) -> Self {
        match e {
            CpuError::BadInput(m) => JobError::Input(m),
            // A bug in our own code will not heal on retry; show it as a failure.
            CpuError::Internal(m) => JobError::Input(format!("internal error: {m}")),
            CpuError::Unavailable => JobError::Transient(e.to_string()),
        }
    }
}

/// Runs `step` up to [`MAX_ATTEMPTS`] times, backing off exponentially with jitter on
/// transient errors. apalis-redis re-queues any failure up to 25 times whatever the
/// policy, so the retry budget is kept here and the job ends with `AbortError`.
/// Counts each retry in the ops figures when `ctx` is given.
async fn with_retries<F, Fut>(
    what: &str,
    ctx: Option<&JobContext>,
    mut step: F,
) -> Result<(), JobError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), JobError>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Err(JobError::Transient(msg)) if attempt < MAX_ATTEMPTS => {
                let base = 100u64 << attempt;
                let jitter = rand::random_range(0..=base / 2);
                tracing::warn!(%what, attempt, error = %msg, "transient failure; retrying");
                if let Some(ctx) = ctx {
                    crate::metrics::record_retry(&mut ctx.store.conn(), ctx.store.keys(), what)
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// What `finish` needs to know about the job it records.
struct Ended<'a> {
    kind: &'a str,
    session: &'a str,
    job_id: &'a str,
    /// Profile or comparison id.
    target: &'a str,
    target_key: &'a str,
    expire_at: i64,
    worker: &'a str,
}

async fn finish(
    ctx: &JobContext,
    job: &Ended<'_>,
    (result, started): (Result<(), JobError>, std::time::Instant),
) -> Result<(), BoxDynError> {
    use crate::metrics::{DeadReason, Failure};
    let secs = started.elapsed().as_secs_f64();
    let keys = ctx.store.keys();
    let (kind, job_id) = (job.kind, job.job_id);
    match result {
        Ok(()) => {
            crate::metrics::record_job(&mut ctx.store.conn(), keys, kind, job_id, secs, None).await;
            Ok(())
        }
        Err(e) => {
            let (msg, reason, attempts) = match &e {
                JobError::Input(m) => (m.clone(), DeadReason::BadInput, 1),
                JobError::Transient(m) => (
                    format!("gave up after {MAX_ATTEMPTS} attempts: {m}"),
                    DeadReason::RetriesExhausted,
                    MAX_ATTEMPTS,
                ),
            };
            let failure = Failure {
                error: &msg,
                reason,
                attempts,
                target: job.target,
                worker: job.worker,
            };
            crate::metrics::record_job(
                &mut ctx.store.conn(),
                keys,
                kind,
                job_id,
                secs,
                Some(failure),
            )
            .await;
            tracing::info!(job = %job_id, error = %msg, "job failed");
            let marked = ctx
                .store
                .set_status(
                    job.session,
                    job_id,
                    job.target_key,
                    JobStatus::Failed,
                    Some(&msg),
                    job.expire_at,
                )
                .await;
            if let Err(store_err) = marked {
                // Redis is down: leave the job to be delivered again once it is back.
                return Err(Box::new(store_err));
            }
            Err(Box::new(AbortError::new(msg)))
        }
    }
}

/// A job shown as running in its worker's current-jobs hash for as long as it runs: the
/// entry's TTL (3 heartbeats) is refreshed every heartbeat, so a killed worker's entry
/// vanishes by itself.
struct CurrentJob {
    ctx: JobContext,
    job_id: String,
    worker: String,
    refresher: tokio::task::JoinHandle<()>,
}

impl CurrentJob {
    async fn start(ctx: &JobContext, kind: &str, job_id: &str, worker: &str) -> Self {
        let beat = ctx.queues.settings().heartbeat.max(Duration::from_secs(1));
        let ttl = i64::try_from(beat.as_secs().saturating_mul(3)).unwrap_or(15);
        crate::metrics::record_start(
            &mut ctx.store.conn(),
            ctx.store.keys(),
            kind,
            job_id,
            worker,
            ttl,
        )
        .await;
        let refresher = {
            let (store, worker) = (ctx.store.clone(), worker.to_owned());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(beat);
                tick.tick().await; // the first tick is immediate
                loop {
                    tick.tick().await;
                    crate::metrics::refresh_current(&mut store.conn(), store.keys(), &worker, ttl)
                        .await;
                }
            })
        };
        Self {
            ctx: ctx.clone(),
            job_id: job_id.to_owned(),
            worker: worker.to_owned(),
            refresher,
        }
    }

    async fn end(self) {
        self.refresher.abort();
        let store = &self.ctx.store;
        crate::metrics::record_end(&mut store.conn(), store.keys(), &self.job_id, &self.worker)
            .await;
    }
}

impl Drop for CurrentJob {
    fn drop(&mut self) {
        // Cancelled handler (shutdown): stop refreshing; the entry expires on its own.
        self.refresher.abort();
    }
}

/// The `parse` handler.
pub async fn handle_parse(
    job: ParseJob,
    ctx: Data<JobContext>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    let ctx: &JobContext = &ctx;
    let key = ctx.store.keys().profile(&job.session, &job.profile_id);
    let ended = Ended {
        kind: "parse",
        session: &job.session,
        job_id: &job.job_id,
        target: &job.profile_id,
        target_key: &key,
        expire_at: job.expire_at,
        worker: worker.name(),
    };
    let run = || run_parse(&job, ctx);
    run_to_end(ctx, ended, job.batch.as_deref(), run, batch::parse_ended).await
}

/// What both handlers do around their own work: show the job as running, run it with
/// retries, record how it ended, and, when it ended for good and belongs to a batch,
/// move the batch on (`advance` gets the session, batch, target and expiry).
async fn run_to_end<'a, R, RF, A, AF>(
    ctx: &'a JobContext,
    ended: Ended<'a>,
    batch: Option<&'a str>,
    run: R,
    advance: A,
) -> Result<(), BoxDynError>
where
    R: FnMut() -> RF,
    RF: std::future::Future<Output = Result<(), JobError>>,
    A: Fn(&'a JobContext, &'a str, &'a str, &'a str, i64) -> AF,
    AF: std::future::Future<Output = Result<(), JobError>>,
{
    let current = CurrentJob::start(ctx, ended.kind, ended.job_id, ended.worker).await;
    let started = std::time::Instant::now();
    let result = with_retries(ended.kind, Some(ctx), run).await;
    let mut outcome = finish(ctx, &ended, (result, started)).await;
    if let (Some(bid), true) = (batch, is_final(&outcome)) {
        let step = || advance(ctx, ended.session, bid, ended.target, ended.expire_at);
        if let Err(e) = with_retries("batch", None, step).await {
            // Not an AbortError: apalis delivers the job again and the step is repeated.
            tracing::error!(batch = %bid, error = %e, "could not advance the batch");
            outcome = Err(Box::new(e));
        }
    }
    current.end().await;
    outcome
}

/// Whether a handler's outcome is the job's last word (done, or failed for good), as
/// opposed to an error that has apalis deliver it again.
fn is_final(outcome: &Result<(), BoxDynError>) -> bool {
    match outcome {
        Ok(()) => true,
        Err(e) => e.downcast_ref::<AbortError>().is_some(),
    }
}

async fn run_parse(job: &ParseJob, ctx: &JobContext) -> Result<(), JobError> {
    let store = &ctx.store;
    let key = store.keys().profile(&job.session, &job.profile_id);
    let Some(rec) = store.record(&key).await? else {
        // Deleted or cleared (or the session expired) before we got to it.
        return Ok(());
    };
    if rec.get("status").map(String::as_str) == Some("ready") {
        return Ok(()); // already done by an earlier delivery
    }
    store
        .set_status(
            &job.session,
            &job.job_id,
            &key,
            JobStatus::Running,
            None,
            job.expire_at,
        )
        .await?;
    if !ctx.parse_delay.is_zero() {
        tokio::time::sleep(ctx.parse_delay).await;
    }
    let bytes = match tokio::fs::read(&job.path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if store.record(&key).await?.is_none() {
                return Ok(()); // cleared while we ran
            }
            return Err(JobError::Input("the uploaded file is gone".into()));
        }
        Err(e) => return Err(JobError::Transient(format!("reading the upload: {e}"))),
    };
    let decoded = ctx.pool.decode(bytes, job.name.clone()).await?;
    // Stores nothing if the profile was deleted or cleared while we decoded.
    store
        .put_profile(
            &job.session,
            &job.profile_id,
            &job.job_id,
            &decoded.summary,
            decoded.blob,
            job.expire_at,
        )
        .await?;
    Ok(())
}

/// The `compare` handler.
pub async fn handle_compare(
    job: CompareJob,
    ctx: Data<JobContext>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    let ctx: &JobContext = &ctx;
    let key = ctx
        .store
        .keys()
        .comparison(&job.session, &job.comparison_id);
    let ended = Ended {
        kind: "compare",
        session: &job.session,
        job_id: &job.job_id,
        target: &job.comparison_id,
        target_key: &key,
        expire_at: job.expire_at,
        worker: worker.name(),
    };
    let run = || run_compare(&job, ctx);
    run_to_end(ctx, ended, job.batch.as_deref(), run, batch::compare_ended).await
}

async fn run_compare(job: &CompareJob, ctx: &JobContext) -> Result<(), JobError> {
    let store = &ctx.store;
    let keys = store.keys();
    let key = keys.comparison(&job.session, &job.comparison_id);
    let Some(rec) = store.record(&key).await? else {
        return Ok(());
    };
    if rec.get("status").map(String::as_str) == Some("done")
        && store
            .get_comparison_blob(&job.session, &job.comparison_id)
            .await?
            .is_some()
    {
        return Ok(());
    }
    store
        .set_status(
            &job.session,
            &job.job_id,
            &key,
            JobStatus::Running,
            None,
            job.expire_at,
        )
        .await?;
    let deadline = tokio::time::Instant::now() + ctx.wait_for_profiles;
    let mut blobs = Vec::with_capacity(2);
    for (role, pid) in [("baseline", &job.baseline), ("candidate", &job.candidate)] {
        let pkey = keys.profile(&job.session, pid);
        loop {
            let Some(p) = store.record(&pkey).await? else {
                return Err(JobError::Input(format!("the {role} profile was deleted")));
            };
            match p.get("status").map(String::as_str) {
                Some("ready") => break,
                Some("failed") => {
                    let why = p.get("error").cloned().unwrap_or_default();
                    return Err(JobError::Input(format!(
                        "the {role} profile could not be parsed: {why}"
                    )));
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(JobError::Transient(format!(
                        "the {role} profile is still being parsed"
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let Some(blob) = store.get_profile_blob(&job.session, pid).await? else {
            return Err(JobError::Input(format!("the {role} profile was deleted")));
        };
        blobs.push(blob);
    }
    let candidate = blobs.pop().unwrap_or_default();
    let baseline = blobs.pop().unwrap_or_default();
    let result = ctx.pool.compare(baseline, candidate).await?;
    let wrote = store
        .put_comparison_blob(
            &job.session,
            &job.comparison_id,
            &job.job_id,
            result.blob,
            job.expire_at,
        )
        .await?;
    if wrote {
        store.remember_comparison(
            &job.session,
            &job.comparison_id,
            std::sync::Arc::new(result.comparison),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn run(fail_first: u32, input_error: bool) -> (Result<(), JobError>, u32) {
        let calls = AtomicU32::new(0);
        let r = with_retries("test", None, || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if input_error {
                    Err(JobError::Input("bad dump".into()))
                } else if n <= fail_first {
                    Err(JobError::Transient("redis down".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        (r, calls.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_retry_up_to_five_attempts_bad_input_never() {
        let (r, calls) = run(4, false).await;
        assert!(r.is_ok());
        assert_eq!(calls, 5);
        let (r, calls) = run(u32::MAX, false).await;
        assert!(matches!(r, Err(JobError::Transient(_))));
        assert_eq!(calls, MAX_ATTEMPTS);
        let (r, calls) = run(0, true).await;
        assert!(matches!(r, Err(JobError::Input(_))));
        assert_eq!(calls, 1);
    }
}
