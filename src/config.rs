//! The service's one configuration: command-line flags, each also read from the
//! environment (flags win).

use std::path::PathBuf;

use clap::Args;

/// Settings for `serve`, `web`, `worker` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Redis URL. When unset and nothing answers on 127.0.0.1:6379, `serve` starts a
    /// private redis-server from PATH in the data dir.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Where uploads are kept (`DATA_DIR/uploads/<session>/`).
    #[arg(long, env = "DATA_DIR", default_value = "./profdiff-data")]
    pub data_dir: PathBuf,
    /// Keys the User-Agent binding of sessions (when unset, a random key is created once
    /// and kept in Redis, so restarts and other web processes agree).
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Comma-separated origins allowed to call the API with credentials (CORS).
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Largest upload request in bytes.
    #[arg(long, env = "MAX_UPLOAD_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_upload_bytes: u64,
    /// Idle expiry of a session (sliding), seconds.
    #[arg(long, env = "SESSION_TTL_SECS", default_value_t = 86_400)]
    pub session_ttl_secs: u64,
    /// Absolute cap on a session's life, seconds.
    #[arg(long, env = "SESSION_MAX_AGE_SECS", default_value_t = 7 * 86_400)]
    pub session_max_age_secs: u64,
    /// Token for ops/debug endpoints; they answer 404 when unset.
    #[arg(long, env = "PROFDIFF_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Prefix of every Redis key (tests use one each).
    #[arg(long, env = "REDIS_PREFIX", default_value = "profdiff:")]
    pub redis_prefix: String,
    /// Jobs waiting in the queues beyond which new work answers 429 (apalis-redis
    /// breaks near 8,000 due jobs; stay well below).
    #[arg(long, env = "PROFDIFF_QUEUE_CAP", default_value_t = 2_000)]
    pub queue_cap: u64,
    /// Mark the session cookie `Secure` (behind HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,
    /// Jobs one worker process runs at once per queue (CPU work is bounded by the pool).
    #[arg(long, env = "WORKER_CONCURRENCY")]
    pub worker_concurrency: Option<usize>,
    /// MiB of decoded comparisons each process keeps in memory for repeated reads (0: off).
    #[arg(long, env = "COMPARISON_CACHE_MIB", default_value_t = 32)]
    pub comparison_cache_mib: u64,
    /// Janitor period in seconds (0 disables it in this process).
    #[arg(long, env = "JANITOR_INTERVAL_SECS", default_value_t = 300)]
    pub janitor_interval_secs: u64,
    /// Worker heartbeat in seconds (a killed worker's jobs return after ~3 beats).
    #[arg(long, env = "WORKER_HEARTBEAT_SECS", default_value_t = 5)]
    pub worker_heartbeat_secs: u64,
    /// Rate limits on uploads and compares: the fixed window, seconds.
    #[arg(long, env = "RATE_LIMIT_WINDOW_SECS", default_value_t = 60)]
    pub rate_limit_window_secs: u64,
    /// Uploads + compares one session may start per window (0: no limit).
    #[arg(long, env = "RATE_LIMIT_PER_SESSION", default_value_t = 60)]
    pub rate_limit_per_session: u64,
    /// Uploads + compares one client address may start per window (0: no limit).
    #[arg(long, env = "RATE_LIMIT_PER_IP", default_value_t = 600)]
    pub rate_limit_per_ip: u64,
    /// Take the client address from `X-Forwarded-For`/`Forwarded` (only behind a proxy
    /// that sets them; otherwise clients could pick their own address).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Serve the ops dashboard, `/api/ops/stats` and `/metrics` on this address only
    /// (e.g. a private interface) instead of the public one.
    #[arg(long, env = "OPS_BIND")]
    pub ops_bind: Option<String>,
    /// Test hook: sleep this long inside every parse job (crash-recovery test).
    #[arg(
        long,
        env = "PROFDIFF_DEBUG_PARSE_DELAY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub debug_parse_delay_ms: u64,
}

impl Config {
    /// Session cookie name.
    pub const COOKIE: &'static str = "profdiff_session";

    /// The Redis URL, defaulting to the local standard port.
    pub fn redis_url_or_default(&self) -> String {
        self.redis_url
            .clone()
            .unwrap_or_else(|| "redis://127.0.0.1:6379/".into())
    }
    /// Upload folder root.
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
}
