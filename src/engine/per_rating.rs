//! Per-rating SGD: the factor models trained one rating at a time, the update rule of
//! Surprise and cornac, with no tensors, gradient stores or allocations per step.
//!
//! A run takes this path when its configuration is plain SGD on single ratings (see
//! [`PerRatingSgd::for_run`]); the model then moves its own table rows in place for every
//! rating (see `RatingModel::per_rating_epoch`). The arithmetic is the fused engine's
//! batch-1 step written without tensors: with `y = head(u·v)` and `e = y − r`,
//!
//! ```text
//! s = 2e · head'(y)                 (MSE's gradient at batch 1, through the head)
//! u ← u − lr · (s · v_old + l2 · u)
//! v ← v − lr · (s · u_old + l2 · v)
//! ```
//!
//! so Surprise's rule `u += lr′(e′·v − reg·u)` (with `e′ = r − y`) is this one with
//! `lr = lr′ / 2` and `l2 = 2·reg`. Frozen columns (the bias trick's constant 1s) never
//! move and each table's L2 is scaled by its `l2_scale`, as in the batch optimiser.
//!
//! # Several threads
//!
//! `training.threads = N > 1` uses LIBMF's blocked scheme (Zhuang et al. 2013), not
//! Hogwild: the ratings come bucketed into N × N blocks of (user range, item range) (see
//! [`super::epoch_ratings`]), and the epoch runs in N phases; in phase `p` thread `b`
//! trains block (user range `b`, item range `(b + p) mod N`). The blocks running at once
//! share no user row and no item row, so every thread owns its rows outright (disjoint
//! `&mut` slices: no aliasing, no races), and the result is the same for the same seed
//! and N: reproducible, though not equal to one thread's, since the ratings are met in a
//! different order. Hogwild's lock-free writes would need aliasing raw pointers for races
//! that are benign only in practice.

use candle_core::{CpuStorage, InplaceOp1, Layout, Result, bail};

use super::Engine;
use super::epoch_ratings::{Blocks, EpochRatings};
use super::kernels::prefetch;
use super::params::{Params, TableId};
use super::row_dot::{DotHead, dot};
use crate::config::spec::{Architecture, EngineChoice, LossName, OptimizerName, TrainingSpec};

/// The architectures with a per-rating loop: the row-dot factor models and SVD++.
pub const ARCHITECTURES: [Architecture; 4] = [
    Architecture::DotMf,
    Architecture::BiasedMf,
    Architecture::FunkSvd,
    Architecture::SvdPp,
];

/// `per-rating` or `per-rating × N threads` when a run of `architecture` with `spec`
/// takes the per-rating path on the CPU, for the lines that describe runs (`exp
/// validate`); `None` when it trains in batches.
pub fn label(architecture: Architecture, spec: &TrainingSpec) -> Option<String> {
    let engine = match spec.engine {
        EngineChoice::Graph => Engine::Graph,
        EngineChoice::Auto | EngineChoice::Fused => Engine::Fused,
    };
    let sgd =
        PerRatingSgd::for_run(spec, engine).filter(|_| ARCHITECTURES.contains(&architecture))?;
    Some(match sgd.threads {
        1 => "per-rating".to_string(),
        n => format!("per-rating × {n} threads"),
    })
}

/// One training rating, as the training loop shuffles and feeds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Triple {
    /// Dense user index.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// The rating.
    pub value: f32,
}

/// The constants of one epoch of per-rating SGD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerRatingSgd {
    /// This epoch's learning rate (after the schedule).
    pub learning_rate: f32,
    /// `training.l2`, applied to every row a rating touches, at every rating.
    pub l2: f32,
    /// `training.threads`: worker threads updating the tables (1: sequential).
    pub threads: usize,
}

impl PerRatingSgd {
    /// The per-rating constants when a run qualifies for the per-rating path, `None` when
    /// it keeps the batch loop: plain SGD (`training.optimizer = "sgd"`, momentum 0) on
    /// single ratings (`training.batch_size = 1`) with the MSE loss on the fused engine.
    /// The learning rate is the base rate; the training loop sets each epoch's.
    ///
    /// Whether the architecture has a per-rating loop is the model's to say
    /// (`RatingModel::per_rating_epoch` returns `None` otherwise).
    pub fn for_run(spec: &TrainingSpec, engine: Engine) -> Option<PerRatingSgd> {
        let qualifies = spec.optimizer == OptimizerName::Sgd
            && spec.batch_size == 1
            && spec.momentum == 0.0
            && spec.loss == LossName::Mse
            && engine.is_fused();
        qualifies.then_some(PerRatingSgd {
            learning_rate: spec.learning_rate as f32,
            l2: spec.l2 as f32,
            threads: spec.threads.max(1),
        })
    }
}

/// The per-table constants of a row-dot model's epoch.
#[derive(Debug, Clone, Copy)]
struct Rule {
    head: DotHead,
    lr: f32,
    l2_users: f32,
    l2_items: f32,
    frozen_user: Option<usize>,
    frozen_item: Option<usize>,
}

/// One epoch of per-rating SGD for a model predicting `head(users[u] · items[i])`:
/// every rating of `ratings`, in order (block by block on the blocks' threads when it has
/// blocks), moves its user row of table `users` and its item row of table `items` in place. Returns the mean squared error of the predictions as
/// they were met (before each rating's update).
///
/// Errors when the tables are the same table, not f32 on the CPU, of different widths, or
/// when a rating names a row outside its table.
pub fn row_dot_epoch(
    params: &Params,
    (users, items): (TableId, TableId),
    head: DotHead,
    ratings: &EpochRatings,
    sgd: &PerRatingSgd,
) -> Result<f64> {
    let tables = params.tables();
    let (Some(u), Some(v)) = (tables.get(users.0), tables.get(items.0)) else {
        bail!("per-rating sgd: no tables {} and {}", users.0, items.0);
    };
    if users == items {
        bail!("per-rating sgd: the user and item tables must differ");
    }
    if u.dim() != v.dim() {
        bail!(
            "per-rating sgd: user rows of {} values, item rows of {}",
            u.dim(),
            v.dim()
        );
    }
    let rule = Rule {
        head,
        lr: sgd.learning_rate,
        l2_users: (f64::from(sgd.l2) * u.l2_scale) as f32,
        l2_items: (f64::from(sgd.l2) * v.l2_scale) as f32,
        frozen_user: u.frozen_column,
        frozen_item: v.frozen_column,
    };
    let outer = UserOp {
        items: &v.weight,
        ratings,
        rule,
        dim: u.dim(),
        sum: std::cell::Cell::new(0.0),
    };
    u.weight.inplace_op1(&outer)?;
    Ok(outer.sum.get() / ratings.as_slice().len().max(1) as f64)
}

/// The in-place op on the user table; it opens the item table with [`ItemOp`], so both
/// are mutable at once without copying either.
struct UserOp<'a> {
    items: &'a candle_core::Tensor,
    ratings: &'a EpochRatings,
    rule: Rule,
    dim: usize,
    sum: std::cell::Cell<f64>,
}

impl InplaceOp1 for UserOp<'_> {
    fn name(&self) -> &'static str {
        "per-rating-sgd"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let users = table_values(storage, layout, self.dim, self.name())?;
        let inner = ItemOp {
            users: std::cell::RefCell::new(users),
            outer: self,
        };
        self.items.inplace_op1(&inner)
    }
}

/// The in-place op on the item table, holding the user table's values.
struct ItemOp<'a, 'b> {
    users: std::cell::RefCell<&'b mut [f32]>,
    outer: &'b UserOp<'a>,
}

impl InplaceOp1 for ItemOp<'_, '_> {
    fn name(&self) -> &'static str {
        "per-rating-sgd"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let dim = self.outer.dim;
        let items = table_values(storage, layout, dim, self.name())?;
        let mut users = self.users.borrow_mut();
        let (n_users, n_items) = (users.len() / dim.max(1), items.len() / dim.max(1));
        let ratings = self.outer.ratings;
        if let Some(bad) = ratings
            .as_slice()
            .iter()
            .find(|t| t.user as usize >= n_users || t.item as usize >= n_items)
        {
            bail!(
                "per-rating sgd: rating of user {} and item {} outside tables of {n_users} users \
                 and {n_items} items",
                bad.user,
                bad.item
            );
        }
        let rule = &self.outer.rule;
        let sum = match ratings.blocks() {
            Some(blocks) if dim > 0 => blocked_epoch(&mut users, items, dim, ratings, blocks, rule),
            _ => sequential(&mut users, items, dim, ratings.as_slice(), rule, (0, 0)),
        };
        self.outer.sum.set(sum);
        Ok(())
    }
}

/// The contiguous f32 values of a `rows × dim` table.
fn table_values<'s>(
    storage: &'s mut CpuStorage,
    layout: &Layout,
    dim: usize,
    op: &str,
) -> Result<&'s mut [f32]> {
    let CpuStorage::F32(values) = storage else {
        bail!("{op}: expected an f32 table");
    };
    let (Some((start, end)), &[_, d]) = (layout.contiguous_offsets(), layout.dims()) else {
        bail!("{op}: the table must be contiguous and 2-d");
    };
    if d != dim {
        bail!("{op}: rows of {d} values, expected {dim}");
    }
    Ok(&mut values[start..end])
}

/// How many ratings ahead [`sequential`] prefetches rows.
const PREFETCH_AHEAD: usize = 4;

/// Trains `ratings` in order on `users` and `items`, whose first rows are table rows
/// `offsets.0` and `offsets.1`; the sum of the squared errors met. Every rating's rows
/// must lie inside the slices.
///
/// On an x86-64 CPU with AVX2 the same loop runs compiled for AVX2: the default target
/// has only SSE2's four lanes, and the dot product's eight partial sums and the row update
/// fill AVX's eight. The arithmetic is the same operations in the same order (no fused
/// multiply-add), so both give the same bits.
fn sequential(
    users: &mut [f32],
    items: &mut [f32],
    dim: usize,
    ratings: &[Triple],
    rule: &Rule,
    offsets: (usize, usize),
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: this CPU has AVX2, checked just above.
        return unsafe { sequential_avx2(users, items, dim, ratings, rule, offsets) };
    }
    sequential_body(users, items, dim, ratings, rule, offsets)
}

/// [`sequential_body`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sequential_avx2(
    users: &mut [f32],
    items: &mut [f32],
    dim: usize,
    ratings: &[Triple],
    rule: &Rule,
    offsets: (usize, usize),
) -> f64 {
    sequential_body(users, items, dim, ratings, rule, offsets)
}

/// The loop of [`sequential`], inlined into each of its compiled forms.
#[inline(always)]
fn sequential_body(
    users: &mut [f32],
    items: &mut [f32],
    dim: usize,
    ratings: &[Triple],
    rule: &Rule,
    (user0, item0): (usize, usize),
) -> f64 {
    let mut sum = 0.0f64;
    for (n, t) in ratings.iter().enumerate() {
        // Rows of a large table miss the cache at every rating: ask for those of a rating
        // a few ahead, so the misses overlap this rating's arithmetic.
        if let Some(ahead) = ratings.get(n + PREFETCH_AHEAD) {
            let u = (ahead.user as usize).wrapping_sub(user0);
            let i = (ahead.item as usize).wrapping_sub(item0);
            prefetch(users.get(u * dim..(u + 1) * dim).unwrap_or_default());
            prefetch(items.get(i * dim..(i + 1) * dim).unwrap_or_default());
        }
        let (u, i) = (t.user as usize - user0, t.item as usize - item0);
        let urow = &mut users[u * dim..(u + 1) * dim];
        let irow = &mut items[i * dim..(i + 1) * dim];
        let e = step(urow, irow, t.value, rule);
        sum += f64::from(e * e);
    }
    sum
}

/// One rating's update of user row `u` and item row `v` (equal lengths) towards `target`;
/// returns the error `y − target` before the update.
#[inline(always)]
fn step(u: &mut [f32], v: &mut [f32], target: f32, rule: &Rule) -> f32 {
    let y = rule.head.apply(dot(u, v));
    let e = y - target;
    // MSE's gradient at batch 1 is 2e (`Loss::gradient` with n = 1), then the head's slope.
    let s = 2.0 * e * rule.head.slope(y);
    let keep_u = rule.frozen_user.and_then(|c| u.get(c).copied());
    let keep_v = rule.frozen_item.and_then(|c| v.get(c).copied());
    let n = u.len().min(v.len());
    let (u, v) = (&mut u[..n], &mut v[..n]);
    let (lr, lu, lv) = (rule.lr, rule.l2_users, rule.l2_items);
    for k in 0..n {
        let (a, b) = (u[k], v[k]);
        u[k] = a - lr * (s * b + lu * a);
        v[k] = b - lr * (s * a + lv * b);
    }
    if let (Some(c), Some(x)) = (rule.frozen_user, keep_u) {
        u[c] = x;
    }
    if let (Some(c), Some(x)) = (rule.frozen_item, keep_v) {
        v[c] = x;
    }
    e
}

/// One epoch on the blocks' threads by LIBMF's blocked scheme (see the module doc):
/// `blocks.threads` phases of that many disjoint blocks each. Every rating's rows lie
/// inside the tables (the caller checks), so the last cuts, at the highest row a rating
/// names, never pass the tables' ends.
fn blocked_epoch(
    users: &mut [f32],
    items: &mut [f32],
    dim: usize,
    ratings: &EpochRatings,
    blocks: &Blocks,
    rule: &Rule,
) -> f64 {
    let threads = blocks.threads;
    let (user_cuts, item_cuts) = (&blocks.user_cuts, &blocks.item_cuts);
    let mut user_blocks = split_rows(users, user_cuts, dim);
    let mut item_blocks = split_rows(items, item_cuts, dim);
    let mut sum = 0.0f64;
    for phase in 0..threads {
        let sums: Vec<f64> = std::thread::scope(|scope| {
            let mut handles = Vec::with_capacity(threads);
            // `item_blocks` is rotated by `phase`: its entry b is item range (b + phase) mod N.
            for (b, (ub, ib)) in user_blocks
                .iter_mut()
                .zip(item_blocks.iter_mut())
                .enumerate()
            {
                let c = (b + phase) % threads;
                let block = ratings.block(b * threads + c);
                let offsets = (user_cuts[b], item_cuts[c]);
                handles.push(scope.spawn(move || sequential(ub, ib, dim, block, rule, offsets)));
            }
            // A thread that panicked has no sum: count it as diverged.
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(f64::NAN))
                .collect()
        });
        sum += sums.iter().sum::<f64>();
        item_blocks.rotate_left(1);
    }
    sum
}

/// `values` (rows of `dim`) split at the row boundaries `cuts` into disjoint blocks.
fn split_rows<'v>(mut values: &'v mut [f32], cuts: &[usize], dim: usize) -> Vec<&'v mut [f32]> {
    let mut blocks = Vec::with_capacity(cuts.len().saturating_sub(1));
    for pair in cuts.windows(2) {
        let (block, rest) = values.split_at_mut((pair[1] - pair[0]) * dim);
        blocks.push(block);
        values = rest;
    }
    blocks
}
