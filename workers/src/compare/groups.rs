//! Groups of repeated runs (N baseline runs, M candidate runs of the same program) →
//! per-function medians, spreads and a Mann-Whitney U test of own time. Pure: no I/O.
//!
//! A run in which a function does not appear counts as 0 s for it (it did not run), so
//! every function has one value per run on each side.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::profile::Profile;
use crate::stats::{iqr, mad, mann_whitney_u, median, MannWhitney};

/// The `schema` value of a group comparison document.
pub const GROUP_SCHEMA: &str = "profdiff.group_comparison/v1";

/// Significance level used when none is given.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// One side's numbers for one quantity across its runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median across runs.
    pub median: f64,
    /// Interquartile range (type-7 quartiles).
    pub iqr: f64,
    /// Median absolute deviation (unscaled).
    pub mad: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// The value in each run, in the order the runs were given (the trend).
    pub values: Vec<f64>,
}

impl Spread {
    fn of(values: Vec<f64>) -> Self {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self {
            median: median(&values).unwrap_or(0.0),
            iqr: iqr(&values).unwrap_or(0.0),
            mad: mad(&values).unwrap_or(0.0),
            min: if values.is_empty() { 0.0 } else { min },
            max: if values.is_empty() { 0.0 } else { max },
            values,
        }
    }
}

/// What the test says about a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Candidate significantly slower (p < alpha, median up).
    Slower,
    /// Candidate significantly faster (p < alpha, median down).
    Faster,
    /// Not distinguishable from run-to-run noise at this alpha.
    Noise,
}

impl Verdict {
    /// The lowercase name used in documents.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Slower => "slower",
            Verdict::Faster => "faster",
            Verdict::Noise => "noise",
        }
    }
}

/// One quantity compared across the two groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDiff {
    /// Baseline runs.
    pub baseline: Spread,
    /// Candidate runs.
    pub candidate: Spread,
    /// candidate median − baseline median.
    pub delta_median: f64,
    /// delta_median / |baseline median| × 100; `None` when the baseline median is 0.
    pub percent: Option<f64>,
    /// The two-sided test of baseline values against candidate values.
    pub test: Option<MannWhitney>,
    /// slower / faster / noise at the document's alpha.
    pub verdict: Verdict,
}

impl GroupDiff {
    fn new(b: Vec<f64>, c: Vec<f64>, alpha: f64) -> Self {
        let test = mann_whitney_u(&b, &c);
        let (baseline, candidate) = (Spread::of(b), Spread::of(c));
        let delta_median = candidate.median - baseline.median;
        let percent =
            (baseline.median != 0.0).then(|| delta_median / baseline.median.abs() * 100.0);
        let significant = test.is_some_and(|t| t.p_value < alpha);
        let verdict = match delta_median.partial_cmp(&0.0) {
            Some(Ordering::Greater) if significant => Verdict::Slower,
            Some(Ordering::Less) if significant => Verdict::Faster,
            _ => Verdict::Noise,
        };
        Self {
            baseline,
            candidate,
            delta_median,
            percent,
            test,
            verdict,
        }
    }
}

/// One function's own time (tt) across the groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionGroupDiff {
    /// File part of the key.
    pub file: String,
    /// Line part of the key.
    pub line: i64,
    /// Name part of the key.
    pub name: String,
    /// Runs of the baseline group that contain the function.
    pub baseline_present: usize,
    /// Runs of the candidate group that contain the function.
    pub candidate_present: usize,
    /// Own time compared.
    #[serde(flatten)]
    pub tt: GroupDiff,
}

impl FunctionGroupDiff {
    /// `file:line(name)`, as pstats prints a function.
    pub fn label(&self) -> String {
        format!("{}:{}({})", self.file, self.line, self.name)
    }

    fn key_cmp(&self, other: &Self) -> Ordering {
        self.file
            .cmp(&other.file)
            .then(self.line.cmp(&other.line))
            .then_with(|| self.name.cmp(&other.name))
    }
}

/// The runs of one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSide {
    /// Each run's dump name, in the order given.
    pub runs: Vec<String>,
}

/// The `profdiff.group_comparison/v1` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupComparison {
    /// Always [`GROUP_SCHEMA`].
    pub schema: String,
    /// Significance level the verdicts use.
    pub alpha: f64,
    /// Baseline runs.
    pub baseline: GroupSide,
    /// Candidate runs.
    pub candidate: GroupSide,
    /// Total time (Σ tt per run) compared.
    pub total_time: GroupDiff,
    /// One row per function key in any run, |delta_median| descending, ties by key.
    pub functions: Vec<FunctionGroupDiff>,
}

impl GroupComparison {
    /// Functions the test calls slower, largest median increase first.
    pub fn regressions(&self) -> impl Iterator<Item = &FunctionGroupDiff> {
        self.functions
            .iter()
            .filter(|f| f.tt.verdict == Verdict::Slower)
    }

    /// Functions the test calls faster, largest median decrease first.
    pub fn improvements(&self) -> impl Iterator<Item = &FunctionGroupDiff> {
        self.functions
            .iter()
            .filter(|f| f.tt.verdict == Verdict::Faster)
    }

    /// The row of `file:line(name)` or of a bare function name (first match in row order).
    pub fn function(&self, query: &str) -> Option<&FunctionGroupDiff> {
        self.functions
            .iter()
            .find(|f| f.label() == query)
            .or_else(|| self.functions.iter().find(|f| f.name == query))
    }
}

/// The smallest two-sided p-value the test can give for these group sizes (no ties):
/// below it no difference, however large, can be significant.
pub fn min_p_value(n1: usize, n2: usize) -> f64 {
    // 2 / C(n1+n2, n1), computed in floating point (it only needs to be roughly right
    // for huge groups, where it is tiny anyway).
    let (k, n) = (n1.min(n2), n1 + n2);
    let mut c = 1.0f64;
    for i in 0..k {
        c = c * (n - i) as f64 / (i + 1) as f64;
    }
    (2.0 / c).min(1.0)
}

/// A function key with owned text.
type OwnedKey = (String, i64, String);
/// Per-run own time (baseline runs, then candidate runs) and presence counts per side.
type Column = (Vec<f64>, usize, usize);

/// Compares a group of baseline runs with a group of candidate runs; `None` when a group
/// is empty.
pub fn compare_groups(
    baseline: &[&Profile],
    candidate: &[&Profile],
    alpha: f64,
) -> Option<GroupComparison> {
    if baseline.is_empty() || candidate.is_empty() {
        return None;
    }
    let (nb, nc) = (baseline.len(), candidate.len());
    // key → (per-run tt for baseline then candidate, presence counts)
    let mut table: HashMap<OwnedKey, Column> = HashMap::new();
    let mut order: Vec<OwnedKey> = Vec::new();
    for (run, p) in baseline.iter().chain(candidate).enumerate() {
        for f in &p.functions {
            let (file, line, name) = p.key_parts(f.key);
            let key = (file.to_owned(), line, name.to_owned());
            let entry = table.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                (vec![0.0; nb + nc], 0, 0)
            });
            // A key repeated within one dump cannot happen (the builder refuses it),
            // but adding keeps the number meaningful if it ever did.
            if let Some(v) = entry.0.get_mut(run) {
                *v += f.stats.tt;
            }
            if run < nb {
                entry.1 += 1;
            } else {
                entry.2 += 1;
            }
        }
    }
    let mut functions: Vec<FunctionGroupDiff> = order
        .into_iter()
        .filter_map(|key| {
            let (mut values, bp, cp) = table.remove(&key)?;
            let cand = values.split_off(nb);
            Some(FunctionGroupDiff {
                file: key.0,
                line: key.1,
                name: key.2,
                baseline_present: bp,
                candidate_present: cp,
                tt: GroupDiff::new(values, cand, alpha),
            })
        })
        .collect();
    functions.sort_by(|a, b| {
        b.tt.delta_median
            .abs()
            .partial_cmp(&a.tt.delta_median.abs())
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.key_cmp(b))
    });
    let totals = |g: &[&Profile]| g.iter().map(|p| p.totals.total_time).collect::<Vec<_>>();
    let names = |g: &[&Profile]| GroupSide {
        runs: g.iter().map(|p| p.name.clone()).collect(),
    };
    Some(GroupComparison {
        schema: GROUP_SCHEMA.to_owned(),
        alpha,
        baseline: names(baseline),
        candidate: names(candidate),
        total_time: GroupDiff::new(totals(baseline), totals(candidate), alpha),
        functions,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::profile;
    use super::*;

    #[test]
    fn min_p_values() {
        assert_eq!(min_p_value(1, 1), 1.0);
        assert!((min_p_value(3, 3) - 0.1).abs() < 1e-12);
        assert!((min_p_value(4, 4) - 2.0 / 70.0).abs() < 1e-12);
    }

    #[test]
    fn absent_functions_count_as_zero_and_verdicts_follow_the_test() {
        let runs = |scale: &[f64], extra: bool| -> Vec<Profile> {
            scale
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut rows = vec![
                        ("x.py", 1, "hot", 1, 1, 1.0 * s, 1.0 * s),
                        ("x.py", 2, "steady", 1, 1, 0.5 + 0.001 * i as f64, 0.5),
                    ];
                    if extra {
                        rows.push(("y.py", 3, "new", 1, 1, 0.2, 0.2));
                    }
                    profile(&format!("run{i}"), &rows)
                })
                .collect()
        };
        let b = runs(&[1.0, 1.01, 0.99, 1.02, 0.98], false);
        let c = runs(&[1.5, 1.52, 1.49, 1.51, 1.48], true);
        let br: Vec<&Profile> = b.iter().collect();
        let cr: Vec<&Profile> = c.iter().collect();
        let g = compare_groups(&br, &cr, DEFAULT_ALPHA).unwrap();
        let hot = g.function("hot").unwrap();
        assert_eq!(hot.tt.verdict, Verdict::Slower);
        assert_eq!(hot.tt.test.unwrap().effect, 1.0);
        assert_eq!(hot.tt.baseline.median, 1.0);
        // Identical spreads on both sides: not a regression.
        assert_eq!(
            g.function("x.py:2(steady)").unwrap().tt.verdict,
            Verdict::Noise
        );
        let new = g.function("new").unwrap();
        assert_eq!((new.baseline_present, new.candidate_present), (0, 5));
        assert_eq!(new.tt.baseline.values, vec![0.0; 5]);
        assert_eq!(new.tt.percent, None);
        assert_eq!(g.functions[0].name, "hot");
        assert_eq!(g.total_time.verdict, Verdict::Slower);
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["schema"], GROUP_SCHEMA);
        assert_eq!(json["functions"][0]["verdict"], "slower");
        let back: GroupComparison = serde_json::from_value(json).unwrap();
        assert_eq!(back, g);
        assert!(compare_groups(&[], &cr, 0.05).is_none());
    }
}
