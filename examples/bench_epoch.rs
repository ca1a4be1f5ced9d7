//! Seconds per training epoch of the rating models, for `scripts/bench-epoch.sh`.
//!
//! Usage: `bench_epoch [DATASET] [EPOCHS]` with the data set's files under
//! `$EXP_DATA_DIR/<DATASET>/` (default ml-100k; ml-latest-small also works embedded).
//! Trains each architecture at batch 64 with 50 factors on a 90/10 holdout (seed 42) and
//! prints one Markdown row per case: median, min and max seconds per epoch (training
//! batches only), ratings per second and the final test RMSE.

use std::time::Instant;

use exp::config::spec::*;
use exp::data::{self, split};
use exp::models::{self, ModelContext};
use exp::train::{self, TrainData};
use rand::SeedableRng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // As in `exp` itself: one compute thread per run.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let args: Vec<String> = std::env::args().collect();
    let dataset = match args.get(1).map(String::as_str).unwrap_or("ml-100k") {
        "ml-100k" => DatasetName::Ml100k,
        "ml-1m" => DatasetName::Ml1m,
        "ml-latest-small" => DatasetName::MlLatestSmall,
        other => anyhow::bail!("unknown data set {other}"),
    };
    let epochs: usize = args.get(2).map_or(Ok(7), |s| s.parse())?;
    let loaded = Instant::now();
    let data = data::load(&DataSpec {
        dataset,
        path: None,
    })?;
    eprintln!(
        "{}: {} ratings loaded in {:.3} s",
        data.name,
        data.ratings.len(),
        loaded.elapsed().as_secs_f64()
    );
    let split = split::holdout(data.ratings.len(), 0.1, 0.0, 42);
    let mean = split
        .train
        .iter()
        .map(|&i| data.ratings.values[i] as f64)
        .sum::<f64>()
        / split.train.len() as f64;
    println!(
        "| data set | model | factors | batch | s/epoch median | min | max | ratings/s | test RMSE |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for architecture in [Architecture::DotMf, Architecture::BiasedMf] {
        let batch_size = 64;
        let spec = TrainingSpec::adam(epochs, batch_size, 0.001, 0.001);
        let ctx = ModelContext {
            n_users: data.n_users(),
            n_items: data.n_items(),
            rating_range: data.rating_range,
            global_mean: mean as f32,
            device: candle_core::Device::Cpu,
            features: None,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        let model = models::build(&ModelSpec::with_defaults(architecture, 50), &ctx, &mut rng)?;
        let mut optimizer = train::optimizer(&spec, model.params())?;
        let reports = train::train(
            model.as_ref(),
            optimizer.as_mut(),
            &spec,
            TrainData {
                ratings: &data.ratings,
                train: &split.train,
                test: &split.test,
                rating_range: data.rating_range,
            },
            &mut rng,
            |_| {},
        )?;
        let mut times: Vec<f64> = reports.iter().map(|r| r.train_seconds).collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "| {} | {} | 50 | {batch_size} | {median:.4} | {:.4} | {:.4} | {:.0} | {:.4} |",
            data.name,
            architecture.as_str(),
            times[0],
            times[times.len() - 1],
            split.train.len() as f64 / median,
            reports.last().map_or(f64::NAN, |r| r.test.rmse),
        );
    }
    Ok(())
}
