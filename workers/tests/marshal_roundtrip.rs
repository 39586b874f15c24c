//! Round trips through a test-only marshal writer (versions 0–4, with and without
//! reference sharing), hand-built code objects of every supported CPython layout,
//! other producers' quirks, and mutated real dumps (never a panic).

mod support;

use std::collections::HashMap;
use std::rc::Rc;

use profdiff_workers::decode::marshal::{self, MarshalError};
use profdiff_workers::profile::{Limits, Producer, Profile, ShapeError, SourceFormat};
use proptest::prelude::*;
use support::read_fixture;
use support::writer::{dumps, s, t, Obj};

fn decode(bytes: &[u8]) -> Result<Profile, MarshalError> {
    marshal::decode(bytes, "t.prof", Limits::for_input(bytes.len()))
}

#[derive(Debug, Clone, Copy)]
enum Time {
    F(f64),
    I(i64),
}

impl Time {
    fn value(self) -> f64 {
        match self {
            Time::F(f) => f,
            Time::I(i) => i as f64,
        }
    }
}

#[derive(Debug, Clone)]
enum Callers {
    Ints(Vec<(usize, i64)>),
    Tuples(Vec<(usize, (i64, i64, Time, Time))>),
    /// The same dict object as an earlier entry's (by position in `entries`).
    SameAs(usize),
}

#[derive(Debug, Clone)]
struct Entry {
    key: usize,
    cc: i64,
    nc: i64,
    tt: Time,
    ct: Time,
    callers: Callers,
}

#[derive(Debug, Clone)]
struct Case {
    version: u8,
    share: bool,
    keys: Vec<(String, i64, String)>,
    entries: Vec<Entry>,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "~".to_string(),
            String::new(),
            "/usr/lib/python3.11/json/decoder.py".into(),
            "/home/dev/naïve_модуль_模块/m.py".into(),
            "C:\\Users\\dev\\x.py".into(),
            "<built-in method builtins.len>".into(),
            "x".repeat(300),
            "é".repeat(200),
        ]),
        "\\PC{0,24}",
    ]
}

fn count() -> impl Strategy<Value = i64> {
    prop_oneof![
        -2i64..100_000,
        any::<i64>(),
        prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0, i64::from(i32::MAX) + 1]),
    ]
}

fn time() -> impl Strategy<Value = Time> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        4 => (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).prop_map(Time::F),
        1 => (-1_000_000i64..1_000_000).prop_map(Time::I),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let keys = prop::collection::vec((text(), count(), text()), 1..10).prop_map(|mut ks| {
        let mut seen = std::collections::HashSet::new();
        ks.retain(|k| seen.insert(k.clone()));
        ks
    });
    (0u8..=4, any::<bool>(), keys).prop_flat_map(|(version, share, keys)| {
        let n = keys.len();
        let edge = (0..n, (count(), count(), time(), time()));
        let callers = prop_oneof![
            prop::collection::vec((0..n, count()), 0..6).prop_map(Callers::Ints),
            prop::collection::vec(edge, 0..6).prop_map(Callers::Tuples),
            (0..8usize).prop_map(Callers::SameAs),
        ];
        let entry = (count(), count(), time(), time(), callers);
        let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        (
            Just(version),
            Just(share),
            Just(keys),
            order,
            prop::collection::vec(entry, n..=n),
            1..=n,
        )
            .prop_map(|(version, share, keys, order, raw, len)| {
                let mut entries: Vec<Entry> = Vec::new();
                for (i, (cc, nc, tt, ct, callers)) in raw.into_iter().take(len).enumerate() {
                    let callers = match callers {
                        // Only an earlier entry that owns a dict can be shared.
                        Callers::SameAs(j)
                            if j < i && !matches!(entries[j].callers, Callers::SameAs(_)) =>
                        {
                            Callers::SameAs(j)
                        }
                        Callers::SameAs(_) => Callers::Ints(Vec::new()),
                        Callers::Ints(mut v) => {
                            let mut seen = std::collections::HashSet::new();
                            v.retain(|(k, _)| seen.insert(*k));
                            Callers::Ints(v)
                        }
                        Callers::Tuples(mut v) => {
                            let mut seen = std::collections::HashSet::new();
                            v.retain(|(k, _)| seen.insert(*k));
                            Callers::Tuples(v)
                        }
                    };
                    entries.push(Entry {
                        key: order[i],
                        cc,
                        nc,
                        tt,
                        ct,
                        callers,
                    });
                }
                Case {
                    version,
                    share,
                    keys,
                    entries,
                }
            })
    })
}

/// Builds the marshal object for a case; with `share`, equal strings, ints and keys are
/// one Python object (written once with FLAG_REF, then TYPE_REF from v3).
fn build(case: &Case) -> Obj {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut id_of = |what: String| -> u32 {
        let n = ids.len() as u32;
        *ids.entry(what).or_insert(n)
    };
    let share = case.share;
    let mut shared = |what: String, obj: Obj| -> Obj {
        if share {
            Obj::Shared(id_of(what), Rc::new(obj))
        } else {
            obj
        }
    };
    let key = |i: usize, shared: &mut dyn FnMut(String, Obj) -> Obj| -> Obj {
        let (f, l, n) = &case.keys[i];
        let tuple = t(vec![
            shared(format!("s:{f}"), s(f)),
            shared(format!("i:{l}"), Obj::Int(*l)),
            shared(format!("s:{n}"), s(n)),
        ]);
        shared(format!("k:{i}"), tuple)
    };
    let time = |t: Time| match t {
        Time::F(f) => Obj::Float(f),
        Time::I(i) => Obj::Int(i),
    };
    let mut dicts: Vec<Option<Obj>> = Vec::new();
    let mut pairs = Vec::new();
    for e in &case.entries {
        let callers = match &e.callers {
            Callers::SameAs(j) => dicts[*j].clone().expect("owner"),
            Callers::Ints(v) => Obj::Shared(
                1_000_000 + dicts.len() as u32,
                Rc::new(Obj::Dict(
                    v.iter()
                        .map(|&(k, n)| (key(k, &mut shared), Obj::Int(n)))
                        .collect(),
                )),
            ),
            Callers::Tuples(v) => Obj::Shared(
                1_000_000 + dicts.len() as u32,
                Rc::new(Obj::Dict(
                    v.iter()
                        .map(|&(k, (nc, cc, tt, ct))| {
                            let value = t(vec![Obj::Int(nc), Obj::Int(cc), time(tt), time(ct)]);
                            (key(k, &mut shared), value)
                        })
                        .collect(),
                )),
            ),
        };
        dicts.push(match e.callers {
            Callers::SameAs(_) => None,
            _ => Some(callers.clone()),
        });
        let value = t(vec![
            shared(format!("i:{}", e.cc), Obj::Int(e.cc)),
            shared(format!("i:{}", e.nc), Obj::Int(e.nc)),
            time(e.tt),
            time(e.ct),
            callers,
        ]);
        pairs.push((key(e.key, &mut shared), value));
    }
    Obj::Dict(pairs)
}

fn same_f64(a: Option<f64>, b: Option<f64>) -> bool {
    a.map(f64::to_bits) == b.map(f64::to_bits)
}

fn check(case: &Case, p: &Profile) -> Result<(), TestCaseError> {
    prop_assert_eq!(p.len(), case.entries.len());
    for (f, e) in p.functions.iter().zip(&case.entries) {
        let (file, line, name) = &case.keys[e.key];
        prop_assert_eq!(p.key_parts(f.key), (file.as_str(), *line, name.as_str()));
        prop_assert_eq!((f.stats.cc, f.stats.nc), (e.cc, e.nc));
        prop_assert!(same_f64(Some(f.stats.tt), Some(e.tt.value())));
        prop_assert!(same_f64(Some(f.stats.ct), Some(e.ct.value())));
        let callers = match &e.callers {
            Callers::SameAs(j) => &case.entries[*j].callers,
            c => c,
        };
        let got = p.callers(f);
        match callers {
            Callers::Ints(v) => {
                prop_assert_eq!(got.len(), v.len());
                for (edge, (k, n)) in got.iter().zip(v) {
                    let (file, line, name) = &case.keys[*k];
                    prop_assert_eq!(
                        p.key_parts(edge.caller),
                        (file.as_str(), *line, name.as_str())
                    );
                    prop_assert_eq!((edge.stats.nc, edge.stats.cc), (*n, *n));
                    prop_assert!(edge.stats.tt().is_none() && edge.stats.ct().is_none());
                }
            }
            Callers::Tuples(v) => {
                prop_assert_eq!(got.len(), v.len());
                for (edge, (k, (nc, cc, tt, ct))) in got.iter().zip(v) {
                    let (file, line, name) = &case.keys[*k];
                    prop_assert_eq!(
                        p.key_parts(edge.caller),
                        (file.as_str(), *line, name.as_str())
                    );
                    prop_assert_eq!((edge.stats.nc, edge.stats.cc), (*nc, *cc));
                    prop_assert!(same_f64(edge.stats.tt(), Some(tt.value())));
                    prop_assert!(same_f64(edge.stats.ct(), Some(ct.value())));
                }
            }
            Callers::SameAs(_) => unreachable!("owners are never SameAs"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_stats_dicts_round_trip(case in case()) {
        let bytes = dumps(&build(&case), case.version);
        let sums = case.entries.iter().try_fold((0i64, 0i64), |(n, c), e| {
            Some((n.checked_add(e.nc)?, c.checked_add(e.cc)?))
        });
        match (decode(&bytes), sums) {
            (Ok(p), Some((nc, cc))) => {
                check(&case, &p)?;
                prop_assert_eq!((p.totals.total_calls, p.totals.primitive_calls), (nc, cc));
                let SourceFormat::Marshal { version } = p.format else {
                    return Err(TestCaseError::fail("not marshal"));
                };
                // Sharing, binary floats and v4 codes show in the version; v1 adds
                // nothing over v0 for this data.
                prop_assert!(version <= case.version);
                if case.version >= 3 && case.share {
                    prop_assert!(version >= 3);
                }
            }
            (Err(MarshalError::Shape(ShapeError::TotalOverflow { .. })), None) => {}
            (got, sums) => {
                return Err(TestCaseError::fail(format!(
                    "decode {:?} with sums {sums:?}",
                    got.map(|p| p.len())
                )));
            }
        }
    }

    #[test]
    fn mutated_real_dumps_never_panic(
        which in 0usize..5,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
        depth in prop_oneof![Just(200usize), 1usize..12],
    ) {
        let name = [
            "textpipe_before.prof",
            "textpipe_pyprof_before.prof",
            "textpipe_before.marshal-v0.prof",
            "recursion_yappi_before.prof",
            "recursion_pyprof_api_before.prof",
        ][which];
        let mut bytes = read_fixture(name);
        for (at, byte, op) in edits {
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
            if bytes.is_empty() {
                bytes.push(byte);
            }
        }
        let limits = Limits { max_depth: depth, ..Limits::for_input(bytes.len()) };
        let _ = marshal::decode(&bytes, name, limits);
    }
}

fn stats_with(entries: Vec<(Obj, Obj)>) -> Vec<u8> {
    dumps(&Obj::Dict(entries), 4)
}

fn value(cc: i64, nc: i64, callers: Vec<(Obj, Obj)>) -> Obj {
    t(vec![
        Obj::Int(cc),
        Obj::Int(nc),
        Obj::Float(0.5),
        Obj::Float(1.0),
        Obj::Dict(callers),
    ])
}

fn key(file: &str, line: i64, name: &str) -> Obj {
    t(vec![s(file), Obj::Int(line), s(name)])
}

#[test]
fn sampling_profiler_marker_is_skipped_and_noted() {
    let bytes = stats_with(vec![
        (
            key("a.py", 1, "f"),
            value(3, 3, vec![(key("a.py", 9, "main"), Obj::Int(3))]),
        ),
        (key("a.py", 9, "main"), value(1, 1, vec![])),
        (t(vec![s("__sampled__")]), Obj::Bool(true)),
    ]);
    let p = decode(&bytes).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p.producer, Producer::Sampling);
    let e = p.callers(&p.functions[0])[0].stats;
    assert_eq!((e.nc, e.cc, e.tt()), (3, 3, None));
    // Whatever the marker's value is, it is skipped, within the depth budget.
    let mut deep = Obj::None;
    for _ in 0..50 {
        deep = Obj::List(vec![deep]);
    }
    let bytes = stats_with(vec![
        (key("a.py", 1, "f"), value(1, 1, vec![])),
        (t(vec![s("__sampled__")]), deep.clone()),
    ]);
    assert_eq!(decode(&bytes).unwrap().len(), 1);
    let limits = Limits {
        max_depth: 20,
        ..Limits::for_input(bytes.len())
    };
    let err = marshal::decode(&bytes, "x", limits).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("nesting deeper than 20 at byte"),
        "{err}"
    );
    // Another 1-tuple is not a key.
    let bytes = stats_with(vec![(t(vec![s("other")]), value(1, 1, vec![]))]);
    let err = decode(&bytes).unwrap_err().to_string();
    assert!(err.contains("stats key at byte 1 is a 1-tuple"), "{err}");
}

#[test]
fn pyinstrument_and_yappi_slots_are_stored_as_written() {
    let bytes = stats_with(vec![(key("a.py", 1, "f"), value(-1, -1, vec![]))]);
    let p = decode(&bytes).unwrap();
    assert_eq!(p.producer, Producer::Pyinstrument);
    assert_eq!((p.functions[0].stats.cc, p.functions[0].stats.nc), (-1, -1));
    // yappi: (ncall, nactualcall) in the top-level (cc, nc) slots; a callers tuple is
    // read as (nc, cc, ...) like pstats reads it.
    let caller = t(vec![
        Obj::Int(7),
        Obj::Int(5),
        Obj::Float(0.25),
        Obj::Float(0.5),
    ]);
    let bytes = stats_with(vec![(
        key("a.py", 1, "f"),
        value(9, 4, vec![(key("builtins", 0, "g"), caller)]),
    )]);
    let p = decode(&bytes).unwrap();
    assert_eq!(p.producer, Producer::Yappi);
    let e = p.callers(&p.functions[0])[0].stats;
    assert_eq!((e.nc, e.cc, e.tt(), e.ct()), (7, 5, Some(0.25), Some(0.5)));
}

/// Marshal of a code object in one of CPython's layouts, with a nested one in co_consts.
fn code_object(
    layout: &str,
    name: &str,
    file: &str,
    line: i32,
    nested: Option<Vec<u8>>,
) -> Vec<u8> {
    let v = 4;
    let mut out = vec![b'c' | 0x80];
    let ints: i32 = if layout == "3.8" { 6 } else { 5 };
    for i in 0..ints {
        out.extend_from_slice(&i.to_le_bytes());
    }
    let mut consts = vec![Obj::None, Obj::Int(1), s("doc")];
    if let Some(n) = nested {
        consts.push(Obj::Raw(n));
    }
    let bytes = |b: &[u8]| dumps(&Obj::Bytes(b.to_vec()), v);
    let tup = |items: Vec<Obj>| dumps(&t(items), v);
    out.extend(bytes(b"\x97\x00d\x00S\x00"));
    out.extend(tup(consts));
    out.extend(tup(vec![s("print")]));
    if layout == "3.11" {
        out.extend(tup(vec![s("x")]));
        out.extend(bytes(b"\x20"));
        out.extend(dumps(&s(file), v));
        out.extend(dumps(&s(name), v));
        out.extend(dumps(&s(name), v));
        out.extend_from_slice(&line.to_le_bytes());
        out.extend(bytes(b"\x01\x02"));
        out.extend(bytes(b""));
    } else {
        out.extend(tup(vec![s("x")]));
        out.extend(tup(vec![]));
        out.extend(tup(vec![]));
        out.extend(dumps(&s(file), v));
        out.extend(dumps(&s(name), v));
        out.extend_from_slice(&line.to_le_bytes());
        out.extend(bytes(b"\x01\x02"));
    }
    out
}

#[test]
fn code_object_keys_of_every_layout_are_named_and_skipped() {
    for layout in ["3.11", "3.8", "3.0"] {
        let inner = code_object(layout, "helper", "/x/m.py", 7, None);
        let outer = code_object(layout, "<module>", "/x/m.py", 1, Some(inner));
        let code_key = t(vec![s("profile"), Obj::Int(0), Obj::Raw(outer)]);
        let bytes = stats_with(vec![
            (key("profile", 0, "profiler"), value(0, 0, vec![])),
            (
                code_key,
                value(1, 1, vec![(key("profile", 0, "profiler"), Obj::Int(1))]),
            ),
            (key("/x/m.py", 1, "<module>"), value(1, 1, vec![])),
        ]);
        let p = decode(&bytes).unwrap_or_else(|e| panic!("{layout}: {e}"));
        assert_eq!(p.len(), 3, "{layout}");
        assert_eq!(
            p.key_parts(p.functions[1].key),
            (
                "profile",
                0,
                "<code object <module>, file \"/x/m.py\", line 1>"
            ),
            "{layout}"
        );
        assert_eq!(p.producer, Producer::Profile);
    }
    // A Python 2 style code object (4 ints) fits no layout: refused, not guessed.
    let mut py2 = vec![b'c'];
    for i in 0..4i32 {
        py2.extend_from_slice(&i.to_le_bytes());
    }
    py2.extend(dumps(&Obj::Bytes(b"d\x00S".to_vec()), 2));
    py2.extend(dumps(&t(vec![Obj::None]), 2));
    py2.extend(dumps(&t(vec![]), 2));
    py2.extend(dumps(&t(vec![]), 2));
    let bytes = stats_with(vec![(
        t(vec![s("profile"), Obj::Int(0), Obj::Raw(py2)]),
        value(1, 1, vec![]),
    )]);
    assert!(decode(&bytes).is_err());
}

#[test]
fn shared_callers_reuse_needs_budget_and_cycles_are_refused() {
    // One callers dict (FLAG_REF) reused by a second entry through TYPE_REF.
    let callers = Obj::Shared(
        1,
        Rc::new(Obj::Dict(vec![
            (key("a.py", 1, "f"), Obj::Int(2)),
            (key("a.py", 2, "g"), Obj::Int(3)),
        ])),
    );
    let entry = |n: &str| {
        (
            key("b.py", 1, n),
            t(vec![
                Obj::Int(1),
                Obj::Int(1),
                Obj::Float(0.0),
                Obj::Float(0.0),
                callers.clone(),
            ]),
        )
    };
    let bytes = stats_with(vec![entry("x"), entry("y"), entry("z")]);
    let p = decode(&bytes).unwrap();
    assert_eq!(p.edges.len(), 6);
    assert_eq!(p.callers(&p.functions[2]).len(), 2);
    let limits = Limits {
        max_edges: 5,
        ..Limits::for_input(bytes.len())
    };
    let err = marshal::decode(&bytes, "x", limits).unwrap_err();
    assert!(
        matches!(err, MarshalError::Shape(ShapeError::TooManyEdges { .. })),
        "{err}"
    );

    // A callers dict referring to itself while being read.
    let mut bytes = vec![b'{'];
    bytes.extend(dumps(&key("a.py", 1, "f"), 4));
    bytes.extend([b')', 5]);
    bytes.extend(dumps(&Obj::Int(1), 4));
    bytes.extend(dumps(&Obj::Int(1), 4));
    bytes.extend(dumps(&Obj::Float(0.0), 4));
    bytes.extend(dumps(&Obj::Float(0.0), 4));
    bytes.push(b'{' | 0x80);
    bytes.extend(dumps(&key("a.py", 2, "g"), 4));
    bytes.extend([b'r', 0, 0, 0, 0]);
    bytes.extend(b"00");
    let err = decode(&bytes).unwrap_err().to_string();
    assert!(err.contains("(a cycle)"), "{err}");
}

#[test]
fn python2_style_data_decodes() {
    // Python 2: byte-string names, interned strings referenced by index (R), int64.
    let mut bytes = vec![b'{', b'('];
    bytes.extend(3i32.to_le_bytes());
    bytes.push(b't');
    bytes.extend(4i32.to_le_bytes());
    bytes.extend(b"a.py");
    bytes.push(b'I');
    bytes.extend(5_000_000_000i64.to_le_bytes());
    bytes.push(b't');
    bytes.extend(1i32.to_le_bytes());
    bytes.extend(b"f");
    bytes.push(b'(');
    bytes.extend(5i32.to_le_bytes());
    bytes.extend(dumps(&Obj::Int(1), 2));
    bytes.extend(dumps(&Obj::Int(1), 2));
    bytes.extend(dumps(&Obj::Float(0.5), 1));
    bytes.extend(dumps(&Obj::Float(0.5), 1));
    bytes.push(b'{');
    bytes.push(b'(');
    bytes.extend(3i32.to_le_bytes());
    bytes.extend([b'R', 0, 0, 0, 0]);
    bytes.extend(dumps(&Obj::Int(2), 2));
    bytes.extend(dumps(&Obj::Bytes(b"main".to_vec()), 2));
    bytes.extend(dumps(&Obj::Int(1), 2));
    bytes.extend(b"00");
    let p = decode(&bytes).unwrap();
    assert_eq!(
        p.key_parts(p.functions[0].key),
        ("a.py", 5_000_000_000, "f")
    );
    let caller = p.callers(&p.functions[0])[0];
    assert_eq!(p.key_parts(caller.caller), ("a.py", 2, "main"));
    assert_eq!(p.format, SourceFormat::Marshal { version: 1 });
}

#[test]
fn trailing_bytes_are_ignored_and_refs_must_exist() {
    let mut bytes = stats_with(vec![(key("a.py", 1, "f"), value(1, 1, vec![]))]);
    bytes.extend(b"garbage \xff\x00");
    assert_eq!(decode(&bytes).unwrap().len(), 1);
    let mut bytes = vec![b'{', b')', 3, b'r'];
    bytes.extend(7i32.to_le_bytes());
    let err = decode(&bytes).unwrap_err().to_string();
    assert_eq!(err, "reference 7 at byte 3 was never stored");
}

#[test]
fn top_level_must_be_a_dict_and_broken_data_is_named_first() {
    let err = decode(&[b'r', 0, 0, 0, 0]).unwrap_err().to_string();
    assert_eq!(err, "reference 0 at byte 0 was never stored");
    // A wrong key AND a truncation later: the truncation is reported, as marshal.load would.
    let mut bytes = stats_with(vec![(s("a.py:1(f)"), value(1, 1, vec![]))]);
    bytes.truncate(bytes.len() - 3);
    let err = decode(&bytes).unwrap_err().to_string();
    assert!(err.starts_with("truncated marshal data at byte"), "{err}");
    let err = decode(&stats_with(vec![(s("a.py:1(f)"), value(1, 1, vec![]))]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("stats key at byte 1 is a str"), "{err}");
}

#[test]
fn non_finite_caller_times_are_refused_not_taken_for_count_edges() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let caller = t(vec![
            Obj::Int(1),
            Obj::Int(1),
            Obj::Float(bad),
            Obj::Float(0.5),
        ]);
        let bytes = stats_with(vec![(
            key("a.py", 1, "f"),
            value(1, 1, vec![(key("a.py", 9, "main"), caller)]),
        )]);
        let err = decode(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("caller tt") && err.contains("not a finite number"),
            "{err}"
        );
        assert!(err.contains("a.py:9(main)"), "{err}");
    }
}
