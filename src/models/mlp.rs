//! The notebooks' deep "MLP" recommender (a Keras model):
//! `concat(item, user embeddings) → [dense → ReLU → dropout]* → dense(1)` with a linear
//! output; predictions are clipped to the rating range only when scored.
//!
//! The notebook uses 5 factors per side (`model.user_embedding_size`,
//! `model.item_embedding_size`) and hidden layers 128 and 32 (the default
//! `model.hidden_layers`), without dropout; `model.dropouts` and `model.embedding_dropout`
//! apply if set.
//!
//! Default initialisation (`model.init` absent) is Keras's for these layers, since the
//! notebook sets none: embeddings Uniform(−0.05, 0.05), dense weights `glorot_uniform`
//! (Uniform(±√(6 / (in + out)))), zero biases. With `model.init` set, embeddings and
//! dense weights both use it; biases stay zero.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor};
use rand::Rng;

use super::memory::{DataSizes, Footprint};
use super::{Batch, ModelContext, RatingModel};
use crate::config::spec::ModelSpec;
use crate::engine::dense::{self, ReluStack};
use crate::engine::loss::Loss;
use crate::engine::params::{Init, Params, TableId, Tape};
use crate::engine::row_dot::DotHead;

/// Keras's default `Embedding` initialiser, Uniform(−0.05, 0.05).
const KERAS_EMBEDDING_INIT: Init = Init::Uniform { limit: 0.05 };

/// Dense ReLU layers on the concatenated item and user embeddings, linear output.
#[derive(Debug)]
pub struct Mlp {
    params: Params,
    users: TableId,
    items: TableId,
    embedding_dropout: f64,
    stack: ReluStack,
}

impl Mlp {
    /// Item (`spec.item_size()`) and user (`spec.user_size()`) tables and the dense layers
    /// of `spec.hidden_layers` with `spec.dropouts`.
    pub fn new(spec: &ModelSpec, ctx: &ModelContext, rng: &mut impl Rng) -> Result<Self> {
        let mut params = Params::new(&ctx.device, ctx.engine);
        let table_init = |rows| Init::from_spec(spec.init, rows, KERAS_EMBEDDING_INIT);
        let (ku, ki) = (spec.user_size(), spec.item_size());
        let items = params.table(
            "item_embedding",
            ctx.n_items,
            ki,
            table_init(ctx.n_items),
            rng,
        )?;
        let users = params.table(
            "user_embedding",
            ctx.n_users,
            ku,
            table_init(ctx.n_users),
            rng,
        )?;
        let stack = dense::relu_stack(
            &mut params,
            "dense",
            ki + ku,
            &spec.hidden_layers,
            &spec.dropouts,
            |fan_in, fan_out| {
                Init::from_spec(spec.init, fan_in, Init::glorot_uniform(fan_in, fan_out))
            },
            rng,
        )?;
        Ok(Mlp {
            params,
            users,
            items,
            embedding_dropout: spec.embedding_dropout,
            stack,
        })
    }
}

impl Mlp {
    /// The batch's item and user embeddings side by side, `(B, ki + ku)`.
    fn input(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        self.params
            .gather_pair((self.items, &batch.items), (self.users, &batch.users), tape)
    }
}

impl RatingModel for Mlp {
    /// # Shapes
    /// `batch.users`, `batch.items`: `(B,)` → embeddings `(B, ki)`, `(B, ku)` → concat
    /// `(B, ki + ku)`, item first → hidden `(B, h₁)` … → `(B,)`.
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let x = self.input(batch, tape)?;
        self.stack
            .forward_with_head(&x, self.embedding_dropout, DotHead::Offset(0.0), tape)
    }

    /// The step without autograd ([`dense::stack_step`]).
    fn fused_step(
        &self,
        batch: &Batch,
        target: &Tensor,
        loss: Loss,
        tape: &mut Tape,
    ) -> Result<Option<(f32, GradStore)>> {
        let x = self.input(batch, tape)?;
        let head = DotHead::Offset(0.0);
        dense::stack_step(
            &self.stack,
            &x,
            self.embedding_dropout,
            head,
            target,
            loss,
            tape,
        )
        .map(Some)
    }

    fn params(&self) -> &Params {
        &self.params
    }

    /// The item embedding table.
    fn item_vectors(&self) -> Result<Option<Tensor>> {
        Ok(Some(self.params.tables()[self.items.0].weight.clone()))
    }
}

/// What the MLP allocates: the user and item tables, and the ReLU stack from their
/// concatenation through `model.hidden_layers` to one output.
pub(crate) fn footprint(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    super::memory::concatenated_towers(spec, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Architecture;
    use crate::models::testing::*;
    use rand::SeedableRng;

    fn mlp(spec: &ModelSpec, n: usize) -> Mlp {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        Mlp::new(spec, &ctx(n, n), &mut rng).unwrap()
    }

    #[test]
    fn forward_puts_the_item_first_and_has_a_linear_output() {
        let mut spec = ModelSpec::with_defaults(Architecture::Mlp, 1);
        spec.item_embedding_size = Some(2);
        spec.hidden_layers = vec![2];
        spec.dropouts = vec![0.0];
        let model = mlp(&spec, 2);
        set_rows(&model.params, model.items, &[1.0, 0.0, 0.5, -1.0]);
        set_rows(&model.params, model.users, &[2.0, -1.0]);
        let (hidden, _) = &model.stack.hidden()[0];
        set_var(&hidden.weight, &[1.0, 1.0, 1.0, -1.0, 0.0, 0.5]);
        set_var(&hidden.bias, &[0.0, 2.0]);
        set_var(&model.stack.output().weight, &[2.0, -0.5]);
        set_var(&model.stack.output().bias, &[0.5]);
        // user 0, item 0: x = [1, 0, 2] → h = [3, −1 + 1 + 2] = [3, 2] → relu [3, 2]
        //   → 6 − 1 + 0.5 = 5.5 (above the range: no squashing).
        // user 1, item 1: x = [0.5, −1, −1] → h = [−1.5, −0.5 − 0.5 + 2] → relu [0, 1]
        //   → −0.5 + 0.5 = 0.
        let p = predict(&model, &batch(&[0, 1], &[0, 1]), &mut Tape::off());
        assert!((p[0] - 5.5).abs() < 1e-6, "{p:?}");
        assert!(p[1].abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn one_step_moves_towards_the_target_and_only_touched_rows() {
        let mut spec = ModelSpec::with_defaults(Architecture::Mlp, 5);
        spec.hidden_layers = vec![8, 4];
        spec.dropouts = vec![0.0, 0.0];
        let model = mlp(&spec, 3);
        one_step_moves_towards_target(&model, [5.0, 1.0], 0.01);
    }

    #[test]
    fn default_init_is_keras_uniform_and_glorot() {
        let model = mlp(&ModelSpec::with_defaults(Architecture::Mlp, 5), 50);
        for table in model.params.tables() {
            let w: Vec<Vec<f32>> = table.weight.to_vec2().unwrap();
            assert!(w.iter().flatten().all(|x| x.abs() <= 0.05));
        }
        // dense1: 10 → 128, glorot limit √(6 / 138) = 0.208514.
        let (name, w) = &model.params.dense_vars()[0];
        assert_eq!(name, "dense1.weight");
        assert_eq!(w.dims(), [128, 10]);
        let w: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        assert!(w.iter().all(|x| x.abs() <= 0.208_52));
        assert!(w.iter().any(|x| x.abs() > 0.15));
    }
}
