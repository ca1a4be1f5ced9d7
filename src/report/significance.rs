//! Is the best configuration really better? Each configuration against the best one,
//! paired by fold.
//!
//! Folds are the natural pairing: every configuration of a sweep is trained and tested
//! on the same k splits, so fold f of one configuration and fold f of another share
//! their test ratings, and the per-fold differences remove the variation between splits.
//! Configurations whose fold sets differ (a failed or missing run) are compared on the
//! folds both have. Two tests are reported, both two-sided: the paired t-test (assumes
//! roughly normal differences) and the Wilcoxon signed-rank test (does not, but with 5
//! folds its p-value cannot go below 0.0625).

use super::stats::{TTest, WILCOXON_EXACT_MAX_N, Wilcoxon, paired_t_test, wilcoxon_signed_rank};
use super::summary::ConfigSummary;

/// How configurations are paired, for footers and JSON.
pub const PAIRING: &str = "each configuration against rank 1, paired by fold number on the folds both have; – when fewer than 2 folds are common";

/// The tests run, for footers and JSON.
pub const TESTS: [&str; 2] = [
    "paired t-test, two-sided",
    "Wilcoxon signed-rank test, two-sided; zero differences dropped (Wilcoxon's method, not Pratt's); exact distribution for n ≤ 25 without ties, otherwise normal approximation with tie correction",
];

/// One configuration tested against the best.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Significance {
    /// How many folds both configurations have (the pairs tested).
    pub paired_folds: usize,
    /// The paired t-test, `None` with fewer than 2 pairs.
    pub t_test: Option<TTest>,
    /// The Wilcoxon signed-rank test, `None` with fewer than 2 pairs or when every
    /// paired difference is zero.
    pub wilcoxon: Option<Wilcoxon>,
}

/// Tests `other` against `best` on `metric`, pairing their values by fold number.
pub fn against_best(best: &ConfigSummary, other: &ConfigSummary, metric: &str) -> Significance {
    let (Some(b), Some(o)) = (best.fold_values.get(metric), other.fold_values.get(metric)) else {
        return Significance {
            paired_folds: 0,
            t_test: None,
            wilcoxon: None,
        };
    };
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (fold, y) in o {
        if let Some(x) = b.get(fold) {
            ys.push(*y);
            xs.push(*x);
        }
    }
    let paired_folds = xs.len();
    if paired_folds < 2 {
        return Significance {
            paired_folds,
            t_test: None,
            wilcoxon: None,
        };
    }
    Significance {
        paired_folds,
        t_test: paired_t_test(&ys, &xs),
        wilcoxon: wilcoxon_signed_rank(&ys, &xs),
    }
}

/// The significance of each of `ranked` (best first) against the first; `None` for the
/// first itself.
pub fn against_first(ranked: &[ConfigSummary], metric: &str) -> Vec<Option<Significance>> {
    let Some(best) = ranked.first() else {
        return Vec::new();
    };
    std::iter::once(None)
        .chain(
            ranked[1..]
                .iter()
                .map(|s| Some(against_best(best, s, metric))),
        )
        .collect()
}

/// A one-paragraph description of the tests for the end of a table.
pub fn footer(metric_label: &str) -> String {
    format!(
        "p: {metric_label} of {PAIRING}. Tests: {}; {}. With n folds the exact Wilcoxon p-value cannot go below 2/2^n (0.0625 for 5; exact up to n = {WILCOXON_EXACT_MAX_N}).",
        TESTS[0], TESTS[1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::summarize;
    use crate::store::records::StoredRun;

    fn run(id: i64, params: &str, fold: usize, rmse: f64) -> StoredRun {
        StoredRun::finished_for_test(id, params, fold, rmse)
    }

    #[test]
    fn pairs_by_fold_number_on_common_folds() {
        // best: folds 0..5 (fold 4 missing in the other); other: folds 0..4 plus fold 5.
        let best = [0.88, 0.84, 0.85, 0.91, 0.86];
        let other = [0.90, 0.85, 0.88, 0.92, 0.87];
        let mut runs = Vec::new();
        for (f, v) in best.iter().enumerate().take(4) {
            runs.push(run(f as i64, r#"{"a":1}"#, f, *v));
        }
        runs.push(run(4, r#"{"a":1}"#, 4, best[4]));
        // The other configuration's runs arrive in a different order; fold 4 is
        // missing and fold 9 has no partner.
        for f in [3usize, 1, 0, 2] {
            runs.push(run(10 + f as i64, r#"{"a":2}"#, f, other[f]));
        }
        runs.push(run(19, r#"{"a":2}"#, 9, 0.5));
        let s = summarize(&runs);
        let sig = against_best(&s[0], &s[1], "rmse");
        assert_eq!(sig.paired_folds, 4);
        // d = other − best on folds 0..3 = [0.02, 0.01, 0.03, 0.01]: mean 0.0175,
        // sd = sqrt((0.0025² + 0.0075² + 0.0125² + 0.0075²) / 3) = 0.0095743,
        // t = 0.0175 / (0.0095743 / 2) = 3.6556, df 3
        let t = sig.t_test.expect("t-test");
        assert!((t.t - 3.655_630_775).abs() < 1e-6, "{t:?}");
        assert_eq!(t.df, 3);
        let w = sig.wilcoxon.expect("wilcoxon");
        assert_eq!(w.n, 4);
        let all = against_first(&s, "rmse");
        assert_eq!(all.len(), 2);
        assert!(all[0].is_none() && all[1] == Some(sig));
    }

    #[test]
    fn fewer_than_two_common_folds_give_no_test() {
        let runs = vec![
            run(1, r#"{"a":1}"#, 0, 0.8),
            run(2, r#"{"a":1}"#, 1, 0.8),
            run(3, r#"{"a":2}"#, 1, 0.9),
            run(4, r#"{"a":2}"#, 2, 0.9),
        ];
        let s = summarize(&runs);
        let sig = against_best(&s[0], &s[1], "rmse");
        assert_eq!(
            sig,
            Significance {
                paired_folds: 1,
                t_test: None,
                wilcoxon: None
            }
        );
        assert_eq!(against_best(&s[0], &s[1], "ndcg@10").paired_folds, 0);
    }
}
