//! Where parsed profiles, comparison results and job status records live in Redis.
//! Shared by the web tier (reads, job creation) and the workers (results).

pub mod cache;
pub mod codec;

use std::collections::HashMap;
use std::sync::Arc;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::compare::Comparison;
use crate::keyspace::Keyspace;
use crate::profile::Profile;

pub use codec::CodecError;

/// Storage failures: Redis or a damaged blob. Both are transient from a user's view.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis refused or is unreachable.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored blob did not read back.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// What a list view needs about a decoded profile, kept beside the blob so listing
/// never loads the blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSummary {
    /// Number of stats entries.
    pub functions: usize,
    /// Σ nc.
    pub total_calls: i64,
    /// Σ cc.
    pub primitive_calls: i64,
    /// Σ tt.
    pub total_time: f64,
    /// Container label, e.g. `marshal v4`.
    pub format: String,
    /// Producer guess, e.g. `cProfile`.
    pub producer: String,
}

impl StoredSummary {
    /// Summary of a decoded profile.
    pub fn of(p: &Profile) -> Self {
        Self {
            functions: p.len(),
            total_calls: p.totals.total_calls,
            primitive_calls: p.totals.primitive_calls,
            total_time: p.totals.total_time,
            format: p.format.label(),
            producer: p.producer.label().to_string(),
        }
    }
}

/// Status of a job (contract words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting in the queue.
    Queued,
    /// A worker has it.
    Running,
    /// Finished; the result is stored.
    Done,
    /// Finished with a user-facing error.
    Failed,
}

impl JobStatus {
    /// The contract word.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }
    /// Parses the contract word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            _ => return None,
        })
    }
    /// The matching profile status (`ready` instead of `done`).
    pub fn profile_word(&self) -> &'static str {
        match self {
            JobStatus::Done => "ready",
            other => other.as_str(),
        }
    }
}

/// Redis-backed storage for one keyspace.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    keys: Keyspace,
    comparisons: Option<Arc<cache::ComparisonCache>>,
}

/// Hash fields as strings.
pub type Record = HashMap<String, String>;

impl Store {
    /// Storage over an open connection manager (it reconnects by itself).
    pub fn new(conn: ConnectionManager, keys: Keyspace) -> Self {
        Self {
            conn,
            keys,
            comparisons: None,
        }
    }
    /// Keeps up to `bytes` of decoded comparisons in this process (0: none). Clones of
    /// the store share the cache, so in `profdiff serve` readers find what workers made.
    pub fn with_comparison_cache(mut self, bytes: u64) -> Self {
        self.comparisons = (bytes > 0).then(|| Arc::new(cache::ComparisonCache::new(bytes)));
        self
    }
    /// A decoded comparison held in this process. Only call it after the comparison's
    /// record was found in `sid`'s namespace (see [`cache`]).
    pub fn cached_comparison(&self, sid: &str, cid: &str) -> Option<Arc<Comparison>> {
        self.comparisons.as_ref()?.get(sid, cid)
    }
    /// Keeps a decoded comparison for later reads in this process.
    pub fn remember_comparison(&self, sid: &str, cid: &str, cmp: Arc<Comparison>) {
        if let Some(c) = &self.comparisons {
            c.insert(sid, cid, cmp);
        }
    }
    /// The key builder.
    pub fn keys(&self) -> &Keyspace {
        &self.keys
    }
    /// A connection handle (cheap clone).
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Whether the session is alive (its sliding record exists).
    pub async fn session_alive(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(self.conn().exists(self.keys.session_meta(sid)).await?)
    }

    /// Reads a hash; `None` when it does not exist.
    pub async fn record(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let rec: Record = self.conn().hgetall(key).await?;
        Ok((!rec.is_empty()).then_some(rec))
    }

    /// Writes a job record and its target's status in one step, with the session's
    /// absolute expiry. Does nothing when the target is gone (deleted, cleared, expired),
    /// so a late job never resurrects a partial record. Returns whether it wrote.
    pub async fn set_status(
        &self,
        sid: &str,
        job_id: &str,
        target_key: &str,
        status: JobStatus,
        error: Option<&str>,
        expire_at: i64,
    ) -> Result<bool, StoreError> {
        let wrote: i32 = redis::Script::new(SET_STATUS_LUA)
            .key(self.keys.job(sid, job_id))
            .key(target_key)
            .arg(status.as_str())
            .arg(status.profile_word())
            .arg(error.unwrap_or(""))
            .arg(now_secs())
            .arg(expire_at)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(wrote == 1)
    }

    /// Stores a decoded profile (blob from [`codec::encode`]) and marks it and its job
    /// ready/done in one step; nothing when the profile record is gone. Idempotent.
    pub async fn put_profile(
        &self,
        sid: &str,
        pid: &str,
        job_id: &str,
        summary: &StoredSummary,
        blob: Vec<u8>,
        expire_at: i64,
    ) -> Result<bool, StoreError> {
        let summary_json = serde_json::to_string(summary).unwrap_or_default();
        let stored_bytes = blob.len();
        let wrote: i32 = redis::Script::new(PUT_RESULT_LUA)
            .key(self.keys.profile_data(sid, pid))
            .key(self.keys.profile(sid, pid))
            .key(self.keys.job(sid, job_id))
            .arg(blob)
            .arg(expire_at)
            .arg(now_secs())
            .arg("ready")
            .arg(summary.format.as_str())
            .arg(summary_json)
            .arg(stored_bytes)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(wrote == 1)
    }

    /// Loads a decoded profile's blob (decode it off the async threads).
    pub async fn get_profile_blob(
        &self,
        sid: &str,
        pid: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.conn().get(self.keys.profile_data(sid, pid)).await?)
    }

    /// Stores a comparison result blob and marks comparison and job done (one step;
    /// nothing when the comparison record is gone).
    pub async fn put_comparison_blob(
        &self,
        sid: &str,
        cid: &str,
        job_id: &str,
        blob: Vec<u8>,
        expire_at: i64,
    ) -> Result<bool, StoreError> {
        let stored_bytes = blob.len();
        let wrote: i32 = redis::Script::new(PUT_RESULT_LUA)
            .key(self.keys.comparison_data(sid, cid))
            .key(self.keys.comparison(sid, cid))
            .key(self.keys.job(sid, job_id))
            .arg(blob)
            .arg(expire_at)
            .arg(now_secs())
            .arg("done")
            .arg("")
            .arg("")
            .arg(stored_bytes)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(wrote == 1)
    }

    /// Loads a comparison result blob.
    pub async fn get_comparison_blob(
        &self,
        sid: &str,
        cid: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.conn().get(self.keys.comparison_data(sid, cid)).await?)
    }
}

// KEYS: job, target. ARGV: job status, target status, error, now, expire_at.
const SET_STATUS_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[3], 'updated', ARGV[4])
redis.call('EXPIREAT', KEYS[1], ARGV[5])
redis.call('HSET', KEYS[2], 'status', ARGV[2], 'error', ARGV[3])
return 1
"#;

// KEYS: data, record, job. ARGV: blob, expire_at, now, record status, format, summary,
// stored bytes. Empty format/summary are left out (comparisons have none).
const PUT_RESULT_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
redis.call('HSET', KEYS[2], 'status', ARGV[4], 'error', '', 'stored_bytes', ARGV[7])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'format', ARGV[5], 'summary', ARGV[6]) end
redis.call('HSET', KEYS[3], 'status', 'done', 'error', '', 'updated', ARGV[3])
redis.call('EXPIREAT', KEYS[3], ARGV[2])
return 1
"#;

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
