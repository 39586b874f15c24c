//! Test harness: each test gets its own Redis key prefix and data dir, starts the real
//! `profdiff` binary on a random port, and removes its keys when done.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// The shared Redis every test uses (never stopped by tests).
pub const SHARED_REDIS: &str = "redis://127.0.0.1:6379/";

/// A fixture's bytes from the repo copy.
pub fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// A per-test namespace: key prefix + data dir + Redis URL.
pub struct TestEnv {
    /// Unique key prefix.
    pub prefix: String,
    /// Data dir (removed on drop).
    pub data: tempfile::TempDir,
    /// Redis URL.
    pub redis_url: String,
}

impl TestEnv {
    pub fn new() -> Self {
        Self::with_redis(SHARED_REDIS)
    }
    pub fn with_redis(url: &str) -> Self {
        Self {
            prefix: format!("pdtest:{}:", uuid::Uuid::new_v4().simple()),
            data: tempfile::tempdir().expect("tempdir"),
            redis_url: url.to_string(),
        }
    }
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }
    /// Starts `profdiff ROLE` in this namespace with extra environment.
    pub fn start(&self, role: &str, extra: &[(&str, &str)]) -> Proc {
        let log = self
            .data_dir()
            .join(format!("{role}-{}.log", uuid::Uuid::new_v4().simple()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_profdiff"));
        cmd.arg(role)
            .env("REDIS_URL", &self.redis_url)
            .env("REDIS_PREFIX", &self.prefix)
            .env("DATA_DIR", self.data_dir())
            .env("RUST_LOG", "warn,profdiff_workers=info")
            .env("WORKER_HEARTBEAT_SECS", "1")
            .env("JANITOR_INTERVAL_SECS", "0")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(&log)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        if role != "worker" {
            cmd.args(["--bind", "127.0.0.1:0"]);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn profdiff");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut base = None;
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("profdiff listening on ") {
                        base = Some(addr.trim().to_string());
                        break;
                    }
                    if line.starts_with("profdiff worker running") {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(st)) = child.try_wait() {
                        panic!(
                            "profdiff {role} exited early: {st}; log: {}",
                            std::fs::read_to_string(&log).unwrap_or_default()
                        );
                    }
                }
                Err(_) => break,
            }
        }
        Proc { child, base, log }
    }
    /// Keys of this namespace.
    pub fn keys(&self) -> Vec<String> {
        let Ok(client) = redis::Client::open(self.redis_url.as_str()) else {
            return Vec::new();
        };
        let Ok(mut conn) = client.get_connection() else {
            return Vec::new();
        };
        let iter: redis::Iter<String> = match redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(format!("{}*", self.prefix))
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut conn)
        {
            Ok(i) => i,
            Err(_) => return Vec::new(),
        };
        iter.filter_map(Result::ok).collect()
    }
    /// A synchronous Redis connection.
    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(self.redis_url.as_str())
            .and_then(|c| c.get_connection())
            .expect("redis")
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let keys = self.keys();
        if let (false, Ok(client)) = (
            keys.is_empty(),
            redis::Client::open(self.redis_url.as_str()),
        ) {
            if let Ok(mut conn) = client.get_connection() {
                for chunk in keys.chunks(500) {
                    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query(&mut conn);
                }
            }
        }
    }
}

/// A running profdiff process (killed on drop).
pub struct Proc {
    pub child: Child,
    base: Option<String>,
    /// The process's stderr, printed when a test fails.
    log: PathBuf,
}

impl Proc {
    pub fn base(&self) -> &str {
        self.base.as_deref().expect("process has no HTTP address")
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }
    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL on unix
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the server said (its data dir is about to go).
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            eprintln!("--- {} (last lines) ---", self.log.display());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A browser-like user: its own cookie jar and User-Agent.
pub fn user(ua: &str) -> Client {
    Client::builder()
        .cookie_store(true)
        .user_agent(ua)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Uploads files (name, bytes) in one request.
pub async fn upload(c: &Client, p: &Proc, files: &[(&str, Vec<u8>)]) -> (StatusCode, Value) {
    let mut form = Form::new();
    for (name, bytes) in files {
        form = form.part(
            "file",
            Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    let res = c
        .post(p.url("/api/upload"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

pub async fn get_json(c: &Client, url: &str) -> (StatusCode, Value) {
    let res = c.get(url).send().await.expect("get");
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

/// Waits until every profile of the session is ready or failed.
pub async fn wait_parsed(c: &Client, p: &Proc, expect: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (st, v) = get_json(c, &p.url("/api/profiles")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let list = v["profiles"].as_array().cloned().unwrap_or_default();
        let done = list
            .iter()
            .filter(|x| matches!(x["status"].as_str(), Some("ready" | "failed")))
            .count();
        if list.len() >= expect && done == list.len() {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "profiles not parsed in time: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Queues a comparison and waits for its `profdiff.comparison/v1` document.
pub async fn compare(c: &Client, p: &Proc, baseline: &str, candidate: &str) -> (String, Value) {
    let res = c
        .post(p.url("/api/compare"))
        .json(&serde_json::json!({"baseline": baseline, "candidate": candidate}))
        .send()
        .await
        .expect("compare");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let v: Value = res.json().await.expect("json");
    let cid = v["comparison_id"]
        .as_str()
        .expect("comparison_id")
        .to_string();
    assert!(v["job_id"].is_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (st, doc) = get_json(c, &p.url(&format!("/api/comparisons/{cid}?format=json"))).await;
        match st {
            StatusCode::OK => return (cid, doc),
            StatusCode::ACCEPTED => {}
            other => panic!("comparison failed: {other} {doc}"),
        }
        assert!(Instant::now() < deadline, "comparison not ready in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Files directly inside a directory (recursively), for "nothing kept" checks.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
