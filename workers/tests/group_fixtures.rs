//! Group comparison on real fixture dumps. Extra "runs" are made by scaling every time of
//! a dump by a fixed factor (test-only, deterministic): the spread then comes only from
//! those factors, so what the test must call noise and what it must call a change is
//! known in advance from the single-run comparison.

use std::path::PathBuf;

use profdiff_workers::compare::{compare, compare_groups, Verdict, DEFAULT_ALPHA};
use profdiff_workers::Profile;

fn load(name: &str) -> Profile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    profdiff_workers::decode(&bytes, name).unwrap()
}

/// ±3 % run-to-run noise.
const FACTORS: [f64; 7] = [1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97];

fn runs(p: &Profile, factors: &[f64]) -> Vec<Profile> {
    factors
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut q = p.clone();
            for f in &mut q.functions {
                f.stats.tt *= s;
                f.stats.ct *= s;
            }
            q.totals.total_time *= s;
            q.name = format!("{}#{i}", p.name);
            q
        })
        .collect()
}

#[test]
fn real_changes_beyond_the_noise_are_flagged_and_noise_is_not() {
    for (before, after) in [
        ("textpipe_before.prof", "textpipe_after.prof"),
        ("recursion_before.prof", "recursion_after.prof"),
    ] {
        let (b, a) = (load(before), load(after));
        let single = compare(&b, &a);
        let (bg, ag) = (runs(&b, &FACTORS), runs(&a, &FACTORS));
        let br: Vec<&Profile> = bg.iter().collect();
        let ar: Vec<&Profile> = ag.iter().collect();
        let g = compare_groups(&br, &ar, DEFAULT_ALPHA).unwrap();
        assert_eq!(g.functions.len(), single.functions.len());
        let mut checked = 0;
        for row in &single.functions {
            let gr = g
                .functions
                .iter()
                .find(|f| f.file == row.file && f.line == row.line && f.name == row.name)
                .unwrap();
            let bt = row.baseline.map_or(0.0, |n| n.tt);
            let ct = row.candidate.map_or(0.0, |n| n.tt);
            // The medians are the unscaled dumps' values (factor 1.0 is the median).
            assert_eq!(gr.tt.baseline.median, bt, "{}", row.label());
            assert_eq!(gr.tt.candidate.median, ct, "{}", row.label());
            // Ranges that do not overlap: every run on one side beyond every run on the
            // other, so 7 against 7 is significant (p = 2/3432).
            let want = if bt >= 0.0 && ct > bt * 1.03 / 0.97 {
                Some(Verdict::Slower)
            } else if ct >= 0.0 && bt > ct * 1.03 / 0.97 {
                Some(Verdict::Faster)
            } else if bt == ct {
                Some(Verdict::Noise)
            } else {
                None
            };
            if let Some(w) = want {
                assert_eq!(gr.tt.verdict, w, "{before}: {}", row.label());
                checked += 1;
            }
        }
        assert!(checked > 5, "{before}: only {checked} rows checked");
        assert!(g.regressions().count() + g.improvements().count() > 0);

        // The baseline against itself (same factors in another order): all noise.
        let mut shuffled = FACTORS;
        shuffled.reverse();
        let b2 = runs(&b, &shuffled);
        let b2r: Vec<&Profile> = b2.iter().collect();
        let same = compare_groups(&br, &b2r, DEFAULT_ALPHA).unwrap();
        assert!(same
            .functions
            .iter()
            .all(|f| f.tt.verdict == Verdict::Noise));
        assert_eq!(same.total_time.verdict, Verdict::Noise);
        assert_eq!(same.total_time.test.unwrap().p_value, 1.0);
    }
}

#[test]
fn distinct_real_dumps_as_runs() {
    // Three real, different dumps of one program as a group, against the same group in
    // another order: nothing can differ.
    let g1: Vec<Profile> = [
        "recursion_before.prof",
        "recursion_after.prof",
        "recursion_merged3.prof",
    ]
    .iter()
    .map(|n| load(n))
    .collect();
    let a: Vec<&Profile> = g1.iter().collect();
    let b: Vec<&Profile> = g1.iter().rev().collect();
    let g = compare_groups(&a, &b, DEFAULT_ALPHA).unwrap();
    assert!(g.functions.iter().all(|f| f.tt.delta_median == 0.0));
    assert!(g.functions.iter().all(|f| f.tt.verdict == Verdict::Noise));
    // A single run per side never reaches significance, however large the change.
    let one = compare_groups(&a[..1], &a[1..2], DEFAULT_ALPHA).unwrap();
    assert!(one.functions.iter().all(|f| f.tt.verdict == Verdict::Noise));
    assert!(one.functions.iter().any(|f| f.tt.delta_median != 0.0));
    // Trend: the values are the runs' own times in the order given.
    let fib = g.function("fib").unwrap();
    let direct: Vec<f64> = g1
        .iter()
        .map(|p| {
            p.functions
                .iter()
                .find(|f| p.key_parts(f.key).2 == "fib")
                .map_or(0.0, |f| f.stats.tt)
        })
        .collect();
    assert_eq!(fib.tt.baseline.values, direct);
}
