//! Filtered, re-sorted, paged views of a [`Comparison`] for tables, exports and the API.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::paths::{is_builtin, is_stdlib};
use super::{Comparison, Delta, FunctionDiff, Numbers, Status};

/// A column rows can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Function name.
    Name,
    /// File name.
    File,
    /// Line number.
    Line,
    /// Status (added < changed < removed < unchanged).
    Status,
    /// Baseline primitive calls.
    BaselineCc,
    /// Baseline calls.
    BaselineNc,
    /// Baseline own time.
    BaselineTt,
    /// Baseline cumulative time.
    BaselineCt,
    /// Candidate primitive calls.
    CandidateCc,
    /// Candidate calls.
    CandidateNc,
    /// Candidate own time.
    CandidateTt,
    /// Candidate cumulative time.
    CandidateCt,
    /// Δ calls.
    DeltaNc,
    /// Δ own time (signed).
    DeltaTt,
    /// Δ cumulative time (signed).
    DeltaCt,
    /// |Δ own time| (the contract's default order).
    AbsDeltaTt,
    /// Percent change of own time against the baseline.
    #[serde(rename = "percent")]
    PercentTt,
}

/// Every key name [`SortKey::from_str`] accepts, canonical name first, then aliases.
const NAMES: &[(SortKey, &[&str])] = &[
    (SortKey::AbsDeltaTt, &["abs_delta_tt", "abs", "default"]),
    (SortKey::DeltaTt, &["delta_tt", "dtt"]),
    (SortKey::DeltaCt, &["delta_ct", "dct"]),
    (SortKey::DeltaNc, &["delta_nc", "dnc", "delta_calls"]),
    (
        SortKey::PercentTt,
        &["percent", "pct", "pct_tt", "percent_tt"],
    ),
    (SortKey::BaselineCc, &["baseline_cc", "b_cc"]),
    (
        SortKey::BaselineNc,
        &["baseline_nc", "b_nc", "baseline_calls"],
    ),
    (
        SortKey::BaselineTt,
        &["baseline_tt", "b_tt", "baseline_tottime"],
    ),
    (
        SortKey::BaselineCt,
        &["baseline_ct", "b_ct", "baseline_cumtime"],
    ),
    (
        SortKey::CandidateCc,
        &["candidate_cc", "c_cc", "cc", "pcalls"],
    ),
    (
        SortKey::CandidateNc,
        &["candidate_nc", "c_nc", "nc", "calls", "ncalls"],
    ),
    (
        SortKey::CandidateTt,
        &["candidate_tt", "c_tt", "tt", "tottime"],
    ),
    (
        SortKey::CandidateCt,
        &["candidate_ct", "c_ct", "ct", "cumtime", "cumulative"],
    ),
    (SortKey::Name, &["name", "function"]),
    (SortKey::File, &["file", "filename"]),
    (SortKey::Line, &["line", "lineno"]),
    (SortKey::Status, &["status"]),
];

impl SortKey {
    /// The canonical name (what [`fmt::Display`] prints).
    pub fn as_str(&self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _)| k == self)
            .and_then(|(_, names)| names.first())
            .copied()
            .unwrap_or("abs_delta_tt")
    }

    /// The direction used when no sign is given: numbers largest first (as pstats
    /// sorts), text, lines and status ascending.
    pub fn natural_descending(&self) -> bool {
        !matches!(
            self,
            SortKey::Name | SortKey::File | SortKey::Line | SortKey::Status
        )
    }

    /// All canonical names, for help texts and error messages.
    pub fn valid_names() -> String {
        NAMES
            .iter()
            .filter_map(|(_, names)| names.first().copied())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown sort key name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sort key {given:?}; valid keys: {valid} (prefix '-' for descending, '+' for ascending; aliases: tt, ct, nc, cc mean the candidate's)", valid = SortKey::valid_names())]
pub struct SortKeyError {
    /// What was given.
    pub given: String,
}

fn split_sign(s: &str) -> (Option<bool>, &str) {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('-') {
        (Some(true), rest)
    } else if let Some(rest) = s.strip_prefix('+') {
        (Some(false), rest)
    } else {
        (None, s)
    }
}

impl FromStr for SortKey {
    type Err = SortKeyError;
    /// Parses a key name or alias, case-insensitively. A leading `-`/`+` (direction) is
    /// accepted and dropped here; parse a [`SortSpec`] to keep it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (_, bare) = split_sign(s);
        let lower = bare.to_ascii_lowercase().replace('-', "_");
        NAMES
            .iter()
            .find(|(_, names)| names.contains(&lower.as_str()))
            .map(|(k, _)| *k)
            .ok_or_else(|| SortKeyError {
                given: s.to_owned(),
            })
    }
}

/// A sort key with its direction, parsed from `KEY`, `-KEY` (descending) or `+KEY`
/// (ascending); a bare key uses [`SortKey::natural_descending`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortSpec {
    /// The column.
    pub key: SortKey,
    /// Largest first.
    pub descending: bool,
}

impl FromStr for SortSpec {
    type Err = SortKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (sign, _) = split_sign(s);
        let key: SortKey = s.parse()?;
        Ok(SortSpec {
            key,
            descending: sign.unwrap_or_else(|| key.natural_descending()),
        })
    }
}

/// How to select, order and page the rows of a comparison.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// Column to sort by; ties always fall back to (file, line, name) ascending.
    pub sort: SortKey,
    /// Largest first.
    pub descending: bool,
    /// Most rows to return (after `offset`).
    pub limit: Option<usize>,
    /// Rows to skip.
    pub offset: usize,
    /// Keep rows whose file, name or `file:line(name)` matches.
    pub filter: Option<regex::Regex>,
    /// Drop built-in (C) functions.
    pub hide_builtins: bool,
    /// Drop standard-library and installed-package code (see [`is_stdlib`]).
    pub hide_stdlib: bool,
    /// Keep rows with |Δ tt| ≥ this (in the units shown: fractions when `normalize`).
    pub min_delta: Option<f64>,
    /// Show times as fractions of each side's total time (a side whose total is zero
    /// keeps its raw times).
    pub normalize: bool,
    /// Keep only rows with one of these statuses.
    pub statuses: Option<Vec<Status>>,
}

impl Default for ViewOptions {
    /// The contract order, every row.
    fn default() -> Self {
        Self {
            sort: SortKey::AbsDeltaTt,
            descending: true,
            limit: None,
            offset: 0,
            filter: None,
            hide_builtins: false,
            hide_stdlib: false,
            min_delta: None,
            normalize: false,
            statuses: None,
        }
    }
}

impl ViewOptions {
    /// Sets key and direction from a [`SortSpec`] string such as `-ct` or `delta_tt`.
    pub fn set_sort(&mut self, spec: &str) -> Result<(), SortKeyError> {
        let spec: SortSpec = spec.parse()?;
        self.sort = spec.key;
        self.descending = spec.descending;
        Ok(())
    }
}

/// A selection of rows from a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonView {
    /// Rows that matched the filters, before `offset`/`limit`.
    pub total_rows: usize,
    /// Same header as the full document, with the selected rows.
    pub document: Comparison,
}

impl Comparison {
    /// Filters, re-sorts and pages the rows.
    pub fn view(&self, opts: &ViewOptions) -> ComparisonView {
        let scale = |total: f64| {
            if opts.normalize && total != 0.0 && total.is_finite() {
                total
            } else {
                1.0
            }
        };
        let (bs, cs) = (
            scale(self.baseline.total_time),
            scale(self.candidate.total_time),
        );
        let mut rows: Vec<Cow<'_, FunctionDiff>> = self
            .functions
            .iter()
            .filter(|r| keep_by_text(r, opts))
            .map(|r| {
                if bs == 1.0 && cs == 1.0 {
                    Cow::Borrowed(r)
                } else {
                    Cow::Owned(normalized(r, bs, cs))
                }
            })
            .filter(|r| opts.min_delta.is_none_or(|m| r.delta.tt.abs() >= m))
            .collect();
        let is_default = opts.sort == SortKey::AbsDeltaTt && opts.descending;
        // The full document is already in default order; re-sort only when needed.
        if !is_default || opts.normalize {
            rows.sort_by(|a, b| compare_rows(opts.sort, opts.descending, a, b));
        }
        let total_rows = rows.len();
        let functions = rows
            .into_iter()
            .skip(opts.offset)
            .take(opts.limit.unwrap_or(usize::MAX))
            .map(Cow::into_owned)
            .collect();
        ComparisonView {
            total_rows,
            document: Comparison {
                schema: self.schema.clone(),
                baseline: self.baseline.clone(),
                candidate: self.candidate.clone(),
                functions,
            },
        }
    }
}

fn keep_by_text(r: &FunctionDiff, opts: &ViewOptions) -> bool {
    if opts.hide_builtins && is_builtin(&r.file, r.line) {
        return false;
    }
    if opts.hide_stdlib && is_stdlib(&r.file) {
        return false;
    }
    if let Some(statuses) = &opts.statuses {
        if !statuses.contains(&r.status) {
            return false;
        }
    }
    if let Some(re) = &opts.filter {
        if !(re.is_match(&r.file) || re.is_match(&r.name) || re.is_match(&r.label())) {
            return false;
        }
    }
    true
}

fn normalized(r: &FunctionDiff, bs: f64, cs: f64) -> FunctionDiff {
    let scale = |n: Option<Numbers>, s: f64| {
        n.map(|n| Numbers {
            tt: n.tt / s,
            ct: n.ct / s,
            ..n
        })
    };
    let (b, c) = (scale(r.baseline, bs), scale(r.candidate, cs));
    let t = |n: Option<Numbers>| n.map_or((0.0, 0.0), |n| (n.tt, n.ct));
    let ((btt, bct), (ctt, cct)) = (t(b), t(c));
    FunctionDiff {
        baseline: b,
        candidate: c,
        delta: Delta {
            nc: r.delta.nc,
            tt: ctt - btt,
            ct: cct - bct,
        },
        ..r.clone()
    }
}

/// Present values first (in the requested direction), absent ones last.
fn cmp_opt<T: PartialOrd>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if descending {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn compare_rows(key: SortKey, descending: bool, a: &FunctionDiff, b: &FunctionDiff) -> Ordering {
    let dir = |o: Ordering| if descending { o.reverse() } else { o };
    let side = |r: &FunctionDiff, base: bool| if base { r.baseline } else { r.candidate };
    let count = |base: bool, f: fn(&Numbers) -> i64| {
        cmp_opt(
            side(a, base).map(|n| f(&n)),
            side(b, base).map(|n| f(&n)),
            descending,
        )
    };
    let time = |base: bool, f: fn(&Numbers) -> f64| {
        cmp_opt(
            side(a, base).map(|n| f(&n)),
            side(b, base).map(|n| f(&n)),
            descending,
        )
    };
    let primary = match key {
        SortKey::Name => dir(a.name.cmp(&b.name)),
        SortKey::File => dir(a.file.cmp(&b.file)),
        SortKey::Line => dir(a.line.cmp(&b.line)),
        SortKey::Status => dir(a.status.as_str().cmp(b.status.as_str())),
        SortKey::BaselineCc => count(true, |n| n.cc),
        SortKey::BaselineNc => count(true, |n| n.nc),
        SortKey::BaselineTt => time(true, |n| n.tt),
        SortKey::BaselineCt => time(true, |n| n.ct),
        SortKey::CandidateCc => count(false, |n| n.cc),
        SortKey::CandidateNc => count(false, |n| n.nc),
        SortKey::CandidateTt => time(false, |n| n.tt),
        SortKey::CandidateCt => time(false, |n| n.ct),
        SortKey::DeltaNc => dir(a.delta.nc.cmp(&b.delta.nc)),
        SortKey::DeltaTt => cmp_opt(Some(a.delta.tt), Some(b.delta.tt), descending),
        SortKey::DeltaCt => cmp_opt(Some(a.delta.ct), Some(b.delta.ct), descending),
        SortKey::AbsDeltaTt => cmp_opt(Some(a.delta.tt.abs()), Some(b.delta.tt.abs()), descending),
        SortKey::PercentTt => cmp_opt(a.percent_tt(), b.percent_tt(), descending),
    };
    primary.then_with(|| a.key_cmp(b))
}

#[cfg(test)]
mod tests {
    use super::super::tests::profile;
    use super::super::{compare, Status};
    use super::*;

    fn sample() -> Comparison {
        let a = profile(
            "a.prof",
            &[
                (
                    "/usr/lib/python3.11/json/decoder.py",
                    10,
                    "decode",
                    5,
                    5,
                    0.4,
                    0.6,
                ),
                ("~", 0, "<built-in method builtins.len>", 100, 100, 0.1, 0.1),
                ("/home/dev/app/x.py", 1, "parse", 10, 12, 0.5, 1.0),
                ("/home/dev/app/x.py", 7, "old", 1, 1, 0.2, 0.2),
            ],
        );
        let b = profile(
            "b.prof",
            &[
                (
                    "/usr/lib/python3.11/json/decoder.py",
                    10,
                    "decode",
                    5,
                    5,
                    0.1,
                    0.3,
                ),
                ("~", 0, "<built-in method builtins.len>", 50, 50, 0.3, 0.3),
                ("/home/dev/app/x.py", 1, "parse", 10, 12, 0.5, 1.0),
                ("/home/dev/app/y.py", 3, "fresh", 2, 2, 0.1, 0.1),
            ],
        );
        compare(&a, &b)
    }

    fn names(v: &ComparisonView) -> Vec<&str> {
        v.document
            .functions
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }

    #[test]
    fn default_view_is_the_document() {
        let c = sample();
        let v = c.view(&ViewOptions::default());
        assert_eq!(v.total_rows, 5);
        assert_eq!(v.document, c);
    }

    #[test]
    fn sort_keys_parse_with_direction_and_clear_errors() {
        assert_eq!("delta_tt".parse::<SortKey>().unwrap(), SortKey::DeltaTt);
        assert_eq!("-ct".parse::<SortKey>().unwrap(), SortKey::CandidateCt);
        assert_eq!(
            "-ct".parse::<SortSpec>().unwrap(),
            SortSpec {
                key: SortKey::CandidateCt,
                descending: true
            }
        );
        assert_eq!(
            "+delta-tt".parse::<SortSpec>().unwrap(),
            SortSpec {
                key: SortKey::DeltaTt,
                descending: false
            }
        );
        assert!(!"name".parse::<SortSpec>().unwrap().descending);
        assert!("baseline_tt".parse::<SortSpec>().unwrap().descending);
        let err = "bogus".parse::<SortKey>().unwrap_err().to_string();
        assert!(
            err.contains("\"bogus\"") && err.contains("delta_tt") && err.contains("percent"),
            "{err}"
        );
        // Every canonical name round-trips.
        for (k, _) in NAMES {
            assert_eq!(k.as_str().parse::<SortKey>().unwrap(), *k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn sorting_by_each_kind_of_column() {
        let c = sample();
        let mut o = ViewOptions::default();
        o.set_sort("delta_tt").unwrap();
        // Largest increase first: len +0.2, then zeros (parse), ...
        assert_eq!(
            names(&c.view(&o)),
            [
                "<built-in method builtins.len>",
                "fresh",
                "parse",
                "old",
                "decode"
            ]
        );
        o.set_sort("+delta_tt").unwrap();
        assert_eq!(names(&c.view(&o))[0], "decode");
        o.set_sort("baseline_tt").unwrap();
        // The added function has no baseline: last whatever the direction.
        assert_eq!(
            names(&c.view(&o)),
            [
                "parse",
                "decode",
                "old",
                "<built-in method builtins.len>",
                "fresh"
            ]
        );
        o.set_sort("+baseline_tt").unwrap();
        assert_eq!(*names(&c.view(&o)).last().unwrap(), "fresh");
        o.set_sort("name").unwrap();
        assert_eq!(
            names(&c.view(&o)),
            [
                "<built-in method builtins.len>",
                "decode",
                "fresh",
                "old",
                "parse"
            ]
        );
        o.set_sort("delta_nc").unwrap();
        // Ties (0) by key: "/home/..." before "/usr/...".
        assert_eq!(names(&c.view(&o))[..3], ["fresh", "parse", "decode"]);
        o.set_sort("pct").unwrap();
        // len +200%, parse 0%, decode -75%, old -100%, fresh (no baseline) last.
        assert_eq!(
            names(&c.view(&o)),
            [
                "<built-in method builtins.len>",
                "parse",
                "decode",
                "old",
                "fresh"
            ]
        );
        o.set_sort("status").unwrap();
        assert_eq!(c.view(&o).document.functions[0].status, Status::Added);
        assert_eq!(c.view(&o).document.functions[4].status, Status::Unchanged);
    }

    #[test]
    fn filters_and_paging() {
        let c = sample();
        let o = ViewOptions {
            hide_builtins: true,
            ..Default::default()
        };
        assert_eq!(c.view(&o).total_rows, 4);
        let o = ViewOptions {
            hide_stdlib: true,
            hide_builtins: true,
            ..Default::default()
        };
        assert_eq!(names(&c.view(&o)), ["old", "fresh", "parse"]);
        let o = ViewOptions {
            filter: Some(regex::Regex::new(r"x\.py:1\(").unwrap()),
            ..Default::default()
        };
        assert_eq!(names(&c.view(&o)), ["parse"]);
        let o = ViewOptions {
            filter: Some(regex::Regex::new("^/home/dev").unwrap()),
            statuses: Some(vec![Status::Added, Status::Removed]),
            ..Default::default()
        };
        assert_eq!(names(&c.view(&o)), ["old", "fresh"]);
        let o = ViewOptions {
            min_delta: Some(0.15),
            ..Default::default()
        };
        // 0.2 - 0.0 beats 0.3 - 0.1 = 0.19999999999999998.
        assert_eq!(
            names(&c.view(&o)),
            ["decode", "old", "<built-in method builtins.len>"]
        );
        let o = ViewOptions {
            offset: 1,
            limit: Some(2),
            ..Default::default()
        };
        let v = c.view(&o);
        assert_eq!(v.total_rows, 5);
        assert_eq!(v.document.functions, c.functions[1..3]);
        let o = ViewOptions {
            offset: 10,
            ..Default::default()
        };
        let v = c.view(&o);
        assert_eq!((v.total_rows, v.document.functions.len()), (5, 0));
    }

    #[test]
    fn normalize_divides_by_each_total() {
        let c = sample();
        let o = ViewOptions {
            normalize: true,
            ..Default::default()
        };
        let v = c.view(&o);
        let bt = c.baseline.total_time;
        let ct = c.candidate.total_time;
        let parse = v
            .document
            .functions
            .iter()
            .find(|r| r.name == "parse")
            .unwrap();
        let (b, cand) = (parse.baseline.unwrap(), parse.candidate.unwrap());
        assert_eq!(b.tt, 0.5 / bt);
        assert_eq!(cand.tt, 0.5 / ct);
        assert_eq!(parse.delta.tt, 0.5 / ct - 0.5 / bt);
        assert_eq!(b.nc, 12);
        // Header totals stay raw; status stays the raw one.
        assert_eq!(v.document.baseline.total_time, bt);
        assert_eq!(parse.status, Status::Unchanged);
        // Rows are re-sorted by the normalized |Δtt|.
        let d: Vec<f64> = v
            .document
            .functions
            .iter()
            .map(|r| r.delta.tt.abs())
            .collect();
        assert!(d.windows(2).all(|w| w[0] >= w[1]), "{d:?}");
    }
}
