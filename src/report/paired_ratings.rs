//! Per-rating paired tests of RMSE and MAE, from saved test predictions
//! (`metrics.save_predictions`).
//!
//! With 5 folds a fold-level test has 5 pairs; the test ratings behind them number in the
//! thousands. Two configurations of one experiment are tested on the same ratings in the
//! same (fold, repeat) slot (the split depends on the seed and fold only), so their errors
//! on each rating can be paired: by (fold, repeat, user, item). The differences tested are
//! of **squared** errors for RMSE and of **absolute** errors for MAE, other configuration
//! minus the best, so a positive mean difference means the other one is worse. RMSE is
//! the square root of the mean squared error, so a test on squared errors is a test on
//! MSE, whose order is RMSE's.
//!
//! What the tests assume: the pairs are independent given the two models. They are not
//! quite (ratings of one user share the user's factors, and the models were trained on
//! the same data), so with many ratings small p-values overstate the evidence somewhat; the
//! effect sizes say whether a difference matters.

use std::collections::{BTreeMap, HashMap};

use super::stats::{
    TTest, Wilcoxon, cohens_dz, paired_t_test, rank_biserial, wilcoxon_signed_rank,
};
use super::summary::{ConfigSummary, RunSlot};
use crate::store::predictions::Prediction;
use crate::store::records::StoredRun;

/// One configuration's saved predictions, by the (fold, repeat) slot of their run.
pub type SlotPredictions = BTreeMap<RunSlot, Vec<Prediction>>;

/// Which error a metric averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// (prediction − rating)², for RMSE.
    Squared,
    /// |prediction − rating|, for MAE.
    Absolute,
}

impl ErrorKind {
    /// The error behind a metric name: `rmse` → squared, `mae` → absolute, others `None`
    /// (ranking metrics have no per-rating error).
    pub fn of_metric(name: &str) -> Option<ErrorKind> {
        match name {
            "rmse" => Some(ErrorKind::Squared),
            "mae" => Some(ErrorKind::Absolute),
            _ => None,
        }
    }

    /// The error of one prediction.
    pub fn error(self, p: &Prediction) -> f64 {
        let e = f64::from(p.prediction) - f64::from(p.rating);
        match self {
            ErrorKind::Squared => e * e,
            ErrorKind::Absolute => e.abs(),
        }
    }

    /// `squared` or `absolute`, for footers and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Squared => "squared",
            ErrorKind::Absolute => "absolute",
        }
    }
}

/// A paired test of one configuration against the best on fine-grained units: test
/// ratings here, users in [`paired_users`](super::paired_users).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedTest {
    /// Units paired: test ratings both configurations predicted (or users both
    /// evaluated), over all common slots.
    pub pairs: usize,
    /// The paired t-test of the errors (other − best).
    pub t_test: Option<TTest>,
    /// The Wilcoxon signed-rank test of the errors (normal approximation beyond 25
    /// non-zero differences).
    pub wilcoxon: Option<Wilcoxon>,
    /// Cohen's d_z of the error differences.
    pub d_z: Option<f64>,
    /// The matched-pairs rank-biserial correlation of the error differences.
    pub rank_biserial: Option<f64>,
    /// The t-test's p-value, Holm-corrected across the configurations tested.
    pub t_holm: Option<f64>,
    /// The Wilcoxon p-value, Holm-corrected across the configurations tested.
    pub wilcoxon_holm: Option<f64>,
}

impl PairedTest {
    /// The tests of the paired values `other` and `best` (equal lengths); `None` with
    /// fewer than 2 pairs. The Holm fields are left `None` (see [`holm_correct`]).
    pub fn of(other: &[f64], best: &[f64]) -> Option<PairedTest> {
        if other.len() < 2 {
            return None;
        }
        Some(PairedTest {
            pairs: other.len(),
            t_test: paired_t_test(other, best),
            wilcoxon: wilcoxon_signed_rank(other, best),
            d_z: cohens_dz(other, best),
            rank_biserial: rank_biserial(other, best),
            t_holm: None,
            wilcoxon_holm: None,
        })
    }
}

/// The errors of `other` and `best` on the test ratings both predicted in the same slot:
/// `(other's, best's)`, in slot order and, within a slot, in `other`'s order. A (user,
/// item) pair that occurs more than once in a slot's test ratings is paired by its first
/// occurrence.
pub fn paired_errors(
    best: &SlotPredictions,
    other: &SlotPredictions,
    kind: ErrorKind,
) -> (Vec<f64>, Vec<f64>) {
    let (mut o, mut b) = (Vec::new(), Vec::new());
    for (slot, theirs) in other {
        let Some(ours) = best.get(slot) else {
            continue;
        };
        let mut index: HashMap<(u32, u32), &Prediction> = HashMap::with_capacity(ours.len());
        for p in ours {
            index.entry((p.user, p.item)).or_insert(p);
        }
        for p in theirs {
            if let Some(q) = index.remove(&(p.user, p.item)) {
                o.push(kind.error(p));
                b.push(kind.error(q));
            }
        }
    }
    (o, b)
}

/// The per-rating test of `other` against `best`; `None` when they share fewer than 2
/// predicted test ratings. The Holm fields are left `None` (see [`holm_correct`]).
pub fn test(
    best: &SlotPredictions,
    other: &SlotPredictions,
    kind: ErrorKind,
) -> Option<PairedTest> {
    let (o, b) = paired_errors(best, other, kind);
    PairedTest::of(&o, &b)
}

/// The saved predictions of each configuration (by `params_json`), read with `load` for
/// the runs each summary averages. Configurations none of whose runs saved predictions
/// are left out.
pub fn by_configuration<E>(
    runs: &[StoredRun],
    summaries: &[ConfigSummary],
    mut load: impl FnMut(i64) -> Result<Option<Vec<Prediction>>, E>,
) -> Result<HashMap<String, SlotPredictions>, E> {
    let by_id: HashMap<i64, &StoredRun> = runs.iter().map(|r| (r.id, r)).collect();
    let mut out = HashMap::new();
    for s in summaries {
        let mut slots = SlotPredictions::new();
        for id in &s.run_ids {
            let Some(run) = by_id.get(id) else {
                continue;
            };
            if let Some(preds) = load(*id)? {
                slots.insert((run.fold, run.repeat), preds);
            }
        }
        if !slots.is_empty() {
            out.insert(s.params_json.clone(), slots);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::predictions::test_prediction as p;

    #[test]
    fn pairs_by_slot_user_and_item_only() {
        let best: SlotPredictions = [
            (
                (0, 0),
                vec![p(1, 1, 4.0, 3.5), p(1, 2, 3.0, 3.0), p(2, 1, 5.0, 4.0)],
            ),
            ((1, 0), vec![p(1, 1, 2.0, 2.5)]),
        ]
        .into_iter()
        .collect();
        // Another order, one rating the best lacks, and a slot the best lacks.
        let other: SlotPredictions = [
            (
                (0, 0),
                vec![p(2, 1, 5.0, 3.0), p(9, 9, 1.0, 1.0), p(1, 1, 4.0, 4.5)],
            ),
            ((0, 1), vec![p(1, 1, 4.0, 1.0)]),
            ((1, 0), vec![p(1, 1, 2.0, 1.0)]),
        ]
        .into_iter()
        .collect();
        let (o, b) = paired_errors(&best, &other, ErrorKind::Squared);
        assert_eq!(o, [4.0, 0.25, 1.0]);
        assert_eq!(b, [1.0, 0.25, 0.25]);
        let (o, b) = paired_errors(&best, &other, ErrorKind::Absolute);
        assert_eq!(o, [2.0, 0.5, 1.0]);
        assert_eq!(b, [1.0, 0.5, 0.5]);
        let t = test(&best, &other, ErrorKind::Absolute).expect("3 pairs");
        assert_eq!(t.pairs, 3);
        // d = [1, 0, 0.5]: mean 0.5, sd 0.5, d_z = 1; W+ = 2 + 1 over ranks of [1, 0.5].
        assert!((t.d_z.expect("d_z") - 1.0).abs() < 1e-12);
        assert_eq!(t.rank_biserial, Some(1.0));
        assert_eq!(ErrorKind::of_metric("ndcg@10"), None);
    }

    #[test]
    fn fewer_than_two_pairs_give_no_test() {
        let best: SlotPredictions = [((0, 0), vec![p(1, 1, 4.0, 3.5)])].into_iter().collect();
        let other = best.clone();
        assert_eq!(test(&best, &other, ErrorKind::Squared), None);
        assert_eq!(
            test(&best, &SlotPredictions::new(), ErrorKind::Squared),
            None
        );
    }
}
