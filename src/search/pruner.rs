//! When to stop a trial early: pure decisions over the scores the store holds, so the
//! same history always gives the same verdict. Lower scores are better (RMSE).
//!
//! - **ASHA** ([`asha`]), the stopping form of asynchronous successive halving (Li et al.
//!   2020) as Optuna's `SuccessiveHalvingPruner` and Ray Tune's ASHA implement it: rungs
//!   at epochs `min_epochs · ηᵏ` ([`rungs`]); a run reaching a rung goes on only if its
//!   score is among the best `⌊n / η⌋` of the `n` runs that reached that rung so far
//!   (itself included), or is the best when `n < η`. Decisions are made as each run
//!   reports, so no worker ever waits for a rung to fill.
//! - **Median** ([`median`]), Optuna's `MedianPruner`: after `min_epochs`, a run stops when
//!   its best score so far is worse than the median of the finished runs' scores at the
//!   same epoch (once `startup_trials` of them exist).
//! - **Wilcoxon** ([`wilcoxon`]), for k-fold: after each fold, the trial's fold scores are
//!   paired by fold with the best trial's; it stops when the one-sided Wilcoxon
//!   signed-rank p-value that it is worse falls below `p_threshold`. With k folds the
//!   exact p cannot go below 2⁻ᵏ (0.0625 after 4 folds, so with the default 0.1 a trial
//!   worse on its first 4 folds skips its 5th).

use super::spec::PrunerSpec;
use crate::report::stats;

/// The ASHA rung epochs of `spec`: `min_epochs · ηᵏ` up to `max_epochs`.
pub fn rungs(spec: &PrunerSpec) -> Vec<usize> {
    let mut rungs = Vec::new();
    let mut epoch = spec.min_epochs.max(1);
    while epoch <= spec.max_epochs {
        rungs.push(epoch);
        epoch = match epoch.checked_mul(spec.reduction_factor.max(2)) {
            Some(next) => next,
            None => break,
        };
    }
    rungs
}

/// ASHA at a rung: `Some(reason)` when `score` is not among the best `⌊n / η⌋` of itself
/// and `others` (the rung's earlier scores), where `n` counts them all; the best of them
/// goes on when `n < η`.
pub fn asha(score: f64, others: &[f64], reduction_factor: usize) -> Option<String> {
    let mut competing: Vec<f64> = others.iter().copied().filter(|s| s.is_finite()).collect();
    competing.push(score);
    competing.sort_by(f64::total_cmp);
    let n = competing.len();
    let kept = (n / reduction_factor.max(2)).max(1);
    let cutoff = competing[kept - 1];
    (score > cutoff).then(|| {
        format!(
            "score {score:.4} not in the best {kept} of the {n} runs at this rung \
             (cut-off {cutoff:.4})"
        )
    })
}

/// Median pruning: `Some(reason)` when `best_so_far` is worse than the median of
/// `finished` (the finished runs' scores at this epoch) and there are at least
/// `startup_trials` of them.
pub fn median(best_so_far: f64, finished: &[f64], startup_trials: usize) -> Option<String> {
    let finite: Vec<f64> = finished.iter().copied().filter(|s| s.is_finite()).collect();
    if finite.is_empty() || finite.len() < startup_trials {
        return None;
    }
    let median = stats::median(&finite)?;
    (best_so_far > median).then(|| {
        format!(
            "best score {best_so_far:.4} worse than the median {median:.4} of {} finished runs \
             at this epoch",
            finite.len()
        )
    })
}

/// Wilcoxon pruning: `Some(reason)` when `scores` (this trial's, by fold) are worse than
/// `best` (the best trial's on the same folds) with a one-sided signed-rank p-value
/// below `p_threshold`.
///
/// Never before the exact test could reach the threshold (2⁻ⁿ < `p_threshold` for n
/// pairs): with tied differences the test falls back to the normal approximation, which
/// is far too bold for two or three pairs.
pub fn wilcoxon(scores: &[f64], best: &[f64], p_threshold: f64) -> Option<String> {
    let pairs = scores.len().min(best.len());
    if 0.5f64.powi(pairs as i32) >= p_threshold {
        return None;
    }
    let test = stats::wilcoxon_signed_rank(scores, best)?;
    let mean_difference =
        scores.iter().zip(best).map(|(a, b)| a - b).sum::<f64>() / scores.len() as f64;
    // The statistic's distribution is symmetric: half the two-sided p on the side the
    // differences lean to, one minus that on the other.
    let p = if mean_difference > 0.0 {
        test.p / 2.0
    } else {
        1.0 - test.p / 2.0
    };
    (p < p_threshold).then(|| {
        format!(
            "worse than the best trial on {} fold(s): one-sided Wilcoxon p = {p:.4} < {p_threshold}",
            scores.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::spec::PrunerKind;

    fn spec(min_epochs: usize, reduction_factor: usize, max_epochs: usize) -> PrunerSpec {
        PrunerSpec {
            kind: PrunerKind::Asha,
            min_epochs,
            reduction_factor,
            max_epochs,
            startup_trials: 5,
            p_threshold: 0.1,
        }
    }

    #[test]
    fn rungs_grow_by_the_reduction_factor() {
        assert_eq!(rungs(&spec(1, 3, 30)), [1, 3, 9, 27]);
        assert_eq!(rungs(&spec(2, 2, 16)), [2, 4, 8, 16]);
        assert_eq!(rungs(&spec(5, 3, 4)), Vec::<usize>::new());
    }

    #[test]
    fn asha_keeps_the_best_third_of_a_rung() {
        // Alone at the rung, or the best of two: goes on.
        assert_eq!(asha(1.0, &[], 3), None);
        assert_eq!(asha(0.9, &[1.0], 3), None);
        // Worse than the only other run: n = 2 < η keeps just the best.
        assert!(asha(1.1, &[1.0], 3).is_some());
        // Six runs, η = 3: the best two go on.
        let others = [0.90, 0.95, 1.00, 1.05, 1.10];
        assert_eq!(asha(0.92, &others, 3), None, "second best of six");
        let reason = asha(0.97, &others, 3).expect("third of six");
        assert!(reason.contains("best 2 of the 6 runs"), "{reason}");
        // Ties with the cut-off go on; NaN scores of others are ignored.
        assert_eq!(asha(0.95, &[0.90, 0.95, f64::NAN, 1.0, 1.1, 1.2], 3), None);
    }

    #[test]
    fn median_waits_for_its_startup_runs() {
        let finished = [0.90, 0.95, 1.00, 1.05];
        assert_eq!(median(2.0, &finished, 5), None, "4 < 5 finished runs");
        // Median of four is 0.975.
        assert!(median(0.98, &finished, 4).is_some());
        assert_eq!(median(0.975, &finished, 4), None);
        assert_eq!(median(0.5, &finished, 0), None);
    }

    #[test]
    fn wilcoxon_stops_a_trial_worse_on_every_fold() {
        let best = [0.90, 0.91, 0.92, 0.93];
        // Worse on all four folds: exact two-sided p = 2/16, one-sided 1/16 = 0.0625.
        let worse = [0.95, 0.97, 0.93, 1.00];
        let reason = wilcoxon(&worse, &best, 0.1).expect("p = 0.0625 < 0.1");
        assert!(reason.contains("p = 0.0625"), "{reason}");
        assert_eq!(wilcoxon(&worse, &best, 0.05), None);
        // Three folds cannot reach below 1/8, even with tied differences (whose normal
        // approximation would say 0.08 for two).
        assert_eq!(wilcoxon(&worse[..3], &best[..3], 0.1), None);
        assert_eq!(wilcoxon(&[1.0, 1.1], &[0.9, 1.0], 0.1), None);
        // Better: one-sided p near 1.
        assert_eq!(wilcoxon(&[0.8, 0.8, 0.8, 0.8], &best, 0.1), None);
    }
}
