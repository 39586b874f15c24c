//! Operations dashboard: `GET /api/ops/stats` (JSON), `GET /metrics` (Prometheus text)
//! and the `/ops` page, all behind `PROFDIFF_ADMIN_TOKEN` (404 when it is unset, 401
//! without it). Figures that must be global (jobs, queues, sessions, Redis) come from
//! Redis; host and process figures are this process's, labelled with its name.
//! With `OPS_BIND` they are served on that address only (see `service.rs`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use profdiff_workers::metrics::{quantile, DURATION_BUCKETS};
use profdiff_workers::store::now_secs;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use prometheus::Encoder;
use serde::Serialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::routes::debug::{same, token_of};
use super::AppState;

/// Job kinds, as counted by the workers.
const KINDS: &[&str] = &["parse", "compare"];
/// Minutes the charts show.
const MINUTES: i64 = 60;

/// The page's CSP: its own script, style and fetches only.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Registers `/ops`, its assets, `/api/ops/stats` and `/metrics`.
pub fn configure(app: &mut web::ServiceConfig) {
    app.route("/ops", web::get().to(page))
        .route("/ops/ops.js", web::get().to(script))
        .route("/ops/ops.css", web::get().to(style))
        .route("/api/ops/stats", web::get().to(stats))
        .route("/metrics", web::get().to(metrics));
}

fn require_admin(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    let Some(expected) = state.cfg.admin_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(ApiError::NotFound("route"));
    };
    if token_of(req).is_some_and(|t| same(t, expected)) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The page is not secret (the figures are), but it is only there where ops is enabled.
fn require_enabled(state: &AppState) -> ApiResult<()> {
    match state.cfg.admin_token.as_deref() {
        Some(t) if !t.is_empty() => Ok(()),
        _ => Err(ApiError::NotFound("route")),
    }
}

fn asset(content_type: &str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /ops`: the dashboard page.
#[utoipa::path(get, path = "/ops", tag = "admin", responses((status = 200, description = "Dashboard page"), (status = 404, description = "No admin token configured", body = crate::web::error::ErrorBody)))]
pub async fn page(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_enabled(&state)?;
    Ok(asset(
        "text/html; charset=utf-8",
        include_bytes!("assets/ops/ops.html"),
    ))
}

/// `GET /ops/ops.js`.
#[utoipa::path(get, path = "/ops/ops.js", tag = "admin", responses((status = 200, description = "Dashboard script"), (status = 404, description = "No admin token configured", body = crate::web::error::ErrorBody)))]
pub async fn script(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_enabled(&state)?;
    Ok(asset(
        "text/javascript; charset=utf-8",
        include_bytes!("assets/ops/ops.js"),
    ))
}

/// `GET /ops/ops.css`.
#[utoipa::path(get, path = "/ops/ops.css", tag = "admin", responses((status = 200, description = "Dashboard style"), (status = 404, description = "No admin token configured", body = crate::web::error::ErrorBody)))]
pub async fn style(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_enabled(&state)?;
    Ok(asset(
        "text/css; charset=utf-8",
        include_bytes!("assets/ops/ops.css"),
    ))
}

/// Per-kind job figures.
#[derive(Debug, Default, Serialize)]
struct KindStats {
    queued: u64,
    /// Jobs running now (entries in the live workers' current-jobs hashes).
    running: u64,
    started: u64,
    done: u64,
    failed: u64,
    /// Failed jobs by why they are dead (never re-run): bad input, or retries exhausted.
    dead_bad_input: u64,
    dead_retries_exhausted: u64,
    retries: u64,
    p50_secs: Option<f64>,
    p95_secs: Option<f64>,
    duration_sum_secs: f64,
    /// (upper bound, count in that bucket alone); `inf` last.
    #[serde(skip)]
    buckets: Vec<(f64, u64)>,
}

/// Host figures from sysinfo.
#[derive(Debug, Default, Serialize)]
struct HostStats {
    host: String,
    cpu_usage_percent: f32,
    memory_used_bytes: u64,
    memory_total_bytes: u64,
    disk_available_bytes: u64,
    disk_total_bytes: u64,
    process: String,
    process_rss_bytes: u64,
    /// `jemalloc` in the service processes (see src/alloc.rs).
    allocator: &'static str,
}

/// Everything the dashboard shows.
#[derive(Debug, Serialize)]
struct OpsStats {
    at: i64,
    jobs: HashMap<&'static str, KindStats>,
    per_minute: Vec<Value>,
    recent_failures: Vec<Value>,
    workers: Vec<Value>,
    active_sessions: u64,
    upload_bytes: u64,
    upload_files: u64,
    redis_memory: HashMap<String, u64>,
    host: HostStats,
    janitor: Option<HashMap<String, String>>,
}

fn num<T: std::str::FromStr + Default>(m: &HashMap<String, String>, k: &str) -> T {
    m.get(k).and_then(|v| v.parse().ok()).unwrap_or_default()
}

/// Bytes and files under the uploads folder (bounded walk).
fn disk_usage(dir: &Path) -> (u64, u64) {
    let (mut bytes, mut files) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            seen += 1;
            if seen > 1_000_000 {
                return (bytes, files);
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if let Ok(md) = e.metadata() {
                bytes = bytes.saturating_add(md.len());
                files += 1;
            }
        }
    }
    (bytes, files)
}

/// This process's name in labels: `host-pid`.
fn process_name() -> String {
    format!(
        "{}-{}",
        sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
        std::process::id()
    )
}

/// Host and process figures; CPU usage is over the time since the previous call.
fn host_stats(data_dir: &Path) -> HostStats {
    static SYS: OnceLock<Mutex<sysinfo::System>> = OnceLock::new();
    let sys = SYS.get_or_init(|| Mutex::new(sysinfo::System::new()));
    let Ok(mut sys) = sys.lock() else {
        return HostStats::default();
    };
    sys.refresh_cpu_usage();
    sys.refresh_memory();
    let pid = sysinfo::Pid::from_u32(std::process::id());
    sys.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[pid]), true);
    let rss = sys.process(pid).map(|p| p.memory()).unwrap_or(0);
    let disks = sysinfo::Disks::new_with_refreshed_list();
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let disk = disks
        .list()
        .iter()
        .filter(|d| dir.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len());
    HostStats {
        allocator: crate::allocator_name(),
        host: sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
        cpu_usage_percent: sys.global_cpu_usage(),
        memory_used_bytes: sys.used_memory(),
        memory_total_bytes: sys.total_memory(),
        disk_available_bytes: disk.map(|d| d.available_space()).unwrap_or(0),
        disk_total_bytes: disk.map(|d| d.total_space()).unwrap_or(0),
        process: process_name(),
        process_rss_bytes: rss,
    }
}

/// Jobs running at the end of each minute bucket (oldest first), per kind.
///
/// No sampler writes a running count each minute; it follows from the counts that are
/// kept: walking back from the jobs running now, the minute before had those minus the
/// jobs that started in this minute plus the ones that ended (done or failed) in it.
/// A job whose worker was killed started but never ended, so it can make an earlier
/// minute look one lower; the figure never goes below zero.
fn running_at_minute_ends<'k>(
    buckets: &[HashMap<String, String>],
    now: &HashMap<&'k str, u64>,
) -> Vec<HashMap<&'k str, u64>> {
    let mut out = vec![HashMap::new(); buckets.len()];
    for (kind, running) in now {
        let mut running = *running as i64;
        for (slot, b) in out.iter_mut().zip(buckets).rev() {
            slot.insert(*kind, running.max(0) as u64);
            let n = |what: &str| num::<i64>(b, &format!("{kind}_{what}"));
            running = running - n("started") + n("done") + n("failed");
        }
    }
    out
}

async fn collect(state: &AppState) -> ApiResult<OpsStats> {
    let keys = state.store.keys();
    let mut conn = state.store.conn();
    let now = now_secs();
    let minute = now.div_euclid(60);
    let ttl = i64::try_from(state.cfg.session_ttl_secs).unwrap_or(i64::MAX);

    let mut p = redis::pipe();
    p.hgetall(keys.counters())
        .hgetall(keys.stats_histogram())
        .hgetall(keys.janitor_last())
        .zcount(keys.sessions(), now.saturating_sub(ttl), "+inf")
        .lrange(keys.stats_failures(), 0, -1)
        .cmd("INFO")
        .arg("memory");
    for name in state.queues.names() {
        p.zcard(format!("{name}:scheduled"))
            .llen(format!("{name}:active"));
    }
    for kind in KINDS {
        p.lrange(keys.stats_durations(kind), 0, -1);
    }
    for name in state.queues.names() {
        p.zrange_withscores(format!("{name}:workers"), 0, 999);
    }
    let (mut jobs, janitor, sessions, failures, info, mut workers) = {
        let vals: Vec<redis::Value> = p.query_async(&mut conn).await?;
        let mut it = vals.into_iter();
        let mut next = || it.next().unwrap_or(redis::Value::Nil);
        let counters: HashMap<String, String> = redis::from_redis_value(next()).unwrap_or_default();
        let hist: HashMap<String, String> = redis::from_redis_value(next()).unwrap_or_default();
        let janitor: HashMap<String, String> = redis::from_redis_value(next()).unwrap_or_default();
        let sessions: u64 = redis::from_redis_value(next()).unwrap_or_default();
        let failures: Vec<String> = redis::from_redis_value(next()).unwrap_or_default();
        let info: String = redis::from_redis_value(next()).unwrap_or_default();
        let mut jobs: HashMap<&'static str, KindStats> = HashMap::new();
        let queue_counts: Vec<u64> = (0..4)
            .map(|_| redis::from_redis_value(next()).unwrap_or_default())
            .collect();
        for (i, kind) in KINDS.iter().enumerate() {
            let mut durations: Vec<f64> = redis::from_redis_value(next()).unwrap_or_default();
            let mut k = KindStats {
                queued: queue_counts.get(2 * i).copied().unwrap_or(0)
                    + queue_counts.get(2 * i + 1).copied().unwrap_or(0),
                started: num(&counters, &format!("{kind}_started")),
                done: num(&counters, &format!("{kind}_done")),
                failed: num(&counters, &format!("{kind}_failed")),
                dead_bad_input: num(&counters, &format!("{kind}_dead_bad_input")),
                dead_retries_exhausted: num(&counters, &format!("{kind}_dead_retries_exhausted")),
                retries: num(&counters, &format!("{kind}_retries")),
                duration_sum_secs: num::<i64>(&hist, &format!("{kind}_dur_sum_us")) as f64 / 1e6,
                ..KindStats::default()
            };
            k.p50_secs = quantile(&mut durations, 0.5);
            k.p95_secs = quantile(&mut durations, 0.95);
            k.buckets = DURATION_BUCKETS
                .iter()
                .map(|b| (*b, num(&hist, &format!("{kind}_dur_le_{b}"))))
                .chain(std::iter::once((
                    f64::INFINITY,
                    num(&hist, &format!("{kind}_dur_le_inf")),
                )))
                .collect();
            jobs.insert(*kind, k);
        }
        // apalis' worker registry: name -> last heartbeat (unix seconds).
        let beat = i64::try_from(state.cfg.worker_heartbeat_secs.max(1)).unwrap_or(5);
        let mut workers = Vec::new();
        for kind in KINDS {
            let list: Vec<(String, i64)> = redis::from_redis_value(next()).unwrap_or_default();
            for (name, last) in list {
                let alive = last >= now.saturating_sub(3 * beat);
                // Names are `host-pid-kind-random`.
                let host = name.rsplitn(4, '-').nth(3).unwrap_or("").to_string();
                workers.push(json!({"name": name, "kind": kind, "host": host,
                    "last_heartbeat": last, "alive": alive}));
            }
        }
        (jobs, janitor, sessions, failures, info, workers)
    };

    // What each worker runs now: entries vanish with a killed worker's TTL, so every
    // registered name is asked, alive or not.
    let mut p = redis::pipe();
    for w in &workers {
        p.hgetall(keys.worker_jobs(w["name"].as_str().unwrap_or_default()));
    }
    let current: Vec<HashMap<String, String>> = if workers.is_empty() {
        Vec::new()
    } else {
        p.query_async(&mut conn).await?
    };
    for (w, cur) in workers.iter_mut().zip(current) {
        let mut list: Vec<Value> = cur
            .values()
            .filter_map(|v| serde_json::from_str::<Value>(v).ok())
            .collect();
        list.sort_by_key(|j| j["since"].as_i64().unwrap_or(0));
        for j in &list {
            if let Some(k) = j["kind"].as_str().and_then(|k| jobs.get_mut(k)) {
                k.running += 1;
            }
        }
        w["current_job"] = list.first().cloned().unwrap_or(Value::Null);
        w["current_jobs"] = Value::Array(list);
    }

    // The last hour, one bucket per minute, oldest first.
    let mut p = redis::pipe();
    for m in (minute - MINUTES + 1)..=minute {
        p.hgetall(keys.stats_minute(m));
    }
    let buckets: Vec<HashMap<String, String>> = p.query_async(&mut conn).await?;
    let running_now: HashMap<&str, u64> = KINDS
        .iter()
        .map(|k| (*k, jobs.get(k).map_or(0, |s| s.running)))
        .collect();
    let per_minute = ((minute - MINUTES + 1)..=minute)
        .zip(running_at_minute_ends(&buckets, &running_now))
        .zip(&buckets)
        .map(|((m, running), b)| {
            let mut o = serde_json::Map::new();
            o.insert("minute".into(), json!(m * 60));
            for kind in KINDS {
                for what in ["started", "done", "failed", "retries"] {
                    let f = format!("{kind}_{what}");
                    o.insert(f.clone(), json!(num::<u64>(b, &f)));
                }
                o.insert(format!("{kind}_running"), json!(running[kind]));
            }
            Value::Object(o)
        })
        .collect();

    let redis_memory = info
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| {
            matches!(
                *k,
                "used_memory" | "used_memory_rss" | "used_memory_peak" | "maxmemory"
            )
        })
        .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
        .collect();

    let uploads = state.cfg.uploads_dir();
    let data_dir = state.cfg.data_dir.clone();
    let ((upload_bytes, upload_files), host) =
        web::block(move || (disk_usage(&uploads), host_stats(&data_dir))).await?;

    Ok(OpsStats {
        at: now,
        jobs,
        per_minute,
        recent_failures: failures
            .iter()
            .filter_map(|f| serde_json::from_str(f).ok())
            .collect(),
        workers,
        active_sessions: sessions,
        upload_bytes,
        upload_files,
        redis_memory,
        host,
        janitor: (!janitor.is_empty()).then_some(janitor),
    })
}

/// `GET /api/ops/stats`.
#[utoipa::path(get, path = "/api/ops/stats", tag = "admin", responses((status = 200, description = "Operations figures"), (status = 401, description = "Missing or wrong admin token", body = crate::web::error::ErrorBody), (status = 404, description = "No admin token configured", body = crate::web::error::ErrorBody)))]
pub async fn stats(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let s = collect(&state).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(s))
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name((*k).to_string());
            l.set_value((*v).to_string());
            l
        })
        .collect()
}

fn family(name: &str, help: &str, t: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(t);
    f.set_metric(metrics);
    f
}

fn gauge(pairs: &[(&str, &str)], v: f64) -> Metric {
    let mut m = Metric::default();
    m.set_label(labels(pairs));
    let mut g = Gauge::default();
    g.set_value(v);
    m.set_gauge(g);
    m
}

fn counter(pairs: &[(&str, &str)], v: f64) -> Metric {
    let mut m = Metric::default();
    m.set_label(labels(pairs));
    let mut c = Counter::default();
    c.set_value(v);
    m.set_counter(c);
    m
}

/// `GET /metrics`: the same figures in Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "admin", responses((status = 200, description = "Prometheus text"), (status = 401, description = "Missing or wrong admin token", body = crate::web::error::ErrorBody), (status = 404, description = "No admin token configured", body = crate::web::error::ErrorBody)))]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let s = collect(&state).await?;
    let mut fams = Vec::new();
    let mut jobs = Vec::new();
    let mut started = Vec::new();
    let mut running = Vec::new();
    let mut dead = Vec::new();
    let mut retries = Vec::new();
    let mut queued = Vec::new();
    let mut hists = Vec::new();
    for kind in KINDS {
        let Some(k) = s.jobs.get(kind) else { continue };
        jobs.push(counter(
            &[("kind", kind), ("outcome", "done")],
            k.done as f64,
        ));
        jobs.push(counter(
            &[("kind", kind), ("outcome", "failed")],
            k.failed as f64,
        ));
        started.push(counter(&[("kind", kind)], k.started as f64));
        running.push(gauge(&[("kind", kind)], k.running as f64));
        dead.push(counter(
            &[("kind", kind), ("reason", "bad_input")],
            k.dead_bad_input as f64,
        ));
        dead.push(counter(
            &[("kind", kind), ("reason", "retries_exhausted")],
            k.dead_retries_exhausted as f64,
        ));
        retries.push(counter(&[("kind", kind)], k.retries as f64));
        queued.push(gauge(&[("kind", kind)], k.queued as f64));
        let mut h = Histogram::default();
        let mut cum = 0u64;
        let mut bs = Vec::new();
        for (bound, n) in &k.buckets {
            cum = cum.saturating_add(*n);
            if bound.is_finite() {
                let mut b = Bucket::default();
                b.set_upper_bound(*bound);
                b.set_cumulative_count(cum);
                bs.push(b);
            }
        }
        h.set_bucket(bs);
        h.set_sample_count(cum);
        h.set_sample_sum(k.duration_sum_secs);
        let mut m = Metric::default();
        m.set_label(labels(&[("kind", kind)]));
        m.set_histogram(h);
        hists.push(m);
    }
    fams.push(family(
        "profdiff_jobs_total",
        "Jobs finished, by kind and outcome (all processes).",
        MetricType::COUNTER,
        jobs,
    ));
    fams.push(family(
        "profdiff_jobs_started_total",
        "Jobs started, by kind (all processes; a re-delivered job counts again).",
        MetricType::COUNTER,
        started,
    ));
    fams.push(family(
        "profdiff_jobs_running",
        "Jobs running now, by kind (workers' current-jobs entries).",
        MetricType::GAUGE,
        running,
    ));
    fams.push(family(
        "profdiff_jobs_dead_total",
        "Failed jobs that will not run again, by kind and reason (bad_input, retries_exhausted).",
        MetricType::COUNTER,
        dead,
    ));
    fams.push(family(
        "profdiff_job_retries_total",
        "Retries of transient job failures (all processes).",
        MetricType::COUNTER,
        retries,
    ));
    fams.push(family(
        "profdiff_job_duration_seconds",
        "Job run time from start to recorded outcome (all processes).",
        MetricType::HISTOGRAM,
        hists,
    ));
    let live: Vec<Metric> = KINDS
        .iter()
        .map(|kind| {
            let n = s
                .workers
                .iter()
                .filter(|w| w["kind"] == *kind && w["alive"] == true)
                .count();
            gauge(&[("kind", kind)], n as f64)
        })
        .collect();
    fams.push(family(
        "profdiff_workers_live",
        "Workers with a recent heartbeat, by job kind (apalis registry).",
        MetricType::GAUGE,
        live,
    ));
    fams.push(family(
        "profdiff_queue_depth",
        "Jobs waiting in the queue, by kind.",
        MetricType::GAUGE,
        queued,
    ));
    let g = |name: &str, help: &str, pairs: &[(&str, &str)], v: f64| {
        family(name, help, MetricType::GAUGE, vec![gauge(pairs, v)])
    };
    fams.push(g(
        "profdiff_sessions_active",
        "Sessions active within the idle TTL.",
        &[],
        s.active_sessions as f64,
    ));
    fams.push(g(
        "profdiff_upload_bytes",
        "Bytes of uploads on disk under DATA_DIR.",
        &[],
        s.upload_bytes as f64,
    ));
    fams.push(g(
        "profdiff_redis_used_memory_bytes",
        "Redis used_memory (INFO memory).",
        &[],
        s.redis_memory.get("used_memory").copied().unwrap_or(0) as f64,
    ));
    if let Some(ts) = s
        .janitor
        .as_ref()
        .and_then(|j| j.get("at").and_then(|v| v.parse::<f64>().ok()))
    {
        fams.push(g(
            "profdiff_janitor_last_run_timestamp_seconds",
            "Unix time of the janitor's last run.",
            &[],
            ts,
        ));
    }
    let h = &s.host;
    let host = [("host", h.host.as_str())];
    fams.push(g(
        "profdiff_host_cpu_usage_percent",
        "Host CPU usage since the previous scrape of this process.",
        &host,
        f64::from(h.cpu_usage_percent),
    ));
    fams.push(g(
        "profdiff_host_memory_used_bytes",
        "Host memory in use.",
        &host,
        h.memory_used_bytes as f64,
    ));
    fams.push(g(
        "profdiff_host_memory_total_bytes",
        "Host memory.",
        &host,
        h.memory_total_bytes as f64,
    ));
    fams.push(g(
        "profdiff_host_disk_available_bytes",
        "Free space on the disk holding DATA_DIR.",
        &host,
        h.disk_available_bytes as f64,
    ));
    fams.push(g(
        "profdiff_host_disk_total_bytes",
        "Size of the disk holding DATA_DIR.",
        &host,
        h.disk_total_bytes as f64,
    ));
    fams.push(g(
        "profdiff_process_resident_memory_bytes",
        "Resident memory of the process answering this scrape.",
        &[("process", h.process.as_str())],
        h.process_rss_bytes as f64,
    ));
    let mut out = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&fams, &mut out)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(pairs: &[(&str, u64)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn running_per_minute_walks_back_from_now() {
        // Minute 0: 3 start, 1 ends. Minute 1: 1 starts, 2 end. Minute 2: nothing.
        let buckets = [
            bucket(&[("parse_started", 3), ("parse_done", 1)]),
            bucket(&[("parse_started", 1), ("parse_done", 1), ("parse_failed", 1)]),
            bucket(&[]),
        ];
        let now = HashMap::from([("parse", 1u64), ("compare", 0)]);
        let r = running_at_minute_ends(&buckets, &now);
        let parse: Vec<u64> = r.iter().map(|m| m["parse"]).collect();
        assert_eq!(parse, [2, 1, 1]);
        assert!(r.iter().all(|m| m["compare"] == 0));
        // A job started and never ended (its worker was killed) cannot push a minute
        // below zero.
        let killed = [bucket(&[("parse_started", 1)]), bucket(&[])];
        let r = running_at_minute_ends(&killed, &HashMap::from([("parse", 0u64)]));
        assert_eq!(r.iter().map(|m| m["parse"]).collect::<Vec<_>>(), [0, 0]);
    }
}
