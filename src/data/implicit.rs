//! Implicit feedback: which items each user rated in the training split, whatever the
//! ratings were. SVD++ reads it to describe a user by the items they chose to rate.
//!
//! Only training ratings count. Koren's SVD++ on the Netflix Prize also used the items of
//! the qualifying set (rated, ratings hidden); on a random split that would tell the model
//! which items each user's test ratings are about, so exp leaves them out.

use super::dataset::Ratings;

/// The items each user rated in the training split, as one compressed row per user.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedItems {
    /// `offsets[u]..offsets[u + 1]` indexes user u's items; `n_users + 1` entries.
    offsets: Vec<usize>,
    /// The items, grouped by user, in training order within a user.
    items: Vec<u32>,
}

impl RatedItems {
    /// The items of the ratings at `train`, grouped by user (`n_users` users).
    pub fn from_training(ratings: &Ratings, train: &[usize], n_users: usize) -> Self {
        let mut offsets = vec![0usize; n_users + 1];
        for &i in train {
            offsets[ratings.users[i] as usize + 1] += 1;
        }
        for u in 0..n_users {
            offsets[u + 1] += offsets[u];
        }
        let mut next = offsets.clone();
        let mut items = vec![0u32; train.len()];
        for &i in train {
            let slot = &mut next[ratings.users[i] as usize];
            items[*slot] = ratings.items[i];
            *slot += 1;
        }
        RatedItems { offsets, items }
    }

    /// The items user `user` rated in training (empty for an unknown or cold user).
    pub fn of(&self, user: usize) -> &[u32] {
        match (self.offsets.get(user), self.offsets.get(user + 1)) {
            (Some(&a), Some(&b)) => &self.items[a..b],
            _ => &[],
        }
    }

    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.offsets.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_the_training_items_by_user_and_ignores_other_ratings() {
        let ratings = Ratings {
            users: vec![1, 0, 1, 2, 1],
            items: vec![5, 6, 7, 8, 9],
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0],
            timestamps: vec![0; 5],
        };
        // Rating 3 (user 2) is not in training: user 2 has no items; user 3 never rated.
        let rated = RatedItems::from_training(&ratings, &[0, 1, 2, 4], 4);
        assert_eq!(rated.n_users(), 4);
        assert_eq!(rated.of(0), &[6]);
        assert_eq!(rated.of(1), &[5, 7, 9]);
        assert_eq!(rated.of(2), &[] as &[u32]);
        assert_eq!(rated.of(3), &[] as &[u32]);
        assert_eq!(rated.of(10), &[] as &[u32]);
    }
}
