//! Per-rating SGD for the row-dot factor models (dot-mf, biased-mf, funk-svd): the
//! loop against a plain reference, against the fused batch step at batch size 1, and on
//! several threads.

use std::sync::atomic::AtomicBool;

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{build, testing};
use crate::config::spec::{Architecture, ModelSpec, OptimizerName, TrainingSpec};
use crate::data::dataset::Ratings;
use crate::engine::Engine;
use crate::engine::epoch_ratings::{EpochRatings, RatingOrder};
use crate::engine::loss::Loss;
use crate::engine::optim::testing::table_values;
use crate::engine::params::{Batch, Init, Params, TableId, Tape};
use crate::engine::per_rating::{PerRatingSgd, Triple, row_dot_epoch};
use crate::engine::row_dot::{DotHead, dot};
use crate::train::{self, TrainData, TrainError};

const ROW_DOT: [Architecture; 3] = [
    Architecture::DotMf,
    Architecture::BiasedMf,
    Architecture::FunkSvd,
];

/// `n` ratings of random users below `users` and items below `items`, values 1–5.
fn random_triples(n: usize, users: u32, items: u32, seed: u64) -> Vec<Triple> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Triple {
            user: rng.random_range(0..users),
            item: rng.random_range(0..items),
            value: rng.random_range(1..=5) as f32,
        })
        .collect()
}

/// The reference: one epoch written the obvious way on plain vectors. The dot product is
/// the engine's eight-lane sum (`row_dot::dot`, tested against a plain sum on its own),
/// so that the comparison can be exact; everything else is spelled out here.
#[allow(clippy::too_many_arguments)]
fn reference_epoch(
    u: &mut [f32],
    v: &mut [f32],
    dim: usize,
    ratings: &[Triple],
    head: DotHead,
    lr: f32,
    (l2_users, l2_items): (f32, f32),
    (frozen_user, frozen_item): (Option<usize>, Option<usize>),
) -> f64 {
    let mut sum = 0.0;
    for t in ratings {
        let (a, b) = (t.user as usize * dim, t.item as usize * dim);
        let old_u = u[a..a + dim].to_vec();
        let old_v = v[b..b + dim].to_vec();
        let z = dot(&old_u, &old_v);
        let (y, slope) = match head {
            DotHead::Offset(c) => (z + c, 1.0),
            DotHead::ScaledSigmoid { lo, hi } => {
                let y = lo + (hi - lo) / (1.0 + (-z).exp());
                (y, (y - lo) * (hi - y) / (hi - lo))
            }
        };
        let e = y - t.value;
        sum += f64::from(e * e);
        let s = 2.0 * e * slope;
        for k in 0..dim {
            if frozen_user != Some(k) {
                u[a + k] = old_u[k] - lr * (s * old_v[k] + l2_users * old_u[k]);
            }
            if frozen_item != Some(k) {
                v[b + k] = old_v[k] - lr * (s * old_u[k] + l2_items * old_v[k]);
            }
        }
    }
    sum / ratings.len() as f64
}

#[test]
fn one_epoch_matches_the_reference_loop_bit_for_bit() {
    // Bias-trick tables (frozen columns), a per-table L2 scale, both heads, and widths
    // on either side of the dot product's eight lanes.
    for (k, head) in [
        (5, DotHead::Offset(3.5)),
        (14, DotHead::ScaledSigmoid { lo: 1.0, hi: 5.0 }),
        (16, DotHead::Offset(0.0)),
    ] {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(k as u64);
        let mut params = Params::new(&Device::Cpu, Engine::Fused);
        let init = |_| Init::Normal { std: 0.3 };
        let (users, items) = params
            .bias_trick_tables((13, 11), k, init, 0.2, &mut rng)
            .unwrap();
        params.scale_l2(items, 0.5);
        let ratings = random_triples(500, 13, 11, k as u64);
        let sgd = PerRatingSgd {
            learning_rate: 0.03,
            l2: 0.02,
            threads: 1,
        };
        let (mut u, mut v) = (table_values(&params, users), table_values(&params, items));
        let expected = reference_epoch(
            &mut u,
            &mut v,
            k + 2,
            &ratings,
            head,
            0.03,
            (0.02, 0.02 * 0.5),
            (Some(k + 1), Some(k)),
        );
        let epoch = EpochRatings::new(ratings.clone(), RatingOrder::Shuffled);
        let got = row_dot_epoch(&params, (users, items), head, &epoch, &sgd).unwrap();
        assert_eq!(got, expected, "k = {k}");
        assert_eq!(table_values(&params, users), u, "user table, k = {k}");
        assert_eq!(table_values(&params, items), v, "item table, k = {k}");
        // The frozen columns still hold their constant 1.
        assert!(u.chunks(k + 2).all(|row| row[k + 1] == 1.0));
        assert!(v.chunks(k + 2).all(|row| row[k] == 1.0));
    }
}

#[test]
fn every_row_dot_model_trains_per_rating_like_the_reference() {
    for architecture in ROW_DOT {
        let ctx = testing::ctx(9, 7);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let model = build(&ModelSpec::with_defaults(architecture, 6), &ctx, &mut rng).unwrap();
        let (users, items, head) = model.row_dot_parts().unwrap();
        let tables = model.params().tables();
        let dim = tables[users.0].dim();
        let frozen = (tables[users.0].frozen_column, tables[items.0].frozen_column);
        let (mut u, mut v) = (
            table_values(model.params(), users),
            table_values(model.params(), items),
        );
        let ratings = random_triples(300, 9, 7, 8);
        let sgd = PerRatingSgd {
            learning_rate: 0.02,
            l2: 0.01,
            threads: 1,
        };
        let expected = reference_epoch(
            &mut u,
            &mut v,
            dim,
            &ratings,
            head,
            0.02,
            (0.01, 0.01),
            frozen,
        );
        let got = model
            .per_rating_epoch(
                &EpochRatings::new(ratings.to_vec(), RatingOrder::Shuffled),
                &sgd,
                &mut rng,
            )
            .expect("a per-rating path")
            .unwrap();
        assert_eq!(got, expected, "{architecture:?}");
        assert_eq!(table_values(model.params(), users), u, "{architecture:?}");
        assert_eq!(table_values(model.params(), items), v, "{architecture:?}");
    }
}

#[test]
fn per_rating_and_the_fused_batch_step_at_batch_size_one_agree() {
    // The same maths: an epoch per rating and an epoch of batch-1 fused steps with the
    // SGD optimiser, over the same order, leave the same weights (to rounding).
    for architecture in ROW_DOT {
        let ctx = testing::ctx(12, 10);
        let spec = ModelSpec::with_defaults(architecture, 8);
        let per_rating =
            build(&spec, &ctx, &mut rand_chacha::ChaCha8Rng::seed_from_u64(2)).unwrap();
        let batched = build(&spec, &ctx, &mut rand_chacha::ChaCha8Rng::seed_from_u64(2)).unwrap();
        let training = TrainingSpec {
            optimizer: OptimizerName::Sgd,
            ..TrainingSpec::adam(1, 1, 0.02, 0.03)
        };
        let ratings = random_triples(400, 12, 10, 5);
        let sgd = PerRatingSgd::for_run(&training, Engine::Fused).expect("qualifies");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        per_rating
            .per_rating_epoch(
                &EpochRatings::new(ratings.to_vec(), RatingOrder::Shuffled),
                &sgd,
                &mut rng,
            )
            .unwrap()
            .unwrap();
        let mut optimizer = train::optimizer(&training, batched.params()).unwrap();
        for t in &ratings {
            let batch = Batch {
                users: Tensor::new(&[t.user], &Device::Cpu).unwrap(),
                items: Tensor::new(&[t.item], &Device::Cpu).unwrap(),
            };
            let target = Tensor::new(&[t.value], &Device::Cpu).unwrap();
            let mut tape = Tape::recording_seeded(0);
            let (_, grads) = batched
                .fused_step(&batch, &target, Loss::Mse, &mut tape)
                .unwrap()
                .unwrap();
            optimizer.step(batched.params(), &tape, &grads).unwrap();
        }
        for (a, b) in per_rating
            .params()
            .tables()
            .iter()
            .zip(batched.params().tables())
        {
            let (a, b) = (
                a.weight.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                b.weight.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            );
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{architecture:?}: differ by {worst}");
            assert_ne!(a, values_at_start(architecture, &spec), "the epoch trained");
        }
    }
}

/// A freshly built model's first table, to check that an epoch moved it.
fn values_at_start(_: Architecture, spec: &ModelSpec) -> Vec<f32> {
    let ctx = testing::ctx(12, 10);
    let model = build(spec, &ctx, &mut rand_chacha::ChaCha8Rng::seed_from_u64(2)).unwrap();
    table_values(model.params(), TableId(0))
}

/// 60 users × 50 items, about half rated: a rank-2 signal plus noise, rounded to 1–5.
fn low_rank_ratings() -> Ratings {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let user: Vec<(f32, f32)> = (0..60)
        .map(|_| (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        .collect();
    let item: Vec<(f32, f32)> = (0..50)
        .map(|_| (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        .collect();
    let mut r = Ratings::default();
    for (u, a) in user.iter().enumerate() {
        for (i, b) in item.iter().enumerate() {
            if rng.random_bool(0.5) {
                let x = 3.0 + 1.5 * (a.0 * b.0 + a.1 * b.1) + rng.random_range(-0.3..0.3);
                r.push(u as u32, i as u32, x.round().clamp(1.0, 5.0), 0);
            }
        }
    }
    r
}

/// `architecture` (k = 8, seed 1) trained per rating on `threads` threads: the test RMSE
/// of every epoch.
fn train_per_rating(architecture: Architecture, threads: usize, lr: f64) -> Vec<f64> {
    let ratings = low_rank_ratings();
    let split = crate::data::split::holdout(ratings.len(), 0.2, 0.0, 1);
    let ctx = testing::ctx(60, 50);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let model = build(&ModelSpec::with_defaults(architecture, 8), &ctx, &mut rng).unwrap();
    let spec = TrainingSpec {
        optimizer: OptimizerName::Sgd,
        threads,
        ..TrainingSpec::adam(15, 1, lr, 0.02)
    };
    let mut optimizer = train::optimizer(&spec, model.params()).unwrap();
    let data = TrainData {
        ratings: &ratings,
        train: &split.train,
        validation: &[],
        test: &split.test,
        rating_range: (1.0, 5.0),
    };
    let trained = train::train(
        model.as_ref(),
        optimizer.as_mut(),
        &spec,
        data,
        &mut rng,
        &AtomicBool::new(false),
        |_| train::EpochControl::Continue,
    )
    .unwrap();
    trained.epochs.iter().map(|e| e.test.rmse).collect()
}

#[test]
fn two_threads_reach_the_rmse_of_one() {
    for architecture in [Architecture::BiasedMf, Architecture::FunkSvd] {
        let lr = if architecture == Architecture::BiasedMf {
            0.05
        } else {
            0.01
        };
        let one = train_per_rating(architecture, 1, lr);
        let two = train_per_rating(architecture, 2, lr);
        let (a, b) = (one[one.len() - 1], two[two.len() - 1]);
        assert!(a < one[0], "{architecture:?} learns: {one:?}");
        assert!((a - b).abs() < 0.01, "{architecture:?}: {a} vs {b}");
        assert_ne!(one, two, "two threads meet the ratings in another order");
        // The blocked scheme has no races: the same seed and threads repeat exactly.
        assert_eq!(two, train_per_rating(architecture, 2, lr));
    }
}

#[test]
fn a_diverging_per_rating_run_fails_and_a_raised_stop_flag_interrupts() {
    let ratings = low_rank_ratings();
    let split = crate::data::split::holdout(ratings.len(), 0.2, 0.0, 1);
    let ctx = testing::ctx(60, 50);
    let run = |lr: f64, stop: bool| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let spec_model = ModelSpec::with_defaults(Architecture::FunkSvd, 8);
        let model = build(&spec_model, &ctx, &mut rng).unwrap();
        let spec = TrainingSpec {
            optimizer: OptimizerName::Sgd,
            ..TrainingSpec::adam(3, 1, lr, 0.0)
        };
        let mut optimizer = train::optimizer(&spec, model.params()).unwrap();
        let data = TrainData {
            ratings: &ratings,
            train: &split.train,
            validation: &[],
            test: &split.test,
            rating_range: (1.0, 5.0),
        };
        train::train(
            model.as_ref(),
            optimizer.as_mut(),
            &spec,
            data,
            &mut rng,
            &AtomicBool::new(stop),
            |_| train::EpochControl::Continue,
        )
    };
    let diverged = run(50.0, false);
    assert!(
        matches!(diverged, Err(TrainError::Diverged { epoch: 1, .. })),
        "{diverged:?}"
    );
    let stopped = run(0.01, true);
    assert!(
        matches!(stopped, Err(TrainError::Interrupted { epoch: 1, batch: 1 })),
        "{stopped:?}"
    );
}

#[test]
fn a_shuffled_epoch_keeps_every_rating() {
    // Blocks on two and three threads see each rating once: the mean error they report
    // is over all ratings (a rating in no block would leave it NaN or short).
    let mut triples = random_triples(1000, 30, 20, 3);
    triples.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9));
    for threads in [2, 3] {
        let mut params = Params::new(&Device::Cpu, Engine::Fused);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let users = params
            .table("u", 30, 4, Init::Normal { std: 0.1 }, &mut rng)
            .unwrap();
        let items = params
            .table("v", 20, 4, Init::Normal { std: 0.1 }, &mut rng)
            .unwrap();
        // With learning rate 0 nothing moves: the mean squared error is that of the
        // initial weights, whatever the order.
        let sgd = |threads| PerRatingSgd {
            learning_rate: 0.0,
            l2: 0.0,
            threads,
        };
        let head = DotHead::Offset(3.0);
        let epoch = |threads| EpochRatings::new(triples.clone(), RatingOrder::Blocks(threads));
        let one = row_dot_epoch(&params, (users, items), head, &epoch(1), &sgd(1)).unwrap();
        let many = row_dot_epoch(
            &params,
            (users, items),
            head,
            &epoch(threads),
            &sgd(threads),
        )
        .unwrap();
        assert!(
            (one - many).abs() < 1e-9 * one,
            "{threads}: {one} vs {many}"
        );
    }
}
