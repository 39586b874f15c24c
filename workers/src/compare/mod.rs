//! Two profiles → comparison rows and the `profdiff.comparison/v1` document. Pure: no I/O.
//!
//! [`compare`] builds the full document in contract order; [`Comparison::view`] derives
//! filtered, re-sorted, paged copies of it for the CLI and the web tier.

mod batch;
mod csv;
mod groups;
mod paths;
mod view;

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::profile::{Profile, Stats};

pub use batch::{summarize, BatchSummary, CandidateTotal, BATCH_SCHEMA};
pub use csv::{write_csv, HEADER as CSV_HEADER};
pub use groups::{
    compare_groups, min_p_value, FunctionGroupDiff, GroupComparison, GroupDiff, GroupSide, Spread,
    Verdict, DEFAULT_ALPHA, GROUP_SCHEMA,
};
pub use paths::{is_builtin, is_stdlib};
pub use view::{ComparisonView, SortKey, SortKeyError, SortSpec, ViewOptions};

/// The `schema` value of a comparison document.
pub const COMPARISON_SCHEMA: &str = "profdiff.comparison/v1";

/// One side's summary line in a comparison document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideSummary {
    /// The dump's file name without folders.
    pub name: String,
    /// Number of stats entries.
    pub functions: usize,
    /// Σ nc.
    pub total_calls: i64,
    /// Σ cc.
    pub primitive_calls: i64,
    /// Σ tt in file order.
    pub total_time: f64,
}

impl SideSummary {
    /// The summary of one profile.
    pub fn of(p: &Profile) -> Self {
        Self {
            name: p.name.clone(),
            functions: p.functions.len(),
            total_calls: p.totals.total_calls,
            primitive_calls: p.totals.primitive_calls,
            total_time: p.totals.total_time,
        }
    }
}

/// A function's own numbers on one side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Numbers {
    /// Primitive calls.
    pub cc: i64,
    /// All calls.
    pub nc: i64,
    /// Time in the function itself.
    pub tt: f64,
    /// Cumulative time.
    pub ct: f64,
}

impl From<Stats> for Numbers {
    fn from(s: Stats) -> Self {
        Self {
            cc: s.cc,
            nc: s.nc,
            tt: s.tt,
            ct: s.ct,
        }
    }
}

/// candidate − baseline, a missing side counting as zero.
///
/// `nc` is an `i128` because the difference of two signed 64-bit counts can need 65 bits;
/// it is exact, and serde_json writes it as a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Difference in all calls.
    pub nc: i128,
    /// Difference in own time (IEEE double subtraction).
    pub tt: f64,
    /// Difference in cumulative time (IEEE double subtraction).
    pub ct: f64,
}

/// How a function changed between the two dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Only in the candidate.
    Added,
    /// Only in the baseline.
    Removed,
    /// In both, all four numbers exactly equal.
    Unchanged,
    /// In both, some number differs.
    Changed,
}

impl Status {
    /// The lowercase name used in documents.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Unchanged => "unchanged",
            Status::Changed => "changed",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "added" => Ok(Status::Added),
            "removed" => Ok(Status::Removed),
            "unchanged" => Ok(Status::Unchanged),
            "changed" => Ok(Status::Changed),
            other => Err(format!(
                "unknown status {other:?} (valid: added, removed, unchanged, changed)"
            )),
        }
    }
}

/// One row of the comparison: a function key present in either dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDiff {
    /// File part of the key.
    pub file: String,
    /// Line part of the key.
    pub line: i64,
    /// Name part of the key.
    pub name: String,
    /// Baseline numbers, `None` when absent there.
    pub baseline: Option<Numbers>,
    /// Candidate numbers, `None` when absent there.
    pub candidate: Option<Numbers>,
    /// candidate − baseline.
    pub delta: Delta,
    /// added / removed / unchanged / changed.
    pub status: Status,
}

impl FunctionDiff {
    fn new(file: &str, line: i64, name: &str, b: Option<Numbers>, c: Option<Numbers>) -> Self {
        let zero = Numbers {
            cc: 0,
            nc: 0,
            tt: 0.0,
            ct: 0.0,
        };
        let (bn, cn) = (b.unwrap_or(zero), c.unwrap_or(zero));
        let status = match (b, c) {
            (None, _) => Status::Added,
            (_, None) => Status::Removed,
            (Some(b), Some(c)) if b == c => Status::Unchanged,
            _ => Status::Changed,
        };
        Self {
            file: file.to_owned(),
            line,
            name: name.to_owned(),
            baseline: b,
            candidate: c,
            delta: Delta {
                nc: i128::from(cn.nc) - i128::from(bn.nc),
                tt: cn.tt - bn.tt,
                ct: cn.ct - bn.ct,
            },
            status,
        }
    }

    /// The key's sort order: (file, line, name) ascending, byte order of the UTF-8 text
    /// (the same order as Python's code-point comparison).
    pub fn key_cmp(&self, other: &Self) -> Ordering {
        self.file
            .cmp(&other.file)
            .then(self.line.cmp(&other.line))
            .then_with(|| self.name.cmp(&other.name))
    }

    /// Percent change of own time relative to the baseline; `None` when the baseline is
    /// absent or zero. Divides by |baseline| so an increase stays positive even for the
    /// negative times `profile`'s calibration can produce.
    pub fn percent_tt(&self) -> Option<f64> {
        let b = self.baseline?.tt;
        (b != 0.0).then(|| self.delta.tt / b.abs() * 100.0)
    }

    /// `file:line(name)`, as pstats prints a function.
    pub fn label(&self) -> String {
        format!("{}:{}({})", self.file, self.line, self.name)
    }
}

/// The `profdiff.comparison/v1` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Always [`COMPARISON_SCHEMA`].
    pub schema: String,
    /// Baseline summary.
    pub baseline: SideSummary,
    /// Candidate summary.
    pub candidate: SideSummary,
    /// One row per function key in either dump.
    pub functions: Vec<FunctionDiff>,
}

impl Comparison {
    /// Percent change of total time (candidate vs baseline, an increase positive);
    /// `None` when the baseline's total is zero.
    pub fn total_time_percent(&self) -> Option<f64> {
        let (b, c) = (self.baseline.total_time, self.candidate.total_time);
        (b != 0.0).then(|| (c - b) / b.abs() * 100.0)
    }
}

/// The contract's default row order: |delta.tt| descending, ties by key ascending.
pub(crate) fn default_order(a: &FunctionDiff, b: &FunctionDiff) -> Ordering {
    // partial_cmp treats -0.0 and 0.0 as equal, as Python's sort key does; NaN cannot
    // occur (decoders reject non-finite times, and finite differences stay finite unless
    // they overflow to inf, which still compares).
    b.delta
        .tt
        .abs()
        .partial_cmp(&a.delta.tt.abs())
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.key_cmp(b))
}

/// Compares two profiles into the full comparison document, rows in contract order.
pub fn compare(baseline: &Profile, candidate: &Profile) -> Comparison {
    let mut rows = Vec::with_capacity(baseline.len().max(candidate.len()));
    let mut cand_index: HashMap<(&str, i64, &str), usize> = HashMap::with_capacity(candidate.len());
    for (i, f) in candidate.functions.iter().enumerate() {
        cand_index.insert(candidate.key_parts(f.key), i);
    }
    let mut matched = vec![false; candidate.len()];
    for f in &baseline.functions {
        let (file, line, name) = baseline.key_parts(f.key);
        let c = cand_index.get(&(file, line, name)).map(|&i| {
            matched[i] = true;
            Numbers::from(candidate.functions[i].stats)
        });
        rows.push(FunctionDiff::new(file, line, name, Some(f.stats.into()), c));
    }
    for (f, seen) in candidate.functions.iter().zip(&matched) {
        if !seen {
            let (file, line, name) = candidate.key_parts(f.key);
            rows.push(FunctionDiff::new(
                file,
                line,
                name,
                None,
                Some(f.stats.into()),
            ));
        }
    }
    rows.sort_by(default_order);
    Comparison {
        schema: COMPARISON_SCHEMA.to_owned(),
        baseline: SideSummary::of(baseline),
        candidate: SideSummary::of(candidate),
        functions: rows,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::profile::{EdgeStats, Limits, ProfileBuilder, SourceFormat};

    /// A profile from `(file, line, name, cc, nc, tt, ct)` rows (no callers).
    pub(crate) fn profile(name: &str, rows: &[(&str, i64, &str, i64, i64, f64, f64)]) -> Profile {
        let mut b = ProfileBuilder::new(Limits::for_input(0), 0);
        for &(file, line, fname, cc, nc, tt, ct) in rows {
            let (fs, ns) = (b.intern(file).unwrap(), b.intern(fname).unwrap());
            let k = b.key(fs, line, ns);
            b.begin_function(k, Stats { cc, nc, tt, ct }).unwrap();
        }
        b.finish(name, SourceFormat::Marshal { version: 4 })
            .unwrap()
    }

    #[test]
    fn statuses_deltas_and_default_order() {
        let a = profile(
            "a.prof",
            &[
                ("x.py", 1, "f", 1, 1, 0.5, 0.5),
                ("x.py", 2, "g", 2, 2, 0.1, 0.2),
                ("x.py", 3, "gone", 1, 1, 0.3, 0.3),
                ("x.py", 4, "same", 1, 1, 0.0, 0.0),
            ],
        );
        let b = profile(
            "b.prof",
            &[
                ("x.py", 1, "f", 1, 3, 0.2, 0.5),
                ("x.py", 2, "g", 2, 2, 0.1, 0.2),
                ("x.py", 4, "same", 1, 1, 0.0, 0.0),
                ("y.py", 9, "new", 1, 1, 0.3, 0.3),
            ],
        );
        let c = compare(&a, &b);
        let order: Vec<(&str, Status)> = c
            .functions
            .iter()
            .map(|r| (r.name.as_str(), r.status))
            .collect();
        // |Δtt|: f 0.3 (0.2-0.5 = -0.30000000000000004), gone 0.3, new 0.3, g 0, same 0.
        assert_eq!(
            order,
            vec![
                ("f", Status::Changed),
                ("gone", Status::Removed),
                ("new", Status::Added),
                ("g", Status::Unchanged),
                ("same", Status::Unchanged),
            ]
        );
        assert_eq!(c.functions[0].delta.nc, 2);
        assert_eq!(c.functions[0].delta.tt, 0.2 - 0.5);
        assert_eq!(c.functions[1].delta.nc, -1);
        assert!(c.functions[1].candidate.is_none());
        assert_eq!(c.baseline.functions, 4);
        assert_eq!(c.candidate.total_calls, 7);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["schema"], COMPARISON_SCHEMA);
        assert_eq!(json["functions"][1]["candidate"], serde_json::Value::Null);
        assert_eq!(json["functions"][1]["status"], "removed");
        let back: Comparison = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn percent_change_keeps_the_sign_of_the_change() {
        let a = profile(
            "a",
            &[
                ("x.py", 1, "f", 1, 1, -0.5, 0.0),
                ("x.py", 2, "g", 1, 1, 0.5, 0.0),
            ],
        );
        let b = profile(
            "b",
            &[
                ("x.py", 1, "f", 1, 1, -0.25, 0.0),
                ("x.py", 2, "g", 1, 1, 0.75, 0.0),
            ],
        );
        let c = compare(&a, &b);
        let pct = |n: &str| {
            c.functions
                .iter()
                .find(|r| r.name == n)
                .unwrap()
                .percent_tt()
        };
        assert_eq!(pct("f"), Some(50.0));
        assert_eq!(pct("g"), Some(50.0));
        // Totals: 0.0 → 0.5: no baseline to divide by.
        assert_eq!(c.total_time_percent(), None);
    }

    #[test]
    fn delta_nc_does_not_overflow() {
        let a = profile("a", &[("x.py", 1, "f", i64::MIN, i64::MIN, 0.0, 0.0)]);
        let b = profile("b", &[("x.py", 1, "f", 0, i64::MAX, 0.0, 0.0)]);
        let c = compare(&a, &b);
        assert_eq!(c.functions[0].delta.nc, i128::from(i64::MAX) * 2 + 1);
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("\"nc\":18446744073709551615"), "{text}");
        let back: Comparison = serde_json::from_str(&text).unwrap();
        assert_eq!(back.functions[0].delta.nc, i128::from(u64::MAX));
    }

    #[test]
    fn keys_compare_by_exact_text() {
        let a = profile(
            "a",
            &[("~", 0, "<built-in method builtins.len>", 1, 1, 0.1, 0.1)],
        );
        let b = profile("b", &[("", 0, "len", 1, 1, 0.1, 0.1)]);
        let c = compare(&a, &b);
        assert_eq!(c.functions.len(), 2);
        // Equal |Δtt|: key order decides, "" < "~".
        assert_eq!(c.functions[0].status, Status::Added);
        assert_eq!(c.functions[1].status, Status::Removed);
    }

    #[test]
    fn edges_do_not_affect_comparison() {
        let mut b = ProfileBuilder::new(Limits::for_input(0), 0);
        let (fs, ns) = (b.intern("x.py").unwrap(), b.intern("f").unwrap());
        let k = b.key(fs, 1, ns);
        b.begin_function(
            k,
            Stats {
                cc: 1,
                nc: 1,
                tt: 0.5,
                ct: 0.5,
            },
        )
        .unwrap();
        b.add_caller(k, EdgeStats::count(1)).unwrap();
        let with_edge = b.finish("w", SourceFormat::Marshal { version: 4 }).unwrap();
        let plain = profile("p", &[("x.py", 1, "f", 1, 1, 0.5, 0.5)]);
        let c = compare(&plain, &with_edge);
        assert_eq!(c.functions[0].status, Status::Unchanged);
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::tests::profile;
    use super::*;

    type Row = (String, i64, String, i64, i64, f64, f64);

    /// Small key space so that the two sides share functions often.
    fn rows() -> impl Strategy<Value = Vec<Row>> {
        prop::collection::vec(
            (
                prop::sample::select(vec!["a.py", "b.py", "~"]),
                0i64..4,
                prop::sample::select(vec!["f", "g", "<lambda>"]),
                -3i64..1000,
                -3i64..1000,
                prop::sample::select(vec![0.0, -0.0, 0.1, 0.2, 0.30000000000000004, 1e-9, 7.5]),
                -1.0f64..10.0,
            )
                .prop_map(|(f, l, n, cc, nc, tt, ct)| {
                    (f.to_owned(), l, n.to_owned(), cc, nc, tt, ct)
                }),
            1..12,
        )
    }

    fn build(name: &str, rows: &[Row]) -> Profile {
        let r: Vec<(&str, i64, &str, i64, i64, f64, f64)> = rows
            .iter()
            .map(|(f, l, n, cc, nc, tt, ct)| (f.as_str(), *l, n.as_str(), *cc, *nc, *tt, *ct))
            .collect();
        profile(name, &r)
    }

    proptest! {
        #[test]
        fn comparison_invariants(a in rows(), b in rows()) {
            let (pa, pb) = (build("a", &a), build("b", &b));
            let ab = compare(&pa, &pb);
            let ba = compare(&pb, &pa);
            let keys = |p: &Profile| -> std::collections::HashSet<(String, i64, String)> {
                p.functions.iter().map(|f| {
                    let (x, y, z) = p.key_parts(f.key);
                    (x.to_owned(), y, z.to_owned())
                }).collect()
            };
            let union: std::collections::HashSet<_> = keys(&pa).union(&keys(&pb)).cloned().collect();
            prop_assert_eq!(ab.functions.len(), union.len());
            // Contract order holds.
            for w in ab.functions.windows(2) {
                prop_assert_ne!(default_order(&w[0], &w[1]), Ordering::Greater);
            }
            // Swapping sides negates deltas and swaps added/removed.
            for r in &ab.functions {
                let s = ba.functions.iter().find(|x| x.key_cmp(r) == Ordering::Equal).unwrap();
                prop_assert_eq!(s.delta.nc, -r.delta.nc);
                prop_assert_eq!(s.delta.tt, -r.delta.tt);
                prop_assert_eq!(s.baseline, r.candidate);
                let swapped = match r.status {
                    Status::Added => Status::Removed,
                    Status::Removed => Status::Added,
                    other => other,
                };
                prop_assert_eq!(s.status, swapped);
            }
            // A profile against itself: every row unchanged.
            prop_assert!(compare(&pa, &pa).functions.iter().all(|r| r.status == Status::Unchanged));
        }

        #[test]
        fn paging_slices_the_sorted_rows(
            a in rows(), b in rows(), offset in 0usize..15, limit in prop::option::of(0usize..15),
            key in prop::sample::select(vec!["name", "-delta_nc", "+baseline_tt", "pct", "status", "ct"]),
        ) {
            let c = compare(&build("a", &a), &build("b", &b));
            let mut opts = ViewOptions::default();
            opts.set_sort(key).unwrap();
            let all = c.view(&opts).document.functions;
            prop_assert_eq!(all.len(), c.functions.len());
            let page = c.view(&ViewOptions { offset, limit, ..opts.clone() });
            prop_assert_eq!(page.total_rows, all.len());
            let want: Vec<_> = all.iter().skip(offset).take(limit.unwrap_or(usize::MAX)).cloned().collect();
            prop_assert_eq!(page.document.functions, want);
        }
    }
}
