//! The CLI's JSON documents against the reference documents Python's pstats produced
//! for the fixture dumps (tests/fixtures/manifest.json: `pairs`, `single_expected`,
//! `edge` entries with an `expected`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn run_json(args: &[&str]) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_profdiff"))
        .args(args)
        .current_dir(fixtures())
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!(
            "profdiff {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8(out.stdout).map_err(|e| e.to_string())?;
    // Exactly one document on stdout.
    let mut docs = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let doc = docs
        .next()
        .ok_or("no JSON on stdout")?
        .map_err(|e| e.to_string())?;
    if docs.next().is_some() {
        return Err("more than one JSON document on stdout".into());
    }
    Ok(doc)
}

fn load_expected(rel: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Structural equality where numbers compare by value: integers exactly, floats exactly
/// as f64 (an int 0 in the reference equals our 0.0). Returns the first difference.
fn diff(path: &str, got: &Value, want: &Value) -> Option<String> {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let same = match (g.as_i64(), w.as_i64()) {
                (Some(a), Some(b)) => a == b,
                _ => match (g.as_u64(), w.as_u64()) {
                    (Some(a), Some(b)) => a == b,
                    _ => g.as_f64() == w.as_f64(),
                },
            };
            (!same).then(|| format!("{path}: got {g}, want {w}"))
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                return Some(format!("{path}: {} items, want {}", g.len(), w.len()));
            }
            g.iter()
                .zip(w)
                .enumerate()
                .find_map(|(i, (a, b))| diff(&format!("{path}[{i}]"), a, b))
        }
        (Value::Object(g), Value::Object(w)) => {
            let (mut gk, mut wk): (Vec<_>, Vec<_>) = (g.keys().collect(), w.keys().collect());
            gk.sort();
            wk.sort();
            if gk != wk {
                return Some(format!("{path}: keys {gk:?}, want {wk:?}"));
            }
            w.iter()
                .find_map(|(k, b)| diff(&format!("{path}.{k}"), &g[k], b))
        }
        _ => (got != want).then(|| format!("{path}: got {got}, want {want}")),
    }
}

fn check_all(cases: Vec<(String, Vec<String>, String)>) {
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for (label, args, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match run_json(&args) {
            Err(e) => failures.push(format!("{label}: {e}")),
            Ok(got) => {
                if let Some(d) = diff("$", &got, &load_expected(expected)) {
                    failures.push(format!("{label}: {d}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_pair_matches_the_reference_comparison() {
    let m = manifest();
    let cases = m["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (b, c) = (
                p["baseline"].as_str().unwrap(),
                p["candidate"].as_str().unwrap(),
            );
            (
                format!("pair {}", p["name"].as_str().unwrap()),
                vec![
                    "compare".into(),
                    b.into(),
                    c.into(),
                    "--format".into(),
                    "json".into(),
                ],
                p["expected"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    check_all(cases);
}

#[test]
fn every_single_dump_matches_the_reference_description() {
    let m = manifest();
    let singles = m["single_expected"].as_array().unwrap().iter();
    let edges = m["edge"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("expected").is_some());
    let cases = singles
        .chain(edges)
        .map(|s| {
            let file = s["file"].as_str().unwrap();
            (
                format!("inspect {file}"),
                vec![
                    "inspect".into(),
                    file.into(),
                    "--format".into(),
                    "json".into(),
                ],
                s["expected"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    check_all(cases);
}

#[test]
fn the_comparator_itself_tells_documents_apart() {
    // Guards the helper above: a changed float, count or order must be reported.
    let want: Value = serde_json::json!({"a": [{"x": 0, "y": 0.1}, {"x": 2, "y": 0.2}]});
    assert!(diff(
        "$",
        &serde_json::json!({"a": [{"x": 0.0, "y": 0.1}, {"x": 2, "y": 0.2}]}),
        &want
    )
    .is_none());
    assert!(diff(
        "$",
        &serde_json::json!({"a": [{"x": 0, "y": 0.10000000000000002}, {"x": 2, "y": 0.2}]}),
        &want
    )
    .is_some());
    assert!(diff(
        "$",
        &serde_json::json!({"a": [{"x": 2, "y": 0.2}, {"x": 0, "y": 0.1}]}),
        &want
    )
    .is_some());
    assert!(diff(
        "$",
        &serde_json::json!({"a": [{"x": 1, "y": 0.1}, {"x": 2, "y": 0.2}]}),
        &want
    )
    .is_some());
}

#[test]
fn every_fixture_dump_reports_the_manifest_totals() {
    // Every format and producer in the corpus (marshal v0-v4, pickles p0-p5, pickled
    // Stats objects, profile/cProfile/yappi): the summary numbers pstats computed.
    let m = manifest();
    let files = m["files"].as_array().unwrap();
    assert!(files.len() >= 40);
    let mut failures = Vec::new();
    // synth_large.prof stays out of the repo (benchmarks read it from shared/).
    for f in files.iter().filter(|f| f["file"] != "synth_large.prof") {
        let name = f["file"].as_str().unwrap();
        let args = ["inspect", name, "--format", "json"];
        match run_json(&args) {
            Err(e) => failures.push(e),
            Ok(doc) => {
                for k in ["functions", "total_calls", "primitive_calls", "total_time"] {
                    if let Some(d) = diff(&format!("{name}.{k}"), &doc[k], &f[k]) {
                        failures.push(d);
                    }
                }
                if doc["name"] != name {
                    failures.push(format!("{name}: document name {}", doc["name"]));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_accepted_dump_compared_with_itself_is_unchanged() {
    let m = manifest();
    let mut names: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_owned())
        .filter(|n| n != "synth_large.prof")
        .collect();
    names.extend(
        m["edge"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["file"].as_str().unwrap().to_owned()),
    );
    let mut failures = Vec::new();
    for name in &names {
        let args = ["compare", name.as_str(), name.as_str(), "--format", "json"];
        match run_json(&args) {
            Err(e) => failures.push(e),
            Ok(doc) => {
                let rows = doc["functions"].as_array().unwrap();
                if rows.len() as u64 != doc["baseline"]["functions"].as_u64().unwrap() {
                    failures.push(format!("{name}: {} rows", rows.len()));
                }
                if let Some(r) = rows.iter().find(|r| r["status"] != "unchanged") {
                    failures.push(format!("{name}: {r}"));
                }
                if rows.iter().any(|r| r["delta"]["tt"].as_f64() != Some(0.0)) {
                    failures.push(format!("{name}: non-zero delta"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
