//! Seconds per training epoch and test RMSE of the experiments given on the command line,
//! for `scripts/bench-epoch.sh`.
//!
//! Usage: `bench_models FILE.toml...`. Each file's base configuration (fold 0, sweep
//! ignored) is trained once on its data set (`EXP_DATA_DIR` as for `exp run`); one
//! Markdown row per file gives the median, min and max seconds per epoch over the training
//! batches alone (evaluation excluded), ratings per second, and the test RMSE of the
//! reported epoch. A file whose data is not at hand is listed as not run.

use std::path::Path;
use std::time::Instant;

use exp::config;
use exp::data;
use exp::models;
use exp::runner::split_for;
use exp::sweep;
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
    exp::alloc::keep_freed_pages();
    println!(
        "| experiment | data set | model | batch | epochs | s/epoch median | min | max | ratings/s | test RMSE |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for file in std::env::args().skip(1) {
        bench(Path::new(&file))?;
    }
    Ok(())
}

fn bench(file: &Path) -> anyhow::Result<()> {
    let experiment = config::load_experiment(file)?;
    let run = sweep::runs(&experiment)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{}: no run", file.display()))?;
    let config = &run.config;
    let name = &experiment.name;
    let data = match data::load(&config.data) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("{name}: not run: {e}");
            println!(
                "| {name} | {} | {} | {} | {} | not run here (data not at hand) | | | | |",
                config.data.dataset.as_str(),
                config.model.architecture.as_str(),
                config.training.batch_size,
                config.training.epochs
            );
            return Ok(());
        }
    };
    let split = split_for(&run, &data)?;
    let ctx = exp::runner::model_context(&run, &data, &split.train, &candle_core::Device::Cpu)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(run.seed);
    let model = models::build(&config.model, &ctx, &mut rng)?;
    let train_data = TrainData {
        ratings: &data.ratings,
        train: &split.train,
        validation: &split.validation,
        test: &split.test,
        rating_range: data.rating_range,
    };
    let started = Instant::now();
    let trained = match model.fit_closed_form(&data.ratings, &split.train) {
        Some(fitted) => {
            fitted?;
            train::closed_form_report(model.as_ref(), train_data, started, |_| {
                train::EpochControl::Continue
            })?
        }
        None => {
            let mut optimizer = train::optimizer(&config.training, model.params())?;
            train::train(
                model.as_ref(),
                optimizer.as_mut(),
                &config.training,
                train_data,
                &mut rng,
                &std::sync::atomic::AtomicBool::new(false),
                |_| train::EpochControl::Continue,
            )?
        }
    };
    let mut times: Vec<f64> = trained.epochs.iter().map(|r| r.train_seconds).collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let best = trained.best().map_or(f64::NAN, |r| r.test.rmse);
    println!(
        "| {name} | {} | {} | {} | {} | {median:.4} | {:.4} | {:.4} | {:.0} | {best:.4} |",
        data.name,
        config.model.architecture.as_str(),
        config.training.batch_size,
        trained.epochs.len(),
        times[0],
        times[times.len() - 1],
        split.train.len() as f64 / median.max(1e-9),
    );
    Ok(())
}
