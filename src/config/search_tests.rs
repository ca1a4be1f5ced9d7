//! `[search]`: the table read into a `SearchSpec`, every refusal with its line and key,
//! and the configuration of one trial.

use super::spec::Experiment;
use super::tests::{assert_reports, edit, parse, parse_with};
use super::*;
use crate::search::spec::{
    Condition, Distribution, Parameter, PrunerKind, PrunerSpec, SearchSpec, Strategy,
};

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

/// `BASE` (holdout with a validation set, 3 epochs, seed 7) with `extra` from line 28 on.
fn with(extra: &[&str]) -> String {
    edit(&[], extra)
}

/// `BASE` without a validation set, with `extra` from line 28 on.
fn without_validation(extra: &[&str]) -> String {
    edit(&[(12, "")], extra)
}

/// `BASE` split into 3 folds, with `extra` from line 28 on.
fn kfold(extra: &[&str]) -> String {
    edit(&[(10, "kind = \"kfold\""), (11, "k = 3"), (12, "")], extra)
}

/// A random search over `entries` (from line 32 on), 5 trials.
fn random_over(entries: &[&str]) -> String {
    let mut lines = vec![
        "[search]",              // 28
        "strategy = \"random\"", // 29
        "trials = 5",            // 30
        "[search.space]",        // 31
    ];
    lines.extend_from_slice(entries);
    with(&lines)
}

fn search_of(text: &str) -> crate::search::spec::SearchSpec {
    parse(text)
        .unwrap_or_else(|e| panic!("{e}"))
        .search
        .expect("a [search] table")
}

#[test]
fn a_tpe_search_parses_to_the_expected_spec() {
    let text = with(&[
        "[search]",                                                    // 28
        "strategy = \"tpe\"",                                          // 29
        "trials = 40",                                                 // 30
        "seed = 3",                                                    // 31
        "startup_trials = 5",                                          // 32
        "candidates = 12",                                             // 33
        "gamma = 0.2",                                                 // 34
        "[search.space]",                                              // 35
        "\"training.learning_rate\" = { log_uniform = [1e-4, 1e-1] }", // 36
        "model.architecture = { choice = [\"dot-mf\", \"ncf\"] }",     // 37
        "model.hidden_layers = { choice = [[16], [16, 8]], when = { \"model.architecture\" = [\"ncf\"] } }", // 38
        "[search.space.training]",                      // 39
        "l2 = { uniform = [0, 0.1] }",                  // 40
        "batch_size = { int = [32, 256], log = true }", // 41
        "epochs = { int = [1, 3], step = 2 }",          // 42
        "[search.pruner]",                              // 43
        "kind = \"asha\"",                              // 44
        "reduction_factor = 2",                         // 45
    ]);
    let exp = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let spec = exp.search.clone().expect("a [search] table");
    let choice = |values: Vec<toml::Value>| Distribution::Choice { values };
    let s = |text: &str| toml::Value::String(text.to_string());
    let list = |items: &[i64]| {
        toml::Value::Array(items.iter().map(|&n| toml::Value::Integer(n)).collect())
    };
    assert_eq!(
        spec,
        SearchSpec {
            strategy: Strategy::Tpe,
            trials: 40,
            seed: 3,
            space: vec![
                Parameter {
                    key: "training.learning_rate".into(),
                    distribution: Distribution::LogUniform {
                        low: 1e-4,
                        high: 1e-1
                    },
                    when: None,
                },
                Parameter {
                    key: "model.architecture".into(),
                    distribution: choice(vec![s("dot-mf"), s("ncf")]),
                    when: None,
                },
                Parameter {
                    key: "model.hidden_layers".into(),
                    distribution: choice(vec![list(&[16]), list(&[16, 8])]),
                    when: Some(Condition {
                        key: "model.architecture".into(),
                        values: vec![s("ncf")],
                    }),
                },
                Parameter {
                    key: "training.l2".into(),
                    distribution: Distribution::Uniform {
                        low: 0.0,
                        high: 0.1
                    },
                    when: None,
                },
                Parameter {
                    key: "training.batch_size".into(),
                    distribution: Distribution::Int {
                        low: 32,
                        high: 256,
                        log: true,
                        step: 1
                    },
                    when: None,
                },
                Parameter {
                    key: "training.epochs".into(),
                    distribution: Distribution::Int {
                        low: 1,
                        high: 3,
                        log: false,
                        step: 2
                    },
                    when: None,
                },
            ],
            startup_trials: 5,
            candidates: 12,
            gamma: 0.2,
            pruner: PrunerSpec {
                kind: PrunerKind::Asha,
                min_epochs: 1,
                reduction_factor: 2,
                // The base's `training.epochs`.
                max_epochs: 3,
                startup_trials: 5,
                p_threshold: 0.1,
            },
        }
    );
    // No grid: the base alone, drawn from by the sampler.
    assert!(exp.sweep.is_empty());
    assert_eq!(exp.points, vec![exp.base.clone()]);
}

#[test]
fn search_defaults_apply() {
    let spec = search_of(&random_over(&[
        "training.learning_rate = { uniform = [0.001, 0.1] }",
    ]));
    assert_eq!(spec.strategy, Strategy::Random);
    assert_eq!(spec.trials, 5);
    // `experiment.seed`.
    assert_eq!(spec.seed, 7);
    assert_eq!(spec.startup_trials, 10);
    assert_eq!(spec.candidates, 24);
    assert_eq!(spec.gamma, 0.1);
    assert_eq!(
        spec.pruner,
        PrunerSpec {
            kind: PrunerKind::None,
            min_epochs: 1,
            reduction_factor: 3,
            max_epochs: 3,
            startup_trials: 5,
            p_threshold: 0.1,
        }
    );
}

#[test]
fn a_grid_search_runs_every_sweep_point_with_unchanged_run_keys() {
    let sweep = [
        "[sweep]",
        "model.embedding_size = [8, 16]",
        "training.l2 = [0.1, 0.2, 0.3]",
    ];
    let plain = parse(&with(&sweep)).expect("valid");
    let mut lines = sweep.to_vec();
    lines.extend([
        "[search]",
        "strategy = \"grid\"",
        "[search.pruner]",
        "kind = \"median\"",
    ]);
    let grid = parse(&with(&lines)).expect("valid");
    let spec = grid.search.clone().expect("a [search] table");
    assert_eq!(spec.strategy, Strategy::Grid);
    assert_eq!(spec.trials, 6);
    assert!(spec.space.is_empty());
    assert_eq!(spec.pruner.kind, PrunerKind::Median);
    let keys = |exp: &Experiment| -> Vec<String> {
        crate::sweep::runs(exp)
            .expect("runs")
            .into_iter()
            .map(|r| r.key)
            .collect()
    };
    assert_eq!(grid.points, plain.points);
    assert_eq!(keys(&grid), keys(&plain));
}

#[test]
fn the_three_spellings_of_a_key_are_one_parameter() {
    let quoted = random_over(&["\"training.learning_rate\" = { log_uniform = [0.001, 0.1] }"]);
    let dotted = random_over(&["training.learning_rate = { log_uniform = [0.001, 0.1] }"]);
    let table = random_over(&[
        "[search.space.training]",
        "learning_rate = { log_uniform = [0.001, 0.1] }",
    ]);
    let expected = vec![Parameter {
        key: "training.learning_rate".into(),
        distribution: Distribution::LogUniform {
            low: 0.001,
            high: 0.1,
        },
        when: None,
    }];
    for text in [quoted, dotted, table] {
        assert_eq!(search_of(&text).space, expected, "{text}");
    }
}

#[test]
fn the_wilcoxon_pruner_runs_on_folds() {
    let text = kfold(&[
        "[search]",
        "strategy = \"random\"",
        "trials = 5",
        "[search.space]",
        "training.l2 = { uniform = [0, 0.1] }",
        "[search.pruner]",
        "kind = \"wilcoxon\"",
        "p_threshold = 0.05",
    ]);
    let spec = search_of(&text);
    assert_eq!(spec.pruner.kind, PrunerKind::Wilcoxon);
    assert_eq!(spec.pruner.p_threshold, 0.05);
}
