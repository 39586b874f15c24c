//! Public-deployment guards: rate limits (429 + Retry-After), CORS for the configured
//! origins only, security headers on every response.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::common::*;

const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// Panics unless the response carries every security header.
pub fn assert_security_headers(what: &str, h: &HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            h.get(*name).and_then(|v| v.to_str().ok()),
            Some(*value),
            "{what}: header {name}"
        );
    }
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_and_compares_over_the_limit_get_429_with_retry_after() {
    let env = TestEnv::new();
    // A day-long window: the test cannot straddle a window boundary in practice.
    let srv = env.start(
        "serve",
        &[
            ("RATE_LIMIT_WINDOW_SECS", "86400"),
            ("RATE_LIMIT_PER_SESSION", "3"),
            ("RATE_LIMIT_PER_IP", "6"),
        ],
    );
    let a = user("limit-a");
    let dump = fixture("textpipe_before.prof");
    let (st, v) = upload(&a, &srv, &[("a.prof", dump.clone())]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let (st, v) = upload(&a, &srv, &[("b.prof", fixture("textpipe_after.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let list = wait_parsed(&a, &srv, 2).await;
    let ids: Vec<&str> = list.iter().filter_map(|p| p["id"].as_str()).collect();
    // Third request of the session: a compare, still within the budget.
    let body = serde_json::json!({"baseline": ids[0], "candidate": ids[1]});
    let res = a
        .post(srv.url("/api/compare"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // Fourth: over the session budget, for compares and uploads alike.
    for attempt in 0..2 {
        let res = if attempt == 0 {
            a.post(srv.url("/api/compare"))
                .json(&body)
                .send()
                .await
                .unwrap()
        } else {
            a.post(srv.url("/api/upload"))
                .multipart(reqwest::multipart::Form::new().part(
                    "file",
                    reqwest::multipart::Part::bytes(dump.clone()).file_name("c.prof"),
                ))
                .send()
                .await
                .unwrap()
        };
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok())
            .expect("Retry-After in seconds");
        assert!((1..=86_400).contains(&retry), "{retry}");
        assert_security_headers("429", res.headers());
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], "rate_limited", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("session"));
    }
    // Reads are not limited.
    let (st, v) = get_json(&a, &srv.url("/api/profiles")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(2), "{v}");

    // A fresh session from the same address: every attempt counts against the address,
    // the two refused ones too, so 5 are counted and 1 is left.
    let b = user("limit-b");
    let (st, v) = upload(&b, &srv, &[("a.prof", dump.clone())]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let (st, v) = upload(&b, &srv, &[("a.prof", dump.clone())]).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("address"),
        "{v}"
    );
    // The refused upload left nothing behind.
    let (_, v) = get_json(&b, &srv.url("/api/profiles")).await;
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(1), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_hold_across_web_processes() {
    let env = TestEnv::new();
    let extra = [
        ("RATE_LIMIT_WINDOW_SECS", "86400"),
        ("RATE_LIMIT_PER_SESSION", "0"),
        ("RATE_LIMIT_PER_IP", "2"),
    ];
    let w1 = env.start("web", &extra);
    let w2 = env.start("web", &extra);
    let c = user("two-webs");
    let dump = fixture("textpipe_before.prof");
    let (st, _) = upload(&c, &w1, &[("a.prof", dump.clone())]).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (st, _) = upload(&c, &w2, &[("a.prof", dump.clone())]).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (st, v) = upload(&c, &w1, &[("a.prof", dump)]).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
}

async fn send(c: &reqwest::Client, m: Method, url: &str, origin: &str) -> reqwest::Response {
    let mut r = c.request(m.clone(), url).header("origin", origin);
    if m == Method::OPTIONS {
        r = r
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type");
    }
    r.send().await.expect("request")
}

fn acao(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cors_only_for_allowed_origins() {
    let env = TestEnv::new();
    let good = "https://good.example";
    let srv = env.start(
        "web",
        &[(
            "ALLOWED_ORIGINS",
            "https://good.example,https://other.example",
        )],
    );
    let c = user("cors");
    // Preflight and actual request from a configured origin: allowed, with credentials.
    for m in [Method::OPTIONS, Method::GET] {
        let res = send(&c, m.clone(), &srv.url("/api/profiles"), good).await;
        assert!(res.status().is_success(), "{m}: {}", res.status());
        assert_eq!(acao(&res).as_deref(), Some(good), "{m}");
        assert_eq!(
            res.headers()
                .get("access-control-allow-credentials")
                .and_then(|v| v.to_str().ok()),
            Some("true"),
            "{m}"
        );
        assert_security_headers("CORS allowed", res.headers());
    }
    // An unknown origin: the preflight is refused, and no answer names it as allowed,
    // so a browser neither sends the real request nor lets the page read a response.
    let res = send(
        &c,
        Method::OPTIONS,
        &srv.url("/api/upload"),
        "https://evil.example",
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(acao(&res), None);
    assert_security_headers("CORS refused", res.headers());
    for m in [Method::GET, Method::POST] {
        let res = send(
            &c,
            m.clone(),
            &srv.url("/api/clear"),
            "https://evil.example",
        )
        .await;
        assert_eq!(acao(&res), None, "{m}");
        assert_security_headers("CORS refused", res.headers());
    }
    // Same-origin requests (no Origin header) are unaffected.
    let (st, _) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(st, StatusCode::OK);

    // Without ALLOWED_ORIGINS nothing cross-origin is allowed.
    let closed = env.start("web", &[]);
    let res = send(&c, Method::OPTIONS, &closed.url("/api/upload"), good).await;
    assert_eq!(acao(&res), None);
    assert!(!res.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn security_headers_on_every_response() {
    let env = TestEnv::new();
    let srv = env.start("web", &[("PROFDIFF_ADMIN_TOKEN", "t0ken")]);
    let c = user("headers");
    for (path, want) in [
        ("/api/health", StatusCode::OK),
        ("/api/profiles", StatusCode::OK),
        ("/api/session-info", StatusCode::OK),
        (
            "/api/jobs/0123456789abcdef0123456789abcdef",
            StatusCode::NOT_FOUND,
        ),
        ("/api/nope", StatusCode::NOT_FOUND),
        ("/nope", StatusCode::NOT_FOUND),
        ("/api/debug/all-sessions", StatusCode::UNAUTHORIZED),
        // Static UI files.
        ("/", StatusCode::OK),
        ("/assets/app.js", StatusCode::OK),
        ("/assets/app.css", StatusCode::OK),
        ("/assets/icon.svg", StatusCode::OK),
        ("/assets/nope.js", StatusCode::NOT_FOUND),
    ] {
        let res = c.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), want, "{path}");
        assert_security_headers(path, res.headers());
    }
    // A malformed JSON body (an extractor error) too.
    let res = c
        .post(srv.url("/api/compare"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_security_headers("bad json", res.headers());
}
