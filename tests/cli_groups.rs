//! `profdiff compare --baseline-group … --candidate-group …` through the real binary.
//! Runs are real fixture dumps with every time scaled by a fixed factor (deterministic
//! run-to-run noise of ±3 %), written back as marshal dumps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const FACTORS: [f64; 5] = [1.0, 1.02, 0.98, 1.03, 0.97];

fn fixture(name: &str) -> profdiff_workers::Profile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    profdiff_workers::decode(&std::fs::read(path).unwrap(), name).unwrap()
}

/// Writes `FACTORS.len()` scaled copies of a fixture; returns their paths.
fn runs(dir: &Path, name: &str) -> Vec<String> {
    let p = fixture(name);
    FACTORS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut q = p.clone();
            for f in &mut q.functions {
                f.stats.tt *= s;
                f.stats.ct *= s;
            }
            let path: PathBuf = dir.join(format!("{name}.run{i}.prof"));
            std::fs::write(&path, profdiff_workers::encode::marshal::write(&q)).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect()
}

fn profdiff(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_profdiff"))
        .args(args)
        .output()
        .unwrap()
}

fn group_args(b: &[String], c: &[String], extra: &[&str]) -> Vec<String> {
    let mut a = vec!["compare".to_owned(), "--baseline-group".to_owned()];
    a.extend(b.iter().cloned());
    a.push("--candidate-group".to_owned());
    a.extend(c.iter().cloned());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn groups_report_significance_and_gate_ci() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("groups-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let before = runs(&dir, "textpipe_before.prof");
    let after = runs(&dir, "textpipe_after.prof");

    // after is much faster than before: JSON says so, with an exact test (5 vs 5).
    let o = profdiff(&group_args(&before, &after, &["--format", "json"]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema"], "profdiff.group_comparison/v1");
    assert_eq!(doc["total_time"]["verdict"], "faster");
    assert_eq!(doc["total_time"]["test"]["method"], "exact");
    let p = doc["total_time"]["test"]["p_value"].as_f64().unwrap();
    assert!((p - 2.0 / 252.0).abs() < 1e-12, "{p}");
    assert_eq!(doc["baseline"]["runs"].as_array().unwrap().len(), 5);

    // Swapped, with a gate: a real regression → exit 1.
    let o = profdiff(&group_args(
        &after,
        &before,
        &[
            "--fail-on-regression",
            "10",
            "--significance",
            "0.05",
            "--format",
            "markdown",
        ],
    ));
    assert_eq!(o.status.code(), Some(1));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("| function | baseline | candidate |"), "{md}");
    assert!(md.contains("slower"), "{md}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("regression gate"));

    // The same program against itself (noise only): the gate stays open even at 0 %.
    let mut shuffled = before.clone();
    shuffled.rotate_left(2);
    let o = profdiff(&group_args(
        &before,
        &shuffled,
        &["--fail-on-regression", "0", "--significance", "0.05"],
    ));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Too few runs to ever be significant, csv, and a group without its partner: exit 2.
    let o = profdiff(&group_args(
        &before[..2],
        &after[..1],
        &["--significance", "0.05"],
    ));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("never be significant"));
    let o = profdiff(&group_args(&before, &after, &["--format", "csv"]));
    assert_eq!(o.status.code(), Some(2));
    let o = profdiff(&[
        "compare".to_owned(),
        "--baseline-group".to_owned(),
        before[0].clone(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
