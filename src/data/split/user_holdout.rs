//! The user-stratified holdout: a seeded random fraction of *each user's* ratings is the
//! test set, so every user is scored in proportion to how much they rated (a plain holdout
//! can leave a light user with no test rating or with all of them).

use std::collections::HashMap;

use super::{Split, fraction_of, permutation};

/// Each user's ratings (`users[i]` rated rating `i`) in the seeded permutation's order:
/// the first `round(count * test_fraction)` are the test set, the next
/// `round(rest * validation_fraction)` the validation set, the others training. Every user
/// keeps at least one training rating, so a user with `c` ratings gives at most `c - 1`
/// to test and validation together.
pub fn user_holdout(
    users: &[u32],
    test_fraction: f64,
    validation_fraction: f64,
    seed: u64,
) -> Split {
    let mut by_user: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in permutation(users.len(), seed) {
        by_user.entry(users[i]).or_default().push(i);
    }
    let mut split = Split {
        train: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
    };
    for ratings in by_user.values() {
        let count = ratings.len();
        let n_test = fraction_of(count, test_fraction).min(count - 1);
        let rest = count - n_test;
        let n_validation = fraction_of(rest, validation_fraction).min(rest - 1);
        split.test.extend_from_slice(&ratings[..n_test]);
        split
            .validation
            .extend_from_slice(&ratings[n_test..n_test + n_validation]);
        split
            .train
            .extend_from_slice(&ratings[n_test + n_validation..]);
    }
    split.sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gives_its_fraction_in_permutation_order() {
        // Ten ratings: user 0 rated 0..=5 (six), user 1 rated 6..=8 (three), user 2 rated 9.
        let users = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2];
        // The pinned permutation of 10 with seed 42 is [7, 1, 5, 4, 6, 9, 3, 8, 2, 0], so
        // user 0's order is 1, 5, 4, 3, 2, 0 and user 1's is 7, 6, 8.
        // test 0.5: user 0 round(3) = 3 → {1, 5, 4}; user 1 round(1.5) = 2 → {7, 6};
        // user 2 round(0.5) = 1, capped at 0. Validation 0.5 of the rest: user 0 rest 3 →
        // round(1.5) = 2 → {3, 2}; user 1 rest 1 → capped at 0.
        let s = user_holdout(&users, 0.5, 0.5, 42);
        assert_eq!(s.test, vec![1, 4, 5, 6, 7]);
        assert_eq!(s.validation, vec![2, 3]);
        assert_eq!(s.train, vec![0, 8, 9]);
    }

    #[test]
    fn every_user_keeps_a_training_rating_and_the_split_is_a_partition() {
        let users: Vec<u32> = (0..500).map(|i| (i * 7 % 13) as u32).collect();
        let s = user_holdout(&users, 0.9, 0.9, 3);
        let mut seen = vec![0; users.len()];
        for &i in s.train.iter().chain(&s.validation).chain(&s.test) {
            seen[i] += 1;
        }
        assert!(seen.iter().all(|&c| c == 1));
        for u in 0..13 {
            assert!(s.train.iter().any(|&i| users[i] == u), "user {u} trains");
        }
        assert_eq!(s, user_holdout(&users, 0.9, 0.9, 3));
        assert_ne!(s, user_holdout(&users, 0.9, 0.9, 4));
    }
}
