//! Exit codes, output formats, the regression gate and `merge`, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fx(name: &str) -> String {
    fixtures().join(name).to_string_lossy().into_owned()
}

fn profdiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_profdiff"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn python3() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("NOTICE: python3 not found; skipping the pstats cross-check");
    }
    found
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["compare"][..],
        &["compare", "a.prof"],
        &["frobnicate"],
        &["compare", "a", "b", "--format", "xml"],
        &["compare", "a", "b", "--sort", "bogus"],
        &["compare", "a", "b", "--fail-on-regression", "lots"],
        &["compare", "a", "b", "--filter", "("],
        &["inspect", "a", "--sort", "nope"],
        &["merge", "out.prof"],
    ] {
        let o = profdiff(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("panicked") && !stderr(&o).contains("internal error"),
            "{args:?}"
        );
    }
    let o = profdiff(&["compare", "a", "b", "--sort", "bogus"]);
    assert!(
        stderr(&o).contains("delta_tt"),
        "error lists valid keys: {}",
        stderr(&o)
    );
}

#[test]
fn missing_file_exits_2_naming_it() {
    let o = profdiff(&["compare", "no/such/x.prof", &fx("recursion_before.prof")]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "profdiff: no/such/x.prof: cannot read: No such file or directory"
    );
    let o = profdiff(&["inspect", &fixtures().to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
}

fn totals(file: &str) -> f64 {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == file)
        .unwrap()["total_time"]
        .as_f64()
        .unwrap()
}

#[test]
fn regression_gate_trips_only_on_a_real_slowdown() {
    let (b, c) = ("recursion_before.prof", "recursion_after.prof");
    let pct = (totals(c) - totals(b)) / totals(b) * 100.0;
    assert!(
        pct > 50.0,
        "fixture premise: the candidate is much slower ({pct})"
    );
    let o = profdiff(&["compare", &fx(b), &fx(c), "--fail-on-regression", "10"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("regression gate: total time "), "{err}");
    assert!(err.contains(&format!("(+{pct:.1}%) ≥ 10%")), "{err}");
    // Above the actual change: passes.
    let limit = format!("{}", pct.ceil() + 1.0);
    ok(&profdiff(&[
        "compare",
        &fx(b),
        &fx(c),
        "--fail-on-regression",
        &limit,
    ]));
    // The other way round is a speed-up.
    ok(&profdiff(&[
        "compare",
        &fx(c),
        &fx(b),
        "--fail-on-regression",
        "10",
    ]));
    // The gate also works with JSON output, which stays a full document.
    let o = profdiff(&[
        "compare",
        &fx(b),
        &fx(c),
        "--format",
        "json",
        "--fail-on-regression",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["schema"], "profdiff.comparison/v1");
}

#[test]
fn csv_has_a_header_and_one_row_per_function() {
    let o = profdiff(&[
        "compare",
        &fx("textpipe_before.prof"),
        &fx("textpipe_after.prof"),
        "--format",
        "csv",
    ]);
    ok(&o);
    let out = stdout(&o);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let headers = r.headers().unwrap().clone();
    assert_eq!(&headers[0], "file");
    assert!(headers.iter().any(|h| h == "delta_tt"));
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    // removed 5 + changed 197 + added 5 (manifest status_counts).
    assert_eq!(rows.len(), 207);
    let delta = headers.iter().position(|h| h == "delta_tt").unwrap();
    let first: f64 = rows[0][delta].parse().unwrap();
    assert!(rows
        .iter()
        .all(|row| row[delta].parse::<f64>().unwrap().abs() <= first.abs()));
}

#[test]
fn table_shows_the_top_function_and_a_more_note() {
    let (b, c) = (fx("recursion_before.prof"), fx("recursion_after.prof"));
    let json = profdiff(&["compare", &b, &c, "--format", "json"]);
    ok(&json);
    let doc: Value = serde_json::from_str(&stdout(&json)).unwrap();
    let top = doc["functions"][0]["name"].as_str().unwrap().to_owned();
    let rows = doc["functions"].as_array().unwrap().len();
    let o = profdiff(&["compare", &b, &c, "--limit", "5"]);
    ok(&o);
    let out = stdout(&o);
    assert!(out.contains(&top), "{out}");
    assert!(out.contains("recursion_before.prof") && out.contains("recursion_after.prof"));
    assert!(
        out.contains(&format!("({} more; use --limit)", rows - 5)),
        "{out}"
    );
    // Not a terminal: no colour escapes.
    assert!(!out.contains('\u{1b}'), "{out}");
    let o = profdiff(&["compare", &b, &c, "--color", "always"]);
    assert!(stdout(&o).contains('\u{1b}'));
    // Filters narrow the rows and say so.
    let o = profdiff(&["compare", &b, &c, "--hide-builtins", "--format", "json"]);
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(doc["functions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["file"] != "~"));
    assert!(doc["functions"].as_array().unwrap().len() < rows);
}

#[test]
fn inspect_table_reads_like_pstats() {
    let o = profdiff(&["inspect", &fx("recursion_before.prof"), "--limit", "3"]);
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("285329 function calls (36512 primitive calls) in 0.092 seconds"),
        "{out}"
    );
    assert!(out.contains("ncalls  tottime  percall  cumtime  percall filename:lineno(function)"));
    assert!(out.contains("List reduced from 39 to 3"), "{out}");
    assert!(out.contains("cProfile"), "{out}");
    let o = profdiff(&[
        "inspect",
        &fx("recursion_before.prof"),
        "--sort",
        "-cumtime",
        "--format",
        "json",
    ]);
    ok(&o);
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let ct: Vec<f64> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ct"].as_f64().unwrap())
        .collect();
    assert_eq!(ct.len(), 39);
    assert!(ct.windows(2).all(|w| w[0] >= w[1]), "{ct:?}");
    let o = profdiff(&[
        "inspect",
        &fx("recursion_before.prof"),
        "--sort",
        "cumtime",
        "--limit",
        "2",
    ]);
    assert!(
        stdout(&o).contains("Ordered by: cumulative time"),
        "{}",
        stdout(&o)
    );
}

/// Loads `out` with pstats and checks it equals `pstats.Stats(first).add(*rest)`, with code
/// objects in keys written as their canonical text.
fn python_agrees_with_merge(out: &Path, inputs: &[String]) {
    let script = r#"
import marshal, pstats, sys, types
def canon(k):
    return tuple('<code object %s, file "%s", line %d>' % (p.co_name, p.co_filename, p.co_firstlineno)
                 if isinstance(p, types.CodeType) else p for p in k)
def norm(stats):
    return [(canon(k), v[:4], [(canon(ck), cv) for ck, cv in v[4].items()]) for k, v in stats.items()]
ours = pstats.Stats(sys.argv[1])
ref = pstats.Stats(sys.argv[2]).add(*sys.argv[3:])
# In memory, add() keeps total_tt as the sum of the inputs' totals; a dump reloads with
# the sum over the merged entries. Compare what a reader of both files sees.
ref.dump_stats(sys.argv[1] + ".ref")
ref = pstats.Stats(sys.argv[1] + ".ref")
a, b = norm(ours.stats), norm(ref.stats)
if a != b:
    for x, y in zip(a, b):
        if x != y:
            print("first difference:", x, y); break
    print(len(a), len(b)); sys.exit(1)
if (ours.total_calls, ours.prim_calls, ours.total_tt) != (ref.total_calls, ref.prim_calls, ref.total_tt):
    print("totals differ"); sys.exit(1)
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(out)
        .args(inputs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn merge_equals_pstats_add_and_reloads() {
    let dir = temp_dir("merge");
    let out = dir.join("merged.prof");
    let inputs: Vec<String> = [
        "recursion_before.prof",
        "recursion_after.prof",
        "recursion_merged3.prof",
    ]
    .iter()
    .map(|f| fx(f))
    .collect();
    let mut args = vec!["merge", out.to_str().unwrap()];
    args.extend(inputs.iter().map(String::as_str));
    let o = profdiff(&args);
    ok(&o);
    assert!(
        stdout(&o).starts_with("merged 3 dumps into "),
        "{}",
        stdout(&o)
    );
    assert_eq!(stdout(&o).lines().count(), 1);
    if python3() {
        python_agrees_with_merge(&out, &inputs);
    }
    // profile-module dumps (int callers, a code object in a key) merge the same way.
    let out2 = dir.join("pyprof.prof");
    let py: Vec<String> = [
        "recursion_pyprof_before.prof",
        "recursion_pyprof_after.prof",
    ]
    .iter()
    .map(|f| fx(f))
    .collect();
    ok(&profdiff(&[
        "merge",
        out2.to_str().unwrap(),
        &py[0],
        &py[1],
    ]));
    if python3() {
        python_agrees_with_merge(&out2, &py);
    }
}

#[test]
fn merging_a_dump_with_itself_doubles_every_number() {
    let dir = temp_dir("double");
    let out = dir.join("twice.prof");
    let src = fx("recursion_before.prof");
    ok(&profdiff(&["merge", out.to_str().unwrap(), &src, &src]));
    let one: Value =
        serde_json::from_str(&stdout(&profdiff(&["inspect", &src, "--format", "json"]))).unwrap();
    let two: Value = serde_json::from_str(&stdout(&profdiff(&[
        "inspect",
        out.to_str().unwrap(),
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(two["name"], "twice.prof");
    assert_eq!(one["functions"], two["functions"]);
    assert_eq!(
        two["total_calls"].as_i64().unwrap(),
        2 * one["total_calls"].as_i64().unwrap()
    );
    // x + x is exact in binary floating point, so the doubled total is exact too.
    assert_eq!(
        two["total_time"].as_f64().unwrap(),
        2.0 * one["total_time"].as_f64().unwrap()
    );
    let (e1, e2) = (
        one["entries"].as_array().unwrap(),
        two["entries"].as_array().unwrap(),
    );
    assert_eq!(e1.len(), e2.len());
    for (a, b) in e1.iter().zip(e2) {
        assert_eq!(
            (&a["file"], &a["line"], &a["name"]),
            (&b["file"], &b["line"], &b["name"])
        );
        for k in ["cc", "nc"] {
            assert_eq!(2 * a[k].as_i64().unwrap(), b[k].as_i64().unwrap());
        }
        for k in ["tt", "ct"] {
            assert_eq!(2.0 * a[k].as_f64().unwrap(), b[k].as_f64().unwrap());
        }
        for side in ["callers", "callees"] {
            let (x, y) = (a[side].as_array().unwrap(), b[side].as_array().unwrap());
            assert_eq!(x.len(), y.len());
            for (p, q) in x.iter().zip(y) {
                assert_eq!(2 * p["nc"].as_i64().unwrap(), q["nc"].as_i64().unwrap());
                assert_eq!(2.0 * p["tt"].as_f64().unwrap(), q["tt"].as_f64().unwrap());
            }
        }
    }
}

#[test]
fn merge_refuses_to_overwrite_an_input_and_mixed_callers() {
    let dir = temp_dir("refuse");
    let input = dir.join("in.prof");
    std::fs::copy(fixtures().join("recursion_before.prof"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    // Reached through another spelling of the same path.
    let alias = dir.join(".").join("in.prof");
    let o = profdiff(&[
        "merge",
        alias.to_str().unwrap(),
        &fx("recursion_after.prof"),
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("refusing to overwrite input file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // cProfile (tuple callers) + profile (int callers) for the same pair: pstats raises.
    let out = dir.join("mixed.prof");
    let o = profdiff(&[
        "merge",
        out.to_str().unwrap(),
        &fx("recursion_before.prof"),
        &fx("recursion_pyprof_before.prof"),
    ]);
    // pstats.Stats(a).add(b) raises TypeError for these two (checked with CPython 3.11).
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot merge the caller"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    // `script` (util-linux) runs the command on a pseudo-terminal.
    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("NOTICE: /usr/bin/script missing; skipping the terminal colour check");
        return;
    }
    let cmd = format!(
        "'{}' compare '{}' '{}' --limit 3",
        env!("CARGO_BIN_EXE_profdiff"),
        fx("recursion_before.prof"),
        fx("recursion_after.prof")
    );
    let run = |no_color: bool| {
        let mut c = Command::new(script);
        c.args(["-qec", &cmd, "/dev/null"]).env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let o = c.output().unwrap();
        ok(&o);
        stdout(&o)
    };
    let tty = run(false);
    assert!(tty.contains("permutations"), "{tty}");
    assert!(tty.contains('\u{1b}'), "no colour on a terminal: {tty}");
    let plain = run(true);
    assert!(plain.contains("permutations"), "{plain}");
    assert!(
        !plain.contains('\u{1b}'),
        "colour despite NO_COLOR: {plain}"
    );
}

fn json_rows(args: &[&str]) -> Vec<Value> {
    let o = profdiff(args);
    ok(&o);
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    doc["functions"].as_array().unwrap().clone()
}

#[test]
fn engine_flags_reach_the_engine() {
    let (b, c) = (fx("stdlibmix_before.prof"), fx("stdlibmix_after.prof"));
    let base = ["compare", b.as_str(), c.as_str(), "--format", "json"];
    let all = json_rows(&base);
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        json_rows(&a)
    };
    let rows = with(&[
        "--sort",
        "-delta_tt",
        "--status",
        "changed",
        "--min-delta",
        "0.001",
    ]);
    assert!(!rows.is_empty() && rows.len() < all.len());
    let dtt: Vec<f64> = rows
        .iter()
        .map(|r| r["delta"]["tt"].as_f64().unwrap())
        .collect();
    assert!(dtt.windows(2).all(|w| w[0] >= w[1]), "{dtt:?}");
    assert!(dtt.iter().all(|d| d.abs() >= 0.001));
    assert!(rows.iter().all(|r| r["status"] == "changed"));

    let rows = with(&["--hide-stdlib", "--hide-builtins"]);
    assert!(!rows.is_empty() && rows.len() < all.len());
    for r in &rows {
        let f = r["file"].as_str().unwrap();
        assert!(
            !f.starts_with("/usr/lib/python") && !f.starts_with("<frozen") && f != "~",
            "{f}"
        );
    }

    let rows = with(&["--filter", "^/home/dev/"]);
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r["file"].as_str().unwrap().starts_with("/home/dev/"))
    );

    let rows = with(&["--normalize"]);
    let share: f64 = rows
        .iter()
        .filter_map(|r| r["baseline"]["tt"].as_f64())
        .sum();
    assert!((share - 1.0).abs() < 1e-9, "baseline shares sum to {share}");

    let rows = with(&["--limit", "7", "--sort", "+name"]);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 7);
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // `profdiff ... | head -1`: the rest of the output has nowhere to go; no panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_profdiff"))
        .args([
            "compare",
            &fx("synth_medium_before.prof"),
            &fx("synth_medium_after.prof"),
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("internal error"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
