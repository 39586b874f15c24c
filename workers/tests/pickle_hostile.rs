//! Hostile pickles: every `bad/*.pkl` fixture and hand-built attacks are refused with a
//! specific message, without panicking and without allocating what they claim.

mod pickle_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;

use pickle_support::{dumps, stats_dict, stats_object, CallerVal, Entry, Py};
use profdiff_workers::decode::pickle::{self, PickleError};
use profdiff_workers::profile::{Limits, Profile};

/// Counts live heap bytes per thread, so each test measures only its own decode.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|l| {
            let now = l.get() + layout.size();
            l.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Decodes and returns the result with the peak extra heap the decode used.
fn measured(bytes: &[u8]) -> (Result<Profile, PickleError>, usize) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let r = pickle::decode(bytes, "hostile.pkl", Limits::for_input(bytes.len()));
    (r, PEAK.with(|p| p.get()) - base)
}

/// The memory a decode may use: a fixed floor plus a multiple of the input. The value
/// graph is linear in the input (the worst case, `]a` repeated, costs about 90 bytes per
/// input byte); nothing is sized by a claimed length.
fn budget(len: usize) -> usize {
    (8 << 20) + 128 * len
}

fn refused(bytes: &[u8], want: &str) -> String {
    refused_peak(bytes, want).0
}

/// Like [`refused`], also returning the peak heap of the decode.
fn refused_peak(bytes: &[u8], want: &str) -> (String, usize) {
    let (r, peak) = measured(bytes);
    let err = match r {
        Ok(p) => panic!(
            "accepted a hostile pickle ({} functions), wanted {want:?}",
            p.len()
        ),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(want), "error {err:?} lacks {want:?}");
    assert!(
        peak <= budget(bytes.len()),
        "{want}: peak {peak} bytes for {} input bytes",
        bytes.len()
    );
    (err, peak)
}

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_bad_pickle_fixture_is_refused_specifically() {
    let cases = [
        ("pickle_rce_os_system.pkl", "refused pickle global os.system at byte 0: only the globals of a pstats.Stats pickle are allowed"),
        ("pickle_rce_nested_in_stats.pkl", "refused pickle global posix.system at byte 17"),
        ("pickle_long4_claims_2g.pkl", "pickle LONG4 at byte 2 claims 2147483647 bytes but only 4 remain"),
        ("pickle_long_text_huge.pkl", "LONG has 300000 decimal digits"),
        ("pickle_memo_huge_index.pkl", "the key of entry 1 is None, not a (file, line, name) tuple"),
        ("pickle_memo_missing.pkl", "pickle memo slot 7 at byte 3 was never stored"),
        ("pickle_binunicode8_huge.pkl", "pickle BINUNICODE8 at byte 2 claims 4611686018427387904 bytes"),
        ("pickle_frame_huge.pkl", "pickle FRAME at byte 2 claims 2305843009213693952 bytes"),
        ("pickle_count_bigint.pkl", "nc of /home/dev/textpipe/textpipe.py:116(main) is an integer beyond 64 bits"),
        ("pickle_truncated.pkl", "claims 21313 bytes but only 10651 remain"),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bad");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pkl"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.0.to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every bad pickle has a case here");
    for (file, want) in cases {
        let bytes = fixture(&format!("bad/{file}"));
        refused(&bytes, want);
        // The public entry point refuses them too (it sniffs the 300,000-digit
        // protocol-0 LONG as text before the pickle decoder sees it).
        let err = profdiff_workers::decode(&bytes, file)
            .unwrap_err()
            .to_string();
        if file != "pickle_long_text_huge.pkl" {
            assert!(err.contains(want), "{file}: {err}");
        }
    }
}

#[test]
fn truncated_unframed_pickle_names_the_offset() {
    let bytes = fixture("textpipe_before.p2.pkl");
    let err = refused(&bytes[..1234], "truncated pickle at byte");
    assert!(err.contains("(expected"), "{err}");
    // Cut inside a BINFLOAT: the message names what was being read.
    let at = bytes.windows(1).position(|w| w[0] == b'G').unwrap();
    refused(
        &bytes[..at + 3],
        &format!(
            "truncated pickle at byte {} (expected 8-byte float)",
            at + 1
        ),
    );
}

fn entry(i: i64, callers: Vec<((String, i64, String), CallerVal)>) -> Entry {
    Entry {
        key: ("m.py".into(), i, format!("f{i}")),
        stats: (1, 1, 0.5, 0.5),
        callers,
    }
}

#[test]
fn real_pickles_decode_in_bounded_memory() {
    for rel in [
        "textpipe_before.p0.pkl",
        "textpipe_before.p4.pkl",
        "textpipe_after.statsobj_sorted_callees.p4.pkl",
    ] {
        let bytes = fixture(rel);
        let (r, peak) = measured(&bytes);
        assert!(r.is_ok(), "{rel}");
        eprintln!("{rel}: {} bytes, peak heap {peak} bytes", bytes.len());
        assert!(
            peak <= budget(bytes.len()),
            "{rel}: peak {peak} for {} bytes",
            bytes.len()
        );
    }
}

#[test]
fn shared_callers_dict_is_refused_before_it_is_copied() {
    // One callers dict of 1,000 edges, reached from 20,000 entries through the memo:
    // 20,000,000 edges (800 MB of edges) from a pickle of under a megabyte.
    let callers: Vec<(Py, Py)> = (0..1000)
        .map(|i| {
            let key = Py::Tuple(vec![
                Py::Str("c.py".into()),
                Py::Int(i),
                Py::Str(format!("c{i}")),
            ]);
            (
                key,
                Py::Tuple(vec![Py::Int(1), Py::Int(1), Py::Float(0.1), Py::Float(0.2)]),
            )
        })
        .collect();
    let shared = Rc::new(Py::Dict(callers));
    let stats = Py::Dict(
        (0..20_000)
            .map(|i| {
                let key = Py::Tuple(vec![
                    Py::Str("m.py".into()),
                    Py::Int(i),
                    Py::Str(format!("f{i}")),
                ]);
                let value = Py::Tuple(vec![
                    Py::Int(1),
                    Py::Int(1),
                    Py::Float(0.5),
                    Py::Float(0.5),
                    Py::Shared(shared.clone()),
                ]);
                (key, value)
            })
            .collect(),
    );
    for (wrapped, protocol) in [(false, 0), (false, 4), (true, 2), (true, 5)] {
        let value = if wrapped {
            stats_object(stats.clone())
        } else {
            stats.clone()
        };
        {
            let bytes = dumps(&value, protocol);
            assert!(bytes.len() < 2 << 20, "{}", bytes.len());
            let (err, peak) = refused_peak(&bytes, "too large: more than");
            assert!(err.contains("caller edges"), "{err}");
            // Refused at the edge budget (a few hundred thousand edges), long before
            // the 20,000,000 an expanding reader would build.
            eprintln!(
                "shared callers p{protocol}: {} bytes, peak heap {peak}",
                bytes.len()
            );
            assert!(peak < 96 << 20, "peak {peak}");
        }
    }
}

#[test]
fn attacks_built_by_hand_are_refused() {
    let stats = stats_dict(&[entry(1, vec![])]);
    let good = dumps(&stats, 2);
    assert!(pickle::decode(&good, "g", Limits::for_input(good.len())).is_ok());

    let cases: Vec<(Vec<u8>, &str)> = vec![
        // STACK_GLOBAL reaches the same refusal as GLOBAL.
        (
            b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.".to_vec(),
            "refused pickle global os.system at byte 14",
        ),
        // INST names its class inline.
        (
            b"(S'id'\nios\nsystem\n.".to_vec(),
            "refused pickle global os.system at byte 7",
        ),
        // Calling an allowed class with arguments would run its __init__.
        (
            b"\x80\x02cpstats\nStats\nX\x06\x00\x00\x00a.prof\x85R.".to_vec(),
            "refused pickle REDUCE at byte 28: calls pstats.Stats",
        ),
        (
            b"\x80\x02cbuiltins\nobject\n)\x81.".to_vec(),
            "refused pickle NEWOBJ at byte 20",
        ),
        // BUILD may only give a fresh Stats object a dict state.
        (b"\x80\x02}}b.".to_vec(), "refused pickle BUILD at byte 4"),
        (
            b"\x80\x02cpstats\nStats\n)\x81]b.".to_vec(),
            "refused pickle BUILD",
        ),
        (
            b"\x80\x02cpstats\nStats\n)\x81}b}b.".to_vec(),
            "only a new pstats.Stats object may get one",
        ),
        (
            b"\x80\x02\x82\x01.".to_vec(),
            "refused pickle EXT at byte 2",
        ),
        (
            b"\x80\x02X\x01\x00\x00\x00aQ.".to_vec(),
            "refused pickle PERSID",
        ),
        (b"Pabc\n.".to_vec(), "refused pickle PERSID at byte 0"),
        (
            b"\x80\x06}.".to_vec(),
            "unsupported pickle protocol 6 at byte 0",
        ),
        (
            b"\x80\x02}\xff.".to_vec(),
            "unknown pickle opcode 0xff at byte 3",
        ),
        (
            b"\x80\x02}".to_vec(),
            "truncated pickle at byte 3 (expected an opcode; the pickle has no STOP)",
        ),
        (b"\x80\x02s.".to_vec(), "stack underflow"),
        (b"\x80\x02(}0".to_vec(), "truncated pickle"),
        (b"\x80\x02]a.".to_vec(), "stack underflow"),
        (
            b"\x80\x02)K\x01a.".to_vec(),
            "appends to something that is not a list",
        ),
        (b"\x80\x02K\x01K\x02s.".to_vec(), "stack underflow"),
        (
            b"\x80\x02]K\x01K\x02s.".to_vec(),
            "sets an item of something that is not a dict",
        ),
        (b"\x80\x02r\xff\xff\xff\xff.".to_vec(), "stack underflow"),
        (
            b"\x80\x02N\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.".to_vec(),
            "the pickle holds an int beyond 64 bits",
        ),
        (
            b"\x80\x02]q\x01.".to_vec(),
            "the pickle holds a list (made at byte 2)",
        ),
        (
            b"\x80\x02cpstats\nStats\n)\x81.".to_vec(),
            "has no state (no BUILD)",
        ),
        (
            b"\x80\x02cpstats\nStats\n)\x81}b.".to_vec(),
            "has no 'stats' attribute",
        ),
        (b"\x80\x02}.".to_vec(), "the stats dict is empty"),
        (
            b"Ifoo\n.".to_vec(),
            "INT argument \"foo\" is not an integer",
        ),
        (
            b"F1.5x\n.".to_vec(),
            "FLOAT argument \"1.5x\" is not a number",
        ),
        (b"gabc\n.".to_vec(), "memo slot \"abc\" is not a number"),
        (b"S'abc\n.".to_vec(), "is not a quoted string"),
        (b"V\\u12\n.".to_vec(), "broken \\u or \\U escape"),
        (
            b"\x80\x02\x8b\xff\xff\xff\xff.".to_vec(),
            "negative LONG4 length",
        ),
    ];
    for (bytes, want) in &cases {
        refused(bytes, want);
    }
}

#[test]
fn nesting_is_bounded() {
    // 100,000 nested MARKs: refused at the depth budget, no recursion anywhere.
    let mut deep = b"\x80\x02".to_vec();
    deep.extend(std::iter::repeat_n(b'(', 100_000));
    refused(
        &deep,
        "too deep: pickle nesting beyond 200 levels at byte 202",
    );
    // 100,000 nested lists built without MARKs: the machine is iterative, and the
    // schema walk never descends into a list.
    let mut lists = b"\x80\x02".to_vec();
    lists.extend(std::iter::repeat_n(b']', 100_000));
    lists.extend(std::iter::repeat_n(b'a', 99_999));
    lists.push(b'.');
    refused(&lists, "the pickle holds a list");
    // A dict that contains itself as its own callers: the walk follows the schema only.
    let cyc = b"\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00f\x87(K\x01K\x01G?\xe0\x00\x00\x00\x00\x00\x00G?\xe0\x00\x00\x00\x00\x00\x00h\x00tu.";
    refused(cyc, "the caller value of a:1(f) (called from a:1(f))");
}

#[test]
fn memo_references_never_multiply_data() {
    // set(list_of_10000) rebuilt 50,000 times from memo references: 8 GB if each set
    // copied the list.
    let mut b = b"\x80\x02]q\x00(".to_vec();
    b.extend(std::iter::repeat_n(*b"K\x01", 10_000).flatten());
    b.extend_from_slice(b"ec__builtin__\nset\nq\x01h\x00\x85q\x02");
    b.extend(std::iter::repeat_n(*b"h\x01h\x02R0", 50_000).flatten());
    b.extend_from_slice(b"}.");
    refused(&b, "the stats dict is empty");
    // One str of 1 MB pushed 100,000 times by memo GET: values are 16-byte references.
    let mut s = b"\x80\x02X\x00\x00\x10\x00".to_vec();
    s.extend(std::iter::repeat_n(b'a', 1 << 20));
    s.extend_from_slice(b"q\x00]q\x01(");
    s.extend(std::iter::repeat_n(*b"h\x00", 100_000).flatten());
    s.extend_from_slice(b"e.");
    refused(&s, "the pickle holds a list");
}

#[test]
fn bad_numbers_and_names_are_named() {
    let e = |stats: (Py, Py, Py, Py), callers: Vec<(Py, Py)>| {
        let key = Py::Tuple(vec![
            Py::Str("a.py".into()),
            Py::Int(3),
            Py::Str("f".into()),
        ]);
        Py::Dict(vec![(
            key,
            Py::Tuple(vec![stats.0, stats.1, stats.2, stats.3, Py::Dict(callers)]),
        )])
    };
    let ok = || (Py::Int(1), Py::Int(1), Py::Float(0.5), Py::Float(0.5));
    let ckey = Py::Tuple(vec![
        Py::Str("b.py".into()),
        Py::Int(4),
        Py::Str("g".into()),
    ]);
    let cases: Vec<(Py, &str)> = vec![
        (
            e(
                (Py::Float(1.0), Py::Int(1), Py::Float(0.5), Py::Float(0.5)),
                vec![],
            ),
            "cc of a.py:3(f) is the float 1.0; counts must be integers",
        ),
        (
            e(
                (Py::Int(1), Py::Int(1 << 70), Py::Float(0.5), Py::Float(0.5)),
                vec![],
            ),
            "nc of a.py:3(f) is an integer beyond 64 bits",
        ),
        (
            e(
                (Py::Int(1), Py::Int(1), Py::Float(f64::NAN), Py::Float(0.5)),
                vec![],
            ),
            "tt of a.py:3(f) is NaN, not a finite number",
        ),
        (
            e(
                (
                    Py::Int(1),
                    Py::Int(1),
                    Py::Float(0.5),
                    Py::Float(f64::INFINITY),
                ),
                vec![],
            ),
            "ct of a.py:3(f) is inf, not a finite number",
        ),
        (
            e(
                (
                    Py::Int(1),
                    Py::Int(1),
                    Py::Str("0.5".into()),
                    Py::Float(0.5),
                ),
                vec![],
            ),
            "tt of a.py:3(f) is a str, not a number",
        ),
        (
            e(ok(), vec![(ckey.clone(), Py::Str("x".into()))]),
            "the caller value of a.py:3(f) (called from b.py:4(g)) is a str",
        ),
        (
            e(
                ok(),
                vec![(
                    ckey.clone(),
                    Py::Tuple(vec![Py::Int(1), Py::Int(1), Py::Float(0.1)]),
                )],
            ),
            "is a 3-tuple (made at byte",
        ),
        (
            e(ok(), vec![(ckey.clone(), Py::Float(2.0))]),
            "the caller count of a.py:3(f) (called from b.py:4(g)) is the float 2.0",
        ),
        (
            e(
                ok(),
                vec![(
                    ckey.clone(),
                    Py::Tuple(vec![
                        Py::Int(1),
                        Py::Int(1),
                        Py::Float(f64::NAN),
                        Py::Float(0.1),
                    ]),
                )],
            ),
            "caller tt of a.py:3(f) (called from b.py:4(g)) is NaN",
        ),
        (
            e(ok(), vec![(Py::Str("k".into()), Py::Int(1))]),
            "a caller key of a.py:3(f) is a str, not a (file, line, name) tuple",
        ),
        (
            Py::Dict(vec![(
                Py::Tuple(vec![Py::Int(1), Py::Int(3), Py::Str("f".into())]),
                Py::None,
            )]),
            "the file name in the key of entry 1 is the int 1, not a str",
        ),
        (
            Py::Dict(vec![(
                Py::Tuple(vec![
                    Py::Str("a".into()),
                    Py::Float(3.0),
                    Py::Str("f".into()),
                ]),
                Py::None,
            )]),
            "the line number in the key of entry 1 is the float 3.0",
        ),
        (
            Py::Dict(vec![(
                Py::Tuple(vec![
                    Py::Str("a".into()),
                    Py::Int(1 << 64),
                    Py::Str("f".into()),
                ]),
                Py::None,
            )]),
            "the line number in the key of entry 1 is an int beyond 64 bits",
        ),
        (
            Py::Dict(vec![(
                Py::Tuple(vec![Py::Str("a".into()), Py::Int(1)]),
                Py::None,
            )]),
            "the key of entry 1 is a 2-tuple",
        ),
        (
            Py::Dict(vec![(
                Py::Tuple(vec![Py::Str("a".into()), Py::Int(1), Py::Str("f".into())]),
                Py::Tuple(vec![Py::Int(1); 6]),
            )]),
            "the value of a:1(f) is a 6-tuple",
        ),
        (
            Py::Dict(vec![(
                Py::Tuple(vec![Py::Str("a".into()), Py::Int(1), Py::Str("f".into())]),
                Py::Tuple(vec![
                    Py::Int(1),
                    Py::Int(1),
                    Py::Int(0),
                    Py::Int(0),
                    Py::List(vec![]),
                ]),
            )]),
            "the callers of a:1(f) are a list",
        ),
    ];
    for (value, want) in &cases {
        for protocol in 0..=5 {
            refused(&dumps(value, protocol), want);
        }
    }
    // A bytes file name (protocol 3+ BINBYTES) is not text.
    let bytes_key = b"\x80\x03}(C\x01aK\x01X\x01\x00\x00\x00f\x87(K\x01K\x01G\x00\x00\x00\x00\x00\x00\x00\x00G\x00\x00\x00\x00\x00\x00\x00\x00}tu.";
    refused(
        bytes_key,
        "the file name in the key of entry 1 is bytes, not a str",
    );
}
