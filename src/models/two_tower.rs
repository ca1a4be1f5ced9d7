//! The content-based two-tower model: an item tower over the item's content features and
//! a user tower over the user's per-genre taste, each an MLP with L2-normalised output,
//! and the rating read off their cosine.
//!
//! ```text
//! item features (genres, year, avg rating) ─► dense ReLU … dense ─► ‖·‖₂ = 1 ─┐
//!                                                                        dot ∈ [−1, 1]
//! user features (avg rating per genre)    ─► dense ReLU … dense ─► ‖·‖₂ = 1 ─┘
//!         rating = min + (max − min) · (dot + 1) / 2
//! ```
//!
//! The features are [`ContentFeatures`] from the training ratings only (the notebook's
//! version computed them over every rating, test set included). They are constants: copied
//! to the device once at construction and gathered per batch with `index_select`, never
//! trained. Only the towers' weights and biases are parameters, so the model can score an
//! item or user that no training rating touched, as long as it has features.
//!
//! # The output scale
//!
//! The notebook scaled the targets to [−1, 1] and trained the cosine on them. This model
//! maps the cosine to the rating range instead, `rating = min + (max − min)(dot + 1)/2`,
//! and trains on raw ratings. The two are the same objective: the error on the rating is
//! `(max − min)/2` times the error on the scaled target, so the MSE differs by the constant
//! factor `((max − min)/2)²` (Adam's steps are invariant to such a factor, up to its ε).
//! The mapping also keeps every prediction inside the rating range by construction.
//!
//! # Layers
//!
//! Each tower has one dense layer per entry of `model.hidden_layers` (default
//! `[256, 128, 32]`), ReLU between layers and none after the last. Weights are stored
//! `(in, out)` so a layer is `x · W + b`, named `<tower>.<k>.weight` and `<tower>.<k>.bias`.
//! Weights start He-normal, `N(0, √(2 / fan_in))` (or as `model.init` says), biases at 0.
//! `model.dropouts[k]` is applied after layer `k` while training (inverted dropout, masks
//! drawn from the step's seeded tape).
//!
//! On the CPU a training step skips candle's autograd: both towers run as chains of fused
//! dense layers and the cosine's gradient is written out by hand
//! ([`RatingModel::fused_step`] below), tested equal to autograd.

use crate::engine::Engine;
use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, bail};
use rand::Rng;

use super::memory::{DataSizes, Footprint};
use super::{Batch, ModelContext, RatingModel};
use crate::config::spec::{InitSpec, ModelSpec};
use crate::data::features::ContentFeatures;
use crate::engine::activation::{self, dropout_mask, relu};
use crate::engine::dense::{self, Act, ChainLayer, Linear};
use crate::engine::kernels::{cpu_storage, f32_values};
use crate::engine::loss::Loss;
use crate::engine::params::{Init, Params, Tape};

/// Items per batch when computing [`TwoTower::item_vectors`].
const VECTOR_BATCH: usize = 4096;

/// Added under the square root of the L2 norm so a zero vector normalises to zero instead
/// of NaN.
const NORM_EPS: f64 = 1e-12;

/// The two-tower content model.
#[derive(Debug)]
pub struct TwoTower {
    params: Params,
    item_tower: Tower,
    user_tower: Tower,
    /// `(n_items, d_item)` constant item features on the model's device.
    item_features: Tensor,
    /// `(n_users, d_user)` constant user features on the model's device.
    user_features: Tensor,
    range: (f32, f32),
}

impl TwoTower {
    /// Builds both towers with widths `spec.hidden_layers` over `features` (which must have
    /// `ctx.n_items` item rows and `ctx.n_users` user rows), initialised from `rng`.
    pub fn new(
        spec: &ModelSpec,
        features: &ContentFeatures,
        ctx: &ModelContext,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if spec.hidden_layers.is_empty() {
            bail!("two-tower: model.hidden_layers must name at least one layer");
        }
        if features.n_items != ctx.n_items || features.n_users != ctx.n_users {
            bail!(
                "two-tower: the content features cover {} items and {} users, the data set has \
                 {} and {}",
                features.n_items,
                features.n_users,
                ctx.n_items,
                ctx.n_users
            );
        }
        if features.d_user == 0 {
            bail!("two-tower: the data set has no genres, so users have no content features");
        }
        let device = &ctx.device;
        let item_features =
            Tensor::from_slice(&features.item, (features.n_items, features.d_item), device)?;
        let user_features =
            Tensor::from_slice(&features.user, (features.n_users, features.d_user), device)?;
        let mut params = Params::new(device, ctx.engine);
        let item_tower = Tower::new("item_tower", features.d_item, spec, &mut params, rng)?;
        let user_tower = Tower::new("user_tower", features.d_user, spec, &mut params, rng)?;
        Ok(TwoTower {
            params,
            item_tower,
            user_tower,
            item_features,
            user_features,
            range: ctx.rating_range,
        })
    }

    /// L2-normalised item-tower outputs of the items `ids`.
    ///
    /// # Shapes
    /// `ids`: `(B,)` u32 → `(B, hidden_layers.last())`.
    fn embed_items(&self, ids: &Tensor, tape: &Tape) -> Result<Tensor> {
        let x = self.item_features.index_select(ids, 0)?;
        l2_normalise(&self.item_tower.forward(&x, tape)?)
    }

    /// L2-normalised user-tower outputs of the users `ids`.
    ///
    /// # Shapes
    /// `ids`: `(B,)` u32 → `(B, hidden_layers.last())`.
    fn embed_users(&self, ids: &Tensor, tape: &Tape) -> Result<Tensor> {
        let x = self.user_features.index_select(ids, 0)?;
        l2_normalise(&self.user_tower.forward(&x, tape)?)
    }

    /// The L2-normalised item-tower output of every item, row = dense item id, computed in
    /// batches without dropout: the vectors [`similar_items`] compares.
    ///
    /// # Shapes
    /// `(n_items, hidden_layers.last())`.
    pub fn item_vectors(&self) -> Result<Tensor> {
        let n = self.item_features.dim(0)?;
        let device = self.item_features.device();
        let mut chunks = Vec::with_capacity(n.div_ceil(VECTOR_BATCH));
        for start in (0..n).step_by(VECTOR_BATCH) {
            let end = (start + VECTOR_BATCH).min(n);
            let ids = Tensor::arange(start as u32, end as u32, device)?;
            chunks.push(self.embed_items(&ids, &Tape::off())?);
        }
        if chunks.is_empty() {
            let width = self.item_tower.out_width();
            return Tensor::zeros((0, width), DType::F32, device);
        }
        Tensor::cat(&chunks, 0)
    }
}

impl RatingModel for TwoTower {
    /// `min + (max − min) · (û · v̂ + 1) / 2` with û, v̂ the normalised tower outputs.
    ///
    /// # Shapes
    /// `batch.users`, `batch.items`: `(B,)` u32 → `(B,)` f32, within the rating range.
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let u = self.embed_users(&batch.users, tape)?;
        let v = self.embed_items(&batch.items, tape)?;
        cosine_to_rating(&(u * v)?.sum(1)?, self.range)
    }

    /// The user-tower outputs of `users` against [`TwoTower::item_vectors`], one matrix
    /// product (the item vectors are recomputed per call: a few milliseconds per
    /// thousand items).
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        super::expect_items(n_items, self.item_features.dim(0)?)?;
        let u = self.embed_users(users, &Tape::off())?;
        let dots = u.matmul(&self.item_vectors()?.t()?)?;
        cosine_to_rating(&dots, self.range)
    }

    fn item_vectors(&self) -> Result<Option<Tensor>> {
        TwoTower::item_vectors(self).map(Some)
    }

    fn checkpoint_extras(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(vec![("item_vectors".to_owned(), self.item_vectors()?)])
    }

    fn params(&self) -> &Params {
        &self.params
    }

    /// The step without autograd: both towers through
    /// [`dense::chain_forward`], the normalised cosine and its gradient by hand, then
    /// [`dense::chain_backward`]. Dropout masks are drawn in `forward`'s order (the
    /// user tower's layers, then the item tower's).
    fn fused_step(
        &self,
        batch: &Batch,
        target: &Tensor,
        loss: Loss,
        tape: &mut Tape,
    ) -> Result<Option<(f32, GradStore)>> {
        const OP: &str = "two-tower-step";
        let rows = batch.users.dim(0)?;
        let xu = self.user_features.index_select(&batch.users, 0)?;
        let xi = self.item_features.index_select(&batch.items, 0)?;
        let user_chain = self.user_tower.chain(rows, tape);
        let item_chain = self.item_tower.chain(rows, tape);
        let user_out = dense::chain_forward(&user_chain, &xu)?;
        let item_out = dense::chain_forward(&item_chain, &xi)?;
        let last = |out: &'_ dense::Activations| -> Result<Vec<f32>> {
            match out.last() {
                Some((s, l)) => Ok(f32_values(s, l, OP)?.to_vec()),
                None => bail!("{OP}: a tower without layers"),
            }
        };
        let (u, v) = (last(&user_out)?, last(&item_out)?);
        let (st, lt) = target.storage_and_layout();
        let t = f32_values(cpu_storage(&st, OP)?, lt, OP)?;
        if u.len() != v.len() || t.len() != rows {
            bail!(
                "{OP}: towers of {} and {} values, {} targets",
                u.len(),
                v.len(),
                t.len()
            );
        }
        let d = u.len() / rows.max(1);
        let (lo, hi) = self.range;
        let half = (hi - lo) / 2.0;
        let norm = |x: &[f32]| (x.iter().map(|x| x * x).sum::<f32>() + NORM_EPS as f32).sqrt();
        // Per row: the norms of both tower outputs and the cosine of the two.
        let mut per_row = Vec::with_capacity(rows);
        let mut predicted = Vec::with_capacity(rows);
        for (a, b) in u.chunks_exact(d.max(1)).zip(v.chunks_exact(d.max(1))) {
            let (na, nb) = (norm(a), norm(b));
            let cos: f32 = a.iter().zip(b).map(|(a, b)| (a / na) * (b / nb)).sum();
            per_row.push((na, nb, cos));
            predicted.push(cos * half + (lo + half));
        }
        let (loss, dl_dy) = loss.value_and_gradient(&predicted, t);
        // With û = u/‖u‖, v̂ = v/‖v‖ and c = û·v̂: ∂c/∂u = (v̂ − c û)/‖u‖, and alike for v.
        let (mut du, mut dv) = (Vec::with_capacity(u.len()), Vec::with_capacity(v.len()));
        for (r, (a, b)) in u
            .chunks_exact(d.max(1))
            .zip(v.chunks_exact(d.max(1)))
            .enumerate()
        {
            let (na, nb, cos) = per_row[r];
            let gc = dl_dy[r] * half;
            du.extend(
                a.iter()
                    .zip(b)
                    .map(|(a, b)| gc * (b / nb - cos * (a / na)) / na),
            );
            dv.extend(
                a.iter()
                    .zip(b)
                    .map(|(a, b)| gc * (a / na - cos * (b / nb)) / nb),
            );
        }
        let mut grads = GradStore::default();
        dense::chain_backward(&user_chain, &xu, &user_out, du, false, &mut grads)?;
        dense::chain_backward(&item_chain, &xi, &item_out, dv, false, &mut grads)?;
        Ok(Some((loss, grads)))
    }
}

/// The `n` items most similar to `item` by cosine similarity of the rows of `vectors`
/// (`(n_items, d)`, e.g. [`TwoTower::item_vectors`]), most similar first, `item` itself
/// excluded; ties go to the lower id. Rows need not be normalised.
pub fn similar_items(vectors: &Tensor, item: u32, n: usize) -> Result<Vec<(u32, f32)>> {
    let (rows, _) = vectors.dims2()?;
    if item as usize >= rows {
        bail!("similar_items: item {item} is out of range for {rows} item vectors");
    }
    let normed = l2_normalise(&vectors.to_dtype(DType::F32)?)?;
    let query = normed.get(item as usize)?.unsqueeze(1)?;
    let similarity: Vec<f32> = normed.matmul(&query)?.squeeze(1)?.to_vec1()?;
    let mut ranked: Vec<(u32, f32)> = similarity
        .into_iter()
        .enumerate()
        .filter(|&(id, _)| id != item as usize)
        .map(|(id, s)| (id as u32, s))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(n);
    Ok(ranked)
}

/// Maps a cosine in [−1, 1] to the rating range: `min + (max − min)(dot + 1)/2`.
fn cosine_to_rating(dot: &Tensor, (lo, hi): (f32, f32)) -> Result<Tensor> {
    let half = (hi as f64 - lo as f64) / 2.0;
    dot.affine(half, lo as f64 + half)
}

/// Each row divided by its L2 norm (rows of zeros stay zero).
///
/// # Shapes
/// `(B, d)` → `(B, d)`.
fn l2_normalise(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(1)?.affine(1.0, NORM_EPS)?.sqrt()?;
    x.broadcast_div(&norm)
}

/// A stack of dense layers (weights stored `(in, out)`, as Keras stores them), ReLU
/// between them and none after the last, each followed by its dropout while training.
#[derive(Debug)]
struct Tower {
    /// Each layer with the dropout rate after it.
    layers: Vec<(Linear, f64)>,
    engine: Engine,
}

impl Tower {
    /// Registers the layers of tower `name` (input width `input`, widths
    /// `spec.hidden_layers`) in `params`.
    fn new(
        name: &str,
        input: usize,
        spec: &ModelSpec,
        params: &mut Params,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let mut layers = Vec::with_capacity(spec.hidden_layers.len());
        let mut fan_in = input;
        for (k, &width) in spec.hidden_layers.iter().enumerate() {
            let init = weight_init(spec.init, fan_in);
            let layer =
                dense::linear_in_out(params, &format!("{name}.{k}"), fan_in, width, init, rng)?;
            // Rounded through f32 as the tower has always stored it, so that a seeded
            // run draws the same dropout masks as before.
            let dropout = spec.dropouts.get(k).copied().unwrap_or(0.0) as f32 as f64;
            layers.push((layer, dropout));
            fan_in = width;
        }
        Ok(Tower {
            layers,
            engine: params.engine(),
        })
    }

    /// Width of the last layer.
    fn out_width(&self) -> usize {
        self.layers.last().map_or(0, |(layer, _)| layer.out_width())
    }

    /// The layers as a chain for the step without autograd, each with its dropout mask
    /// for `rows` rows drawn from `tape` in [`Tower::forward`]'s order.
    fn chain(&self, rows: usize, tape: &Tape) -> Vec<ChainLayer<'_>> {
        let last = self.layers.len().saturating_sub(1);
        let mut chain = Vec::with_capacity(self.layers.len());
        for (k, (layer, dropout)) in self.layers.iter().enumerate() {
            let act = if k < last { Act::Relu } else { Act::Linear };
            let mask = dropout_mask(tape, rows * layer.out_width(), *dropout);
            chain.push(ChainLayer::new(layer, act, None, mask));
        }
        chain
    }

    /// # Shapes
    /// `(B, in)` → `(B, out_width)`.
    fn forward(&self, x: &Tensor, tape: &Tape) -> Result<Tensor> {
        let mut x = x.clone();
        let last = self.layers.len().saturating_sub(1);
        for (k, (layer, dropout)) in self.layers.iter().enumerate() {
            x = layer.forward(&x)?;
            if k < last {
                x = relu(self.engine, &x)?;
            }
            x = activation::dropout(&x, *dropout, tape)?;
        }
        Ok(x)
    }
}

/// The initialiser of a weight matrix with `fan_in` inputs: He-normal unless `model.init`
/// names another.
fn weight_init(spec: Option<InitSpec>, fan_in: usize) -> Init {
    match spec {
        None | Some(InitSpec::HeNormal) => Init::Normal {
            std: (2.0 / fan_in.max(1) as f32).sqrt(),
        },
        Some(InitSpec::Normal { std }) => Init::Normal { std: std as f32 },
        Some(InitSpec::Uniform { limit }) => Init::Uniform {
            limit: limit as f32,
        },
    }
}

/// What the two-tower model allocates: the content features, and two towers of
/// `model.hidden_layers` over them (items: `n_genres + 2` inputs, users: `n_genres`).
pub(crate) fn footprint(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    let (d_item, d_user) = (data.n_genres.saturating_add(2), data.n_genres);
    let mut f = Footprint::default();
    f.input("model.architecture", data.n_items, d_item)
        .input("model.architecture", data.n_users, d_user)
        .layers("model.hidden_layers", d_item, &spec.hidden_layers, None)
        .layers("model.hidden_layers", d_user, &spec.hidden_layers, None);
    f
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use candle_core::Device;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    use super::*;
    use crate::config::spec::{Architecture, TrainingSpec};

    fn features(item: Vec<f32>, d_item: usize, user: Vec<f32>, d_user: usize) -> ContentFeatures {
        ContentFeatures {
            n_items: item.len() / d_item,
            n_users: user.len() / d_user,
            item,
            d_item,
            user,
            d_user,
            genres: (0..d_user).map(|g| format!("g{g}")).collect(),
            year_median: 0.0,
            year_mean: 0.0,
            year_std: 1.0,
            global_mean: 3.0,
        }
    }

    fn ctx(f: &ContentFeatures, range: (f32, f32)) -> ModelContext {
        ModelContext {
            n_users: f.n_users,
            n_items: f.n_items,
            rating_range: range,
            global_mean: 3.0,
            device: Device::Cpu,
            engine: Engine::Fused,
            features: Some(Arc::new(f.clone())),
            implicit: None,
            item_ratings: None,
        }
    }

    fn spec(hidden: &[usize]) -> ModelSpec {
        let mut spec = ModelSpec::with_defaults(Architecture::TwoTower, 1);
        spec.hidden_layers = hidden.to_vec();
        spec.dropouts = vec![0.0; hidden.len()];
        spec
    }

    fn batch(users: &[u32], items: &[u32]) -> Batch {
        Batch {
            users: Tensor::new(users, &Device::Cpu).unwrap(),
            items: Tensor::new(items, &Device::Cpu).unwrap(),
        }
    }

    fn set(var: &candle_core::Var, values: &[f32]) {
        var.set(&Tensor::from_slice(values, var.dims(), &Device::Cpu).unwrap())
            .unwrap();
    }

    /// Random features and a model over them with `hidden` layers.
    fn random_model(hidden: &[usize], seed: u64) -> (TwoTower, ContentFeatures) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, 3.0).unwrap();
        let item: Vec<f32> = normal.sample_iter(&mut rng).take(7 * 5).collect();
        let user: Vec<f32> = normal.sample_iter(&mut rng).take(6 * 3).collect();
        let f = features(item, 5, user, 3);
        let model = TwoTower::new(&spec(hidden), &f, &ctx(&f, (0.5, 5.0)), &mut rng).unwrap();
        (model, f)
    }

    #[test]
    fn score_items_matches_the_pairwise_forward_pass() {
        let (model, f) = random_model(&[8, 4], 11);
        let users = [0u32, 3, 5];
        let block: Vec<Vec<f32>> = model
            .score_items(&Tensor::new(&users, &Device::Cpu).unwrap(), f.n_items)
            .unwrap()
            .to_vec2()
            .unwrap();
        for (row, &u) in block.iter().zip(&users) {
            let items: Vec<u32> = (0..f.n_items as u32).collect();
            let pairwise: Vec<f32> = model
                .forward(&batch(&vec![u; f.n_items], &items), &mut Tape::off())
                .unwrap()
                .to_vec1()
                .unwrap();
            for (a, b) in row.iter().zip(&pairwise) {
                assert!((a - b).abs() < 1e-5, "user {u}: {row:?} vs {pairwise:?}");
            }
        }
        let vectors = RatingModel::item_vectors(&model).unwrap().unwrap();
        assert_eq!(vectors.dims(), [f.n_items, 4]);
    }

    #[test]
    fn forward_matches_a_hand_computed_example() {
        // Items (d_item = 4): i0 = [1, 0, 0.5, −0.5], i1 = [0, 1, 0, 0].
        // Users (d_user = 2): u0 = [0.5, 1], u1 = [−1, 0], u2 = [0, −1].
        let f = features(
            vec![1.0, 0.0, 0.5, -0.5, 0.0, 1.0, 0.0, 0.0],
            4,
            vec![0.5, 1.0, -1.0, 0.0, 0.0, -1.0],
            2,
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let model = TwoTower::new(&spec(&[2]), &f, &ctx(&f, (1.0, 5.0)), &mut rng).unwrap();
        let (item, user) = (&model.item_tower.layers[0].0, &model.user_tower.layers[0].0);
        set(&item.weight, &[1.0, 2.0, 0.0, 0.0, 2.0, 2.0, -2.0, 0.0]);
        set(&item.bias, &[0.0, 1.0]);
        set(&user.weight, &[2.0, 0.0, 3.0, 3.0]);
        set(&user.bias, &[0.0, 0.0]);
        // Item tower: i0 → [1, 2] + 0.5·[2, 2] − 0.5·[−2, 0] + [0, 1] = [3, 4] → [0.6, 0.8];
        //             i1 → [0, 0] + [0, 1] → [0, 1].
        // User tower: u0 → 0.5·[2, 0] + [3, 3] = [4, 3] → [0.8, 0.6];
        //             u1 → [−2, 0] → [−1, 0];  u2 → [−3, −3] → [−0.707107, −0.707107].
        // rating = 1 + 4 (dot + 1) / 2 = 3 + 2 dot:
        //   (u0, i0) 0.96 → 4.92; (u1, i0) −0.6 → 1.8; (u1, i1) 0 → 3;
        //   (u0, i1) 0.6 → 4.2;   (u2, i1) −0.707107 → 1.585786.
        let p: Vec<f32> = model
            .forward(&batch(&[0, 1, 1, 0, 2], &[0, 0, 1, 1, 1]), &mut Tape::off())
            .unwrap()
            .to_vec1()
            .unwrap();
        let expected = [4.92, 1.8, 3.0, 4.2, 1.585_786];
        for (p, e) in p.iter().zip(expected) {
            assert!((p - e).abs() < 1e-5, "{p} vs {e}");
        }
    }

    #[test]
    fn relu_sits_between_layers_and_not_after_the_last() {
        let f = features(vec![1.0, -1.0], 2, vec![1.0], 1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let model = TwoTower::new(&spec(&[2, 2]), &f, &ctx(&f, (1.0, 5.0)), &mut rng).unwrap();
        let tower = &model.item_tower;
        // Layer 0: [1, −1] · I + [0, 0] = [1, −1] → ReLU → [1, 0].
        set(&tower.layers[0].0.weight, &[1.0, 0.0, 0.0, 1.0]);
        set(&tower.layers[0].0.bias, &[0.0, 0.0]);
        // Layer 1: [1, 0] · [[−3, 4], [9, 9]] + [0, 0] = [−3, 4], kept negative.
        set(&tower.layers[1].0.weight, &[-3.0, 4.0, 9.0, 9.0]);
        set(&tower.layers[1].0.bias, &[0.0, 0.0]);
        let x = Tensor::new(&[[1.0f32, -1.0]], &Device::Cpu).unwrap();
        let out: Vec<Vec<f32>> = tower.forward(&x, &Tape::off()).unwrap().to_vec2().unwrap();
        assert_eq!(out, [[-3.0, 4.0]]);
        let v: Vec<Vec<f32>> = model.item_vectors().unwrap().to_vec2().unwrap();
        assert!(
            (v[0][0] + 0.6).abs() < 1e-6 && (v[0][1] - 0.8).abs() < 1e-6,
            "{v:?}"
        );
    }

    #[test]
    fn the_cosine_maps_linearly_onto_the_rating_range() {
        let dot = Tensor::new(&[-1.0f32, 0.0, 0.5, 1.0], &Device::Cpu).unwrap();
        let r: Vec<f32> = cosine_to_rating(&dot, (1.0, 5.0))
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(r, [1.0, 3.0, 4.0, 5.0]);
        let r: Vec<f32> = cosine_to_rating(&dot, (0.5, 5.0))
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(r, [0.5, 2.75, 3.875, 5.0]);
    }

    #[test]
    fn predictions_stay_in_the_rating_range_and_tower_outputs_have_unit_norm() {
        for seed in 0..4 {
            let (model, f) = random_model(&[16, 8, 4], seed);
            let users: Vec<u32> = (0..f.n_users as u32).flat_map(|u| [u; 7]).collect();
            let items: Vec<u32> = (0..f.n_users).flat_map(|_| 0..7u32).collect();
            let b = batch(&users, &items);
            let p: Vec<f32> = model
                .forward(&b, &mut Tape::off())
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(p.iter().all(|p| (0.5..=5.0).contains(p)), "{p:?}");
            let spread = p.iter().copied().fold(f32::MIN, f32::max)
                - p.iter().copied().fold(f32::MAX, f32::min);
            assert!(spread > 0.1, "predictions vary: {p:?}");
            for vectors in [
                model.embed_users(&b.users, &Tape::off()).unwrap(),
                model.embed_items(&b.items, &Tape::off()).unwrap(),
                model.item_vectors().unwrap(),
            ] {
                let norms: Vec<f32> = vectors.sqr().unwrap().sum(1).unwrap().to_vec1().unwrap();
                assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
            }
        }
    }

    #[test]
    fn item_vectors_cover_every_item_with_the_last_width() {
        let (model, f) = random_model(&[8, 3], 1);
        let v = model.item_vectors().unwrap();
        assert_eq!(v.dims(), [f.n_items, 3]);
        // Row i is what the forward pass uses for item i.
        let ids = Tensor::new(&[4u32, 0], &Device::Cpu).unwrap();
        let direct: Vec<Vec<f32>> = model
            .embed_items(&ids, &Tape::off())
            .unwrap()
            .to_vec2()
            .unwrap();
        let rows: Vec<Vec<f32>> = v.index_select(&ids, 0).unwrap().to_vec2().unwrap();
        assert_eq!(direct, rows);
    }

    #[test]
    fn one_adam_step_reduces_the_loss() {
        let (model, _) = random_model(&[16, 8], 5);
        let b = batch(&[0, 1, 2, 3, 4, 5], &[0, 1, 2, 3, 4, 5]);
        let target = Tensor::new(&[5.0f32, 0.5, 4.0, 1.0, 3.0, 2.5], &Device::Cpu).unwrap();
        let loss = |model: &TwoTower| -> f32 {
            let p = model.forward(&b, &mut Tape::off()).unwrap();
            Loss::Mse
                .value(Engine::Fused, &p, &target)
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        let before = loss(&model);
        let mut opt = crate::engine::optim::adam::Adam::new(
            model.params(),
            crate::engine::optim::adam::AdamConfig::new(0.001, 0.0),
        );
        use crate::engine::optim::Optimizer;
        let mut tape = Tape::recording();
        let p = model.forward(&b, &mut tape).unwrap();
        let l = Loss::Mse.value(Engine::Fused, &p, &target).unwrap();
        opt.step(model.params(), &tape, &l.backward().unwrap())
            .unwrap();
        let after = loss(&model);
        assert!(after < before, "loss {before} → {after}");
        // The features are constants: only the towers' 2 × 2 × 2 tensors are parameters.
        assert_eq!(model.params().dense_vars().len(), 8);
        assert!(model.params().tables().is_empty());
    }

    /// Towers with and without dropout, one layer and three: the step's loss and every
    /// weight's and bias's gradient equal autograd's through `forward` on a tape with the
    /// same seed, for every loss.
    #[test]
    fn the_step_matches_autograd() {
        use crate::config::spec::LossName;
        let b = batch(&[0, 3, 5, 3, 1], &[6, 2, 0, 2, 4]);
        let target = Tensor::new(&[4.0f32, 1.0, 3.5, 2.0, 5.0], &Device::Cpu).unwrap();
        let mut compared = 0;
        for (hidden, dropouts) in [(vec![8, 6, 4], vec![0.3, 0.5, 0.2]), (vec![4], vec![0.0])] {
            let (_, f) = random_model(&hidden, 17);
            let mut spec = spec(&hidden);
            spec.dropouts = dropouts;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
            let model = TwoTower::new(&spec, &f, &ctx(&f, (0.5, 5.0)), &mut rng).unwrap();
            for loss in [LossName::Mse, LossName::Mae, LossName::Huber] {
                let training = TrainingSpec {
                    loss,
                    huber_delta: 0.5,
                    ..TrainingSpec::adam(1, 5, 0.01, 0.0)
                };
                let (value, grads) = model
                    .fused_step(
                        &b,
                        &target,
                        Loss::of(&training),
                        &mut Tape::recording_seeded(9),
                    )
                    .unwrap()
                    .expect("a direct step on the CPU");
                let predicted = model.forward(&b, &mut Tape::recording_seeded(9)).unwrap();
                let graph_loss = Loss::of(&training)
                    .value(Engine::Fused, &predicted, &target)
                    .unwrap();
                let graph_grads = graph_loss.backward().unwrap();
                let what = format!("{hidden:?} {loss:?}");
                let graph_value = graph_loss.to_scalar::<f32>().unwrap();
                assert!(
                    (value - graph_value).abs() < 1e-5,
                    "{what}: {value} vs {graph_value}"
                );
                for (name, var) in model.params().dense_vars() {
                    let flat =
                        |t: &Tensor| -> Vec<f32> { t.flatten_all().unwrap().to_vec1().unwrap() };
                    let direct = flat(grads.get(var.as_tensor()).expect(name));
                    let graph = flat(graph_grads.get(var.as_tensor()).unwrap());
                    assert_eq!(direct.len(), graph.len(), "{what} {name}");
                    assert!(graph.iter().any(|&g| g != 0.0), "{what} {name}: all zero");
                    for (x, y) in direct.iter().zip(&graph) {
                        assert!(
                            (x - y).abs() < 1e-5,
                            "{what} {name}: {direct:?} vs {graph:?}"
                        );
                    }
                }
                compared += 1;
            }
        }
        assert_eq!(compared, 6);
    }

    #[test]
    fn similar_items_ranks_by_cosine_and_skips_the_query() {
        // Item 0 points along x; 1 is x scaled (cosine 1); 2 at 45° (0.707107);
        // 3 along y (0); 4 opposite (−1).
        let v = Tensor::new(
            &[
                [1.0f32, 0.0],
                [3.0, 0.0],
                [1.0, 1.0],
                [0.0, 2.0],
                [-1.0, 0.0],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let s = similar_items(&v, 0, 3).unwrap();
        let ids: Vec<u32> = s.iter().map(|&(id, _)| id).collect();
        assert_eq!(ids, [1, 2, 3]);
        for ((_, got), want) in s.iter().zip([1.0, std::f32::consts::FRAC_1_SQRT_2, 0.0]) {
            assert!((got - want).abs() < 1e-5, "{s:?}");
        }
        assert_eq!(similar_items(&v, 4, 10).unwrap().len(), 4);
        assert_eq!(
            similar_items(&v, 4, 10).unwrap()[3].0,
            1,
            "least similar last"
        );
        assert!(similar_items(&v, 5, 1).is_err());
    }

    #[test]
    fn build_needs_the_content_features() {
        let (_, f) = random_model(&[4], 0);
        let mut c = ctx(&f, (1.0, 5.0));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert!(crate::models::build(&spec(&[4]), &c, &mut rng).is_ok());
        c.features = None;
        let err = crate::models::build(&spec(&[4]), &c, &mut rng)
            .err()
            .expect("no features");
        assert!(err.to_string().contains("content features"), "{err}");
    }

    #[test]
    fn mismatched_features_and_empty_towers_are_errors() {
        let (_, f) = random_model(&[4], 0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut c = ctx(&f, (1.0, 5.0));
        assert!(TwoTower::new(&spec(&[]), &f, &c, &mut rng).is_err());
        c.n_items += 1;
        let err = TwoTower::new(&spec(&[4]), &f, &c, &mut rng).unwrap_err();
        assert!(err.to_string().contains("7 items"), "{err}");
    }
}
