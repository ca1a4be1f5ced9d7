//! The training ratings in the order an epoch meets them: one shuffled list, LIBMF's
//! blocks for per-rating SGD on several threads, or user by user for SVD++.
//!
//! [`RatingOrder::Shuffled`]: one list, reshuffled as a whole every epoch (the batch
//! loop's order, unchanged).
//!
//! [`RatingOrder::ByUser`]: the ratings are grouped by user **once**, before the first
//! epoch (a stable counting sort); every epoch then shuffles each user's ratings in place
//! (a pass over memory in order) and the order of the users. A model that trains user by
//! user (SVD++) gets its groups without regrouping 10M ratings by random scatter every
//! epoch.
//!
//! [`RatingOrder::ByItem`]: the same, grouped by item: the batches of a model whose
//! forward pass costs per distinct item (the item autoencoder reads each item's whole
//! rating vector) hold a few items each instead of a batch's worth.
//!
//! [`RatingOrder::Blocks`]: with `N > 1` threads (Zhuang et al. 2013, LIBMF) users are
//! cut into N ranges and items into N ranges, each holding about the same number of
//! ratings, and the ratings are bucketed **once**, before the first epoch, into the N × N
//! blocks of (user range, item range), stored block after block. Every epoch then
//! reshuffles each block in place, the N user ranges' blocks on N threads at once, so
//! neither the shuffle nor the bucketing is a serial step of the epoch; on a 10M-rating
//! set the two together cost about as much as a third of a one-thread epoch.
//!
//! The block order is LIBMF's randomisation within blocks; the blocks themselves are met
//! in a fixed rotation (see `per_rating`). A seed and N give the same epochs every time.

use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::per_rating::Triple;

/// How a run's ratings are laid out and reshuffled from epoch to epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingOrder {
    /// One list, reshuffled as a whole.
    Shuffled,
    /// Grouped by user; users and each user's ratings reshuffled.
    ByUser,
    /// Grouped by item; items and each item's ratings reshuffled.
    ByItem,
    /// LIBMF's N × N blocks for N threads, each block reshuffled.
    Blocks(usize),
}

/// The training ratings of a run, in the order the next epoch trains them.
#[derive(Debug, Clone)]
pub struct EpochRatings {
    triples: Vec<Triple>,
    layout: Layout,
}

/// What is known of the order of [`EpochRatings::triples`].
#[derive(Debug, Clone)]
enum Layout {
    Shuffled,
    ByUser(Groups),
    ByItem(Groups),
    Blocks(Blocks),
}

/// The runs of ratings grouped by user (or by item).
#[derive(Debug, Clone)]
struct Groups {
    /// `starts[n]..starts[n + 1]` are the ratings of the `n`-th user (item) with ratings.
    starts: Vec<usize>,
    /// This epoch's order of the groups (indices into `starts`).
    order: Vec<u32>,
}

/// LIBMF's N × N blocks over [`EpochRatings::as_slice`]: block `b·N + c` holds the
/// ratings of user range `b` and item range `c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocks {
    /// N: user ranges, item ranges and threads.
    pub threads: usize,
    /// `N + 1` user row boundaries: range `b` is rows `user_cuts[b]..user_cuts[b + 1]`.
    pub user_cuts: Vec<usize>,
    /// `N + 1` item row boundaries, as for users.
    pub item_cuts: Vec<usize>,
    /// `N² + 1` offsets: block `j` is `triples[starts[j]..starts[j + 1]]`.
    pub starts: Vec<usize>,
}

impl EpochRatings {
    /// `triples` laid out for `order` (`Blocks(1)` is `Shuffled`); grouped ratings keep
    /// their incoming order within each group until the first shuffle.
    pub fn new(triples: Vec<Triple>, order: RatingOrder) -> EpochRatings {
        let layout = match order {
            _ if triples.is_empty() => Layout::Shuffled,
            RatingOrder::Shuffled | RatingOrder::Blocks(0 | 1) => Layout::Shuffled,
            RatingOrder::ByUser => {
                let (triples, groups) = Groups::sorted(&triples, |t| t.user);
                return EpochRatings {
                    triples,
                    layout: Layout::ByUser(groups),
                };
            }
            RatingOrder::ByItem => {
                let (triples, groups) = Groups::sorted(&triples, |t| t.item);
                return EpochRatings {
                    triples,
                    layout: Layout::ByItem(groups),
                };
            }
            RatingOrder::Blocks(threads) => {
                let rows = |id: fn(&Triple) -> u32| {
                    triples
                        .iter()
                        .map(|t| id(t) as usize + 1)
                        .max()
                        .unwrap_or(0)
                };
                let (n_users, n_items) = (rows(|t| t.user), rows(|t| t.item));
                let user_cuts =
                    balanced_cuts(triples.iter().map(|t| t.user as usize), n_users, threads);
                let item_cuts =
                    balanced_cuts(triples.iter().map(|t| t.item as usize), n_items, threads);
                let range_of = |cuts: &[usize], row: usize| cuts.partition_point(|&c| c <= row) - 1;
                let (bucketed, starts) = counting_sort(&triples, |t| {
                    range_of(&user_cuts, t.user as usize) * threads
                        + range_of(&item_cuts, t.item as usize)
                });
                let mut starts = starts;
                starts.resize(threads * threads + 1, triples.len());
                return EpochRatings {
                    triples: bucketed,
                    layout: Layout::Blocks(Blocks {
                        threads,
                        user_cuts,
                        item_cuts,
                        starts,
                    }),
                };
            }
        };
        EpochRatings { triples, layout }
    }

    /// Every rating, in this epoch's order (block after block, or user after user in
    /// storage order: see [`EpochRatings::user_groups`] for the epoch's order of users).
    pub fn as_slice(&self) -> &[Triple] {
        &self.triples
    }

    /// The blocks, when the ratings train on several threads.
    pub fn blocks(&self) -> Option<&Blocks> {
        match &self.layout {
            Layout::Blocks(blocks) => Some(blocks),
            _ => None,
        }
    }

    /// Block `j`'s ratings (`j < N²`); empty without blocks or out of range.
    pub fn block(&self, j: usize) -> &[Triple] {
        self.blocks()
            .and_then(|b| Some(&self.triples[*b.starts.get(j)?..*b.starts.get(j + 1)?]))
            .unwrap_or_default()
    }

    /// Every rating in this epoch's order: the stored order, except by user (by item),
    /// where the groups are copied out in the epoch's order of groups (for the batch
    /// loop, which cuts the epoch into contiguous batches).
    pub fn in_order(&self) -> std::borrow::Cow<'_, [Triple]> {
        match &self.layout {
            Layout::ByUser(groups) | Layout::ByItem(groups) => {
                let mut ordered = Vec::with_capacity(self.triples.len());
                groups
                    .runs(&self.triples)
                    .for_each(|group| ordered.extend_from_slice(group));
                std::borrow::Cow::Owned(ordered)
            }
            _ => std::borrow::Cow::Borrowed(&self.triples),
        }
    }

    /// Each user's ratings, one run per user with ratings, users in this epoch's order;
    /// `None` unless grouped by user.
    pub fn user_groups(&self) -> Option<impl Iterator<Item = &[Triple]>> {
        let Layout::ByUser(groups) = &self.layout else {
            return None;
        };
        Some(groups.runs(&self.triples))
    }

    /// Forgets the layout: the ratings become one list again (for a run that falls back
    /// from per-rating SGD to batches, which shuffle the whole list).
    pub fn unblock(&mut self) {
        self.layout = Layout::Shuffled;
    }

    /// Reshuffles for the next epoch: the whole list from `rng` (exactly the draws of
    /// `triples.shuffle(rng)`); by user, each user's ratings then the users' order from
    /// `rng`; in blocks, every block from its own generator seeded by one draw of `rng`
    /// and the block's number, the blocks of each user range on a thread of their own.
    pub fn shuffle(&mut self, rng: &mut impl RngCore) {
        match &mut self.layout {
            Layout::Shuffled => self.triples.shuffle(rng),
            Layout::ByUser(groups) | Layout::ByItem(groups) => {
                for pair in groups.starts.windows(2) {
                    self.triples[pair[0]..pair[1]].shuffle(rng);
                }
                groups.order.shuffle(rng);
            }
            Layout::Blocks(blocks) => shuffle_blocks(&mut self.triples, blocks, rng.next_u64()),
        }
    }
}

impl Groups {
    /// `triples` sorted stably by `key` and their runs, in key order.
    fn sorted(triples: &[Triple], key: fn(&Triple) -> u32) -> (Vec<Triple>, Groups) {
        let (triples, starts) = counting_sort(triples, |t| key(t) as usize);
        let starts: Vec<usize> = dedup_starts(starts);
        let order = (0..starts.len() as u32 - 1).collect();
        (triples, Groups { starts, order })
    }

    /// The runs of `triples` (as laid out by [`Groups::sorted`]) in this epoch's order.
    fn runs<'a>(&'a self, triples: &'a [Triple]) -> impl Iterator<Item = &'a [Triple]> {
        self.order.iter().map(move |&n| {
            let n = n as usize;
            &triples[self.starts[n]..self.starts[n + 1]]
        })
    }
}

/// Shuffles every block of `triples`, the blocks of user range `b` on thread `b`, block
/// `j` from a generator seeded by `seed` and `j`.
fn shuffle_blocks(triples: &mut [Triple], blocks: &Blocks, seed: u64) {
    let n = blocks.threads;
    let mut rows: Vec<(usize, &mut [Triple])> = Vec::with_capacity(n);
    let mut rest = triples;
    for b in 0..n {
        let (row, tail) = rest.split_at_mut(blocks.starts[(b + 1) * n] - blocks.starts[b * n]);
        rows.push((b, row));
        rest = tail;
    }
    std::thread::scope(|scope| {
        for (b, row) in rows {
            let starts = &blocks.starts[b * n..=(b + 1) * n];
            scope.spawn(move || {
                let base = starts[0];
                for (c, pair) in starts.windows(2).enumerate() {
                    let mut block_rng = ChaCha8Rng::seed_from_u64(block_seed(seed, b * n + c));
                    row[pair[0] - base..pair[1] - base].shuffle(&mut block_rng);
                }
            });
        }
    });
}

/// `triples` sorted stably by `key` (a counting sort), and the offsets where each key's
/// run starts: `starts[key]..starts[key + 1]`, for keys up to the largest present.
fn counting_sort(triples: &[Triple], key: impl Fn(&Triple) -> usize) -> (Vec<Triple>, Vec<usize>) {
    let keys = triples.iter().map(&key).max().map_or(0, |k| k + 1);
    let mut starts = vec![0usize; keys + 1];
    for t in triples {
        starts[key(t) + 1] += 1;
    }
    for j in 0..keys {
        starts[j + 1] += starts[j];
    }
    let mut next = starts.clone();
    let mut sorted = triples.to_vec();
    for t in triples {
        let slot = &mut next[key(t)];
        sorted[*slot] = *t;
        *slot += 1;
    }
    (sorted, starts)
}

/// Run offsets without the empty runs (keys with no ratings).
fn dedup_starts(mut starts: Vec<usize>) -> Vec<usize> {
    starts.dedup();
    starts
}

/// The seed of block `j`'s shuffle in an epoch drawn `seed` (a SplitMix64 step of the
/// pair, so neighbouring blocks get unrelated streams).
fn block_seed(seed: u64, j: usize) -> u64 {
    let mut z = seed.wrapping_add((j as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `parts + 1` row boundaries `0 = c₀ ≤ c₁ ≤ … ≤ c_parts = n` cutting rows `0..n` into
/// `parts` ranges holding about equal numbers of the rows read by `rows`.
fn balanced_cuts(rows: impl Iterator<Item = usize>, n: usize, parts: usize) -> Vec<usize> {
    let mut counts = vec![0usize; n];
    let mut total = 0usize;
    for r in rows {
        counts[r] += 1;
        total += 1;
    }
    let mut cuts = Vec::with_capacity(parts + 1);
    cuts.push(0);
    let mut seen = 0usize;
    for (row, count) in counts.iter().enumerate() {
        // Cut before `row` once the ratings so far reach the next share.
        while cuts.len() < parts && seen * parts >= total * cuts.len() && seen > 0 {
            cuts.push(row);
        }
        seen += count;
    }
    while cuts.len() < parts + 1 {
        cuts.push(n);
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triples(pairs: &[(u32, u32)]) -> Vec<Triple> {
        pairs
            .iter()
            .enumerate()
            .map(|(n, &(user, item))| Triple {
                user,
                item,
                value: n as f32,
            })
            .collect()
    }

    #[test]
    fn cuts_hold_equal_shares_of_the_ratings() {
        // Rows 0..4 read 4, 0, 2, 2 times: row 0 already holds half of the 8 ratings, so
        // the cut falls right after it.
        let rows = [0, 0, 0, 0, 2, 2, 3, 3];
        assert_eq!(balanced_cuts(rows.into_iter(), 4, 2), vec![0, 1, 4]);
        assert_eq!(
            balanced_cuts([0usize, 1, 2, 3].into_iter(), 4, 4),
            vec![0, 1, 2, 3, 4]
        );
        // More parts than rows: the extra ranges are empty, at the end.
        assert_eq!(balanced_cuts([0usize].into_iter(), 1, 3), vec![0, 1, 1, 1]);
    }

    #[test]
    fn one_thread_shuffles_exactly_as_the_whole_list_did() {
        let ts = triples(&[(0, 0), (1, 1), (2, 0), (3, 1), (4, 2), (5, 0)]);
        let mut ratings = EpochRatings::new(ts.clone(), RatingOrder::Blocks(1));
        assert!(ratings.blocks().is_none() && ratings.user_groups().is_none());
        let mut expected = ts;
        expected.shuffle(&mut ChaCha8Rng::seed_from_u64(5));
        ratings.shuffle(&mut ChaCha8Rng::seed_from_u64(5));
        assert_eq!(ratings.as_slice(), expected.as_slice());
    }

    #[test]
    fn blocks_hold_every_rating_once_in_their_ranges_and_shuffle_within_them() {
        // Users 0–3 and items 0–3, two ratings per (user, item) pair on the diagonal band.
        let pairs: Vec<(u32, u32)> = (0..4)
            .flat_map(|u| (0..4).map(move |i| (u, i)))
            .chain((0..4).map(|u| (u, u)))
            .collect();
        let mut ratings = EpochRatings::new(triples(&pairs), RatingOrder::Blocks(2));
        let blocks = ratings.blocks().cloned().expect("blocked");
        assert_eq!(blocks.user_cuts, vec![0, 2, 4]);
        assert_eq!(blocks.item_cuts, vec![0, 2, 4]);
        assert_eq!(*blocks.starts.last().unwrap(), pairs.len());
        for epoch in 0..3 {
            let mut values: Vec<f32> = ratings.as_slice().iter().map(|t| t.value).collect();
            values.sort_by(f32::total_cmp);
            let all: Vec<f32> = (0..pairs.len()).map(|n| n as f32).collect();
            assert_eq!(values, all, "epoch {epoch}: every rating exactly once");
            for j in 0..4 {
                let (b, c) = (j / 2, j % 2);
                for t in ratings.block(j) {
                    assert!(
                        (blocks.user_cuts[b]..blocks.user_cuts[b + 1]).contains(&(t.user as usize))
                    );
                    assert!(
                        (blocks.item_cuts[c]..blocks.item_cuts[c + 1]).contains(&(t.item as usize))
                    );
                }
            }
            ratings.shuffle(&mut ChaCha8Rng::seed_from_u64(epoch));
        }
        // Same seed, same order; another seed, another order.
        let order = |seed| {
            let mut r = EpochRatings::new(triples(&pairs), RatingOrder::Blocks(2));
            r.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            r.as_slice().to_vec()
        };
        assert_eq!(order(1), order(1));
        assert_ne!(order(1), order(2));
    }

    #[test]
    fn unblocking_leaves_one_list() {
        let mut ratings =
            EpochRatings::new(triples(&[(0, 0), (1, 1), (2, 2)]), RatingOrder::Blocks(3));
        assert!(ratings.blocks().is_some());
        ratings.unblock();
        assert!(ratings.blocks().is_none());
        assert!(ratings.block(0).is_empty());
        assert_eq!(ratings.as_slice().len(), 3);
    }

    #[test]
    fn by_item_batches_keep_each_items_ratings_together_every_epoch() {
        // Items 0, 1 and 4, ratings numbered in incoming order.
        let pairs = [(0, 4), (1, 0), (2, 4), (3, 1), (4, 0), (5, 4), (6, 1)];
        let mut ratings = EpochRatings::new(triples(&pairs), RatingOrder::ByItem);
        assert!(ratings.user_groups().is_none(), "not grouped by user");
        let items =
            |r: &EpochRatings| -> Vec<u32> { r.in_order().iter().map(|t| t.item).collect() };
        assert_eq!(items(&ratings), vec![0, 0, 1, 1, 4, 4, 4]);
        let mut orders = std::collections::HashSet::new();
        for seed in 0..20 {
            ratings.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            let order = ratings.in_order().to_vec();
            let runs: Vec<u32> = order
                .chunk_by(|a, b| a.item == b.item)
                .map(|run| run[0].item)
                .collect();
            assert_eq!(runs.len(), 3, "one run per item: {order:?}");
            let mut all: Vec<(u32, u32)> = order.iter().map(|t| (t.user, t.item)).collect();
            all.sort_unstable();
            assert_eq!(all, pairs.to_vec(), "every rating exactly once");
            orders.insert(order.iter().map(|t| t.user).collect::<Vec<_>>());
        }
        assert!(orders.len() > 10, "items and ratings are reshuffled");
    }

    #[test]
    fn by_user_keeps_each_users_ratings_together_and_shuffles_users_and_ratings() {
        // Users 0, 2 and 5 (1, 3 and 4 have none), ratings numbered in incoming order.
        let pairs = [
            (2, 0),
            (0, 1),
            (5, 2),
            (2, 3),
            (0, 4),
            (2, 5),
            (5, 6),
            (0, 7),
        ];
        let mut ratings = EpochRatings::new(triples(&pairs), RatingOrder::ByUser);
        let groups = |r: &EpochRatings| -> Vec<Vec<(u32, u32)>> {
            r.user_groups()
                .expect("grouped")
                .map(|g| g.iter().map(|t| (t.user, t.item)).collect())
                .collect()
        };
        // Before any shuffle: users in id order, each user's ratings in incoming order.
        assert_eq!(
            groups(&ratings),
            vec![
                vec![(0, 1), (0, 4), (0, 7)],
                vec![(2, 0), (2, 3), (2, 5)],
                vec![(5, 2), (5, 6)],
            ]
        );
        let mut orders = std::collections::HashSet::new();
        for seed in 0..20 {
            ratings.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            let g = groups(&ratings);
            assert_eq!(g.len(), 3, "one run per user with ratings");
            for run in &g {
                assert!(
                    run.iter().all(|r| r.0 == run[0].0),
                    "one user per run: {g:?}"
                );
            }
            let mut all: Vec<(u32, u32)> = g.concat();
            all.sort_unstable();
            let mut expected = pairs.to_vec();
            expected.sort_unstable();
            assert_eq!(all, expected, "every rating exactly once");
            orders.insert(g);
        }
        assert!(
            orders.len() > 10,
            "users and ratings are reshuffled: {}",
            orders.len()
        );
        // The same seed gives the same epoch.
        let epoch = |seed| {
            let mut r = EpochRatings::new(triples(&pairs), RatingOrder::ByUser);
            r.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            groups(&r)
        };
        assert_eq!(epoch(3), epoch(3));
        // The batch loop's order is the groups' order, copied out.
        ratings.shuffle(&mut ChaCha8Rng::seed_from_u64(4));
        let flat: Vec<(u32, u32)> = ratings
            .in_order()
            .iter()
            .map(|t| (t.user, t.item))
            .collect();
        assert_eq!(flat, groups(&ratings).concat());
        let whole = EpochRatings::new(triples(&pairs), RatingOrder::Shuffled);
        assert_eq!(whole.in_order().as_ref(), whole.as_slice());
    }
}
