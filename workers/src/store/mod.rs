//! Where parsed profiles, comparison results and job status records live in Redis.
//! Shared by the web tier (reads, job creation) and the workers (results).

pub mod codec;

use std::collections::HashMap;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

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
}

/// Hash fields as strings.
pub type Record = HashMap<String, String>;

impl Store {
    /// Storage over an open connection manager (it reconnects by itself).
    pub fn new(conn: ConnectionManager, keys: Keyspace) -> Self {
        Self { conn, keys }
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

    /// Writes a job record and its target's status in one transaction, with the
    /// session's absolute expiry.
    pub async fn set_status(
        &self,
        sid: &str,
        job_id: &str,
        target_key: &str,
        status: JobStatus,
        error: Option<&str>,
        expire_at: i64,
    ) -> Result<(), StoreError> {
        let job_key = self.keys.job(sid, job_id);
        let err = error.unwrap_or("");
        let now = now_secs();
        let mut p = redis::pipe();
        p.atomic()
            .hset_multiple(
                &job_key,
                &[
                    ("status", status.as_str()),
                    ("error", err),
                    ("updated", &now.to_string()),
                ],
            )
            .ignore()
            .expire_at(&job_key, expire_at)
            .ignore()
            .hset_multiple(
                target_key,
                &[("status", status.profile_word()), ("error", err)],
            )
            .ignore()
            .expire_at(target_key, expire_at)
            .ignore();
        p.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    /// Stores a decoded profile (blob from [`codec::encode`]) and marks it ready (one transaction; idempotent).
    pub async fn put_profile(
        &self,
        sid: &str,
        pid: &str,
        job_id: &str,
        summary: &StoredSummary,
        blob: Vec<u8>,
        expire_at: i64,
    ) -> Result<(), StoreError> {
        let stored_bytes = blob.len().to_string();
        let summary_json = serde_json::to_string(&summary).unwrap_or_default();
        let data_key = self.keys.profile_data(sid, pid);
        let rec_key = self.keys.profile(sid, pid);
        let job_key = self.keys.job(sid, job_id);
        let mut p = redis::pipe();
        p.atomic()
            .set(&data_key, blob)
            .ignore()
            .expire_at(&data_key, expire_at)
            .ignore()
            .hset_multiple(
                &rec_key,
                &[
                    ("status", "ready"),
                    ("error", ""),
                    ("format", summary.format.as_str()),
                    ("summary", summary_json.as_str()),
                    ("stored_bytes", stored_bytes.as_str()),
                ],
            )
            .ignore()
            .hset_multiple(
                &job_key,
                &[
                    ("status", "done"),
                    ("error", ""),
                    ("updated", &now_secs().to_string()),
                ],
            )
            .ignore()
            .expire_at(&job_key, expire_at)
            .ignore();
        p.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    /// Loads a decoded profile's blob (decode it off the async threads).
    pub async fn get_profile_blob(
        &self,
        sid: &str,
        pid: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.conn().get(self.keys.profile_data(sid, pid)).await?)
    }

    /// Stores a comparison result blob and marks comparison and job done.
    pub async fn put_comparison_blob(
        &self,
        sid: &str,
        cid: &str,
        job_id: &str,
        blob: Vec<u8>,
        expire_at: i64,
    ) -> Result<(), StoreError> {
        let data_key = self.keys.comparison_data(sid, cid);
        let rec_key = self.keys.comparison(sid, cid);
        let job_key = self.keys.job(sid, job_id);
        let mut p = redis::pipe();
        p.atomic()
            .set(&data_key, blob)
            .ignore()
            .expire_at(&data_key, expire_at)
            .ignore()
            .hset_multiple(&rec_key, &[("status", "done"), ("error", "")])
            .ignore()
            .hset_multiple(
                &job_key,
                &[
                    ("status", "done"),
                    ("error", ""),
                    ("updated", &now_secs().to_string()),
                ],
            )
            .ignore()
            .expire_at(&job_key, expire_at)
            .ignore();
        p.query_async::<()>(&mut self.conn()).await?;
        Ok(())
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
