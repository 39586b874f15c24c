//! Several profiles → one, exactly as `pstats.Stats(first).add(*rest)` does.
//!
//! pstats' rules (CPython `Lib/pstats.py`): `add` walks its arguments in *reverse*
//! (`for item in reversed(arg_list)`), so `Stats(a).add(b, c)` folds in `c` before `b`;
//! key order is dict insertion order (first's keys, then new keys in that walk order);
//! `add_func_stats` sums cc, nc, tt, ct; `add_callers` keeps the target's callers and
//! sums a caller seen in both element-wise (4-tuples) or as ints (`profile` counts).
//! Mixing an int caller with a tuple caller for the same pair raises `TypeError` in
//! pstats; here it is a [`MergeError::MixedCallerKinds`]. The walk order matters for
//! the float sums, which this follows to the bit.

use std::collections::HashMap;

use crate::profile::{
    EdgeStats, KeyId, Limits, Producer, Profile, ProfileBuilder, ShapeError, SourceFormat, Stats,
};

/// Why profiles could not be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("nothing to merge: no input profiles")]
    NoInputs,
    /// A summed call count does not fit 64 bits.
    #[error("the merged call count of {function} overflows a 64-bit integer")]
    CountOverflow {
        /// The function, as `file:line(name)`.
        function: String,
    },
    /// One dump stores a bare call count for a caller pair, another a 4-tuple
    /// (a `profile` dump merged with a cProfile/yappi dump); pstats raises TypeError.
    #[error("cannot merge the caller {caller} of {function}: one dump stores a call count (profile module), another a timed tuple (cProfile/yappi); pstats refuses this too")]
    MixedCallerKinds {
        /// The callee, as `file:line(name)`.
        function: String,
        /// The caller, as `file:line(name)`.
        caller: String,
    },
    /// The merged result breaks a model rule (e.g. a time sum overflowed to infinity).
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

struct Entry {
    key: KeyId,
    stats: Stats,
    callers: Vec<(KeyId, EdgeStats)>,
    caller_index: HashMap<KeyId, usize>,
}

/// Merges `profiles` as `pstats.Stats(profiles[0]).add(*profiles[1..])`, naming the
/// result `name`. Totals are recomputed from the merged entries in key order.
pub fn merge(profiles: &[&Profile], name: &str) -> Result<Profile, MergeError> {
    let Some((first, rest)) = profiles.split_first() else {
        return Err(MergeError::NoInputs);
    };
    let edge_budget: usize = profiles.iter().map(|p| p.edges.len()).sum();
    let limits = Limits {
        max_edges: edge_budget.saturating_add(1),
        ..Limits::for_input(0)
    };
    let mut b = ProfileBuilder::new(limits, 0);
    let mut entries: Vec<Entry> = Vec::new();
    let mut by_key: HashMap<KeyId, usize> = HashMap::new();
    let order = std::iter::once(*first).chain(rest.iter().rev().copied());
    for (n, p) in order.enumerate() {
        // Map this profile's key ids to the builder's, interning text once per key.
        let mut key_map: Vec<Option<KeyId>> = vec![None; p.keys.len()];
        let mut map_key = |b: &mut ProfileBuilder, id: KeyId| -> Result<KeyId, ShapeError> {
            if let Some(Some(k)) = key_map.get(id as usize) {
                return Ok(*k);
            }
            let (file, line, fname) = p.key_parts(id);
            let (fs, ns) = (b.intern(file)?, b.intern(fname)?);
            let k = b.key(fs, line, ns);
            if let Some(slot) = key_map.get_mut(id as usize) {
                *slot = Some(k);
            }
            Ok(k)
        };
        for f in &p.functions {
            let key = map_key(&mut b, f.key)?;
            let idx = match by_key.get(&key) {
                Some(&i) => i,
                None => {
                    entries.push(Entry {
                        key,
                        stats: Stats::default(),
                        callers: Vec::new(),
                        caller_index: HashMap::new(),
                    });
                    by_key.insert(key, entries.len() - 1);
                    entries.len() - 1
                }
            };
            let e = &mut entries[idx];
            if n == 0 {
                // Stats(first) keeps the loaded values as they are (no `+ 0`).
                e.stats = f.stats;
            } else {
                let label = || describe(p, f.key);
                e.stats = Stats {
                    cc: e
                        .stats
                        .cc
                        .checked_add(f.stats.cc)
                        .ok_or_else(|| MergeError::CountOverflow { function: label() })?,
                    nc: e
                        .stats
                        .nc
                        .checked_add(f.stats.nc)
                        .ok_or_else(|| MergeError::CountOverflow { function: label() })?,
                    tt: f.stats.tt + e.stats.tt,
                    ct: f.stats.ct + e.stats.ct,
                };
            }
            for edge in p.callers(f) {
                let caller = map_key(&mut b, edge.caller)?;
                match e.caller_index.get(&caller) {
                    None => {
                        e.caller_index.insert(caller, e.callers.len());
                        e.callers.push((caller, edge.stats));
                    }
                    Some(&ci) => {
                        let old = e.callers[ci].1;
                        let new = edge.stats;
                        let overflow = || MergeError::CountOverflow {
                            function: format!(
                                "{} (called from {})",
                                describe(p, f.key),
                                describe(p, edge.caller)
                            ),
                        };
                        let nc = new.nc.checked_add(old.nc).ok_or_else(overflow)?;
                        let cc = new.cc.checked_add(old.cc).ok_or_else(overflow)?;
                        let summed = match (new.tt().zip(new.ct()), old.tt().zip(old.ct())) {
                            (Some((ntt, nct)), Some((ott, oct))) => {
                                EdgeStats::timed(nc, cc, ntt + ott, nct + oct)
                            }
                            (None, None) => EdgeStats::count(nc),
                            _ => {
                                return Err(MergeError::MixedCallerKinds {
                                    function: describe(p, f.key),
                                    caller: describe(p, edge.caller),
                                })
                            }
                        };
                        e.callers[ci].1 = summed;
                    }
                }
            }
        }
    }
    for e in &entries {
        b.begin_function(e.key, e.stats)?;
        for &(caller, stats) in &e.callers {
            b.add_caller(caller, stats)?;
        }
    }
    if first.producer == Producer::Sampling {
        b.mark_sampled();
    }
    Ok(b.finish(name, SourceFormat::Marshal { version: 4 })?)
}

fn describe(p: &Profile, key: KeyId) -> String {
    let (file, line, name) = p.key_parts(key);
    format!("{file}:{line}({name})")
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row<'a> = (&'a str, i64, i64, f64, &'a [(&'a str, EdgeStats)]);

    fn profile(name: &str, rows: &[Row<'_>]) -> Profile {
        let mut b = ProfileBuilder::new(Limits::for_input(0), 0);
        let file = b.intern("m.py").unwrap();
        for &(fname, cc, nc, tt, callers) in rows {
            let ns = b.intern(fname).unwrap();
            let k = b.key(file, 1, ns);
            b.begin_function(k, Stats { cc, nc, tt, ct: tt }).unwrap();
            for &(caller, s) in callers {
                let cs = b.intern(caller).unwrap();
                let ck = b.key(file, 1, cs);
                b.add_caller(ck, s).unwrap();
            }
        }
        b.finish(name, SourceFormat::Marshal { version: 4 })
            .unwrap()
    }

    fn names(p: &Profile) -> Vec<&str> {
        p.functions.iter().map(|f| p.key_parts(f.key).2).collect()
    }

    #[test]
    fn sums_like_pstats_add_in_its_order() {
        let t = |n, tt| EdgeStats::timed(n, n, tt, tt);
        let a = profile("a", &[("f", 1, 1, 0.1, &[("main", t(1, 0.1))])]);
        let b = profile(
            "b",
            &[("g", 1, 1, 0.2, &[]), ("f", 2, 3, 0.2, &[("g", t(3, 0.2))])],
        );
        let c = profile(
            "c",
            &[
                ("h", 1, 1, 0.3, &[]),
                ("f", 1, 1, 1e-16, &[("main", t(1, 1e-16))]),
            ],
        );
        let m = merge(&[&a, &b, &c], "m").unwrap();
        // Stats(a).add(b, c) folds in c first: key order f, h, g.
        assert_eq!(names(&m), ["f", "h", "g"]);
        let f = &m.functions[0];
        assert_eq!((f.stats.cc, f.stats.nc), (4, 5));
        // 0.2 + (1e-16 + 0.1) in that order; the other order gives another double.
        assert_eq!(f.stats.tt, 0.2 + (1e-16 + 0.1));
        assert_ne!(f.stats.tt, 1e-16 + (0.2 + 0.1));
        let callers: Vec<(&str, i64)> = m
            .callers(f)
            .iter()
            .map(|e| (m.key_parts(e.caller).2, e.stats.nc))
            .collect();
        assert_eq!(callers, [("main", 2), ("g", 3)]);
        assert_eq!(m.callers(f)[0].stats.tt(), Some(1e-16 + 0.1));
        assert_eq!(m.totals.total_calls, 7);
        assert_eq!(m.totals.total_time, f.stats.tt + 0.3 + 0.2);
        assert_eq!(m.name, "m");
    }

    #[test]
    fn merging_twice_doubles_counts_and_profile_counts_add() {
        let a = profile(
            "a",
            &[
                ("f", 2, 5, 0.25, &[("main", EdgeStats::count(5))]),
                ("main", 0, 0, 0.0, &[]),
            ],
        );
        let m = merge(&[&a, &a], "m").unwrap();
        assert_eq!(m.functions[0].stats.nc, 10);
        assert_eq!(m.functions[0].stats.tt, 0.5);
        let e = m.callers(&m.functions[0])[0].stats;
        // EdgeStats keeps NaN for "no time", so compare the parts.
        assert_eq!((e.nc, e.cc, e.tt(), e.ct()), (10, 10, None, None));
        assert_eq!(m.totals.total_calls, 2 * a.totals.total_calls);
        assert_eq!(merge(&[&a], "one").unwrap().functions, a.functions);
    }

    #[test]
    fn refuses_what_pstats_refuses_and_overflow() {
        let a = profile("a", &[("f", 1, 1, 0.1, &[("main", EdgeStats::count(1))])]);
        let b = profile(
            "b",
            &[(
                "f",
                1,
                1,
                0.1,
                &[("main", EdgeStats::timed(1, 1, 0.1, 0.1))],
            )],
        );
        let err = merge(&[&a, &b], "m").unwrap_err();
        assert!(matches!(err, MergeError::MixedCallerKinds { .. }), "{err}");
        assert!(err.to_string().contains("m.py:1(main)"), "{err}");
        assert_eq!(merge(&[], "m").unwrap_err(), MergeError::NoInputs);
        let big = profile("big", &[("f", 1, i64::MAX, 0.1, &[])]);
        let err = merge(&[&big, &big], "m").unwrap_err();
        assert!(matches!(err, MergeError::CountOverflow { .. }), "{err}");
        let huge = profile("h", &[("f", 1, 1, f64::MAX, &[])]);
        assert!(matches!(
            merge(&[&huge, &huge], "m"),
            Err(MergeError::Shape(_))
        ));
    }
}
