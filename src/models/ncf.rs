//! Neural collaborative filtering, the notebooks' version (a Keras model):
//! `concat(user, item embeddings) → dropout → [dense → ReLU → dropout]* → dense(1)`,
//! squashed into the rating range by `min + (max − min) · σ(·)`.
//!
//! The notebooks train one hidden layer of 10 with dropout 0.05 on the embeddings and 0.5
//! after the hidden layer, and a variant with two hidden layers of 10.
//!
//! Default initialisation (`model.init` absent), as the notebooks' Keras layers:
//! he-normal embeddings (fan-in = table rows, see [`Init::from_spec`]) and he-normal dense
//! weights (fan-in = layer inputs), zero biases. With `model.init` set, embeddings and
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

/// Neural collaborative filtering with a scaled-sigmoid output.
#[derive(Debug)]
pub struct Ncf {
    params: Params,
    users: TableId,
    items: TableId,
    embedding_dropout: f64,
    stack: ReluStack,
    range: (f32, f32),
}

impl Ncf {
    /// User (`spec.user_size()`) and item (`spec.item_size()`) tables and the dense layers
    /// of `spec.hidden_layers` with `spec.dropouts`.
    pub fn new(spec: &ModelSpec, ctx: &ModelContext, rng: &mut impl Rng) -> Result<Self> {
        let mut params = Params::new(&ctx.device, ctx.engine);
        let table_init = |rows| Init::from_spec(spec.init, rows, Init::he_normal(rows));
        let (ku, ki) = (spec.user_size(), spec.item_size());
        let users = params.table(
            "user_embedding",
            ctx.n_users,
            ku,
            table_init(ctx.n_users),
            rng,
        )?;
        let items = params.table(
            "item_embedding",
            ctx.n_items,
            ki,
            table_init(ctx.n_items),
            rng,
        )?;
        let stack = dense::relu_stack(
            &mut params,
            "hidden",
            ku + ki,
            &spec.hidden_layers,
            &spec.dropouts,
            |fan_in, _| Init::from_spec(spec.init, fan_in, Init::he_normal(fan_in)),
            rng,
        )?;
        Ok(Ncf {
            params,
            users,
            items,
            embedding_dropout: spec.embedding_dropout,
            stack,
            range: ctx.rating_range,
        })
    }
}

impl Ncf {
    /// The batch's user and item embeddings side by side, `(B, ku + ki)`.
    fn input(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        self.params
            .gather_pair((self.users, &batch.users), (self.items, &batch.items), tape)
    }

    /// The output unit's head: a sigmoid scaled to the rating range.
    fn head(&self) -> DotHead {
        let (lo, hi) = self.range;
        DotHead::ScaledSigmoid { lo, hi }
    }
}

impl RatingModel for Ncf {
    /// # Shapes
    /// `batch.users`, `batch.items`: `(B,)` → embeddings `(B, ku)`, `(B, ki)` → concat
    /// `(B, ku + ki)` → hidden `(B, h₁)` … → `(B,)`.
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let x = self.input(batch, tape)?;
        self.stack
            .forward_with_head(&x, self.embedding_dropout, self.head(), tape)
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
        let (stack, dropout) = (&self.stack, self.embedding_dropout);
        dense::stack_step(stack, &x, dropout, self.head(), target, loss, tape).map(Some)
    }

    fn params(&self) -> &Params {
        &self.params
    }

    /// The item embedding table.
    fn item_vectors(&self) -> Result<Option<Tensor>> {
        Ok(Some(self.params.tables()[self.items.0].weight.clone()))
    }
}

/// What NCF allocates: the user and item tables, and the ReLU stack from their
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

    fn ncf(spec: &ModelSpec, n: usize) -> Ncf {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        Ncf::new(spec, &ctx(n, n), &mut rng).unwrap()
    }

    #[test]
    fn forward_is_a_relu_layer_then_a_scaled_sigmoid() {
        let mut spec = ModelSpec::with_defaults(Architecture::Ncf, 1);
        spec.hidden_layers = vec![2];
        let model = ncf(&spec, 2);
        set_rows(&model.params, model.users, &[1.0, -1.0]);
        set_rows(&model.params, model.items, &[2.0, 0.5]);
        let (hidden, _) = &model.stack.hidden()[0];
        set_var(&hidden.weight, &[1.0, 1.0, 1.0, -1.0]);
        set_var(&hidden.bias, &[0.0, 0.5]);
        set_var(&model.stack.output().weight, &[0.5, -1.0]);
        set_var(&model.stack.output().bias, &[0.25]);
        // user 0, item 0: x = [1, 2] → h = [3, −1 + 0.5] → relu [3, 0]
        //   → z = 1.5 + 0.25 = 1.75 → 1 + 4 σ(1.75) = 4.407811.
        // user 1, item 1: x = [−1, 0.5] → h = [−0.5, −1.5 + 0.5] → relu [0, 0]
        //   → z = 0.25 → 1 + 4 σ(0.25) = 3.248706.
        let p = predict(&model, &batch(&[0, 1], &[0, 1]), &mut Tape::off());
        assert!((p[0] - 4.407_811).abs() < 1e-5, "{p:?}");
        assert!((p[1] - 3.248_706).abs() < 1e-5, "{p:?}");
    }

    #[test]
    fn one_step_moves_towards_the_target_and_only_touched_rows() {
        let model = ncf(&ModelSpec::with_defaults(Architecture::Ncf, 4), 3);
        one_step_moves_towards_target(&model, [5.0, 1.0], 0.01);
    }

    #[test]
    fn dropout_is_on_in_training_and_off_at_evaluation() {
        let mut spec = ModelSpec::with_defaults(Architecture::Ncf, 8);
        spec.hidden_layers = vec![16];
        spec.dropouts = vec![0.5];
        spec.embedding_dropout = 0.5;
        let model = ncf(&spec, 8);
        let b = batch(&[0, 1, 2, 3, 4, 5, 6, 7], &[7, 6, 5, 4, 3, 2, 1, 0]);
        let eval = predict(&model, &b, &mut Tape::off());
        assert_eq!(eval, predict(&model, &b, &mut Tape::off()));
        let first = predict(&model, &b, &mut Tape::recording());
        let second = predict(&model, &b, &mut Tape::recording());
        assert_ne!(first, second, "two training passes drew the same masks");
    }

    #[test]
    fn dense_variables_are_named_for_weight_decay() {
        let mut spec = ModelSpec::with_defaults(Architecture::Ncf, 4);
        spec.hidden_layers = vec![10, 10];
        let model = ncf(&spec, 3);
        let names: Vec<&str> = model
            .params
            .dense_vars()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let expected = [
            "hidden1.weight",
            "hidden1.bias",
            "hidden2.weight",
            "hidden2.bias",
            "output.weight",
            "output.bias",
        ];
        assert_eq!(names, expected);
        // he-normal by default: hidden1's 10 × 8 weights have σ = √(2/8) = 0.5, biases 0.
        let w: Vec<f32> = model.params.dense_vars()[0]
            .1
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(w.iter().all(|x| x.abs() <= 2.0 * 0.5 / 0.879_625_7));
        let b: Vec<f32> = model.params.dense_vars()[1].1.to_vec1().unwrap();
        assert!(b.iter().all(|&x| x == 0.0));
    }
}
