//! Property tests: random stats dicts pickled at every protocol (bare or inside a
//! pstats.Stats object, with memo sharing) decode back to the same values, and
//! random damage to the real fixtures never panics.

mod pickle_support;

use std::collections::HashSet;
use std::path::PathBuf;
use std::rc::Rc;

use pickle_support::{dumps, stats_dict, stats_object, CallerVal, Entry, Py};
use profdiff_workers::decode::pickle;
use profdiff_workers::profile::{Limits, SourceFormat};
use proptest::prelude::*;

type Key = (String, i64, String);

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("~".to_owned()),
        Just(String::new()),
        Just("/home/dev/naïve_модуль_模块/x.py".to_owned()),
        // Characters protocol 0 must escape, and one beyond the BMP.
        Just("a\\b\nc\r\0\u{1a}😀'\"".to_owned()),
        "(?s).{0,12}",
        "[a-z_/.]{1,300}",
    ]
}

fn count() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -1i64..100_000, 1 => any::<i64>()]
}

fn time() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |t| t.is_finite()),
        0.0f64..1.0,
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 8.0),
    ]
}

fn key() -> impl Strategy<Value = Key> {
    (text(), prop_oneof![0i64..5000, any::<i64>()], text())
}

fn caller_val() -> impl Strategy<Value = CallerVal> {
    prop_oneof![
        (count(), count(), time(), time()).prop_map(|(a, b, c, d)| CallerVal::Timed(a, b, c, d)),
        count().prop_map(CallerVal::Count),
    ]
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    let entry = (
        key(),
        (count(), count(), time(), time()),
        prop::collection::vec((key(), caller_val()), 0..6),
    )
        .prop_map(|(key, stats, callers)| Entry {
            key,
            stats,
            callers,
        });
    prop::collection::vec(entry, 1..12).prop_map(|mut es| {
        // Keys of a dict are unique.
        let mut seen = HashSet::new();
        es.retain(|e| seen.insert(e.key.clone()));
        for e in &mut es {
            let mut seen = HashSet::new();
            e.callers.retain(|(k, _)| seen.insert(k.clone()));
        }
        es
    })
}

/// The callers dict of the first entry, given to every entry as one shared object.
fn share_callers(entries: &[Entry]) -> (Py, Vec<Entry>) {
    let mut entries = entries.to_vec();
    let first = entries[0].callers.clone();
    for e in &mut entries {
        e.callers = first.clone();
    }
    let Py::Dict(items) = stats_dict(&entries) else {
        unreachable!()
    };
    let shared = match &items[0].1 {
        Py::Tuple(t) => Rc::new(t[4].clone()),
        _ => unreachable!(),
    };
    let items = items
        .into_iter()
        .map(|(k, v)| match v {
            Py::Tuple(mut t) => {
                t[4] = Py::Shared(shared.clone());
                (k, Py::Tuple(t))
            }
            other => (k, other),
        })
        .collect();
    (Py::Dict(items), entries)
}

fn same_float(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

proptest! {

    #[test]
    fn written_stats_decode_back(
        es in entries(),
        protocol in 0u8..=5,
        wrapped in any::<bool>(),
        shared in any::<bool>(),
    ) {
        let (dict, es) = if shared { share_callers(&es) } else { (stats_dict(&es), es) };
        let value = if wrapped { stats_object(dict) } else { dict };
        let bytes = dumps(&value, protocol);
        let result = pickle::decode(&bytes, "p.pkl", Limits::for_input(bytes.len()));
        let sum = |f: fn(&Entry) -> i64| es.iter().try_fold(0i64, |acc, e| acc.checked_add(f(e)));
        let (Some(total_calls), Some(prim)) = (sum(|e| e.stats.1), sum(|e| e.stats.0)) else {
            let err = result.unwrap_err().to_string();
            prop_assert!(err.contains("overflows a 64-bit integer"), "{}", err);
            return Ok(());
        };
        let p = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want_format = if wrapped {
            SourceFormat::PickledStats { protocol }
        } else {
            SourceFormat::Pickle { protocol }
        };
        prop_assert_eq!(p.format, want_format);
        prop_assert_eq!(p.functions.len(), es.len());
        prop_assert_eq!(p.totals.total_calls, total_calls);
        prop_assert_eq!(p.totals.primitive_calls, prim);
        let total_time = es.iter().fold(0.0, |acc, e| acc + e.stats.2);
        prop_assert!(same_float(p.totals.total_time, total_time));
        for (f, e) in p.functions.iter().zip(&es) {
            let (file, line, name) = p.key_parts(f.key);
            prop_assert_eq!((file, line, name), (e.key.0.as_str(), e.key.1, e.key.2.as_str()));
            prop_assert_eq!((f.stats.cc, f.stats.nc), (e.stats.0, e.stats.1));
            prop_assert!(same_float(f.stats.tt, e.stats.2) && same_float(f.stats.ct, e.stats.3));
            let got = p.callers(f);
            prop_assert_eq!(got.len(), e.callers.len());
            for (edge, (ck, cv)) in got.iter().zip(&e.callers) {
                let (cf, cl, cn) = p.key_parts(edge.caller);
                prop_assert_eq!((cf, cl, cn), (ck.0.as_str(), ck.1, ck.2.as_str()));
                match *cv {
                    CallerVal::Timed(nc, cc, tt, ct) => {
                        prop_assert_eq!((edge.stats.nc, edge.stats.cc), (nc, cc));
                        prop_assert!(edge.stats.tt().is_some_and(|t| same_float(t, tt)));
                        prop_assert!(edge.stats.ct().is_some_and(|t| same_float(t, ct)));
                    }
                    CallerVal::Count(n) => {
                        prop_assert_eq!((edge.stats.nc, edge.stats.cc), (n, n));
                        prop_assert!(!edge.stats.has_times());
                    }
                }
            }
        }
    }

    #[test]
    fn damaged_fixtures_never_panic(
        which in 0usize..11,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = fixture_bytes()[which].clone();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes[i] ^= 1 << (byte % 8),
                2 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        if let Some(cut) = cut {
            let len = cut.index(bytes.len() + 1);
            bytes.truncate(len);
        }
        // Ok or Err are both fine; a panic fails the test. Errors must say something.
        if let Err(e) = pickle::decode(&bytes, "x.pkl", Limits::for_input(bytes.len())) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

fn fixture_bytes() -> &'static Vec<Vec<u8>> {
    static CACHE: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pkl"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 11);
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

#[test]
fn every_truncation_of_a_real_pickle_is_refused() {
    // Every cut near both ends and every 61st in between, for a protocol-0 dict and
    // a framed protocol-4 Stats object (files sorted: 3 = textpipe_before.p0.pkl,
    // 2 = textpipe_after.statsobj_sorted_callees.p4.pkl).
    for which in [3usize, 2] {
        let bytes = &fixture_bytes()[which];
        let n = bytes.len();
        let cuts = (0..n).filter(|&l| l < 600 || l + 600 > n || l % 61 == 0);
        for len in cuts {
            let r = pickle::decode(&bytes[..len], "t.pkl", Limits::for_input(len));
            assert!(r.is_err(), "file {which} cut at {len} was accepted");
        }
    }
}
