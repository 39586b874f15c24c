//! Removes what expired sessions left behind: upload folders of sessions no longer in
//! Redis, keys of dead sessions (data keys outlive the sliding session record), stale
//! index entries, and apalis' finished-task records (it never expires them).
//!
//! Idempotent and cheap; a Redis lock keeps concurrent janitors (several processes)
//! from doing the same scan twice, and running twice is harmless anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::keyspace::{is_valid_id, Keyspace};
use crate::store::{now_secs, Store, StoreError};

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JanitorReport {
    /// Unix time of the run.
    pub at: i64,
    /// False when another janitor held the lock.
    pub ran: bool,
    /// Dead sessions whose leftovers were removed.
    pub sessions_removed: u64,
    /// Keys deleted.
    pub keys_removed: u64,
    /// Upload folders deleted.
    pub dirs_removed: u64,
    /// apalis task records pruned.
    pub tasks_pruned: u64,
}

/// Runs once. `queues` are the apalis queue names to prune.
pub async fn run_once(
    store: &Store,
    data_dir: &Path,
    queues: &[&str],
) -> Result<JanitorReport, StoreError> {
    let keys = store.keys();
    let mut conn = store.conn();
    let token: u64 = rand::random();
    let locked: Option<String> = redis::cmd("SET")
        .arg(keys.janitor_lock())
        .arg(token)
        .arg("NX")
        .arg("PX")
        .arg(120_000)
        .query_async(&mut conn)
        .await?;
    let mut report = JanitorReport {
        at: now_secs(),
        ..Default::default()
    };
    if locked.is_none() {
        return Ok(report);
    }
    report.ran = true;
    let result = sweep(store, keys, data_dir, queues, &mut report).await;
    // Release only our own lock.
    let _: Result<i32, _> = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    )
    .key(keys.janitor_lock())
    .arg(token)
    .invoke_async(&mut conn)
    .await;
    result?;
    let _: () = conn
        .hset_multiple(
            keys.janitor_last(),
            &[
                ("at", report.at),
                ("sessions_removed", report.sessions_removed as i64),
                ("keys_removed", report.keys_removed as i64),
                ("dirs_removed", report.dirs_removed as i64),
                ("tasks_pruned", report.tasks_pruned as i64),
            ],
        )
        .await?;
    tracing::info!(?report, "janitor run");
    Ok(report)
}

async fn alive(store: &Store, sids: &BTreeSet<String>) -> Result<BTreeSet<String>, StoreError> {
    let list: Vec<&String> = sids.iter().collect();
    let mut live = BTreeSet::new();
    for chunk in list.chunks(500) {
        let mut p = redis::pipe();
        for sid in chunk {
            p.exists(store.keys().session_meta(sid));
        }
        let flags: Vec<bool> = p.query_async(&mut store.conn()).await?;
        for (sid, ok) in chunk.iter().zip(flags) {
            if ok {
                live.insert((*sid).clone());
            }
        }
    }
    Ok(live)
}

async fn sweep(
    store: &Store,
    keys: &Keyspace,
    data_dir: &Path,
    queues: &[&str],
    report: &mut JanitorReport,
) -> Result<(), StoreError> {
    let mut conn = store.conn();
    // 1. Session keys grouped by session.
    let mut by_session: BTreeMap<String, Vec<String>> = BTreeMap::new();
    {
        let mut iter: redis::AsyncIter<String> =
            conn.scan_match(keys.all_session_keys_pattern()).await?;
        while let Some(item) = futures::StreamExt::next(&mut iter).await {
            let key = item?;
            if let Some(sid) = keys.session_of_key(&key) {
                by_session.entry(sid.to_string()).or_default().push(key);
            }
        }
    }
    let indexed: Vec<String> = conn.zrange(keys.sessions(), 0, -1).await?;
    let dirs = upload_dirs(data_dir);
    let mut candidates: BTreeSet<String> = by_session.keys().cloned().collect();
    candidates.extend(indexed.iter().cloned());
    candidates.extend(dirs.iter().map(|(sid, _)| sid.clone()));
    let live = alive(store, &candidates).await?;
    let mut dead_sessions = BTreeSet::new();
    for (sid, ks) in &by_session {
        if live.contains(sid) {
            continue;
        }
        dead_sessions.insert(sid.clone());
        for chunk in ks.chunks(500) {
            let n: u64 = conn.del(chunk).await?;
            report.keys_removed += n;
        }
    }
    for sid in &indexed {
        if !live.contains(sid) {
            dead_sessions.insert(sid.clone());
            let _: () = conn.zrem(keys.sessions(), sid).await?;
        }
    }
    for (sid, path) in &dirs {
        if live.contains(sid) {
            continue;
        }
        dead_sessions.insert(sid.clone());
        match tokio::fs::remove_dir_all(path).await {
            Ok(()) => {
                report.dirs_removed += 1;
                tracing::info!(path = %path.display(), "janitor removed upload folder");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "janitor could not remove folder")
            }
        }
    }
    report.sessions_removed = dead_sessions.len() as u64;
    // 2. Compare slots held for batches that no longer exist (their session died or was
    // cleared before the parses ended): the web tier writes a reservation and its batch
    // record in one step, so a reservation without a batch is a leftover.
    let held: Vec<String> = conn.hkeys(keys.queue_reserved()).await?;
    for field in held {
        let gone = match field.split_once(':') {
            Some((sid, bid)) => !conn.exists::<_, bool>(keys.batch(sid, bid)).await?,
            None => true,
        };
        if gone {
            let _: () = conn.hdel(keys.queue_reserved(), &field).await?;
        }
    }
    // 3. apalis keeps done/dead task data forever; our own records carry the outcome.
    for q in queues {
        for set in ["done", "dead"] {
            let n: u64 = redis::Script::new(PRUNE_LUA)
                .key(format!("{q}:{set}"))
                .key(format!("{q}:data"))
                .key(format!("{q}:meta"))
                .arg(1000)
                .invoke_async(&mut conn)
                .await?;
            report.tasks_pruned += n;
        }
    }
    Ok(())
}

fn upload_dirs(data_dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(data_dir.join("uploads")) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            (is_valid_id(&name) && e.path().is_dir()).then(|| (name, e.path()))
        })
        .collect()
}

const PRUNE_LUA: &str = r#"
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
for _, id in ipairs(ids) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('DEL', KEYS[3] .. ':' .. id)
end
return #ids
"#;
