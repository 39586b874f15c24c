//! Load test of `profdiff serve`: N concurrent sessions each upload the synth_medium pair,
//! wait for both to parse, compare them and wait for the comparison.
//!
//! Reports p50/p99 of upload → comparison-ready, uploads/s, parse jobs/s, errors, CPU per
//! pair (server, Redis, this generator), server RSS and Redis memory per session. With
//! `--uploads N` it keeps `--sessions` sessions in flight until N uploads are done, clears
//! each finished session, and reports server RSS after the first and the last thousand
//! uploads. With `--workers N` it starts one `profdiff web` and N `profdiff worker`
//! processes instead of `serve` (CPU and RSS are then summed over all of them). Talks only
//! to 127.0.0.1; bounded in count and time. Written in Rust (one async thread) so the
//! generator's own CPU stays small next to the server's.
//!
//! ```text
//! cargo build --release --bin profdiff
//! cargo bench --bench service_load -- --sessions 100
//! cargo bench --bench service_load -- --sessions 100 --workers 2
//! cargo bench --bench service_load -- --sessions 20 --uploads 10000
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Args {
    bin: PathBuf,
    sessions: usize,
    uploads: Option<usize>,
    /// 0: one `profdiff serve`; N: one `profdiff web` and N `profdiff worker` processes.
    workers: usize,
    pair: String,
    redis_url: String,
    timeout: Duration,
}

fn args() -> Args {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        bin: root.join("target/release/profdiff"),
        sessions: 100,
        uploads: None,
        workers: 0,
        pair: "synth_medium".into(),
        redis_url: "redis://127.0.0.1:6379/".into(),
        timeout: Duration::from_secs(120),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes `--bench`; ignore it and anything unknown without a value.
        let mut val = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--bin" => a.bin = val().into(),
            "--sessions" => a.sessions = val().parse().unwrap_or(100).max(1),
            "--uploads" => a.uploads = val().parse().ok(),
            "--workers" => a.workers = val().parse().unwrap_or(0),
            "--pair" => a.pair = val(),
            "--redis-url" => a.redis_url = val(),
            "--timeout" => a.timeout = Duration::from_secs_f64(val().parse().unwrap_or(120.0)),
            _ => {}
        }
    }
    a
}

fn proc_field(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_mib(pid: u32) -> u64 {
    proc_field(pid, "VmRSS:") / 1024
}

/// utime + stime of a process, seconds.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

fn own_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

async fn redis_info(conn: &mut redis::aio::MultiplexedConnection, section: &str) -> String {
    redis::cmd("INFO")
        .arg(section)
        .query_async(conn)
        .await
        .unwrap_or_default()
}

fn info_num(info: &str, key: &str) -> f64 {
    info.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn redis_cpu(conn: &mut redis::aio::MultiplexedConnection) -> f64 {
    let i = redis_info(conn, "cpu").await;
    info_num(&i, "used_cpu_user") + info_num(&i, "used_cpu_sys")
}

async fn redis_mem(conn: &mut redis::aio::MultiplexedConnection) -> f64 {
    info_num(&redis_info(conn, "memory").await, "used_memory")
}

struct Shared {
    base: String,
    files: Vec<(String, Vec<u8>)>,
    timeout: Duration,
}

/// Polls with a short first wait and gentle backoff: cheap for both sides, and the
/// added latency stays below ~100 ms.
fn backoff(d: Duration) -> Duration {
    (d * 3 / 2).min(Duration::from_millis(100))
}

async fn session(sh: &Shared, idx: usize, clear: bool) -> Result<f64, String> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(format!("bench-{idx}"))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut form = reqwest::multipart::Form::new();
    for (name, data) in &sh.files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(data.clone()).file_name(name.clone()),
        );
    }
    let t0 = Instant::now();
    let e = |e: reqwest::Error| e.to_string();
    let r = client
        .post(format!("{}/api/upload", sh.base))
        .multipart(form)
        .send()
        .await
        .map_err(e)?;
    if r.status() != 202 {
        return Err(format!("upload {}", r.status()));
    }
    let v: Value = r.json().await.map_err(e)?;
    let ids: Vec<String> = v["profiles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect();
    if ids.len() != 2 {
        return Err("upload answered without two ids".into());
    }
    let mut wait = Duration::from_millis(20);
    loop {
        let r = client
            .get(format!("{}/api/profiles", sh.base))
            .send()
            .await
            .map_err(e)?;
        if r.status() != 200 {
            return Err(format!("profiles {}", r.status()));
        }
        let v: Value = r.json().await.map_err(e)?;
        let status = |id: &str| {
            v["profiles"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["id"] == id)
                .and_then(|p| p["status"].as_str().map(String::from))
                .unwrap_or_default()
        };
        let st: Vec<String> = ids.iter().map(|i| status(i)).collect();
        if st.iter().any(|s| s == "failed") {
            return Err("parse failed".into());
        }
        if st.iter().all(|s| s == "ready") {
            break;
        }
        if t0.elapsed() > sh.timeout {
            return Err("parse timeout".into());
        }
        tokio::time::sleep(wait).await;
        wait = backoff(wait);
    }
    let r = client
        .post(format!("{}/api/compare", sh.base))
        .json(&serde_json::json!({"baseline": ids[0], "candidate": ids[1]}))
        .send()
        .await
        .map_err(e)?;
    if r.status() != 202 {
        return Err(format!("compare {}", r.status()));
    }
    let v: Value = r.json().await.map_err(e)?;
    let cid = v["comparison_id"].as_str().unwrap_or_default().to_string();
    let mut wait = Duration::from_millis(20);
    loop {
        let r = client
            .get(format!("{}/api/comparisons/{cid}?limit=50", sh.base))
            .send()
            .await
            .map_err(e)?;
        match r.status().as_u16() {
            200 => {
                let _ = r.bytes().await.map_err(e)?;
                break;
            }
            202 => {}
            s => return Err(format!("comparison {s}")),
        }
        if t0.elapsed() > sh.timeout {
            return Err("compare timeout".into());
        }
        tokio::time::sleep(wait).await;
        wait = backoff(wait);
    }
    let total = t0.elapsed().as_secs_f64();
    if clear {
        let r = client
            .post(format!("{}/api/clear", sh.base))
            .send()
            .await
            .map_err(e)?;
        if !r.status().is_success() {
            return Err(format!("clear {}", r.status()));
        }
    }
    Ok(total)
}

fn pct(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let k = ((p / 100.0 * (xs.len() - 1) as f64).round() as usize).min(xs.len() - 1);
    xs[k]
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<(String, Vec<u8>)> = ["before", "after"]
        .iter()
        .map(|s| {
            let name = format!("{}_{s}.prof", a.pair);
            let data = std::fs::read(root.join("tests/fixtures").join(&name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, data)
        })
        .collect();
    let prefix = format!("pdbench:{:08x}:", rand::random::<u32>());
    let data_dir = tempfile::Builder::new()
        .prefix("profdiff-bench-")
        .tempdir()
        .expect("temp dir");
    let rc = redis::Client::open(a.redis_url.as_str()).expect("redis url");
    let mut conn = rc
        .get_multiplexed_async_connection()
        .await
        .expect("redis at --redis-url");
    let mem0 = redis_mem(&mut conn).await;
    let rcpu0 = redis_cpu(&mut conn).await;
    // The same settings for every process; in split mode the web process has no
    // workers and each worker process has no HTTP tier.
    let spawn = |role: &str, n: usize| {
        let log =
            std::fs::File::create(data_dir.path().join(format!("{role}-{n}.log"))).expect("log");
        let mut cmd = Command::new(&a.bin);
        cmd.arg(role);
        if role != "worker" {
            cmd.args(["--bind", "127.0.0.1:0"]);
        }
        cmd.env("REDIS_URL", &a.redis_url)
            .env("REDIS_PREFIX", &prefix)
            .env("DATA_DIR", data_dir.path())
            .env("RUST_LOG", "warn")
            .env("JANITOR_INTERVAL_SECS", "0")
            .env("PROFDIFF_QUEUE_CAP", "5000")
            // All sessions come from one address: limits would turn the load into 429s.
            .env("RATE_LIMIT_PER_IP", "0")
            .env("RATE_LIMIT_PER_SESSION", "0")
            .stdout(if role == "worker" {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", a.bin.display()))
    };
    let mut srv = spawn(if a.workers == 0 { "serve" } else { "web" }, 0);
    let mut workers: Vec<std::process::Child> =
        (1..=a.workers).map(|n| spawn("worker", n)).collect();
    // CPU and memory are summed over every server process.
    let pids: Vec<u32> = std::iter::once(srv.id())
        .chain(workers.iter().map(|w| w.id()))
        .collect();
    let cpu_all = |pids: &[u32]| pids.iter().map(|p| proc_cpu(*p)).sum::<f64>();
    let rss_all = |pids: &[u32]| pids.iter().map(|p| rss_mib(*p)).sum::<u64>();
    let mut line = String::new();
    if let Some(out) = srv.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(|w| w.trim_end_matches('/').to_string());
    let Some(base) = base else {
        let _ = srv.kill();
        for w in &mut workers {
            let _ = w.kill();
        }
        panic!("server did not start: {line:?}");
    };
    let sh = Arc::new(Shared {
        base,
        files,
        timeout: a.timeout,
    });
    let pairs = a.uploads.map_or(a.sessions, |u| u.div_ceil(2).max(1));
    let clear = a.uploads.is_some();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let rss_first: Arc<Mutex<Option<u64>>> = Arc::default();
    // One sample per thousand uploads: steady growth means a leak, a plateau the allocator.
    let rss_samples: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let cpu_srv0 = cpu_all(&pids);
    let cpu_own0 = own_cpu();
    let barrier = Arc::new(tokio::sync::Barrier::new(a.sessions.min(pairs)));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.sessions.min(pairs) {
        let (sh, next, done, first, samples, barrier, pids) = (
            sh.clone(),
            next.clone(),
            done.clone(),
            rss_first.clone(),
            rss_samples.clone(),
            barrier.clone(),
            pids.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= pairs {
                    break out;
                }
                out.push(session(&sh, i, clear).await);
                let uploads = 2 * (done.fetch_add(1, Ordering::SeqCst) + 1);
                if uploads >= 1000 {
                    first.lock().unwrap().get_or_insert_with(|| rss_all(&pids));
                }
                if clear && uploads % 1000 == 0 {
                    samples.lock().unwrap().push((uploads, rss_all(&pids)));
                }
            }
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await.unwrap_or_default());
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu_srv = cpu_all(&pids) - cpu_srv0;
    let cpu_own = own_cpu() - cpu_own0;
    let rss = rss_all(&pids);
    let peak = pids
        .iter()
        .map(|p| proc_field(*p, "VmHWM:") / 1024)
        .sum::<u64>();
    let mem1 = redis_mem(&mut conn).await;
    let rcpu = redis_cpu(&mut conn).await - rcpu0;
    let counters: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(format!("{prefix}stats"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    for p in &pids {
        // SAFETY: plain signal to a child we started.
        unsafe { libc::kill(*p as i32, libc::SIGTERM) };
    }
    let _ = srv.wait();
    for w in &mut workers {
        let _ = w.wait();
    }
    let mut cursor = 0u64;
    loop {
        let (c, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
        }
        cursor = c;
        if cursor == 0 {
            break;
        }
    }

    let mut totals: Vec<f64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .copied()
        .collect();
    totals.sort_by(f64::total_cmp);
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let ok = totals.len();
    let per_pair = |s: f64| r3(s * 1000.0 / pairs as f64);
    let mut report = serde_json::json!({
        "sessions": a.sessions,
        "worker_processes": a.workers,
        "pairs": pairs,
        "pair": a.pair,
        "ok": ok,
        "errors": pairs - ok,
        "error_samples": errors.iter().take(5).collect::<Vec<_>>(),
        "p50_s": r3(pct(&totals, 50.0)),
        "p99_s": r3(pct(&totals, 99.0)),
        "max_s": totals.last().copied().map(r3),
        "wall_s": r3(wall),
        "uploads_per_s": r3(2.0 * ok as f64 / wall),
        "parse_jobs_per_s": r3(*counters.get("parse_done").unwrap_or(&0) as f64 / wall),
        "server_cpu_ms_per_pair": per_pair(cpu_srv),
        "redis_cpu_ms_per_pair": per_pair(rcpu),
        "loadgen_cpu_ms_per_pair": per_pair(cpu_own),
        "server_rss_mib": rss,
        "server_peak_rss_mib": peak,
    });
    if clear {
        let first = *rss_first.lock().unwrap();
        report["rss_after_first_1000_uploads_mib"] = serde_json::json!(first);
        report["rss_at_end_mib"] = serde_json::json!(rss);
        report["rss_mib_per_1000_uploads"] = serde_json::json!(*rss_samples.lock().unwrap());
        report["rss_change_percent"] =
            serde_json::json!(first.map(|f| r3((rss as f64 - f as f64) / f.max(1) as f64 * 100.0)));
    } else {
        report["redis_bytes_per_session"] =
            serde_json::json!(((mem1 - mem0) / pairs as f64) as i64);
        report["raw_dump_bytes_per_session"] =
            serde_json::json!(sh.files.iter().map(|f| f.1.len()).sum::<usize>());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}
