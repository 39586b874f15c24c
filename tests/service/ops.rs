//! Operations figures: after a scripted sequence, /api/ops/stats and /metrics say what
//! happened; both are closed without the admin token.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;
use crate::public::assert_security_headers;

const TOKEN: &str = "ops-secret-token";

async fn admin_get(url: &str, token: Option<&str>) -> reqwest::Response {
    let c = reqwest::Client::new();
    let mut r = c.get(url);
    if let Some(t) = token {
        r = r.header("x-admin-token", t);
    }
    r.send().await.expect("request")
}

/// The value of one sample line `name{labels} value` in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn closed_without_a_token() {
    let env = TestEnv::new();
    let open = env.start("web", &[]);
    for path in ["/ops", "/ops/ops.js", "/api/ops/stats", "/metrics"] {
        let res = admin_get(&open.url(path), Some("anything")).await;
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "{path} with no token set"
        );
    }
    let srv = env.start("web", &[("PROFDIFF_ADMIN_TOKEN", TOKEN)]);
    for path in ["/api/ops/stats", "/metrics"] {
        for tok in [None, Some("wrong"), Some("")] {
            let res = admin_get(&srv.url(path), tok).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path} {tok:?}");
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["error"]["code"], "unauthorized");
        }
    }
    // Bearer works as well as the header.
    let res = reqwest::Client::new()
        .get(srv.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The page itself holds no figures; it is served (with a strict CSP) and asks for
    // the token.
    for (path, ctype) in [
        ("/ops", "text/html"),
        ("/ops/ops.js", "text/javascript"),
        ("/ops/ops.css", "text/css"),
    ] {
        let res = admin_get(&srv.url(path), None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ctype));
        assert_security_headers(path, res.headers());
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
    }
    let html = admin_get(&srv.url("/ops"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<script type="module" src="/ops/ops.js">"#));
    assert!(!html.contains("<script>"), "no inline script");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn figures_match_a_scripted_sequence() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[("PROFDIFF_ADMIN_TOKEN", TOKEN)]);
    let c = user("ops-seq");
    let a = fixture("textpipe_before.prof");
    let b = fixture("textpipe_after.prof");
    let bad = fixture("bad/random_bytes.prof");
    let total = (a.len() + b.len() + bad.len()) as u64;
    let (st, v) = upload(&c, &srv, &[("a.prof", a), ("b.prof", b), ("bad.prof", bad)]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let list = wait_parsed(&c, &srv, 3).await;
    let id = |n: &str| {
        list.iter()
            .find(|p| p["name"] == n)
            .and_then(|p| p["id"].as_str())
            .unwrap()
            .to_string()
    };
    let bad_job = list
        .iter()
        .find(|p| p["name"] == "bad.prof")
        .and_then(|p| p["job_id"].as_str())
        .unwrap()
        .to_string();
    compare(&c, &srv, &id("a.prof"), &id("b.prof")).await;
    compare(&c, &srv, &id("b.prof"), &id("a.prof")).await;
    // A batch: 3 more parse jobs (one fails) and one compare job (the failed candidate's
    // comparison fails without a job).
    let (rb, ra, rbad) = (
        fixture("recursion_before.prof"),
        fixture("recursion_after.prof"),
        fixture("bad/empty.prof"),
    );
    let total = total + (rb.len() + ra.len() + rbad.len()) as u64;
    let form = reqwest::multipart::Form::new()
        .part(
            "baseline",
            reqwest::multipart::Part::bytes(rb).file_name("rb.prof"),
        )
        .part(
            "candidate",
            reqwest::multipart::Part::bytes(ra).file_name("ra.prof"),
        )
        .part(
            "candidate",
            reqwest::multipart::Part::bytes(rbad).file_name("rbad.prof"),
        );
    let res = c
        .post(srv.url("/api/batches"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let bv: Value = res.json().await.unwrap();
    let bid = bv["batch_id"].as_str().unwrap();
    let bad_batch_job = bv["profiles"][2]["job_id"].as_str().unwrap().to_owned();
    let bad_batch_profile = bv["profiles"][2]["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (st, doc) = get_json(&c, &srv.url(&format!("/api/batches/{bid}"))).await;
        if st == StatusCode::OK {
            assert_eq!(doc["status"], "done_with_failures", "{doc}");
            break;
        }
        assert_eq!(st, StatusCode::ACCEPTED, "{doc}");
        assert!(std::time::Instant::now() < deadline, "{doc}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The last compare job summarizes before it ends; wait until nothing runs.
    let s = stats_when(&srv, |s| {
        s["jobs"]["parse"]["running"] == 0 && s["jobs"]["compare"]["running"] == 0
    })
    .await;
    assert!(
        s["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["current_job"].is_null()),
        "{s}"
    );

    let res = admin_get(&srv.url("/api/ops/stats"), Some(TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_security_headers("stats", res.headers());
    let s: Value = res.json().await.unwrap();
    let parse = &s["jobs"]["parse"];
    let cmp = &s["jobs"]["compare"];
    assert_eq!(
        (parse["done"].as_u64(), parse["failed"].as_u64()),
        (Some(4), Some(2)),
        "{s}"
    );
    assert_eq!(
        (cmp["done"].as_u64(), cmp["failed"].as_u64()),
        (Some(3), Some(0)),
        "{s}"
    );
    assert_eq!(
        (parse["started"].as_u64(), cmp["started"].as_u64()),
        (Some(6), Some(3))
    );
    assert_eq!(
        (parse["running"].as_u64(), cmp["running"].as_u64()),
        (Some(0), Some(0))
    );
    let last = s["per_minute"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (
            last["parse_running"].as_u64(),
            last["compare_running"].as_u64()
        ),
        (Some(0), Some(0)),
        "{last}"
    );
    assert_eq!(
        (
            parse["dead_bad_input"].as_u64(),
            parse["dead_retries_exhausted"].as_u64()
        ),
        (Some(2), Some(0)),
        "{s}"
    );
    assert_eq!(parse["queued"], 0);
    assert_eq!(parse["retries"], 0);
    let (p50, p95) = (
        parse["p50_secs"].as_f64().unwrap(),
        parse["p95_secs"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p95 && p95 < 60.0, "{p50} {p95}");
    // The dead jobs are listed (newest first) with their errors and why they are dead.
    let fails = s["recent_failures"].as_array().unwrap();
    assert_eq!(fails.len(), 2, "{s}");
    assert_eq!(fails[1]["kind"], "parse");
    assert_eq!(fails[1]["job_id"], bad_job.as_str());
    assert_eq!(fails[1]["target"], id("bad.prof").as_str());
    assert_eq!(fails[0]["job_id"], bad_batch_job.as_str());
    assert_eq!(fails[0]["target"], bad_batch_profile.as_str());
    for f in fails {
        assert!(!f["error"].as_str().unwrap().is_empty());
        assert_eq!(f["reason"], "bad_input");
        assert_eq!(f["attempts"], 1);
        assert!(f["worker"].as_str().unwrap().contains("-parse-"), "{f}");
    }
    // Per-minute buckets add up to the totals (the sequence ran within the last hour).
    let per_min = s["per_minute"].as_array().unwrap();
    assert_eq!(per_min.len(), 60);
    let sum = |f: &str| per_min.iter().filter_map(|m| m[f].as_u64()).sum::<u64>();
    assert_eq!(
        (sum("parse_done"), sum("parse_failed"), sum("compare_done")),
        (4, 2, 3)
    );
    assert_eq!((sum("parse_started"), sum("compare_started")), (6, 3));
    // This serve process runs one parse and one compare worker, both beating.
    let workers = s["workers"].as_array().unwrap();
    for kind in ["parse", "compare"] {
        assert!(
            workers
                .iter()
                .any(|w| w["kind"] == kind && w["alive"] == true),
            "{s}"
        );
    }
    assert_eq!(s["active_sessions"], 1);
    assert_eq!(s["upload_files"], 6);
    assert_eq!(s["upload_bytes"].as_u64(), Some(total));
    assert!(s["redis_memory"]["used_memory"].as_u64().unwrap() > 0);
    assert!(s["host"]["memory_total_bytes"].as_u64().unwrap() > 0);
    assert!(s["host"]["disk_total_bytes"].as_u64().unwrap() > 0);
    // The service runs on jemalloc (src/alloc.rs); one-shot commands do not.
    assert_eq!(s["host"]["allocator"], "jemalloc");
    // The job figures leave /api/health's own counters readable.
    let (st, h) = get_json(&c, &srv.url("/api/health")).await;
    assert_eq!(st, StatusCode::OK, "{h}");
    assert_eq!(h["jobs"]["parse_failed"], 2, "{h}");

    let res = admin_get(&srv.url("/metrics"), Some(TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let m = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}\n{text}"));
    assert_eq!(
        m(r#"profdiff_jobs_total{kind="parse",outcome="done"}"#),
        4.0
    );
    assert_eq!(
        m(r#"profdiff_jobs_total{kind="parse",outcome="failed"}"#),
        2.0
    );
    assert_eq!(
        m(r#"profdiff_jobs_total{kind="compare",outcome="done"}"#),
        3.0
    );
    assert_eq!(m(r#"profdiff_jobs_started_total{kind="parse"}"#), 6.0);
    assert_eq!(m(r#"profdiff_jobs_started_total{kind="compare"}"#), 3.0);
    assert_eq!(m(r#"profdiff_jobs_running{kind="parse"}"#), 0.0);
    assert_eq!(m(r#"profdiff_jobs_running{kind="compare"}"#), 0.0);
    assert_eq!(
        m(r#"profdiff_jobs_dead_total{kind="parse",reason="bad_input"}"#),
        2.0
    );
    assert_eq!(
        m(r#"profdiff_job_duration_seconds_count{kind="parse"}"#),
        6.0
    );
    assert_eq!(
        m(r#"profdiff_job_duration_seconds_count{kind="compare"}"#),
        3.0
    );
    assert_eq!(
        m(r#"profdiff_job_duration_seconds_bucket{kind="parse",le="+Inf"}"#),
        6.0
    );
    let sum = m(r#"profdiff_job_duration_seconds_sum{kind="parse"}"#);
    assert!(sum > 0.0 && sum < 180.0, "{sum}");
    assert_eq!(m(r#"profdiff_queue_depth{kind="parse"}"#), 0.0);
    assert_eq!(m("profdiff_sessions_active"), 1.0);
    assert!(m(r#"profdiff_workers_live{kind="parse"}"#) >= 1.0);
    assert_eq!(m("profdiff_upload_bytes"), total as f64);
    assert!(m("profdiff_redis_used_memory_bytes") > 0.0);
    assert!(text.contains("# TYPE profdiff_job_duration_seconds histogram"));
    assert!(text.contains("profdiff_process_resident_memory_bytes{process=\""));
}

/// Polls `/api/ops/stats` until `ok` holds (10 s at most) and returns that answer.
async fn stats_when(srv: &Proc, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let res = admin_get(&srv.url("/api/ops/stats"), Some(TOKEN)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let s: Value = res.json().await.unwrap();
        if ok(&s) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "not reached: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The worker (if any) whose current job is `job_id`.
fn runner_of<'a>(s: &'a Value, job_id: &str) -> Option<&'a Value> {
    s["workers"]
        .as_array()?
        .iter()
        .find(|w| w["current_job"]["job_id"] == job_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workers_current_job_shows_while_it_runs_and_vanishes_when_it_is_killed() {
    let env = TestEnv::new();
    // The crash-recovery test hook holds each parse job for a while after it is marked
    // running (no sleep in production code paths).
    let web = env.start("web", &[("PROFDIFF_ADMIN_TOKEN", TOKEN)]);
    let mut worker = env.start("worker", &[("PROFDIFF_DEBUG_PARSE_DELAY_MS", "4000")]);
    let c = user("ops-current");
    let before = profdiff_workers::store::now_secs();
    let (st, v) = upload(&c, &web, &[("a.prof", fixture("textpipe_before.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job = v["profiles"][0]["job_id"].as_str().unwrap().to_owned();
    let s = stats_when(&web, |s| runner_of(s, &job).is_some()).await;
    let w = runner_of(&s, &job).unwrap();
    assert_eq!(w["kind"], "parse");
    assert_eq!(w["alive"], true);
    assert_eq!(w["current_job"]["kind"], "parse");
    let since = w["current_job"]["since"].as_i64().unwrap();
    assert!(
        since >= before - 1 && since <= profdiff_workers::store::now_secs(),
        "{w}"
    );
    assert_eq!(s["jobs"]["parse"]["running"], 1, "{s}");
    // The chart's running series ends at the running count.
    let last = s["per_minute"].as_array().unwrap().last().unwrap();
    assert_eq!(last["parse_running"], 1, "{last}");
    let text = admin_get(&web.url("/metrics"), Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        sample(&text, r#"profdiff_jobs_running{kind="parse"}"#),
        Some(1.0)
    );

    // It ends: the entry goes.
    wait_parsed(&c, &web, 1).await;
    let s = stats_when(&web, |s| s["jobs"]["parse"]["running"] == 0).await;
    assert!(runner_of(&s, &job).is_none(), "{s}");

    // A worker killed mid-job leaves no entry behind once its TTL (3 heartbeats of 1 s)
    // has passed.
    let (st, v) = upload(&c, &web, &[("b.prof", fixture("textpipe_after.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job = v["profiles"][0]["job_id"].as_str().unwrap().to_owned();
    stats_when(&web, |s| runner_of(s, &job).is_some()).await;
    worker.kill9();
    let s = stats_when(&web, |s| s["jobs"]["parse"]["running"] == 0).await;
    assert!(runner_of(&s, &job).is_none(), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ops_bind_moves_the_dashboard_off_the_public_address() {
    let env = TestEnv::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let ops_addr = format!("127.0.0.1:{port}");
    let srv = env.start(
        "web",
        &[("PROFDIFF_ADMIN_TOKEN", TOKEN), ("OPS_BIND", &ops_addr)],
    );
    for path in ["/api/ops/stats", "/metrics", "/ops"] {
        let res = admin_get(&srv.url(path), Some(TOKEN)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "public {path}");
        let res = admin_get(&format!("http://{ops_addr}{path}"), Some(TOKEN)).await;
        assert_eq!(res.status(), StatusCode::OK, "ops {path}");
        assert_security_headers(path, res.headers());
    }
    let res = admin_get(&format!("http://{ops_addr}/metrics"), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
