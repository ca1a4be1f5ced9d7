//! Temporal splits: the latest ratings are the test set, so a model never trains on the
//! future of what it is scored on.
//!
//! Ratings are ordered by timestamp; ties are broken by position in the data set (file
//! order after loading), the later position counting as the later rating, so a split is
//! the same on every run and platform. The validation set is taken from the training part
//! the same way as the test set: its latest ratings, globally or per user.

use std::collections::HashMap;

use super::{Split, fraction_of};

/// How many of each user's ratings a per-user temporal split holds out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PerUserCut {
    /// The last `n` ratings.
    Last(usize),
    /// The latest `round(count * fraction)` ratings.
    Fraction(f64),
}

/// Rating indices `0..timestamps.len()` from earliest to latest; equal timestamps in
/// index order.
fn chronological(timestamps: &[i64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..timestamps.len()).collect();
    // A stable sort keeps equal timestamps in index order.
    order.sort_by_key(|&i| timestamps[i]);
    order
}

/// A global cut: the latest `round(n * test_fraction)` ratings are the test set, and the
/// latest `round(train_len * validation_fraction)` of the rest the validation set.
pub fn latest(timestamps: &[i64], test_fraction: f64, validation_fraction: f64) -> Split {
    let order = chronological(timestamps);
    let n_test = fraction_of(order.len(), test_fraction);
    let (earlier, test) = order.split_at(order.len() - n_test);
    from_earlier(earlier, test.to_vec(), validation_fraction)
}

/// A global cut at time `at` (Unix seconds): ratings made at or after `at` are the test
/// set; the latest `round(train_len * validation_fraction)` of the rest the validation
/// set.
pub fn before(timestamps: &[i64], at: i64, validation_fraction: f64) -> Split {
    let order = chronological(timestamps);
    let cut = order.partition_point(|&i| timestamps[i] < at);
    let (earlier, test) = order.split_at(cut);
    from_earlier(earlier, test.to_vec(), validation_fraction)
}

/// The validation set is the latest part of `earlier` (chronological); lists sorted.
fn from_earlier(earlier: &[usize], test: Vec<usize>, validation_fraction: f64) -> Split {
    let n_validation = fraction_of(earlier.len(), validation_fraction);
    let (train, validation) = earlier.split_at(earlier.len() - n_validation);
    Split {
        train: train.to_vec(),
        validation: validation.to_vec(),
        test,
    }
    .sorted()
}

/// A cut per user: of each user's ratings (`users[i]` rated rating `i`) the latest ones
/// are the test set, `cut` saying how many, then the latest
/// `round(rest * validation_fraction)` of the rest the validation set. Every user keeps at
/// least one training rating, so a user with `c` ratings gives at most `c - 1` to test and
/// validation together (a user with one rating only trains).
pub fn per_user(
    users: &[u32],
    timestamps: &[i64],
    cut: PerUserCut,
    validation_fraction: f64,
) -> Split {
    let mut by_user: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in chronological(timestamps) {
        by_user.entry(users[i]).or_default().push(i);
    }
    let mut split = Split {
        train: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
    };
    for ratings in by_user.values() {
        let count = ratings.len();
        let n_test = match cut {
            PerUserCut::Last(n) => n,
            PerUserCut::Fraction(f) => fraction_of(count, f),
        }
        .min(count - 1);
        let rest = count - n_test;
        let n_validation = fraction_of(rest, validation_fraction).min(rest - 1);
        let (earlier, test) = ratings.split_at(rest);
        let (train, validation) = earlier.split_at(rest - n_validation);
        split.train.extend_from_slice(train);
        split.validation.extend_from_slice(validation);
        split.test.extend_from_slice(test);
    }
    split.sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_takes_the_newest_ratings_and_breaks_ties_by_position() {
        // Index:       0   1   2   3   4   5   6   7   8   9
        let times = [50, 10, 40, 40, 90, 20, 40, 70, 30, 60];
        // Chronological: 1(10) 5(20) 8(30) 2(40) 3(40) 6(40) 0(50) 9(60) 7(70) 4(90).
        // test_fraction 0.3: the last 3 = {9, 7, 4}; validation round(7 * 0.3) = 2 of the
        // rest, the latest two: {6, 0}; of the tied 40s, 6 is latest by position.
        let s = latest(&times, 0.3, 0.3);
        assert_eq!(s.test, vec![4, 7, 9]);
        assert_eq!(s.validation, vec![0, 6]);
        assert_eq!(s.train, vec![1, 2, 3, 5, 8]);
        // A cut through the tie: test 0.5 = 5 ratings: 4, 7, 9, 0 and the tied 6.
        assert_eq!(latest(&times, 0.5, 0.0).test, vec![0, 4, 6, 7, 9]);
    }

    #[test]
    fn before_cuts_at_the_date() {
        let times = [50, 10, 40, 40, 90, 20, 40, 70, 30, 60];
        // At or after 60: {9 (60), 7 (70), 4 (90)}; before: 7 ratings, validation
        // round(7 * 0.25) = 2 latest of them: 0 (50) and 6 (the last of the tied 40s).
        let s = before(&times, 60, 0.25);
        assert_eq!(s.test, vec![4, 7, 9]);
        assert_eq!(s.validation, vec![0, 6]);
        assert_eq!(s.train, vec![1, 2, 3, 5, 8]);
        assert!(before(&times, 1000, 0.0).test.is_empty());
        assert!(before(&times, 0, 0.0).train.is_empty());
    }

    #[test]
    fn per_user_leaves_the_last_ratings_of_each_user() {
        // User 0: ratings 0 (t=5), 2 (t=1), 4 (t=3), 6 (t=3) → chronological 2, 4, 6, 0.
        // User 1: ratings 1 (t=2), 3 (t=9), 5 (t=4) → 1, 5, 3.
        // User 2: rating 7 only: it trains.
        let users = [0, 1, 0, 1, 0, 1, 0, 2];
        let times = [5, 2, 1, 9, 3, 4, 3, 8];
        let s = per_user(&users, &times, PerUserCut::Last(1), 0.0);
        assert_eq!(s.test, vec![0, 3]);
        assert_eq!(s.train, vec![1, 2, 4, 5, 6, 7]);
        // Leave last 2, validation 0.5 of the rest: user 0: test {6, 0}, rest {2, 4} →
        // validation round(2 * 0.5) = 1: {4}; user 1: test {5, 3}, rest {1}, kept for
        // training (every user keeps one); user 2 trains.
        let s = per_user(&users, &times, PerUserCut::Last(2), 0.5);
        assert_eq!(s.test, vec![0, 3, 5, 6]);
        assert_eq!(s.validation, vec![4]);
        assert_eq!(s.train, vec![1, 2, 7]);
        // Leave last 10 caps at count - 1.
        let s = per_user(&users, &times, PerUserCut::Last(10), 0.0);
        assert_eq!(s.train, vec![1, 2, 7]);
        // Fraction 0.5: user 0 round(2) = 2 → {6, 0}; user 1 round(1.5) = 2 → {5, 3};
        // user 2 round(0.5) = 1, capped at 0.
        let s = per_user(&users, &times, PerUserCut::Fraction(0.5), 0.0);
        assert_eq!(s.test, vec![0, 3, 5, 6]);
    }
}
