//! Batches: many dumps with roles in one request → progress → summary (and trend).

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn post_batch(
    c: &reqwest::Client,
    p: &Proc,
    files: &[(&str, &str, Vec<u8>)],
) -> (StatusCode, Value) {
    let mut form = Form::new();
    for (role, name, bytes) in files {
        form = form.part(
            role.to_string(),
            Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    let res = c
        .post(p.url("/api/batches"))
        .multipart(form)
        .send()
        .await
        .expect("batch");
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_with_two_candidates_reports_progress_then_summary() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("batch-user");
    let (st, v) = post_batch(
        &c,
        &srv,
        &[
            (
                "baseline",
                "textpipe_before.prof",
                fixture("textpipe_before.prof"),
            ),
            (
                "candidate",
                "textpipe_after.prof",
                fixture("textpipe_after.prof"),
            ),
            (
                "candidate",
                "textpipe_after.p4.pkl",
                fixture("textpipe_after.statsobj_sorted_callees.p4.pkl"),
            ),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let bid = v["batch_id"].as_str().expect("batch_id").to_owned();
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["profiles"][0]["role"], "baseline");

    let deadline = Instant::now() + Duration::from_secs(60);
    let doc = loop {
        let (st, doc) = get_json(&c, &srv.url(&format!("/api/batches/{bid}"))).await;
        assert_eq!(doc["progress"]["total"], 3, "{doc}");
        match st {
            StatusCode::OK => break doc,
            StatusCode::ACCEPTED => {
                assert_eq!(doc["status"], "running");
                assert!(doc["progress"]["done"].as_u64().unwrap() < 3);
            }
            other => panic!("{other} {doc}"),
        }
        assert!(Instant::now() < deadline, "batch not done in time: {doc}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(doc["status"], "done", "{doc}");
    assert_eq!(doc["progress"]["done"], 3);
    let s = &doc["summary"];
    assert_eq!(s["schema"], "profdiff.batch/v1");
    let cands = s["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 2);
    // Both candidates are the same run (marshal and a pickled Stats): equal totals, and
    // the offline single comparison's total change.
    let single = profdiff_workers::compare::compare(
        &profdiff_workers::decode(&fixture("textpipe_before.prof"), "a").unwrap(),
        &profdiff_workers::decode(&fixture("textpipe_after.prof"), "b").unwrap(),
    );
    for cand in cands {
        assert_eq!(
            cand["total_time"].as_f64().unwrap(),
            single.candidate.total_time
        );
        let pct = cand["percent"].as_f64().unwrap();
        assert!((pct - single.total_time_percent().unwrap()).abs() < 1e-9);
    }
    // Top regressions/improvements agree with the single comparison's largest changes.
    let top_imp = &s["top_improvements"][0];
    let biggest_drop = single.functions.iter().find(|f| f.delta.tt < 0.0).unwrap();
    assert_eq!(top_imp["name"], biggest_drop.name.as_str());
    let top_reg = &s["top_regressions"][0];
    let biggest_rise = single.functions.iter().find(|f| f.delta.tt > 0.0).unwrap();
    assert_eq!(top_reg["name"], biggest_rise.name.as_str());
    assert_eq!(s["groups"]["schema"], "profdiff.group_comparison/v1");

    // Trend of one function across the runs.
    let name = biggest_rise.label();
    let (st, t) = get_json(
        &c,
        &srv.url(&format!("/api/batches/{bid}?function={}", urlencode(&name))),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let cand_tt = biggest_rise.candidate.unwrap().tt;
    assert_eq!(
        t["function"]["candidate"],
        serde_json::json!([cand_tt, cand_tt])
    );
    assert_eq!(t["function"]["baseline"].as_array().map(Vec::len), Some(1));
    let (st, _) = get_json(&c, &srv.url(&format!("/api/batches/{bid}?function=nope"))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Another session cannot see it; clear removes it.
    let other = user("someone-else");
    let (st, _) = get_json(&other, &srv.url(&format!("/api/batches/{bid}"))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let res = c.post(srv.url("/api/clear")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (st, _) = get_json(&c, &srv.url(&format!("/api/batches/{bid}"))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        env.keys().iter().all(|k| !k.contains(":batch")),
        "{:?}",
        env.keys()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_without_roles_or_a_side_is_refused_and_nothing_kept() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("batch-bad");
    let (st, v) = post_batch(
        &c,
        &srv,
        &[("baseline", "a.prof", fixture("textpipe_before.prof"))],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("candidate"));
    let (st, v) = post_batch(
        &c,
        &srv,
        &[("file", "a.prof", fixture("textpipe_before.prof"))],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(files_under(&env.data_dir().join("uploads")).is_empty());
    let (_, list) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(list["profiles"].as_array().map(Vec::len), Some(0));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
