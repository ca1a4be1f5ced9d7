//! Seeded synthetic rating data with the shape of real data sets, for benchmarks.
//!
//! Real rating data have two properties that matter for speed and for learning:
//!
//! - **popularity skew**: a few users rate a lot and a few items get most ratings, so a
//!   batch reads the same hot rows again and again while the long tail stays cold;
//! - **low-rank structure**: ratings are explained by biases plus a few latent factors, so
//!   a model that learns beats the global mean by a measurable margin.
//!
//! [`generate`] draws users and items from Zipf-like popularity laws, gives every user and
//! item a bias and a `rank`-dimensional factor vector, and rates
//! `round(μ + b_u + b_i + u·v + ε)` clamped to 1..5 (whole stars, like ML-1M). Each
//! (user, item) pair is rated at most once. The same spec and seed always give the same
//! data set.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::{Dataset, IdMap, ItemInfo, Ratings};

/// The shape of a synthetic data set and the seed that fixes its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Number of users (every one is drawn at least once only if ratings allow it).
    pub users: usize,
    /// Number of items.
    pub items: usize,
    /// Number of distinct (user, item) ratings.
    pub ratings: usize,
    /// Number of latent factors behind the ratings.
    pub rank: usize,
    /// Seed of every random draw.
    pub seed: u64,
}

impl SyntheticSpec {
    /// MovieLens 1M's shape: 6,040 users, 3,706 items, 1,000,209 ratings.
    pub const ML_1M_SHAPE: SyntheticSpec = SyntheticSpec {
        users: 6_040,
        items: 3_706,
        ratings: 1_000_209,
        rank: 10,
        seed: 42,
    };

    /// A large catalogue: 1M users, 200K items, 10M ratings (tables far beyond the CPU
    /// caches, the case where per-step cost must not grow with the table).
    pub const LARGE_CATALOGUE: SyntheticSpec = SyntheticSpec {
        users: 1_000_000,
        items: 200_000,
        ratings: 10_000_000,
        rank: 10,
        seed: 42,
    };
}

/// Why a synthetic data set cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntheticError {
    /// More ratings than (user, item) pairs, or an empty dimension.
    #[error(
        "cannot draw {ratings} distinct ratings from {users} users × {items} items \
         (need users ≥ 1, items ≥ 1, rank ≥ 1 and ratings ≤ users × items / 2)"
    )]
    Shape {
        /// Requested users.
        users: usize,
        /// Requested items.
        items: usize,
        /// Requested ratings.
        ratings: usize,
    },
}

/// Popularity exponents: item popularity falls off faster than user activity, as in
/// MovieLens (a blockbuster has thousands of ratings, the most active user a few thousand).
const ITEM_SKEW: f64 = 1.0;
const USER_SKEW: f64 = 0.6;
/// Zipf offset: keeps the head from being a single overwhelming item or user.
const ZIPF_OFFSET: f64 = 10.0;

/// Generates the data set `spec` describes. Users and items are named `u<n>` / `i<n>`
/// (n = popularity rank) and get dense ids in first-rated order, as the file loaders do.
pub fn generate(spec: &SyntheticSpec) -> Result<Dataset, SyntheticError> {
    let SyntheticSpec {
        users,
        items,
        ratings,
        rank,
        seed,
    } = *spec;
    let cells = users.saturating_mul(items);
    if users == 0 || items == 0 || rank == 0 || ratings > cells / 2 {
        return Err(SyntheticError::Shape {
            users,
            items,
            ratings,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let user_law = Popularity::zipf(users, USER_SKEW);
    let item_law = Popularity::zipf(items, ITEM_SKEW);

    // Factors with standard deviation s give u·v a variance of rank · s⁴: 0.8 stars of
    // standard deviation whatever the rank.
    let factor = normal((0.64 / rank as f64).powf(0.25));
    let user_factors: Vec<f32> = (0..users * rank).map(|_| factor(&mut rng)).collect();
    let item_factors: Vec<f32> = (0..items * rank).map(|_| factor(&mut rng)).collect();
    let user_bias: Vec<f32> = (0..users).map(|_| normal(0.35)(&mut rng)).collect();
    let item_bias: Vec<f32> = (0..items).map(|_| normal(0.45)(&mut rng)).collect();
    let noise = normal(0.6);

    let mut seen: HashSet<u64> = HashSet::with_capacity(ratings);
    let mut table = Ratings {
        users: Vec::with_capacity(ratings),
        items: Vec::with_capacity(ratings),
        values: Vec::with_capacity(ratings),
        timestamps: Vec::with_capacity(ratings),
    };
    // Dense ids in first-rated order, kept as plain arrays while drawing (interning a name
    // per rating dominated generation); the IdMaps are built once at the end.
    let (mut user_dense, mut item_dense) = (FirstSeen::new(users), FirstSeen::new(items));
    while table.len() < ratings {
        let (u, i) = (user_law.draw(&mut rng), item_law.draw(&mut rng));
        if !seen.insert((u as u64) << 32 | i as u64) {
            continue;
        }
        let dot: f32 = user_factors[u * rank..(u + 1) * rank]
            .iter()
            .zip(&item_factors[i * rank..(i + 1) * rank])
            .map(|(a, b)| a * b)
            .sum();
        let latent = 3.6 + user_bias[u] + item_bias[i] + dot + noise(&mut rng);
        let stars = latent.round().clamp(1.0, 5.0);
        table.push(user_dense.id(u), item_dense.id(i), stars, 0);
    }
    let (user_ids, item_ids) = (user_dense.names('u'), item_dense.names('i'));
    let item_info = (0..item_ids.len())
        .map(|id| ItemInfo {
            title: format!("Synthetic item {}", item_ids.raw(id as u32)),
            ..Default::default()
        })
        .collect();
    Ok(Dataset {
        name: format!("synthetic-{users}x{items}-{ratings}"),
        ratings: table,
        users: user_ids,
        items: item_ids,
        item_info,
        user_info: Vec::new(),
        rating_range: (1.0, 5.0),
        report: Default::default(),
    })
}

/// Dense ids `0, 1, …` given to indices in the order they are first seen.
struct FirstSeen {
    /// Dense id of each index, `u32::MAX` until seen.
    dense: Vec<u32>,
    /// Indices in dense-id order.
    order: Vec<usize>,
}

impl FirstSeen {
    fn new(n: usize) -> FirstSeen {
        FirstSeen {
            dense: vec![u32::MAX; n],
            order: Vec::new(),
        }
    }

    /// The dense id of index `i`, assigning the next one if `i` is new.
    fn id(&mut self, i: usize) -> u32 {
        if self.dense[i] == u32::MAX {
            self.dense[i] = self.order.len() as u32;
            self.order.push(i);
        }
        self.dense[i]
    }

    /// An [`IdMap`] naming dense id `d` `<prefix><index>`.
    fn names(&self, prefix: char) -> IdMap {
        let mut map = IdMap::default();
        for &i in &self.order {
            map.intern(&format!("{prefix}{i}"));
        }
        map
    }
}

/// A sampler of N(0, std) as f32.
fn normal(std: f64) -> impl Fn(&mut ChaCha8Rng) -> f32 {
    // `std` is a positive constant of this module, so the distribution always exists.
    let dist = Normal::new(0.0, std).unwrap_or_else(|_| unreachable!("std {std} > 0"));
    move |rng| dist.sample(rng) as f32
}

/// A discrete law over `0..n` where index r has weight `1 / (r + offset)^skew`.
struct Popularity {
    /// Cumulative weights, normalised so the last is 1.
    cumulative: Vec<f64>,
}

impl Popularity {
    fn zipf(n: usize, skew: f64) -> Popularity {
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (0..n)
            .map(|r| {
                total += (r as f64 + ZIPF_OFFSET).powf(-skew);
                total
            })
            .collect();
        for c in &mut cumulative {
            *c /= total;
        }
        Popularity { cumulative }
    }

    /// An index drawn from the law (binary search of a uniform draw).
    fn draw(&self, rng: &mut impl Rng) -> usize {
        let x: f64 = rng.random();
        self.cumulative
            .partition_point(|&c| c < x)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SyntheticSpec {
        SyntheticSpec {
            users: 300,
            items: 200,
            ratings: 20_000,
            rank: 4,
            seed: 7,
        }
    }

    #[test]
    fn has_the_requested_shape_and_distinct_pairs() {
        let data = generate(&small()).expect("generate");
        assert_eq!(data.ratings.len(), 20_000);
        assert!(data.n_users() <= 300 && data.n_items() <= 200);
        assert_eq!(data.item_info.len(), data.n_items());
        let pairs: HashSet<(u32, u32)> = data
            .ratings
            .users
            .iter()
            .zip(&data.ratings.items)
            .map(|(&u, &i)| (u, i))
            .collect();
        assert_eq!(pairs.len(), 20_000, "every (user, item) pair at most once");
        assert!(
            data.ratings
                .values
                .iter()
                .all(|&v| v == v.round() && (1.0..=5.0).contains(&v))
        );
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a = generate(&small()).expect("a");
        let b = generate(&small()).expect("b");
        assert_eq!(a.ratings, b.ratings);
        let c = generate(&SyntheticSpec { seed: 8, ..small() }).expect("c");
        assert_ne!(a.ratings, c.ratings);
    }

    #[test]
    fn popularity_is_skewed() {
        let data = generate(&small()).expect("generate");
        let mut counts = vec![0usize; data.n_items()];
        for &i in &data.ratings.items {
            counts[i as usize] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top_tenth: usize = counts[..counts.len() / 10].iter().sum();
        // With weights 1/(r + 10) over 200 items the top 20 hold ~30% of the mass (the
        // head saturates a little: a pair is drawn once); uniform would give 10%.
        assert!(
            top_tenth * 5 > data.ratings.len(),
            "top 10% of items hold {top_tenth} of {} ratings",
            data.ratings.len()
        );
    }

    #[test]
    fn ratings_carry_signal_beyond_the_mean() {
        // The generating biases alone must explain part of the variance: the mean rating
        // per item spreads out far more than sampling noise would allow.
        let data = generate(&small()).expect("generate");
        let n = data.ratings.len() as f64;
        let mean = data.ratings.values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = data
            .ratings
            .values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((3.0..4.2).contains(&mean), "mean {mean}");
        assert!((0.6..2.0).contains(&var), "variance {var}");
    }

    #[test]
    fn impossible_shapes_are_errors() {
        let too_dense = SyntheticSpec {
            ratings: 30_001,
            ..small()
        };
        assert!(matches!(
            generate(&too_dense),
            Err(SyntheticError::Shape { .. })
        ));
        assert!(generate(&SyntheticSpec { rank: 0, ..small() }).is_err());
    }
}
