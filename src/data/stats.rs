//! Descriptive statistics of a loaded data set, for `exp data stats`: sizes, sparsity,
//! ratings-per-user and per-item quantiles, the rating distribution, the most active
//! users and items, and the long-tail (popularity concentration) curve.
//!
//! Pure functions over a [`Dataset`], unit-tested on hand-computed examples; the charts
//! drawn from them are in [`super::charts`].

use std::fmt::Write as _;

use super::dataset::Dataset;
use super::filter::counts;

/// Quantiles of a count distribution (ratings per user or per item).
///
/// Quantiles are nearest-rank: the q-quantile of n sorted counts is the value at
/// 1-based rank `ceil(q · n)` (rank 1 for q = 0), so every reported value occurs.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantiles {
    /// Smallest count.
    pub min: usize,
    /// 10th percentile.
    pub p10: usize,
    /// Lower quartile.
    pub p25: usize,
    /// Median.
    pub median: usize,
    /// Upper quartile.
    pub p75: usize,
    /// 90th percentile.
    pub p90: usize,
    /// Largest count.
    pub max: usize,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Quantiles {
    /// The quantiles of `counts` (any order); all zero when empty.
    pub fn of(counts: &[usize]) -> Self {
        let mut sorted = counts.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let at = |q: f64| -> usize {
            if n == 0 {
                return 0;
            }
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            sorted[rank - 1]
        };
        let mean = if n == 0 {
            0.0
        } else {
            sorted.iter().sum::<usize>() as f64 / n as f64
        };
        Quantiles {
            min: at(0.0),
            p10: at(0.10),
            p25: at(0.25),
            median: at(0.50),
            p75: at(0.75),
            p90: at(0.90),
            max: at(1.0),
            mean,
        }
    }
}

/// Everything `exp data stats` reports about one data set.
#[derive(Debug, Clone, PartialEq)]
pub struct DataStats {
    /// The data set's name.
    pub name: String,
    /// Distinct users.
    pub users: usize,
    /// Distinct items.
    pub items: usize,
    /// Ratings.
    pub ratings: usize,
    /// Share of the user × item matrix without a rating, in [0, 1].
    pub sparsity: f64,
    /// Ratings per user.
    pub per_user: Quantiles,
    /// Ratings per item.
    pub per_item: Quantiles,
    /// (rating value, count), by value.
    pub distribution: Vec<(f32, usize)>,
    /// Mean rating.
    pub mean_rating: f64,
    /// Earliest and latest timestamp (Unix seconds), when any is non-zero.
    pub time_range: Option<(i64, i64)>,
    /// The most rated items: (label, ratings), most first, ties by dense id.
    pub top_items: Vec<(String, usize)>,
    /// The most active users: (raw id, ratings), most first, ties by dense id.
    pub top_users: Vec<(String, usize)>,
    /// Long-tail curve: (share of items, share of ratings), items sorted by popularity,
    /// from (0, 0) to (1, 1), at most [`LONG_TAIL_POINTS`] + 1 points.
    pub long_tail: Vec<(f64, f64)>,
}

/// Points of the long-tail curve (it is sampled evenly over the items beyond this).
pub const LONG_TAIL_POINTS: usize = 500;

/// The statistics of `data`, with the `top` most active users and items.
pub fn compute(data: &Dataset, top: usize) -> DataStats {
    let r = &data.ratings;
    let (users, items, n) = (data.n_users(), data.n_items(), r.len());
    let per_user = counts(&r.users, users);
    let per_item = counts(&r.items, items);
    let cells = users as f64 * items as f64;
    let sparsity = if cells > 0.0 {
        1.0 - n as f64 / cells
    } else {
        0.0
    };

    let mut distribution: Vec<(f32, usize)> = Vec::new();
    let mut sorted_values = r.values.clone();
    sorted_values.sort_unstable_by(f32::total_cmp);
    for v in sorted_values {
        match distribution.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distribution.push((v, 1)),
        }
    }
    let mean_rating = if n == 0 {
        0.0
    } else {
        r.values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64
    };
    let time_range = r.timestamps.iter().filter(|&&t| t != 0).fold(
        None,
        |acc: Option<(i64, i64)>, &t| match acc {
            None => Some((t, t)),
            Some((lo, hi)) => Some((lo.min(t), hi.max(t))),
        },
    );

    let item_label = |i: usize| -> String {
        let raw = data.items.raw(i as u32);
        match data.item_info.get(i).map(|info| info.title.as_str()) {
            Some(title) if !title.is_empty() => title.to_owned(),
            _ => raw.to_owned(),
        }
    };
    let top_items = top_n(&per_item, top)
        .into_iter()
        .map(|(i, c)| (item_label(i), c))
        .collect();
    let top_users = top_n(&per_user, top)
        .into_iter()
        .map(|(u, c)| (data.users.raw(u as u32).to_owned(), c))
        .collect();

    DataStats {
        name: data.name.clone(),
        users,
        items,
        ratings: n,
        sparsity,
        per_user: Quantiles::of(&per_user),
        per_item: Quantiles::of(&per_item),
        distribution,
        mean_rating,
        time_range,
        top_items,
        top_users,
        long_tail: long_tail(&per_item),
    }
}

/// The `n` largest counts as (index, count), largest first, ties by index.
fn top_n(counts: &[usize], n: usize) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    order.truncate(n);
    order.into_iter().map(|i| (i, counts[i])).collect()
}

/// The long-tail curve of per-item counts: after the k most popular items (share k / n),
/// the share of all ratings they hold.
pub fn long_tail(per_item: &[usize]) -> Vec<(f64, f64)> {
    let mut sorted = per_item.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let n = sorted.len();
    let total: usize = sorted.iter().sum();
    if n == 0 || total == 0 {
        return vec![(0.0, 0.0), (1.0, 1.0)];
    }
    let step = n.div_ceil(LONG_TAIL_POINTS).max(1);
    let mut points = vec![(0.0, 0.0)];
    let mut cumulative = 0usize;
    for (k, c) in sorted.iter().enumerate() {
        cumulative += c;
        let taken = k + 1;
        if taken % step == 0 || taken == n {
            points.push((taken as f64 / n as f64, cumulative as f64 / total as f64));
        }
    }
    points
}

/// The share of ratings held by the most popular `share` of items (e.g. 0.2 → the
/// "top 20 % of items get X % of ratings" figure), read off the long-tail curve.
pub fn head_share(curve: &[(f64, f64)], share: f64) -> f64 {
    // Linear interpolation between the two points around `share`.
    let mut prev = (0.0, 0.0);
    for &(x, y) in curve {
        if x >= share {
            if x == prev.0 {
                return y;
            }
            return prev.1 + (y - prev.1) * (share - prev.0) / (x - prev.0);
        }
        prev = (x, y);
    }
    1.0
}

/// Formats a rating value without trailing zeros (`4`, `3.5`).
pub fn rating_label(v: f32) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// The statistics as an aligned plain-text table (the stdout of `exp data stats`).
pub fn render(stats: &DataStats) -> String {
    let mut out = String::new();
    let s = stats;
    // Writing to a String cannot fail.
    let _ = writeln!(out, "data set      {}", s.name);
    let _ = writeln!(out, "users         {}", s.users);
    let _ = writeln!(out, "items         {}", s.items);
    let _ = writeln!(out, "ratings       {}", s.ratings);
    let _ = writeln!(
        out,
        "sparsity      {:.4} % empty ({:.4} % of user × item pairs rated)",
        100.0 * s.sparsity,
        100.0 * (1.0 - s.sparsity)
    );
    let _ = writeln!(out, "mean rating   {:.4}", s.mean_rating);
    if let Some((lo, hi)) = s.time_range {
        let _ = writeln!(out, "dates         {} .. {}", iso_date(lo), iso_date(hi));
    }
    let _ = writeln!(
        out,
        "top 20% items {:.1} % of ratings",
        100.0 * head_share(&s.long_tail, 0.2)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "ratings per   {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9}",
        "min", "p10", "p25", "median", "p75", "p90", "max", "mean"
    );
    for (label, q) in [("user", &s.per_user), ("item", &s.per_item)] {
        let _ = writeln!(
            out,
            "{label:<13} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9.2}",
            q.min, q.p10, q.p25, q.median, q.p75, q.p90, q.max, q.mean
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "rating  {:>10}  {:>7}", "count", "share");
    for &(v, c) in &s.distribution {
        let share = if s.ratings > 0 {
            100.0 * c as f64 / s.ratings as f64
        } else {
            0.0
        };
        let _ = writeln!(out, "{:<6}  {c:>10}  {share:>6.2}%", rating_label(v));
    }
    out
}

/// `YYYY-MM-DD` (UTC) of Unix time `t`.
pub fn iso_date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{IdMap, ItemInfo, LoadReport, Ratings};

    /// 3 users, 3 items, 6 ratings: u1 rates a 5, b 4, c 3; u2 a 4, b 2; u3 a 5. Items a
    /// (titled `Alpha`) 3 ratings, b 2, c 1.
    fn small() -> Dataset {
        let mut users = IdMap::default();
        let mut items = IdMap::default();
        let mut ratings = Ratings::default();
        for (u, i, v, t) in [
            ("u1", "a", 5.0, 86_400),
            ("u1", "b", 4.0, 0),
            ("u1", "c", 3.0, 2 * 86_400),
            ("u2", "a", 4.0, 0),
            ("u2", "b", 2.0, 0),
            ("u3", "a", 5.0, 0),
        ] {
            ratings.push(users.intern(u), items.intern(i), v, t);
        }
        let item_info = vec![
            ItemInfo {
                title: "Alpha".into(),
                ..ItemInfo::default()
            },
            ItemInfo::default(),
            ItemInfo::default(),
        ];
        Dataset {
            name: "small".into(),
            ratings,
            users,
            items,
            item_info,
            user_info: Vec::new(),
            rating_range: (1.0, 5.0),
            report: LoadReport::default(),
        }
    }

    #[test]
    fn counts_sparsity_distribution_and_tops() {
        let s = compute(&small(), 2);
        assert_eq!((s.users, s.items, s.ratings), (3, 3, 6));
        // 6 of 9 cells rated.
        assert!((s.sparsity - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.distribution, [(2.0, 1), (3.0, 1), (4.0, 2), (5.0, 2)]);
        // (5 + 4 + 3 + 4 + 2 + 5) / 6 = 23 / 6.
        assert!((s.mean_rating - 23.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.top_items, [("Alpha".to_owned(), 3), ("b".to_owned(), 2)]);
        assert_eq!(s.top_users, [("u1".to_owned(), 3), ("u2".to_owned(), 2)]);
        assert_eq!(s.time_range, Some((86_400, 2 * 86_400)));
        // Users 3, 2, 1 ratings: nearest-rank median of [1, 2, 3] is 2, p25 rank
        // ceil(0.75) = 1 → 1, p75 rank ceil(2.25) = 3 → 3.
        assert_eq!(
            (
                s.per_user.min,
                s.per_user.p25,
                s.per_user.median,
                s.per_user.p75
            ),
            (1, 1, 2, 3)
        );
        assert!((s.per_user.mean - 2.0).abs() < 1e-12);
    }

    #[test]
    fn nearest_rank_quantiles() {
        // 1..=10: p10 rank 1 → 1, p25 rank 3 → 3, median rank 5 → 5, p90 rank 9 → 9.
        let q = Quantiles::of(&(1..=10).rev().collect::<Vec<_>>());
        assert_eq!(
            (q.min, q.p10, q.p25, q.median, q.p75, q.p90, q.max),
            (1, 1, 3, 5, 8, 9, 10)
        );
        assert_eq!(Quantiles::of(&[]).max, 0);
    }

    #[test]
    fn long_tail_runs_from_origin_to_one_and_is_concave() {
        // Items with 3, 2, 1 ratings: after 1 item 3/6, after 2 5/6, after 3 all.
        let curve = long_tail(&[1, 3, 2]);
        let expected = [
            (0.0, 0.0),
            (1.0 / 3.0, 0.5),
            (2.0 / 3.0, 5.0 / 6.0),
            (1.0, 1.0),
        ];
        assert_eq!(curve.len(), expected.len());
        for (got, want) in curve.iter().zip(expected) {
            assert!((got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12);
        }
        // Half-way between 1/3 and 2/3 of the items: half-way between 0.5 and 5/6.
        assert!((head_share(&curve, 0.5) - 2.0 / 3.0).abs() < 1e-12);
        // Many items are sampled down.
        let many: Vec<usize> = (0..10_000).map(|i| i % 7 + 1).collect();
        let curve = long_tail(&many);
        assert!(curve.len() <= LONG_TAIL_POINTS + 1);
        assert_eq!(curve.last(), Some(&(1.0, 1.0)));
        assert!(curve.windows(2).all(|w| w[1].1 >= w[0].1));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(1_352_419_200), "2012-11-09");
        assert_eq!(iso_date(951_782_400), "2000-02-29");
        assert_eq!(iso_date(-86_400), "1969-12-31");
    }

    #[test]
    fn table_lists_every_section() {
        let text = render(&compute(&small(), 20));
        for needle in [
            "users         3",
            "ratings       6",
            "33.3333 % empty",
            "dates         1970-01-02 .. 1970-01-03",
            "rating       count    share",
            "4                2   33.33%",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
    }
}
