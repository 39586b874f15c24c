//! The producer side of the job queues (apalis-redis) plus the guards around it:
//! admission control (queue depth) and a chunked promoter of due jobs.
//!
//! apalis-redis puts every push into `{queue}:scheduled` and its fetch script moves all
//! due ids at once with one Lua `unpack`, which fails past ~8,000 ids and stops every
//! worker silently. The web tier therefore refuses work beyond a cap well below that,
//! and workers run [`promote_due`] so the backlog is moved 1,000 ids at a time.

use std::time::Duration;

use apalis::prelude::TaskSink;
use apalis_redis::{Config, RedisStorage};
use redis::aio::ConnectionManager;

use super::{CompareJob, ParseJob};
use crate::keyspace::Keyspace;

/// Queue settings shared by producers and workers.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Worker heartbeat (also the orphan scan period).
    pub heartbeat: Duration,
    /// Missed heartbeats before a worker's jobs are handed to others.
    pub missed_heartbeats: usize,
    /// Jobs fetched per poll by one worker.
    pub batch_size: usize,
    /// How often idle workers poll.
    pub poll_interval: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        // 5 s × 3 beats: a killed worker's job is back in the queue within ~20 s.
        Self {
            heartbeat: Duration::from_secs(5),
            missed_heartbeats: 3,
            batch_size: 2,
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// Why a job could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis trouble.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// apalis refused the push.
    #[error("queue: {0}")]
    Push(String),
}

/// Both queues, for pushing and measuring.
#[derive(Clone)]
pub struct Queues {
    conn: ConnectionManager,
    parse_name: String,
    compare_name: String,
    reserved: String,
    settings: QueueSettings,
}

/// Field of [`Keyspace::queue_reserved`] holding one batch's reserved compare slots.
pub fn reservation_field(sid: &str, bid: &str) -> String {
    format!("{sid}:{bid}")
}

/// apalis-redis config for one queue name.
pub fn apalis_config(name: &str, s: &QueueSettings) -> Config {
    Config::default()
        .queue(name)
        .heartbeat_interval(s.heartbeat)
        .missed_heartbeats(s.missed_heartbeats)
        .batch_size(s.batch_size.max(1))
        // Must stay on: without it apalis never acks, and finished jobs sit in the
        // worker's inflight set until orphan recovery runs them again. The janitor
        // prunes the acked records (our own status keys carry the outcome).
        .persist_results(true)
}

impl Queues {
    /// Queues of one keyspace.
    pub fn new(conn: ConnectionManager, keys: &Keyspace, settings: QueueSettings) -> Self {
        Self {
            conn,
            parse_name: keys.parse_queue(),
            compare_name: keys.compare_queue(),
            reserved: keys.queue_reserved(),
            settings,
        }
    }
    /// Storage for parse jobs.
    pub fn parse_storage(&self) -> RedisStorage<ParseJob> {
        RedisStorage::new(self.conn.clone())
            .with_config(apalis_config(&self.parse_name, &self.settings))
    }
    /// Storage for compare jobs.
    pub fn compare_storage(&self) -> RedisStorage<CompareJob> {
        RedisStorage::new(self.conn.clone())
            .with_config(apalis_config(&self.compare_name, &self.settings))
    }
    /// Queue names (parse, compare).
    pub fn names(&self) -> [&str; 2] {
        [&self.parse_name, &self.compare_name]
    }
    /// Settings.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }
    /// Pushes a parse job.
    pub async fn push_parse(&self, job: ParseJob) -> Result<(), QueueError> {
        let mut s = self.parse_storage();
        s.push(job)
            .await
            .map_err(|e| QueueError::Push(e.to_string()))
    }
    /// Pushes a compare job.
    pub async fn push_compare(&self, job: CompareJob) -> Result<(), QueueError> {
        let mut s = self.compare_storage();
        s.push(job)
            .await
            .map_err(|e| QueueError::Push(e.to_string()))
    }
    /// Jobs waiting (scheduled + active) over both queues, plus the compare jobs that
    /// running batches hold slots for (they are queued by a worker later, so admission
    /// must count them now or a batch could push the queue past the cap).
    pub async fn depth(&self) -> Result<u64, QueueError> {
        let mut p = redis::pipe();
        for name in self.names() {
            p.zcard(format!("{name}:scheduled"))
                .llen(format!("{name}:active"));
        }
        p.hvals(&self.reserved);
        let (c0, c1, c2, c3, held): (u64, u64, u64, u64, Vec<i64>) =
            p.query_async(&mut self.conn.clone()).await?;
        let held: i64 = held.iter().map(|n| (*n).max(0)).sum();
        Ok(c0 + c1 + c2 + c3 + held.unsigned_abs())
    }
    /// Compare slots held for batches (see [`Queues::depth`]).
    pub async fn reserved(&self) -> Result<u64, QueueError> {
        let held: Vec<i64> = redis::cmd("HVALS")
            .arg(&self.reserved)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(held.iter().map(|n| (*n).max(0).unsigned_abs()).sum())
    }
    /// Moves due jobs from `scheduled` to `active`, at most `chunk` per queue per call.
    pub async fn promote_due(&self, chunk: usize) -> Result<u64, QueueError> {
        let script = redis::Script::new(PROMOTE_LUA);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut moved = 0u64;
        for name in self.names() {
            let n: u64 = script
                .key(format!("{name}:scheduled"))
                .key(format!("{name}:active"))
                .key(format!("{name}:signal"))
                .arg(now)
                .arg(chunk)
                .invoke_async(&mut self.conn.clone())
                .await?;
            moved += n;
        }
        Ok(moved)
    }
}

const PROMOTE_LUA: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids > 0 then
  redis.call('RPUSH', KEYS[2], unpack(ids))
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('DEL', KEYS[3])
  redis.call('LPUSH', KEYS[3], 1)
end
return #ids
"#;
