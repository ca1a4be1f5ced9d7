//! Tests of the engine seam for every trained architecture: one step's loss and gradients
//! by the fused engine (exp's CPU kernels, with the model's fused step where it has one)
//! and by the graph engine (candle operations and autograd, the road CUDA takes) agree,
//! for every loss. CI runs these on the CPU, so a graph path broken for any architecture
//! fails the build even where no GPU is at hand.

use std::sync::Arc;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::testing::batch;
use super::{ModelContext, RatingModel, build};
use crate::config::spec::{Architecture, LossName, ModelSpec, TrainingSpec};
use crate::data::dataset::Ratings;
use crate::data::features::ContentFeatures;
use crate::data::implicit::RatedItems;
use crate::data::item_ratings::ItemRatings;
use crate::engine::Engine;
use crate::engine::loss::Loss;
use crate::engine::optim::Optimizer;
use crate::engine::optim::sgd::{Sgd, SgdConfig};
use crate::engine::params::Tape;

const USERS: usize = 4;
const ITEMS: usize = 6;

/// A CPU context for `engine` with everything any architecture reads: implicit feedback
/// (user u rated items u + 1 … 2u) and random content features.
fn context(engine: Engine) -> ModelContext {
    let mut ratings = Ratings::default();
    for u in 0..USERS {
        for i in u + 1..=2 * u {
            ratings.push(u as u32, (i % ITEMS) as u32, 3.0, 0);
        }
    }
    let train: Vec<usize> = (0..ratings.len()).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let (d_item, d_user) = (5, 3);
    let features = ContentFeatures {
        item: normal.sample_iter(&mut rng).take(ITEMS * d_item).collect(),
        d_item,
        user: normal.sample_iter(&mut rng).take(USERS * d_user).collect(),
        d_user,
        genres: (0..d_user).map(|g| format!("g{g}")).collect(),
        n_items: ITEMS,
        n_users: USERS,
        year_median: 0.0,
        year_mean: 0.0,
        year_std: 1.0,
        global_mean: 3.0,
    };
    ModelContext {
        engine,
        features: Some(Arc::new(features)),
        implicit: Some(Arc::new(RatedItems::from_training(&ratings, &train, USERS))),
        item_ratings: Some(Arc::new(ItemRatings::from_training(
            &ratings, &train, ITEMS,
        ))),
        ..super::testing::ctx(USERS, ITEMS)
    }
}

/// The spec of `architecture` with 3 factors, dropout on wherever the model has it.
fn spec(architecture: Architecture) -> ModelSpec {
    let mut spec = ModelSpec::with_defaults(architecture, 3);
    if matches!(
        architecture,
        Architecture::Ncf | Architecture::Mlp | Architecture::TwoTower
    ) {
        spec.hidden_layers = vec![8, 4];
        spec.dropouts = vec![0.5, 0.25];
    }
    if matches!(architecture, Architecture::Ncf | Architecture::Mlp) {
        spec.embedding_dropout = 0.3;
    }
    spec
}

/// Every architecture trained by epochs.
fn trained() -> impl Iterator<Item = Architecture> {
    Architecture::ALL
        .into_iter()
        .filter(|a| !a.is_closed_form())
}

fn losses() -> [(LossName, Loss); 3] {
    [
        (LossName::Mse, Loss::Mse),
        (LossName::Mae, Loss::Mae),
        (LossName::Huber, Loss::Huber(0.5)),
    ]
}

/// One step of `architecture` (weights from seed 21) on `engine` as the training loop
/// takes it: the loss and, by name, every gradient (each gathered table's rows in tape
/// order, then every dense variable).
fn one_step(
    architecture: Architecture,
    loss: Loss,
    engine: Engine,
) -> (f32, Vec<(String, Vec<f32>)>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let model = build(&spec(architecture), &context(engine), &mut rng).unwrap();
    let b = batch(&[0, 3, 1, 3, 2], &[5, 2, 0, 2, 4]);
    let target = Tensor::new(&[4.0f32, 1.0, 3.5, 2.0, 5.0], &Device::Cpu).unwrap();
    let mut tape = Tape::recording_seeded(9);
    let fused = match engine {
        Engine::Fused => model.fused_step(&b, &target, loss, &mut tape).unwrap(),
        Engine::Graph => None,
    };
    let (value, grads) = match fused {
        Some(step) => step,
        None => {
            let predicted = model.forward(&b, &mut tape).unwrap();
            let value = loss.value(engine, &predicted, &target).unwrap();
            (value.to_scalar::<f32>().unwrap(), value.backward().unwrap())
        }
    };
    (value, named_gradients(model.as_ref(), &tape, &grads))
}

fn named_gradients(
    model: &dyn RatingModel,
    tape: &Tape,
    grads: &GradStore,
) -> Vec<(String, Vec<f32>)> {
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut named = Vec::new();
    for entry in &tape.entries {
        let name = model.params().tables()[entry.table.0].name.clone();
        let grad = entry.grad(grads).unwrap().expect("a row gradient");
        named.push((name, flat(&grad)));
    }
    for (name, var) in model.params().dense_vars() {
        let grad = grads.get(var.as_tensor()).expect("a dense gradient");
        named.push((name.clone(), flat(grad)));
    }
    named
}

#[test]
fn both_engines_compute_the_same_gradients_for_every_architecture_and_loss() {
    let mut compared = 0;
    for architecture in trained() {
        for (name, loss) in losses() {
            let what = format!("{architecture:?} {name:?}");
            let (fused_value, fused) = one_step(architecture, loss, Engine::Fused);
            let (graph_value, graph) = one_step(architecture, loss, Engine::Graph);
            assert!((fused_value - graph_value).abs() < 1e-5, "{what}: loss");
            assert!(!fused.is_empty(), "{what}: nothing to compare");
            assert_eq!(fused.len(), graph.len(), "{what}");
            for ((fused_name, f), (graph_name, g)) in fused.iter().zip(&graph) {
                assert_eq!(fused_name, graph_name, "{what}");
                assert_eq!(f.len(), g.len(), "{what}: {fused_name}");
                assert!(
                    g.iter().any(|&x| x != 0.0),
                    "{what}: {fused_name} is all zero"
                );
                for (x, y) in f.iter().zip(g) {
                    assert!((x - y).abs() < 1e-5, "{what}: {fused_name} {f:?} vs {g:?}");
                }
            }
            compared += 1;
        }
    }
    // dot-mf, biased-mf, ncf, mlp, two-tower, funk-svd, svdpp, gmf, autorec × three losses.
    assert_eq!(compared, 9 * 3);
}

#[test]
fn a_seeded_graph_step_repeats_exactly() {
    for architecture in trained() {
        let a = one_step(architecture, Loss::Mse, Engine::Graph);
        let b = one_step(architecture, Loss::Mse, Engine::Graph);
        assert_eq!(a, b, "{architecture:?}");
    }
}

/// Predictions for one batch after three SGD steps with momentum (rate 0.05, momentum
/// 0.9, L2 0.01) of `architecture` on `engine`, the optimiser's update included.
///
/// SGD, because Adam's first steps move every weight by about its rate whatever the
/// gradient's size (`m / √v` is ±1), so a gradient of 1e-9 in one engine and exactly 0
/// in the other (rounding) becomes a difference of the whole rate. The rules themselves
/// are compared engine against engine in `engine::optim`.
fn three_adam_steps(architecture: Architecture, loss: LossName, engine: Engine) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let model = build(&spec(architecture), &context(engine), &mut rng).unwrap();
    let training = TrainingSpec {
        loss,
        huber_delta: 0.5,
        ..TrainingSpec::adam(1, 5, 0.05, 0.01)
    };
    let kind = Loss::of(&training);
    let config = SgdConfig {
        learning_rate: 0.05,
        momentum: 0.9,
        l2: 0.01,
        weight_decay: 0.0,
    };
    let mut optimizer = Sgd::new(model.params(), config);
    let b = batch(&[0, 3, 1, 3, 2], &[5, 2, 0, 2, 4]);
    let target = Tensor::new(&[4.0f32, 1.0, 3.5, 2.0, 5.0], &Device::Cpu).unwrap();
    for step in 0..3 {
        let mut tape = Tape::recording_seeded(step);
        let fused = match engine {
            Engine::Fused => model.fused_step(&b, &target, kind, &mut tape).unwrap(),
            Engine::Graph => None,
        };
        let grads = match fused {
            Some((_, grads)) => grads,
            None => {
                let predicted = model.forward(&b, &mut tape).unwrap();
                let value = kind.value(engine, &predicted, &target).unwrap();
                value.backward().unwrap()
            }
        };
        optimizer.step(model.params(), &tape, &grads).unwrap();
    }
    super::testing::predict(model.as_ref(), &b, &mut Tape::off())
}

#[test]
fn both_engines_train_every_architecture_to_the_same_weights() {
    for architecture in trained() {
        for (loss, _) in losses() {
            let fused = three_adam_steps(architecture, loss, Engine::Fused);
            let graph = three_adam_steps(architecture, loss, Engine::Graph);
            for (a, b) in fused.iter().zip(&graph) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "{architecture:?} {loss:?}: fused {fused:?} vs graph {graph:?}"
                );
            }
        }
    }
}
