//! Content features for the two-tower model, computed from the training ratings only.
//!
//! The data stage's last step for content models: a [`Dataset`] and a split's training
//! indices in, one feature row per item and per user out (plain `Vec<f32>` matrices, so the
//! data stage stays free of tensors; the model copies them to its device once).
//!
//! The notebook this model comes from computed the per-item and per-user average ratings
//! over *all* ratings, test set included, so the test ratings leaked into the inputs of
//! the model scored on them. Here every rating-derived value reads the training indices
//! only; a test pins that changing a test rating changes no feature.
//!
//! # Item features (`d_item = n_genres + 2` columns)
//!
//! 1. one-hot genres over the data set's genre vocabulary (sorted by name), 0 or 1;
//! 2. the release year from the title's trailing `(YYYY)`, standardised as
//!    `(year − mean) / std` over all items (population std; 0 where the std is 0). Titles
//!    without a year get the median year of the items that have one and a training rating
//!    (of all items with a year when no rated item has one; 0 when no title has a year).
//!    Years are metadata, not labels, so standardising over every item leaks nothing;
//! 3. the item's average training rating, mapped from the rating range to [−1, 1] by
//!    `2 (r − min) / (max − min) − 1`; items without training ratings get the global
//!    training mean.
//!
//! # User features (`d_user = n_genres` columns)
//!
//! The user's average training rating over the items of each genre, mapped to [−1, 1]
//! like the item average. A genre the user has not rated in training takes the user's
//! overall training mean; a user without training ratings takes the global training mean
//! in every column (so a cold user is the "average user", not an extreme one).

use std::collections::BTreeSet;

use super::dataset::Dataset;
use crate::report::stats::median;

/// Per-item and per-user feature matrices for content models (row-major, one row per
/// dense id), with the statistics that produced them.
#[derive(Clone, PartialEq)]
pub struct ContentFeatures {
    /// `n_items × d_item` item features, row-major (see the module documentation).
    pub item: Vec<f32>,
    /// Columns per item row: `genres.len() + 2`.
    pub d_item: usize,
    /// `n_users × d_user` user features, row-major.
    pub user: Vec<f32>,
    /// Columns per user row: `genres.len()`.
    pub d_user: usize,
    /// The genre vocabulary, sorted: the meaning of the one-hot item columns and of the
    /// user columns.
    pub genres: Vec<String>,
    /// Number of item rows.
    pub n_items: usize,
    /// Number of user rows.
    pub n_users: usize,
    /// The year given to titles without one (see the module documentation).
    pub year_median: f32,
    /// Mean release year over all items (after imputation).
    pub year_mean: f32,
    /// Population standard deviation of the release years (after imputation).
    pub year_std: f32,
    /// Mean training rating.
    pub global_mean: f32,
}

impl std::fmt::Debug for ContentFeatures {
    // A summary: the matrices can hold hundreds of thousands of values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentFeatures")
            .field("n_items", &self.n_items)
            .field("d_item", &self.d_item)
            .field("n_users", &self.n_users)
            .field("d_user", &self.d_user)
            .field("genres", &self.genres)
            .field("year_median", &self.year_median)
            .field("year_mean", &self.year_mean)
            .field("year_std", &self.year_std)
            .field("global_mean", &self.global_mean)
            .finish_non_exhaustive()
    }
}

impl ContentFeatures {
    /// The feature row of dense item `item`.
    pub fn item_row(&self, item: usize) -> &[f32] {
        &self.item[item * self.d_item..(item + 1) * self.d_item]
    }

    /// The feature row of dense user `user`.
    pub fn user_row(&self, user: usize) -> &[f32] {
        &self.user[user * self.d_user..(user + 1) * self.d_user]
    }
}

/// The release year at the end of `title`, e.g. 1995 for `Toy Story (1995)`; `None` when
/// the title does not end in `(YYYY)` (trailing whitespace allowed).
pub fn title_year(title: &str) -> Option<u16> {
    let inner = title.trim_end().strip_suffix(')')?;
    let (_, year) = inner.rsplit_once('(')?;
    if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) {
        year.parse().ok()
    } else {
        None
    }
}

/// Content features of `data` computed from the ratings at indices `train` only (see the
/// module documentation for each column).
///
/// # Panics
///
/// If an index in `train` is out of range of `data.ratings`, or a rating names a user or
/// item beyond `data.n_users()` / `data.n_items()` (both bugs in the caller).
pub fn content_features(data: &Dataset, train: &[usize]) -> ContentFeatures {
    let (n_users, n_items) = (data.n_users(), data.n_items());
    let ratings = &data.ratings;
    let (lo, hi) = data.rating_range;
    let scale = |r: f64| -> f32 {
        let width = (hi - lo) as f64;
        if width > 0.0 {
            (2.0 * (r - lo as f64) / width - 1.0) as f32
        } else {
            0.0
        }
    };

    let genres: Vec<String> = data
        .item_info
        .iter()
        .flat_map(|info| info.genres.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let n_genres = genres.len();
    // Genre column indices of each item.
    let item_genres: Vec<Vec<usize>> = (0..n_items)
        .map(|i| {
            data.item_info.get(i).map_or_else(Vec::new, |info| {
                info.genres
                    .iter()
                    .filter_map(|g| genres.binary_search(g).ok())
                    .collect()
            })
        })
        .collect();

    // Training sums, in f64 so the order of summation does not matter at f32 precision.
    let mut item_sum = vec![0.0f64; n_items];
    let mut item_count = vec![0u32; n_items];
    let mut user_sum = vec![0.0f64; n_users];
    let mut user_count = vec![0u32; n_users];
    let mut user_genre_sum = vec![0.0f64; n_users * n_genres];
    let mut user_genre_count = vec![0u32; n_users * n_genres];
    let mut total = 0.0f64;
    for &k in train {
        let (u, i, r) = (
            ratings.users[k] as usize,
            ratings.items[k] as usize,
            ratings.values[k] as f64,
        );
        total += r;
        item_sum[i] += r;
        item_count[i] += 1;
        user_sum[u] += r;
        user_count[u] += 1;
        for &g in &item_genres[i] {
            user_genre_sum[u * n_genres + g] += r;
            user_genre_count[u * n_genres + g] += 1;
        }
    }
    let global_mean = if train.is_empty() {
        (lo as f64 + hi as f64) / 2.0
    } else {
        total / train.len() as f64
    };

    // Release years, missing ones imputed with the median over rated items.
    let years: Vec<Option<f64>> = (0..n_items)
        .map(|i| {
            data.item_info
                .get(i)
                .and_then(|info| title_year(&info.title))
                .map(f64::from)
        })
        .collect();
    let rated_years: Vec<f64> = (0..n_items)
        .filter(|&i| item_count[i] > 0)
        .filter_map(|i| years[i])
        .collect();
    let year_median = if rated_years.is_empty() {
        median(&years.iter().flatten().copied().collect::<Vec<_>>()).unwrap_or(0.0)
    } else {
        median(&rated_years).unwrap_or(0.0)
    };
    let years: Vec<f64> = years.iter().map(|y| y.unwrap_or(year_median)).collect();
    let year_mean = years.iter().sum::<f64>() / years.len().max(1) as f64;
    let year_std = (years.iter().map(|y| (y - year_mean).powi(2)).sum::<f64>()
        / years.len().max(1) as f64)
        .sqrt();

    let d_item = n_genres + 2;
    let mut item = vec![0.0f32; n_items * d_item];
    for (i, row) in item.chunks_exact_mut(d_item).enumerate() {
        for &g in &item_genres[i] {
            row[g] = 1.0;
        }
        row[n_genres] = if year_std > 0.0 {
            ((years[i] - year_mean) / year_std) as f32
        } else {
            0.0
        };
        row[n_genres + 1] = scale(if item_count[i] > 0 {
            item_sum[i] / item_count[i] as f64
        } else {
            global_mean
        });
    }

    let d_user = n_genres;
    let mut user = vec![0.0f32; n_users * d_user];
    if d_user > 0 {
        for (u, row) in user.chunks_exact_mut(d_user).enumerate() {
            let overall = if user_count[u] > 0 {
                user_sum[u] / user_count[u] as f64
            } else {
                global_mean
            };
            for (g, value) in row.iter_mut().enumerate() {
                let k = u * n_genres + g;
                *value = scale(if user_genre_count[k] > 0 {
                    user_genre_sum[k] / user_genre_count[k] as f64
                } else {
                    overall
                });
            }
        }
    }

    ContentFeatures {
        item,
        d_item,
        user,
        d_user,
        genres,
        n_items,
        n_users,
        year_median: year_median as f32,
        year_mean: year_mean as f32,
        year_std: year_std as f32,
        global_mean: global_mean as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{IdMap, ItemInfo, Ratings};

    /// Three items, four users, rating range 1..5:
    ///
    /// | item | title      | genres          |
    /// |------|------------|-----------------|
    /// | 0    | `A (1990)` | Comedy          |
    /// | 1    | `B (2000)` | Drama, Comedy   |
    /// | 2    | `C`        | Drama           |
    ///
    /// Ratings (index: user, item, value): 0: (0,0,5), 1: (0,1,3), 2: (1,1,1),
    /// 3: (1,2,4) test, 4: (2,0,2) test, 5: (3,0,4). Training = 0, 1, 2, 5.
    fn tiny() -> (Dataset, Vec<usize>) {
        let mut users = IdMap::default();
        let mut items = IdMap::default();
        for u in ["u0", "u1", "u2", "u3"] {
            users.intern(u);
        }
        for i in ["i0", "i1", "i2"] {
            items.intern(i);
        }
        let info = |title: &str, genres: &[&str]| ItemInfo {
            title: title.to_owned(),
            genres: genres.iter().map(|g| g.to_string()).collect(),
            ..ItemInfo::default()
        };
        let mut ratings = Ratings::default();
        for (u, i, r) in [
            (0, 0, 5.0),
            (0, 1, 3.0),
            (1, 1, 1.0),
            (1, 2, 4.0),
            (2, 0, 2.0),
        ] {
            ratings.push(u, i, r, 0);
        }
        ratings.push(3, 0, 4.0, 0);
        let data = Dataset {
            name: "tiny".into(),
            ratings,
            users,
            items,
            item_info: vec![
                info("A (1990)", &["Comedy"]),
                info("B (2000)", &["Drama", "Comedy"]),
                info("C", &["Drama"]),
            ],
            user_info: Vec::new(),
            rating_range: (1.0, 5.0),
            report: Default::default(),
        };
        (data, vec![0, 1, 2, 5])
    }

    fn assert_close(actual: &[f32], expected: &[f32]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-5, "{actual:?} vs {expected:?}");
        }
    }

    #[test]
    fn years_come_from_a_trailing_parenthesised_number() {
        assert_eq!(title_year("Toy Story (1995)"), Some(1995));
        assert_eq!(title_year("Mis\u{e9}rables, Les (1995) "), Some(1995));
        assert_eq!(
            title_year("City of Lost Children (Cit\u{e9}) (1995)"),
            Some(1995)
        );
        assert_eq!(title_year("Babylon 5"), None);
        assert_eq!(title_year("Cosmos (1980\u{2013}1981)"), None);
        assert_eq!(title_year("(500) Days of Summer"), None);
        assert_eq!(title_year(""), None);
    }

    #[test]
    fn features_match_hand_computed_values() {
        let (data, train) = tiny();
        let f = content_features(&data, &train);
        assert_eq!(f.genres, ["Comedy", "Drama"]);
        assert_eq!((f.n_items, f.d_item, f.n_users, f.d_user), (3, 4, 4, 2));
        // Global training mean (5 + 3 + 1 + 4) / 4 = 3.25 → 2·2.25/4 − 1 = 0.125.
        assert_eq!(f.global_mean, 3.25);
        // Years 1990, 2000 and the median of the rated items' years, 1995, for "C":
        // mean 1995, population std √(50/3) = 4.082483, so z = ∓1.224745 and 0.
        assert_eq!((f.year_median, f.year_mean), (1995.0, 1995.0));
        assert!((f.year_std - 4.082_483).abs() < 1e-5);
        // Item averages: item 0 (5 + 4)/2 = 4.5 → 0.75; item 1 (3 + 1)/2 = 2 → −0.5;
        // item 2 only in the test set → global mean → 0.125.
        assert_close(f.item_row(0), &[1.0, 0.0, -1.224_745, 0.75]);
        assert_close(f.item_row(1), &[1.0, 1.0, 1.224_745, -0.5]);
        assert_close(f.item_row(2), &[0.0, 1.0, 0.0, 0.125]);
        // User 0: Comedy (5 + 3)/2 = 4 → 0.5, Drama 3 → 0.
        assert_close(f.user_row(0), &[0.5, 0.0]);
        // User 1: item 1 (both genres) at 1 → −1; item 2 is a test rating.
        assert_close(f.user_row(1), &[-1.0, -1.0]);
        // User 2: no training rating → the global mean in every column.
        assert_close(f.user_row(2), &[0.125, 0.125]);
        // User 3: Comedy 4 → 0.5; no Drama → the user's own mean 4 → 0.5.
        assert_close(f.user_row(3), &[0.5, 0.5]);
    }

    #[test]
    fn test_ratings_do_not_change_any_feature() {
        let (data, train) = tiny();
        let before = content_features(&data, &train);
        let mut changed = data.clone();
        changed.ratings.values[3] = 1.0;
        changed.ratings.values[4] = 5.0;
        let after = content_features(&changed, &train);
        assert_eq!(before.item, after.item);
        assert_eq!(before.user, after.user);
        assert_eq!(before, after);
        // The check has teeth: features over every rating (the notebook's leak) do move.
        let all: Vec<usize> = (0..data.ratings.len()).collect();
        assert_ne!(
            content_features(&data, &all).user,
            content_features(&changed, &all).user
        );
    }

    #[test]
    fn no_training_ratings_and_no_genres_still_give_finite_features() {
        let (mut data, _) = tiny();
        for info in &mut data.item_info {
            info.genres.clear();
            info.title = "untitled".into();
        }
        let f = content_features(&data, &[]);
        assert_eq!((f.d_item, f.d_user), (2, 0));
        assert!(f.user.is_empty());
        // Mid-range global mean, no years: everything 0.
        assert!(f.item.iter().all(|&x| x == 0.0), "{:?}", f.item);
    }
}
