//! Runs the apalis workers for both queues in this process until shutdown.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use apalis::prelude::*;
use tokio::sync::watch;

use super::queue::Queues;
use super::{handle_compare, handle_parse, JobContext};

/// How long shutdown waits for running jobs before handing them back (the rest of the
/// 10 s budget is for HTTP and Redis).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(7);

/// A name no other worker has or had recently: apalis-redis makes a worker that
/// re-registers under a name seen within one heartbeat exit silently.
pub fn unique_worker_name(kind: &str) -> String {
    let host = host_name();
    let tag: u32 = rand::random();
    format!("{host}-{}-{kind}-{tag:08x}", std::process::id())
}

/// This machine's name for worker names (and so the /ops page's host column): `HOSTNAME`
/// when exported, else the kernel's (shells set `HOSTNAME` without exporting it, so a
/// service started by systemd or a test harness seldom has it), else `host`.
fn host_name() -> String {
    let named = |h: String| Some(h.trim().to_string()).filter(|h| !h.is_empty());
    std::env::var("HOSTNAME")
        .ok()
        .and_then(named)
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .and_then(named)
        })
        .unwrap_or_else(|| "host".into())
}

/// Runs parse and compare workers (`concurrency` jobs each at a time) plus the chunked
/// promoter, until `shutdown` turns true. Restarts the monitor if it ever stops on its own.
pub async fn run_workers(
    ctx: JobContext,
    queues: Queues,
    concurrency: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let promoter = {
        let queues = queues.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = queues.promote_due(1000).await {
                            tracing::debug!(error = %e, "promoter: redis unavailable");
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
        })
    };
    loop {
        let poll = queues.settings().poll_interval;
        let monitor = Monitor::new()
            .register({
                let (q, c) = (queues.clone(), ctx.clone());
                move |_| {
                    WorkerBuilder::new(unique_worker_name("parse"))
                        .backend(q.parse_storage().poll_with_interval(poll))
                        .data(c.clone())
                        .concurrency(concurrency.max(1))
                        .build(handle_parse)
                }
            })
            .register({
                let (q, c) = (queues.clone(), ctx.clone());
                move |_| {
                    WorkerBuilder::new(unique_worker_name("compare"))
                        .backend(q.compare_storage().poll_with_interval(poll))
                        .data(c.clone())
                        .concurrency(concurrency.max(1))
                        .build(handle_compare)
                }
            })
            // A worker stopped by a Redis outage is restarted (under a fresh name).
            .should_restart(|_, err| {
                // Restarts come every ~0.5 s while Redis is down; say so every 10 s.
                static LAST: AtomicI64 = AtomicI64::new(0);
                let now = crate::store::now_secs();
                let last = LAST.load(Ordering::Relaxed);
                if now - last >= 10
                    && LAST
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::warn!(error = %err, "worker stopped; restarting it");
                }
                true
            })
            .shutdown_timeout(SHUTDOWN_GRACE);
        let mut stop = shutdown.clone();
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
            Ok(())
        };
        match monitor.run_with_signal(signal).await {
            Ok(()) => {}
            Err(e) => tracing::error!(error = %e, "workers stopped with errors"),
        }
        if *shutdown.borrow() {
            break;
        }
        // apalis can return Ok with every worker gone (e.g. a failed fetch script).
        tracing::error!("all workers exited on their own; restarting them in 1 s");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    promoter.abort();
}
