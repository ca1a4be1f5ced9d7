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
/// Helpers for tests that read and step parameters (shared with the models' tests).
#[cfg(test)]
pub(crate) use lazy::testing;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;

    /// Builds an optimiser for the parameters it is given.
    type Make = dyn Fn(&Params) -> Box<dyn Optimizer>;

    /// Three steps of the optimiser `make` builds on the frozen-table problem of
    /// `lazy::testing`, on `engine`.
    fn three_steps(engine: Engine, make: &Make) -> Vec<f32> {
        let mut optimizer: Option<Box<dyn Optimizer>> = None;
        lazy::testing::three_steps_on_a_frozen_table(engine, |params, tape, grads| {
            let optimizer = optimizer.get_or_insert_with(|| make(params));
            optimizer.step(params, tape, grads).unwrap();
        })
    }

    /// Adam, AdaMax and SGD with momentum, with L2 and weight decay: the graph engine's
    /// device-resident update (candle operations) equals the fused in-place one.
    #[test]
    fn every_optimiser_updates_alike_on_both_engines() {
        let optimisers: [(&str, &Make); 3] = [
            ("adam", &|p| {
                let config = adam::AdamConfig {
                    weight_decay: 0.02,
                    ..adam::AdamConfig::new(0.01, 0.01)
                };
                Box::new(adam::Adam::new(p, config))
            }),
            ("adamax", &|p| {
                let config = adamax::AdamaxConfig {
                    weight_decay: 0.02,
                    ..adamax::AdamaxConfig::new(0.01, 0.01)
                };
                Box::new(adamax::Adamax::new(p, config))
            }),
            ("sgd", &|p| {
                let config = sgd::SgdConfig {
                    learning_rate: 0.01,
                    momentum: 0.9,
                    l2: 0.01,
                    weight_decay: 0.02,
                };
                Box::new(sgd::Sgd::new(p, config))
            }),
        ];
        for (name, make) in optimisers {
            let fused = three_steps(Engine::Fused, make);
            let graph = three_steps(Engine::Graph, make);
            assert_eq!(fused.len(), graph.len());
            for (a, b) in fused.iter().zip(&graph) {
                assert!((a - b).abs() < 1e-6, "{name}: {fused:?} vs {graph:?}");
            }
            // The frozen column kept its constant in every row.
            for row in 0..5 {
                assert_eq!(graph[row * 3 + 2], 1.0, "{name}");
            }
        }
    }
}
