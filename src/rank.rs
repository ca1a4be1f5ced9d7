//! Ranking every item for users: the step from a trained model to ranking metrics and
//! recommendations.
//!
//! Scores come in blocks of users × all items from [`RatingModel::score_items`] (one
//! matrix product per block for the factor models, batched forward passes for the neural
//! ones). Each user's **candidates** are the items they did not rate in the training part
//! of the split (training and validation ratings): what the model could recommend. The
//! top k candidates are found by partial selection (`select_nth_unstable_by`, O(items) per
//! user) and only those k are sorted.
//!
//! Order: higher score first, ties to the lower dense item id, NaN scores last. Scores are
//! the model's raw outputs, not clipped to the rating range, so that a model predicting
//! above the top rating still orders those items.

use std::cmp::Ordering;

use candle_core::Tensor;

use crate::config::spec::{RankingKind, RankingSpec};
use crate::data::dataset::{Dataset, Ratings};
use crate::data::split::Split;
use crate::metrics::ranking::{JudgedList, RankingAverages};
use crate::models::RatingModel;

/// About this many scores (16 MB of f32) are computed per block of users.
pub const BLOCK_SCORES: usize = 1 << 22;

/// Items grouped by user (compressed rows): which items each user rated in some subset
/// of the ratings.
#[derive(Debug, Clone, Default)]
pub struct UserItems {
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl UserItems {
    /// The items of the ratings at `indices`, grouped by their user (`n_users` users).
    pub fn new(
        ratings: &Ratings,
        indices: impl Iterator<Item = usize> + Clone,
        n_users: usize,
    ) -> Self {
        let mut offsets = vec![0usize; n_users + 1];
        for i in indices.clone() {
            offsets[ratings.users[i] as usize + 1] += 1;
        }
        for u in 0..n_users {
            offsets[u + 1] += offsets[u];
        }
        let mut next = offsets.clone();
        let mut items = vec![0u32; offsets[n_users]];
        for i in indices {
            let user = ratings.users[i] as usize;
            items[next[user]] = ratings.items[i];
            next[user] += 1;
        }
        UserItems { offsets, items }
    }

    /// The items of `user` (empty for a user out of range).
    pub fn of(&self, user: u32) -> &[u32] {
        let u = user as usize;
        match (self.offsets.get(u), self.offsets.get(u + 1)) {
            (Some(&start), Some(&end)) => &self.items[start..end],
            _ => &[],
        }
    }
}

/// `a` before `b` in a ranking: higher score first, then lower item id.
fn order(a: &(f32, u32), b: &(f32, u32)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// NaN ranks last.
fn clean(score: f32) -> f32 {
    if score.is_nan() {
        f32::NEG_INFINITY
    } else {
        score
    }
}

/// Ranks one user's candidates at a time, reusing its buffers across users.
#[derive(Debug, Clone)]
pub struct Ranker {
    excluded: Vec<bool>,
    candidates: Vec<(f32, u32)>,
}

impl Ranker {
    /// A ranker for a catalogue of `n_items`.
    pub fn new(n_items: usize) -> Self {
        Ranker {
            excluded: vec![false; n_items],
            candidates: Vec::with_capacity(n_items),
        }
    }

    /// The best `n` items by `scores` (one per item) that are not in `seen`, best first,
    /// as `(item, score)`; fewer when there are fewer candidates.
    pub fn top(&mut self, scores: &[f32], seen: &[u32], n: usize) -> Vec<(u32, f32)> {
        for &item in seen {
            if let Some(flag) = self.excluded.get_mut(item as usize) {
                *flag = true;
            }
        }
        self.candidates.clear();
        for (item, (&score, &excluded)) in scores.iter().zip(&self.excluded).enumerate() {
            if !excluded {
                self.candidates.push((clean(score), item as u32));
            }
        }
        for &item in seen {
            if let Some(flag) = self.excluded.get_mut(item as usize) {
                *flag = false;
            }
        }
        let n = n.min(self.candidates.len());
        if n == 0 {
            return Vec::new();
        }
        if n < self.candidates.len() {
            self.candidates.select_nth_unstable_by(n - 1, order);
        }
        let head = &mut self.candidates[..n];
        head.sort_unstable_by(order);
        head.iter().map(|&(score, item)| (item, score)).collect()
    }

    /// The 1-based rank of `item` (with its `score`) among the candidates of the last
    /// [`Ranker::top`] call.
    pub fn rank_of(&self, item: u32, score: f32) -> usize {
        let target = (clean(score), item);
        1 + self
            .candidates
            .iter()
            .filter(|c| order(c, &target) == Ordering::Less)
            .count()
    }
}

/// Scores of every item for each of `users`, on the host, row-major (`users.len()` rows
/// of `n_items`).
pub fn score_block(
    model: &dyn RatingModel,
    users: &[u32],
    n_items: usize,
) -> candle_core::Result<Vec<f32>> {
    let device = model.params().device();
    let ids = Tensor::from_slice(users, users.len(), device)?;
    model.score_items(&ids, n_items)?.flatten_all()?.to_vec1()
}

/// Each per-user ranking metric's name and its value for every evaluated user (dense id),
/// in user order; coverage, which is not per user, is left out.
pub type UserValues = Vec<(String, Vec<(u32, f32)>)>;

/// [`run_metrics`] and, from the same ranking, each user's own values
/// ([`UserValues`], empty when `spec` is `None`): what `metrics.save_predictions` stores
/// for the per-user tests.
pub fn run_metrics_per_user(
    spec: Option<&RankingSpec>,
    model: &dyn RatingModel,
    data: &Dataset,
    split: &Split,
) -> candle_core::Result<(Vec<(String, f64)>, UserValues)> {
    match spec {
        Some(spec) => ranking_metrics_with_users(model, data, split, spec, true),
        None => Ok((Vec::new(), Vec::new())),
    }
}

/// The ranking metrics `spec` asks for, of `model` on `split`'s test ratings, in the order
/// asked; none when `spec` is `None`. What the runner stores with each run.
pub fn run_metrics(
    spec: Option<&RankingSpec>,
    model: &dyn RatingModel,
    data: &Dataset,
    split: &Split,
) -> candle_core::Result<Vec<(String, f64)>> {
    match spec {
        Some(spec) => ranking_metrics(model, data, split, spec),
        None => Ok(Vec::new()),
    }
}

/// Per item of one user: neither seen nor relevant, rated in the training part, or a
/// relevant test item.
const NONE: u8 = 0;
const SEEN: u8 = 1;
const RELEVANT: u8 = 2;

/// The ranking metrics of `spec` for `model` on the test ratings of `split`.
///
/// An item is relevant to a user when the user's test rating of it is at least
/// `spec.relevance_threshold`. Every user with at least one relevant candidate is
/// evaluated (users without one are not counted, see [`crate::metrics::ranking`]); their
/// candidates are all items they did not rate in the training or validation part.
pub fn ranking_metrics(
    model: &dyn RatingModel,
    data: &Dataset,
    split: &Split,
    spec: &RankingSpec,
) -> candle_core::Result<Vec<(String, f64)>> {
    ranking_metrics_with_users(model, data, split, spec, false).map(|(averages, _)| averages)
}

/// [`ranking_metrics`], and each user's own values when `per_user` asks for them.
fn ranking_metrics_with_users(
    model: &dyn RatingModel,
    data: &Dataset,
    split: &Split,
    spec: &RankingSpec,
    per_user: bool,
) -> candle_core::Result<(Vec<(String, f64)>, UserValues)> {
    let mut user_values: Vec<Vec<(u32, f32)>> = vec![Vec::new(); spec.metrics.len()];
    let (n_users, n_items) = (data.n_users(), data.n_items());
    let ratings = &data.ratings;
    let seen = UserItems::new(
        ratings,
        split.train.iter().chain(&split.validation).copied(),
        n_users,
    );
    let threshold = spec.relevance_threshold;
    let relevant = UserItems::new(
        ratings,
        split
            .test
            .iter()
            .copied()
            .filter(|&i| f64::from(ratings.values[i]) >= threshold),
        n_users,
    );
    let users: Vec<u32> = (0..n_users as u32)
        .filter(|&u| !relevant.of(u).is_empty())
        .collect();
    let depth = RankingAverages::depth(&spec.metrics);
    let full_rank = spec
        .metrics
        .iter()
        .any(|m| m.kind == RankingKind::Mrr && m.k.is_none());
    let mut averages = RankingAverages::new(&spec.metrics, n_items);
    let mut ranker = Ranker::new(n_items);
    let mut state = vec![NONE; n_items];
    let mut targets: Vec<u32> = Vec::new();
    let block = (BLOCK_SCORES / n_items.max(1)).max(1);
    for chunk in users.chunks(block) {
        let scores = score_block(model, chunk, n_items)?;
        for (row, &user) in scores.chunks_exact(n_items).zip(chunk) {
            let seen_items = seen.of(user);
            for &item in seen_items {
                state[item as usize] = SEEN;
            }
            targets.clear();
            for &item in relevant.of(user) {
                if state[item as usize] == NONE {
                    state[item as usize] = RELEVANT;
                    targets.push(item);
                }
            }
            if !targets.is_empty() {
                let top = ranker.top(row, seen_items, depth);
                let items: Vec<u32> = top.iter().map(|&(item, _)| item).collect();
                let hits: Vec<bool> = items
                    .iter()
                    .map(|&item| state[item as usize] == RELEVANT)
                    .collect();
                let first_relevant_rank = match hits.iter().position(|&hit| hit) {
                    Some(position) => position + 1,
                    None if full_rank => {
                        let best = targets
                            .iter()
                            .map(|&item| (clean(row[item as usize]), item))
                            .min_by(order)
                            .unwrap_or((f32::NEG_INFINITY, 0));
                        ranker.rank_of(best.1, best.0)
                    }
                    // Beyond the deepest cut-off: every `mrr@k` counts it as 0.
                    None => depth + 1,
                };
                let values = averages.add(JudgedList {
                    items: &items,
                    hits: &hits,
                    relevant: targets.len(),
                    first_relevant_rank,
                });
                if per_user {
                    for (list, v) in user_values.iter_mut().zip(values) {
                        list.push((user, v as f32));
                    }
                }
            }
            for &item in seen_items.iter().chain(&targets) {
                state[item as usize] = NONE;
            }
        }
    }
    let user_values = if per_user {
        spec.metrics
            .iter()
            .zip(user_values)
            .filter(|(m, _)| m.kind != RankingKind::Coverage)
            .map(|(m, values)| (m.name(), values))
            .collect()
    } else {
        Vec::new()
    };
    Ok((averages.finish(), user_values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::RankingMetric;
    use crate::data::dataset::{IdMap, ItemInfo};
    use crate::engine::params::{Params, Tape};

    #[test]
    fn top_excludes_seen_items_breaks_ties_by_id_and_puts_nan_last() {
        let mut ranker = Ranker::new(6);
        let scores = [0.5, 2.0, f32::NAN, 2.0, 3.0, 1.0];
        // Item 4 is seen; items 1 and 3 tie at 2.0, the lower id first; NaN last.
        assert_eq!(ranker.top(&scores, &[4], 3), [(1, 2.0), (3, 2.0), (5, 1.0)]);
        let all = ranker.top(&scores, &[4], 10);
        let ids: Vec<u32> = all.iter().map(|&(i, _)| i).collect();
        assert_eq!(ids, [1, 3, 5, 0, 2]);
        // Rank of item 0 (score 0.5) among these candidates: behind 1, 3 and 5.
        assert_eq!(ranker.rank_of(0, 0.5), 4);
        // The exclusion does not leak into the next user.
        assert_eq!(ranker.top(&scores, &[], 1), [(4, 3.0)]);
    }

    #[test]
    fn user_items_group_by_user() {
        let mut r = Ratings::default();
        for (u, i) in [(1, 5), (0, 2), (1, 3), (2, 0)] {
            r.push(u, i, 4.0, 0);
        }
        let g = UserItems::new(&r, [0, 1, 2].into_iter(), 4);
        assert_eq!(g.of(0), [2]);
        assert_eq!(g.of(1), [5, 3]);
        assert!(g.of(2).is_empty() && g.of(3).is_empty() && g.of(9).is_empty());
    }

    /// A model whose score of (user, item) is a fixed table, through the default
    /// pairwise `score_items`.
    struct Table {
        params: Params,
        scores: Vec<Vec<f32>>,
    }

    impl RatingModel for Table {
        fn forward(
            &self,
            batch: &crate::models::Batch,
            _tape: &mut Tape,
        ) -> candle_core::Result<Tensor> {
            let users: Vec<u32> = batch.users.to_vec1()?;
            let items: Vec<u32> = batch.items.to_vec1()?;
            let s: Vec<f32> = users
                .iter()
                .zip(&items)
                .map(|(&u, &i)| self.scores[u as usize][i as usize])
                .collect();
            Tensor::new(s, &candle_core::Device::Cpu)
        }

        fn params(&self) -> &Params {
            &self.params
        }
    }

    #[test]
    fn metrics_of_a_tiny_split_by_hand() {
        // 2 users × 5 items. User 0 trained on item 0 and has test ratings 5 (item 1),
        // 2 (item 2), 4 (item 3): relevant {1, 3}. User 1 trained on item 4; its only test
        // rating is 3 (item 0): no relevant item, so it is not evaluated.
        let mut ratings = Ratings::default();
        for (u, i, v) in [
            (0, 0, 5.0),
            (0, 1, 5.0),
            (0, 2, 2.0),
            (0, 3, 4.0),
            (1, 4, 5.0),
            (1, 0, 3.0),
        ] {
            ratings.push(u, i, v, 0);
        }
        let mut users = IdMap::default();
        let mut items = IdMap::default();
        for u in 0..2 {
            users.intern(&u.to_string());
        }
        for i in 0..5 {
            items.intern(&i.to_string());
        }
        let data = Dataset {
            name: "tiny".into(),
            ratings,
            users,
            items,
            item_info: vec![ItemInfo::default(); 5],
            user_info: Vec::new(),
            rating_range: (1.0, 5.0),
            report: Default::default(),
        };
        let split = Split {
            train: vec![0, 4],
            validation: vec![],
            test: vec![1, 2, 3, 5],
        };
        // User 0's candidates are items 1–4 (item 0 was trained on); scores rank them
        // 2 (0.9), 1 (0.8), 4 (0.7), 3 (0.1): hits at ranks 2 and 4.
        let model = Table {
            params: Params::new(&candle_core::Device::Cpu, crate::engine::Engine::Fused),
            scores: vec![vec![9.0, 0.8, 0.9, 0.1, 0.7], vec![0.0; 5]],
        };
        let spec = RankingSpec {
            metrics: [
                "precision@2",
                "recall@2",
                "ndcg@2",
                "hit-rate@1",
                "map@4",
                "mrr",
                "coverage@2",
            ]
            .iter()
            .map(|n| RankingMetric::parse(n).unwrap())
            .collect(),
            relevance_threshold: 4.0,
        };
        let got = ranking_metrics(&model, &data, &split, &spec).unwrap();
        // precision@2 = 1/2; recall@2 = 1/2; ndcg@2 = (1/log2 3) / (1 + 1/log2 3)
        // = 0.630930 / 1.630930 = 0.386853; hit-rate@1 = 0; map@4 = (1/2 + 2/4) / 2 = 0.5;
        // mrr = 1/2; coverage@2 = items {2, 1} of 5 = 0.4.
        let want = [0.5, 0.5, 0.386_853, 0.0, 0.5, 0.5, 0.4];
        for ((name, value), want) in got.iter().zip(want) {
            assert!((value - want).abs() < 1e-6, "{name}: {value} vs {want}");
        }
        // Relevance threshold 5: only item 1 is relevant, found at rank 2.
        let strict = RankingSpec {
            relevance_threshold: 5.0,
            ..spec
        };
        let got = ranking_metrics(&model, &data, &split, &strict).unwrap();
        assert_eq!(got[1], ("recall@2".to_string(), 1.0));
    }
}
