//! Ranking metrics: how well each user's ranked list of candidate items puts their
//! relevant items first, averaged over users.
//!
//! The per-user functions take the list already judged: `hits[i]` says whether the item at
//! rank `i + 1` is relevant (the list may be shorter than `k` when the user has fewer
//! candidates), and `relevant` is how many relevant items the user has in all. Gains are
//! binary. [`RankingAverages`] averages them over users and measures catalogue coverage.
//!
//! Users without a relevant item are **not counted**: recall, NDCG, MAP and MRR are
//! undefined for them, and counting them as 0 in the others would make the numbers depend on
//! how many such users a split happens to have. Callers pass only users with at least one
//! relevant item.

use crate::config::spec::{RankingKind, RankingMetric};

/// Relevant items in the top `k`, over `k` (a list shorter than `k` still divides by `k`).
pub fn precision(hits: &[bool], k: usize) -> f64 {
    count(hits, k) as f64 / k as f64
}

/// Relevant items in the top `k`, over all `relevant` items of the user.
pub fn recall(hits: &[bool], k: usize, relevant: usize) -> f64 {
    count(hits, k) as f64 / relevant as f64
}

/// 1 when the top `k` holds a relevant item, else 0.
pub fn hit_rate(hits: &[bool], k: usize) -> f64 {
    if count(hits, k) > 0 { 1.0 } else { 0.0 }
}

/// Normalised discounted cumulative gain at `k` with binary gains:
/// `DCG = Σ_{i ≤ k, hit} 1 / log₂(i + 1)` over 1-based ranks `i`, divided by the DCG of
/// the ideal list, which puts `min(relevant, k)` relevant items first.
pub fn ndcg(hits: &[bool], k: usize, relevant: usize) -> f64 {
    let discount = |rank: usize| 1.0 / ((rank + 1) as f64).log2();
    let dcg: f64 = hits
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, hit)| **hit)
        .map(|(i, _)| discount(i + 1))
        .sum();
    let ideal: f64 = (1..=relevant.min(k)).map(discount).sum();
    if ideal > 0.0 { dcg / ideal } else { 0.0 }
}

/// Average precision at `k`: the precision at the rank of each relevant item in the top
/// `k`, summed and divided by `min(relevant, k)` (the most hits the top `k` can hold).
pub fn average_precision(hits: &[bool], k: usize, relevant: usize) -> f64 {
    let mut found = 0usize;
    let mut sum = 0.0;
    for (i, _) in hits.iter().take(k).enumerate().filter(|(_, hit)| **hit) {
        found += 1;
        sum += found as f64 / (i + 1) as f64;
    }
    let most = relevant.min(k);
    if most > 0 { sum / most as f64 } else { 0.0 }
}

/// `1 / rank` of the first relevant item (1-based, in the user's whole ranking); 0 when a
/// cut-off `k` is given and that rank is beyond it.
pub fn reciprocal_rank(first_relevant_rank: usize, k: Option<usize>) -> f64 {
    match k {
        Some(k) if first_relevant_rank > k => 0.0,
        _ => 1.0 / first_relevant_rank as f64,
    }
}

fn count(hits: &[bool], k: usize) -> usize {
    hits.iter().take(k).filter(|hit| **hit).count()
}

/// One evaluated user's ranked list, judged against their relevant items.
#[derive(Debug, Clone, Copy)]
pub struct JudgedList<'a> {
    /// The top of the ranking (dense item ids), best first, as deep as the deepest metric.
    pub items: &'a [u32],
    /// `hits[i]`: `items[i]` is relevant.
    pub hits: &'a [bool],
    /// How many relevant items the user has, at least 1.
    pub relevant: usize,
    /// 1-based rank of the user's first relevant item in their whole ranking.
    pub first_relevant_rank: usize,
}

/// Averages ranking metrics over users and tracks which items reach whose top k.
#[derive(Debug, Clone)]
pub struct RankingAverages {
    metrics: Vec<RankingMetric>,
    sums: Vec<f64>,
    users: usize,
    /// Per item, the best (smallest, 0-based) position it reached in any user's list;
    /// `usize::MAX` if none. Coverage@k counts the items with a position below k.
    best_position: Vec<usize>,
}

impl RankingAverages {
    /// An empty average of `metrics` over a catalogue of `n_items`.
    pub fn new(metrics: &[RankingMetric], n_items: usize) -> Self {
        RankingAverages {
            metrics: metrics.to_vec(),
            sums: vec![0.0; metrics.len()],
            users: 0,
            best_position: vec![usize::MAX; n_items],
        }
    }

    /// The depth of list the metrics need: the largest `k`, at least 1.
    pub fn depth(metrics: &[RankingMetric]) -> usize {
        metrics.iter().filter_map(|m| m.k).max().unwrap_or(1)
    }

    /// Adds one user (who must have at least one relevant item) and returns the user's
    /// own value of each metric, in the order asked (NaN for coverage, which is not a
    /// per-user quantity): what the per-user tests of `exp compare` pair.
    pub fn add(&mut self, list: JudgedList<'_>) -> Vec<f64> {
        self.users += 1;
        for (position, &item) in list.items.iter().enumerate() {
            if let Some(best) = self.best_position.get_mut(item as usize) {
                *best = (*best).min(position);
            }
        }
        let mut values = Vec::with_capacity(self.metrics.len());
        for (metric, sum) in self.metrics.iter().zip(&mut self.sums) {
            let (hits, relevant) = (list.hits, list.relevant);
            let k = metric.k.unwrap_or(usize::MAX);
            let value = match metric.kind {
                RankingKind::Precision => precision(hits, k),
                RankingKind::Recall => recall(hits, k, relevant),
                RankingKind::Ndcg => ndcg(hits, k, relevant),
                RankingKind::HitRate => hit_rate(hits, k),
                RankingKind::Map => average_precision(hits, k, relevant),
                RankingKind::Mrr => reciprocal_rank(list.first_relevant_rank, metric.k),
                RankingKind::Coverage => 0.0,
            };
            *sum += value;
            values.push(if metric.kind == RankingKind::Coverage {
                f64::NAN
            } else {
                value
            });
        }
        values
    }

    /// Users added so far.
    pub fn users(&self) -> usize {
        self.users
    }

    /// Each metric's name and value, in the order asked: means over the users added
    /// (NaN when there were none), coverage as a fraction of the catalogue.
    pub fn finish(&self) -> Vec<(String, f64)> {
        let n_items = self.best_position.len();
        self.metrics
            .iter()
            .zip(&self.sums)
            .map(|(metric, sum)| {
                let value = if self.users == 0 {
                    f64::NAN
                } else if metric.kind == RankingKind::Coverage {
                    let k = metric.k.unwrap_or(usize::MAX);
                    let covered = self.best_position.iter().filter(|&&p| p < k).count();
                    covered as f64 / n_items.max(1) as f64
                } else {
                    sum / self.users as f64
                };
                (metric.name(), value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Ranked list: hit, miss, hit, miss, miss; the user has 3 relevant items in all.
    const HITS: [bool; 5] = [true, false, true, false, false];

    #[test]
    fn precision_recall_and_hit_rate_by_hand() {
        // top 1: 1 hit; top 3: 2 hits; top 5: 2 hits.
        assert_eq!(precision(&HITS, 1), 1.0);
        assert!(close(precision(&HITS, 3), 2.0 / 3.0)); // 0.666667
        assert_eq!(precision(&HITS, 5), 0.4);
        // A list shorter than k still divides by k: 2 hits / 10.
        assert_eq!(precision(&HITS, 10), 0.2);
        assert!(close(recall(&HITS, 1, 3), 1.0 / 3.0));
        assert!(close(recall(&HITS, 5, 3), 2.0 / 3.0));
        assert_eq!(hit_rate(&HITS, 1), 1.0);
        assert_eq!(hit_rate(&[false, false, true], 2), 0.0);
        assert_eq!(hit_rate(&[false, false, true], 3), 1.0);
    }

    #[test]
    fn ndcg_by_hand() {
        // DCG@5 = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5.
        // IDCG@5 (3 relevant) = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.630930 + 0.5 = 2.130930.
        // NDCG@5 = 1.5 / 2.130930 = 0.703918.
        assert!(close(ndcg(&HITS, 5, 3), 0.703_918), "{}", ndcg(&HITS, 5, 3));
        // NDCG@2: DCG = 1; IDCG = 1 + 0.630930 → 0.613147.
        assert!(close(ndcg(&HITS, 2, 3), 0.613_147), "{}", ndcg(&HITS, 2, 3));
        // One relevant item at rank 2: 1/log2(3) / 1 = 0.630930.
        assert!(close(ndcg(&[false, true], 10, 1), 0.630_930));
        assert_eq!(ndcg(&[true, true], 2, 2), 1.0);
    }

    #[test]
    fn average_precision_and_reciprocal_rank_by_hand() {
        // Hits at ranks 1 and 3: precisions 1/1 and 2/3; sum 1.666667.
        // AP@5 divides by min(3, 5) = 3 → 0.555556; AP@3 also by 3 → 0.555556;
        // AP@2 has one hit (1/1) and divides by min(3, 2) = 2 → 0.5.
        assert!(close(average_precision(&HITS, 5, 3), 0.555_556));
        assert!(close(average_precision(&HITS, 3, 3), 0.555_556));
        assert!(close(average_precision(&HITS, 2, 3), 0.5));
        assert_eq!(average_precision(&[true, true], 2, 2), 1.0);
        // First relevant item at rank 4: 0.25, or 0 when cut off at 3.
        assert_eq!(reciprocal_rank(4, None), 0.25);
        assert_eq!(reciprocal_rank(4, Some(3)), 0.0);
        assert_eq!(reciprocal_rank(4, Some(4)), 0.25);
    }

    #[test]
    fn averages_over_users_and_coverage_of_the_catalogue() {
        let metric = |name: &str| RankingMetric::parse(name).unwrap();
        let metrics = [
            metric("precision@2"),
            metric("recall@2"),
            metric("mrr"),
            metric("coverage@1"),
            metric("coverage@2"),
        ];
        assert_eq!(RankingAverages::depth(&metrics), 2);
        let mut avg = RankingAverages::new(&metrics, 10);
        // User A: items [3, 5], hit at rank 1, 2 relevant, first relevant at rank 1.
        avg.add(JudgedList {
            items: &[3, 5],
            hits: &[true, false],
            relevant: 2,
            first_relevant_rank: 1,
        });
        // User B: items [3, 7], no hit in the top 2, 1 relevant, found at rank 5.
        avg.add(JudgedList {
            items: &[3, 7],
            hits: &[false, false],
            relevant: 1,
            first_relevant_rank: 5,
        });
        let got = avg.finish();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["precision@2", "recall@2", "mrr", "coverage@1", "coverage@2"]
        );
        // precision@2: (1/2 + 0) / 2 = 0.25; recall@2: (1/2 + 0) / 2 = 0.25;
        // mrr: (1 + 1/5) / 2 = 0.6; coverage@1: {3} = 1/10; coverage@2: {3, 5, 7} = 3/10.
        let values: Vec<f64> = got.iter().map(|(_, v)| *v).collect();
        for (v, want) in values.iter().zip([0.25, 0.25, 0.6, 0.1, 0.3]) {
            assert!(close(*v, want), "{got:?}");
        }
        assert_eq!(avg.users(), 2);
    }

    #[test]
    fn no_evaluated_users_gives_nan_not_zero() {
        let metrics = [RankingMetric::parse("ndcg@10").unwrap()];
        let avg = RankingAverages::new(&metrics, 5);
        assert!(avg.finish()[0].1.is_nan());
    }
}
