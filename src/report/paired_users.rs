//! Per-user paired tests of ranking metrics, from the per-user values runs save with
//! `metrics.save_predictions` (as Elliot pairs its tests).
//!
//! A ranking metric such as `ndcg@10` is a mean over the evaluated users; in the same
//! (fold, repeat) slot two configurations rank for the same users against the same test
//! ratings, so each user's values can be paired: by (fold, repeat, user). The differences
//! tested are the other configuration's value minus the best's. Users are not quite
//! independent (they share the items and the models), and many users have a value of 0
//! at small cut-offs, which the Wilcoxon test drops as zero differences.

use std::collections::{BTreeMap, HashMap};

use super::paired_ratings::PairedTest;
use super::summary::{ConfigSummary, RunSlot};
use crate::store::records::StoredRun;

/// One configuration's per-user values of one metric, by the (fold, repeat) slot of their
/// run: (dense user id, value).
pub type SlotUserValues = BTreeMap<RunSlot, Vec<(u32, f32)>>;

/// The values of `other` and `best` for the users both evaluated in the same slot:
/// `(other's, best's)`, in slot order and, within a slot, in `other`'s order. NaN values
/// are left out.
pub fn paired_values(best: &SlotUserValues, other: &SlotUserValues) -> (Vec<f64>, Vec<f64>) {
    let (mut o, mut b) = (Vec::new(), Vec::new());
    for (slot, theirs) in other {
        let Some(ours) = best.get(slot) else {
            continue;
        };
        let index: HashMap<u32, f32> = ours.iter().copied().collect();
        for (user, v) in theirs {
            if let Some(w) = index.get(user)
                && !v.is_nan()
                && !w.is_nan()
            {
                o.push(f64::from(*v));
                b.push(f64::from(*w));
            }
        }
    }
    (o, b)
}

/// The per-user test of `other` against `best`; `None` with fewer than 2 common users.
/// The Holm fields are left `None` (the caller corrects the family).
pub fn test(best: &SlotUserValues, other: &SlotUserValues) -> Option<PairedTest> {
    let (o, b) = paired_values(best, other);
    PairedTest::of(&o, &b)
}

/// The saved per-user values of metric `name` of each configuration (by `params_json`),
/// read with `load(run id, name)` for the runs each summary averages. Configurations
/// none of whose runs saved them are left out.
pub fn by_configuration<E>(
    runs: &[StoredRun],
    summaries: &[ConfigSummary],
    name: &str,
    mut load: impl FnMut(i64, &str) -> Result<Option<Vec<(u32, f32)>>, E>,
) -> Result<HashMap<String, SlotUserValues>, E> {
    let by_id: HashMap<i64, &StoredRun> = runs.iter().map(|r| (r.id, r)).collect();
    let mut out = HashMap::new();
    for s in summaries {
        let mut slots = SlotUserValues::new();
        for id in &s.run_ids {
            let Some(run) = by_id.get(id) else {
                continue;
            };
            if let Some(values) = load(*id, name)? {
                slots.insert((run.fold, run.repeat), values);
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

    #[test]
    fn pairs_by_slot_and_user() {
        let best: SlotUserValues = [
            ((0, 0), vec![(1, 0.5), (2, 0.25), (3, f32::NAN)]),
            ((0, 1), vec![(1, 1.0)]),
        ]
        .into_iter()
        .collect();
        let other: SlotUserValues = [
            ((0, 0), vec![(2, 0.0), (1, 0.5), (3, 0.5), (9, 1.0)]),
            ((0, 1), vec![(1, 0.5)]),
            ((1, 0), vec![(1, 0.5)]),
        ]
        .into_iter()
        .collect();
        let (o, b) = paired_values(&best, &other);
        assert_eq!(o, [0.0, 0.5, 0.5]);
        assert_eq!(b, [0.25, 0.5, 1.0]);
        let t = test(&best, &other).expect("3 users");
        assert_eq!(t.pairs, 3);
        // d = [−0.25, 0, −0.5]: the zero is dropped by Wilcoxon; both others negative.
        assert_eq!(t.rank_biserial, Some(-1.0));
        assert!(t.t_test.expect("t").t < 0.0);
        assert_eq!(test(&best, &SlotUserValues::new()), None);
    }
}
