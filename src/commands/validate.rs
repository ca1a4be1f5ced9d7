//! `exp validate`: parse, validate and print the grid; trains nothing.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::ValidateArgs;
use anyhow::Context;

use crate::config;
use crate::config::spec::Experiment;
use crate::data;
use crate::engine::per_rating;
use crate::output;
use crate::search::spec::PrunerKind;
use crate::sweep;

/// Prints the experiment's grid points and run count to stdout.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let experiment = config::load_experiment(&args.experiment)?;
    let points = sweep::expand(&experiment)?;
    let dir = args.db.results_dir(&experiment.name);
    output::check_dir(&dir).with_context(|| {
        format!(
            "{}: `experiment.name` = `{}`: cannot use its results directory `{}`",
            args.experiment.display(),
            experiment.name,
            dir.display()
        )
    })?;
    check_against_data(&experiment)?;
    let folds = experiment.base.split.folds();
    if let Some(search) = experiment.search.as_ref().filter(|s| !s.space.is_empty()) {
        let pruner = match search.pruner.kind {
            PrunerKind::None => String::new(),
            kind => format!(", pruned by {}", kind.as_str()),
        };
        println!(
            "{}: valid; a {} search of {} trial(s) × {} fold(s){pruner}, drawn from:",
            args.experiment.display(),
            search.strategy.as_str(),
            search.trials,
            folds
        );
        for parameter in &search.space {
            let when = parameter
                .when
                .as_ref()
                .map(|c| {
                    let values: Vec<String> = c.values.iter().map(ToString::to_string).collect();
                    format!("  (when {} is {})", c.key, values.join(" or "))
                })
                .unwrap_or_default();
            println!("  {}: {}{when}", parameter.key, parameter.distribution);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: valid; {} configuration(s) × {} fold(s) = {} run(s)",
        args.experiment.display(),
        points.len(),
        folds,
        points.len() * folds
    );
    for point in &points {
        let config = &point.config;
        let per_rating = per_rating::label(config.model.architecture, &config.training)
            .map(|label| format!(" · {label}"))
            .unwrap_or_default();
        println!(
            "  {:>3}. {}  [{} · {} · k={} · {} epochs · batch {}{per_rating} · lr {}]",
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

/// Loads each data set the grid reads, where it is on this machine, and checks the grid
/// points against it as `exp run` will (memory, rating range). A data set that is not
/// here (or does not load) is a note, not an error: validating a file needs no data.
fn check_against_data(experiment: &Experiment) -> anyhow::Result<()> {
    let mut datasets = HashMap::new();
    for point in &experiment.points {
        if datasets.contains_key(&point.data) {
            continue;
        }
        match data::load(&point.data) {
            Ok(dataset) => {
                datasets.insert(point.data.clone(), Arc::new(dataset));
            }
            Err(error) => eprintln!(
                "note: {} not checked against the data (memory, rating range): {error}",
                point.data.dataset.as_str()
            ),
        }
    }
    crate::preflight::check(experiment, &[], &datasets)?;
    Ok(())
}
