//! Every Redis key the service uses, built in one place.
//!
//! Layout (all under a configurable prefix, default `profdiff:`):
//! - `session:{sid}:meta` — hash (created, ua, last_seen); its TTL is the sliding idle
//!   expiry and decides whether a session is alive.
//! - `session:{sid}:profiles` — zset of profile ids by upload time.
//! - `session:{sid}:profile:{pid}` — hash (name, size, status, format, error, summary json, job).
//! - `session:{sid}:profile:{pid}:data` — decoded profile (`store::codec` PDP2 layout).
//! - `session:{sid}:comparisons` — zset of comparison ids.
//! - `session:{sid}:cmp:{cid}` — hash (baseline, candidate, status, job, error).
//! - `session:{sid}:cmp:{cid}:data` — the comparison, MessagePack + zstd.
//! - `session:{sid}:batches`, `session:{sid}:batch:{bid}` (+ `:data`, `:parsed`,
//!   `:compared`) — batches.
//! - `session:{sid}:job:{jid}` — job status hash (kind, status, error, target).
//! - `session:{sid}:jobs` — zset of job ids.
//! - `sessions` — zset of live session ids by last activity (debug view, janitor).
//! - `schema_version`, `janitor:last`, `janitor:lock`, `secret`, `stats` — service-wide records.
//! - `reserved` — queue slots held for batches' future compare jobs.
//! - `worker:{name}:jobs` — what a worker runs now (short TTL, refreshed while running).
//! - `queue:parse`, `queue:compare` — apalis-redis queue names (it derives its own keys).
//!
//! Data keys carry the session's absolute expiry; `meta` carries the sliding one. A session
//! whose `meta` is gone is dead: the janitor removes its remaining keys and files.

/// Key builder bound to one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyspace {
    prefix: String,
}

impl Keyspace {
    /// A keyspace under `prefix` (e.g. `profdiff:`; tests use a unique one each).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }
    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// Prefix of every key of one session.
    pub fn session_root(&self, sid: &str) -> String {
        format!("{}session:{sid}:", self.prefix)
    }
    /// Glob matching every session key (for SCAN).
    pub fn all_session_keys_pattern(&self) -> String {
        format!("{}session:*", self.prefix)
    }
    /// Extracts the session id from a session key.
    pub fn session_of_key<'a>(&self, key: &'a str) -> Option<&'a str> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix("session:")?;
        rest.split(':').next().filter(|s| !s.is_empty())
    }
    /// Session record (sliding TTL).
    pub fn session_meta(&self, sid: &str) -> String {
        format!("{}meta", self.session_root(sid))
    }
    /// The session's profile index.
    pub fn profiles(&self, sid: &str) -> String {
        format!("{}profiles", self.session_root(sid))
    }
    /// One profile's record.
    pub fn profile(&self, sid: &str, pid: &str) -> String {
        format!("{}profile:{pid}", self.session_root(sid))
    }
    /// One profile's decoded data.
    pub fn profile_data(&self, sid: &str, pid: &str) -> String {
        format!("{}profile:{pid}:data", self.session_root(sid))
    }
    /// The session's comparison index.
    pub fn comparisons(&self, sid: &str) -> String {
        format!("{}comparisons", self.session_root(sid))
    }
    /// One comparison's record.
    pub fn comparison(&self, sid: &str, cid: &str) -> String {
        format!("{}cmp:{cid}", self.session_root(sid))
    }
    /// One comparison's stored result.
    pub fn comparison_data(&self, sid: &str, cid: &str) -> String {
        format!("{}cmp:{cid}:data", self.session_root(sid))
    }
    /// The session's batch index.
    pub fn batches(&self, sid: &str) -> String {
        format!("{}batches", self.session_root(sid))
    }
    /// One batch's record (hash: baseline and candidate profile ids as JSON, created,
    /// total, comparisons; the workers add the phase markers).
    pub fn batch(&self, sid: &str, bid: &str) -> String {
        format!("{}batch:{bid}", self.session_root(sid))
    }
    /// One batch's computed summary (MessagePack+zstd), written by the worker that ended
    /// the batch's last compare job.
    pub fn batch_data(&self, sid: &str, bid: &str) -> String {
        format!("{}batch:{bid}:data", self.session_root(sid))
    }
    /// Profile ids of a batch whose parse job has ended (set; counts the parse phase).
    pub fn batch_parsed(&self, sid: &str, bid: &str) -> String {
        format!("{}batch:{bid}:parsed", self.session_root(sid))
    }
    /// Comparison ids of a batch whose compare job has ended (set; counts that phase).
    pub fn batch_compared(&self, sid: &str, bid: &str) -> String {
        format!("{}batch:{bid}:compared", self.session_root(sid))
    }
    /// Queue slots held for compare jobs that batches will add once their parses end
    /// (hash `{sid}:{bid}` → count); admission control counts them as queued.
    pub fn queue_reserved(&self) -> String {
        format!("{}reserved", self.prefix)
    }
    /// Jobs a worker runs now (hash job id → JSON `{kind,job_id,since}`); its TTL is
    /// refreshed while a job runs, so a killed worker's entry vanishes by itself.
    pub fn worker_jobs(&self, worker: &str) -> String {
        format!("{}worker:{worker}:jobs", self.prefix)
    }
    /// The session's job index (so `clear` needs no SCAN).
    pub fn jobs(&self, sid: &str) -> String {
        format!("{}jobs", self.session_root(sid))
    }
    /// One job's status record.
    pub fn job(&self, sid: &str, jid: &str) -> String {
        format!("{}job:{jid}", self.session_root(sid))
    }
    /// Live sessions by last activity.
    pub fn sessions(&self) -> String {
        format!("{}sessions", self.prefix)
    }
    /// Service-wide job counters (hash: `parse_done`, `parse_failed`, ...); apalis'
    /// own metrics are not usable with apalis-redis 1.0.
    pub fn counters(&self) -> String {
        format!("{}stats", self.prefix)
    }
    /// Session-binding key used when SECRET_KEY is not configured.
    pub fn secret(&self) -> String {
        format!("{}secret", self.prefix)
    }
    /// Keyspace layout version.
    pub fn schema_version(&self) -> String {
        format!("{}schema_version", self.prefix)
    }
    /// Last janitor run (hash).
    pub fn janitor_last(&self) -> String {
        format!("{}janitor:last", self.prefix)
    }
    /// Lock so that one janitor runs at a time across processes.
    pub fn janitor_lock(&self) -> String {
        format!("{}janitor:lock", self.prefix)
    }
    /// Fixed-window request counter (`scope` is `sid` or `ip`; `who` is hashed by the
    /// caller so no raw address lands in a key name; expires with its window).
    pub fn rate_limit(&self, scope: &str, who: &str, window: u64) -> String {
        format!("{}ratelimit:{scope}:{who}:{window}", self.prefix)
    }
    /// Job figures of one minute (hash `{kind}_{done|failed|retries}`; expires after ~1 h).
    pub fn stats_minute(&self, minute: i64) -> String {
        format!("{}stats:min:{minute}", self.prefix)
    }
    /// Job-duration histogram (hash `{kind}_dur_le_{bound}` per bucket, `{kind}_dur_sum_us`);
    /// apart from `counters`, which stays integer counts shown by /api/health.
    pub fn stats_histogram(&self) -> String {
        format!("{}stats:histogram", self.prefix)
    }
    /// The last job durations of a kind in seconds (capped list, newest first).
    pub fn stats_durations(&self, kind: &str) -> String {
        format!("{}stats:durations:{kind}", self.prefix)
    }
    /// The last failed jobs with their errors (capped list of JSON, newest first).
    pub fn stats_failures(&self) -> String {
        format!("{}stats:failures", self.prefix)
    }
    /// apalis queue name for parse jobs.
    pub fn parse_queue(&self) -> String {
        format!("{}queue:parse", self.prefix)
    }
    /// apalis queue name for compare jobs.
    pub fn compare_queue(&self) -> String {
        format!("{}queue:compare", self.prefix)
    }
    /// Pattern of every key apalis-redis derives from our queues.
    pub fn queue_keys_pattern(&self) -> String {
        format!("{}queue:*", self.prefix)
    }
}

/// Session ids are UUIDv4 in simple (32 hex) form; anything else is refused before it
/// reaches a key (no `:` or `*` can be smuggled into the keyspace).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_under_prefix_and_session() {
        let ks = Keyspace::new("t1:");
        let sid = "0123456789abcdef0123456789abcdef";
        assert_eq!(ks.profile(sid, "p"), format!("t1:session:{sid}:profile:p"));
        assert_eq!(ks.session_of_key(&ks.job(sid, "j")), Some(sid));
        assert_eq!(ks.session_of_key("other:session:x:meta"), None);
        assert!(is_valid_id(sid));
        assert!(!is_valid_id("../../etc/passwd"));
        assert!(!is_valid_id(&sid.to_uppercase()));
    }
}
