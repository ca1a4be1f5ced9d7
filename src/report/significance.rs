//! Is the best configuration really better? Each configuration against the best one,
//! paired by fold and repeat, and, with saved predictions, by test rating.
//!
//! Folds are the natural pairing: every configuration of a sweep is trained and tested
//! on the same k splits, so fold f of one configuration and fold f of another share
//! their test ratings, and the per-fold differences remove the variation between splits.
//! With `experiment.repeats` each repeat has its own seed and split, so runs are paired
//! by (fold, repeat). Configurations whose fold sets differ (a failed or missing run) are
//! compared on the slots both have. Two tests are reported, both two-sided: the paired
//! t-test (assumes roughly normal differences) and the Wilcoxon signed-rank test (does
//! not, but with 5 folds its p-value cannot go below 0.0625).
//!
//! Comparing many configurations against the best makes some small p-value likely by
//! chance, so each test's p-values are also given Holm–Bonferroni corrected across the
//! comparisons against the best ([`holm`](super::stats::holm)), with an effect size
//! beside them: Cohen's d_z for the t-test, the matched-pairs rank-biserial correlation
//! for the Wilcoxon test. When the runs saved their test predictions and the ranking
//! metric is RMSE or MAE, the same tests run per rating too
//! ([`paired_ratings`](super::paired_ratings)).

use std::collections::HashMap;

use super::metric::Metric;
use super::paired_ratings::{self, ErrorKind, PairedTest, SlotPredictions};
use super::paired_users::{self, SlotUserValues};
use super::stats::{
    TTest, WILCOXON_EXACT_MAX_N, Wilcoxon, cohens_dz, holm, paired_t_test, rank_biserial,
    wilcoxon_signed_rank,
};
use super::summary::ConfigSummary;
use crate::store::records::StoredRun;
use crate::store::{Store, StoreError};

/// How configurations are paired, for footers and JSON.
pub const PAIRING: &str = "each configuration against rank 1, paired by fold number (and repeat) on the runs both have; – when fewer than 2 are common";

/// The tests run, for footers and JSON.
pub const TESTS: [&str; 2] = [
    "paired t-test, two-sided",
    "Wilcoxon signed-rank test, two-sided; zero differences dropped (Wilcoxon's method, not Pratt's); exact distribution for n ≤ 25 without ties, otherwise normal approximation with tie correction",
];

/// What the Holm correction and the effect sizes are, for footers and JSON.
pub const CORRECTION: &str = "Holm: p-values Holm–Bonferroni corrected across the comparisons against rank 1, one family per test; d_z: Cohen's d_z (mean paired difference / its sd), sign other − best (rank_biserial in CSV and JSON: the matched-pairs rank-biserial correlation, in [−1, 1])";

/// One configuration tested against the best.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Significance {
    /// How many (fold, repeat) runs both configurations have (the pairs tested).
    pub paired_folds: usize,
    /// The paired t-test, `None` with fewer than 2 pairs.
    pub t_test: Option<TTest>,
    /// The Wilcoxon signed-rank test, `None` with fewer than 2 pairs or when every
    /// paired difference is zero.
    pub wilcoxon: Option<Wilcoxon>,
    /// Cohen's d_z of the per-run differences (other − best), `None` where the t-test
    /// has too few pairs or the differences do not vary.
    pub d_z: Option<f64>,
    /// The matched-pairs rank-biserial correlation of the per-run differences.
    pub rank_biserial: Option<f64>,
    /// The t-test's p-value, Holm-corrected across the comparisons against the best.
    pub t_holm: Option<f64>,
    /// The Wilcoxon p-value, Holm-corrected across the comparisons against the best.
    pub wilcoxon_holm: Option<f64>,
    /// The per-rating tests (RMSE or MAE, both configurations with saved predictions).
    pub per_rating: Option<PairedTest>,
    /// The per-user tests (a ranking metric, both configurations with saved per-user
    /// values).
    pub per_user: Option<PairedTest>,
}

impl Significance {
    /// No pairs, no tests.
    fn none(paired_folds: usize) -> Significance {
        Significance {
            paired_folds,
            t_test: None,
            wilcoxon: None,
            d_z: None,
            rank_biserial: None,
            t_holm: None,
            wilcoxon_holm: None,
            per_rating: None,
            per_user: None,
        }
    }
}

/// Tests `other` against `best` on `metric`, pairing their values by (fold, repeat).
/// The Holm fields are left `None`: they need the whole family ([`against_first`]).
pub fn against_best(best: &ConfigSummary, other: &ConfigSummary, metric: &str) -> Significance {
    let (Some(b), Some(o)) = (best.fold_values.get(metric), other.fold_values.get(metric)) else {
        return Significance::none(0);
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
        return Significance::none(paired_folds);
    }
    Significance {
        paired_folds,
        t_test: paired_t_test(&ys, &xs),
        wilcoxon: wilcoxon_signed_rank(&ys, &xs),
        d_z: cohens_dz(&ys, &xs),
        rank_biserial: rank_biserial(&ys, &xs),
        ..Significance::none(paired_folds)
    }
}

/// The significance of each of `ranked` (best first) against the first; `None` for the
/// first itself. The p-values are Holm-corrected across these comparisons.
pub fn against_first(ranked: &[ConfigSummary], metric: &str) -> Vec<Option<Significance>> {
    against_first_with(ranked, metric, &HashMap::new(), &HashMap::new())
}

/// [`against_first`], plus the per-rating tests where `predictions` (by `params_json`)
/// has the saved test predictions of the best and of the other configuration and
/// `metric` is `rmse` or `mae`, and the per-user tests where `users` (by `params_json`)
/// has both configurations' per-user values of `metric`.
pub fn against_first_with(
    ranked: &[ConfigSummary],
    metric: &str,
    predictions: &HashMap<String, SlotPredictions>,
    users: &HashMap<String, SlotUserValues>,
) -> Vec<Option<Significance>> {
    let Some(best) = ranked.first() else {
        return Vec::new();
    };
    let kind = ErrorKind::of_metric(metric);
    let best_preds = predictions.get(&best.params_json);
    let best_users = users.get(&best.params_json);
    let mut out: Vec<Option<Significance>> = std::iter::once(None)
        .chain(ranked[1..].iter().map(|s| {
            let mut sig = against_best(best, s, metric);
            if let (Some(kind), Some(b), Some(o)) =
                (kind, best_preds, predictions.get(&s.params_json))
            {
                sig.per_rating = paired_ratings::test(b, o, kind);
            }
            if let (Some(b), Some(o)) = (best_users, users.get(&s.params_json)) {
                sig.per_user = paired_users::test(b, o);
            }
            Some(sig)
        }))
        .collect();
    correct(&mut out);
    out
}

/// What the runs saved for the fine-grained tests, by configuration (`params_json`):
/// test predictions (RMSE and MAE) and per-user values of a ranking metric.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    /// Saved test predictions, for the per-rating tests.
    pub predictions: HashMap<String, SlotPredictions>,
    /// Saved per-user values of the ranking metric, for the per-user tests.
    pub users: HashMap<String, SlotUserValues>,
}

impl Saved {
    /// True when nothing was saved.
    pub fn is_empty(&self) -> bool {
        self.predictions.is_empty() && self.users.is_empty()
    }
}

/// What the runs saved for the fine-grained tests of `metric`: test predictions for RMSE
/// and MAE, per-user values for a ranking metric. Read for the runs `summaries` average.
pub fn load_saved(
    store: &Store,
    runs: &[StoredRun],
    summaries: &[ConfigSummary],
    metric: &Metric,
) -> Result<Saved, StoreError> {
    let mut saved = Saved::default();
    if ErrorKind::of_metric(metric.name()).is_some() {
        saved.predictions =
            paired_ratings::by_configuration(runs, summaries, |id| store.predictions(id))?;
    } else {
        saved.users =
            paired_users::by_configuration(runs, summaries, metric.name(), |id, name| {
                store.user_metric(id, name)
            })?;
    }
    Ok(saved)
}

/// Fills in the Holm-corrected p-values of every test across `sigs`.
fn correct(sigs: &mut [Option<Significance>]) {
    let family = |sigs: &[Option<Significance>], p: fn(&Significance) -> Option<f64>| {
        holm(
            &sigs
                .iter()
                .map(|s| s.as_ref().and_then(p))
                .collect::<Vec<_>>(),
        )
    };
    let t = family(sigs, |s| s.t_test.map(|t| t.p));
    let w = family(sigs, |s| s.wilcoxon.map(|w| w.p));
    let rt = family(sigs, |s| s.per_rating.and_then(|r| r.t_test).map(|t| t.p));
    let rw = family(sigs, |s| s.per_rating.and_then(|r| r.wilcoxon).map(|w| w.p));
    let ut = family(sigs, |s| s.per_user.and_then(|r| r.t_test).map(|t| t.p));
    let uw = family(sigs, |s| s.per_user.and_then(|r| r.wilcoxon).map(|w| w.p));
    for (i, sig) in sigs.iter_mut().enumerate() {
        if let Some(sig) = sig {
            sig.t_holm = t[i];
            sig.wilcoxon_holm = w[i];
            if let Some(r) = &mut sig.per_rating {
                r.t_holm = rt[i];
                r.wilcoxon_holm = rw[i];
            }
            if let Some(u) = &mut sig.per_user {
                u.t_holm = ut[i];
                u.wilcoxon_holm = uw[i];
            }
        }
    }
}

/// A one-paragraph description of the tests for the end of a table.
pub fn footer(metric_label: &str) -> String {
    format!(
        "p: {metric_label} of {PAIRING}. Tests: {}; {}. With n folds the exact Wilcoxon p-value cannot go below 2/2^n (0.0625 for 5; exact up to n = {WILCOXON_EXACT_MAX_N}). {CORRECTION}.",
        TESTS[0], TESTS[1]
    )
}

/// The footer line of the per-user tests, for tables that show them.
pub fn per_user_footer(metric_label: &str) -> String {
    format!(
        "Per user: each user's {metric_label} of each configuration and rank 1, paired by (fold, repeat, user) over the users both evaluated; paired t-test and Wilcoxon signed-rank test (normal approximation beyond {WILCOXON_EXACT_MAX_N} non-zero differences), Holm-corrected; d_z of the differences (other − rank 1)."
    )
}

/// The footer line of the per-rating tests, for tables that show them.
pub fn per_rating_footer(metric: &str) -> String {
    let error = ErrorKind::of_metric(metric).map_or("", ErrorKind::as_str);
    format!(
        "Per rating: the {error} errors of each configuration and rank 1 on the test ratings both saved predictions for, paired by (fold, repeat, user, item); paired t-test and Wilcoxon signed-rank test (normal approximation beyond {WILCOXON_EXACT_MAX_N} non-zero differences), Holm-corrected; d_z of the error differences (positive: rank 1 errs less)."
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
        // One comparison: Holm leaves its p-values as they are.
        let corrected = Significance {
            t_holm: Some(t.p),
            wilcoxon_holm: Some(w.p),
            ..sig
        };
        assert!(all[0].is_none() && all[1] == Some(corrected));
    }

    #[test]
    fn repeats_pair_by_fold_and_repeat() {
        // A repeated holdout: fold 0 in repeats 0..3. Pairing by fold alone would see one
        // pair; by (fold, repeat) there are three.
        let mut runs = Vec::new();
        for (r, (best, other)) in [(0.80, 0.83), (0.82, 0.84), (0.81, 0.85)]
            .iter()
            .enumerate()
        {
            for (id, params, v) in [
                (2 * r, r#"{"a":1}"#, best),
                (2 * r + 1, r#"{"a":2}"#, other),
            ] {
                runs.push(StoredRun {
                    repeat: r,
                    ..run(id as i64, params, 0, *v)
                });
            }
        }
        let s = summarize(&runs);
        assert_eq!(s[0].folds, 3);
        let sig = against_best(&s[0], &s[1], "rmse");
        assert_eq!(sig.paired_folds, 3);
        // d = [0.03, 0.02, 0.04]: mean 0.03, sd 0.01, d_z = 3.0
        assert!((sig.d_z.expect("d_z") - 3.0).abs() < 1e-9, "{sig:?}");
        assert_eq!(sig.rank_biserial, Some(1.0));
    }

    #[test]
    fn holm_corrects_across_the_comparisons_against_the_best() {
        // Four configurations over 5 folds; the three others differ from the best by
        // growing, noisy amounts.
        let best = [0.80, 0.81, 0.82, 0.83, 0.84];
        let deltas = [
            [0.001, -0.002, 0.003, 0.000, 0.002],
            [0.010, 0.012, 0.008, 0.011, 0.009],
            [0.030, 0.020, 0.040, 0.030, 0.050],
        ];
        let mut runs = Vec::new();
        for f in 0..5 {
            runs.push(run(f as i64, r#"{"a":0}"#, f, best[f]));
            for (c, d) in deltas.iter().enumerate() {
                let params = format!(r#"{{"a":{}}}"#, c + 1);
                runs.push(run(
                    100 * (c as i64 + 1) + f as i64,
                    &params,
                    f,
                    best[f] + d[f],
                ));
            }
        }
        let mut s = summarize(&runs);
        crate::report::rank(&mut s, &crate::report::Metric::rmse());
        let all = against_first(&s, "rmse");
        let raw: Vec<Option<f64>> = all
            .iter()
            .map(|x| x.and_then(|s| s.t_test).map(|t| t.p))
            .collect();
        let want = holm(&raw);
        for (sig, w) in all.iter().zip(&want) {
            assert_eq!(sig.and_then(|s| s.t_holm), *w);
        }
        // Holm never lowers a p-value, and with three tests the smallest is tripled.
        let (i, smallest) = raw
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i, p)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("tests");
        assert!((all[i].and_then(|s| s.t_holm).expect("holm") - 3.0 * smallest).abs() < 1e-15);
        for (sig, p) in all.iter().zip(&raw) {
            if let (Some(sig), Some(p)) = (sig, p) {
                assert!(sig.t_holm.expect("holm") >= *p);
                assert!(sig.wilcoxon_holm.expect("holm") >= sig.wilcoxon.expect("w").p);
            }
        }
    }

    #[test]
    fn saved_predictions_add_per_rating_tests_for_rmse_and_mae_only() {
        use crate::store::predictions::Prediction;
        let runs = vec![
            run(1, r#"{"a":1}"#, 0, 0.80),
            run(2, r#"{"a":1}"#, 1, 0.81),
            run(3, r#"{"a":2}"#, 0, 0.90),
            run(4, r#"{"a":2}"#, 1, 0.92),
        ];
        let s = summarize(&runs);
        let preds = |shift: f32| -> SlotPredictions {
            (0..2)
                .map(|fold| {
                    let ps = (0..30u32)
                        .map(|i| Prediction {
                            user: i,
                            item: fold,
                            rating: 3.0,
                            prediction: 3.0 + shift * (1.0 + (i % 7) as f32 / 7.0),
                        })
                        .collect();
                    ((fold as usize, 0), ps)
                })
                .collect()
        };
        let by_config: HashMap<String, SlotPredictions> = [
            (s[0].params_json.clone(), preds(0.1)),
            (s[1].params_json.clone(), preds(0.3)),
        ]
        .into_iter()
        .collect();
        let none = HashMap::new();
        let with = against_first_with(&s, "rmse", &by_config, &none);
        let r = with[1].and_then(|s| s.per_rating).expect("per-rating test");
        assert_eq!(r.pairs, 60);
        assert!(r.t_test.expect("t").t > 0.0, "the other errs more");
        assert_eq!(r.rank_biserial, Some(1.0));
        assert_eq!(
            r.t_holm,
            r.t_test.map(|t| t.p),
            "one comparison: Holm changes nothing"
        );
        assert!(
            against_first_with(&s, "ndcg@10", &by_config, &none)[1]
                .is_some_and(|s| s.per_rating.is_none())
        );
        assert!(against_first(&s, "rmse")[1].is_some_and(|s| s.per_rating.is_none()));
    }

    /// The test RMSE of every run of `experiments/sweep.toml` (5-fold, seed 42) and of
    /// `experiments/sweep-repeated.toml` (80/20 holdout, seeds 42, 43, 44), as
    /// `exp run` stored them, in grid order: dot-mf 8, 16, 32, 64, then biased-mf 8, 16,
    /// 32, 64; per configuration one value per (fold, repeat) slot in slot order.
    const SWEEP_5_FOLD: [[f64; 5]; 8] = [
        [
            0.8785342392733902,
            0.8752478942091293,
            0.8691308860137027,
            0.867460056937098,
            0.8714148425078774,
        ],
        [
            0.8801352181419355,
            0.8769011106171862,
            0.8708406027296806,
            0.8683274623352846,
            0.8732376364395055,
        ],
        [
            0.8831779045070015,
            0.8811077279110733,
            0.8743225087427178,
            0.87269640733873,
            0.87731650651295,
        ],
        [
            0.8875506386566171,
            0.8840109153588049,
            0.8798307683126637,
            0.8773165319408026,
            0.8805173819387357,
        ],
        [
            0.8498295339530664,
            0.8542214297302079,
            0.841339833477873,
            0.8460413036692507,
            0.8456970129639804,
        ],
        [
            0.8473697876974259,
            0.8494755187261107,
            0.8358458962546703,
            0.8428574369786509,
            0.8393613245952235,
        ],
        [
            0.8426616263031486,
            0.8452804450405991,
            0.8360392380576368,
            0.8402636715051768,
            0.8402567881613409,
        ],
        [
            0.8501380692703165,
            0.8491479684251556,
            0.841507625897886,
            0.843438400821148,
            0.8436885767485591,
        ],
    ];
    const SWEEP_3_REPEATS: [[f64; 3]; 8] = [
        [0.8785342392733902, 0.8741671736835813, 0.8630171485443269],
        [0.8801352181419355, 0.8762095794210172, 0.8651406245574207],
        [0.8831779045070015, 0.878913212322726, 0.8686408940786937],
        [0.8875506386566171, 0.881550410423942, 0.874140466815872],
        [0.8498295339530664, 0.8454154380412046, 0.8432757116756976],
        [0.8473697876974259, 0.8420635405560992, 0.8353418760404266],
        [0.8426616263031486, 0.8378010634157352, 0.8367365433941852],
        [0.8501380692703165, 0.8394482560561031, 0.8393224279589337],
    ];

    /// Ranks `values` (per configuration, per slot) by RMSE and returns the Holm-corrected
    /// t-test and Wilcoxon p-values of ranks 2.. against rank 1. `slot(i)` is the
    /// (fold, repeat) of the i-th value.
    fn holm_of(values: &[&[f64]], slot: fn(usize) -> (usize, usize)) -> Vec<(f64, f64)> {
        let mut runs = Vec::new();
        for (c, row) in values.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                let (fold, repeat) = slot(i);
                runs.push(StoredRun {
                    repeat,
                    ..run((100 * c + i) as i64, &format!(r#"{{"c":{c}}}"#), fold, *v)
                });
            }
        }
        let mut s = summarize(&runs);
        crate::report::rank(&mut s, &crate::report::Metric::rmse());
        against_first(&s, "rmse")[1..]
            .iter()
            .map(|x| {
                let x = x.expect("tested");
                (x.t_holm.expect("t"), x.wilcoxon_holm.expect("w"))
            })
            .collect()
    }

    #[test]
    fn holm_on_the_sweep_files_matches_scipy_and_statsmodels() {
        // Reference, per file: rank by mean RMSE (biased-mf 32 first, then biased-mf 16,
        // 64, 8, dot-mf 8, 16, 32, 64); for each other configuration o against the best b
        // pt = scipy.stats.ttest_rel(o, b).pvalue, pw = scipy.stats.wilcoxon(o, b).pvalue
        // (scipy 1.17.1); then statsmodels.stats.multitest.multipletests(pt,
        // method="holm")[1] and the same for pw.
        let five: Vec<&[f64]> = SWEEP_5_FOLD.iter().map(|r| &r[..]).collect();
        let got = holm_of(&five, |i| (i, 0));
        let t = [
            0.1399952423428532,
            0.008646029620700312,
            0.00207607545341202,
            0.0001372185713606104,
            0.0001372185713606104,
            7.228066451598998e-05,
            7.228066451598998e-05,
        ];
        for ((gt, gw), want) in got.iter().zip(t) {
            assert!((gt - want).abs() <= 1e-9 * want, "{got:?}");
            // 5 folds: exact Wilcoxon p 0.3125 or 0.0625; Holm over 7 gives 7 · 0.0625.
            assert!((gw - 0.4375).abs() < 1e-15, "{got:?}");
        }
        let three: Vec<&[f64]> = SWEEP_3_REPEATS.iter().map(|r| &r[..]).collect();
        let got = holm_of(&three, |i| (0, i));
        let t = [
            0.32732210540558393,
            0.3267491730999385,
            0.013439952847275683,
            0.0332736980153458,
            0.0332736980153458,
            0.030614060805383862,
            0.01834416225956888,
        ];
        for ((gt, gw), want) in got.iter().zip(t) {
            assert!((gt - want).abs() <= 1e-9 * want, "{got:?}");
            // 3 repeats: exact Wilcoxon p ≥ 0.25; Holm caps at 1.
            assert_eq!(*gw, 1.0, "{got:?}");
        }
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
        assert_eq!(sig, Significance::none(1));
        assert_eq!(against_best(&s[0], &s[1], "ndcg@10").paired_folds, 0);
    }
}
