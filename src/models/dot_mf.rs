//! Plain matrix factorisation: rating ≈ user factors · item factors.
//!
//! The notebooks' "dot-product MF" (Keras `Dot(axes=1)` of two `Embedding`s), with no bias
//! and no output squashing; predictions are clipped to the rating range only when scored.

use candle_core::{Result, Tensor};
use rand::Rng;

use super::memory::{DataSizes, Footprint};
use super::{Batch, ModelContext, RatingModel};
use crate::config::spec::ModelSpec;
use crate::engine::params::{Init, Params, TableId, Tape};
use crate::engine::row_dot::{DotHead, row_dot};

/// Dot-product matrix factorisation.
#[derive(Debug)]
pub struct DotMf {
    params: Params,
    users: TableId,
    items: TableId,
}

impl DotMf {
    /// User and item tables of `spec.embedding_size` factors, drawn as `model.init` says.
    ///
    /// By default (no `model.init`) factors are Normal(0, 0.1) shifted to `sqrt(mean / k)`,
    /// so that the first predictions sit near the mean rating instead of 0 (a dot product
    /// of small random vectors), which spares the first epoch the climb from 0 to ~3.5. An
    /// explicit `model.init` (the notebooks used `he-normal`) is used as given.
    pub fn new(spec: &ModelSpec, ctx: &ModelContext, rng: &mut impl Rng) -> Result<Self> {
        let k = spec.embedding_size;
        let mut params = Params::new(&ctx.device, ctx.engine);
        let init = |rows| Init::from_spec(spec.init, rows, Init::Normal { std: 0.1 });
        let users = params.table("user_factors", ctx.n_users, k, init(ctx.n_users), rng)?;
        let items = params.table("item_factors", ctx.n_items, k, init(ctx.n_items), rng)?;
        let model = DotMf {
            params,
            users,
            items,
        };
        if spec.init.is_some() {
            return Ok(model);
        }
        let centre = (ctx.global_mean.max(0.0) / k as f32).sqrt();
        for table in model.params.tables() {
            let shifted = (&table.weight + centre as f64)?;
            table.weight.slice_set(&shifted, 0, 0)?;
        }
        Ok(model)
    }
}

impl RatingModel for DotMf {
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let u = self.params.gather(self.users, &batch.users, tape)?;
        let v = self.params.gather(self.items, &batch.items, tape)?;
        row_dot(self.params.engine(), &u, &v, DotHead::Offset(0.0))
    }

    fn row_dot_parts(&self) -> Option<(TableId, TableId, DotHead)> {
        Some((self.users, self.items, DotHead::Offset(0.0)))
    }

    /// `U[users] · Vᵀ`: one matrix product.
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        super::expect_items(n_items, self.params.tables()[self.items.0].rows())?;
        self.params.dot_all(self.users, users, self.items)
    }

    fn item_vectors(&self) -> Result<Option<Tensor>> {
        Ok(Some(self.params.tables()[self.items.0].weight.clone()))
    }

    fn params(&self) -> &Params {
        &self.params
    }
}

/// What a dot-product model allocates: `k` factors per user and per item.
pub(crate) fn footprint(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    let k = spec.embedding_size;
    let mut f = Footprint::default();
    f.table("model.embedding_size", data.n_users, k)
        .table("model.embedding_size", data.n_items, k)
        .per_example("model.embedding_size", k.saturating_mul(2));
    f
}
