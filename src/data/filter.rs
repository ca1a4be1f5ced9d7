//! The `[data]` filters: which ratings to keep after reading, for every data set.
//!
//! Applied in a fixed order, each on what the previous one kept:
//!
//! 1. year range (`min_year`, `max_year`, calendar year in UTC of the rating's timestamp);
//!    Amazon applies it, and `verified_only`, while streaming the file (`amazon.rs`);
//! 2. `min_user_ratings` and `min_item_ratings`, **one pass**: the counts are taken once,
//!    then every rating of a user or item below its minimum is dropped (as the notebook
//!    that drops users and items with a single rating does); an item can fall below its
//!    minimum afterwards;
//! 3. `k_core`: repeat "drop users and items with fewer than k ratings" until none is left,
//!    so every remaining user and item has at least k.
//!
//! Then users and items are re-indexed densely in first-seen order of the kept ratings,
//! and their side information follows them.

use super::dataset::{Dataset, FilterReport, IdMap, Ratings};
use crate::config::spec::FilterSpec;

/// The calendar year (UTC) of Unix time `timestamp` in seconds.
pub fn year_of(timestamp: i64) -> i32 {
    let days = timestamp.div_euclid(86_400);
    // H. Hinnant's civil_from_days, the year only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month_is_jan_or_feb = mp >= 10;
    let year = yoe + era * 400 + i64::from(month_is_jan_or_feb);
    i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX })
}

/// Applies `filters` to `data` in place and returns what each step removed; `by_year`
/// and `unverified` of Amazon's in-stream filtering are passed in to be reported.
pub(crate) fn apply(
    data: &mut Dataset,
    filters: &FilterSpec,
    streamed_by_year: usize,
    streamed_unverified: usize,
) -> FilterReport {
    let mut report = FilterReport {
        before: sizes(data),
        by_year: streamed_by_year,
        unverified: streamed_unverified,
        ..FilterReport::default()
    };
    if filters.min_year.is_some() || filters.max_year.is_some() {
        let (lo, hi) = (
            filters.min_year.unwrap_or(i32::MIN),
            filters.max_year.unwrap_or(i32::MAX),
        );
        let keep: Vec<bool> = data
            .ratings
            .timestamps
            .iter()
            .map(|&t| (lo..=hi).contains(&year_of(t)))
            .collect();
        report.by_year += compact(data, &keep);
    }
    if filters.min_user_ratings > 1 || filters.min_item_ratings > 1 {
        let keep = above_minimums(data, filters.min_user_ratings, filters.min_item_ratings);
        report.by_min_ratings = compact(data, &keep);
    }
    if let Some(k) = filters.k_core.filter(|&k| k > 1) {
        loop {
            let keep = above_minimums(data, k, k);
            let removed = compact(data, &keep);
            if removed == 0 {
                break;
            }
            report.by_k_core += removed;
            report.k_core_rounds += 1;
        }
    }
    report.after = sizes(data);
    report
}

/// (users, items, ratings) of `data`.
fn sizes(data: &Dataset) -> (usize, usize, usize) {
    (data.n_users(), data.n_items(), data.ratings.len())
}

/// Which ratings belong to a user with at least `min_user` and an item with at least
/// `min_item` ratings.
fn above_minimums(data: &Dataset, min_user: usize, min_item: usize) -> Vec<bool> {
    let r = &data.ratings;
    let users = counts(&r.users, data.n_users());
    let items = counts(&r.items, data.n_items());
    r.users
        .iter()
        .zip(&r.items)
        .map(|(&u, &i)| users[u as usize] >= min_user && items[i as usize] >= min_item)
        .collect()
}

/// How often each id in `0..n` occurs in `ids`.
pub(crate) fn counts(ids: &[u32], n: usize) -> Vec<usize> {
    let mut out = vec![0usize; n];
    for &id in ids {
        out[id as usize] += 1;
    }
    out
}

/// Keeps the ratings where `keep` is true, re-indexes users and items densely in
/// first-seen order of what is kept (their info follows), and returns how many ratings
/// were removed.
fn compact(data: &mut Dataset, keep: &[bool]) -> usize {
    let removed = keep.iter().filter(|&&k| !k).count();
    if removed == 0 {
        return 0;
    }
    let old = std::mem::take(&mut data.ratings);
    let mut ratings = Ratings::default();
    let n = old.len() - removed;
    ratings.users.reserve_exact(n);
    ratings.items.reserve_exact(n);
    ratings.values.reserve_exact(n);
    ratings.timestamps.reserve_exact(n);
    let mut users = Remap::new(data.n_users());
    let mut items = Remap::new(data.n_items());
    for (idx, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        let user = users.map(old.users[idx], &data.users);
        let item = items.map(old.items[idx], &data.items);
        ratings.push(user, item, old.values[idx], old.timestamps[idx]);
    }
    data.ratings = ratings;
    data.users = users.ids;
    data.items = items.ids;
    if !data.item_info.is_empty() {
        data.item_info = items
            .order
            .iter()
            .map(|&old| std::mem::take(&mut data.item_info[old as usize]))
            .collect();
    }
    if !data.user_info.is_empty() {
        data.user_info = users
            .order
            .iter()
            .map(|&old| std::mem::take(&mut data.user_info[old as usize]))
            .collect();
    }
    removed
}

/// Old dense ids → new dense ids, assigned in first-seen order.
struct Remap {
    /// `new[old]`: the new id + 1, or 0 while unseen.
    new: Vec<u32>,
    /// `order[new]`: the old id.
    order: Vec<u32>,
    ids: IdMap,
}

impl Remap {
    fn new(n: usize) -> Self {
        Remap {
            new: vec![0; n],
            order: Vec::new(),
            ids: IdMap::default(),
        }
    }

    fn map(&mut self, old: u32, raw: &IdMap) -> u32 {
        let slot = &mut self.new[old as usize];
        if *slot == 0 {
            let id = self.ids.intern(raw.raw(old));
            self.order.push(old);
            *slot = id + 1;
        }
        *slot - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{ItemInfo, LoadReport, UserInfo};

    /// A data set from (user, item) pairs, rating 3, timestamps 0, 1, 2, …; item `i` is
    /// titled `t<i>` and user `u` is `u<u>` aged `u`.
    fn data(pairs: &[(&str, &str)]) -> Dataset {
        let mut users = IdMap::default();
        let mut items = IdMap::default();
        let mut ratings = Ratings::default();
        for (t, (u, i)) in pairs.iter().enumerate() {
            ratings.push(users.intern(u), items.intern(i), 3.0, t as i64);
        }
        let item_info = (0..items.len())
            .map(|i| ItemInfo {
                title: format!("t{}", items.raw(i as u32)),
                ..ItemInfo::default()
            })
            .collect();
        let user_info = (0..users.len())
            .map(|u| UserInfo {
                zip: Some(users.raw(u as u32).to_owned()),
                ..UserInfo::default()
            })
            .collect();
        Dataset {
            name: "t".into(),
            ratings,
            users,
            items,
            item_info,
            user_info,
            rating_range: (1.0, 5.0),
            report: LoadReport::default(),
        }
    }

    fn pairs(d: &Dataset) -> Vec<(String, String)> {
        let r = &d.ratings;
        r.users
            .iter()
            .zip(&r.items)
            .map(|(&u, &i)| (d.users.raw(u).to_owned(), d.items.raw(i).to_owned()))
            .collect()
    }

    #[test]
    fn year_of_matches_the_calendar() {
        // date -u -d @… +%Y
        for (t, y) in [
            (0, 1970),
            (-1, 1969),
            (951_782_399, 2000),    // 2000-02-28 23:59:59
            (1_514_764_799, 2017),  // 2017-12-31 23:59:59
            (1_514_764_800, 2018),  // 2018-01-01 00:00:00
            (4_102_444_800, 2100),  // 2100-01-01
            (-2_208_988_800, 1900), // 1900-01-01
        ] {
            assert_eq!(year_of(t), y, "{t}");
        }
    }

    #[test]
    fn minimums_are_one_pass_and_info_follows_the_ids() {
        // Counts: users a 3, b 1, c 2; items x 3, y 2, z 1.
        let mut d = data(&[
            ("a", "x"),
            ("b", "x"),
            ("a", "y"),
            ("c", "y"),
            ("c", "x"),
            ("a", "z"),
        ]);
        let filters = FilterSpec {
            min_user_ratings: 2,
            min_item_ratings: 2,
            ..FilterSpec::default()
        };
        let report = apply(&mut d, &filters, 0, 0);
        // b (1 rating) and z (1 rating) go; after that y still has 2 and x 2.
        let kept: Vec<(String, String)> = [("a", "x"), ("a", "y"), ("c", "y"), ("c", "x")]
            .map(|(u, i)| (u.to_owned(), i.to_owned()))
            .to_vec();
        assert_eq!(pairs(&d), kept);
        assert_eq!(report.before, (3, 3, 6));
        assert_eq!(report.after, (2, 2, 4));
        assert_eq!(report.by_min_ratings, 2);
        assert_eq!(d.item_info[1].title, "ty");
        assert_eq!(d.user_info[1].zip.as_deref(), Some("c"));
        assert_eq!(d.ratings.timestamps, [0, 2, 3, 4]);
    }

    #[test]
    fn one_pass_can_leave_items_below_the_minimum_and_k_core_cannot() {
        // u1 rates i1,i2; u2 rates i1 only; u3 rates i2,i3; u4 rates i3.
        let p = [
            ("u1", "i1"),
            ("u1", "i2"),
            ("u2", "i1"),
            ("u3", "i2"),
            ("u3", "i3"),
            ("u4", "i3"),
        ];
        let mut one_pass = data(&p);
        let min = FilterSpec {
            min_user_ratings: 2,
            min_item_ratings: 2,
            ..FilterSpec::default()
        };
        apply(&mut one_pass, &min, 0, 0);
        // u2 and u4 go; i1 and i3 are left with one rating each.
        assert_eq!(one_pass.ratings.len(), 4);

        let mut core = data(&p);
        let k2 = FilterSpec {
            k_core: Some(2),
            ..FilterSpec::default()
        };
        let report = apply(&mut core, &k2, 0, 0);
        // Round 1 leaves u1-i1, u1-i2, u3-i2, u3-i3; round 2 drops i1 and i3 (one each),
        // round 3 then drops u1 and u3 (one each): nothing is left.
        assert_eq!(core.ratings.len(), 0);
        assert_eq!(report.k_core_rounds, 3);
        assert_eq!(report.by_k_core, 6);
    }

    #[test]
    fn k_core_leaves_every_user_and_item_with_k() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let names: Vec<(String, String)> = (0..2000)
            .map(|_| {
                (
                    format!("u{}", rng.random_range(0..200)),
                    format!("i{}", rng.random_range(0..100)),
                )
            })
            .collect();
        let p: Vec<(&str, &str)> = names
            .iter()
            .map(|(u, i)| (u.as_str(), i.as_str()))
            .collect();
        let mut d = data(&p);
        let filters = FilterSpec {
            k_core: Some(8),
            ..FilterSpec::default()
        };
        apply(&mut d, &filters, 0, 0);
        assert!(!d.ratings.is_empty());
        let users = counts(&d.ratings.users, d.n_users());
        let items = counts(&d.ratings.items, d.n_items());
        assert!(users.iter().chain(&items).all(|&c| c >= 8));
        assert_eq!(d.item_info.len(), d.n_items());
        for (i, info) in d.item_info.iter().enumerate() {
            assert_eq!(info.title, format!("t{}", d.items.raw(i as u32)));
        }
    }

    #[test]
    fn years_filter_on_timestamps() {
        let mut d = data(&[("a", "x"), ("b", "y")]);
        d.ratings.timestamps = vec![1_514_764_799, 1_514_764_800];
        let filters = FilterSpec {
            min_year: Some(2018),
            max_year: Some(2018),
            ..FilterSpec::default()
        };
        let report = apply(&mut d, &filters, 0, 0);
        assert_eq!(pairs(&d), [("b".to_owned(), "y".to_owned())]);
        assert_eq!(report.by_year, 1);
        assert_eq!(d.item_info[0].title, "ty");
    }
}
