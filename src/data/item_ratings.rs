//! Each item's training ratings as a sparse vector over users: the input of the item-based
//! autoencoder (I-AutoRec), which describes an item by who rated it and how.
//!
//! Only training ratings count, so a test rating never reaches the model's input.

use super::dataset::Ratings;

/// The users who rated each item in the training split and their ratings, one compressed
/// row per item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRatings {
    /// `offsets[i]..offsets[i + 1]` indexes item i's raters; `n_items + 1` entries.
    offsets: Vec<usize>,
    /// The raters, grouped by item, in training order within an item.
    users: Vec<u32>,
    /// Their ratings, parallel to `users`.
    values: Vec<f32>,
}

impl ItemRatings {
    /// The ratings at `train`, grouped by item (`n_items` items).
    pub fn from_training(ratings: &Ratings, train: &[usize], n_items: usize) -> Self {
        let mut offsets = vec![0usize; n_items + 1];
        for &r in train {
            offsets[ratings.items[r] as usize + 1] += 1;
        }
        for i in 0..n_items {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut users = vec![0u32; train.len()];
        let mut values = vec![0f32; train.len()];
        for &r in train {
            let slot = &mut next[ratings.items[r] as usize];
            users[*slot] = ratings.users[r];
            values[*slot] = ratings.values[r];
            *slot += 1;
        }
        ItemRatings {
            offsets,
            users,
            values,
        }
    }

    /// Item `item`'s raters and their ratings (both empty for an item without training
    /// ratings or out of range).
    pub fn of(&self, item: usize) -> (&[u32], &[f32]) {
        match (self.offsets.get(item), self.offsets.get(item + 1)) {
            (Some(&a), Some(&b)) => (&self.users[a..b], &self.values[a..b]),
            _ => (&[], &[]),
        }
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.offsets.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_the_training_ratings_by_item_and_ignores_other_ratings() {
        let ratings = Ratings {
            users: vec![1, 0, 1, 2, 3],
            items: vec![2, 0, 0, 1, 2],
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0],
            timestamps: vec![0; 5],
        };
        // Rating 3 (item 1) is not in training: item 1 has no raters; item 3 was never rated.
        let by_item = ItemRatings::from_training(&ratings, &[0, 1, 2, 4], 4);
        assert_eq!(by_item.n_items(), 4);
        assert_eq!(by_item.of(0), (&[0, 1][..], &[2.0, 3.0][..]));
        assert_eq!(by_item.of(1), (&[][..], &[][..]));
        assert_eq!(by_item.of(2), (&[1, 3][..], &[1.0, 5.0][..]));
        assert_eq!(by_item.of(3), (&[][..], &[][..]));
        assert_eq!(by_item.of(9), (&[][..], &[][..]));
    }
}
