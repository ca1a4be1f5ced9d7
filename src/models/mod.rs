//! Rating-prediction models. Each architecture is one file; [`build`] is the registry.
//!
//! A model owns its [`Params`] and its forward pass; the training loop in `train` is the
//! same for every model.

pub mod baselines;
pub mod biased_mf;
pub mod dot_mf;
pub mod params;
pub mod two_tower;

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};
use rand::Rng;

use crate::config::spec::{Architecture, ModelSpec};
use crate::data::features::ContentFeatures;
pub use params::{Init, Params, Tape};

/// A minibatch of (user, item) pairs on the model's device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Dense user ids, `(batch,)` u32.
    pub users: Tensor,
    /// Dense item ids, `(batch,)` u32.
    pub items: Tensor,
}

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
    /// Content features from the training ratings, for the models that read them
    /// (two-tower); the runner computes them for two-tower runs only, `None` otherwise.
    pub features: Option<Arc<ContentFeatures>>,
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

/// Builds the model `spec` describes, initialised from `rng`.
pub fn build(
    spec: &ModelSpec,
    ctx: &ModelContext,
    rng: &mut impl Rng,
) -> Result<Box<dyn RatingModel>> {
    Ok(match spec.architecture {
        Architecture::DotMf => Box::new(dot_mf::DotMf::new(spec.embedding_size, ctx, rng)?),
        Architecture::BiasedMf => {
            Box::new(biased_mf::BiasedMf::new(spec.embedding_size, ctx, rng)?)
        }
        Architecture::GlobalMean => Box::new(baselines::GlobalMean::new(ctx)),
        Architecture::Biases => Box::new(baselines::Biases::new(ctx)?),
        Architecture::TwoTower => {
            let Some(features) = &ctx.features else {
                candle_core::bail!("two-tower needs content features, but none were computed")
            };
            Box::new(two_tower::TwoTower::new(spec, features, ctx, rng)?)
        }
        other => candle_core::bail!("architecture {} is not implemented yet", other.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Architecture;
    use rand::SeedableRng;

    fn ctx() -> ModelContext {
        ModelContext {
            n_users: 2,
            n_items: 2,
            rating_range: (1.0, 5.0),
            global_mean: 3.0,
            device: Device::Cpu,
            features: None,
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
        let spec = crate::config::spec::TrainingSpec::adam(1, 3, 0.1, 0.01);
        let mut opt = crate::train::optimizer(&spec, model.params()).unwrap();
        let target = Tensor::new(&[5.0f32, 5.0, 5.0], &Device::Cpu).unwrap();
        for _ in 0..5 {
            let mut tape = Tape::recording();
            let p = model.forward(&b, &mut tape).unwrap();
            let loss = crate::train::loss::mse(&p, &target).unwrap();
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
}
