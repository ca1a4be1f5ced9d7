//! Parsing and validation: every kind of mistake names the file, the line and the key.

use std::path::{Path, PathBuf};

use super::spec::*;
use super::*;

/// A complete, valid file. Tests edit it by line number, so the numbers below stay honest.
pub(super) const BASE: &[&str] = &[
    "[experiment]",                // 1
    "name = \"t\"",                // 2
    "seed = 7",                    // 3
    "",                            // 4
    "[data]",                      // 5
    "dataset = \"ml-100k\"",       // 6
    "path = \"data/ml-100k\"",     // 7
    "",                            // 8
    "[split]",                     // 9
    "kind = \"holdout\"",          // 10
    "test_fraction = 0.2",         // 11
    "validation_fraction = 0.1",   // 12
    "",                            // 13
    "[model]",                     // 14
    "architecture = \"dot-mf\"",   // 15
    "embedding_size = 16",         // 16
    "",                            // 17
    "[training]",                  // 18
    "epochs = 3",                  // 19
    "batch_size = 128",            // 20
    "optimizer = \"adam\"",        // 21
    "learning_rate = 0.01",        // 22
    "loss = \"mse\"",              // 23
    "l2 = 0.001",                  // 24
    "",                            // 25
    "[metrics]",                   // 26
    "names = [\"mae\", \"rmse\"]", // 27
];

pub(super) const FILE: &str = "experiments/bad.toml";

/// `BASE` with the given 1-based lines replaced, then `extra` lines appended (line 28 on).
pub(super) fn edit(replace: &[(usize, &str)], extra: &[&str]) -> String {
    let mut lines: Vec<&str> = BASE.to_vec();
    for &(line, text) in replace {
        lines[line - 1] = text;
    }
    lines.extend_from_slice(extra);
    lines.join("\n") + "\n"
}

pub(super) fn parse(text: &str) -> Result<Experiment, ConfigError> {
    parse_experiment(text, Path::new(FILE))
}

/// The error for `text`, displayed; panics if it parses.
pub(super) fn error(text: &str) -> String {
    match parse(text) {
        Ok(exp) => panic!("expected an error, parsed {exp:?}"),
        Err(err) => err.to_string(),
    }
}

/// Assert one line of the error starts with `FILE:line:`, names `key` and contains `what`.
#[track_caller]
pub(super) fn assert_reports(text: &str, line: usize, key: &str, what: &str) {
    let shown = error(text);
    let prefix = format!("{FILE}:{line}: ");
    let key = format!("`{key}`");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(&key) && l.contains(what)),
        "no line `{prefix}…{key}…{what}…` in:\n{shown}"
    );
}

#[test]
fn valid_file_parses_to_the_expected_spec() {
    let text = edit(&[], &[]);
    let exp = parse(&text).expect("valid");
    let base = RunConfig {
        data: DataSpec {
            // Relative to the experiment file's directory.
            path: Some(PathBuf::from("experiments/data/ml-100k")),
            ..DataSpec::new(DatasetName::Ml100k)
        },
        split: SplitSpec::Holdout {
            test_fraction: 0.2,
            validation_fraction: 0.1,
        },
        model: ModelSpec::with_defaults(Architecture::DotMf, 16),
        training: TrainingSpec::adam(3, 128, 0.01, 0.001),
        metrics: vec![MetricName::Mae, MetricName::Rmse],
        ranking: None,
        save_predictions: false,
    };
    assert_eq!(
        exp,
        Experiment {
            name: "t".into(),
            seed: 7,
            repeats: 1,
            source_path: PathBuf::from(FILE),
            source_text: text.clone(),
            devices: Vec::new(),
            base: base.clone(),
            sweep: vec![],
            // Without a sweep the grid is the base alone.
            points: vec![base],
            search: None,
            overrides: Vec::new(),
        }
    );
}

#[test]
fn defaults_apply() {
    let text = "
[experiment]
name = \"minimal\"
[data]
dataset = \"ml-latest-small\"
[split]
kind = \"kfold\"
k = 3
[model]
architecture = \"biased-mf\"
embedding_size = 4
[training]
epochs = 1
batch_size = 1
learning_rate = 1   # an integer where a float is expected is fine
";
    let exp = parse(text).expect("valid");
    assert_eq!(exp.seed, DEFAULT_SEED);
    assert_eq!(exp.seed, 42);
    assert_eq!(exp.base.data.path, None);
    assert_eq!(
        exp.base.split,
        SplitSpec::Kfold {
            k: 3,
            validation_fraction: 0.0
        }
    );
    assert_eq!(exp.base.training.optimizer, OptimizerName::Adam);
    assert_eq!(exp.base.training.loss, LossName::Mse);
    assert_eq!(exp.base.training.l2, 0.0);
    assert_eq!(exp.base.training.learning_rate, 1.0);
    assert_eq!(exp.base.metrics, vec![MetricName::Rmse, MetricName::Mae]);
    assert!(exp.sweep.is_empty());
}

#[test]
fn absolute_data_path_is_kept() {
    let exp = parse(&edit(&[(7, "path = \"/srv/ml-100k\"")], &[])).expect("valid");
    assert_eq!(exp.base.data.path, Some(PathBuf::from("/srv/ml-100k")));
}

#[test]
fn out_of_range_value_message_is_exact() {
    let shown = error(&edit(&[(22, "learning_rate = -0.1")], &[]));
    assert_eq!(
        shown,
        "experiments/bad.toml:22: `training.learning_rate` must be > 0, got -0.1"
    );
}

#[test]
fn every_bad_value_is_reported_in_line_order() {
    let err = parse(&edit(
        &[
            (22, "learning_rate = -0.1"),
            (16, "embedding_size = 0"),
            (19, "epochs = 0"),
        ],
        &[],
    ))
    .expect_err("invalid");
    let found: Vec<(Option<usize>, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.key.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (Some(16), "model.embedding_size"),
            (Some(19), "training.epochs"),
            (Some(22), "training.learning_rate"),
        ]
    );
}

#[test]
fn range_checks() {
    let cases: &[(usize, &str, &str, &str)] = &[
        (3, "seed = -1", "experiment.seed", ">= 0, got -1"),
        (
            11,
            "test_fraction = 1.5",
            "split.test_fraction",
            "> 0 and < 1, got 1.5",
        ),
        (
            11,
            "test_fraction = 0",
            "split.test_fraction",
            "> 0 and < 1, got 0",
        ),
        (
            12,
            "validation_fraction = 1.0",
            "split.validation_fraction",
            ">= 0 and < 1",
        ),
        (
            16,
            "embedding_size = 0",
            "model.embedding_size",
            ">= 1, got 0",
        ),
        (19, "epochs = 0", "training.epochs", ">= 1, got 0"),
        (20, "batch_size = -5", "training.batch_size", ">= 1, got -5"),
        (
            22,
            "learning_rate = nan",
            "training.learning_rate",
            "> 0, got nan",
        ),
        (
            22,
            "learning_rate = inf",
            "training.learning_rate",
            "> 0, got inf",
        ),
        (24, "l2 = -0.5", "training.l2", ">= 0, got -0.5"),
        (
            16,
            "embedding_size = 99999999999999999999",
            "model.embedding_size",
            "64-bit integer",
        ),
    ];
    for &(line, text, key, what) in cases {
        assert_reports(&edit(&[(line, text)], &[]), line, key, what);
    }
}

#[test]
fn unknown_names_list_the_allowed_ones() {
    let cases: &[(usize, &str, &str, &str)] = &[
        (
            6,
            "dataset = \"ml-10m\"",
            "data.dataset",
            "`ml-100k`, `ml-1m`, `ml-latest-small`, `amazon-movies-tv`, got `ml-10m`",
        ),
        (
            10,
            "kind = \"loo\"",
            "split.kind",
            "`holdout`, `kfold`, `predefined`, `temporal`, `user-holdout`, got `loo`",
        ),
        (
            15,
            "architecture = \"autoencoder\"",
            "model.architecture",
            "`global-mean`, `biases`, `gmf`, `autorec`, got `autoencoder`",
        ),
        (
            21,
            "optimizer = \"rmsprop\"",
            "training.optimizer",
            "`adam`, `adamax`, `sgd`, got `rmsprop`",
        ),
        (
            23,
            "loss = \"bce\"",
            "training.loss",
            "`mse`, `mae`, `huber`, got `bce`",
        ),
        (
            27,
            "names = [\"rmse\", \"auc\"]",
            "metrics.names",
            "`rmse`, `mae`, `precision@K`",
        ),
    ];
    for &(line, text, key, what) in cases {
        assert_reports(&edit(&[(line, text)], &[]), line, key, what);
    }
}

#[test]
fn bad_experiment_names_are_rejected() {
    let too_long = format!("\"{}\"", "a".repeat(300));
    for name in ["\"a b\"", "\"\"", "\"..\"", "\"a/b\"", &too_long] {
        let text = edit(&[(2, &format!("name = {name}"))], &[]);
        assert_reports(&text, 2, "experiment.name", "results/ directory");
    }
    for name in ["a-b_c.1", "Sweep2"] {
        let text = edit(&[(2, &format!("name = \"{name}\""))], &[]);
        assert_eq!(parse(&text).expect("valid").name, name);
    }
}

#[test]
fn unknown_key_names_its_table_and_the_valid_keys() {
    let text = edit(&[(16, "embeding_size = 16")], &[]);
    assert_reports(
        &text,
        16,
        "model.embeding_size",
        "unknown key `model.embeding_size`; keys allowed in [model]: `architecture`, `embedding_size`",
    );
    let text = edit(&[(14, "[modle]")], &[]);
    assert_reports(
        &text,
        14,
        "modle",
        "unknown key `modle`; keys allowed in the top level: `experiment`",
    );
}

#[test]
fn wrong_types_name_what_was_expected() {
    let cases: &[(usize, &str, &str, &str)] = &[
        (
            16,
            "embedding_size = \"16\"",
            "model.embedding_size",
            "must be an integer, got string \"16\"",
        ),
        (
            16,
            "embedding_size = 16.5",
            "model.embedding_size",
            "must be an integer, got float 16.5",
        ),
        (
            22,
            "learning_rate = \"fast\"",
            "training.learning_rate",
            "must be a number, got string",
        ),
        (
            6,
            "dataset = 100",
            "data.dataset",
            "must be a string, got integer 100",
        ),
        (
            27,
            "names = \"rmse\"",
            "metrics.names",
            "must be a list of strings, got string",
        ),
        (
            27,
            "names = [\"rmse\", 3]",
            "metrics.names",
            "must be a list of strings, got integer 3",
        ),
        (
            2,
            "name = true",
            "experiment.name",
            "must be a string, got boolean true",
        ),
    ];
    for &(line, text, key, what) in cases {
        assert_reports(&edit(&[(line, text)], &[]), line, key, what);
    }
    // A table given as a plain value (before the first header, so at the top level).
    let text = format!("model = 3\n{}", edit(&[(14, ""), (15, ""), (16, "")], &[]));
    assert_reports(&text, 1, "model", "must be a table, got integer 3");
}

#[test]
fn malformed_toml_reports_its_line() {
    let shown = error(&edit(&[(20, "batch_size = ")], &[]));
    assert!(
        shown.starts_with("experiments/bad.toml:20: invalid TOML: "),
        "{shown}"
    );
    let shown = error(&edit(&[(26, "[model]")], &[]));
    assert!(
        shown.starts_with("experiments/bad.toml:26: invalid TOML: duplicate key"),
        "{shown}"
    );
}

#[test]
fn split_keys_must_match_the_kind() {
    // k with holdout.
    assert_reports(
        &edit(&[(12, "k = 5")], &[]),
        12,
        "split.k",
        "only allowed with `split.kind = \"kfold\"`, but the kind is \"holdout\"",
    );
    // test_fraction with kfold.
    assert_reports(
        &edit(&[(10, "kind = \"kfold\""), (12, "k = 5")], &[]),
        11,
        "split.test_fraction",
        "only allowed with `split.kind` \"holdout\", \"temporal\", \"user-holdout\", but the \
         kind is \"kfold\"",
    );
    // Each kind's own key is required, reported on the [split] line.
    assert_reports(
        &edit(&[(10, "kind = \"kfold\""), (11, "")], &[]),
        9,
        "split.k",
        "missing required key",
    );
    assert_reports(
        &edit(&[(11, "")], &[]),
        9,
        "split.test_fraction",
        "missing required key",
    );
    assert_reports(
        &edit(&[(10, "kind = \"kfold\""), (11, "k = 1")], &[]),
        11,
        "split.k",
        ">= 2, got 1",
    );
}

/// The `[split]` of `BASE` (lines 9 to 12) replaced by `split`, appended after the file.
fn with_split(split: &[&str]) -> String {
    edit(&[(9, ""), (10, ""), (11, ""), (12, "")], split)
}

/// The split of a file that must parse.
fn split_of(text: &str) -> SplitSpec {
    parse(text).expect("valid").base.split
}

#[test]
fn predefined_splits_name_folds_or_file_pairs() {
    let files = |pairs: &[(&str, &str)]| -> Vec<FoldFiles> {
        pairs
            .iter()
            .map(|(train, test)| FoldFiles {
                train: train.to_string(),
                test: test.to_string(),
            })
            .collect()
    };
    let spec = split_of(&with_split(&[
        "[split]",
        "kind = \"predefined\"",
        "folds = \"u1-u5\"",
    ]));
    assert_eq!(spec.folds(), 5);
    assert_eq!(
        spec,
        SplitSpec::Predefined {
            files: files(&[
                ("u1.base", "u1.test"),
                ("u2.base", "u2.test"),
                ("u3.base", "u3.test"),
                ("u4.base", "u4.test"),
                ("u5.base", "u5.test")
            ]),
            validation_fraction: 0.0,
        }
    );
    let spec = split_of(&with_split(&[
        "[split]",
        "kind = \"predefined\"",
        "validation_fraction = 0.1",
        "[[split.files]]",
        "train = \"a.train\"",
        "test = \"a.test\"",
        "[[split.files]]",
        "train = \"b.train\"",
        "test = \"b.test\"",
    ]));
    assert_eq!(
        spec,
        SplitSpec::Predefined {
            files: files(&[("a.train", "a.test"), ("b.train", "b.test")]),
            validation_fraction: 0.1,
        }
    );
    // Neither, both, an unknown name, a pair without its test file, an unknown key.
    assert_reports(
        &with_split(&["[split]", "kind = \"predefined\""]),
        28,
        "split.folds",
        "missing required key",
    );
    assert_reports(
        &with_split(&[
            "[split]",
            "kind = \"predefined\"",
            "folds = \"ua-ub\"",
            "files = [{ train = \"a\", test = \"b\" }]",
        ]),
        30,
        "split.folds",
        "both name the folds",
    );
    assert_reports(
        &with_split(&["[split]", "kind = \"predefined\"", "folds = \"u1-u9\""]),
        30,
        "split.folds",
        "`u1-u5`, `ua-ub`, got `u1-u9`",
    );
    assert_reports(
        &with_split(&[
            "[split]",
            "kind = \"predefined\"",
            "[[split.files]]",
            "train = \"a\"",
        ]),
        30,
        "split.files.test",
        "missing required key",
    );
    assert_reports(
        &with_split(&[
            "[split]",
            "kind = \"predefined\"",
            "[[split.files]]",
            "train = \"a\"",
            "test = \"b\"",
            "valid = \"c\"",
        ]),
        33,
        "split.files.valid",
        "`train`, `test`",
    );
    // The named folds are ML-100K's.
    let text = with_split(&["[split]", "kind = \"predefined\"", "folds = \"u1-u5\""])
        .replace("dataset = \"ml-100k\"", "dataset = \"ml-1m\"");
    assert_reports(&text, 30, "split.folds", "`data.dataset = \"ml-100k\"`");
    // Keys of other kinds.
    assert_reports(
        &with_split(&[
            "[split]",
            "kind = \"holdout\"",
            "test_fraction = 0.1",
            "folds = \"u1-u5\"",
        ]),
        31,
        "split.folds",
        "only allowed with `split.kind = \"predefined\"`, but the kind is \"holdout\"",
    );
}

#[test]
fn temporal_splits_cut_globally_or_per_user() {
    let temporal = |lines: &[&str]| {
        let mut all = vec!["[split]", "kind = \"temporal\""];
        all.extend_from_slice(lines);
        with_split(&all)
    };
    assert_eq!(
        split_of(&temporal(&[
            "test_fraction = 0.2",
            "validation_fraction = 0.1"
        ])),
        SplitSpec::Temporal {
            cut: TemporalCut::Latest { test_fraction: 0.2 },
            validation_fraction: 0.1,
        }
    );
    // 2000-01-01 is 10957 days after 1970-01-01.
    assert_eq!(
        split_of(&temporal(&["before = \"2000-01-01\""])),
        SplitSpec::Temporal {
            cut: TemporalCut::Before {
                before: "2000-01-01".into(),
                at: 10_957 * 86_400,
            },
            validation_fraction: 0.0,
        }
    );
    assert_eq!(
        split_of(&temporal(&["per_user = true", "leave_last = 2"])),
        SplitSpec::Temporal {
            cut: TemporalCut::UserLast { leave_last: 2 },
            validation_fraction: 0.0,
        }
    );
    assert_eq!(
        split_of(&temporal(&["per_user = true", "test_fraction = 0.25"])),
        SplitSpec::Temporal {
            cut: TemporalCut::UserLatest {
                test_fraction: 0.25
            },
            validation_fraction: 0.0,
        }
    );
    assert_reports(
        &temporal(&[]),
        28,
        "split.test_fraction",
        "missing required key",
    );
    assert_reports(
        &temporal(&["per_user = true"]),
        28,
        "split.leave_last",
        "missing required key",
    );
    assert_reports(
        &temporal(&["test_fraction = 0.2", "before = \"2000-01-01\""]),
        31,
        "split.before",
        "both say where the test set starts",
    );
    assert_reports(
        &temporal(&["before = \"2000-02-30\""]),
        30,
        "split.before",
        "a date `YYYY-MM-DD`",
    );
    assert_reports(
        &temporal(&["leave_last = 1"]),
        30,
        "split.leave_last",
        "`split.per_user = true`",
    );
    assert_reports(
        &temporal(&["per_user = true", "leave_last = 0"]),
        31,
        "split.leave_last",
        ">= 1, got 0",
    );
    assert_reports(
        &temporal(&["per_user = true", "before = \"2000-01-01\""]),
        31,
        "split.before",
        "a global cut",
    );
    assert_reports(
        &with_split(&["[split]", "kind = \"kfold\"", "k = 5", "per_user = true"]),
        31,
        "split.per_user",
        "only allowed with `split.kind = \"temporal\"`",
    );
}

#[test]
fn user_holdout_takes_a_test_fraction() {
    let text = with_split(&["[split]", "kind = \"user-holdout\"", "test_fraction = 0.2"]);
    assert_eq!(
        split_of(&text),
        SplitSpec::UserHoldout {
            test_fraction: 0.2,
            validation_fraction: 0.0,
        }
    );
    assert_reports(
        &with_split(&["[split]", "kind = \"user-holdout\""]),
        28,
        "split.test_fraction",
        "missing required key",
    );
}

#[test]
fn utc_midnight_counts_days_from_1970() {
    assert_eq!(utc_midnight("1970-01-01"), Some(0));
    assert_eq!(utc_midnight("1998-04-23"), Some(893_289_600));
    assert_eq!(utc_midnight("2000-02-29"), Some(951_782_400));
    assert_eq!(utc_midnight("1969-12-31"), Some(-86_400));
    for bad in [
        "2001-02-29",
        "2000-13-01",
        "2000-1-01",
        "20000101",
        "2000-01-0x",
        "",
    ] {
        assert_eq!(utc_midnight(bad), None, "{bad}");
    }
}

#[test]
fn missing_keys_and_tables() {
    assert_reports(
        &edit(&[(16, "")], &[]),
        14,
        "model.embedding_size",
        "missing required key",
    );
    assert_reports(
        &edit(&[(2, "")], &[]),
        1,
        "experiment.name",
        "missing required key",
    );
    assert_reports(
        &edit(&[(14, ""), (15, ""), (16, "")], &[]),
        1,
        "[model]",
        "missing required table `[model]`",
    );
}

#[test]
fn metrics_must_be_non_empty_and_distinct() {
    assert_reports(
        &edit(&[(27, "names = []")], &[]),
        27,
        "metrics.names",
        "must not be empty",
    );
    assert_reports(
        &edit(&[(27, "names = [\"rmse\", \"mae\", \"rmse\"]")], &[]),
        27,
        "metrics.names",
        "lists `rmse` more than once",
    );
}

#[test]
fn ranking_metrics_parse_with_their_depth_and_default_threshold() {
    let text = edit(
        &[(
            27,
            "names = [\"rmse\", \"ndcg@10\", \"recall@20\", \"mrr\", \"hit-rate@5\"]",
        )],
        &[],
    );
    let exp = parse(&text).expect("valid");
    assert_eq!(exp.base.metrics, vec![MetricName::Rmse]);
    let ranking = exp.base.ranking.expect("ranking metrics");
    let names: Vec<String> = ranking.metrics.iter().map(RankingMetric::name).collect();
    assert_eq!(names, ["ndcg@10", "recall@20", "mrr", "hit-rate@5"]);
    assert_eq!(ranking.metrics[0].k, Some(10));
    assert_eq!(ranking.metrics[2].k, None);
    assert_eq!(ranking.relevance_threshold, DEFAULT_RELEVANCE_THRESHOLD);

    let text = edit(
        &[(27, "names = [\"map@10\", \"coverage@10\", \"precision@1\"]")],
        &["relevance_threshold = 3.5"],
    );
    let ranking = parse(&text).expect("valid").base.ranking.expect("ranking");
    assert_eq!(ranking.relevance_threshold, 3.5);
}

#[test]
fn bad_ranking_metrics_name_the_line_and_what_is_expected() {
    assert_reports(
        &edit(&[(27, "names = [\"ndgc@10\"]")], &[]),
        27,
        "metrics.names",
        "`ndcg@K`",
    );
    assert_reports(
        &edit(&[(27, "names = [\"ndcg@0\"]")], &[]),
        27,
        "metrics.names",
        "integer >= 1, got `0`",
    );
    assert_reports(
        &edit(&[(27, "names = [\"recall@x\"]")], &[]),
        27,
        "metrics.names",
        "got `x`",
    );
    assert_reports(
        &edit(&[(27, "names = [\"ndcg\"]")], &[]),
        27,
        "metrics.names",
        "needs a cut-off depth, e.g. `ndcg@10`",
    );
    assert_reports(
        &edit(&[(27, "names = [\"ndcg@10\", \"ndcg@10\"]")], &[]),
        27,
        "metrics.names",
        "lists `ndcg@10` more than once",
    );
    assert_reports(
        &edit(
            &[(27, "names = [\"ndcg@10\"]")],
            &["relevance_threshold = 0"],
        ),
        28,
        "metrics.relevance_threshold",
        "must be > 0",
    );
    // A threshold without a ranking metric would do nothing.
    assert_reports(
        &edit(&[], &["relevance_threshold = 4.0"]),
        28,
        "metrics.relevance_threshold",
        "only allowed with a ranking metric",
    );
    assert_reports(
        &edit(&[(27, "")], &["relevance_threshold = 4.0"]),
        28,
        "metrics.relevance_threshold",
        "`metrics.names` is not set",
    );
}

#[test]
fn ranking_metrics_reach_every_grid_point() {
    let text = edit(
        &[(27, "names = [\"rmse\", \"ndcg@10\"]")],
        &[
            "relevance_threshold = 3.5",
            "[sweep]",
            "\"model.embedding_size\" = [8, 16]",
        ],
    );
    let exp = parse(&text).expect("valid");
    let runs = crate::sweep::runs(&exp).expect("grid");
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run.config.ranking, exp.base.ranking, "{:?}", run.params);
        assert_eq!(run.config.metrics, vec![MetricName::Rmse]);
    }
    assert_eq!(exp.base.ranking.map(|r| r.relevance_threshold), Some(3.5));
}

/// Ranking metrics change the run key only when asked for: the serialised configuration
/// of a file without them is what it was before they existed.
#[test]
fn ranking_metrics_change_run_keys_only_when_requested() {
    let plain = parse(&edit(&[], &[])).expect("valid").base;
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("ranking"), "{json}");
    let ranked = parse(&edit(
        &[(27, "names = [\"mae\", \"rmse\", \"ndcg@10\"]")],
        &[],
    ))
    .expect("valid")
    .base;
    assert_eq!(ranked.metrics, plain.metrics);
    assert_ne!(
        crate::sweep::run_key(7, &plain, 0),
        crate::sweep::run_key(7, &ranked, 0)
    );
    let json = serde_json::to_string(&ranked).unwrap();
    assert!(
        json.ends_with(r#""metrics":["mae","rmse"],"ranking":{"metrics":["ndcg@10"],"relevance_threshold":4.0}}"#),
        "{json}"
    );
    let back: RunConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ranked);
}

#[test]
fn unreadable_file_names_its_path() {
    let err = load_experiment(Path::new("experiments/no-such-file.toml")).expect_err("missing");
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().contains("experiments/no-such-file.toml"),
        "{err}"
    );
}

// ---- [sweep] ----------------------------------------------------------------------------

#[test]
fn sweep_axes_are_read_in_file_order_whatever_the_spelling() {
    let text = edit(
        &[],
        &[
            "[sweep]",                               // 28
            "model.embedding_size = [8, 16]",        // 29
            "\"training.learning_rate\" = [1, 0.1]", // 30
            "model.architecture = [\"biased-mf\"]",  // 31
            "[sweep.training]",                      // 32
            "epochs = [2]",                          // 33
        ],
    );
    let exp = parse(&text).expect("valid");
    let keys: Vec<&str> = exp.sweep.iter().map(|axis| axis.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "model.embedding_size",
            "training.learning_rate",
            "model.architecture",
            "training.epochs"
        ]
    );
    assert_eq!(
        exp.sweep[1].values,
        [toml::Value::Integer(1), toml::Value::Float(0.1)],
        "values are kept as written"
    );
    // The base is the file without the sweep.
    assert_eq!(exp.base.model.embedding_size, 16);
}

#[test]
fn bad_sweep_values_point_at_the_sweep_line() {
    let text = edit(
        &[],
        &["[sweep]", "model.embedding_size = [", "  8,", "  0,", "]"],
    );
    let shown = error(&text);
    assert_eq!(
        shown,
        "experiments/bad.toml:31: `model.embedding_size` must be >= 1, got 0"
    );

    assert_reports(
        &edit(
            &[],
            &["[sweep]", "training.learning_rate = [0.1, \"fast\"]"],
        ),
        29,
        "training.learning_rate",
        "must be a number, got string \"fast\"",
    );
    assert_reports(
        &edit(
            &[],
            &[
                "[sweep]",
                "model.architecture = [\"dot-mf\", \"autoencoder\"]",
            ],
        ),
        29,
        "model.architecture",
        "got `autoencoder`",
    );
    // Sweep values are checked against the rest of the file too.
    assert_reports(
        &edit(&[], &["[sweep]", "split.k = [5]"]),
        29,
        "split.k",
        "only allowed with `split.kind = \"kfold\"`",
    );
}

#[test]
fn sweep_structure_problems() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "model.embedding_size = []",
            "model.embedding_size",
            "lists no values",
        ),
        (
            "model.embedding_size = 8",
            "model.embedding_size",
            "must be a list, e.g. `model.embedding_size = [a, b]`, got integer 8",
        ),
        (
            "model.embeding_size = [8]",
            "model.embeding_size",
            "cannot sweep unknown key `model.embeding_size`; keys that can be swept: `data.dataset`",
        ),
        (
            "optimizer = [\"adam\"]",
            "optimizer",
            "cannot sweep unknown key",
        ),
        (
            "experiment.seed = [1, 2]",
            "experiment.seed",
            "`experiment.*` is fixed",
        ),
        (
            "training.checkpoint = [\"none\", \"best\"]",
            "training.checkpoint",
            "cannot sweep `training.checkpoint`: it decides what is stored, not what is trained",
        ),
        (
            "model = [{ embedding_size = 8 }]",
            "model",
            "cannot sweep the table `model`; sweep one of its keys: `model.architecture`, `model.embedding_size`",
        ),
        (
            "model.embedding_size = [8, 16, 8]",
            "model.embedding_size",
            "`model.embedding_size` lists `8` more than once",
        ),
        (
            "training.learning_rate = [0.01, 0.010]",
            "training.learning_rate",
            "lists `0.010` more than once",
        ),
        (
            "model.architecture = [\"ncf\", \"mlp\", \"ncf\"]",
            "model.architecture",
            "lists `\"ncf\"` more than once",
        ),
    ];
    for &(entry, key, what) in cases {
        assert_reports(&edit(&[], &["[sweep]", entry]), 29, key, what);
    }
    // The same key twice, spelled two ways.
    assert_reports(
        &edit(
            &[],
            &[
                "[sweep]",
                "\"model.embedding_size\" = [8]",
                "model.embedding_size = [16]",
            ],
        ),
        30,
        "model.embedding_size",
        "swept twice (first on line 29)",
    );
    // [sweep] itself must be a table.
    let text = format!("sweep = [1]\n{}", edit(&[], &[]));
    assert_reports(&text, 1, "sweep", "must be a table, got array [1]");
}

#[test]
fn swept_keys_still_need_a_base_value() {
    assert_reports(
        &edit(&[(16, "")], &["[sweep]", "model.embedding_size = [8]"]),
        14,
        "model.embedding_size",
        "a swept key still needs a base value",
    );
}

#[test]
fn a_huge_grid_is_refused() {
    let sizes: Vec<String> = (1..=1000).map(|n| n.to_string()).collect();
    let epochs: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
    let sizes = format!("model.embedding_size = [{}]", sizes.join(", "));
    let epochs = format!("training.epochs = [{}]", epochs.join(", "));
    assert_reports(
        &edit(&[], &["[sweep]", &sizes, &epochs]),
        28,
        "[sweep]",
        "101000 grid points, more than the limit of 100000",
    );
}

// ---- The schema, the raw structs, the docs and the shipped files agree ------------------

#[test]
fn schema_and_raw_structs_agree() {
    use serde::Deserialize;
    for table in raw::SCHEMA {
        // Every schema key is a field of the raw struct...
        let mut text = format!("[{}]\n", table.name);
        for (key, kind) in table.keys {
            let value = match kind {
                raw::Kind::Int => "1",
                raw::Kind::Float => "0.5",
                raw::Kind::Str => "\"x\"",
                raw::Kind::Bool => "true",
                raw::Kind::StrList => "[\"x\"]",
                raw::Kind::IntList => "[1, 2]",
                raw::Kind::FloatList => "[0.5, 1]",
                raw::Kind::FilePairs => "[{ train = \"a\", test = \"b\" }]",
            };
            text += &format!("{key} = {value}\n");
        }
        raw::RawFile::deserialize(toml::de::Deserializer::parse(&text).expect("toml"))
            .unwrap_or_else(|e| panic!("[{}]: {e}", table.name));
        // ...and serde knows no field the schema lacks.
        let text = format!("[{}]\nzzz = 1\n", table.name);
        let err = raw::RawFile::deserialize(toml::de::Deserializer::parse(&text).expect("toml"))
            .expect_err("unknown field");
        let message = err.message();
        let expected = message
            .split_once("expected")
            .map(|(_, rest)| rest)
            .unwrap_or("");
        let fields: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        assert_eq!(fields, table.key_names(), "[{}]: {message}", table.name);
    }
}

#[test]
fn docs_describe_every_key_and_name() {
    let docs = include_str!("../../docs/experiment-file.md");
    for table in raw::SCHEMA {
        for key in table.key_names() {
            let dotted = format!("`{}.{key}`", table.name);
            assert!(
                docs.contains(&dotted),
                "docs/experiment-file.md lacks {dotted}"
            );
        }
    }
    let names = DatasetName::ALL
        .map(DatasetName::as_str)
        .into_iter()
        .chain(Architecture::ALL.map(Architecture::as_str))
        .chain(OptimizerName::ALL.map(OptimizerName::as_str))
        .chain(LossName::ALL.map(LossName::as_str))
        .chain(MetricName::ALL.map(MetricName::as_str));
    let ranking = RankingKind::ALL.map(|kind| format!("{}@K", kind.as_str()));
    for name in names.chain(ranking.iter().map(String::as_str)) {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/experiment-file.md lacks `{name}`"
        );
    }
}

#[test]
fn names_match_the_serde_names() {
    fn check<T: serde::Serialize>(all: &[T], name: fn(&T) -> &'static str) {
        for item in all {
            let json = serde_json::to_string(item).expect("json");
            assert_eq!(json, format!("\"{}\"", name(item)));
        }
    }
    check(&DatasetName::ALL, |x| x.as_str());
    check(&Architecture::ALL, |x| x.as_str());
    check(&OptimizerName::ALL, |x| x.as_str());
    check(&LossName::ALL, |x| x.as_str());
    check(&MetricName::ALL, |x| x.as_str());
}

#[test]
fn every_shipped_experiment_file_loads() {
    fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                toml_files(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "toml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    toml_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments"),
        &mut files,
    );
    assert!(!files.is_empty(), "no experiment files found");
    for file in files {
        let exp = load_experiment(&file).unwrap_or_else(|e| panic!("{e}"));
        crate::sweep::runs(&exp).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn default_sweep_is_as_agreed() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/sweep.toml");
    let exp = load_experiment(&path).expect("loads");
    assert_eq!(exp.name, "sweep");
    assert_eq!(exp.seed, 42);
    assert_eq!(exp.base.data.dataset, DatasetName::MlLatestSmall);
    assert_eq!(exp.base.split.folds(), 5);
    let sweep: Vec<(&str, usize)> = exp
        .sweep
        .iter()
        .map(|axis| (axis.key.as_str(), axis.values.len()))
        .collect();
    assert_eq!(
        sweep,
        [("model.architecture", 2), ("model.embedding_size", 4)]
    );
}
#[test]
fn shape_errors_do_not_hide_other_problems() {
    // Unknown keys and wrong types are dropped after being reported, so range checks and
    // sweep values are still checked, and a dropped key is not also called "missing".
    let text = "\
[experiment]
name = \"my sweep\"

[data]
dataset = \"ml-100k\"

[split]
kind = \"holdout\"
k = 5
test_fraction = 0.1

[model]
architecture = \"biased-mf\"
embeding_size = 16

[training]
epochs = 10
batch_size = \"big\"
learning_rate = -0.1

[sweep]
model.embedding_size = [8, 0]
experiment.seed = [1, 2]
training.nesterov = [true]
";
    let err = parse(text).expect_err("invalid");
    let found: Vec<(Option<usize>, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.key.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (Some(2), "experiment.name"),
            (Some(9), "split.k"),
            (Some(12), "model.embedding_size"), // missing: the typo below is not it
            (Some(14), "model.embeding_size"),
            (Some(18), "training.batch_size"),
            (Some(19), "training.learning_rate"),
            (Some(22), "model.embedding_size"), // the swept 0
            (Some(23), "experiment.seed"),
            (Some(24), "training.nesterov"),
        ],
        "{err}"
    );
}

// ---- The model and training keys beyond the basics --------------------------------------

#[test]
fn new_keys_default_as_documented() {
    let exp = parse(&edit(&[(15, "architecture = \"mlp\"")], &[])).expect("valid");
    let model = &exp.base.model;
    assert_eq!(model.user_embedding_size, None);
    assert_eq!(model.item_embedding_size, None);
    assert_eq!((model.user_size(), model.item_size()), (16, 16));
    assert_eq!(model.hidden_layers, [128, 32]);
    assert_eq!(model.dropouts, [0.0, 0.0]);
    assert_eq!(model.embedding_dropout, 0.0);
    assert_eq!(model.init, None);
    let training = &exp.base.training;
    assert_eq!(training.weight_decay, 0.0);
    assert_eq!(training.momentum, 0.0);
    assert_eq!(training.huber_delta, 1.0);
    assert_eq!(training.early_stopping, None);
    // And the model is exactly what `with_defaults` says.
    assert_eq!(*model, ModelSpec::with_defaults(Architecture::Mlp, 16));
}

#[test]
fn new_keys_are_read() {
    let text = with_keys(
        &[
            (15, "architecture = \"ncf\""),
            (21, "optimizer = \"sgd\""),
            (23, "loss = \"huber\""),
        ],
        &[
            "user_embedding_size = 8",
            "item_embedding_size = 4",
            "hidden_layers = [64, 32, 1]",
            "dropouts = [0.5, 0, 0.25]",
            "embedding_dropout = 0.1",
            "init = \"uniform\"",
            "init_scale = 0.01",
            "implicit_l2_scale = 0.5",
        ],
        &[
            "weight_decay = 0.0001",
            "momentum = 0.9",
            "huber_delta = 2",
            "patience = 3",
            "monitor = \"mae\"",
        ],
    );
    let exp = parse(&text).expect("valid");
    assert_eq!(
        exp.base.model,
        ModelSpec {
            architecture: Architecture::Ncf,
            embedding_size: 16,
            user_embedding_size: Some(8),
            item_embedding_size: Some(4),
            hidden_layers: vec![64, 32, 1],
            dropouts: vec![0.5, 0.0, 0.25],
            embedding_dropout: 0.1,
            init: Some(InitSpec::Uniform { limit: 0.01 }),
            implicit_l2_scale: 0.5,
        }
    );
    let training = &exp.base.training;
    assert_eq!(training.optimizer, OptimizerName::Sgd);
    assert_eq!(training.loss, LossName::Huber);
    assert_eq!(training.weight_decay, 0.0001);
    assert_eq!(training.momentum, 0.9);
    assert_eq!(training.huber_delta, 2.0);
    assert_eq!(
        training.early_stopping,
        Some(EarlyStopping {
            patience: 3,
            monitor: MetricName::Mae
        })
    );
}

/// `BASE` with `model_keys` added after line 16 and `training_keys` after line 24, so the
/// new lines are 17, 18, … and 25 + model_keys.len(), ….
fn with_keys(replace: &[(usize, &str)], model_keys: &[&str], training_keys: &[&str]) -> String {
    let mut lines: Vec<String> = BASE.iter().map(|line| line.to_string()).collect();
    for &(line, text) in replace {
        lines[line - 1] = text.to_string();
    }
    let mut out: Vec<String> = lines[..16].to_vec();
    out.extend(model_keys.iter().map(|key| key.to_string()));
    out.extend_from_slice(&lines[16..24]);
    out.extend(training_keys.iter().map(|key| key.to_string()));
    out.extend_from_slice(&lines[24..]);
    out.join("\n") + "\n"
}

#[test]
fn learning_rate_schedule_keys() {
    let training = |keys: &[&str]| parse(&with_keys(&[], &[], keys)).map(|e| e.base.training);
    let default = training(&[]).expect("valid");
    assert_eq!(
        (default.lr_schedule, default.lr_decay),
        (LrSchedule::Constant, DEFAULT_LR_DECAY)
    );
    let cosine = training(&["lr_schedule = \"cosine\""]).expect("valid");
    assert_eq!(cosine.lr_schedule, LrSchedule::Cosine);
    let exponential =
        training(&["lr_schedule = \"exponential\"", "lr_decay = 0.9"]).expect("valid");
    assert_eq!(
        (exponential.lr_schedule, exponential.lr_decay),
        (LrSchedule::Exponential, 0.9)
    );
    assert_reports(
        &with_keys(&[], &[], &["lr_schedule = \"step\""]),
        25,
        "training.lr_schedule",
        "must be one of `constant`, `cosine`, `exponential`, got `step`",
    );
    assert_reports(
        &with_keys(
            &[],
            &[],
            &["lr_schedule = \"exponential\"", "lr_decay = 1.5"],
        ),
        26,
        "training.lr_decay",
        "must be > 0 and <= 1, got 1.5",
    );
    assert_reports(
        &with_keys(&[], &[], &["lr_schedule = \"cosine\"", "lr_decay = 0.9"]),
        26,
        "training.lr_decay",
        "only allowed with `training.lr_schedule = \"exponential\"`, but the schedule is `cosine` (line 25)",
    );
}

#[test]
fn init_keys() {
    let init = |keys: &[&str]| parse(&with_keys(&[], keys, &[])).map(|exp| exp.base.model.init);
    assert_eq!(init(&[]).expect("valid"), None);
    assert_eq!(
        init(&["init = \"he-normal\""]).expect("valid"),
        Some(InitSpec::HeNormal)
    );
    assert_eq!(
        init(&["init = \"normal\""]).expect("valid"),
        Some(InitSpec::Normal {
            std: DEFAULT_INIT_SCALE
        })
    );
    assert_eq!(DEFAULT_INIT_SCALE, 0.05);
    assert_eq!(
        init(&["init = \"normal\"", "init_scale = 0.1"]).expect("valid"),
        Some(InitSpec::Normal { std: 0.1 })
    );
    assert_reports(
        &with_keys(&[], &["init = \"xavier\""], &[]),
        17,
        "model.init",
        "must be one of `he-normal`, `normal`, `uniform`, got `xavier`",
    );
    assert_reports(
        &with_keys(&[], &["init = \"uniform\"", "init_scale = 0"], &[]),
        18,
        "model.init_scale",
        "must be > 0, got 0",
    );
    assert_reports(
        &with_keys(&[], &["init_scale = 0.1"], &[]),
        17,
        "model.init_scale",
        "only allowed with `model.init = \"normal\"` or `\"uniform\"` (it is their standard deviation or limit), but `model.init` is not set",
    );
    assert_reports(
        &with_keys(&[], &["init = \"he-normal\"", "init_scale = 0.1"], &[]),
        18,
        "model.init_scale",
        "but `model.init` is `he-normal` (line 17)",
    );
}

#[test]
fn model_size_and_dropout_keys() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "user_embedding_size = 0",
            "model.user_embedding_size",
            "must be >= 1, got 0",
        ),
        (
            "item_embedding_size = -3",
            "model.item_embedding_size",
            "must be >= 1, got -3",
        ),
        (
            "item_embedding_size = 2.5",
            "model.item_embedding_size",
            "must be an integer, got float 2.5",
        ),
        (
            "embedding_dropout = 1",
            "model.embedding_dropout",
            "must be >= 0 and < 1, got 1",
        ),
        (
            "embedding_dropout = -0.1",
            "model.embedding_dropout",
            "must be >= 0 and < 1, got -0.1",
        ),
        (
            "hidden_layers = 10",
            "model.hidden_layers",
            "must be a list of integers, got integer 10",
        ),
        (
            "hidden_layers = [10, 0]",
            "model.hidden_layers",
            "must be a list of integers >= 1, got 0",
        ),
        (
            "hidden_layers = [10, 1.5]",
            "model.hidden_layers",
            "must be a list of integers, got float 1.5",
        ),
        (
            "hidden_layers = [99999999999999999999]",
            "model.hidden_layers",
            "64-bit integer",
        ),
        (
            "dropouts = [\"half\"]",
            "model.dropouts",
            "must be a list of numbers, got string \"half\"",
        ),
    ];
    for &(text, key, what) in cases {
        assert_reports(&with_keys(&[], &[text], &[]), 17, key, what);
    }
    // Each bad element on its own line.
    let text = with_keys(
        &[(15, "architecture = \"mlp\"")],
        &["dropouts = [", "  0.5,", "  1.0,", "]"],
        &[],
    );
    assert_eq!(
        error(&text),
        "experiments/bad.toml:19: `model.dropouts` must be a list of numbers >= 0 and < 1, got 1.0"
    );
    // `[]` hidden layers is fine, and then no dropouts.
    let exp = parse(&with_keys(
        &[(15, "architecture = \"ncf\"")],
        &["hidden_layers = []"],
        &[],
    ))
    .expect("valid");
    assert!(exp.base.model.hidden_layers.is_empty());
    assert!(exp.base.model.dropouts.is_empty());
    // Written hidden layers override the architecture's; dropouts default to one per layer.
    let exp = parse(&with_keys(
        &[(15, "architecture = \"mlp\"")],
        &["hidden_layers = [8, 4, 2]"],
        &[],
    ))
    .expect("valid");
    assert_eq!(exp.base.model.dropouts, [0.0; 3]);
}

#[test]
fn dropouts_need_one_rate_per_hidden_layer() {
    let shown = error(&with_keys(
        &[(15, "architecture = \"mlp\"")],
        &["dropouts = [0.5]"],
        &[],
    ));
    assert_eq!(
        shown,
        "experiments/bad.toml:17: `model.dropouts` must have one dropout rate per hidden layer: `model.hidden_layers` has 2 (the default for `mlp`), `model.dropouts` has 1"
    );
    assert_reports(
        &with_keys(&[], &["hidden_layers = [4]", "dropouts = [0.1, 0.2]"], &[]),
        18,
        "model.dropouts",
        "`model.hidden_layers` has 1, `model.dropouts` has 2",
    );
    // dot-mf has no hidden layers: no dropouts either.
    assert_reports(
        &with_keys(&[], &["dropouts = [0.1]"], &[]),
        17,
        "model.dropouts",
        "has 0 (the default for `dot-mf`), `model.dropouts` has 1",
    );
}

#[test]
fn training_range_checks() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "weight_decay = -1",
            "training.weight_decay",
            "must be >= 0, got -1",
        ),
        (
            "weight_decay = nan",
            "training.weight_decay",
            "must be >= 0, got nan",
        ),
        ("patience = 0", "training.patience", "must be >= 1, got 0"),
        (
            "patience = \"3\"",
            "training.patience",
            "must be an integer, got string \"3\"",
        ),
    ];
    for &(text, key, what) in cases {
        assert_reports(&with_keys(&[], &[], &[text]), 25, key, what);
    }
    assert_reports(
        &with_keys(&[(21, "optimizer = \"sgd\"")], &[], &["momentum = 1"]),
        25,
        "training.momentum",
        "must be >= 0 and < 1, got 1",
    );
    assert_reports(
        &with_keys(&[(23, "loss = \"huber\"")], &[], &["huber_delta = 0"]),
        25,
        "training.huber_delta",
        "must be > 0, got 0",
    );
    assert_reports(
        &with_keys(&[], &[], &["patience = 2", "monitor = \"auc\""]),
        26,
        "training.monitor",
        "must be one of `rmse`, `mae`, got `auc`",
    );
}

#[test]
fn keys_that_belong_to_another_value() {
    assert_reports(
        &with_keys(&[], &[], &["momentum = 0.9"]),
        25,
        "training.momentum",
        "only allowed with `training.optimizer = \"sgd\"`, but the optimizer is `adam` (line 21)",
    );
    // Written with its default value it is still an error: it would do nothing.
    assert_reports(
        &with_keys(&[(21, "")], &[], &["momentum = 0"]),
        25,
        "training.momentum",
        "but the optimizer is `adam` (the default)",
    );
    assert_reports(
        &with_keys(&[], &[], &["huber_delta = 2"]),
        25,
        "training.huber_delta",
        "only allowed with `training.loss = \"huber\"`, but the loss is `mse` (line 23)",
    );
    assert_reports(
        &with_keys(&[], &[], &["monitor = \"mae\""]),
        25,
        "training.monitor",
        "only allowed with `training.patience` (it is the metric early stopping watches), but `training.patience` is not set",
    );
    // Early stopping needs a validation split.
    assert_eq!(
        error(&with_keys(&[(12, "")], &[], &["patience = 2"])),
        "experiments/bad.toml:25: `training.patience` is only allowed with a validation split, `split.validation_fraction` > 0 (early stopping watches the validation metric), but `split.validation_fraction` is 0"
    );
    let exp = parse(&with_keys(&[], &[], &["patience = 2"])).expect("valid");
    assert_eq!(
        exp.base.training.early_stopping,
        Some(EarlyStopping {
            patience: 2,
            monitor: MetricName::Rmse
        })
    );
}

#[test]
fn cross_key_rules_hold_at_every_grid_point() {
    // Base optimizer sgd with momentum; the sweep's `adam` point is an error, reported at
    // the momentum line and naming the sweep line that sets adam.
    let text = with_keys(
        &[(21, "optimizer = \"sgd\"")],
        &[],
        &[
            "momentum = 0.9",
            "[sweep]",
            "training.optimizer = [\"adam\", \"sgd\"]",
        ],
    );
    assert_eq!(
        error(&text),
        "experiments/bad.toml:25: `training.momentum` is only allowed with `training.optimizer = \"sgd\"`, but the optimizer is `adam` (line 27)"
    );
    // A swept momentum with the base adam is reported on the sweep line.
    assert_reports(
        &with_keys(&[], &[], &["[sweep]", "training.momentum = [0.5]"]),
        26,
        "training.momentum",
        "but the optimizer is `adam` (line 21)",
    );
    // Early stopping with a swept validation fraction of 0.
    assert_reports(
        &with_keys(
            &[],
            &[],
            &[
                "patience = 2",
                "[sweep]",
                "split.validation_fraction = [0.1, 0]",
            ],
        ),
        25,
        "training.patience",
        "but `split.validation_fraction` is 0",
    );
    // Sweeping the architecture: dropouts written for one architecture's layers.
    assert_reports(
        &with_keys(
            &[(15, "architecture = \"ncf\"")],
            &["dropouts = [0.2]"],
            &["[sweep]", "model.architecture = [\"ncf\", \"mlp\"]"],
        ),
        17,
        "model.dropouts",
        "`model.hidden_layers` has 2 (the default for `mlp`), `model.dropouts` has 1",
    );
    // And a compatible sweep loads.
    let text = with_keys(
        &[(21, "optimizer = \"sgd\"")],
        &[],
        &[
            "momentum = 0.9",
            "[sweep]",
            "training.learning_rate = [0.1, 0.01]",
        ],
    );
    parse(&text).expect("valid");
}

#[test]
fn list_valued_keys_sweep_as_lists_of_lists() {
    let text = with_keys(
        &[(15, "architecture = \"ncf\"")],
        &[],
        &["[sweep]", "\"model.hidden_layers\" = [[10], [10, 10]]"],
    );
    let exp = parse(&text).expect("valid");
    assert_eq!(exp.sweep[0].key, "model.hidden_layers");
    assert_eq!(exp.sweep[0].values.len(), 2);

    // A flat list is refused with the syntax to use.
    let shown = error(&with_keys(
        &[],
        &[],
        &["[sweep]", "model.hidden_layers = [10, 20]"],
    ));
    assert_eq!(
        shown,
        "experiments/bad.toml:26: `model.hidden_layers` takes a list, so its sweep values must be a list of lists, one list per grid point, e.g. `model.hidden_layers = [[64], [64, 32]]`; got integer 10"
    );
    assert_reports(
        &with_keys(
            &[],
            &[],
            &["[sweep]", "metrics.names = [\"rmse\", \"mae\"]"],
        ),
        26,
        "metrics.names",
        "must be a list of lists",
    );
    // Bad elements inside a swept list are reported on the sweep line.
    assert_reports(
        &with_keys(
            &[(15, "architecture = \"ncf\"")],
            &[],
            &["[sweep]", "model.hidden_layers = [[10], [10, 0]]"],
        ),
        26,
        "model.hidden_layers",
        "must be a list of integers >= 1, got 0",
    );
    // Sweeping hidden layers against written dropouts: the mismatched point is an error.
    assert_reports(
        &with_keys(
            &[(15, "architecture = \"ncf\"")],
            &["dropouts = [0.5]"],
            &["[sweep]", "model.hidden_layers = [[10], [10, 10]]"],
        ),
        17,
        "model.dropouts",
        "`model.hidden_layers` has 2, `model.dropouts` has 1",
    );
}

// ---- [data] filters ---------------------------------------------------------------------

fn data_section(keys: &str) -> String {
    format!(
        "[experiment]\nname = \"t\"\n[data]\ndataset = \"amazon-movies-tv\"\n{keys}\n\
         [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n[model]\narchitecture = \"biased-mf\"\n\
         embedding_size = 8\n[training]\nepochs = 1\nbatch_size = 8\nlearning_rate = 0.01\n"
    )
}

#[test]
fn data_filters_are_read_and_checked() {
    let exp = parse(&data_section(
        "min_year = 2018\nmax_year = 2018\nverified_only = true\nmin_user_ratings = 2\n\
         min_item_ratings = 2\nk_core = 5\non_bad_line = \"skip\"",
    ))
    .expect("valid");
    let data = &exp.base.data;
    assert_eq!(
        data.filters,
        crate::config::spec::FilterSpec {
            min_year: Some(2018),
            max_year: Some(2018),
            verified_only: true,
            min_user_ratings: 2,
            min_item_ratings: 2,
            k_core: Some(5),
        }
    );
    assert_eq!(data.on_bad_line, crate::config::spec::BadLinePolicy::Skip);

    let err = parse(&data_section(
        "min_year = 2019\nmax_year = 2018\nmin_user_ratings = 0\nk_core = \"5\"\non_bad_line = \"ignore\"",
    ))
    .expect_err("invalid")
    .to_string();
    for line in [
        "experiments/bad.toml:6: `data.max_year` must be >= data.min_year, got 2018 (data.min_year is 2019)",
        "experiments/bad.toml:7: `data.min_user_ratings` must be >= 1, got 0",
        "experiments/bad.toml:8: `data.k_core` must be an integer, got string \"5\"",
        "experiments/bad.toml:9: `data.on_bad_line` must be one of `error`, `skip`, got `ignore`",
    ] {
        assert!(
            err.lines().any(|l| l == line),
            "no line {line:?} in:\n{err}"
        );
    }
    let err = parse(
        &data_section("")
            .replace("amazon-movies-tv", "ml-100k")
            .replace(
                "dataset = \"ml-100k\"\n",
                "dataset = \"ml-100k\"\nverified_only = true",
            ),
    )
    .expect_err("verified needs amazon")
    .to_string();
    assert!(
        err.contains(
            "`data.verified_only` is only allowed with `data.dataset = \"amazon-movies-tv\"`"
        ),
        "{err}"
    );
}

#[test]
fn data_filters_can_be_swept_and_keep_old_run_keys() {
    let text = data_section("min_user_ratings = 2")
        + "[sweep]\n\"data.k_core\" = [2, 3]\n\"data.verified_only\" = [false, true]\n";
    let exp = parse(&text).expect("valid");
    let runs = crate::sweep::runs(&exp).expect("grid");
    assert_eq!(runs.len(), 4);
    let cores: Vec<(Option<usize>, bool, usize)> = runs
        .iter()
        .map(|r| {
            let f = &r.config.data.filters;
            (f.k_core, f.verified_only, f.min_user_ratings)
        })
        .collect();
    assert_eq!(
        cores,
        [
            (Some(2), false, 2),
            (Some(2), true, 2),
            (Some(3), false, 2),
            (Some(3), true, 2)
        ]
    );
    // Off filters are not serialised: the configuration JSON is what it was before them.
    let plain = parse(&data_section("")).expect("valid");
    let json = serde_json::to_string(&plain.base.data).expect("json");
    assert_eq!(json, r#"{"dataset":"amazon-movies-tv","path":null}"#);
}

#[test]
fn devices_and_device_pins_are_read_and_checked_with_their_lines() {
    let exp = parse(&edit(
        &[(3, "devices = [\"cpu:2\", \"cuda:1\"]")],
        &["[sweep]", "training.device = [\"cpu\", \"any\"]"],
    ))
    .expect("valid");
    assert_eq!(
        exp.devices,
        vec![
            DeviceSpec::Cpu { workers: Some(2) },
            DeviceSpec::Cuda { ordinal: 1 }
        ]
    );
    assert_eq!(exp.base.training.device, DevicePin::Any);
    let grid = crate::sweep::runs(&exp).expect("grid");
    assert_eq!(grid[0].config.training.device, DevicePin::Cpu);
    assert_eq!(grid[1].config.training.device, DevicePin::Any);
    // The default pin leaves run keys as they were before the key existed.
    let before = crate::sweep::runs(&parse(&edit(&[], &[])).expect("valid")).expect("grid");
    let pinned_any = parse(&edit(&[(25, "device = \"any\"")], &[])).expect("valid");
    assert_eq!(
        crate::sweep::runs(&pinned_any).expect("grid")[0].key,
        before[0].key
    );

    assert_reports(
        &edit(&[(3, "devices = [\"cpu\", \"gpu:0\"]")], &[]),
        3,
        "experiment.devices",
        "must be `cpu`, `cpu:N`",
    );
    assert_reports(
        &edit(&[(3, "devices = [\"cpu:2\", \"cpu\"]")], &[]),
        3,
        "experiment.devices",
        "lists `cpu` more than once",
    );
    assert_reports(
        &edit(&[(3, "devices = []")], &[]),
        3,
        "experiment.devices",
        "must not be empty",
    );
    assert_reports(
        &edit(&[(25, "device = \"tpu\"")], &[]),
        25,
        "training.device",
        "`any`, `cpu`, `cuda`",
    );
    assert!(
        error(&edit(&[], &["[sweep]", "experiment.devices = [[\"cpu\"]]"]))
            .contains("fixed for the whole experiment")
    );
}

#[test]
fn the_seed_of_a_stored_file_or_the_default() {
    assert_eq!(file_seed("[experiment]\nname = \"x\"\nseed = 7\n"), Some(7));
    assert_eq!(
        file_seed("[experiment]\nname = \"x\"\n"),
        Some(DEFAULT_SEED)
    );
    assert_eq!(file_seed("not toml ["), None);
    assert_eq!(file_seed("[experiment]\nseed = -1\n"), None);
}

pub(super) fn parse_with(text: &str, overrides: &[&str]) -> Result<Experiment, ConfigError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    parse_experiment_with(text, Path::new(FILE), &overrides)
}

#[test]
fn an_override_is_a_one_value_sweep_that_replaces_the_files_value() {
    let text = edit(
        &[],
        &[
            "[sweep]",
            "model.embedding_size = [8, 32]",
            "training.l2 = [0.1, 0.2]",
        ],
    );
    let plain = parse(&text).expect("valid");
    let set = parse_with(
        &text,
        &[
            "model.architecture=ncf",
            "model.hidden_layers = [16, 8]",
            "training.l2=0.05",
        ],
    )
    .expect("valid");
    // The swept l2 is replaced in its place; new keys follow the file's axes.
    let keys: Vec<&str> = set.sweep.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "model.embedding_size",
            "training.l2",
            "model.architecture",
            "model.hidden_layers"
        ]
    );
    assert_eq!(set.points.len(), 2);
    for point in &set.points {
        assert_eq!(point.model.architecture, Architecture::Ncf);
        assert_eq!(point.model.hidden_layers, [16, 8]);
        assert_eq!(point.training.l2, 0.05);
    }
    // The file itself is stored as written, and the base keeps the file's values.
    assert_eq!(set.source_text, text);
    assert_eq!(set.base.model.architecture, Architecture::DotMf);
    // New values, new run keys; no override, the file's keys.
    let keys = |exp: &Experiment| -> Vec<String> {
        crate::sweep::runs(exp)
            .expect("runs")
            .into_iter()
            .map(|r| r.key)
            .collect()
    };
    assert_eq!(keys(&parse_with(&text, &[]).expect("valid")), keys(&plain));
    assert!(keys(&set).iter().all(|k| !keys(&plain).contains(k)));
}

#[test]
fn a_storage_override_changes_the_base_and_not_the_run_keys() {
    let text = edit(&[], &[]);
    let plain = parse(&text).expect("valid");
    let set = parse_with(&text, &["training.checkpoint=best"]).expect("valid");
    assert!(set.sweep.is_empty());
    assert_eq!(set.base.training.checkpoint, CheckpointPolicy::Best);
    assert_eq!(set.points[0].training.checkpoint, CheckpointPolicy::Best);
    let key = |exp: &Experiment| crate::sweep::runs(exp).expect("runs")[0].key.clone();
    assert_eq!(key(&set), key(&plain));
}

#[test]
fn override_problems_name_the_argument() {
    let text = edit(&[], &[]);
    let shown = |overrides: &[&str]| match parse_with(&text, overrides) {
        Ok(exp) => panic!("expected an error, parsed {exp:?}"),
        Err(err) => err.to_string(),
    };
    let all = shown(&[
        "training.epochs=0",
        "model.embeding_size=8",
        "training.optimizer=adagrad",
    ]);
    for expected in [
        "--set training.epochs=0: `training.epochs` must be >= 1, got 0",
        "--set model.embeding_size=8: unknown key `model.embeding_size`; keys allowed in [model]",
        "--set training.optimizer=adagrad: `training.optimizer` must be one of",
    ] {
        assert!(
            all.lines().any(|l| l.starts_with(expected)),
            "{expected} not in:\n{all}"
        );
    }
    assert!(shown(&["epochs"]).contains("--set epochs: expected KEY=VALUE"));
    assert!(shown(&["epochs=3"]).contains("`epochs` is not a dotted key"));
    assert!(shown(&["experiment.seed=3"]).contains("edit the file"));
    // A problem in the file itself still names the file and line.
    let bad = edit(&[(19, "epochs = -1")], &[]);
    let err = parse_with(&bad, &["training.l2=0.1"])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{FILE}:19: ")), "{err}");
}

#[test]
fn threads_belong_to_the_per_rating_path() {
    let per_rating = [(20, "batch_size = 1"), (21, "optimizer = \"sgd\"")];
    let training = |replace: &[(usize, &str)], keys: &[&str]| {
        parse(&with_keys(replace, &[], keys)).map(|e| e.base.training)
    };
    assert_eq!(training(&per_rating, &[]).expect("valid").threads, 1);
    assert_eq!(
        training(&per_rating, &["threads = 2"])
            .expect("valid")
            .threads,
        2
    );
    assert_reports(
        &with_keys(&per_rating, &[], &["threads = 0"]),
        25,
        "training.threads",
        "must be >= 1, got 0",
    );
    // Off the per-rating path the key would do nothing: an error naming what is in the way.
    assert_reports(
        &with_keys(&[(20, "batch_size = 1")], &[], &["threads = 2"]),
        25,
        "training.threads",
        "but the optimizer is `adam`",
    );
    assert_reports(
        &with_keys(&[(21, "optimizer = \"sgd\"")], &[], &["threads = 2"]),
        25,
        "training.threads",
        "but the batch size is 128",
    );
    assert_reports(
        &with_keys(&per_rating, &[], &["threads = 2", "engine = \"graph\""]),
        25,
        "training.threads",
        "but the engine is `graph`",
    );
    let ncf = [
        (15, "architecture = \"ncf\""),
        (20, "batch_size = 1"),
        (21, "optimizer = \"sgd\""),
    ];
    assert_reports(
        &with_keys(&ncf, &[], &["threads = 2"]),
        25,
        "training.threads",
        "but the model is `ncf`",
    );
    // SVD++ trains per rating, but on one thread only.
    let svdpp = [
        (15, "architecture = \"svdpp\""),
        (20, "batch_size = 1"),
        (21, "optimizer = \"sgd\""),
    ];
    assert_eq!(
        training(&svdpp, &["threads = 1"]).expect("valid").threads,
        1
    );
    assert_reports(
        &with_keys(&svdpp, &[], &["threads = 2"]),
        25,
        "training.threads",
        "but the model is `svdpp`",
    );
}

#[test]
fn repeats_default_to_one_and_must_be_at_least_one() {
    assert_eq!(parse(&edit(&[], &[])).expect("valid").repeats, 1);
    let three = parse(&edit(&[(3, "seed = 7\nrepeats = 3")], &[])).expect("valid");
    assert_eq!(three.repeats, 3);
    assert_eq!(
        (three.repeat_seed(0), three.repeat_seed(2)),
        (7, 9),
        "repeat 0 keeps the experiment's seed"
    );
    assert_reports(
        &edit(&[(3, "repeats = 0")], &[]),
        3,
        "experiment.repeats",
        ">= 1",
    );
    assert_reports(
        &edit(&[(3, "repeats = \"3\"")], &[]),
        3,
        "experiment.repeats",
        "integer",
    );
}

#[test]
fn save_predictions_is_stored_but_never_keyed_or_swept() {
    let plain = parse(&edit(&[], &[])).expect("valid");
    assert!(!plain.base.save_predictions);
    let saving = parse(&edit(&[], &["save_predictions = true"])).expect("valid");
    assert!(saving.base.save_predictions && saving.points[0].save_predictions);
    assert_eq!(
        crate::sweep::run_key(7, &plain.base, 0),
        crate::sweep::run_key(7, &saving.base, 0),
        "not part of the run key"
    );
    assert_eq!(
        serde_json::to_string(&plain.base).expect("json"),
        serde_json::to_string(&saving.base).expect("json"),
        "nor of the stored configuration"
    );
    assert_reports(
        &edit(
            &[],
            &["", "[sweep]", "metrics.save_predictions = [true, false]"],
        ),
        30,
        "metrics.save_predictions",
        "cannot sweep",
    );
}
