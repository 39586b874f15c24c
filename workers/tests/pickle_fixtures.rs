//! Every real `.pkl` fixture decodes to what pstats holds: the manifest's totals, and
//! entry by entry the reference JSON written by Python's pstats.

use std::collections::BTreeMap;
use std::path::PathBuf;

use profdiff_workers::decode::pickle;
use profdiff_workers::profile::{Limits, Producer, Profile, SourceFormat};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json(rel: &str) -> Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

fn decode(rel: &str) -> Profile {
    let bytes = read(rel);
    // Through the public entry point too, so sniffing sends every fixture here.
    let via_sniff = profdiff_workers::decode(&bytes, rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let direct = pickle::decode(&bytes, rel, Limits::for_input(bytes.len()))
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    // Debug text, not `==`: absent edge times are NaN, which never equals itself.
    assert!(
        format!("{via_sniff:?}") == format!("{direct:?}"),
        "{rel}: sniffed decode differs"
    );
    direct
}

fn pickle_fixtures() -> Vec<Value> {
    let manifest = json("manifest.json");
    let files: Vec<Value> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["format"] == "pickle")
        .cloned()
        .collect();
    files
}

#[test]
fn every_pickle_fixture_matches_the_manifest() {
    let files = pickle_fixtures();
    assert_eq!(files.len(), 11, "the fixture set has 11 pickles");
    for f in &files {
        let rel = f["file"].as_str().unwrap();
        let p = decode(rel);
        assert_eq!(
            p.functions.len() as u64,
            f["functions"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(
            p.totals.total_calls,
            f["total_calls"].as_i64().unwrap(),
            "{rel}"
        );
        assert_eq!(
            p.totals.primitive_calls,
            f["primitive_calls"].as_i64().unwrap(),
            "{rel}"
        );
        assert_eq!(
            p.totals.total_time,
            f["total_time"].as_f64().unwrap(),
            "{rel}"
        );
        let max_callers = p.functions.iter().map(|f| p.callers(f).len()).max();
        assert_eq!(
            max_callers.map(|m| m as u64),
            f["max_callers"].as_u64(),
            "{rel}"
        );
    }
}

#[test]
fn formats_and_protocols_are_reported() {
    for n in 0..=5u8 {
        let p = decode(&format!("textpipe_before.p{n}.pkl"));
        assert_eq!(p.format, SourceFormat::Pickle { protocol: n });
        assert_eq!(p.producer, Producer::Cprofile);
    }
    for (rel, protocol) in [
        ("textpipe_before.statsobj.p2.pkl", 2),
        ("textpipe_before.statsobj.p5.pkl", 5),
        ("textpipe_after.statsobj_sorted_callees.p4.pkl", 4),
    ] {
        assert_eq!(
            decode(rel).format,
            SourceFormat::PickledStats { protocol },
            "{rel}"
        );
    }
    let p0 = decode("recursion_pyprof_api_before.p0.pkl");
    assert_eq!(p0.format, SourceFormat::Pickle { protocol: 0 });
    assert_eq!(p0.producer, Producer::Profile);
}

/// `(file, line, name)` → (cc, nc, tt, ct, callers as JSON-like tuples), from a profile.
type Entry = (i64, i64, f64, f64, Vec<EdgeRow>);
type EdgeRow = (String, i64, String, i64, i64, Option<f64>, Option<f64>);

fn entries(p: &Profile) -> BTreeMap<(String, i64, String), Entry> {
    let mut out = BTreeMap::new();
    for f in &p.functions {
        let (file, line, name) = p.key_parts(f.key);
        let mut callers: Vec<EdgeRow> = p
            .callers(f)
            .iter()
            .map(|e| {
                let (cf, cl, cn) = p.key_parts(e.caller);
                (
                    cf.into(),
                    cl,
                    cn.into(),
                    e.stats.cc,
                    e.stats.nc,
                    e.stats.tt(),
                    e.stats.ct(),
                )
            })
            .collect();
        callers.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));
        let s = f.stats;
        out.insert(
            (file.into(), line, name.into()),
            (s.cc, s.nc, s.tt, s.ct, callers),
        );
    }
    out
}

fn expected_entries(doc: &Value) -> BTreeMap<(String, i64, String), Entry> {
    let key = |v: &Value| {
        (
            v["file"].as_str().unwrap().to_owned(),
            v["line"].as_i64().unwrap(),
            v["name"].as_str().unwrap().to_owned(),
        )
    };
    let mut out = BTreeMap::new();
    for e in doc["entries"].as_array().unwrap() {
        let callers = e["callers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let (f, l, n) = key(c);
                (
                    f,
                    l,
                    n,
                    c["cc"].as_i64().unwrap(),
                    c["nc"].as_i64().unwrap(),
                    c["tt"].as_f64(),
                    c["ct"].as_f64(),
                )
            })
            .collect();
        let prev = out.insert(
            key(e),
            (
                e["cc"].as_i64().unwrap(),
                e["nc"].as_i64().unwrap(),
                e["tt"].as_f64().unwrap(),
                e["ct"].as_f64().unwrap(),
                callers,
            ),
        );
        assert!(prev.is_none());
    }
    out
}

fn assert_same(
    rel: &str,
    got: &BTreeMap<(String, i64, String), Entry>,
    want: &BTreeMap<(String, i64, String), Entry>,
) {
    assert_eq!(got.len(), want.len(), "{rel}: entry count");
    for (k, w) in want {
        let g = got.get(k).unwrap_or_else(|| panic!("{rel}: {k:?} missing"));
        // Floats compared exactly: the pickle holds the same doubles pstats printed.
        assert_eq!(g, w, "{rel}: {k:?}");
    }
}

#[test]
fn textpipe_pickles_equal_the_pstats_reference_entry_by_entry() {
    let want = expected_entries(&json(
        "expected/textpipe_before.statsobj.p2.pkl.single.expected.json",
    ));
    let want_prof = expected_entries(&json("expected/textpipe_before.prof.single.expected.json"));
    // The pickles and the marshal dump are the same profile.
    assert_eq!(want, want_prof);
    let doc = json("expected/textpipe_before.prof.single.expected.json");
    let mut order = None;
    for rel in [
        "textpipe_before.p0.pkl",
        "textpipe_before.p1.pkl",
        "textpipe_before.p2.pkl",
        "textpipe_before.p3.pkl",
        "textpipe_before.p4.pkl",
        "textpipe_before.p5.pkl",
        "textpipe_before.statsobj.p2.pkl",
        "textpipe_before.statsobj.p5.pkl",
    ] {
        let p = decode(rel);
        assert_same(rel, &entries(&p), &want);
        assert_eq!(
            p.totals.total_time,
            doc["total_time"].as_f64().unwrap(),
            "{rel}"
        );
        assert_eq!(
            p.totals.total_calls,
            doc["total_calls"].as_i64().unwrap(),
            "{rel}"
        );
        // Every protocol keeps the dict's (file) order.
        let keys: Vec<_> = p
            .functions
            .iter()
            .map(|f| p.key_parts(f.key))
            .map(|(a, b, c)| (a.to_owned(), b, c.to_owned()))
            .collect();
        match &order {
            None => order = Some(keys),
            Some(o) => assert_eq!(o, &keys, "{rel}: order"),
        }
    }
}

#[test]
fn sorted_stats_object_matches_the_candidate_side_of_the_comparison() {
    let doc = json("expected/textpipe.expected.json");
    let p = decode("textpipe_after.statsobj_sorted_callees.p4.pkl");
    let got = entries(&p);
    let mut seen = 0;
    for f in doc["functions"].as_array().unwrap() {
        let c = &f["candidate"];
        if c.is_null() {
            continue;
        }
        let k = (
            f["file"].as_str().unwrap().to_owned(),
            f["line"].as_i64().unwrap(),
            f["name"].as_str().unwrap().to_owned(),
        );
        let g = got.get(&k).unwrap_or_else(|| panic!("{k:?} missing"));
        assert_eq!(
            (g.0, g.1, g.2, g.3),
            (
                c["cc"].as_i64().unwrap(),
                c["nc"].as_i64().unwrap(),
                c["tt"].as_f64().unwrap(),
                c["ct"].as_f64().unwrap()
            ),
            "{k:?}"
        );
        seen += 1;
    }
    assert_eq!(seen, p.functions.len());
    assert_eq!(
        p.totals.total_calls,
        doc["candidate"]["total_calls"].as_i64().unwrap()
    );
    assert_eq!(
        p.totals.total_time,
        doc["candidate"]["total_time"].as_f64().unwrap()
    );
}

#[test]
fn profile_module_pickles_have_int_caller_counts_and_agree_across_protocols() {
    let p0 = decode("recursion_pyprof_api_before.p0.pkl");
    let p4 = decode("recursion_pyprof_api_before.p4.pkl");
    assert_eq!(entries(&p0), entries(&p4));
    assert!(p0
        .edges
        .iter()
        .all(|e| !e.stats.has_times() && e.stats.nc == e.stats.cc));
    assert!(!p0.edges.is_empty());
    // The `profile` root holds int times, read as 0.0.
    let root = p0
        .functions
        .iter()
        .find(|f| p0.key_parts(f.key) == ("profile", 0, "profiler"))
        .unwrap();
    assert_eq!(
        (root.stats.cc, root.stats.nc, root.stats.tt, root.stats.ct),
        (0, 0, 0.0, 0.0)
    );
}
