//! Unusual but valid pickles: Python 2 Stats shapes (INST, OBJ), the sampling
//! profiler's marker key, repeated keys, and what the ignored Stats attributes may hold.

mod pickle_support;

use pickle_support::{dumps, stats_dict, stats_object, CallerVal, Entry, Py};
use profdiff_workers::decode::pickle;
use profdiff_workers::profile::{Limits, Producer, Profile, SourceFormat};

fn decode(bytes: &[u8]) -> Profile {
    pickle::decode(bytes, "s.pkl", Limits::for_input(bytes.len())).unwrap_or_else(|e| panic!("{e}"))
}

fn one_entry() -> Py {
    stats_dict(&[Entry {
        key: ("a.py".into(), 3, "f".into()),
        stats: (2, 3, 0.25, 0.5),
        callers: vec![(
            ("b.py".into(), 9, "g".into()),
            CallerVal::Timed(3, 2, 0.25, 0.5),
        )],
    }])
}

/// The protocol-0 text of a stats dict, without its STOP.
fn body_p0(v: &Py) -> Vec<u8> {
    let mut b = dumps(v, 0);
    assert_eq!(b.pop(), Some(b'.'));
    b
}

fn check_one(p: &Profile) {
    assert_eq!(p.len(), 1);
    let f = &p.functions[0];
    assert_eq!(p.key_parts(f.key), ("a.py", 3, "f"));
    assert_eq!(
        (f.stats.cc, f.stats.nc, f.stats.tt, f.stats.ct),
        (2, 3, 0.25, 0.5)
    );
    let e = p.callers(f)[0];
    assert_eq!(p.key_parts(e.caller), ("b.py", 9, "g"));
    assert_eq!(
        (e.stats.nc, e.stats.cc, e.stats.tt(), e.stats.ct()),
        (3, 2, Some(0.25), Some(0.5))
    );
}

#[test]
fn python2_stats_objects_via_inst_and_obj() {
    // Python 2's old-style `pstats.Stats`: INST (protocol 0) and OBJ (protocol 1).
    let state = |stats: Vec<u8>| {
        let mut s = b"(dp1\nS'stats'\np2\n".to_vec();
        s.extend(stats);
        s.extend_from_slice(b"s");
        s
    };
    let mut inst = b"(ipstats\nStats\np0\n".to_vec();
    inst.extend(state(body_p0(&one_entry())));
    inst.extend_from_slice(b"b.");
    let p = decode(&inst);
    check_one(&p);
    assert_eq!(p.format, SourceFormat::PickledStats { protocol: 0 });

    let mut obj = b"(cpstats\nStats\nq\x00o".to_vec();
    obj.extend(state(body_p0(&one_entry())));
    obj.extend_from_slice(b"b.");
    let p = decode(&obj);
    check_one(&p);
    assert_eq!(p.format, SourceFormat::PickledStats { protocol: 1 });
}

#[test]
fn stats_objects_at_every_protocol() {
    for protocol in 0..=5 {
        let p = decode(&dumps(&stats_object(one_entry()), protocol));
        check_one(&p);
        assert_eq!(p.format, SourceFormat::PickledStats { protocol });
    }
}

#[test]
fn sampling_marker_key_is_noted_and_skipped() {
    let Py::Dict(mut items) = one_entry() else {
        unreachable!()
    };
    items.insert(
        0,
        (
            Py::Tuple(vec![Py::Str("__sampled__".into())]),
            Py::Bool(true),
        ),
    );
    for protocol in [0, 2, 5] {
        let p = decode(&dumps(&Py::Dict(items.clone()), protocol));
        check_one(&p);
        assert_eq!(p.producer, Producer::Sampling);
    }
}

#[test]
fn repeated_keys_replace_in_place_as_a_dict_does() {
    let key = |n: &str| Py::Tuple(vec![Py::Str("a.py".into()), Py::Int(1), Py::Str(n.into())]);
    let timed = |nc: i128| {
        Py::Tuple(vec![
            Py::Int(nc),
            Py::Int(nc),
            Py::Float(0.5),
            Py::Float(0.5),
        ])
    };
    let value = |cc: i128, callers: Vec<(Py, Py)>| {
        Py::Tuple(vec![
            Py::Int(cc),
            Py::Int(cc),
            Py::Float(0.5),
            Py::Float(0.5),
            Py::Dict(callers),
        ])
    };
    // Python writes no such pickle, but one can be made: `f` twice, caller `g` twice.
    let dict = Py::Dict(vec![
        (key("f"), value(1, vec![])),
        (
            key("h"),
            value(
                2,
                vec![
                    (key("g"), timed(1)),
                    (key("x"), timed(2)),
                    (key("g"), timed(3)),
                ],
            ),
        ),
        (key("f"), value(7, vec![])),
    ]);
    let p = decode(&dumps(&dict, 2));
    assert_eq!(p.len(), 2);
    assert_eq!(p.key_parts(p.functions[0].key).2, "f");
    assert_eq!(p.functions[0].stats.cc, 7);
    assert_eq!(p.totals.total_calls, 9);
    let callers: Vec<_> = p
        .callers(&p.functions[1])
        .iter()
        .map(|e| (p.key_parts(e.caller).2, e.stats.nc))
        .collect();
    assert_eq!(callers, [("g", 3), ("x", 2)]);
}

#[test]
fn ignored_stats_attributes_may_hold_anything_data() {
    // all_callees, fcn_list, sort_arg_dict... are not read: odd contents there pass,
    // including values the stats dict itself would refuse (sets, bytes, big ints).
    let s = |x: &str| Py::Str(x.into());
    let state = Py::Dict(vec![
        (
            s("fcn_list"),
            Py::List(vec![Py::Int(1 << 80), Py::Float(f64::NAN)]),
        ),
        (
            s("all_callees"),
            Py::Dict(vec![(Py::None, Py::Set(vec![Py::Int(1)]))]),
        ),
        (s("stats"), one_entry()),
        (s("top_level"), Py::Set(vec![])),
    ]);
    for protocol in 0..=5 {
        check_one(&decode(&dumps(
            &Py::StatsObject(Box::new(state.clone())),
            protocol,
        )));
    }
    // And protocol 5's bytes opcodes inside an ignored attribute.
    let raw = Py::Raw(b"C\x03abc".to_vec());
    let state = Py::Dict(vec![(s("files"), raw), (s("stats"), one_entry())]);
    check_one(&decode(&dumps(&Py::StatsObject(Box::new(state)), 5)));
}

#[test]
fn profile_module_int_times_and_bool_counts_read_as_python_does() {
    let key = Py::Tuple(vec![
        Py::Str("profile".into()),
        Py::Int(0),
        Py::Str("profiler".into()),
    ]);
    let v = Py::Tuple(vec![
        Py::Int(0),
        Py::Bool(true),
        Py::Int(0),
        Py::Int(2),
        Py::Dict(vec![]),
    ]);
    let p = decode(&dumps(&Py::Dict(vec![(key, v)]), 0));
    let s = p.functions[0].stats;
    assert_eq!((s.cc, s.nc, s.tt, s.ct), (0, 1, 0.0, 2.0));
}
