//! `[search]`: the table read into a `SearchSpec`, every refusal with its line and key,
//! and the configuration of one trial.

use super::tests::{edit, parse, parse_with};
use super::*;

/// `(key, value)` params as a trial draws them.
fn params(pairs: &[(&str, toml::Value)]) -> Vec<(String, toml::Value)> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect()
}

#[test]
fn a_trial_has_the_configuration_and_run_key_of_the_grid_point_with_its_values() {
    let search = edit(
        &[],
        &[
            "[search]",
            "strategy = \"random\"",
            "trials = 5",
            "[search.space]",
            "model.embedding_size = { int = [8, 64] }",
            "training.learning_rate = { log_uniform = [1e-4, 1e-1] }",
        ],
    );
    let grid = edit(
        &[],
        &[
            "[sweep]",
            "model.embedding_size = [16]",
            "training.learning_rate = [0.003]",
        ],
    );
    let experiment = parse(&search).expect("valid");
    let values = params(&[
        ("model.embedding_size", toml::Value::Integer(16)),
        ("training.learning_rate", toml::Value::Float(0.003)),
    ]);
    let trial = trial_config(&experiment, &values).expect("a valid trial");
    let point = parse(&grid).expect("valid").points.remove(0);
    assert_eq!(trial.model.embedding_size, 16);
    assert_eq!(trial.training.learning_rate, 0.003);
    assert_eq!(trial, point);
    assert_eq!(
        crate::sweep::run_key(7, &trial, 0),
        crate::sweep::run_key(7, &point, 0)
    );
}

#[test]
fn a_trial_applies_the_experiments_overrides_first() {
    let text = edit(
        &[],
        &[
            "[search]",
            "strategy = \"random\"",
            "trials = 5",
            "[search.space]",
            "training.learning_rate = { uniform = [0.001, 0.1] }",
        ],
    );
    let experiment = parse_with(&text, &["training.epochs=9", "training.l2=0.5"]).expect("valid");
    let values = params(&[
        ("training.l2", toml::Value::Float(0.25)),
        ("training.learning_rate", toml::Value::Float(0.02)),
    ]);
    let trial = trial_config(&experiment, &values).expect("a valid trial");
    assert_eq!(trial.training.epochs, 9);
    // The trial's value comes after the experiment's `--set`, so it wins.
    assert_eq!(trial.training.l2, 0.25);
    assert_eq!(trial.training.learning_rate, 0.02);
}

#[test]
fn a_trial_value_that_breaks_the_files_rules_names_its_argument() {
    let text = edit(
        &[],
        &[
            "[search]",
            "strategy = \"random\"",
            "trials = 5",
            "[search.space]",
            "model.embedding_size = { int = [8, 64] }",
        ],
    );
    let experiment = parse(&text).expect("valid");
    let values = params(&[("model.embedding_size", toml::Value::Integer(0))]);
    let shown = trial_config(&experiment, &values)
        .expect_err("0 is no embedding size")
        .to_string();
    assert_eq!(
        shown,
        "--set model.embedding_size=0: `model.embedding_size` must be >= 1, got 0"
    );
}
