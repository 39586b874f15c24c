//! Crash recovery (a worker killed with SIGKILL mid-job), Redis outage (503, then
//! recovery without restart) and admission control past the queue cap.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_worker_job_is_finished_by_another() {
    let env = TestEnv::new();
    let web = env.start("web", &[]);
    let mut slow = env.start("worker", &[("PROFDIFF_DEBUG_PARSE_DELAY_MS", "30000")]);
    let c = user("crash");
    let (st, v) = upload(&c, &web, &[("a.prof", fixture("textpipe_before.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job = v["profiles"][0]["job_id"].as_str().unwrap().to_string();
    let pid = v["profiles"][0]["id"].as_str().unwrap().to_string();
    // Wait until the slow worker holds it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, j) = get_json(&c, &web.url(&format!("/api/jobs/{job}"))).await;
        if j["status"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "job never started: {j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slow.kill9();
    let killed_at = Instant::now();
    let _rescuer = env.start("worker", &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let (_, j) = get_json(&c, &web.url(&format!("/api/jobs/{job}"))).await;
        if matches!(j["status"].as_str(), Some("done" | "failed")) {
            break j;
        }
        assert!(
            Instant::now() < deadline,
            "orphaned job not recovered within 60 s: {j}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("recovered in {:?}: {finished}", killed_at.elapsed());
    assert_eq!(finished["status"], "done", "{finished}");
    // The result exists once: one profile, one stored blob.
    let (_, list) = get_json(&c, &web.url("/api/profiles")).await;
    let list = list["profiles"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], pid.as_str());
    assert_eq!(list[0]["status"], "ready");
    let blobs = env
        .keys()
        .iter()
        .filter(|k| k.ends_with(&format!("profile:{pid}:data")))
        .count();
    assert_eq!(blobs, 1);
}

struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
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
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "private redis did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_outage_gives_503_then_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = PrivateRedis::start(port);
    let env = TestEnv::with_redis(&format!("redis://127.0.0.1:{port}/"));
    let srv = env.start("serve", &[]);
    let c = user("outage");
    let (st, _) = upload(&c, &srv, &[("a.prof", fixture("textpipe_before.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    wait_parsed(&c, &srv, 1).await;

    redis.stop();
    for path in ["/api/profiles", "/api/session-info"] {
        let t = Instant::now();
        let (st, v) = get_json(&c, &srv.url(path)).await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{path}: {v}");
        assert_eq!(v["error"]["code"], "unavailable");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{path} took {:?}",
            t.elapsed()
        );
    }
    let (st, v) = upload(&c, &srv, &[("b.prof", fixture("textpipe_after.prof"))]).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let (st, v) = get_json(&c, &srv.url("/api/health")).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v, serde_json::json!({"status": "degraded", "redis": false}));

    // Redis comes back (empty: it kept nothing in memory); the process recovers alone.
    redis = PrivateRedis::start(redis.port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (st, _) = get_json(&c, &srv.url("/api/health")).await;
        if st == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not recover after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (st, v) = upload(&c, &srv, &[("b.prof", fixture("textpipe_after.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let list = wait_parsed(&c, &srv, 1).await;
    assert!(
        list.iter().all(|x| x["status"] == "ready"),
        "workers did not resume: {list:?}"
    );
    drop(srv);
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_cap_answers_429_and_nothing_dies() {
    let env = TestEnv::new();
    // Web tier alone: jobs pile up until the cap.
    let web = env.start("web", &[("PROFDIFF_QUEUE_CAP", "12")]);
    let c = user("flood");
    let bytes = fixture("textpipe_before.prof");
    let mut accepted = 0;
    let mut refused: Option<(StatusCode, Value)> = None;
    for i in 0..20 {
        let (st, v) = upload(
            &c,
            &web,
            &[
                (&format!("f{i}.prof"), bytes.clone()),
                (&format!("g{i}.prof"), bytes.clone()),
            ],
        )
        .await;
        match st {
            StatusCode::ACCEPTED => accepted += 2,
            StatusCode::TOO_MANY_REQUESTS => {
                refused = Some((st, v));
                break;
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    let (_, v) = refused.expect("the cap was never hit");
    assert_eq!(v["error"]["code"], "busy");
    assert_eq!(accepted, 12);
    // Workers drain everything that was admitted; new work is accepted again.
    let _worker = env.start("worker", &[]);
    let list = wait_parsed(&c, &web, accepted).await;
    assert_eq!(list.len(), accepted);
    assert!(list.iter().all(|x| x["status"] == "ready"), "{list:?}");
    let (st, _) = upload(&c, &web, &[("late.prof", bytes)]).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    wait_parsed(&c, &web, accepted + 1).await;
}

/// apalis-redis' fetch script fails above ~8,000 due jobs; the chunked promoter keeps
/// the workers alive through such a backlog (e.g. after a long worker outage).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backlog_past_8000_due_jobs_is_drained() {
    use profdiff_workers::jobs::queue::{QueueSettings, Queues};
    use profdiff_workers::jobs::ParseJob;
    use profdiff_workers::keyspace::Keyspace;

    let env = TestEnv::new();
    let client = redis::Client::open(env.redis_url.as_str()).unwrap();
    let conn = client.get_connection_manager().await.unwrap();
    let keys = Keyspace::new(env.prefix.clone());
    let queues = Queues::new(conn, &keys, QueueSettings::default());
    const N: usize = 8_500;
    for i in 0..N {
        // Jobs of a session that no longer exists: the handler acks them at once.
        let job = ParseJob {
            session: "0".repeat(32),
            profile_id: format!("{i:032x}"),
            job_id: format!("{i:032x}"),
            path: "/nonexistent".into(),
            name: "x.prof".into(),
            expire_at: 0,
            batch: None,
        };
        queues.push_parse(job).await.unwrap();
    }
    assert_eq!(queues.depth().await.unwrap(), N as u64);
    let _worker = env.start("worker", &[]);
    let done_key = format!("{}:done", keys.parse_queue());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut r = env.redis();
        let done: usize = redis::cmd("SCARD").arg(&done_key).query(&mut r).unwrap();
        if done >= N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "backlog not drained: {done}/{N} done"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(queues.depth().await.unwrap(), 0);
}

/// SIGTERM: the process stops accepting HTTP, lets the running job finish (or hands it
/// back) and exits well within 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_exits_within_10s_and_loses_no_job() {
    let env = TestEnv::new();
    let mut srv = env.start("serve", &[("PROFDIFF_DEBUG_PARSE_DELAY_MS", "2000")]);
    let c = user("sigterm");
    let (st, v) = upload(&c, &srv, &[("a.prof", fixture("textpipe_before.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job = v["profiles"][0]["job_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get_json(&c, &srv.url(&format!("/api/jobs/{job}"))).await.1["status"] != "running" {
        assert!(Instant::now() < deadline, "job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = srv.child.id() as i32;
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let t = Instant::now();
    let status = loop {
        if let Some(st) = srv.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("exited {status} after {:?}", t.elapsed());
    assert!(status.success(), "{status}");
    // The job finished during the grace period, or another process finishes it.
    let web = env.start("serve", &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, j) = get_json(&c, &web.url(&format!("/api/jobs/{job}"))).await;
        if matches!(j["status"].as_str(), Some("done" | "failed")) {
            assert_eq!(j["status"], "done", "{j}");
            break;
        }
        assert!(Instant::now() < deadline, "job lost after shutdown: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
