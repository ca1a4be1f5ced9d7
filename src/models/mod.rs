//! Rating-prediction models. Each architecture is one file; [`build`] is the registry.
//!
//! A model owns its [`Params`] and its forward pass; the training loop in `train` is the
//! same for every model.

pub mod autorec;
pub mod baselines;
pub mod biased_mf;
pub mod dot_mf;
#[cfg(test)]
mod engines;
pub mod funk_svd;
pub mod gmf;
pub mod memory;
pub mod mlp;
pub mod ncf;
#[cfg(test)]
mod per_rating;
pub mod svdpp;
pub mod two_tower;

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};
use rand::Rng;

use crate::config::spec::{Architecture, ModelSpec};
use crate::data::features::ContentFeatures;
use crate::data::implicit::RatedItems;
use crate::data::item_ratings::ItemRatings;
use crate::engine::Engine;
use crate::engine::epoch_ratings::{EpochRatings, RatingOrder};
use crate::engine::loss::Loss;
pub use crate::engine::params::{Batch, Init, Params, TableId, Tape};
use crate::engine::per_rating::{PerRatingSgd, row_dot_epoch};
pub use crate::engine::row_dot::DotHead;
use crate::engine::row_dot::row_dot_step;

/// What a model needs to know about the data to size and initialise itself.
#[derive(Debug, Clone)]
pub struct ModelContext {
    /// Number of user rows.
    pub n_users: usize,
    /// Number of item rows.
    pub n_items: usize,
    /// Smallest and largest possible rating.
    pub rating_range: (f32, f32),
    /// Mean training rating (some models start their bias there).
    pub global_mean: f32,
    /// Where the parameters live.
    pub device: Device,
    /// How training steps are computed (fused CPU kernels or candle's graph).
    pub engine: Engine,
    /// Content features from the training ratings, for the models that read them
    /// (two-tower); the runner computes them for two-tower runs only, `None` otherwise.
    pub features: Option<Arc<ContentFeatures>>,
    /// The items each user rated in training, for the models that read implicit feedback
    /// (SVD++); computed for those runs only, `None` otherwise.
    pub implicit: Option<Arc<RatedItems>>,
    /// Each item's training ratings over users, for the models that encode an item by
    /// them (I-AutoRec); computed for those runs only, `None` otherwise.
    pub item_ratings: Option<Arc<ItemRatings>>,
}

/// How evaluation batches a model's ratings (`RatingModel::evaluation_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationOrder {
    /// As given.
    AsGiven,
    /// Sorted by user: for a model whose forward pass costs per distinct user.
    ByUser,
    /// Sorted by item: for a model whose forward pass costs per distinct item.
    ByItem,
}

/// A model that predicts ratings for (user, item) pairs.
pub trait RatingModel: Send {
    /// Predicted ratings for a batch.
    ///
    /// # Shapes
    /// `batch.users`, `batch.items`: `(B,)` u32 → `(B,)` f32.
    ///
    /// Embedding rows must be read through [`Params::gather`] with `tape`, so that training
    /// updates exactly the rows the batch touched; `tape.is_training()` tells train-only
    /// behaviour such as dropout to switch on.
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor>;

    /// The model's parameters.
    fn params(&self) -> &Params;

    /// For the factor models, whose prediction is `head(users[u] · items[i])`: the user
    /// table, the item table and the head. It lets the training loop compute a step's
    /// gradients without candle's autograd ([`RatingModel::fused_step`]). `None`
    /// (the default) for every other model.
    fn row_dot_parts(&self) -> Option<(TableId, TableId, DotHead)> {
        None
    }

    /// The fused engine's training step: the loss (`loss` of the predictions for
    /// `batch` against `target`) and its gradients, computed by exp's CPU kernels without
    /// candle's autograd; rows are gathered through `tape` as in [`RatingModel::forward`].
    /// The training loop calls it only when the model's engine is fused. `Ok(None)` (a
    /// model without a fused step, the default unless [`RatingModel::row_dot_parts`]
    /// says otherwise): the loop runs the graph step, `forward` then `backward`, which
    /// every model has.
    fn fused_step(
        &self,
        batch: &Batch,
        target: &Tensor,
        loss: Loss,
        tape: &mut Tape,
    ) -> Result<Option<(f32, candle_core::backprop::GradStore)>> {
        match self.row_dot_parts() {
            Some((users, items, head)) => row_dot_step(
                self.params(),
                (users, items),
                batch,
                head,
                target,
                loss,
                tape,
            ),
            None => Ok(None),
        }
    }

    /// How per-rating SGD on `threads` threads lays out this model's ratings
    /// ([`RatingModel::per_rating_epoch`] gets them so): LIBMF's blocks for several
    /// threads, else one shuffled list. SVD++ trains user by user.
    fn per_rating_order(&self, threads: usize) -> RatingOrder {
        match threads {
            0 | 1 => RatingOrder::Shuffled,
            n => RatingOrder::Blocks(n),
        }
    }

    /// One epoch of per-rating SGD over `ratings` (already shuffled, blocked for several
    /// threads: see `engine::epoch_ratings`), moving the model's
    /// table rows in place one rating at a time; the mean squared error of the ratings as
    /// they were met. `None`: the model has no per-rating path and the loop runs batches.
    ///
    /// The default covers the row-dot factor models ([`RatingModel::row_dot_parts`]) with
    /// `engine::per_rating::row_dot_epoch`; `None` for every other model.
    fn per_rating_epoch(
        &self,
        ratings: &EpochRatings,
        sgd: &PerRatingSgd,
        rng: &mut dyn rand::RngCore,
    ) -> Option<Result<f64>> {
        let _ = rng;
        let (users, items, head) = self.row_dot_parts()?;
        Some(row_dot_epoch(
            self.params(),
            (users, items),
            head,
            ratings,
            sgd,
        ))
    }

    /// How evaluation should pass this model its ratings: sorted by user for a model
    /// whose forward pass costs per distinct user of a batch (SVD++ sums each user's
    /// implicit rows once per batch), so that a heavy user's test ratings share a few
    /// batches instead of meeting that cost in every batch; sorted by item for one that
    /// costs per distinct item (I-AutoRec). As given by default.
    fn evaluation_order(&self) -> EvaluationOrder {
        EvaluationOrder::AsGiven
    }

    /// Derived tensors saved beside the parameters in the run's checkpoint, e.g. the
    /// two-tower model's `item_vectors` for "similar items". None by default.
    fn checkpoint_extras(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }

    /// Predicted ratings, unclipped, of every item for each user of `users`: the block that
    /// ranking metrics and `exp recommend` rank. Row `r` holds user `users[r]`'s scores of
    /// items `0..n_items` (dense ids).
    ///
    /// The default runs batched forward passes over all the pairs (at most
    /// [`PAIR_BATCH`] per pass), which every model supports; factor models override it
    /// with one matrix product per block.
    ///
    /// # Shapes
    /// `users`: `(U,)` u32 → `(U, n_items)` f32.
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        let users: Vec<u32> = users.to_vec1()?;
        let device = self.params().device().clone();
        let per_pass = (PAIR_BATCH / n_items.max(1)).max(1);
        let mut blocks = Vec::with_capacity(users.len().div_ceil(per_pass));
        for chunk in users.chunks(per_pass) {
            let pairs = chunk.len() * n_items;
            let user_ids: Vec<u32> = chunk
                .iter()
                .flat_map(|&u| std::iter::repeat_n(u, n_items))
                .collect();
            let item_ids: Vec<u32> = (0..chunk.len()).flat_map(|_| 0..n_items as u32).collect();
            let batch = Batch {
                users: Tensor::from_vec(user_ids, pairs, &device)?,
                items: Tensor::from_vec(item_ids, pairs, &device)?,
            };
            let scores = self.forward(&batch, &mut Tape::off())?;
            blocks.push(scores.reshape((chunk.len(), n_items))?);
        }
        if blocks.is_empty() {
            return Tensor::zeros((0, n_items), candle_core::DType::F32, &device);
        }
        Tensor::cat(&blocks, 0)
    }

    /// One vector per item (row = dense item id) whose cosine similarity tells which items
    /// the model treats alike: MF item factors (without bias columns), NCF and MLP item
    /// embeddings, two-tower item-tower outputs. `None` for models without item vectors
    /// (the closed-form baselines).
    ///
    /// # Shapes
    /// `(n_items, d)` f32.
    fn item_vectors(&self) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// For models fitted in closed form rather than trained by epochs (the classical
    /// baselines): fit on the ratings at `train` and return `Some`. Trained models keep
    /// the default, `None`.
    fn fit_closed_form(
        &self,
        _ratings: &crate::data::dataset::Ratings,
        _train: &[usize],
    ) -> Option<Result<()>> {
        None
    }
}

/// Checks that a block asks for as many items as the model has rows for (`score_items`).
pub(crate) fn expect_items(n_items: usize, rows: usize) -> Result<()> {
    if n_items != rows {
        candle_core::bail!("asked to score {n_items} items, but the model has {rows} item rows")
    }
    Ok(())
}

/// Most (user, item) pairs one forward pass of the default [`RatingModel::score_items`]
/// scores: large enough to amortise the per-pass overhead, small enough that the hidden
/// activations of the neural models stay a few megabytes.
pub const PAIR_BATCH: usize = 1 << 16;

/// Builds the model `spec` describes, initialised from `rng`.
pub fn build(
    spec: &ModelSpec,
    ctx: &ModelContext,
    rng: &mut impl Rng,
) -> Result<Box<dyn RatingModel>> {
    Ok(match spec.architecture {
        Architecture::DotMf => Box::new(dot_mf::DotMf::new(spec, ctx, rng)?),
        Architecture::BiasedMf => Box::new(biased_mf::BiasedMf::new(spec, ctx, rng)?),
        Architecture::Ncf => Box::new(ncf::Ncf::new(spec, ctx, rng)?),
        Architecture::Mlp => Box::new(mlp::Mlp::new(spec, ctx, rng)?),
        Architecture::FunkSvd => Box::new(funk_svd::FunkSvd::new(spec, ctx, rng)?),
        Architecture::Gmf => Box::new(gmf::Gmf::new(spec, ctx, rng)?),
        Architecture::SvdPp => {
            let Some(rated) = &ctx.implicit else {
                candle_core::bail!("svdpp needs each user's rated items, but none were computed")
            };
            Box::new(svdpp::SvdPp::new(spec, rated.clone(), ctx, rng)?)
        }
        Architecture::AutoRec => {
            let Some(ratings) = &ctx.item_ratings else {
                candle_core::bail!("autorec needs each item's ratings, but none were computed")
            };
            Box::new(autorec::AutoRec::new(spec, ratings.clone(), ctx, rng)?)
        }
        Architecture::GlobalMean => Box::new(baselines::GlobalMean::new(ctx)),
        Architecture::Biases => Box::new(baselines::Biases::new(ctx)?),
        Architecture::TwoTower => {
            let Some(features) = &ctx.features else {
                candle_core::bail!("two-tower needs content features, but none were computed")
            };
            Box::new(two_tower::TwoTower::new(spec, features, ctx, rng)?)
        }
    })
}

/// What the model `spec` describes allocates on data of `sizes` (see [`memory`]): one arm
/// per architecture, each model's own `footprint` function.
pub fn footprint(spec: &ModelSpec, sizes: &memory::DataSizes) -> memory::Footprint {
    match spec.architecture {
        Architecture::DotMf => dot_mf::footprint(spec, sizes),
        Architecture::BiasedMf => biased_mf::footprint(spec, sizes),
        Architecture::Ncf => ncf::footprint(spec, sizes),
        Architecture::Mlp => mlp::footprint(spec, sizes),
        Architecture::FunkSvd => funk_svd::footprint(spec, sizes),
        Architecture::Gmf => gmf::footprint(spec, sizes),
        Architecture::SvdPp => svdpp::footprint(spec, sizes),
        Architecture::AutoRec => autorec::footprint(spec, sizes),
        Architecture::GlobalMean | Architecture::Biases => baselines::footprint(sizes),
        Architecture::TwoTower => two_tower::footprint(spec, sizes),
    }
}

/// Helpers for the models' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::engine::optim::Optimizer;

    /// A CPU context with `n_users` users, `n_items` items, ratings 1–5 and mean 3.
    pub fn ctx(n_users: usize, n_items: usize) -> ModelContext {
        ModelContext {
            n_users,
            n_items,
            rating_range: (1.0, 5.0),
            global_mean: 3.0,
            device: Device::Cpu,
            engine: Engine::Fused,
            features: None,
            implicit: None,
            item_ratings: None,
        }
    }

    /// Overwrites every row of table `id` with `values` (row-major).
    pub fn set_rows(params: &Params, id: crate::engine::params::TableId, values: &[f32]) {
        let w = &params.tables()[id.0].weight;
        let t = Tensor::from_slice(values, w.dims(), &Device::Cpu).unwrap();
        w.slice_set(&t, 0, 0).unwrap();
    }

    /// Overwrites a dense variable with `values` in its own shape.
    pub fn set_var(var: &candle_core::Var, values: &[f32]) {
        let t = Tensor::from_slice(values, var.dims(), &Device::Cpu).unwrap();
        var.set(&t).unwrap();
    }

    /// A CPU batch.
    pub fn batch(users: &[u32], items: &[u32]) -> Batch {
        Batch {
            users: Tensor::new(users, &Device::Cpu).unwrap(),
            items: Tensor::new(items, &Device::Cpu).unwrap(),
        }
    }

    /// The model's predictions for `batch` as a vector.
    pub fn predict(model: &dyn RatingModel, batch: &Batch, tape: &mut Tape) -> Vec<f32> {
        model.forward(batch, tape).unwrap().to_vec1().unwrap()
    }

    /// Every table's values, row by row.
    pub fn tables(model: &dyn RatingModel) -> Vec<Vec<Vec<f32>>> {
        let tables = model.params().tables();
        tables.iter().map(|t| t.weight.to_vec2().unwrap()).collect()
    }

    /// One Adam step (rate `lr`, no L2) on the MSE of `batch` against `target`.
    pub fn adam_step(model: &dyn RatingModel, batch: &Batch, target: &[f32], lr: f64) {
        let mut opt = crate::engine::optim::adam::Adam::new(
            model.params(),
            crate::engine::optim::adam::AdamConfig::new(lr, 0.0),
        );
        let target = Tensor::new(target, &Device::Cpu).unwrap();
        let mut tape = Tape::recording();
        let p = model.forward(batch, &mut tape).unwrap();
        let loss = Loss::Mse.value(Engine::Fused, &p, &target).unwrap();
        opt.step(model.params(), &tape, &loss.backward().unwrap())
            .unwrap();
    }

    /// Checks that one Adam step on users 0 and 1 × items 1 and 0 (of three each) moves
    /// both predictions towards `target` and leaves row 2 of every table untouched.
    pub fn one_step_moves_towards_target(model: &dyn RatingModel, target: [f32; 2], lr: f64) {
        let b = batch(&[0, 1], &[1, 0]);
        let before = predict(model, &b, &mut Tape::off());
        let tables_before = tables(model);
        adam_step(model, &b, &target, lr);
        let after = predict(model, &b, &mut Tape::off());
        for i in 0..2 {
            let (was, now) = ((before[i] - target[i]).abs(), (after[i] - target[i]).abs());
            assert!(
                now < was,
                "prediction {i}: {before:?} → {after:?}, target {target:?}"
            );
        }
        for (t, (old, new)) in tables_before.iter().zip(tables(model)).enumerate() {
            assert_eq!(old[2], new[2], "table {t}: untouched row 2 moved");
            assert_ne!(old[0], new[0], "table {t}: row 0 did not move");
            assert_ne!(old[1], new[1], "table {t}: row 1 did not move");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Architecture;
    use crate::engine::optim::Optimizer;
    use rand::SeedableRng;

    fn ctx() -> ModelContext {
        ModelContext {
            n_users: 2,
            n_items: 2,
            rating_range: (1.0, 5.0),
            global_mean: 3.0,
            device: Device::Cpu,
            engine: Engine::Fused,
            features: None,
            implicit: None,
            item_ratings: None,
        }
    }

    fn set(params: &Params, table: usize, values: &[f32]) {
        let w = &params.tables()[table].weight;
        let t = Tensor::from_slice(values, w.dims(), &Device::Cpu).unwrap();
        w.slice_set(&t, 0, 0).unwrap();
    }

    fn batch(users: &[u32], items: &[u32]) -> Batch {
        Batch {
            users: Tensor::new(users, &Device::Cpu).unwrap(),
            items: Tensor::new(items, &Device::Cpu).unwrap(),
        }
    }

    #[test]
    fn mf_models_draw_their_factors_as_model_init_says() {
        use crate::config::spec::InitSpec;
        for architecture in [Architecture::DotMf, Architecture::BiasedMf] {
            let mut spec = ModelSpec::with_defaults(architecture, 16);
            spec.init = Some(InitSpec::Uniform { limit: 0.5 });
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let model = build(&spec, &testing::ctx(50, 50), &mut rng).unwrap();
            let users: Vec<Vec<f32>> = model.params().tables()[0].weight.to_vec2().unwrap();
            let factors: Vec<f32> = users.iter().flat_map(|r| r[..16].to_vec()).collect();
            assert!(factors.iter().all(|x| x.abs() <= 0.5), "{architecture:?}");
            // Uniform(−0.5, 0.5) has σ = 0.289, far from either default (0.1 or 0.01).
            let var = factors.iter().map(|x| x * x).sum::<f32>() / factors.len() as f32;
            assert!(
                (var.sqrt() - 0.289).abs() < 0.03,
                "{architecture:?}: σ {}",
                var.sqrt()
            );
        }
    }

    /// A context of `n_users` × `n_items` in which user u rated items u + 1 … 2u (mod
    /// `n_items`) in training (3 each), so user 0 has no implicit feedback.
    fn context_with_feedback(n_users: usize, n_items: usize) -> ModelContext {
        let mut ratings = crate::data::dataset::Ratings::default();
        for u in 0..n_users {
            for i in u + 1..=2 * u {
                ratings.users.push(u as u32);
                ratings.items.push((i % n_items) as u32);
                ratings.values.push(3.0);
                ratings.timestamps.push(0);
            }
        }
        let train: Vec<usize> = (0..ratings.len()).collect();
        let rated = RatedItems::from_training(&ratings, &train, n_users);
        let by_item = ItemRatings::from_training(&ratings, &train, n_items);
        ModelContext {
            implicit: Some(Arc::new(rated)),
            item_ratings: Some(Arc::new(by_item)),
            ..testing::ctx(n_users, n_items)
        }
    }

    /// Every architecture without content features, its weights drawn at random (biases
    /// and all), as a test subject for block scoring and checkpoints.
    fn random_models(n_users: usize, n_items: usize) -> Vec<(Architecture, Box<dyn RatingModel>)> {
        use rand::Rng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let ctx = context_with_feedback(n_users, n_items);
        Architecture::ALL
            .into_iter()
            .filter(|a| *a != Architecture::TwoTower)
            .map(|architecture| {
                let spec = ModelSpec::with_defaults(architecture, 3);
                let model = build(&spec, &ctx, &mut rng).unwrap();
                for table in model.params().tables() {
                    let n = table.weight.elem_count();
                    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                    let t = Tensor::from_vec(values, table.weight.dims(), &Device::Cpu).unwrap();
                    table.weight.slice_set(&t, 0, 0).unwrap();
                }
                (architecture, model)
            })
            .collect()
    }

    #[test]
    fn score_items_matches_the_pairwise_forward_pass_for_every_architecture() {
        let (n_users, n_items) = (4, 6);
        for (architecture, model) in random_models(n_users, n_items) {
            let users = [3u32, 0, 2];
            let block: Vec<Vec<f32>> = model
                .score_items(&Tensor::new(&users, &Device::Cpu).unwrap(), n_items)
                .unwrap()
                .to_vec2()
                .unwrap();
            for (row, &u) in block.iter().zip(&users) {
                let items: Vec<u32> = (0..n_items as u32).collect();
                let pairwise = testing::predict(
                    model.as_ref(),
                    &batch(&vec![u; n_items], &items),
                    &mut Tape::off(),
                );
                for (a, b) in row.iter().zip(&pairwise) {
                    assert!(
                        (a - b).abs() < 1e-5,
                        "{architecture:?}, user {u}: {row:?} vs {pairwise:?}"
                    );
                }
            }
            let vectors = model.item_vectors().unwrap();
            let expected = !architecture.is_closed_form();
            assert_eq!(vectors.is_some(), expected, "{architecture:?}");
            if let Some(v) = vectors {
                assert_eq!(v.dims(), [n_items, 3], "{architecture:?}: factors only");
            }
        }
    }

    #[test]
    fn direct_gradients_match_candles_autograd() {
        use crate::config::spec::{LossName, TrainingSpec};
        let b = batch(&[0, 3, 1, 3, 2], &[5, 2, 0, 2, 4]);
        let target = Tensor::new(&[4.0f32, 1.0, 3.5, 2.0, 5.0], &Device::Cpu).unwrap();
        let mut direct_models = 0;
        for (architecture, model) in random_models(4, 6) {
            for loss in [LossName::Mse, LossName::Mae, LossName::Huber] {
                let spec = TrainingSpec {
                    loss,
                    huber_delta: 0.5,
                    ..TrainingSpec::adam(1, 5, 0.01, 0.0)
                };
                let mut tape = Tape::recording();
                let Some((value, grads)) = model
                    .fused_step(&b, &target, Loss::of(&spec), &mut tape)
                    .unwrap()
                else {
                    assert!(
                        tape.entries.is_empty(),
                        "{architecture:?} gathered for nothing"
                    );
                    continue;
                };
                direct_models += 1;
                let mut graph_tape = Tape::recording();
                let predicted = model.forward(&b, &mut graph_tape).unwrap();
                let graph_loss = Loss::of(&spec)
                    .value(Engine::Fused, &predicted, &target)
                    .unwrap();
                let graph_grads = graph_loss.backward().unwrap();
                let graph_value = graph_loss.to_scalar::<f32>().unwrap();
                assert!(
                    (value - graph_value).abs() < 1e-6,
                    "{architecture:?} {loss:?}"
                );
                assert_eq!(tape.entries.len(), graph_tape.entries.len());
                for (d, g) in tape.entries.iter().zip(&graph_tape.entries) {
                    let flat =
                        |grads: &candle_core::backprop::GradStore,
                         e: &crate::engine::params::Gathered| {
                            let grad = e.grad(grads).unwrap().unwrap();
                            grad.flatten_all().unwrap().to_vec1::<f32>().unwrap()
                        };
                    let (dg, gg) = (flat(&grads, d), flat(&graph_grads, g));
                    for (x, y) in dg.iter().zip(&gg) {
                        assert!(
                            (x - y).abs() < 1e-6,
                            "{architecture:?} {loss:?}: {dg:?} vs {gg:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(
            direct_models, 15,
            "dot-mf, biased-mf, funk-svd, ncf and mlp × three losses"
        );
    }

    #[test]
    fn checkpoints_load_back_into_a_fresh_model() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context_with_feedback(4, 6);
        for (architecture, model) in random_models(4, 6) {
            if model.params().count() == 0 {
                continue;
            }
            let path = dir
                .path()
                .join(format!("{}.safetensors", architecture.as_str()));
            model.params().save(&path, Vec::new()).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
            let spec = ModelSpec::with_defaults(architecture, 3);
            let fresh = build(&spec, &ctx, &mut rng).unwrap();
            fresh.params().load(&path).unwrap();
            let b = batch(&[0, 1, 3], &[5, 2, 0]);
            assert_eq!(
                testing::predict(model.as_ref(), &b, &mut Tape::off()),
                testing::predict(fresh.as_ref(), &b, &mut Tape::off()),
                "{architecture:?}"
            );
            if architecture.is_closed_form() {
                continue;
            }
            // A checkpoint of another shape is refused, naming the tensor.
            let other = build(&ModelSpec::with_defaults(architecture, 5), &ctx, &mut rng).unwrap();
            let error = other.params().load(&path).unwrap_err().to_string();
            assert!(error.contains("shape"), "{architecture:?}: {error}");
        }
    }

    #[test]
    fn dot_mf_predicts_the_dot_product() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let spec = ModelSpec::with_defaults(Architecture::DotMf, 2);
        let model = build(&spec, &ctx(), &mut rng).unwrap();
        set(model.params(), 0, &[1.0, 2.0, 0.5, -1.0]); // users [1, 2], [0.5, −1]
        set(model.params(), 1, &[3.0, 0.5, 2.0, 2.0]); // items [3, 0.5], [2, 2]
        // user 0 · item 0 = 3 + 1 = 4; user 1 · item 1 = 1 − 2 = −1.
        let p: Vec<f32> = model
            .forward(&batch(&[0, 1], &[0, 1]), &mut Tape::off())
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(p, [4.0, -1.0]);
    }

    #[test]
    fn biased_mf_squashes_dot_plus_biases_into_the_rating_range() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let spec = ModelSpec::with_defaults(Architecture::BiasedMf, 1);
        let model = build(&spec, &ctx(), &mut rng).unwrap();
        // Rows are [factor, bias, 1] for users and [factor, 1, bias] for items.
        set(model.params(), 0, &[1.0, 0.5, 1.0, -2.0, 0.0, 1.0]);
        set(model.params(), 1, &[0.5, 1.0, -1.0, 1.0, 1.0, 0.0]);
        // user 0, item 0: 1·0.5 + 0.5 − 1 = 0 → σ = 0.5 → 1 + 4·0.5 = 3.
        // user 1, item 1: −2·1 + 0 + 0 = −2 → σ = 0.119203 → 1 + 4·0.119203 = 1.476812.
        let p: Vec<f32> = model
            .forward(&batch(&[0, 1], &[0, 1]), &mut Tape::off())
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!((p[0] - 3.0).abs() < 1e-6, "{p:?}");
        assert!((p[1] - 1.476_812).abs() < 1e-5, "{p:?}");
    }

    #[test]
    fn biased_mf_starts_at_the_mean_and_never_moves_its_constant_columns() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let spec = ModelSpec::with_defaults(Architecture::BiasedMf, 4);
        let model = build(&spec, &ctx(), &mut rng).unwrap();
        let b = batch(&[0, 1, 1], &[1, 0, 1]);
        let p: Vec<f32> = model
            .forward(&b, &mut Tape::off())
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(
            p.iter().all(|p| (p - 3.0).abs() < 0.01),
            "starts near the mean: {p:?}"
        );
        // A few training steps towards 5 stars.
        let mut opt = crate::engine::optim::adam::Adam::new(
            model.params(),
            crate::engine::optim::adam::AdamConfig::new(0.1, 0.01),
        );
        let target = Tensor::new(&[5.0f32, 5.0, 5.0], &Device::Cpu).unwrap();
        for _ in 0..5 {
            let mut tape = Tape::recording();
            let p = model.forward(&b, &mut tape).unwrap();
            let loss = Loss::Mse.value(Engine::Fused, &p, &target).unwrap();
            opt.step(model.params(), &tape, &loss.backward().unwrap())
                .unwrap();
        }
        let after: Vec<f32> = model
            .forward(&b, &mut Tape::off())
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(after.iter().all(|&a| a > 3.5), "moved towards 5: {after:?}");
        let users: Vec<Vec<f32>> = model.params().tables()[0].weight.to_vec2().unwrap();
        let items: Vec<Vec<f32>> = model.params().tables()[1].weight.to_vec2().unwrap();
        assert!(users.iter().all(|row| row[5] == 1.0), "{users:?}");
        assert!(items.iter().all(|row| row[4] == 1.0), "{items:?}");
    }

    #[test]
    fn build_registers_ncf_mlp_and_funk_svd() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let ctx = testing::ctx(3, 3);
        let count = |arch, k, rng: &mut rand_chacha::ChaCha8Rng| {
            let spec = ModelSpec::with_defaults(arch, k);
            build(&spec, &ctx, rng).unwrap().params().count()
        };
        // NCF k=4, [10]: tables 2·3·4 = 24; hidden1 8·10 + 10 = 90; output 10 + 1 = 11.
        assert_eq!(count(Architecture::Ncf, 4, &mut rng), 125);
        // MLP k=5, [128, 32]: tables 30; 10·128 + 128 = 1408; 128·32 + 32 = 4128; 33.
        assert_eq!(count(Architecture::Mlp, 5, &mut rng), 5599);
        // Funk SVD k=4: two tables of 3 rows × (4 + 2).
        assert_eq!(count(Architecture::FunkSvd, 4, &mut rng), 36);
    }
}
