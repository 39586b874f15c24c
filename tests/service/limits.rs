//! Upload limits, bad extensions, hostile files and hostile names.

use std::collections::HashMap;

use reqwest::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_limit_is_413_and_nothing_is_kept() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[("MAX_UPLOAD_BYTES", "30000")]);
    let c = user("big");
    // One file over the limit, and two files whose sum is over it.
    let (st, v) = upload(&c, &srv, &[("big.prof", vec![0u8; 40_000])]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "too_large");
    let (st, _) = upload(
        &c,
        &srv,
        &[
            ("a.prof", fixture("textpipe_before.prof")),
            ("b.prof", fixture("textpipe_after.prof")),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, v) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(0));
    assert!(files_under(&env.data_dir().join("uploads")).is_empty());
    // Under the limit it is accepted.
    let (st, _) = upload(&c, &srv, &[("a.prof", fixture("textpipe_before.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_extension_is_415_and_nothing_is_kept() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("ext");
    for name in ["notes.txt", "dump", "x.prof.exe", "archive.tar.gz"] {
        let (st, v) = upload(
            &c,
            &srv,
            &[
                ("ok.prof", fixture("textpipe_before.prof")),
                (name, b"hello".to_vec()),
            ],
        )
        .await;
        assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {v}");
        assert_eq!(v["error"]["code"], "unsupported_type");
    }
    let (_, v) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(v["profiles"].as_array().map(Vec::len), Some(0));
    assert!(files_under(&env.data_dir().join("uploads")).is_empty());
    // Upper-case and every accepted extension pass; the content is sniffed later.
    let (st, v) = upload(
        &c,
        &srv,
        &[
            ("A.PROF", fixture("textpipe_before.prof")),
            ("b.pstats", fixture("recursion_before.pstats")),
            ("c.pkl", fixture("textpipe_before.p4.pkl")),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
}

/// `expect` per file from tests/fixtures/bad/README.md's table.
fn bad_expectations() -> HashMap<String, bool> {
    let readme = String::from_utf8(fixture("bad/README.md")).unwrap();
    readme
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cols.get(1)?.trim_matches('`');
            let expect = cols.get(3)?;
            if name.is_empty() || name == "file" || name.starts_with('-') {
                return None;
            }
            let accept = expect.starts_with("accept");
            // "accept only with bounded memory, else reject": either outcome is fine.
            if expect.contains("else reject") {
                return None;
            }
            Some((name.to_string(), accept))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_files_fail_clearly_and_others_stay_intact() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("bad");
    let (st, _) = upload(&c, &srv, &[("good.prof", fixture("textpipe_before.prof"))]).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let expectations = bad_expectations();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name == "README.md" || !expectations.contains_key(&name) {
            continue;
        }
        // The job sniffs content, so a .pyc is uploaded under an accepted extension.
        let upload_name = if name.ends_with(".prof") || name.ends_with(".pkl") {
            name.clone()
        } else {
            format!("{name}.prof")
        };
        files.push((upload_name, std::fs::read(e.path()).unwrap()));
    }
    assert!(files.len() > 40, "bad corpus not found");
    for chunk in files.chunks(10) {
        let batch: Vec<(&str, Vec<u8>)> =
            chunk.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let (st, v) = upload(&c, &srv, &batch).await;
        assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    }
    let list = wait_parsed(&c, &srv, files.len() + 1).await;
    let mut wrong = Vec::new();
    for x in &list {
        let name = x["name"].as_str().unwrap_or_default();
        let original = name
            .strip_suffix(".prof")
            .filter(|n| n.ends_with(".pyc"))
            .unwrap_or(name);
        if name == "good.prof" {
            assert_eq!(
                x["status"], "ready",
                "a bad upload disturbed a good one: {x}"
            );
            continue;
        }
        let accept = expectations[original];
        let ok = if accept {
            x["status"] == "ready"
        } else {
            x["status"] == "failed" && x["error"].as_str().is_some_and(|e| e.len() > 5)
        };
        if !ok {
            wrong.push(format!("{original}: {} {}", x["status"], x["error"]));
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected outcomes:\n{}",
        wrong.join("\n")
    );
    // The failed job's status says so too.
    let failed = list
        .iter()
        .find(|x| x["status"] == "failed")
        .expect("a failed profile");
    let (_, job) = get_json(
        &c,
        &srv.url(&format!("/api/jobs/{}", failed["job_id"].as_str().unwrap())),
    )
    .await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["kind"], "parse");
    assert!(job["error"].is_string());
    let (st, _) = get_json(&c, &srv.url("/api/health")).await;
    assert_eq!(st, StatusCode::OK, "service still healthy after the corpus");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn path_traversal_names_are_harmless() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let c = user("traversal");
    let bytes = fixture("textpipe_before.prof");
    let (st, v) = upload(
        &c,
        &srv,
        &[
            ("../../etc/passwd.prof", bytes.clone()),
            ("..\\x.prof", bytes.clone()),
            ("/abs/olute.pkl", bytes),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["passwd.prof", "x.prof", "olute.pkl"]);
    let files = files_under(env.data_dir());
    let uploads = env.data_dir().join("uploads");
    let stored: Vec<_> = files
        .iter()
        .filter(|f| f.extension().is_none_or(|e| e != "log"))
        .collect();
    assert_eq!(stored.len(), 3, "{stored:?}");
    for f in stored {
        assert!(f.starts_with(&uploads), "{f:?} outside uploads/");
        let leaf = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            leaf.len() == 32 && leaf.bytes().all(|b| b.is_ascii_hexdigit()),
            "client name on disk: {leaf}"
        );
    }
}
