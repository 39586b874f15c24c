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

    let cids: Vec<String> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "candidate")
        .map(|p| {
            p["comparison_id"]
                .as_str()
                .expect("comparison_id")
                .to_owned()
        })
        .collect();
    assert_eq!(cids.len(), 2, "{v}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let doc = loop {
        let (st, doc) = get_json(&c, &srv.url(&format!("/api/batches/{bid}"))).await;
        let pr = &doc["progress"];
        assert_eq!(pr["total"], 3, "{doc}");
        // n of N over both phases: 3 parse jobs, then 2 compare jobs.
        assert_eq!(pr["jobs"]["total"], 5, "{doc}");
        assert_eq!(pr["compare"]["total"], 2, "{doc}");
        match st {
            StatusCode::OK => break doc,
            StatusCode::ACCEPTED => {
                assert_eq!(doc["status"], "running");
                // Compare jobs are queued only after every parse has ended.
                if pr["parse"]["done"].as_u64().unwrap() < 3 {
                    assert_eq!(pr["compare"]["done"], 0, "{doc}");
                }
            }
            other => panic!("{other} {doc}"),
        }
        assert!(Instant::now() < deadline, "batch not done in time: {doc}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(doc["status"], "done", "{doc}");
    assert_eq!(doc["progress"]["done"], 3);
    assert_eq!(
        doc["progress"]["jobs"],
        serde_json::json!({"done": 5, "total": 5})
    );
    assert_eq!(doc["progress"]["compare"]["failed"], 0);
    // Each candidate was compared with the (only) baseline run by a compare job; the
    // comparison is an ordinary one, equal to Python's own document for this pair.
    let base_id = v["profiles"][0]["id"].as_str().unwrap();
    assert_eq!(doc["reference_baseline"], base_id);
    let cmps = doc["comparisons"].as_array().unwrap();
    assert_eq!(cmps.len(), 2);
    for (cmp, cid) in cmps.iter().zip(&cids) {
        assert_eq!(cmp["comparison_id"], cid.as_str());
        assert_eq!(cmp["status"], "done", "{doc}");
        assert_eq!(cmp["baseline"], base_id);
        let (st, job) = get_json(
            &c,
            &srv.url(&format!("/api/jobs/{}", cmp["job_id"].as_str().unwrap())),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{job}");
        assert_eq!(
            (&job["kind"], &job["status"]),
            (&"compare".into(), &"done".into())
        );
    }
    let (st, first) = get_json(
        &c,
        &srv.url(&format!("/api/comparisons/{}?format=json", cids[0])),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let expected: Value =
        serde_json::from_slice(&fixture("expected/textpipe.expected.json")).unwrap();
    assert_eq!(first, expected, "batch comparison differs from Python's");
    let (st, second) = get_json(
        &c,
        &srv.url(&format!("/api/comparisons/{}?format=json", cids[1])),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{second}");
    assert_eq!(second["functions"], expected["functions"]);
    // The compare slots the batch held are free again.
    let held: std::collections::HashMap<String, i64> =
        redis::Commands::hgetall(&mut env.redis(), format!("{}reserved", env.prefix)).unwrap();
    assert!(held.is_empty(), "{held:?}");
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
async fn a_failing_candidate_does_not_block_the_batch() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("batch-failing");
    let (st, v) = post_batch(
        &c,
        &srv,
        &[
            ("baseline", "before.prof", fixture("recursion_before.prof")),
            ("candidate", "bad.prof", fixture("bad/random_bytes.prof")),
            ("candidate", "after.prof", fixture("recursion_after.prof")),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let bid = v["batch_id"].as_str().unwrap().to_owned();
    let doc = wait_done(&c, &srv, &bid).await;
    assert_eq!(doc["status"], "done_with_failures", "{doc}");
    assert_eq!(doc["progress"]["failed"], 1);
    assert_eq!(
        doc["progress"]["compare"],
        serde_json::json!({"done": 2, "total": 2, "failed": 1})
    );
    assert_eq!(
        doc["progress"]["jobs"],
        serde_json::json!({"done": 5, "total": 5})
    );
    assert_eq!(doc["failures"][0]["name"], "bad.prof");
    assert!(!doc["failures"][0]["error"].as_str().unwrap().is_empty());
    // The bad candidate's comparison failed without a job run; the good one is served.
    let cmps = doc["comparisons"].as_array().unwrap();
    assert_eq!(cmps[0]["status"], "failed", "{doc}");
    assert!(cmps[0]["error"]
        .as_str()
        .unwrap()
        .contains("candidate profile could not be parsed"));
    let (st, _) = get_json(
        &c,
        &srv.url(&format!(
            "/api/comparisons/{}",
            cmps[0]["comparison_id"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(cmps[1]["status"], "done", "{doc}");
    let (st, cmp) = get_json(
        &c,
        &srv.url(&format!(
            "/api/comparisons/{}?format=json",
            cmps[1]["comparison_id"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let expected: Value =
        serde_json::from_slice(&fixture("expected/recursion.expected.json")).unwrap();
    assert_eq!(cmp["functions"], expected["functions"]);
    // The summary covers the candidate that parsed.
    let cands = doc["summary"]["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 1);
    assert_eq!(cands[0]["name"], "after.prof");

    // No candidate parses at all: the batch still ends, with 422 and the reasons.
    let (st, v) = post_batch(
        &c,
        &srv,
        &[
            ("baseline", "before.prof", fixture("recursion_before.prof")),
            ("candidate", "bad.prof", fixture("bad/random_bytes.prof")),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let bid = v["batch_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (st, doc) = get_json(&c, &srv.url(&format!("/api/batches/{bid}"))).await;
        if st == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(doc["status"], "failed");
            assert_eq!(doc["failures"][0]["name"], "bad.prof");
            break;
        }
        assert_eq!(st, StatusCode::ACCEPTED, "{doc}");
        assert!(Instant::now() < deadline, "batch not ended: {doc}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_admission_counts_its_compare_jobs() {
    let env = TestEnv::new();
    // 3 dumps + 2 compare jobs = 5 slots; a cap of 4 refuses the batch whole.
    let srv = env.start("serve", &[("PROFDIFF_QUEUE_CAP", "4")]);
    let c = user("batch-cap");
    let files = [
        ("baseline", "a.prof", fixture("recursion_before.prof")),
        ("candidate", "b.prof", fixture("recursion_after.prof")),
        ("candidate", "c.prof", fixture("recursion_after.prof")),
    ];
    let (st, v) = post_batch(&c, &srv, &files).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(files_under(&env.data_dir().join("uploads")).is_empty());
    // While a batch waits for its parses its compare slots count as queued: with three
    // slots held (as batches would hold them) a 3-slot batch no longer fits a cap of 5.
    let srv5 = env.start("serve", &[("PROFDIFF_QUEUE_CAP", "5")]);
    let (st, v) = post_batch(&c, &srv5, &files[..2]).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    wait_done(&c, &srv5, v["batch_id"].as_str().unwrap()).await;
    let reserved = format!("{}reserved", env.prefix);
    let _: () = redis::Commands::hset(&mut env.redis(), &reserved, "x:y", 3).unwrap();
    let (st, v) = post_batch(&c, &srv5, &files[..2]).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "busy");
    let _: () = redis::Commands::hdel(&mut env.redis(), &reserved, "x:y").unwrap();
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

fn counter(env: &TestEnv, field: &str) -> i64 {
    let v: Option<i64> =
        redis::Commands::hget(&mut env.redis(), format!("{}stats", env.prefix), field).unwrap();
    v.unwrap_or(0)
}

/// Several worker processes finish a batch's jobs at once: exactly one compare job per
/// candidate is queued, and jobs delivered again after the batch ended (at-least-once)
/// queue nothing more and leave the summary alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_workers_queue_each_compare_once_and_redelivery_changes_nothing() {
    use profdiff_workers::jobs::queue::{QueueSettings, Queues};
    use profdiff_workers::jobs::{CompareJob, ParseJob};
    use profdiff_workers::keyspace::Keyspace;

    let env = TestEnv::new();
    let web = env.start("web", &[]);
    let _workers: Vec<Proc> = (0..3).map(|_| env.start("worker", &[])).collect();
    let c = user("batch-many");
    let mut files = vec![("baseline", "base.prof", fixture("recursion_before.prof"))];
    const CANDIDATES: usize = 8;
    for _ in 0..CANDIDATES {
        files.push(("candidate", "cand.prof", fixture("recursion_after.prof")));
    }
    let (st, v) = post_batch(&c, &web, &files).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let bid = v["batch_id"].as_str().unwrap().to_owned();
    let doc = wait_done(&c, &web, &bid).await;
    assert_eq!(doc["status"], "done", "{doc}");
    assert_eq!(
        doc["progress"]["jobs"],
        serde_json::json!({"done": 1 + 2 * CANDIDATES, "total": 1 + 2 * CANDIDATES})
    );
    assert_eq!(counter(&env, "parse_started"), 1 + CANDIDATES as i64);
    assert_eq!(counter(&env, "compare_started"), CANDIDATES as i64);
    assert_eq!(counter(&env, "compare_done"), CANDIDATES as i64);

    // Deliver a parse job and a compare job of the finished batch again.
    let keys = Keyspace::new(env.prefix.clone());
    let sid = std::fs::read_dir(env.data_dir().join("uploads"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    let summarized = |env: &TestEnv| -> Option<String> {
        redis::Commands::hget(&mut env.redis(), keys.batch(&sid, &bid), "summarized").unwrap()
    };
    let stamp = summarized(&env).expect("summarized");
    let client = redis::Client::open(env.redis_url.as_str()).unwrap();
    let queues = Queues::new(
        client.get_connection_manager().await.unwrap(),
        &keys,
        QueueSettings::default(),
    );
    let last = &v["profiles"][CANDIDATES];
    let pid = last["id"].as_str().unwrap();
    queues
        .push_parse(ParseJob {
            session: sid.clone(),
            profile_id: pid.to_owned(),
            job_id: last["job_id"].as_str().unwrap().to_owned(),
            path: env.data_dir().join("uploads").join(&sid).join(pid),
            name: "cand.prof".into(),
            expire_at: profdiff_workers::store::now_secs() + 3600,
            batch: Some(bid.clone()),
        })
        .await
        .unwrap();
    let cmp = &doc["comparisons"][0];
    queues
        .push_compare(CompareJob {
            session: sid.clone(),
            comparison_id: cmp["comparison_id"].as_str().unwrap().to_owned(),
            job_id: cmp["job_id"].as_str().unwrap().to_owned(),
            baseline: cmp["baseline"].as_str().unwrap().to_owned(),
            candidate: cmp["candidate"].as_str().unwrap().to_owned(),
            expire_at: profdiff_workers::store::now_secs() + 3600,
            batch: Some(bid.clone()),
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while counter(&env, "parse_done") < 2 + CANDIDATES as i64
        || counter(&env, "compare_done") < 1 + CANDIDATES as i64
    {
        assert!(Instant::now() < deadline, "re-delivered jobs did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let any (wrongly) queued follow-up job be picked up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counter(&env, "compare_started"), 1 + CANDIDATES as i64);
    assert_eq!(summarized(&env), Some(stamp), "summary recomputed");
    let again = wait_done(&c, &web, &bid).await;
    assert_eq!(again["summary"], doc["summary"]);
}
