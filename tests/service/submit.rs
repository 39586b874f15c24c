//! `profdiff submit` against a real `profdiff serve` (own prefix, random port): formats,
//! the significance gate and exit codes. Runs are fixture dumps with every time scaled by
//! a fixed factor (deterministic ±3 % noise), written back as marshal dumps.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::*;

const FACTORS: [f64; 4] = [1.0, 1.02, 0.98, 1.03];

fn runs(dir: &Path, name: &str, factors: &[f64]) -> Vec<String> {
    let p = profdiff_workers::decode(&fixture(name), name).unwrap();
    factors
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut q = p.clone();
            for f in &mut q.functions {
                f.stats.tt *= s;
                f.stats.ct *= s;
            }
            let path = dir.join(format!("{name}.run{i}.prof"));
            std::fs::write(&path, profdiff_workers::encode::marshal::write(&q)).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect()
}

fn submit(server: &str, baseline: &[String], candidates: &[String], extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_profdiff"));
    cmd.arg("submit").arg("--server").arg(server);
    for b in baseline {
        cmd.arg("--baseline").arg(b);
    }
    cmd.args(candidates).args(extra);
    cmd.output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn submit_prints_the_summary_and_gates_ci() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let dir = tempfile::tempdir().unwrap();
    // textpipe_after is the fast version: as baseline, the before runs are a regression.
    let fast = runs(dir.path(), "textpipe_after.prof", &FACTORS);
    let slow = runs(dir.path(), "textpipe_before.prof", &FACTORS);

    let o = submit(srv.base(), &fast, &slow, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema"], "profdiff.batch/v1");
    assert_eq!(doc["candidates"].as_array().map(Vec::len), Some(4));
    assert_eq!(doc["groups"]["total_time"]["verdict"], "slower");
    // 4 against 4 without ties: exact p = 2/70.
    let p = doc["groups"]["total_time"]["test"]["p_value"]
        .as_f64()
        .unwrap();
    assert!((p - 2.0 / 70.0).abs() < 1e-12, "{p}");
    assert!(doc["top_regressions"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));

    let o = submit(
        srv.base(),
        &fast,
        &slow,
        &[
            "--format",
            "markdown",
            "--fail-on-regression",
            "10",
            "--significance",
            "0.05",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.starts_with("### profdiff: 4 baseline runs vs 4 candidate runs"),
        "{md}"
    );
    assert!(md.contains("| candidate | total time |"), "{md}");
    assert!(err(&o).contains("regression gate"));

    // Noise only (the same runs in another order): the gate stays open.
    let mut again = fast.clone();
    again.rotate_left(1);
    let o = submit(
        srv.base(),
        &fast,
        &again,
        &["--fail-on-regression", "0", "--significance", "0.05"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("total time (median ± IQR)"));

    // Exit 2: a dump the server cannot parse (named), a missing file, no server.
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/empty.prof");
    let o = submit(
        srv.base(),
        &fast[..1],
        &[bad.to_string_lossy().into_owned()],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("empty.prof"), "{}", err(&o));
    let o = submit(srv.base(), &["/nonexistent/a.prof".into()], &slow, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("/nonexistent/a.prof"));
    let o = submit("http://127.0.0.1:9", &fast, &slow, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("cannot reach"), "{}", err(&o));
}
