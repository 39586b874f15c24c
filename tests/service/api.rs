//! The original Flask tool's suite (isolation, persistence, clear, concurrency, debug
//! endpoint) plus contract shapes and comparison results against the fixtures.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn upload_pair(c: &reqwest::Client, p: &Proc, pair: &str) -> (String, String) {
    let (st, v) = upload(
        c,
        p,
        &[
            (
                &format!("{pair}_before.prof"),
                fixture(&format!("{pair}_before.prof")),
            ),
            (
                &format!("{pair}_after.prof"),
                fixture(&format!("{pair}_after.prof")),
            ),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let list = v["profiles"].as_array().expect("profiles");
    assert_eq!(list.len(), 2);
    for x in list {
        for k in ["id", "name", "job_id", "status"] {
            assert!(x[k].is_string(), "upload answer lacks {k}: {x}");
        }
    }
    (
        list[0]["id"].as_str().unwrap_or_default().to_string(),
        list[1]["id"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_users_see_only_their_own() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let mut seen = Vec::new();
    let mut jobs: Vec<String> = Vec::new();
    for u in 0..4 {
        let c = user(&format!("user-{u}"));
        let (a, b) = upload_pair(&c, &srv, "textpipe").await;
        let list = wait_parsed(&c, &srv, 2).await;
        assert_eq!(list.len(), 2, "user {u} sees {list:?}");
        for x in &list {
            assert_eq!(x["status"], "ready", "{x}");
            for k in ["id", "name", "status", "size", "format", "error"] {
                assert!(x.get(k).is_some(), "list entry lacks {k}");
            }
        }
        let (cid, doc) = compare(&c, &srv, &a, &b).await;
        assert_eq!(doc["schema"], "profdiff.comparison/v1");
        let (_, info) = get_json(&c, &srv.url("/api/session-info")).await;
        jobs.push(list[0]["job_id"].as_str().unwrap_or_default().to_string());
        seen.push((
            c,
            a,
            b,
            cid,
            info["session_id"].as_str().unwrap_or_default().to_string(),
        ));
    }
    let sessions: HashSet<&String> = seen.iter().map(|s| &s.4).collect();
    assert_eq!(sessions.len(), 4, "each user has a session of their own");
    // Every user sees exactly their two profiles; others' ids answer 404.
    for (i, (c, a, b, cid, _)) in seen.iter().enumerate() {
        let (_, v) = get_json(c, &srv.url("/api/profiles")).await;
        let ids: HashSet<&str> = v["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["id"].as_str())
            .collect();
        assert_eq!(ids, HashSet::from([a.as_str(), b.as_str()]));
        for (j, (_, oa, _, ocid, _)) in seen.iter().enumerate() {
            if i == j {
                continue;
            }
            let (st, _) = get_json(c, &srv.url(&format!("/api/profiles/{oa}"))).await;
            assert_eq!(st, StatusCode::NOT_FOUND);
            let (st, _) = get_json(c, &srv.url(&format!("/api/jobs/{}", jobs[j]))).await;
            assert_eq!(st, StatusCode::NOT_FOUND);
            let (st, _) = get_json(c, &srv.url(&format!("/api/comparisons/{ocid}"))).await;
            assert_eq!(st, StatusCode::NOT_FOUND);
            let res = c
                .delete(srv.url(&format!("/api/profiles/{oa}")))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND);
            let res = c
                .post(srv.url("/api/compare"))
                .json(&serde_json::json!({"baseline": oa, "candidate": a}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND);
        }
        let (st, _) = get_json(c, &srv.url(&format!("/api/comparisons/{cid}"))).await;
        assert_eq!(st, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_persists_and_clear_empties_it() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("persist");
    let (_, first) = get_json(&c, &srv.url("/api/session-info")).await;
    let (a, b) = upload_pair(&c, &srv, "recursion").await;
    wait_parsed(&c, &srv, 2).await;
    let (_, again) = get_json(&c, &srv.url("/api/session-info")).await;
    assert_eq!(first["session_id"], again["session_id"]);
    assert_eq!(again["profiles"], 2);
    assert!(again["bytes"].as_u64().unwrap_or(0) > 0);
    assert!(again["expires"].as_i64() > again["created"].as_i64());
    let (_, health) = get_json(&c, &srv.url("/api/health")).await;
    assert_eq!(health["jobs"]["parse_done"], 2, "{health}");
    // A different browser starts empty.
    let other = user("other");
    let (_, v) = get_json(&other, &srv.url("/api/profiles")).await;
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(0));
    // A comparison read once (so this process holds it decoded) is gone after clear.
    let (cid, _) = compare(&c, &srv, &a, &b).await;
    // Clear removes profiles and the session's files, keeps the session.
    let res = c.post(srv.url("/api/clear")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (st, _) = get_json(&c, &srv.url(&format!("/api/comparisons/{cid}"))).await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "a cleared comparison must not be served"
    );
    let (_, v) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(0));
    let (_, after) = get_json(&c, &srv.url("/api/session-info")).await;
    assert_eq!(after["session_id"], first["session_id"]);
    let sid_dirs: Vec<_> = files_under(&env.data_dir().join("uploads"));
    assert!(sid_dirs.is_empty(), "files left after clear: {sid_dirs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bearer_token_and_user_agent_binding() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("ua-one");
    let res = c.get(srv.url("/api/profiles")).send().await.unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("profdiff_session="))
        .expect("session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let sid = cookie
        .trim_start_matches("profdiff_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(sid.len(), 32);
    upload_pair(&c, &srv, "jsonsort").await;
    // Same id as a bearer token, same User-Agent: same session.
    let api = reqwest::Client::builder()
        .user_agent("ua-one")
        .build()
        .unwrap();
    let v: Value = api
        .get(srv.url("/api/profiles"))
        .bearer_auth(&sid)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(2));
    // Replayed from another User-Agent: a fresh, empty session.
    let thief = reqwest::Client::builder()
        .user_agent("ua-two")
        .build()
        .unwrap();
    let v: Value = thief
        .get(srv.url("/api/profiles"))
        .header("cookie", format!("profdiff_session={sid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(0));
    // Unknown/garbage ids never reach a key and start a fresh session.
    let v: Value = api
        .get(srv.url("/api/profiles"))
        .bearer_auth("../../x*")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_users_no_errors_no_leaks() {
    let env = TestEnv::new();
    let srv = std::sync::Arc::new(env.start("serve", &[]));
    let mut tasks = Vec::new();
    for u in 0..20 {
        let srv = srv.clone();
        tasks.push(tokio::spawn(async move {
            let c = user(&format!("concurrent-{u}"));
            let pair = ["textpipe", "recursion", "jsonsort", "stdlibmix"][u % 4];
            let (a, b) = upload_pair(&c, &srv, pair).await;
            let list = wait_parsed(&c, &srv, 2).await;
            assert!(list.iter().all(|x| x["status"] == "ready"), "{list:?}");
            let (_, doc) = compare(&c, &srv, &a, &b).await;
            assert_eq!(doc["baseline"]["name"], format!("{pair}_before.prof"));
            let (_, v) = get_json(&c, &srv.url("/api/profiles")).await;
            let ids: HashSet<String> = v["profiles"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x["id"].as_str().map(String::from))
                .collect();
            assert_eq!(
                ids,
                HashSet::from([a.clone(), b.clone()]),
                "user {u} sees others' profiles"
            );
            (a, b)
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        let (a, b) = t.await.expect("user task");
        all.insert(a);
        all.insert(b);
    }
    assert_eq!(all.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debug_endpoint_needs_admin_token() {
    let env = TestEnv::new();
    let plain = env.start("serve", &[]);
    let c = user("debug");
    let (st, v) = get_json(&c, &plain.url("/api/debug/all-sessions")).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error"]["code"].is_string());
    drop(plain);
    let srv = env.start("serve", &[("PROFDIFF_ADMIN_TOKEN", "s3cret-token")]);
    for u in 0..3 {
        let (st, _) = get_json(&user(&format!("d{u}")), &srv.url("/api/profiles")).await;
        assert_eq!(st, StatusCode::OK);
    }
    let (st, _) = get_json(&c, &srv.url("/api/debug/all-sessions")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let res = c
        .get(srv.url("/api/debug/all-sessions"))
        .header("x-admin-token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = c
        .get(srv.url("/api/debug/all-sessions"))
        .header("x-admin-token", "s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert!(v["count"].as_u64().unwrap_or(0) >= 3, "{v}");
    assert!(v["sessions"][0]["id_prefix"]
        .as_str()
        .is_some_and(|s| s.len() == 8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_and_json_errors() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("health");
    let (st, v) = get_json(&c, &srv.url("/api/health")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["redis"], true);
    for path in [
        "/api/profiles/nope",
        "/api/jobs/0123456789abcdef0123456789abcdef",
        "/api/comparisons/x",
        "/api/nothing",
    ] {
        let (st, v) = get_json(&c, &srv.url(path)).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(v["error"]["code"], "not_found", "{path}: {v}");
    }
    let res = c
        .post(srv.url("/api/compare"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
}

/// Comparison results from the API equal Python's own (tests/fixtures/expected/).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn comparisons_match_expected_documents() {
    let env = TestEnv::new();
    // `serve` answers from the comparison its worker just cached; a second web process
    // with no cache decodes the stored blob: both must give Python's numbers.
    let srv = env.start("serve", &[]);
    let uncached = env.start("web", &[("COMPARISON_CACHE_MIB", "0")]);
    for pair in ["textpipe", "recursion", "jsonsort", "stdlibmix"] {
        let c = user(pair);
        let (a, b) = upload_pair(&c, &srv, pair).await;
        wait_parsed(&c, &srv, 2).await;
        let (cid, doc) = compare(&c, &srv, &a, &b).await;
        let expected: Value =
            serde_json::from_slice(&fixture(&format!("expected/{pair}.expected.json"))).unwrap();
        assert_eq!(doc, expected, "{pair}: API document differs from Python's");
        let (st, stored) = get_json(
            &c,
            &uncached.url(&format!("/api/comparisons/{cid}?format=json")),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            stored, expected,
            "{pair}: stored blob differs from Python's"
        );
        // The summary counts every row of that same document.
        let rows = expected["functions"].as_array().unwrap();
        let count = |st: &str| rows.iter().filter(|r| r["status"] == st).count();
        let max_abs = rows
            .iter()
            .map(|r| r["delta"]["tt"].as_f64().unwrap().abs())
            .fold(0.0, f64::max);
        for server in [&srv, &uncached] {
            let (st, sum) =
                get_json(&c, &server.url(&format!("/api/comparisons/{cid}/summary"))).await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(
                sum,
                serde_json::json!({
                    "rows": rows.len(),
                    "added": count("added"),
                    "removed": count("removed"),
                    "changed": count("changed"),
                    "unchanged": count("unchanged"),
                    "max_abs_delta_tt": max_abs,
                    "baseline": expected["baseline"],
                    "candidate": expected["candidate"],
                }),
                "{pair}"
            );
        }
        // Server-side view: paging, filtering, CSV.
        let (st, v) = get_json(
            &c,
            &srv.url(&format!("/api/comparisons/{cid}?limit=5&offset=1")),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let rows = expected["functions"].as_array().unwrap();
        assert_eq!(v["total_rows"].as_u64(), Some(rows.len() as u64));
        assert_eq!(
            v["comparison"]["functions"].as_array().map(Vec::len),
            Some(5.min(rows.len() - 1))
        );
        assert_eq!(v["comparison"]["functions"][0], rows[1]);
        let (_, v) = get_json(
            &c,
            &srv.url(&format!("/api/comparisons/{cid}?hide_builtins=true")),
        )
        .await;
        let shown = v["comparison"]["functions"].as_array().unwrap();
        assert!(shown.iter().all(|r| r["file"] != "~"));
        let (_, v) = get_json(
            &c,
            &srv.url(&format!(
                "/api/comparisons/{cid}?status=added,removed&sort=name&order=asc"
            )),
        )
        .await;
        let shown = v["comparison"]["functions"].as_array().unwrap();
        let want = rows
            .iter()
            .filter(|r| r["status"] == "added" || r["status"] == "removed")
            .count();
        assert_eq!(shown.len(), want);
        assert!(shown
            .windows(2)
            .all(|w| w[0]["name"].as_str() <= w[1]["name"].as_str()));
        let (st, _) = get_json(&c, &srv.url(&format!("/api/comparisons/{cid}?sort=bogus"))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let (st, v) = get_json(&c, &srv.url(&format!("/api/comparisons/{cid}?q=(["))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let csv = c
            .get(srv.url(&format!("/api/comparisons/{cid}?format=csv")))
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        let text = csv.text().await.unwrap();
        assert_eq!(text.lines().count(), rows.len() + 1);
        // The same columns as `profdiff compare --format csv`: one writer serves both.
        assert_eq!(
            text.lines().next(),
            Some(profdiff_workers::compare::CSV_HEADER.join(",").as_str())
        );
        // One profile's detail and one function's edges.
        let (st, v) = get_json(&c, &srv.url(&format!("/api/profiles/{a}?limit=3"))).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["top_functions"].as_array().map(Vec::len), Some(3));
        let name = v["top_functions"][0]["name"].as_str().unwrap().to_string();
        let (_, v) = get_json(
            &c,
            &srv.url(&format!("/api/profiles/{a}?function={}", urlencode(&name))),
        )
        .await;
        assert!(v["function"][0]["callers"].is_array(), "{v}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_absolute_cap_ends_an_active_session() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[("SESSION_MAX_AGE_SECS", "2")]);
    let c = user("capped");
    let (_, first) = get_json(&c, &srv.url("/api/session-info")).await;
    // Activity does not extend it past the cap.
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let _ = get_json(&c, &srv.url("/api/profiles")).await;
    }
    let (_, later) = get_json(&c, &srv.url("/api/session-info")).await;
    assert_ne!(
        first["session_id"], later["session_id"],
        "session outlived its absolute cap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refuses_a_newer_keyspace_layout() {
    let env = TestEnv::new();
    let mut r = env.redis();
    let _: () = redis::cmd("SET")
        .arg(format!("{}schema_version", env.prefix))
        .arg(99)
        .query(&mut r)
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_profdiff"))
        .arg("migrate")
        .env("REDIS_URL", &env.redis_url)
        .env("REDIS_PREFIX", &env.prefix)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer than this build"), "{err}");
    // A fresh keyspace migrates to the latest layout, and again is a no-op.
    let env2 = TestEnv::new();
    for expect in ["version 0 -> 2", "version 2 -> 2"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_profdiff"))
            .arg("migrate")
            .env("REDIS_URL", &env2.redis_url)
            .env("REDIS_PREFIX", &env2.prefix)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains(expect));
    }
}

/// Clearing while a parse job runs leaves nothing behind once the job ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clear_during_a_running_job_leaves_no_zombie() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[("PROFDIFF_DEBUG_PARSE_DELAY_MS", "1000")]);
    let c = user("zombie");
    let (st, v) = upload(&c, &srv, &[("a.prof", fixture("textpipe_before.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let pid = v["profiles"][0]["id"].as_str().unwrap().to_string();
    let job = v["profiles"][0]["job_id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get_json(&c, &srv.url(&format!("/api/jobs/{job}"))).await.1["status"] != "running" {
        assert!(std::time::Instant::now() < deadline, "job never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let res = c.post(srv.url("/api/clear")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let left: Vec<String> = env
        .keys()
        .into_iter()
        .filter(|k| k.contains(&pid))
        .collect();
    assert!(left.is_empty(), "keys left after clear: {left:?}");
    let (st, _) = get_json(&c, &srv.url(&format!("/api/profiles/{pid}"))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, v) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(0));
}
