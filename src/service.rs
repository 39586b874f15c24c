//! Process start-up for the service commands: `serve` (web + workers + janitor),
//! `web`, `worker` and `migrate`, all sharing one Redis. Graceful shutdown on
//! SIGINT/SIGTERM: stop accepting HTTP, let running jobs finish or hand them back,
//! exit within 10 s.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use anyhow::{bail, Context};
use profdiff_workers::actors::CpuPool;
use profdiff_workers::janitor;
use profdiff_workers::jobs::queue::{QueueSettings, Queues};
use profdiff_workers::jobs::{runner, JobContext};
use profdiff_workers::keyspace::Keyspace;
use profdiff_workers::migrate;
use profdiff_workers::store::Store;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;

use crate::config::Config;
use crate::web::AppState;

/// Which parts this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Web tier, workers and janitor.
    Serve,
    /// Web tier only.
    Web,
    /// Workers (and, unless disabled, the janitor).
    Worker,
}

/// A redis-server this process started because none was configured or running.
struct PrivateRedis(Child);

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Exit status 2 with a message: the service cannot start as configured.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

async fn open(url: &str) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    // Short timeouts: with Redis gone a request must fail fast (503), not hang.
    let cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(3)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    client.get_connection_manager_with_config(cfg).await
}

fn start_private_redis(data_dir: &Path) -> anyhow::Result<(PrivateRedis, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    std::fs::create_dir_all(data_dir)?;
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server")?;
    Ok((PrivateRedis(child), format!("redis://127.0.0.1:{port}/")))
}

async fn connect(
    cfg: &Config,
    allow_private: bool,
) -> anyhow::Result<(ConnectionManager, Option<PrivateRedis>)> {
    let url = cfg.redis_url_or_default();
    match open(&url).await {
        Ok(c) => return Ok((c, None)),
        Err(e) if cfg.redis_url.is_some() || !allow_private => {
            return Err(StartError(format!(
                "cannot reach Redis at {url}: {e}\n\
                 start one with `redis-server` (or `docker run -p 6379:6379 redis:7`), \
                 or set REDIS_URL / --redis-url"
            ))
            .into())
        }
        Err(_) => {}
    }
    let has_server = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_server {
        return Err(StartError(
            "no Redis at 127.0.0.1:6379 and no redis-server on PATH.\n\
             install and start one (`apt-get install redis-server`, `brew install redis`, \
             or `docker run -p 6379:6379 redis:7`), or set REDIS_URL"
                .into(),
        )
        .into());
    }
    let (child, url) = start_private_redis(&cfg.data_dir)?;
    for _ in 0..50 {
        if let Ok(c) = open(&url).await {
            eprintln!(
                "profdiff: no Redis configured or running; started a private redis-server at {url} \
                 (data in memory only, stopped on exit). Set REDIS_URL to use your own."
            );
            return Ok((c, Some(child)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("started redis-server but it did not answer at {url}")
}

fn queue_settings(cfg: &Config) -> QueueSettings {
    QueueSettings {
        heartbeat: Duration::from_secs(cfg.worker_heartbeat_secs.max(1)),
        ..QueueSettings::default()
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn janitor_loop(
    store: Store,
    cfg: Arc<Config>,
    queues: Queues,
    mut stop: watch::Receiver<bool>,
) {
    if cfg.janitor_interval_secs == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.janitor_interval_secs));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let names = queues.names();
                if let Err(e) = janitor::run_once(&store, &cfg.data_dir, &names).await {
                    tracing::warn!(error = %e, "janitor run failed; will retry next period");
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// Without SECRET_KEY, every web process (and every restart) must still bind sessions
/// the same way: the first one stores a random key in Redis, the others read it.
async fn shared_secret(conn: &mut ConnectionManager, keys: &Keyspace) -> anyhow::Result<Vec<u8>> {
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    let key = keys.secret();
    let _: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg(&fresh)
        .arg("NX")
        .query_async(conn)
        .await?;
    let stored: String = redis::cmd("GET").arg(&key).query_async(conn).await?;
    Ok(stored.into_bytes())
}

/// Runs `profdiff migrate`.
pub async fn migrate_cmd(cfg: Config) -> anyhow::Result<()> {
    let (mut conn, _private) = connect(&cfg, false).await?;
    let keys = Keyspace::new(cfg.redis_prefix.clone());
    let (from, to) = migrate::run(&mut conn, &keys).await.map_err(|e| match e {
        migrate::MigrateError::TooNew { .. } => anyhow::Error::new(StartError(e.to_string())),
        other => other.into(),
    })?;
    println!("keyspace layout: version {from} -> {to}");
    Ok(())
}

/// Runs `serve`, `web` or `worker` until a signal arrives.
pub async fn run(cfg: Config, role: Role) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let (mut conn, _private) = connect(&cfg, role == Role::Serve).await?;
    let keys = Keyspace::new(cfg.redis_prefix.clone());
    match migrate::run(&mut conn, &keys).await {
        Ok((from, to)) if from != to => tracing::info!(from, to, "keyspace migrated"),
        Ok(_) => {}
        Err(e @ migrate::MigrateError::TooNew { .. }) => {
            return Err(StartError(e.to_string()).into())
        }
        Err(e) => return Err(e.into()),
    }
    std::fs::create_dir_all(cfg.uploads_dir())
        .with_context(|| format!("creating {}", cfg.uploads_dir().display()))?;
    let store = Store::new(conn.clone(), keys.clone())
        .with_comparison_cache(cfg.comparison_cache_mib.saturating_mul(1 << 20));
    let queues = Queues::new(conn.clone(), &keys, queue_settings(&cfg));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = Vec::new();

    if role != Role::Web {
        let threads = CpuPool::default_threads();
        let ctx = JobContext {
            store: store.clone(),
            pool: CpuPool::start(threads),
            queues: queues.clone(),
            wait_for_profiles: Duration::from_secs(60),
            parse_delay: Duration::from_millis(cfg.debug_parse_delay_ms),
        };
        let concurrency = cfg.worker_concurrency.unwrap_or(threads * 2);
        background.push(tokio::spawn(runner::run_workers(
            ctx,
            queues.clone(),
            concurrency,
            stop_rx.clone(),
        )));
        background.push(tokio::spawn(janitor_loop(
            store.clone(),
            cfg.clone(),
            queues.clone(),
            stop_rx.clone(),
        )));
    }

    if role == Role::Worker {
        println!(
            "profdiff worker running (redis prefix {:?})",
            cfg.redis_prefix
        );
        shutdown_signal().await;
        tracing::info!("shutting down: finishing or handing back running jobs");
    } else {
        let secret = match &cfg.secret_key {
            Some(k) => k.as_bytes().to_vec(),
            None => shared_secret(&mut conn, &keys).await?,
        };
        let state = web::Data::new(AppState {
            store: store.clone(),
            queues: queues.clone(),
            cfg: cfg.clone(),
            secret,
        });
        let listener = TcpListener::bind(&cfg.bind)
            .map_err(|e| StartError(format!("cannot listen on {}: {e}", cfg.bind)))?;
        let addr = listener.local_addr()?;
        let app_cfg = cfg.clone();
        let ops_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(crate::web::cors(&app_cfg))
                .wrap(actix_web::middleware::from_fn(
                    crate::web::security::headers,
                ))
                .wrap(actix_web::middleware::Logger::new("%r %s %Dms").log_target("profdiff::http"))
                .app_data(state.clone())
                // Before the `/api` scope, which would answer 404 for /api/ops/*.
                .configure(|c| {
                    if app_cfg.ops_bind.is_none() {
                        crate::web::ops::configure(c)
                    }
                })
                .configure(crate::web::configure)
        })
        .listen(listener)?
        .shutdown_timeout(2)
        .disable_signals()
        .run();
        println!("profdiff listening on http://{addr}");
        let ops_server = match &cfg.ops_bind {
            Some(bind) => {
                let listener = TcpListener::bind(bind)
                    .map_err(|e| StartError(format!("cannot listen on {bind}: {e}")))?;
                let ops_addr = listener.local_addr()?;
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(actix_web::middleware::from_fn(
                            crate::web::security::headers,
                        ))
                        .app_data(ops_state.clone())
                        .configure(crate::web::ops::configure)
                })
                .listen(listener)?
                .workers(1)
                .shutdown_timeout(2)
                .disable_signals()
                .run();
                println!("profdiff ops listening on http://{ops_addr}");
                let handle = server.handle();
                Some((handle, tokio::spawn(server)))
            }
            None => None,
        };
        let handle = server.handle();
        let server_task = tokio::spawn(server);
        shutdown_signal().await;
        tracing::info!("shutting down: no new requests; finishing running jobs");
        handle.stop(true).await;
        let _ = server_task.await;
        if let Some((h, task)) = ops_server {
            h.stop(true).await;
            let _ = task.await;
        }
    }
    let _ = stop_tx.send(true);
    for task in background {
        let _ = tokio::time::timeout(Duration::from_secs(8), task).await;
    }
    Ok(())
}
