//! Versioned Redis keyspace layout. Each step in `migrations/` is a Lua script run with
//! EVAL, in order, idempotent, recording its number in `schema_version`. A process
//! refuses to run against a keyspace newer than it knows.

use redis::aio::ConnectionManager;

use crate::keyspace::Keyspace;

/// The migrations this build knows, in order.
pub const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/0001_initial.lua"),
    ),
    (
        2,
        "sessions_index",
        include_str!("../../migrations/0002_sessions_index.lua"),
    ),
];

/// The newest layout this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Redis refused or is unreachable.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The keyspace was written by a newer profdiff.
    #[error("the Redis keyspace is at layout version {found}, newer than this build knows ({known}); upgrade profdiff")]
    TooNew {
        /// Version in Redis.
        found: u32,
        /// Newest known here.
        known: u32,
    },
}

/// Current layout version (0 when never migrated).
pub async fn current(conn: &mut ConnectionManager, keys: &Keyspace) -> Result<u32, MigrateError> {
    let v: Option<u32> = redis::cmd("GET")
        .arg(keys.schema_version())
        .query_async(conn)
        .await?;
    Ok(v.unwrap_or(0))
}

/// Applies every pending migration; returns (from, to).
pub async fn run(
    conn: &mut ConnectionManager,
    keys: &Keyspace,
) -> Result<(u32, u32), MigrateError> {
    let from = current(conn, keys).await?;
    if from > latest() {
        return Err(MigrateError::TooNew {
            found: from,
            known: latest(),
        });
    }
    let now = crate::store::now_secs();
    for &(version, name, lua) in MIGRATIONS {
        if version <= from {
            continue;
        }
        let _: u32 = redis::Script::new(lua)
            .key(keys.schema_version())
            .key(keys.sessions())
            .arg(version)
            .arg(keys.prefix())
            .arg(now)
            .invoke_async(conn)
            .await?;
        tracing::info!(version, name, "applied keyspace migration");
    }
    Ok((from, current(conn, keys).await?))
}
