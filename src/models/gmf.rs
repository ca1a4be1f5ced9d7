//! Generalised matrix factorisation (GMF), the first half of the NCF paper (He et al.,
//! 2017, eq. 9): the element-wise product of the user and item embeddings, weighted by a
//! dense output layer and squashed into the rating range,
//! `min + (max − min) · σ(hᵀ(p_u ⊙ q_i) + b)`.
//!
//! Written only against the graph path: the forward pass is candle operations and exp's
//! dense layer, and there is no fused step, so the training loop differentiates it with
//! candle's autograd on any engine and device. It is the proof that a model needs one file
//! and one line in the registry (`models::build`).
//!
//! Default initialisation (`model.init` absent): he-normal embeddings (fan-in = table
//! rows, see [`Init::from_spec`]) and a he-normal output weight, zero bias.

use candle_core::{Result, Tensor};
use rand::Rng;

use super::memory::{DataSizes, Footprint};
use super::{Batch, ModelContext, RatingModel};
use crate::config::spec::ModelSpec;
use crate::engine::activation::scaled_sigmoid;
use crate::engine::dense::{self, Linear};
use crate::engine::params::{Init, Params, TableId, Tape};

/// Generalised matrix factorisation with a scaled-sigmoid output.
#[derive(Debug)]
pub struct Gmf {
    params: Params,
    users: TableId,
    items: TableId,
    output: Linear,
    range: (f32, f32),
}

impl Gmf {
    /// User and item tables of `spec.embedding_size` columns and an output layer of one
    /// unit on them.
    pub fn new(spec: &ModelSpec, ctx: &ModelContext, rng: &mut impl Rng) -> Result<Self> {
        let k = spec.embedding_size;
        let mut params = Params::new(&ctx.device, ctx.engine);
        let init = |fan_in| Init::from_spec(spec.init, fan_in, Init::he_normal(fan_in));
        let users = params.table("user_embedding", ctx.n_users, k, init(ctx.n_users), rng)?;
        let items = params.table("item_embedding", ctx.n_items, k, init(ctx.n_items), rng)?;
        let output = dense::linear(&mut params, "output", k, 1, init(k), rng)?;
        Ok(Gmf {
            params,
            users,
            items,
            output,
            range: ctx.rating_range,
        })
    }
}

impl RatingModel for Gmf {
    /// # Shapes
    /// `batch.users`, `batch.items`: `(B,)` u32 → `(B,)` f32, inside the rating range.
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let p = self.params.gather(self.users, &batch.users, tape)?;
        let q = self.params.gather(self.items, &batch.items, tape)?;
        let z = self.output.forward(&(p * q)?)?.squeeze(1)?;
        let (lo, hi) = self.range;
        scaled_sigmoid(self.params.engine(), &z, lo, hi)
    }

    fn item_vectors(&self) -> Result<Option<Tensor>> {
        Ok(Some(self.params.tables()[self.items.0].weight.clone()))
    }

    fn params(&self) -> &Params {
        &self.params
    }
}

/// What GMF allocates: `k` factors per user and per item and a `k → 1` output layer.
pub(crate) fn footprint(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    let k = spec.embedding_size;
    let mut f = Footprint::default();
    f.table("model.embedding_size", data.n_users, k)
        .table("model.embedding_size", data.n_items, k)
        .per_example("model.embedding_size", k.saturating_mul(3))
        .layers("model.embedding_size", k, &[], Some(1));
    f
}
