//! Hostile and unusual inputs from tests/fixtures/bad and tests/fixtures/edge, handled
//! as bad/README.md says: a specific error naming the problem, never a panic.

mod support;

use profdiff_workers::decode::{decode, marshal, DecodeError};
use profdiff_workers::profile::Limits;
use support::{fixtures, read_fixture};

/// A distinctive part of the message each bad marshal file must be refused with.
const BAD: &[(&str, &str)] = &[
    (
        "dangling_ref.prof",
        "reference 5 at byte 46 was never stored",
    ),
    (
        "huge_bytes_claim.prof",
        "bytes object at byte 0 claims 2147483647 bytes but only 16 bytes remain",
    ),
    (
        "huge_claim_inside_stats.prof",
        "tuple at byte 46 claims 2147483647 elements but only 0 bytes remain",
    ),
    (
        "huge_frozenset_claim.prof",
        "frozenset at byte 0 claims 2147483647 elements",
    ),
    (
        "huge_list_claim.prof",
        "list at byte 0 claims 2147483647 elements but only 8 bytes remain",
    ),
    (
        "huge_long_claim.prof",
        "int at byte 0 claims 2147483647 15-bit digits",
    ),
    (
        "huge_set_claim.prof",
        "set at byte 0 claims 2147483647 elements",
    ),
    (
        "huge_tuple_claim.prof",
        "tuple at byte 0 claims 2147483647 elements but only 8 bytes remain",
    ),
    (
        "huge_unicode_claim.prof",
        "str at byte 0 claims 2147483647 bytes but only 3 bytes remain",
    ),
    (
        "negative_length.prof",
        "tuple at byte 0 has a negative length -1",
    ),
    ("nested_dict_100000.prof", "nesting deeper than 200 at byte"),
    (
        "nested_in_callers_100000.prof",
        "nesting deeper than 200 at byte",
    ),
    (
        "nested_tuple_100000.prof",
        "nesting deeper than 200 at byte",
    ),
    (
        "random_after_dict_marker.prof",
        "unknown marshal type code 0x9c at byte 1",
    ),
    ("random_bytes.prof", "unknown marshal type code"),
    (
        "ref_bomb_tuple.prof",
        "top-level object at byte 0 is a tuple, expected a stats dict",
    ),
    (
        "ref_cycle_callers_is_stats.prof",
        "reference 0 at byte 76 points back into a container that is still being read (a cycle)",
    ),
    (
        "shape_callers_not_dict.prof",
        "callers of /home/dev/textpipe/textpipe.py:116(main) at byte 76 is a list, expected a dict",
    ),
    (
        "shape_callers_value_arity3.prof",
        "is a 3-tuple, expected an (nc, cc, tt, ct) tuple or an int call count",
    ),
    (
        "shape_callers_value_str.prof",
        "is a str, expected an (nc, cc, tt, ct) tuple or an int call count",
    ),
    (
        "shape_code_object.prof",
        "top-level object at byte 0 is a code object, expected a stats dict",
    ),
    (
        "shape_count_overflows_u64.prof",
        "nc of /home/dev/textpipe/textpipe.py:116(main) at byte 53 is an integer beyond 64 bits",
    ),
    ("shape_empty_dict.prof", "the stats dict is empty"),
    (
        "shape_float_counts.prof",
        "cc of /home/dev/textpipe/textpipe.py:116(main) at byte 48 is a float, expected an int",
    ),
    ("shape_inf_time.prof", "is inf, not a finite number"),
    (
        "shape_int.prof",
        "top-level object at byte 0 is an int, expected a stats dict",
    ),
    (
        "shape_key_arity2.prof",
        "stats key at byte 1 is a 2-tuple, expected a (file, line, function) tuple",
    ),
    (
        "shape_key_not_tuple.prof",
        "stats key at byte 1 is a str, expected a (file, line, function) tuple",
    ),
    (
        "shape_list.prof",
        "top-level object at byte 0 is a list, expected a stats dict",
    ),
    ("shape_nan_time.prof", "is NaN, not a finite number"),
    (
        "shape_none.prof",
        "top-level object at byte 0 is None, expected a stats dict",
    ),
    (
        "shape_nonint_lineno.prof",
        "line number of a stats key at byte 35 is a str, expected an int",
    ),
    (
        "shape_nonstring_filename.prof",
        "file name in a stats key at byte 3 is an int, expected a str",
    ),
    (
        "shape_string_time.prof",
        "tt of /home/dev/textpipe/textpipe.py:116(main) at byte 58 is a str, expected a number",
    ),
    (
        "shape_value_arity4.prof",
        "at byte 46 is a 4-tuple, expected a (cc, nc, tt, ct, callers) tuple",
    ),
    (
        "shape_value_arity6.prof",
        "at byte 46 is a 6-tuple, expected a (cc, nc, tt, ct, callers) tuple",
    ),
    ("shared_callers_amplification.prof", "too large: more than"),
    (
        "truncated_at_1.prof",
        "truncated marshal data at byte 1 (expected a type code)",
    ),
    (
        "truncated_at_2.prof",
        "truncated marshal data at byte 2 (expected a 1-byte tuple size)",
    ),
    (
        "truncated_at_7.prof",
        "truncated marshal data at byte 5 (expected string bytes)",
    ),
    (
        "truncated_at_8381.prof",
        "truncated marshal data at byte 8380",
    ),
    (
        "truncated_at_12572.prof",
        "truncated marshal data at byte 12569 (expected an 8-byte float)",
    ),
    (
        "truncated_at_25144.prof",
        "truncated marshal data at byte 25144 (expected a type code)",
    ),
    (
        "unknown_type_byte.prof",
        "unknown marshal type code 0x01 at byte 46",
    ),
];

/// Files the container sniffing in `decode` refuses before any decoder runs.
const NOT_A_DUMP: &[(&str, &str)] = &[
    ("empty.prof", "empty file"),
    ("gzip_of_valid.prof", "gzip"),
    ("module.cpython-311.pyc", ".pyc"),
    ("pyc_renamed.prof", ".pyc"),
    ("text_pstats_report.prof", "plain text"),
];

const ACCEPTED: &[&str] = &["shape_negative_counts.prof", "shape_negative_time.prof"];

fn marshal_decode(name: &str) -> Result<profdiff_workers::Profile, marshal::MarshalError> {
    let bytes = read_fixture(&format!("bad/{name}"));
    marshal::decode(&bytes, name, Limits::for_input(bytes.len()))
}

#[test]
fn every_bad_marshal_file_is_listed_here() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".pkl") && !n.ends_with(".md"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BAD
        .iter()
        .chain(NOT_A_DUMP)
        .map(|(n, _)| n.to_string())
        .chain(ACCEPTED.iter().map(|n| n.to_string()))
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn bad_marshal_files_are_refused_with_specific_messages() {
    for (name, want) in BAD {
        let err = match marshal_decode(name) {
            Ok(p) => panic!("{name}: accepted ({} functions)", p.len()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "{name}: got {err:?}, want {want:?}");
    }
}

#[test]
fn bad_files_fail_through_the_public_decode_too() {
    for (name, _) in BAD {
        let bytes = read_fixture(&format!("bad/{name}"));
        assert!(decode(&bytes, name).is_err(), "{name}");
    }
    for (name, want) in NOT_A_DUMP {
        let err = decode(&read_fixture(&format!("bad/{name}")), name).unwrap_err();
        assert!(
            matches!(err, DecodeError::Empty | DecodeError::NotAProfile(_)),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
}

#[test]
fn negative_counts_and_times_are_accepted_as_pstats_does() {
    let p = marshal_decode("shape_negative_counts.prof").unwrap();
    assert!(p.functions.iter().any(|f| f.stats.cc < 0));
    let p = marshal_decode("shape_negative_time.prof").unwrap();
    assert!(p.functions.iter().any(|f| f.stats.tt < 0.0));
}

#[test]
fn shared_callers_dict_is_refused_before_expansion() {
    let err = marshal_decode("shared_callers_amplification.prof").unwrap_err();
    assert!(
        matches!(
            err,
            marshal::MarshalError::Shape(
                profdiff_workers::profile::ShapeError::TooManyEdges { .. }
            )
        ),
        "{err}"
    );
    // Under a budget that fits all 40 million edges, it would decode; a smaller one
    // that fits the dict once but not twice refuses at the first reuse.
    let bytes = read_fixture("bad/shared_callers_amplification.prof");
    let limits = Limits {
        max_edges: 3000,
        ..Limits::for_input(bytes.len())
    };
    let err = marshal::decode(&bytes, "x", limits).unwrap_err();
    assert!(
        err.to_string().contains("more than 3000 caller edges"),
        "{err}"
    );
}

#[test]
fn every_edge_file_is_accepted() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures().join("edge")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let p = decode(&read_fixture(&format!("edge/{name}")), &name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.is_empty());
        n += 1;
    }
    assert_eq!(n, 6);
}
