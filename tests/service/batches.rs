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

fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn tar_gz_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (name, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

async fn wait_done(c: &reqwest::Client, p: &Proc, bid: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (st, doc) = get_json(c, &p.url(&format!("/api/batches/{bid}"))).await;
        if st == StatusCode::OK {
            return doc;
        }
        assert_eq!(st, StatusCode::ACCEPTED, "{doc}");
        assert!(Instant::now() < deadline, "batch not done: {doc}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn archives_unpack_by_folder_or_field_and_hostile_ones_are_refused() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("batch-archives");
    let zip = zip_of(&[
        ("runs/baseline/a.prof", fixture("recursion_before.prof")),
        ("runs/candidate/b.prof", fixture("recursion_after.prof")),
        ("runs/candidate/c.prof", fixture("recursion_after.prof")),
        ("runs/README.md", b"ignored".to_vec()),
    ]);
    let (st, v) = post_batch(&c, &srv, &[("archive", "runs.zip", zip)]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let roles: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["baseline", "candidate", "candidate"]);
    let doc = wait_done(&c, &srv, v["batch_id"].as_str().unwrap()).await;
    assert_eq!(
        doc["summary"]["candidates"].as_array().map(Vec::len),
        Some(2)
    );

    // A tar.gz given as the candidate field: every entry is a candidate.
    let tgz = tar_gz_of(&[
        ("x/b1.prof", fixture("recursion_after.prof")),
        ("b2.prof", fixture("recursion_after.prof")),
    ]);
    let (st, v) = post_batch(
        &c,
        &srv,
        &[
            ("baseline", "a.prof", fixture("recursion_before.prof")),
            ("candidate", "runs.tar.gz", tgz),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(3));
    wait_done(&c, &srv, v["batch_id"].as_str().unwrap()).await;
    let (_, before) = get_json(&c, &srv.url("/api/profiles")).await;
    let kept = before["profiles"].as_array().map(Vec::len).unwrap();
    let files_before = files_under(&env.data_dir().join("uploads")).len();

    // Hostile archives: a clear 4xx each, and nothing new kept.
    let traversal = zip_of(&[
        ("baseline/a.prof", fixture("recursion_before.prof")),
        ("../../evil.prof", fixture("recursion_after.prof")),
    ]);
    let (st, v) = post_batch(&c, &srv, &[("archive", "t.zip", traversal)]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unsafe path"),
        "{v}"
    );
    let bomb = zip_of(&[
        ("baseline/a.prof", fixture("recursion_before.prof")),
        ("candidate/zeros.prof", vec![0u8; 40 << 20]),
    ]);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    let (st, v) = post_batch(&c, &srv, &[("archive", "bomb.zip", bomb)]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("zip bomb"),
        "{v}"
    );
    let tar_bomb = tar_gz_of(&[("candidate/zeros.prof", vec![0u8; 40 << 20])]);
    let (st, v) = post_batch(&c, &srv, &[("archive", "bomb.tgz", tar_bomb)]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = post_batch(&c, &srv, &[("archive", "x.zip", b"not a zip".to_vec())]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let loose = zip_of(&[("a.prof", fixture("recursion_before.prof"))]);
    let (st, v) = post_batch(&c, &srv, &[("archive", "l.zip", loose)]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("folder"),
        "{v}"
    );

    let (_, after) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(after["profiles"].as_array().map(Vec::len).unwrap(), kept);
    assert_eq!(
        files_under(&env.data_dir().join("uploads")).len(),
        files_before
    );
}
