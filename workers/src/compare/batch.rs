//! A batch: one baseline (or a group of baseline runs) and several candidates (or a group
//! of candidate runs) → per-candidate totals, the group comparison, and the functions
//! that regressed or improved most. Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::groups::{compare_groups, FunctionGroupDiff, GroupComparison};
use crate::profile::Profile;
use crate::stats::median;

/// The `schema` value of a batch summary.
pub const BATCH_SCHEMA: &str = "profdiff.batch/v1";

/// One candidate's total time against the baseline (the median of the baseline runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateTotal {
    /// The dump's name.
    pub name: String,
    /// Its total time (Σ tt).
    pub total_time: f64,
    /// total_time − baseline median.
    pub delta: f64,
    /// delta / |baseline median| × 100; `None` when that median is 0.
    pub percent: Option<f64>,
}

/// Summary of a finished batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Always [`BATCH_SCHEMA`].
    pub schema: String,
    /// Median total time of the baseline runs.
    pub baseline_total_time: f64,
    /// Each candidate in the order given.
    pub candidates: Vec<CandidateTotal>,
    /// Largest median increases of own time (significant or not), largest first.
    pub top_regressions: Vec<FunctionGroupDiff>,
    /// Largest median decreases of own time, largest first.
    pub top_improvements: Vec<FunctionGroupDiff>,
    /// Baseline runs against candidate runs, every function.
    pub groups: GroupComparison,
}

/// Summarizes a batch; `None` when either side is empty.
pub fn summarize(
    baseline: &[&Profile],
    candidates: &[&Profile],
    alpha: f64,
    top: usize,
) -> Option<BatchSummary> {
    let groups = compare_groups(baseline, candidates, alpha)?;
    let totals: Vec<f64> = baseline.iter().map(|p| p.totals.total_time).collect();
    let base = median(&totals)?;
    let candidates = candidates
        .iter()
        .map(|p| {
            let delta = p.totals.total_time - base;
            CandidateTotal {
                name: p.name.clone(),
                total_time: p.totals.total_time,
                delta,
                percent: (base != 0.0).then(|| delta / base.abs() * 100.0),
            }
        })
        .collect();
    // Rows are already |Δ median| descending; split by sign.
    let pick = |up: bool| -> Vec<FunctionGroupDiff> {
        groups
            .functions
            .iter()
            .filter(|f| {
                if up {
                    f.tt.delta_median > 0.0
                } else {
                    f.tt.delta_median < 0.0
                }
            })
            .take(top)
            .cloned()
            .collect()
    };
    Some(BatchSummary {
        schema: BATCH_SCHEMA.to_owned(),
        baseline_total_time: base,
        candidates,
        top_regressions: pick(true),
        top_improvements: pick(false),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::profile;
    use super::*;

    #[test]
    fn candidates_against_the_baseline_median() {
        let b1 = profile("b1", &[("x.py", 1, "f", 1, 1, 1.0, 1.0)]);
        let b2 = profile("b2", &[("x.py", 1, "f", 1, 1, 3.0, 3.0)]);
        let c1 = profile(
            "c1",
            &[
                ("x.py", 1, "f", 1, 1, 1.0, 1.0),
                ("x.py", 2, "g", 1, 1, 1.0, 1.0),
            ],
        );
        let c2 = profile("c2", &[("x.py", 1, "f", 1, 1, 1.5, 1.5)]);
        let s = summarize(&[&b1, &b2], &[&c1, &c2], 0.05, 5).unwrap();
        assert_eq!(s.baseline_total_time, 2.0);
        assert_eq!(s.candidates[0].name, "c1");
        assert_eq!(s.candidates[0].delta, 0.0);
        assert_eq!(s.candidates[1].percent, Some(-25.0));
        // f: median 2.0 → 1.25 (improved); g: 0 → 0.5 (regressed).
        assert_eq!(s.top_regressions.len(), 1);
        assert_eq!(s.top_regressions[0].name, "g");
        assert_eq!(s.top_improvements[0].name, "f");
        assert!(summarize(&[], &[&c1], 0.05, 5).is_none());
    }
}
