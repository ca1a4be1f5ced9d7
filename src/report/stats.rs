//! The statistics behind `exp compare`: confidence intervals and paired tests over folds.
//!
//! The Student-t and normal distributions come from `statrs`; what is written out here is
//! what the report must state exactly: a two-sided paired t-test and a two-sided Wilcoxon
//! signed-rank test (exact for small samples, normal approximation with tie correction
//! beyond). The tests compare against reference values computed with `mpmath`, pasted in
//! comments.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
/// Largest number of non-zero differences the Wilcoxon test treats exactly.
pub const WILCOXON_EXACT_MAX_N: usize = 25;

/// The median of `values` (the mean of the two middle values for an even count); `None`
/// when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        n if !n.is_multiple_of(2) => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Two-sided tail probability of a standard normal: P(|Z| ≥ |z|).
pub fn normal_two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    // 2 Φ(−|z|): the lower tail keeps its precision far out, where 1 − Φ would cancel.
    2.0 * Normal::standard().cdf(-z.abs())
}

/// Two-sided tail probability of Student's t with `df` degrees of freedom:
/// P(|T| ≥ |t|).
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    match students_t(df) {
        Some(_) if t.is_nan() => f64::NAN,
        Some(_) if t.is_infinite() => 0.0,
        Some(dist) => (2.0 * dist.cdf(-t.abs())).min(1.0),
        None => f64::NAN,
    }
}

/// The quantile t such that P(|T| ≥ t) = `p` for Student's t with `df` degrees of
/// freedom; e.g. `t_critical(0.05, 4)` = 2.776 for a 95 % interval from 5 folds.
pub fn t_critical(p: f64, df: f64) -> f64 {
    match students_t(df) {
        Some(dist) if p > 0.0 && p < 1.0 => dist.inverse_cdf(1.0 - p / 2.0),
        _ => f64::NAN,
    }
}

/// Student's t with `df` > 0 degrees of freedom, centred at 0 with scale 1; `None` for
/// a df that is not a positive number.
fn students_t(df: f64) -> Option<StudentsT> {
    (df > 0.0)
        .then(|| StudentsT::new(0.0, 1.0, df).ok())
        .flatten()
}

/// Half-width of the two-sided 95 % confidence interval of a mean of `n` values with
/// sample standard deviation `std`: t₀.₉₇₅,ₙ₋₁ · std / √n. NaN for fewer than 2 values.
pub fn ci95_half_width(std: f64, n: usize) -> f64 {
    if n < 2 || !std.is_finite() {
        return f64::NAN;
    }
    t_critical(0.05, (n - 1) as f64) * std / (n as f64).sqrt()
}

/// The result of [`paired_t_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// t = mean(d) / (sd(d) / √n) for the differences d = a − b.
    pub t: f64,
    /// Degrees of freedom, n − 1.
    pub df: usize,
    /// Two-sided p-value.
    pub p: f64,
}

/// Paired (dependent-samples) t-test of `a` against `b`, two-sided, the same as
/// `scipy.stats.ttest_rel(a, b)`. `None` with fewer than 2 pairs or unequal lengths.
///
/// When all differences are equal the statistic is undefined (scipy answers NaN): here
/// equal differences of 0 give t = 0, p = 1 (no difference at all), and equal non-zero
/// differences give t = ±∞, p = 0.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Option<TTest> {
    let n = a.len();
    if n < 2 || b.len() != n {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let df = n - 1;
    let se = (var / n as f64).sqrt();
    let (t, p) = if se > 0.0 {
        let t = mean / se;
        (t, t_two_sided_p(t, df as f64))
    } else if mean == 0.0 {
        (0.0, 1.0)
    } else {
        (mean.signum() * f64::INFINITY, 0.0)
    };
    Some(TTest { t, df, p })
}

/// How [`wilcoxon_signed_rank`] computed its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WilcoxonMethod {
    /// The exact distribution of the statistic (n ≤ 25, no tied absolute differences).
    Exact,
    /// The normal approximation with the tie correction of the variance, no continuity
    /// correction (scipy's `method="approx"`).
    Normal,
}

impl WilcoxonMethod {
    /// `exact` or `normal`.
    pub fn as_str(self) -> &'static str {
        match self {
            WilcoxonMethod::Exact => "exact",
            WilcoxonMethod::Normal => "normal",
        }
    }
}

/// The result of [`wilcoxon_signed_rank`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilcoxon {
    /// The statistic: min(W⁺, W⁻), the smaller of the rank sums of positive and negative
    /// differences (scipy's two-sided `statistic`).
    pub statistic: f64,
    /// The number of non-zero differences ranked.
    pub n: usize,
    /// Two-sided p-value.
    pub p: f64,
    /// Exact distribution or normal approximation.
    pub method: WilcoxonMethod,
}

/// Wilcoxon signed-rank test of `a` against `b` (paired), two-sided, the same as
/// `scipy.stats.wilcoxon(a, b)` with its defaults: zero differences are dropped before
/// ranking (Wilcoxon's method, `zero_method="wilcox"`, not Pratt's), tied absolute
/// differences get their average rank, the p-value is exact for at most
/// [`WILCOXON_EXACT_MAX_N`] differences without ties and otherwise from the normal
/// approximation with tie correction and no continuity correction.
///
/// `None` with unequal lengths or when no non-zero difference is left.
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> Option<Wilcoxon> {
    if a.len() != b.len() {
        return None;
    }
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|d| *d != 0.0 && !d.is_nan())
        .collect();
    let n = d.len();
    if n == 0 {
        return None;
    }
    let (ranks, tie_sizes) = average_ranks(&d.iter().map(|x| x.abs()).collect::<Vec<_>>());
    let w_plus: f64 = d
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| **x > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let statistic = w_plus.min(total - w_plus);
    let ties = tie_sizes.iter().any(|&t| t > 1);
    if n <= WILCOXON_EXACT_MAX_N && !ties {
        // Without ties the ranks are 1..=n and the statistic an integer.
        let counts = signed_rank_counts(n);
        let t = statistic.round() as usize;
        let below: f64 = counts.iter().take(t + 1).sum();
        let p = (2.0 * below / 2f64.powi(n as i32)).min(1.0);
        Some(Wilcoxon {
            statistic,
            n,
            p,
            method: WilcoxonMethod::Exact,
        })
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let tie_term: f64 = tie_sizes
            .iter()
            .map(|&t| {
                let t = t as f64;
                t * t * t - t
            })
            .sum();
        let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
        let z = (statistic - mean) / var.sqrt();
        Some(Wilcoxon {
            statistic,
            n,
            p: normal_two_sided_p(z).min(1.0),
            method: WilcoxonMethod::Normal,
        })
    }
}

/// Cohen's d_z of paired samples: the mean of the differences d = a − b divided by their
/// sample standard deviation (n − 1), i.e. t / √n of [`paired_t_test`]. The effect size
/// that goes with the paired t-test: how many standard deviations of the paired
/// differences the mean difference is. `None` with fewer than 2 pairs, unequal lengths or
/// differences that do not vary.
pub fn cohens_dz(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len();
    if n < 2 || b.len() != n {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    (var > 0.0).then(|| mean / var.sqrt())
}

/// The matched-pairs rank-biserial correlation of `a` against `b`: (W⁺ − W⁻) / (W⁺ + W⁻)
/// over the ranks of the non-zero differences d = a − b (zero differences dropped, as in
/// [`wilcoxon_signed_rank`]). The effect size that goes with the Wilcoxon test, in
/// [−1, 1]: +1 when every difference is positive, −1 when every one is negative (Kerby,
/// 2014). `None` with unequal lengths or no non-zero difference.
pub fn rank_biserial(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() {
        return None;
    }
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|d| *d != 0.0 && !d.is_nan())
        .collect();
    if d.is_empty() {
        return None;
    }
    let (ranks, _) = average_ranks(&d.iter().map(|x| x.abs()).collect::<Vec<_>>());
    let (mut plus, mut minus) = (0.0, 0.0);
    for (x, r) in d.iter().zip(&ranks) {
        if *x > 0.0 {
            plus += r;
        } else {
            minus += r;
        }
    }
    Some((plus - minus) / (plus + minus))
}

/// Holm–Bonferroni adjusted p-values of a family of tests, in the order given; `None`
/// entries (tests not computed) are not part of the family and stay `None`.
///
/// With the m computed p-values sorted ascending, p₍ᵢ₎ becomes
/// max over j ≤ i of min(1, (m − j + 1) · p₍ⱼ₎): rejecting where the adjusted p is below
/// α controls the family-wise error rate at α under any dependence between the tests
/// (Holm, 1979). The same as `statsmodels.stats.multitest.multipletests(p,
/// method="holm")[1]`. NaN p-values stay NaN and count in m.
pub fn holm(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_some()).collect();
    let m = order.len();
    // NaN sorts last, so it never lowers the running maximum of a finite p.
    order.sort_by(|&i, &j| {
        let (x, y) = (p[i].unwrap_or(f64::NAN), p[j].unwrap_or(f64::NAN));
        x.partial_cmp(&y)
            .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
    });
    let mut out = vec![None; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let raw = p[i].unwrap_or(f64::NAN);
        if raw.is_nan() {
            out[i] = Some(f64::NAN);
            continue;
        }
        running = running.max(((m - rank) as f64 * raw).min(1.0));
        out[i] = Some(running);
    }
    out
}

/// Ranks of `values` (1-based, ascending, ties get the average of their ranks) and the
/// sizes of the groups of tied values.
fn average_ranks(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut groups = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start + 1 ..= end; their average:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        groups.push(end - start);
        start = end;
    }
    (ranks, groups)
}

/// `counts[s]`: how many of the 2ⁿ sign assignments of the ranks 1..=n give W⁺ = s (the
/// number of subsets of {1, …, n} summing to s).
fn signed_rank_counts(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0.0; max + 1];
    counts[0] = 1.0;
    for k in 1..=n {
        for s in (k..=max).rev() {
            counts[s] += counts[s - k];
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    //! Reference values were computed with mpmath 1.3 at 30 digits (`betainc`, `erfc`,
    //! `findroot`) and, for the exact Wilcoxon p-values, by enumerating every subset of
    //! ranks; the script is `scripts/stats-reference.py`. scipy computes the same
    //! quantities (`ttest_rel`, `t.ppf`, `wilcoxon` with its defaults) by definition.
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// `a` within a relative `tol` of `b`. statrs's normal tail (its `erfc`) agrees with
    /// mpmath to about 1e-10 relative (measured: 8.6e-11 at z = 1), far finer than the
    /// three significant digits a report prints.
    fn close_rel(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs()
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn normal_tails_match_references() {
        // erfc(1/sqrt(2)) = 0.317310507862914102829534908736
        assert!(close_rel(
            normal_two_sided_p(1.0),
            0.317_310_507_862_914_1,
            1e-9
        ));
        // erfc(3/sqrt(2)) = 0.00269979606326018905330362953519
        assert!(close_rel(
            normal_two_sided_p(3.0),
            0.002_699_796_063_260_189,
            1e-9
        ));
        assert!(close(normal_two_sided_p(0.0), 1.0, 1e-15));
    }

    #[test]
    fn student_t_matches_references() {
        // P(|T| ≥ 2), 4 df = betainc(2, 1/2, 0, 4/(4 + 2²), regularized=True)
        //   = 0.116116523516815594498944547369
        assert!(close(
            t_two_sided_p(2.0, 4.0),
            0.116_116_523_516_815_6,
            1e-13
        ));
        // 1 df is the Cauchy distribution: p = 1 − (2/π) atan(t); t = 1 → 0.5.
        assert!(close(t_two_sided_p(1.0, 1.0), 0.5, 1e-13));
        // t₀.₉₇₅ (findroot of p(t) = 0.05): 4 df 2.77644510519779435780310484675,
        // 1 df 12.7062047361747046460216799788, 29 df 2.04522964213270429819377222151
        assert!(close(t_critical(0.05, 4.0), 2.776_445_105_197_794, 1e-9));
        assert!(close(t_critical(0.05, 1.0), 12.706_204_736_174_705, 1e-8));
        assert!(close(t_critical(0.05, 29.0), 2.045_229_642_132_704, 1e-9));
    }

    #[test]
    fn ci95_is_t_times_standard_error() {
        // std 0.1 over 5 folds: 2.776445105197794 · 0.1 / √5 = 0.124166399820376457
        assert!(close(
            ci95_half_width(0.1, 5),
            0.124_166_399_820_376_46,
            1e-10
        ));
        assert!(ci95_half_width(0.1, 1).is_nan());
    }

    #[test]
    fn paired_t_test_matches_references() {
        // a = [0.90, 0.85, 0.88, 0.92, 0.87], b = [0.88, 0.84, 0.85, 0.91, 0.86]
        // d = a − b = [0.02, 0.01, 0.03, 0.01, 0.01]; mean 0.016;
        // sd = sqrt((0.004² + 0.006² + 0.014² + 0.006² + 0.006²) / 4) = sqrt(0.00008)
        //    = 0.0089443; se = sd / √5 = 0.004; t = 0.016 / 0.004 = 4.0, df = 4;
        // p = betainc(2, 1/2, 0, 4/(4 + 16)) = 0.016130089900092533579963585758
        let a = [0.90, 0.85, 0.88, 0.92, 0.87];
        let b = [0.88, 0.84, 0.85, 0.91, 0.86];
        let r = paired_t_test(&a, &b).expect("5 pairs");
        assert!(close(r.t, 4.0, 1e-9), "{r:?}");
        assert_eq!(r.df, 4);
        assert!(close(r.p, 0.016_130_089_900_092_534, 1e-10), "{r:?}");
        // Reversed order: t changes sign, p does not.
        let r2 = paired_t_test(&b, &a).expect("5 pairs");
        assert!(close(r2.t, -4.0, 1e-9) && close(r2.p, r.p, 1e-15));
        // a = [1, 2, 3], b = [1.5, 2.1, 3.9]: d = [−0.5, −0.1, −0.9], mean −0.5, sd 0.4,
        // t = −0.5 / (0.4 / √3) = −2.16506350946109661690930792688, df 2,
        // p = 0.162781641721078636231480602773
        let r = paired_t_test(&[1.0, 2.0, 3.0], &[1.5, 2.1, 3.9]).expect("3 pairs");
        assert!(close(r.t, -2.165_063_509_461_096_6, 1e-12), "{r:?}");
        assert!(close(r.p, 0.162_781_641_721_078_64, 1e-12), "{r:?}");
    }

    #[test]
    fn paired_t_test_edge_cases() {
        assert_eq!(paired_t_test(&[1.0], &[2.0]), None);
        assert_eq!(paired_t_test(&[1.0, 2.0], &[2.0]), None);
        let same = paired_t_test(&[1.0, 2.0], &[1.0, 2.0]).expect("pairs");
        assert_eq!((same.t, same.p), (0.0, 1.0));
        let shifted = paired_t_test(&[2.0, 3.0], &[1.0, 2.0]).expect("pairs");
        assert_eq!((shifted.t, shifted.p), (f64::INFINITY, 0.0));
    }

    #[test]
    fn wilcoxon_exact_matches_enumeration() {
        // a = [1, 2, 3, 4, 5], b = [1.1, 2.3, 2.8, 4.4, 5.5]
        // d = [−0.1, −0.3, 0.2, −0.4, −0.5]; ranks of |d| = [1, 3, 2, 4, 5]
        // W+ = 2 (only d = 0.2), W− = 13, statistic = min = 2.
        // Exact: subsets of {1..5} with sum ≤ 2: {}, {1}, {2} → 3 of 32;
        // p = 2 · 3/32 = 0.1875
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.1, 2.3, 2.8, 4.4, 5.5];
        let r = wilcoxon_signed_rank(&a, &b).expect("5 differences");
        assert_eq!(r.method, WilcoxonMethod::Exact);
        assert_eq!((r.statistic, r.n), (2.0, 5));
        assert!(close(r.p, 0.1875, 1e-15), "{r:?}");
        // All five of one sign: W+ = 0; p = 2 · 1/32 = 0.0625, the smallest p five folds
        // can give.
        let r = wilcoxon_signed_rank(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 6.0, 8.0, 10.0])
            .expect("5");
        assert!(close(r.p, 0.0625, 1e-15) && r.statistic == 0.0, "{r:?}");
        // A zero difference is dropped (Wilcoxon's method): d = [0, 1, 2, −3] → n = 3,
        // ranks 1, 2, 3; W+ = 3, W− = 3, statistic 3; subsets of {1,2,3} with sum ≤ 3:
        // {}, {1}, {2}, {3}, {1,2} → 5 of 8; p = min(1, 2 · 5/8) = 1
        let r = wilcoxon_signed_rank(&[0.0, 1.0, 2.0, -3.0], &[0.0; 4]).expect("3");
        assert_eq!((r.n, r.statistic, r.p), (3, 3.0, 1.0));
        // n = 10, one negative difference of rank 3:
        // d = [1, 2, −3, 4, …, 10] → W− = 3; subsets summing to ≤ 3:
        // {}, {1}, {2}, {3}, {1,2} → 5 of 1024; p = 10/1024 = 0.009765625
        let d = [1.0, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let r = wilcoxon_signed_rank(&d, &[0.0; 10]).expect("10");
        assert!(close(r.p, 0.009_765_625, 1e-15), "{r:?}");
    }

    #[test]
    fn wilcoxon_normal_approximation_with_ties() {
        // d = [2, 1, 3, 1, 1]: the three 1s share ranks 1..3 → 2 each; 2 → 4; 3 → 5.
        // W+ = 15, W− = 0, statistic 0. Ties → normal approximation:
        // mean = 5·6/4 = 7.5; var = 5·6·11/24 − (3³ − 3)/48 = 13.75 − 0.5 = 13.25;
        // z = −7.5 / √13.25; p = erfc(7.5 / √13.25 / √2) = 0.0393595088882497245698803734
        let r = wilcoxon_signed_rank(&[2.0, 1.0, 3.0, 1.0, 1.0], &[0.0; 5]).expect("5");
        assert_eq!(r.method, WilcoxonMethod::Normal);
        assert_eq!((r.statistic, r.n), (0.0, 5));
        assert!(close_rel(r.p, 0.039_359_508_888_249_72, 1e-9), "{r:?}");
    }

    #[test]
    fn wilcoxon_beyond_25_uses_the_normal_approximation() {
        // d = 1..=30, all positive, no ties: W− = 0, n = 30;
        // mean = 30·31/4 = 232.5; var = 30·31·61/24 = 2363.75;
        // p = erfc(232.5 / √2363.75 / √2) = 1.73439762832057638515788033712e-6
        let d: Vec<f64> = (1..=30).map(f64::from).collect();
        let r = wilcoxon_signed_rank(&d, &[0.0; 30]).expect("30");
        assert_eq!(r.method, WilcoxonMethod::Normal);
        assert!(close_rel(r.p, 1.734_397_628_320_576_4e-6, 1e-9), "{r:?}");
    }

    #[test]
    fn wilcoxon_edge_cases() {
        assert_eq!(wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(wilcoxon_signed_rank(&[1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn effect_sizes_match_scipy() {
        // d = [0.02, 0.01, 0.03, 0.01, 0.01]; numpy: d.mean() / d.std(ddof=1)
        //   = 1.7888543819998317 (= t / √5 = 4 / √5)
        let a = [0.90, 0.85, 0.88, 0.92, 0.87];
        let b = [0.88, 0.84, 0.85, 0.91, 0.86];
        assert!(close(
            cohens_dz(&a, &b).expect("5 pairs"),
            1.788_854_381_999_831_7,
            1e-9
        ));
        // d = [−0.1, −0.3, 0.2, −0.4, −0.5], ranks of |d| [1, 3, 2, 4, 5]:
        // r = scipy.stats.rankdata(abs(d)); (r[d > 0].sum() − r[d < 0].sum()) / r.sum()
        //   = (2 − 13) / 15 = −0.7333333333333333
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.1, 2.3, 2.8, 4.4, 5.5];
        assert!(close(
            rank_biserial(&a, &b).expect("5"),
            -11.0 / 15.0,
            1e-15
        ));
        assert_eq!(
            cohens_dz(&[1.0, 2.0], &[0.0, 1.0]),
            None,
            "constant differences"
        );
        assert_eq!(rank_biserial(&[1.0], &[1.0]), None);
        assert_eq!(rank_biserial(&[3.0, 4.0], &[1.0, 1.0]), Some(1.0));
    }

    /// 40 paired errors with ties and zeros, as per-rating tests see them. Drawn with
    /// `rng = numpy.random.default_rng(0); o = numpy.round(rng.uniform(0, 2, 40), 1);
    /// b = numpy.round(rng.uniform(0, 2, 40), 1)`.
    const O40: [f64; 40] = [
        1.3, 0.5, 0.1, 0.0, 1.6, 1.8, 1.2, 1.5, 1.1, 1.9, 1.6, 0.0, 1.7, 0.1, 1.5, 0.4, 1.7, 1.1,
        0.6, 0.8, 0.1, 0.2, 1.3, 1.3, 1.2, 0.8, 2.0, 2.0, 1.4, 1.3, 1.4, 0.8, 0.3, 1.4, 1.1, 0.6,
        1.0, 1.8, 1.9, 0.7,
    ];
    const B40: [f64; 40] = [
        1.1, 0.6, 1.2, 0.7, 0.8, 1.8, 0.5, 1.2, 0.2, 1.7, 1.6, 0.5, 1.8, 0.1, 0.7, 0.3, 0.9, 1.6,
        0.5, 0.1, 0.8, 0.4, 0.2, 1.2, 0.6, 1.3, 0.4, 1.9, 0.7, 0.2, 1.3, 1.9, 0.9, 1.9, 1.0, 0.9,
        1.2, 2.0, 1.9, 0.9,
    ];

    #[test]
    fn per_rating_sized_tests_match_scipy() {
        // scipy 1.17.1: stats.ttest_rel(o, b) → t 0.9342874634620902, p 0.3559045695991882,
        // df 39; stats.wilcoxon(o, b, method="approx") → statistic 284.0,
        // p 0.4411257328592747 (36 non-zero differences, tied ranks);
        // d = o − b: d.mean() / d.std(ddof=1) = 0.1477238186940774; rank-biserial over the
        // non-zero d: 0.14714714714714713
        let t = paired_t_test(&O40, &B40).expect("40 pairs");
        assert!(close(t.t, 0.934_287_463_462_090_2, 1e-9), "{t:?}");
        assert!(close(t.p, 0.355_904_569_599_188_2, 1e-9), "{t:?}");
        let w = wilcoxon_signed_rank(&O40, &B40).expect("36 differences");
        assert_eq!(
            (w.statistic, w.n, w.method),
            (284.0, 36, WilcoxonMethod::Normal)
        );
        assert!(close_rel(w.p, 0.441_125_732_859_274_7, 1e-9), "{w:?}");
        assert!(close(
            cohens_dz(&O40, &B40).expect("dz"),
            0.147_723_818_694_077_4,
            1e-12
        ));
        assert!(close(
            rank_biserial(&O40, &B40).expect("r"),
            0.147_147_147_147_147_13,
            1e-12
        ));
    }

    #[test]
    fn holm_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005],
        //   method="holm")[1] = [0.03, 0.06, 0.06, 0.02]
        let got = holm(&[Some(0.01), Some(0.04), Some(0.03), Some(0.005)]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (g, w) in got.iter().zip(want) {
            assert!(close(g.expect("computed"), w, 1e-15), "{got:?}");
        }
        // Missing tests are not in the family: [0.2, 0.6, 0.01] → [0.4, 0.6, 0.03]
        let got = holm(&[None, Some(0.2), Some(0.6), None, Some(0.01)]);
        assert_eq!(got[0], None);
        assert_eq!(got[3], None);
        for (g, w) in [got[1], got[2], got[4]].iter().zip([0.4, 0.6, 0.03]) {
            assert!(close(g.expect("computed"), w, 1e-15), "{got:?}");
        }
        // Capped at 1; NaN stays NaN and counts in m.
        let got = holm(&[Some(0.5), Some(f64::NAN)]);
        assert_eq!(got[0], Some(1.0));
        assert!(got[1].expect("nan").is_nan());
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn ranks_average_ties() {
        let (r, g) = average_ranks(&[3.0, 1.0, 1.0, 2.0]);
        assert_eq!(r, [4.0, 1.5, 1.5, 3.0]);
        assert_eq!(g, [2, 1, 1]);
        // Subset sums of {1, 2, 3}: 0, 1, 2, 3, 3, 4, 5, 6
        assert_eq!(signed_rank_counts(3), [1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]);
    }
}
