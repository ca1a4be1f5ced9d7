//! Optimisers: Adam, AdaMax and SGD with momentum, each a per-element update [`Rule`]
//! run by one generic lazy optimiser (`lazy`) that updates only the embedding rows a
//! batch touched, and every dense variable.
//!
//! The update runs in the run's engine: in place on CPU storages (fused), or as candle
//! operations on the parameters' device (graph), with the weights and the optimiser
//! state kept there.

pub mod adam;
pub mod adamax;
mod lazy;
pub mod sgd;

use candle_core::backprop::GradStore;

pub use lazy::{TableUpdates, decays};

use super::params::{Params, Tape};

/// Updates a model's parameters from the gradients of one batch.
pub trait Optimizer: Send {
    /// One step: embedding rows recorded on `tape` and every dense variable.
    fn step(&mut self, params: &Params, tape: &Tape, grads: &GradStore) -> candle_core::Result<()>;

    /// Chooses which embedding-table rows later steps update (lazy by default); the
    /// dense mode exists to check that lazy updates cost no accuracy.
    fn set_table_updates(&mut self, updates: TableUpdates);

    /// Called between the forward pass and the backward pass: a chance to start loading
    /// the optimiser state of the rows the batch read (see `States::prefetch_rows`).
    /// Changes nothing; the default does nothing.
    fn prefetch(&self, _tape: &Tape) {}

    /// Sets the step size of later steps (a learning-rate schedule's rate for the epoch);
    /// moments and buffers are kept.
    fn set_learning_rate(&mut self, rate: f64);
}
