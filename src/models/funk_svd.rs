//! Funk-style biased SVD, the classical baseline of the Netflix prize and Surprise's `SVD`:
//! `rating = μ + b_u + b_i + u·v`, linear output, predictions clipped to the rating range
//! only when scored.
//!
//! `μ` is the mean training rating, a constant (as in Surprise, not trained). The biases
//! live inside the factor tables as in [`super::biased_mf`]: a user row is
//! `[u₁ … u_k, b_u, 1]` and an item row `[v₁ … v_k, 1, b_i]`, the constant-1 columns
//! frozen, so one gather per side and one dot product of length k + 2 give
//! `u·v + b_u + b_i`; `training.l2` then regularises factors and biases alike, as
//! Surprise's single `reg_all` does.
//!
//! Default initialisation (`model.init` absent), as Surprise: factors Normal(0, 0.1),
//! biases 0. With `model.init` set, the factors use it (fan-in = table rows); biases still
//! start at 0. It is trained by whichever optimiser `training.optimizer` names; Funk and
//! Surprise use plain SGD.

use candle_core::{Result, Tensor};
use rand::Rng;

use super::memory::{DataSizes, Footprint};
use super::{Batch, ModelContext, RatingModel};
use crate::config::spec::ModelSpec;
use crate::engine::params::{Init, Params, TableId, Tape};
use crate::engine::row_dot::{DotHead, row_dot};

/// Surprise's `SVD` factor initialiser (`init_std_dev = 0.1`).
const SURPRISE_FACTOR_INIT: Init = Init::Normal { std: 0.1 };

/// `μ + b_u + b_i + u·v` with biases folded into the tables.
#[derive(Debug)]
pub struct FunkSvd {
    params: Params,
    users: TableId,
    items: TableId,
    mean: f32,
}

impl FunkSvd {
    /// Tables of `spec.embedding_size` factors plus the bias and constant columns; `μ` is
    /// `ctx.global_mean`.
    pub fn new(spec: &ModelSpec, ctx: &ModelContext, rng: &mut impl Rng) -> Result<Self> {
        let k = spec.embedding_size;
        let mut params = Params::new(&ctx.device, ctx.engine);
        let init = |rows| Init::from_spec(spec.init, rows, SURPRISE_FACTOR_INIT);
        let (users, items) =
            params.bias_trick_tables((ctx.n_users, ctx.n_items), k, init, 0.0, rng)?;
        Ok(FunkSvd {
            params,
            users,
            items,
            mean: ctx.global_mean,
        })
    }
}

impl RatingModel for FunkSvd {
    /// # Shapes
    /// `batch.users`, `batch.items`: `(B,)` → rows `(B, k + 2)` each → `(B,)`.
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let u = self.params.gather(self.users, &batch.users, tape)?;
        let v = self.params.gather(self.items, &batch.items, tape)?;
        row_dot(self.params.engine(), &u, &v, DotHead::Offset(self.mean))
    }

    fn row_dot_parts(&self) -> Option<(TableId, TableId, DotHead)> {
        Some((self.users, self.items, DotHead::Offset(self.mean)))
    }

    /// `μ + U[users] · Vᵀ` (biases included by the bias trick).
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        super::expect_items(n_items, self.params.tables()[self.items.0].rows())?;
        self.params
            .dot_all(self.users, users, self.items)?
            .affine(1.0, self.mean as f64)
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

/// What Funk SVD allocates: the bias-trick tables, `k + 2` columns per user and item.
pub(crate) fn footprint(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    super::biased_mf::footprint(spec, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Architecture;
    use crate::models::testing::*;
    use rand::SeedableRng;

    fn funk(k: usize, n: usize) -> FunkSvd {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let spec = ModelSpec::with_defaults(Architecture::FunkSvd, k);
        FunkSvd::new(&spec, &ctx(n, n), &mut rng).unwrap()
    }

    #[test]
    fn forward_is_mean_plus_biases_plus_dot_product() {
        let model = funk(1, 2);
        // Rows are [factor, bias, 1] for users and [factor, 1, bias] for items; μ = 3.
        set_rows(&model.params, model.users, &[1.0, 0.5, 1.0, -1.0, 0.0, 1.0]);
        set_rows(
            &model.params,
            model.items,
            &[2.0, 1.0, -0.25, 0.5, 1.0, 0.1],
        );
        // user 0, item 0: 3 + 0.5 − 0.25 + 1·2 = 5.25 (linear: not clipped here).
        // user 1, item 1: 3 + 0 + 0.1 + (−1)·0.5 = 2.6.
        let p = predict(&model, &batch(&[0, 1], &[0, 1]), &mut Tape::off());
        assert!((p[0] - 5.25).abs() < 1e-6, "{p:?}");
        assert!((p[1] - 2.6).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn starts_with_zero_biases_and_trains_no_constant() {
        let model = funk(3, 3);
        assert!(model.params.dense_vars().is_empty(), "μ is not a parameter");
        let t = tables(&model);
        assert!(t[0].iter().all(|row| row[3] == 0.0 && row[4] == 1.0));
        assert!(t[1].iter().all(|row| row[3] == 1.0 && row[4] == 0.0));
        one_step_moves_towards_target(&model, [5.0, 1.0], 0.01);
        let t = tables(&model);
        assert!(t[0].iter().all(|row| row[4] == 1.0), "{:?}", t[0]);
        assert!(t[1].iter().all(|row| row[3] == 1.0), "{:?}", t[1]);
    }
}
