//! `exp validate`: parse, validate and print the grid; trains nothing.

use std::process::ExitCode;

use crate::cli::ValidateArgs;
use anyhow::Context;

use crate::config;
use crate::output;
use crate::store::results_dir;
use crate::sweep;

/// Prints the experiment's grid points and run count to stdout.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let experiment = config::load_experiment(&args.experiment)?;
    let points = sweep::expand(&experiment)?;
    let dir = results_dir(&args.db, &experiment.name);
    output::check_dir(&dir).with_context(|| {
        format!(
            "{}: `experiment.name` = `{}`: cannot use its results directory `{}`",
            args.experiment.display(),
            experiment.name,
            dir.display()
        )
    })?;
    let folds = experiment.base.split.folds();
    println!(
        "{}: valid; {} configuration(s) × {} fold(s) = {} run(s)",
        args.experiment.display(),
        points.len(),
        folds,
        points.len() * folds
    );
    for point in &points {
        let config = &point.config;
        println!(
            "  {:>3}. {}  [{} · {} · k={} · {} epochs · batch {} · lr {}]",
            point.index + 1,
            sweep::params_label(&point.params),
            config.data.dataset.as_str(),
            config.model.architecture.as_str(),
            config.model.embedding_size,
            config.training.epochs,
            config.training.batch_size,
            config.training.learning_rate,
        );
    }
    Ok(ExitCode::SUCCESS)
}
