//! `exp run`: validate → load data → train the pending runs in parallel → store → charts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::cli::RunArgs;
use crate::config;
use crate::data;
use crate::report;
use crate::runner::CandleExecutor;
use crate::scheduler::{self, Event};
use crate::store::Store;
use crate::sweep;

/// Runs the experiment file's grid and prints the ranking; exits non-zero if a run failed.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    // Everything that can be wrong with the file is found before the database is touched.
    let experiment = config::load_experiment(&args.experiment)?;
    let runs = sweep::runs(&experiment)?;

    let mut datasets = HashMap::new();
    for run in &runs {
        if !datasets.contains_key(&run.config.data) {
            let dataset = data::load(&run.config.data).with_context(|| {
                format!("loading data set {}", run.config.data.dataset.as_str())
            })?;
            eprintln!(
                "{}: {} users, {} items, {} ratings",
                dataset.name,
                dataset.n_users(),
                dataset.n_items(),
                dataset.ratings.len()
            );
            // Skipped lines and what the [data] filters removed.
            for line in dataset.report.lines() {
                eprintln!("{line}");
            }
            datasets.insert(run.config.data.clone(), Arc::new(dataset));
        }
    }

    let mut store = Store::open(&args.db)?;
    let experiment_id = store.upsert_experiment(
        &experiment.name,
        &args.experiment.display().to_string(),
        &experiment.source_text,
    )?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    eprintln!(
        "{}: {} run(s), {} in parallel, results in {}",
        experiment.name,
        runs.len(),
        jobs,
        args.db.display()
    );

    let out_dir = results_dir(&args.db, &experiment.name);
    let total = runs.len();
    let done = AtomicUsize::new(0);
    let progress = |event: Event<'_>| {
        if let Event::Ended { run, rmse, error } = event {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let label = sweep::params_label(&run.params);
            match (rmse, error) {
                (_, Some(error)) => {
                    eprintln!(
                        "[{n}/{total}] FAILED {label} fold {}: {error}",
                        run.fold + 1
                    )
                }
                (Some(rmse), None) => {
                    eprintln!(
                        "[{n}/{total}] {label} fold {}: test RMSE {rmse:.4}",
                        run.fold + 1
                    )
                }
                (None, None) => {}
            }
        }
    };
    let store = Mutex::new(store);
    let summary = scheduler::run_sweep(
        &runs,
        &datasets,
        &store,
        experiment_id,
        &CandleExecutor::cpu().with_checkpoints(out_dir.join("checkpoints")),
        jobs,
        &progress,
    )?;
    let store = store.into_inner().unwrap_or_else(|p| p.into_inner());

    let charts = report::charts::write_experiment_charts(&store, &experiment.name, &out_dir)
        .with_context(|| format!("writing charts to {}", out_dir.display()))?;
    let stored = store.runs(Some(&experiment.name))?;
    let summaries = report::compare::summarize(&stored);
    print!(
        "{}",
        report::compare::render(
            &summaries,
            &report::Metric::rmse(),
            report::compare::Format::Table
        )
    );
    eprintln!(
        "{}: {} finished, {} failed, {} already done; charts: {}",
        experiment.name,
        summary.finished,
        summary.failed.len(),
        summary.skipped,
        charts
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if summary.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for (key, error) in &summary.failed {
            eprintln!("  failed run {key}: {error}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// Where an experiment's charts go: `<database directory>/<experiment>/`.
pub fn results_dir(db: &Path, experiment: &str) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(experiment)
}
