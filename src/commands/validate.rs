//! `exp validate`: parse, validate and print the grid; trains nothing.

use std::process::ExitCode;

use crate::cli::ValidateArgs;
use crate::config;
use crate::sweep;

/// Prints the experiment's grid points and run count to stdout.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let experiment = config::load_experiment(&args.experiment)?;
    let points = sweep::expand(&experiment)?;
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
