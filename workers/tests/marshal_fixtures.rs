//! Every real marshal fixture decodes to what pstats reads from it (manifest totals and
//! the expected single-dump JSON written by Python's pstats).

mod support;

use std::collections::HashMap;

use profdiff_workers::decode::decode;
use profdiff_workers::profile::{EdgeStats, Producer, Profile, SourceFormat};
use serde_json::Value;
use support::{manifest, read_fixture};

fn marshal_files() -> Vec<Value> {
    let m = manifest();
    let files = m["files"].as_array().expect("files").clone();
    files
        .into_iter()
        .filter(|f| f["format"] == "marshal")
        .filter(|f| {
            support::fixtures()
                .join(f["file"].as_str().unwrap())
                .exists()
        })
        .collect()
}

#[test]
fn every_marshal_fixture_matches_the_manifest() {
    let files = marshal_files();
    assert!(
        files.len() >= 34,
        "only {} marshal fixtures found",
        files.len()
    );
    for f in &files {
        let name = f["file"].as_str().unwrap();
        let p = decode(&read_fixture(name), name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.name, name);
        assert_eq!(
            p.len() as u64,
            f["functions"].as_u64().unwrap(),
            "{name} functions"
        );
        assert_eq!(
            p.totals.total_calls,
            f["total_calls"].as_i64().unwrap(),
            "{name} total_calls"
        );
        assert_eq!(
            p.totals.primitive_calls,
            f["primitive_calls"].as_i64().unwrap(),
            "{name} primitive_calls"
        );
        // pstats sums tt in dict order, as the builder does: the sums are bit-identical.
        assert_eq!(
            p.totals.total_time,
            f["total_time"].as_f64().unwrap(),
            "{name} total_time"
        );
        let max_callers = p
            .functions
            .iter()
            .map(|f| p.callers(f).len())
            .max()
            .unwrap_or(0);
        assert_eq!(
            max_callers as u64,
            f["max_callers"].as_u64().unwrap(),
            "{name}"
        );
        let want_version = if name.contains("marshal-v0") {
            0
        } else if name.contains("marshal-v2") {
            2
        } else if name.contains("marshal-v3") {
            3
        } else {
            4
        };
        assert_eq!(
            p.format,
            SourceFormat::Marshal {
                version: want_version
            },
            "{name}"
        );
        let kind = f["kind"].as_str().unwrap();
        let int_edges = f["callers_values"] == serde_json::json!(["int"]);
        assert_eq!(
            p.edges.iter().all(|e| !e.stats.has_times()),
            int_edges,
            "{name}: int callers values"
        );
        if kind == "profile" {
            assert_eq!(p.producer, Producer::Profile, "{name}");
        } else if kind.starts_with("yappi") {
            assert_eq!(p.producer, Producer::Yappi, "{name}");
        } else if kind.starts_with("cprofile") {
            assert_eq!(p.producer, Producer::Cprofile, "{name}");
        }
        for key in f["code_object_keys"].as_array().into_iter().flatten() {
            let want = (
                key[0].as_str().unwrap(),
                key[1].as_i64().unwrap(),
                key[2].as_str().unwrap(),
            );
            assert!(
                p.functions.iter().any(|f| p.key_parts(f.key) == want),
                "{name}: no entry {want:?}"
            );
        }
    }
}

type Parts = (String, i64, String);

fn parts(p: &Profile, key: u32) -> Parts {
    let (f, l, n) = p.key_parts(key);
    (f.to_owned(), l, n.to_owned())
}

fn json_parts(v: &Value) -> Parts {
    (
        v["file"].as_str().unwrap().to_owned(),
        v["line"].as_i64().unwrap(),
        v["name"].as_str().unwrap().to_owned(),
    )
}

/// A JSON number or null as an optional f64 (an int 0 equals 0.0).
fn num(v: &Value) -> Option<f64> {
    if v.is_null() {
        None
    } else {
        Some(v.as_f64().expect("number"))
    }
}

fn edge_matches(what: &str, got: (Parts, EdgeStats), want: &Value) {
    assert_eq!(got.0, json_parts(want), "{what}");
    let e = got.1;
    assert_eq!(e.cc, want["cc"].as_i64().unwrap(), "{what} cc {:?}", got.0);
    assert_eq!(e.nc, want["nc"].as_i64().unwrap(), "{what} nc {:?}", got.0);
    assert_eq!(e.tt(), num(&want["tt"]), "{what} tt {:?}", got.0);
    assert_eq!(e.ct(), num(&want["ct"]), "{what} ct {:?}", got.0);
}

fn check_expected(dump: &str, expected: &str) {
    let p = decode(&read_fixture(dump), dump).unwrap_or_else(|e| panic!("{dump}: {e}"));
    let doc: Value = serde_json::from_slice(&read_fixture(expected)).unwrap();
    assert_eq!(p.len() as u64, doc["functions"].as_u64().unwrap(), "{dump}");
    assert_eq!(p.totals.total_calls, doc["total_calls"].as_i64().unwrap());
    assert_eq!(
        p.totals.primitive_calls,
        doc["primitive_calls"].as_i64().unwrap()
    );
    assert_eq!(p.totals.total_time, doc["total_time"].as_f64().unwrap());
    let by_key: HashMap<Parts, usize> = p
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| (parts(&p, f.key), i))
        .collect();
    let callees = p.callees();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), p.len());
    for want in entries {
        let k = json_parts(want);
        let f = &p.functions[*by_key
            .get(&k)
            .unwrap_or_else(|| panic!("{dump}: missing {k:?}"))];
        assert_eq!(f.stats.cc, want["cc"].as_i64().unwrap(), "{dump} {k:?} cc");
        assert_eq!(f.stats.nc, want["nc"].as_i64().unwrap(), "{dump} {k:?} nc");
        assert_eq!(Some(f.stats.tt), num(&want["tt"]), "{dump} {k:?} tt");
        assert_eq!(Some(f.stats.ct), num(&want["ct"]), "{dump} {k:?} ct");

        let mut got: Vec<(Parts, EdgeStats)> = p
            .callers(f)
            .iter()
            .map(|e| (parts(&p, e.caller), e.stats))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let want_callers = want["callers"].as_array().unwrap();
        assert_eq!(got.len(), want_callers.len(), "{dump} {k:?} callers");
        for (g, w) in got.into_iter().zip(want_callers) {
            edge_matches(&format!("{dump} caller of {k:?}"), g, w);
        }

        let mut got: Vec<(Parts, EdgeStats)> = callees[f.key as usize]
            .iter()
            .map(|&(callee, e)| (parts(&p, p.functions[callee as usize].key), e))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let want_callees = want["callees"].as_array().unwrap();
        assert_eq!(got.len(), want_callees.len(), "{dump} {k:?} callees");
        for (g, w) in got.into_iter().zip(want_callees) {
            edge_matches(&format!("{dump} callee of {k:?}"), g, w);
        }
    }
}

#[test]
fn single_dumps_match_pstats_expected_json() {
    let m = manifest();
    let mut checked = 0;
    for s in m["single_expected"].as_array().unwrap() {
        let file = s["file"].as_str().unwrap();
        if file.ends_with(".pkl") {
            continue;
        }
        check_expected(file, s["expected"].as_str().unwrap());
        checked += 1;
    }
    assert!(checked >= 5, "checked {checked}");
}

#[test]
fn edge_dumps_match_pstats_expected_json() {
    let m = manifest();
    let mut checked = 0;
    for e in m["edge"].as_array().unwrap() {
        let file = e["file"].as_str().unwrap();
        match e["expected"].as_str() {
            Some(expected) => {
                check_expected(file, expected);
                checked += 1;
            }
            None => {
                // No oracle (pstats could not print it); it must still decode.
                decode(&read_fixture(file), file).unwrap_or_else(|err| panic!("{file}: {err}"));
            }
        }
    }
    assert_eq!(checked, 5);
}

#[test]
fn surrogate_file_name_becomes_replacement_character() {
    let p = decode(&read_fixture("edge/surrogate_filename.prof"), "s.prof").unwrap();
    let files: Vec<&str> = p.functions.iter().map(|f| p.key_parts(f.key).0).collect();
    assert!(
        files.contains(&"/src/bad\u{FFFD}\u{FFFD}\u{FFFD}.py"),
        "{files:?}"
    );
}

#[test]
fn trailing_garbage_is_ignored_like_pstats() {
    let p = decode(&read_fixture("edge/trailing_garbage.prof"), "t.prof").unwrap();
    let clean = read_fixture("edge/trailing_garbage.prof");
    // Everything the valid dump holds is there, whatever follows it.
    assert_eq!(p.totals.total_calls, {
        let doc: Value = serde_json::from_slice(&read_fixture(
            "expected/edge/trailing_garbage.prof.single.expected.json",
        ))
        .unwrap();
        doc["total_calls"].as_i64().unwrap()
    });
    assert!(clean.len() > 25145);
}

#[test]
fn profile_code_object_key_is_named_like_python_repr() {
    let p = decode(&read_fixture("textpipe_pyprof_before.prof"), "x").unwrap();
    let want = (
        "profile",
        0,
        "<code object <module>, file \"/home/dev/textpipe/textpipe.py\", line 1>",
    );
    let f = p
        .functions
        .iter()
        .find(|f| p.key_parts(f.key) == want)
        .expect("code object key");
    // `profile` roots: the code object entry is called once by the fake profiler root.
    let callers = p.callers(f);
    assert_eq!(callers.len(), 1);
    assert_eq!(p.key_parts(callers[0].caller), ("profile", 0, "profiler"));
    let e = callers[0].stats;
    assert_eq!((e.nc, e.cc, e.tt(), e.ct()), (1, 1, None, None));
}
