//! I-AutoRec (Sedhain, Menon, Sanner and Xie, "AutoRec: Autoencoders Meet Collaborative
//! Filtering", WWW 2015): an item is described by its training ratings over all users,
//! encoded into `k` sigmoid units and decoded into one predicted rating per user,
//!
//! ```text
//! h(i)   = σ(r_i V + b)                  r_i: item i's training ratings (0 where unrated)
//! r̂(u,i) = W_u · h(i) + c_u              linear output, clipped to the range at evaluation
//! ```
//!
//! `V` (`n_users × k`, `encoder.weight`) and `W` (`n_users × k`, `decoder.weight`, row
//! `u` read per rating) are dense layers, both penalised by `training.weight_decay` at
//! every step, their biases `b` and `c` (the users' output biases, starting at the
//! training mean) not at all: the paper's objective, the squared error over the observed
//! ratings plus `λ/2 (‖W‖² + ‖V‖²)`, with the observed ratings in batches and a batch's
//! loss the mean over its ratings, as for every other model. (`training.l2` has nothing
//! to act on: the model has no embedding table.)
//!
//! # Batches by item
//!
//! A forward pass encodes each distinct item of its batch once, from that item's whole
//! rating vector, so its cost grows with the number of distinct items: the model trains
//! with `training.order = "by-item"` by default (a batch then holds a few items' ratings,
//! which is the paper's minibatch of item vectors cut into pieces of `batch_size`
//! ratings) and is evaluated item by item.
//!
//! # The two engines
//!
//! The graph engine encodes with candle operations alone: the batch's rating vectors as
//! a constant dense block `(items, n_users)` times `V`, so it runs on any device. Most of
//! that block is zeros (ML-100K is 94% empty), so the fused engine on the CPU computes the
//! same product from the ratings themselves, one op forward (`Σ_u r_ui V_u` per item) and
//! one backward (`∂V_u += r_ui ∂z_i`), `O(ratings · k)` instead of `O(items · n_users ·
//! k)`. The rest (bias, sigmoid, decoder) is the same on both; the engine tests check
//! that the two give the same loss and gradients.
//!
//! In training, as in the paper, the rating being predicted is part of its item's input
//! vector: the bottleneck and the weight decay are what keep the model from copying it.
//! At evaluation a test rating is never in the input (only training ratings are).
//!
//! An item without training ratings encodes to `σ(b)`; a user without any has a decoder
//! row no rating trains, which weight decay shrinks, so their predictions tend to `c_u`:
//! the model's fallback for cold items and users.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rand::Rng;

use super::memory::{DataSizes, Footprint};
use super::{Batch, EvaluationOrder, ModelContext, RatingModel};
use crate::config::spec::ModelSpec;
use crate::data::item_ratings::ItemRatings;
use crate::engine::activation::{bias_add, scaled_sigmoid};
use crate::engine::dense::{Linear, linear, linear_in_out};
use crate::engine::kernels::f32_matrix;
use crate::engine::params::{Init, Params, Tape};

/// Items encoded per block when every item's code is needed at once (`score_items`,
/// `item_vectors`): the dense input block stays `ITEM_BLOCK × n_users` values.
const ITEM_BLOCK: usize = 512;

/// The item-based autoencoder.
#[derive(Debug)]
pub struct AutoRec {
    params: Params,
    encoder: Linear,
    decoder: Linear,
    ratings: Arc<ItemRatings>,
    n_users: usize,
}

impl AutoRec {
    /// An encoder from `n_users` inputs to `spec.embedding_size` units and a decoder back
    /// to one output per user, weights drawn as `model.init` says (Glorot uniform by
    /// default, as Keras and TensorFlow ports of the paper), encoder biases zero, output
    /// biases at the training mean; `ratings` is each item's training vector.
    pub fn new(
        spec: &ModelSpec,
        ratings: Arc<ItemRatings>,
        ctx: &ModelContext,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if ratings.n_items() != ctx.n_items {
            bail!(
                "autorec: rating vectors for {} items, the data set has {}",
                ratings.n_items(),
                ctx.n_items
            )
        }
        let k = spec.embedding_size;
        let (users, mean) = (ctx.n_users, ctx.global_mean);
        let mut params = Params::new(&ctx.device, ctx.engine);
        let init = Init::from_spec(spec.init, users, Init::glorot_uniform(users, k));
        let encoder = linear_in_out(&mut params, "encoder", users, k, init, rng)?;
        // Stored `(users, k)`: row u is W_u, read per rating by `index_select`.
        let decoder = linear(&mut params, "decoder", k, users, init, rng)?;
        decoder.bias.set(&Tensor::full(mean, users, &ctx.device)?)?;
        Ok(AutoRec {
            params,
            encoder,
            decoder,
            ratings,
            n_users: users,
        })
    }

    /// The codes `h(i)` of `items`, one row each, `(items.len(), k)`.
    fn codes(&self, items: &[u32]) -> Result<Tensor> {
        let engine = self.params.engine();
        let device = self.params.device();
        let z = if engine.is_fused() && device.is_cpu() {
            let input = SparseInput::of(&self.ratings, items);
            let product = self
                .encoder
                .weight
                .apply_op1(EncodeSparse(Arc::new(input)))?;
            bias_add(engine, &product, &self.encoder.bias)?
        } else {
            let n = self.n_users;
            let mut input = vec![0.0f32; items.len() * n];
            for (row, &item) in input.chunks_exact_mut(n.max(1)).zip(items) {
                let (users, values) = self.ratings.of(item as usize);
                for (&u, &r) in users.iter().zip(values) {
                    row[u as usize] = r;
                }
            }
            let input = Tensor::from_vec(input, (items.len(), n), device)?;
            self.encoder.forward(&input)?
        };
        scaled_sigmoid(engine, &z, 0.0, 1.0)
    }

    /// The codes of every item, `(n_items, k)`, encoded a block at a time.
    fn all_codes(&self) -> Result<Tensor> {
        let items: Vec<u32> = (0..self.ratings.n_items() as u32).collect();
        let blocks = items
            .chunks(ITEM_BLOCK)
            .map(|block| self.codes(block))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&blocks, 0)
    }
}

impl RatingModel for AutoRec {
    /// # Shapes
    /// `batch.users`, `batch.items`: `(B,)` u32 → `(B,)` f32, unclipped.
    fn forward(&self, batch: &Batch, _tape: &mut Tape) -> Result<Tensor> {
        let items: Vec<u32> = batch.items.to_vec1()?;
        // Each distinct item once, in order of first appearance.
        let mut slot_of: HashMap<u32, u32> = HashMap::new();
        let mut distinct = Vec::new();
        let slots: Vec<u32> = items
            .iter()
            .map(|&item| {
                *slot_of.entry(item).or_insert_with(|| {
                    distinct.push(item);
                    distinct.len() as u32 - 1
                })
            })
            .collect();
        let codes = self.codes(&distinct)?;
        let slots = Tensor::new(slots.as_slice(), batch.items.device())?;
        let h = codes.index_select(&slots, 0)?;
        let w = self.decoder.weight.index_select(&batch.users, 0)?;
        let c = self.decoder.bias.index_select(&batch.users, 0)?;
        (h * w)?.sum(1)? + c
    }

    /// Every item's code against the users' decoder rows: `W[users] · hᵀ + c[users]`.
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        super::expect_items(n_items, self.ratings.n_items())?;
        let w = self.decoder.weight.index_select(users, 0)?;
        let c = self.decoder.bias.index_select(users, 0)?.unsqueeze(1)?;
        w.matmul(&self.all_codes()?.t()?)?.broadcast_add(&c)
    }

    /// The items' codes `h(i)`.
    fn item_vectors(&self) -> Result<Option<Tensor>> {
        Ok(Some(self.all_codes()?))
    }

    fn params(&self) -> &Params {
        &self.params
    }

    /// Item by item: a batch encodes each of its distinct items once.
    fn evaluation_order(&self) -> EvaluationOrder {
        EvaluationOrder::ByItem
    }
}

/// The rating vectors of a batch's items as sparse rows: row `d` is
/// `users[starts[d]..starts[d + 1]]` with `values` alongside.
#[derive(Debug)]
struct SparseInput {
    starts: Vec<usize>,
    users: Vec<u32>,
    values: Vec<f32>,
}

impl SparseInput {
    /// The training ratings of `items`, one row each.
    fn of(ratings: &ItemRatings, items: &[u32]) -> SparseInput {
        let mut input = SparseInput {
            starts: Vec::with_capacity(items.len() + 1),
            users: Vec::new(),
            values: Vec::new(),
        };
        input.starts.push(0);
        for &item in items {
            let (users, values) = ratings.of(item as usize);
            input.users.extend_from_slice(users);
            input.values.extend_from_slice(values);
            input.starts.push(input.users.len());
        }
        input
    }

    fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// Row `d`'s (user, rating) pairs.
    fn row(&self, d: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let (a, b) = (self.starts[d], self.starts[d + 1]);
        self.users[a..b]
            .iter()
            .zip(&self.values[a..b])
            .map(|(&u, &r)| (u as usize, r))
    }
}

/// The fused engine's encoder product `X V` for the sparse rows `X` of [`SparseInput`] and
/// the encoder weight `V` `(n_users, k)`: `(rows, k)`, differentiable in `V`.
struct EncodeSparse(Arc<SparseInput>);

impl CustomOp1 for EncodeSparse {
    fn name(&self) -> &'static str {
        "autorec-encode-sparse"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (v, n_users, k) = f32_matrix(storage, layout, self.name())?;
        let input = &self.0;
        if let Some(&u) = input.users.iter().find(|&&u| u as usize >= n_users) {
            bail!(
                "{}: user {u} outside the {n_users} encoder rows",
                self.name()
            )
        }
        let mut z = vec![0.0f32; input.rows() * k];
        for (d, out) in z.chunks_exact_mut(k.max(1)).enumerate() {
            for (u, r) in input.row(d) {
                for (o, w) in out.iter_mut().zip(&v[u * k..(u + 1) * k]) {
                    *o += r * w;
                }
            }
        }
        Ok((CpuStorage::F32(z), Shape::from((input.rows(), k))))
    }

    /// `∂V_u = Σ_d r_ud ∂z_d` over the rows `d` that hold user u.
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (n_users, k) = arg.dims2()?;
        let g = grad_res.flatten_all()?.to_vec1::<f32>()?;
        let mut grad = vec![0.0f32; n_users * k];
        for (d, gz) in g.chunks_exact(k.max(1)).enumerate() {
            for (u, r) in self.0.row(d) {
                for (o, x) in grad[u * k..(u + 1) * k].iter_mut().zip(gz) {
                    *o += r * x;
                }
            }
        }
        Ok(Some(Tensor::from_vec(grad, (n_users, k), arg.device())?))
    }
}

/// What I-AutoRec allocates: the encoder and the decoder (`n_users × k` and a bias
/// each), and per example its code, its decoder row and a dense input row.
pub(crate) fn footprint(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    let k = spec.embedding_size;
    let mut f = Footprint::default();
    f.layers(
        "model.embedding_size",
        data.n_users,
        &[k],
        Some(data.n_users),
    )
    .per_example("model.embedding_size", 2 * k + data.n_users);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::Ratings;
    use crate::models::testing::*;
    use rand::SeedableRng;

    /// Users 0–2, items 0–3: item 0 rated 5 by user 0 and 1 by user 1, item 1 rated 3 by
    /// user 2, item 2 rated 4 by user 1, item 3 never.
    fn model(k: usize) -> AutoRec {
        let ratings = Ratings {
            users: vec![0, 1, 2, 1],
            items: vec![0, 0, 1, 2],
            values: vec![5.0, 1.0, 3.0, 4.0],
            timestamps: vec![0; 4],
        };
        let by_item = Arc::new(ItemRatings::from_training(&ratings, &[0, 1, 2, 3], 4));
        let spec = ModelSpec::with_defaults(crate::config::spec::Architecture::AutoRec, k);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        AutoRec::new(&spec, by_item, &ctx(3, 4), &mut rng).unwrap()
    }

    #[test]
    fn forward_decodes_the_sigmoid_code_of_the_items_rating_vector() {
        let m = model(2);
        // V = [[1, 0], [0, 1], [0.5, 0.5]], b = [0, −1]; W_u = [u, 1], c_u = 2 for every u.
        set_var(&m.encoder.weight, &[1.0, 0.0, 0.0, 1.0, 0.5, 0.5]);
        set_var(&m.encoder.bias, &[0.0, -1.0]);
        set_var(&m.decoder.weight, &[0.0, 1.0, 1.0, 1.0, 2.0, 1.0]);
        set_var(&m.decoder.bias, &[2.0, 2.0, 2.0]);
        let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
        // Item 0: r = [5, 1, 0] → z = [5, 1 − 1]; item 3 (no ratings): z = [0, −1].
        let h0 = [sig(5.0), sig(0.0)];
        let h3 = [sig(0.0), sig(-1.0)];
        let got = predict(&m, &batch(&[0, 2, 1], &[0, 0, 3]), &mut Tape::off());
        let want = [
            0.0 * h0[0] + h0[1] + 2.0,
            2.0 * h0[0] + h0[1] + 2.0,
            h3[0] + h3[1] + 2.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn output_biases_start_at_the_training_mean() {
        let m = model(4);
        let c: Vec<f32> = m.decoder.bias.to_vec1().unwrap();
        assert_eq!(c, vec![3.0; 3]);
    }

    #[test]
    fn score_items_and_item_vectors_agree_with_forward() {
        let m = model(3);
        let scores: Vec<Vec<f32>> = m
            .score_items(
                &Tensor::new(&[2u32, 0], &candle_core::Device::Cpu).unwrap(),
                4,
            )
            .unwrap()
            .to_vec2()
            .unwrap();
        let pairs = predict(
            &m,
            &batch(&[2, 2, 2, 2, 0, 0, 0, 0], &[0, 1, 2, 3, 0, 1, 2, 3]),
            &mut Tape::off(),
        );
        for (s, p) in scores.concat().iter().zip(&pairs) {
            assert!((s - p).abs() < 1e-5, "{scores:?} vs {pairs:?}");
        }
        let vectors = m.item_vectors().unwrap().unwrap();
        assert_eq!(vectors.dims(), &[4, 3]);
        assert!(
            m.score_items(&Tensor::new(&[0u32], &candle_core::Device::Cpu).unwrap(), 5)
                .is_err()
        );
    }

    #[test]
    fn one_step_moves_towards_the_target_and_only_rows_with_a_gradient() {
        let m = model(4);
        let b = batch(&[0, 1], &[0, 2]);
        let target = [5.0f32, 4.0];
        let before = predict(&m, &b, &mut Tape::off());
        let decoder_before: Vec<Vec<f32>> = m.decoder.weight.to_vec2().unwrap();
        let encoder_before: Vec<Vec<f32>> = m.encoder.weight.to_vec2().unwrap();
        adam_step(&m, &b, &target, 0.05);
        let after = predict(&m, &b, &mut Tape::off());
        for i in 0..2 {
            assert!(
                (after[i] - target[i]).abs() < (before[i] - target[i]).abs(),
                "{before:?} → {after:?}"
            );
        }
        // A first Adam step moves exactly the rows with a gradient: the decoder rows of the
        // batch's users (0 and 1), the encoder rows of the users who rated its items 0 and
        // 2 in training (0 and 1); user 2 has neither.
        let decoder: Vec<Vec<f32>> = m.decoder.weight.to_vec2().unwrap();
        assert_eq!(decoder[2], decoder_before[2], "user 2 was not in the batch");
        assert_ne!(decoder[0], decoder_before[0]);
        let encoder: Vec<Vec<f32>> = m.encoder.weight.to_vec2().unwrap();
        assert_ne!(encoder[0], encoder_before[0]);
        assert_ne!(encoder[1], encoder_before[1]);
        assert_eq!(encoder[2], encoder_before[2]);
    }
}
