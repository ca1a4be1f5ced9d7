//! Biased matrix factorisation with a sigmoid scaled to the rating range:
//! `rating = min + (max − min) · σ(u·v + b_u + b_i)`.
//!
//! The notebooks' "MF with user/item biases and a sigmoid scaled to [min, max]" (the
//! fast.ai `EmbeddingDotBias` with `y_range`).
//!
//! The biases live inside the factor tables (the bias trick): a user row is
//! `[u₁ … u_k, b_u, 1]` and an item row `[v₁ … v_k, 1, b_i]`, the constant-1 columns frozen,
//! so one dot product of length k + 2 gives `u·v + b_u + b_i` with one gather per side.
//! User biases start at the logit of the mean training rating, so the first epoch does
//! not spend itself moving every bias from the middle of the range to the mean.

use candle_core::{Result, Tensor};
use rand::Rng;

use super::memory::{DataSizes, Footprint};
use super::{Batch, ModelContext, RatingModel};
use crate::config::spec::ModelSpec;
use crate::engine::params::{Init, Params, TableId, Tape};
use crate::engine::row_dot::{DotHead, row_dot};

/// Biased MF with a scaled-sigmoid output.
#[derive(Debug)]
pub struct BiasedMf {
    params: Params,
    users: TableId,
    items: TableId,
    range: (f32, f32),
}

impl BiasedMf {
    /// Tables of `spec.embedding_size` factors plus the bias and constant columns; factors
    /// drawn as `model.init` says, Normal(0, 0.01) by default (fast.ai's choice).
    pub fn new(spec: &ModelSpec, ctx: &ModelContext, rng: &mut impl Rng) -> Result<Self> {
        let mut params = Params::new(&ctx.device, ctx.engine);
        let (users, items) = sigmoid_tables(&mut params, spec, ctx, rng)?;
        Ok(BiasedMf {
            params,
            users,
            items,
            range: ctx.rating_range,
        })
    }
}

/// The bias-trick user and item tables of a scaled-sigmoid factor model (biased MF, SVD++):
/// `spec.embedding_size` factors drawn as `model.init` says, Normal(0, 0.01) by default
/// (fast.ai's choice), user biases starting at the logit of the mean training rating.
pub(super) fn sigmoid_tables(
    params: &mut Params,
    spec: &ModelSpec,
    ctx: &ModelContext,
    rng: &mut impl Rng,
) -> Result<(TableId, TableId)> {
    let (lo, hi) = ctx.rating_range;
    let p = ((ctx.global_mean - lo) / (hi - lo)).clamp(0.01, 0.99);
    params.bias_trick_tables(
        (ctx.n_users, ctx.n_items),
        spec.embedding_size,
        |rows| factor_init(spec, rows),
        (p / (1.0 - p)).ln(),
        rng,
    )
}

/// How the factors of a table of `rows` rows start: `model.init`, or Normal(0, 0.01).
pub(super) fn factor_init(spec: &ModelSpec, rows: usize) -> Init {
    Init::from_spec(spec.init, rows, Init::Normal { std: 0.01 })
}

impl RatingModel for BiasedMf {
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let u = self.params.gather(self.users, &batch.users, tape)?;
        let v = self.params.gather(self.items, &batch.items, tape)?;
        let (lo, hi) = self.range;
        row_dot(
            self.params.engine(),
            &u,
            &v,
            DotHead::ScaledSigmoid { lo, hi },
        )
    }

    fn row_dot_parts(&self) -> Option<(TableId, TableId, DotHead)> {
        let (lo, hi) = self.range;
        Some((self.users, self.items, DotHead::ScaledSigmoid { lo, hi }))
    }

    /// The scaled sigmoid of `U[users] · Vᵀ` (biases included by the bias trick).
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        super::expect_items(n_items, self.params.tables()[self.items.0].rows())?;
        let logit = self.params.dot_all(self.users, users, self.items)?;
        let (lo, hi) = self.range;
        crate::engine::activation::scaled_sigmoid(self.params.engine(), &logit, lo, hi)
    }

    /// The item factors, without the constant and bias columns.
    fn item_vectors(&self) -> Result<Option<Tensor>> {
        let items = &self.params.tables()[self.items.0];
        Ok(Some(items.weight.narrow(1, 0, items.dim() - 2)?))
    }

    fn params(&self) -> &Params {
        &self.params
    }
}

/// What biased MF allocates: the bias-trick tables, `k + 2` columns per user and item.
pub(crate) fn footprint(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    let k = spec.embedding_size.saturating_add(2);
    let mut f = Footprint::default();
    f.table("model.embedding_size", data.n_users, k)
        .table("model.embedding_size", data.n_items, k)
        .per_example("model.embedding_size", k.saturating_mul(2));
    f
}
