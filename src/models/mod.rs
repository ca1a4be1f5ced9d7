//! Rating-prediction models. Each architecture is one file; [`build`] is the registry.
//!
//! A model owns its [`Params`] and its forward pass; the training loop in `train` is the
//! same for every model.

pub mod biased_mf;
pub mod dot_mf;
pub mod params;

use candle_core::{Device, Result, Tensor};
use rand::Rng;

use crate::config::spec::{Architecture, ModelSpec};
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
    })
}
