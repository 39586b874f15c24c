//! Robust summaries and the Mann-Whitney U test for groups of repeated runs. Pure.
//!
//! The test follows `scipy.stats.mannwhitneyu` (two-sided, `method="auto"`,
//! `use_continuity=True`): exact when either side has at most 8 runs and there are no
//! ties, otherwise the normal approximation with tie correction. The normal CDF comes
//! from `statrs`; the exact null distribution is the product's own (a Gaussian
//! binomial's coefficients).

use serde::{Deserialize, Serialize};

/// Sample sizes beyond which the exact distribution is not tabulated (m·n coefficients).
const EXACT_MAX_CELLS: usize = 1 << 20;

/// Median of finite values; `None` for an empty slice.
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// The `q` quantile with linear interpolation (numpy's default, Hyndman–Fan type 7).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (*v.get(lo)?, *v.get(hi)?);
    Some(a + (b - a) * (pos - lo as f64))
}

/// Interquartile range (type-7 quartiles).
pub fn iqr(values: &[f64]) -> Option<f64> {
    Some(quantile(values, 0.75)? - quantile(values, 0.25)?)
}

/// Median absolute deviation from the median (unscaled).
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let dev: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The exact null distribution of U (small samples without ties).
    Exact,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
}

/// Result of a two-sided Mann-Whitney U test of `x` (baseline) against `y` (candidate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U of the first sample (scipy's returned statistic).
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Cliff's delta of y against x, in [-1, 1]: P(y > x) − P(y < x). Equal to the
    /// rank-biserial correlation; positive when the candidate tends to be larger.
    pub effect: f64,
    /// Exact or asymptotic.
    pub method: Method,
}

/// Two-sided Mann-Whitney U test; `None` when a side is empty or a value is not finite.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    // Midranks of the pooled sample, and the tie group sizes.
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let mut r1 = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        // == (not total_cmp) so that -0.0 and 0.0 tie, as they do in scipy.
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        let t = (j - i) as f64;
        let rank = (i + j + 1) as f64 / 2.0;
        r1 += rank * pooled[i..j].iter().filter(|p| p.1).count() as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    let big = u1.max(u2);
    let ties = tie_term > 0.0;
    let exact = !ties && (n1 <= 8 || n2 <= 8) && n1.saturating_mul(n2) <= EXACT_MAX_CELLS;
    let (p, method) = if exact {
        (2.0 * exact_sf(big as usize, n1, n2), Method::Exact)
    } else {
        let nf = n as f64;
        let var = f1 * f2 / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
        let p = if var > 0.0 {
            let z = (big - f1 * f2 / 2.0 - 0.5) / var.sqrt();
            2.0 * normal_sf(z)
        } else {
            // Every value tied: no evidence of a difference.
            1.0
        };
        (p, Method::Asymptotic)
    };
    Some(MannWhitney {
        u: u1,
        p_value: p.clamp(0.0, 1.0),
        effect: (u2 - u1) / (f1 * f2),
        method,
    })
}

/// P(Z ≥ z) for a standard normal Z.
fn normal_sf(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2)
}

/// P(U ≥ k) under the null for sample sizes m, n without ties.
///
/// The counts of U are the coefficients of the Gaussian binomial [m+n choose m]_q, built
/// as Π_{i=1..m} (1 − q^{n+i}) / (1 − q^i); after each step the polynomial is again a
/// Gaussian binomial, so every intermediate is a non-negative integer.
fn exact_sf(k: usize, m: usize, n: usize) -> f64 {
    let (m, n) = (m.min(n), m.max(n));
    let cells = m * n;
    let mut c = vec![0i128; cells + 1];
    if let Some(first) = c.first_mut() {
        *first = 1;
    }
    for i in 1..=m {
        // Multiply by (1 − q^{n+i}), from the top so each source is read unchanged.
        for d in (n + i..=cells).rev() {
            c[d] -= c[d - n - i];
        }
        // Divide by (1 − q^i): a running sum with stride i.
        for d in i..=cells {
            c[d] += c[d - i];
        }
    }
    let total: i128 = c.iter().sum();
    let tail: i128 = c.iter().skip(k).sum();
    tail as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn robust_summaries() {
        let v = [7.0, 1.0, 3.0, 5.0];
        assert_eq!(median(&v), Some(4.0));
        // numpy.percentile([1,3,5,7], [25, 75]) = 2.5, 5.5
        assert_eq!(iqr(&v), Some(3.0));
        // |x − 4| = 3,1,1,3 → median 2
        assert_eq!(mad(&v), Some(2.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[2.5]), Some(2.5));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.1), Some(1.4));
    }

    #[test]
    fn exact_distribution_matches_enumeration() {
        // Brute force: all C(m+n, m) assignments of ranks 1..m+n to the first sample.
        for (m, n) in [(1, 1), (2, 3), (3, 3), (4, 5), (3, 7)] {
            let total = m + n;
            let mut counts = vec![0u64; m * n + 1];
            for mask in 0u32..(1 << total) {
                if mask.count_ones() as usize != m {
                    continue;
                }
                let r: usize = (0..total)
                    .filter(|b| mask & (1 << b) != 0)
                    .map(|b| b + 1)
                    .sum();
                counts[r - m * (m + 1) / 2] += 1;
            }
            let all: u64 = counts.iter().sum();
            for k in 0..=m * n {
                let want = counts[k..].iter().sum::<u64>() as f64 / all as f64;
                assert!(close(exact_sf(k, m, n), want, 1e-12), "m={m} n={n} k={k}");
                assert!(close(exact_sf(k, n, m), want, 1e-12));
            }
        }
    }

    /// Reference values from `scipy.stats.mannwhitneyu(x, y, alternative="two-sided")`
    /// (scipy 1.17.1, default method "auto", continuity correction on).
    #[test]
    fn matches_scipy() {
        let asym_x: Vec<f64> = (0..12)
            .map(|i| f64::from(i % 7) + 0.1 * f64::from(i))
            .collect();
        let asym_y: Vec<f64> = (0..11)
            .map(|i| f64::from(i % 5) + 0.13 * f64::from(i) + 0.4)
            .collect();
        type Case = (Vec<f64>, Vec<f64>, f64, f64, Method);
        let cases: Vec<Case> = vec![
            (
                vec![1.1, 2.2, 3.3, 4.4],
                vec![5.5, 6.6, 7.7, 8.8, 9.9],
                0.0,
                0.015873015873015872,
                Method::Exact,
            ),
            (
                vec![0.52, 0.61, 0.48, 0.55, 0.70],
                vec![0.66, 0.71, 0.59, 0.80, 0.75, 0.69],
                4.0,
                0.05194805194805195,
                Method::Exact,
            ),
            (
                vec![1., 2., 2., 3., 4.],
                vec![2., 3., 3., 5., 6., 6.],
                6.0,
                0.1130499788563229,
                Method::Asymptotic,
            ),
            (asym_x, asym_y, 71.0, 0.7818140034887688, Method::Asymptotic),
            (
                vec![1., 1., 2., 2., 2., 3., 3., 4., 5., 5.],
                vec![2., 3., 3., 3., 4., 4., 5., 5., 6., 6.],
                25.5,
                0.06482814258846091,
                Method::Asymptotic,
            ),
            (
                vec![1.0, 1.0, 1.0],
                vec![1.0, 1.0],
                3.0,
                1.0,
                Method::Asymptotic,
            ),
        ];
        for (x, y, u, p, method) in cases {
            let r = mann_whitney_u(&x, &y).unwrap();
            assert_eq!(r.u, u, "{x:?} {y:?}");
            assert!(
                close(r.p_value, p, 1e-9),
                "{x:?} {y:?}: {} vs {p}",
                r.p_value
            );
            assert_eq!(r.method, method);
            let n = (x.len() * y.len()) as f64;
            assert!(close(r.effect, 1.0 - 2.0 * u / n, 1e-12) || r.effect == 0.0);
        }
    }

    #[test]
    fn effect_size_and_refusals() {
        // Every candidate above every baseline: Cliff's delta +1; swapped −1.
        let r = mann_whitney_u(&[1.0, 2.0], &[3.0, 4.0, 5.0]).unwrap();
        assert_eq!(r.effect, 1.0);
        assert_eq!(
            mann_whitney_u(&[3.0, 4.0, 5.0], &[1.0, 2.0])
                .unwrap()
                .effect,
            -1.0
        );
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
        assert!(mann_whitney_u(&[f64::NAN], &[1.0]).is_none());
        // n = 1 against 1 can never be significant.
        assert_eq!(mann_whitney_u(&[1.0], &[2.0]).unwrap().p_value, 1.0);
    }
}
