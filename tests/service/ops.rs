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

    let res = admin_get(&srv.url("/api/ops/stats"), Some(TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_security_headers("stats", res.headers());
    let s: Value = res.json().await.unwrap();
    let parse = &s["jobs"]["parse"];
    let cmp = &s["jobs"]["compare"];
    assert_eq!(
        (parse["done"].as_u64(), parse["failed"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
    assert_eq!(
        (cmp["done"].as_u64(), cmp["failed"].as_u64()),
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
    // The failure is listed with its error.
    let fails = s["recent_failures"].as_array().unwrap();
    assert_eq!(fails.len(), 1, "{s}");
    assert_eq!(fails[0]["kind"], "parse");
    assert_eq!(fails[0]["job_id"], bad_job.as_str());
    assert!(!fails[0]["error"].as_str().unwrap().is_empty());
    // Per-minute buckets add up to the totals (the sequence ran within the last hour).
    let per_min = s["per_minute"].as_array().unwrap();
    assert_eq!(per_min.len(), 60);
    let sum = |f: &str| per_min.iter().filter_map(|m| m[f].as_u64()).sum::<u64>();
    assert_eq!(
        (sum("parse_done"), sum("parse_failed"), sum("compare_done")),
        (2, 1, 2)
    );
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
    assert_eq!(s["upload_files"], 3);
    assert_eq!(s["upload_bytes"].as_u64(), Some(total));
    assert!(s["redis_memory"]["used_memory"].as_u64().unwrap() > 0);
    assert!(s["host"]["memory_total_bytes"].as_u64().unwrap() > 0);
    assert!(s["host"]["disk_total_bytes"].as_u64().unwrap() > 0);
    // The job figures leave /api/health's own counters readable.
    let (st, h) = get_json(&c, &srv.url("/api/health")).await;
    assert_eq!(st, StatusCode::OK, "{h}");
    assert_eq!(h["jobs"]["parse_failed"], 1, "{h}");

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
        2.0
    );
    assert_eq!(
        m(r#"profdiff_jobs_total{kind="parse",outcome="failed"}"#),
        1.0
    );
    assert_eq!(
        m(r#"profdiff_jobs_total{kind="compare",outcome="done"}"#),
        2.0
    );
    assert_eq!(
        m(r#"profdiff_job_duration_seconds_count{kind="parse"}"#),
        3.0
    );
    assert_eq!(
        m(r#"profdiff_job_duration_seconds_count{kind="compare"}"#),
        2.0
    );
    assert_eq!(
        m(r#"profdiff_job_duration_seconds_bucket{kind="parse",le="+Inf"}"#),
        3.0
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
