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

#[test]
fn bad_ranges_are_refused_on_their_line() {
    let lr = "training.learning_rate";
    let size = "model.embedding_size";
    let cases: &[(&str, &str, &str)] = &[
        (
            "training.learning_rate = { uniform = [] }",
            lr,
            "`uniform` must be a list of two finite numbers `[low, high]`, got array []",
        ),
        (
            "training.learning_rate = { uniform = [0.1] }",
            lr,
            "must be a list of two finite numbers",
        ),
        (
            "training.learning_rate = { uniform = [0.1, \"x\"] }",
            lr,
            "must be a list of two finite numbers",
        ),
        (
            "training.learning_rate = { uniform = [0.1, 0.01] }",
            lr,
            "the range `uniform = [0.1, 0.01]` is empty",
        ),
        (
            "training.learning_rate = { log_uniform = [0.01, 0.01] }",
            lr,
            "the range `log_uniform = [0.01, 0.01]` is empty",
        ),
        (
            "model.embedding_size = { int = [8, 8] }",
            size,
            "the range `int = [8, 8]` is empty",
        ),
        (
            "model.embedding_size = { int = [8, 16.5] }",
            size,
            "`int` must be a list of two integers",
        ),
        (
            "training.learning_rate = { log_uniform = [0, 0.1] }",
            lr,
            "a log-scale `log_uniform` range must start above 0, got 0",
        ),
        (
            "training.learning_rate = { log_uniform = [-1, 0.1] }",
            lr,
            "must start above 0, got -1",
        ),
        (
            "model.embedding_size = { int = [0, 8], log = true }",
            size,
            "a log-scale `int` range must start above 0, got 0",
        ),
    ];
    for &(entry, key, what) in cases {
        assert_reports(&random_over(&[entry]), 32, key, what);
    }
}

#[test]
fn bad_entries_are_refused_on_their_line() {
    let lr = "training.learning_rate";
    let size = "model.embedding_size";
    let cases: &[(&str, &str, &str)] = &[
        (
            "training.learning_rate = { normal = [0, 1] }",
            lr,
            "unknown distribution `normal`; an entry of `[search.space]` takes one of `uniform`, \
             `log_uniform`, `int`, `choice`",
        ),
        (
            "training.learning_rate = { uniform = [0.001, 0.1], normal = [0, 1] }",
            lr,
            "unknown distribution `normal`",
        ),
        (
            "training.learning_rate = [0.001, 0.1]",
            lr,
            "must be a table with one distribution",
        ),
        (
            "training.learning_rate = { when = { \"model.architecture\" = [\"ncf\"] } }",
            lr,
            "must be a table with one distribution",
        ),
        (
            "training.learning_rate = { uniform = [0.001, 0.1], log_uniform = [0.001, 0.1] }",
            lr,
            "has two distributions, `uniform` and `log_uniform`",
        ),
        (
            "training.learning_rate = { uniform = [0.001, 0.1], log = true }",
            lr,
            "`log` only applies to `int`, not to `uniform`",
        ),
        (
            "model.architecture = { choice = [\"ncf\"], step = 2 }",
            "model.architecture",
            "`step` only applies to `int`, not to `choice`",
        ),
        (
            "model.embedding_size = { int = [8, 64], step = 0 }",
            size,
            "`step` must be an integer >= 1, got 0",
        ),
        (
            "model.embedding_size = { int = [8, 64], log = true, step = 2 }",
            size,
            "an `int` with `log = true` takes every integer, so `step` must be 1, got 2",
        ),
        (
            "model.architecture = { choice = [] }",
            "model.architecture",
            "`choice` lists no values",
        ),
        (
            "model.architecture = { choice = [\"ncf\", \"mlp\", \"ncf\"] }",
            "model.architecture",
            "lists `\"ncf\"` more than once",
        ),
        (
            "training.l2 = { choice = [0.1, 0.10] }",
            "training.l2",
            "lists `0.10` more than once",
        ),
    ];
    for &(entry, key, what) in cases {
        assert_reports(&random_over(&[entry]), 32, key, what);
    }
}

#[test]
fn keys_that_cannot_be_searched_are_refused() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "experiment.seed = { int = [1, 5] }",
            "experiment.seed",
            "`experiment.*` is fixed for the whole experiment",
        ),
        (
            "training.checkpoint = { choice = [\"none\", \"best\"] }",
            "training.checkpoint",
            "it decides what is stored, not what is trained",
        ),
        (
            "model.nope = { int = [1, 5] }",
            "model.nope",
            "cannot search unknown key `model.nope`; keys that can be searched: `model.architecture`",
        ),
        (
            "data.k_core = { int = [1, 5] }",
            "data.k_core",
            "the data and the split are loaded once for the whole search, and the validation \
             scores of trials must be comparable",
        ),
        (
            "split.test_fraction = { uniform = [0.1, 0.2] }",
            "split.test_fraction",
            "cannot search `split.test_fraction`: the data and the split are loaded once",
        ),
    ];
    for &(entry, key, what) in cases {
        assert_reports(&random_over(&[entry]), 32, key, what);
    }
    // The same key twice, in two spellings.
    assert_reports(
        &random_over(&[
            "training.l2 = { uniform = [0, 0.1] }",
            "\"training.l2\" = { uniform = [0, 0.2] }",
        ]),
        33,
        "training.l2",
        "is searched twice (first on line 32)",
    );
    // Unknown keys are not searchable either in the list of searchable ones.
    let shown = super::tests::error(&random_over(&["model.nope = { int = [1, 5] }"]));
    assert!(
        !shown.contains("`data.k_core`") && !shown.contains("`split.k`"),
        "{shown}"
    );
}

#[test]
fn searched_values_are_checked_like_sweep_values() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "model.embedding_size = { uniform = [8, 64] }",
            "model.embedding_size",
            "takes an integer, but `uniform` draws floats; use `int = [a, b]`",
        ),
        (
            "model.embedding_size = { log_uniform = [8, 64] }",
            "model.embedding_size",
            "but `log_uniform` draws floats; use `int = [a, b]`",
        ),
        (
            "model.embedding_size = { int = [-5, 8] }",
            "model.embedding_size",
            "`model.embedding_size` must be >= 1, got -5",
        ),
        (
            "model.architecture = { choice = [\"nope\"] }",
            "model.architecture",
            "must be one of",
        ),
        (
            "training.l2 = { uniform = [-1, 0.1] }",
            "training.l2",
            "`training.l2` must be >= 0, got -1",
        ),
        (
            "model.hidden_layers = { choice = [16, 8] }",
            "model.hidden_layers",
            "must be a list of integers",
        ),
    ];
    for &(entry, key, what) in cases {
        assert_reports(&random_over(&[entry]), 32, key, what);
    }
    // A conditional value is checked with its condition in place: momentum needs sgd.
    let text = random_over(&[
        "training.optimizer = { choice = [\"adam\", \"sgd\"] }",
        "training.momentum = { uniform = [0, 0.9], when = { \"training.optimizer\" = [\"sgd\"] } }",
    ]);
    assert_eq!(search_of(&text).space.len(), 2);
    // Without it, the base's optimizer (adam) refuses momentum.
    let text = random_over(&["training.momentum = { uniform = [0, 0.9] }"]);
    assert_reports(&text, 32, "training.momentum", "only allowed with");
}

#[test]
fn bad_conditions_are_refused() {
    let arch = "model.architecture = { choice = [\"biased-mf\", \"ncf\"] }";
    let cases: &[(&[&str], usize, &str)] = &[
        (
            &[
                arch,
                "model.hidden_layers = { choice = [[8]], when = { \"model.nope\" = [\"ncf\"] } }",
            ],
            33,
            "`when` names `model.nope`, which is not a key of an experiment file",
        ),
        (
            &[
                "model.hidden_layers = { choice = [[8]], when = { \"model.architecture\" = [\"ncf\"] } }",
            ],
            32,
            "`when` names `model.architecture`, which is not searched",
        ),
        (
            &[
                "training.l2 = { uniform = [0, 0.1] }",
                "model.hidden_layers = { choice = [[8]], when = { \"training.l2\" = [0.1] } }",
            ],
            33,
            "`when` names `training.l2`, a `uniform`; a condition must be on a `choice`",
        ),
        (
            &[
                "model.hidden_layers = { choice = [[8]], when = { \"model.architecture\" = [\"ncf\"] } }",
                arch,
            ],
            32,
            "`when` names `model.architecture`, declared on line 33; a condition must be on a key \
             declared before this one",
        ),
        (
            &[
                arch,
                "model.hidden_layers = { choice = [[8]], when = { \"model.architecture\" = [\"mlp\"] } }",
            ],
            33,
            "`when` lists \"mlp\" for `model.architecture`, which is not one of its choices \
             [\"biased-mf\", \"ncf\"]",
        ),
        (
            &[arch, "model.hidden_layers = { choice = [[8]], when = 3 }"],
            33,
            "`when` must name one searched key and its values",
        ),
    ];
    for &(entries, line, what) in cases {
        let text = random_over(entries);
        assert_reports(&text, line, "model.hidden_layers", what);
        // A refused entry is not counted as a small space as well.
        let shown = super::tests::error(&text);
        assert!(!shown.contains("distinct configuration"), "{shown}");
    }
}

#[test]
fn search_table_values_are_checked() {
    let entry = "training.l2 = { uniform = [0, 0.1] }";
    let search = |keys: &[&str]| {
        let mut lines = vec!["[search]"];
        lines.extend_from_slice(keys);
        lines.extend(["[search.space]", entry]);
        with(&lines)
    };
    assert_reports(
        &search(&["strategy = \"random\"", "trials = 0"]),
        30,
        "search.trials",
        "must be an integer >= 1, got 0",
    );
    assert_reports(
        &search(&["strategy = \"bayes\"", "trials = 5"]),
        29,
        "search.strategy",
        "must be one of `grid`, `random`, `tpe`, got `bayes`",
    );
    assert_reports(
        &search(&["trials = 5"]),
        28,
        "search.strategy",
        "missing required key",
    );
    assert_reports(
        &search(&["strategy = \"random\""]),
        28,
        "search.trials",
        "missing required key",
    );
    assert_reports(
        &search(&["strategy = \"tpe\"", "trials = 5", "gamma = 0"]),
        31,
        "search.gamma",
        "must be > 0 and <= 1, got 0",
    );
    assert_reports(
        &search(&["strategy = \"tpe\"", "trials = 5", "seed = -1"]),
        31,
        "search.seed",
        "must be an integer >= 0, got -1",
    );
    assert_reports(
        &search(&["strategy = \"tpe\"", "trials = 5", "startup = 3"]),
        31,
        "search.startup",
        "keys allowed in [search]: `strategy`, `trials`",
    );
    let pruner = |keys: &[&str]| {
        let mut lines = vec![
            "[search]",
            "strategy = \"random\"",
            "trials = 5",
            "[search.space]",
            entry,
            "[search.pruner]", // 33
        ];
        lines.extend_from_slice(keys);
        with(&lines)
    };
    assert_reports(
        &pruner(&["kind = \"hyperband\""]),
        34,
        "search.pruner.kind",
        "must be one of `none`, `asha`, `median`, `wilcoxon`, got `hyperband`",
    );
    assert_reports(
        &pruner(&["kind = \"asha\"", "reduction_factor = 1"]),
        35,
        "search.pruner.reduction_factor",
        "must be an integer >= 2, got 1",
    );
    assert_reports(
        &pruner(&["kind = \"asha\"", "max_epochs = 4"]),
        35,
        "search.pruner.max_epochs",
        "must be <= `training.epochs` (3), got 4",
    );
    assert_reports(
        &pruner(&["kind = \"asha\"", "min_epochs = 3", "max_epochs = 2"]),
        35,
        "search.pruner.min_epochs",
        "must be <= `search.pruner.max_epochs` (2), got 3",
    );
    assert_reports(
        &pruner(&["kind = \"median\"", "min_epochs = 0"]),
        35,
        "search.pruner.min_epochs",
        "must be an integer >= 1, got 0",
    );
    assert_reports(
        &pruner(&["kind = \"wilcoxon\"", "p_threshold = 1"]),
        35,
        "search.pruner.p_threshold",
        "must be > 0 and < 1, got 1",
    );
}

#[test]
fn strategy_space_sweep_and_split_must_agree() {
    let entry = "training.l2 = { uniform = [0, 0.1] }";
    // [sweep] with random.
    assert_reports(
        &with(&[
            "[sweep]",
            "training.l2 = [0.1, 0.2]",
            "[search]",
            "strategy = \"random\"", // 31
            "trials = 5",
            "[search.space]",
            "model.embedding_size = { int = [8, 64] }",
        ]),
        31,
        "search.strategy",
        "cannot be used with `[sweep]`: use `[sweep]` with strategy grid, or `[search.space]`",
    );
    // A space with grid.
    assert_reports(
        &with(&[
            "[sweep]",
            "training.l2 = [0.1, 0.2]",
            "[search]",
            "strategy = \"grid\"",
            "[search.space]", // 32
            "model.embedding_size = { int = [8, 64] }",
        ]),
        32,
        "search.space",
        "must be empty with strategy grid",
    );
    // trials with grid.
    assert_reports(
        &with(&[
            "[sweep]",
            "training.l2 = [0.1, 0.2]",
            "[search]",
            "strategy = \"grid\"",
            "trials = 3", // 32
        ]),
        32,
        "search.trials",
        "is only allowed with `search.strategy` \"random\" or \"tpe\"",
    );
    // Grid without [sweep].
    assert_reports(
        &with(&["[search]", "strategy = \"grid\""]),
        29,
        "search.strategy",
        "runs every point of `[sweep]`, but the file has no `[sweep]`",
    );
    // An empty space.
    for lines in [
        &["[search]", "strategy = \"tpe\"", "trials = 5"][..],
        &[
            "[search]",
            "strategy = \"tpe\"",
            "trials = 5",
            "[search.space]",
        ][..],
    ] {
        assert_reports(
            &with(lines),
            29,
            "search.strategy",
            "needs at least one key in `[search.space]`",
        );
    }
    // No validation set.
    let random = [
        "[search]",
        "strategy = \"random\"",
        "trials = 5",
        "[search.space]",
        entry,
    ];
    assert_reports(
        &without_validation(&random),
        29,
        "search.strategy",
        "strategy \"random\" needs a validation set (a search chooses trials by validation RMSE)",
    );
    let asha = [
        "[sweep]",
        "training.l2 = [0.1, 0.2]",
        "[search]",
        "strategy = \"grid\"",
        "[search.pruner]",
        "kind = \"asha\"", // 33
    ];
    assert_reports(
        &without_validation(&asha),
        33,
        "search.pruner.kind",
        "the pruner \"asha\" needs a validation set",
    );
    // ...which k-fold does not need; the grid alone neither.
    search_of(&kfold(&random));
    search_of(&without_validation(&asha[..4]));
    // Wilcoxon pairs folds.
    let mut wilcoxon = random.to_vec();
    wilcoxon.extend(["[search.pruner]", "kind = \"wilcoxon\""]); // 34
    assert_reports(
        &with(&wilcoxon),
        34,
        "search.pruner.kind",
        "compares trials fold by fold, so it needs `split.kind = \"kfold\"`, but the kind is \"holdout\"",
    );
}

#[test]
fn a_discrete_space_needs_as_many_configurations_as_trials() {
    let space = |trials: &'static str| {
        with(&[
            "[search]",
            "strategy = \"random\"",
            trials, // 30
            "[search.space]",
            "model.architecture = { choice = [\"biased-mf\", \"ncf\"] }",
            // 3 values, only for ncf: biased-mf 1 + ncf 3 = 4 configurations...
            "model.hidden_layers = { choice = [[8], [16], [8, 8]], when = { \"model.architecture\" = [\"ncf\"] } }",
            // ...times 32, 40, 48.
            "model.embedding_size = { int = [32, 48], step = 8 }",
        ])
    };
    assert_eq!(search_of(&space("trials = 12")).trials, 12);
    assert_reports(
        &space("trials = 13"),
        30,
        "search.trials",
        "is 13, but the space (only `choice` and `int` keys) has 12 distinct configuration(s)",
    );
    // A continuous key makes the space unbounded.
    let text = random_over(&[
        "model.architecture = { choice = [\"biased-mf\"] }",
        "training.l2 = { uniform = [0, 0.1] }",
    ]);
    assert_eq!(search_of(&text).trials, 5);
}

#[test]
fn every_search_problem_is_reported_at_once_in_line_order() {
    let text = with(&[
        "[search]",
        "strategy = \"random\"",
        "trials = 0", // 30
        "[search.space]",
        "training.learning_rate = { uniform = [0.1, 0.01] }", // 32
        "training.l2 = { normal = [0, 1] }",                  // 33
    ]);
    let shown = super::tests::error(&text);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(
        lines[0].starts_with("experiments/bad.toml:30: `search.trials`"),
        "{shown}"
    );
    assert!(
        lines[1].starts_with("experiments/bad.toml:32: `training.learning_rate`"),
        "{shown}"
    );
    assert!(
        lines[2].starts_with("experiments/bad.toml:33: `training.l2`"),
        "{shown}"
    );
}

#[test]
fn the_documented_search_examples_load() {
    let docs = include_str!("../../docs/experiment-file.md");
    let (_, section) = docs
        .split_once("## `[search]`")
        .expect("docs/experiment-file.md has a [search] section");
    let examples: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(toml, _)| toml))
        .filter(|toml| toml.starts_with("[experiment]"))
        .collect();
    assert_eq!(examples.len(), 2, "two complete examples");
    let strategies: Vec<Strategy> = examples
        .iter()
        .map(|text| search_of(text).strategy)
        .collect();
    assert_eq!(strategies, [Strategy::Random, Strategy::Tpe]);
    let tpe = search_of(examples[1]);
    assert_eq!(
        tpe.space[1].when,
        Some(Condition {
            key: "model.architecture".into(),
            values: vec![toml::Value::String("ncf".into())],
        })
    );
}

#[test]
fn a_trial_does_not_read_the_search_table_again() {
    let text = random_over(&["training.l2 = { uniform = [0, 0.1] }"]);
    let mut experiment = parse(&text).expect("valid");
    // What was validated when the experiment was loaded is not checked per trial: a
    // space that would now be refused does not stop a trial from being built.
    experiment.source_text = text.replace("uniform = [0, 0.1]", "uniform = [0.1, 0]");
    assert!(parse(&experiment.source_text).is_err());
    let values = params(&[("training.l2", toml::Value::Float(0.05))]);
    let trial = trial_config(&experiment, &values).expect("a valid trial");
    assert_eq!(trial.training.l2, 0.05);
}

#[test]
fn a_trial_of_a_grid_search_needs_a_value_for_every_swept_key() {
    let text = with(&[
        "[sweep]",
        "model.embedding_size = [8, 16]",
        "training.l2 = [0.1, 0.2]",
        "[search]",
        "strategy = \"grid\"",
    ]);
    let experiment = parse(&text).expect("valid");
    let point = experiment.points[3].clone();
    let values = params(&[
        ("model.embedding_size", toml::Value::Integer(16)),
        ("training.l2", toml::Value::Float(0.2)),
    ]);
    assert_eq!(trial_config(&experiment, &values).expect("valid"), point);
    let shown = trial_config(&experiment, &values[..1])
        .expect_err("two points left")
        .to_string();
    assert_eq!(
        shown,
        "experiments/bad.toml: `sweep`: a trial is one configuration, but its parameters leave 2 \
         grid points; give a value for every `[sweep]` key"
    );
}

#[test]
fn options_of_another_strategy_or_pruner_are_refused() {
    let text = with(&[
        "[search]",
        "strategy = \"random\"",
        "trials = 5",
        "gamma = 0.2", // 31
        "[search.space]",
        "training.l2 = { uniform = [0, 0.1] }",
        "[search.pruner]",
        "kind = \"asha\"",
        "p_threshold = 0.05", // 36
        "startup_trials = 2", // 37
        "reduction_factor = 2",
    ]);
    assert_reports(
        &text,
        31,
        "search.gamma",
        "is only allowed with `search.strategy = \"tpe\"`, but the strategy is \"random\"",
    );
    assert_reports(
        &text,
        36,
        "search.pruner.p_threshold",
        "is only allowed with `search.pruner.kind = \"wilcoxon\"`, but the kind is \"asha\"",
    );
    assert_reports(
        &text,
        37,
        "search.pruner.startup_trials",
        "is only allowed with `search.pruner.kind = \"median\"`, but the kind is \"asha\"",
    );
    assert_eq!(super::tests::error(&text).lines().count(), 3);
    // Without a kind, the default `none` takes no options but the epochs.
    let text = with(&[
        "[search]",
        "strategy = \"random\"",
        "trials = 5",
        "[search.space]",
        "training.l2 = { uniform = [0, 0.1] }",
        "[search.pruner]",
        "reduction_factor = 2", // 34
    ]);
    assert_reports(
        &text,
        34,
        "search.pruner.reduction_factor",
        "but the kind is \"none\" (the default)",
    );
}
