//! Experiment files that must be refused before anything trains, naming the file, the
//! line and the key.

use crate::Case;

/// A valid one-epoch holdout experiment on the embedded data; the cases edit it.
pub const BASE: &str = r#"[experiment]
name = "bad"
seed = 7

[data]
dataset = "ml-latest-small"

[split]
kind = "holdout"
test_fraction = 0.1

[model]
architecture = "biased-mf"
embedding_size = 8

[training]
epochs = 1
batch_size = 1024
learning_rate = 0.01
"#;

/// BASE with `from` replaced by `to` (which must occur).
pub fn replaced(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no `{from}`");
    BASE.replacen(from, to, 1)
}

/// BASE with `line` added at the end of `[table]` (a new table when BASE has none).
pub fn with_line(table: &str, line: &str) -> String {
    let header = format!("[{table}]\n");
    match BASE.find(&header) {
        Some(at) => {
            let body = at + header.len();
            let end = BASE[body..]
                .find("\n\n")
                .map_or(BASE.len(), |e| body + e + 1);
            format!("{}{line}\n{}", &BASE[..end], &BASE[end..])
        }
        None => format!("{BASE}\n[{table}]\n{line}\n"),
    }
}

/// `exp validate bad.toml` must fail with each needle (the file name is always one).
fn validate(name: &str, text: impl Into<Vec<u8>>, needles: &[&str]) -> Case {
    let mut all = vec!["bad.toml"];
    all.extend_from_slice(needles);
    Case::error(
        &format!("experiment/{name}"),
        &["validate", "bad.toml"],
        &all,
    )
    .file("bad.toml", text)
}

/// `exp run bad.toml` must fail with each needle: for mistakes only the data can show.
fn run(name: &str, text: impl Into<Vec<u8>>, needles: &[&str]) -> Case {
    Case::error(
        &format!("experiment/{name}"),
        &["run", "bad.toml", "--db", "db.sqlite"],
        needles,
    )
    .file("bad.toml", text)
}

pub fn cases() -> Vec<Case> {
    let r = replaced;
    let w = with_line;
    vec![
        // The file itself.
        validate("empty-file", "", &["missing required table"]),
        validate(
            "only-comments",
            "# nothing here\n",
            &["missing required table"],
        ),
        validate("not-toml", "garbage [[[", &["bad.toml:1", "invalid TOML"]),
        validate("binary", vec![0xff, 0xfe, 0x00, 0x01, 0x80], &["UTF-8"]),
        validate("utf16-bom", b"\xff\xfe[\x00e\x00".to_vec(), &["UTF-8"]),
        validate(
            "duplicate-key",
            w("model", "embedding_size = 9"),
            &["duplicate key"],
        ),
        validate(
            "duplicate-table",
            format!("{BASE}\n[model]\nembedding_size = 4\n"),
            &["duplicate"],
        ),
        validate(
            "unknown-table",
            format!("{BASE}\n[modle]\nx = 1\n"),
            &["modle"],
        ),
        validate(
            "unknown-key",
            w("model", "embeding_size = 8"),
            &["embeding_size"],
        ),
        validate(
            "key-at-top-level",
            format!("epochs = 3\n{BASE}"),
            &["epochs"],
        ),
        validate(
            "table-as-value",
            r("seed = 7", "seed = { a = 1 }"),
            &["experiment.seed"],
        ),
        validate(
            "missing-data",
            r("[data]\ndataset = \"ml-latest-small\"\n", ""),
            &["[data]"],
        ),
        validate(
            "missing-architecture",
            r("architecture = \"biased-mf\"\n", ""),
            &["model.architecture"],
        ),
        // [experiment]
        validate(
            "name-empty",
            r("name = \"bad\"", "name = \"\""),
            &["experiment.name"],
        ),
        validate(
            "name-slash",
            r("name = \"bad\"", "name = \"a/b\""),
            &["experiment.name"],
        ),
        validate(
            "name-dotdot",
            r("name = \"bad\"", "name = \"..\""),
            &["experiment.name"],
        ),
        validate(
            "name-number",
            r("name = \"bad\"", "name = 5"),
            &["experiment.name"],
        ),
        validate(
            "name-newline",
            r("name = \"bad\"", "name = \"a\\nb\""),
            &["experiment.name"],
        ),
        validate(
            "name-nul",
            r("name = \"bad\"", "name = \"a\\u0000b\""),
            &["experiment.name"],
        ),
        validate(
            "seed-negative",
            r("seed = 7", "seed = -1"),
            &["experiment.seed"],
        ),
        validate(
            "seed-float",
            r("seed = 7", "seed = 1.5"),
            &["experiment.seed"],
        ),
        validate(
            "seed-string",
            r("seed = 7", "seed = \"7\""),
            &["experiment.seed"],
        ),
        validate(
            "seed-overflow",
            r("seed = 7", "seed = 99999999999999999999"),
            &["bad.toml:3"],
        ),
        validate(
            "devices-garbage",
            w("experiment", "devices = \"gpu:x\""),
            &["experiment.devices"],
        ),
        // [data]
        validate(
            "dataset-unknown",
            r("\"ml-latest-small\"", "\"ml-10m\""),
            &["data.dataset", "ml-10m"],
        ),
        validate(
            "dataset-number",
            r("\"ml-latest-small\"", "5"),
            &["data.dataset"],
        ),
        validate(
            "min-user-ratings-zero",
            w("data", "min_user_ratings = 0"),
            &["data.min_user_ratings"],
        ),
        validate(
            "k-core-negative",
            w("data", "k_core = -2"),
            &["data.k_core"],
        ),
        validate(
            "on-bad-line-unknown",
            w("data", "on_bad_line = \"ignore\""),
            &["data.on_bad_line"],
        ),
        validate(
            "verified-on-movielens",
            w("data", "verified_only = true"),
            &["data.verified_only"],
        ),
        validate(
            "years-reversed",
            w("data", "min_year = 2010\nmax_year = 2000"),
            &["year"],
        ),
        run(
            "path-missing",
            w("data", "path = \"no/such/folder\""),
            &["no/such/folder"],
        ),
        run(
            "path-is-a-file",
            w("data", "path = \"bad.toml\""),
            &["bad.toml"],
        ),
        // [split]
        validate(
            "split-kind-unknown",
            r("kind = \"holdout\"", "kind = \"random\""),
            &["split.kind"],
        ),
        validate(
            "test-fraction-one",
            r("test_fraction = 0.1", "test_fraction = 1.0"),
            &["bad.toml:10", "split.test_fraction"],
        ),
        validate(
            "test-fraction-zero",
            r("test_fraction = 0.1", "test_fraction = 0"),
            &["split.test_fraction"],
        ),
        validate(
            "test-fraction-negative",
            r("test_fraction = 0.1", "test_fraction = -0.1"),
            &["split.test_fraction"],
        ),
        validate(
            "test-fraction-nan",
            r("test_fraction = 0.1", "test_fraction = nan"),
            &["split.test_fraction"],
        ),
        validate(
            "test-fraction-string",
            r("test_fraction = 0.1", "test_fraction = \"10%\""),
            &["split.test_fraction"],
        ),
        validate(
            "validation-fraction-one",
            w("split", "validation_fraction = 1.0"),
            &["split.validation_fraction"],
        ),
        validate(
            "validation-fraction-negative",
            w("split", "validation_fraction = -0.1"),
            &["split.validation_fraction"],
        ),
        validate(
            "kfold-k-one",
            r(
                "kind = \"holdout\"\ntest_fraction = 0.1",
                "kind = \"kfold\"\nk = 1",
            ),
            &["split.k"],
        ),
        validate(
            "kfold-k-zero",
            r(
                "kind = \"holdout\"\ntest_fraction = 0.1",
                "kind = \"kfold\"\nk = 0",
            ),
            &["split.k"],
        ),
        validate(
            "kfold-k-negative",
            r(
                "kind = \"holdout\"\ntest_fraction = 0.1",
                "kind = \"kfold\"\nk = -5",
            ),
            &["split.k"],
        ),
        validate(
            "kfold-with-test-fraction",
            r("kind = \"holdout\"", "kind = \"kfold\"\nk = 5"),
            &["test_fraction"],
        ),
        validate("holdout-with-k", w("split", "k = 5"), &["split.k"]),
        run(
            "kfold-more-folds-than-ratings",
            r(
                "kind = \"holdout\"\ntest_fraction = 0.1",
                "kind = \"kfold\"\nk = 1000000",
            ),
            &["split.k"],
        ),
        // [model]
        validate(
            "architecture-unknown",
            r("\"biased-mf\"", "\"transformer\""),
            &["model.architecture", "transformer"],
        ),
        validate(
            "architecture-case",
            r("\"biased-mf\"", "\"Biased-MF\""),
            &["model.architecture"],
        ),
        validate(
            "embedding-zero",
            r("embedding_size = 8", "embedding_size = 0"),
            &["bad.toml:14", "model.embedding_size"],
        ),
        validate(
            "embedding-negative",
            r("embedding_size = 8", "embedding_size = -8"),
            &["model.embedding_size"],
        ),
        validate(
            "embedding-float",
            r("embedding_size = 8", "embedding_size = 8.5"),
            &["model.embedding_size"],
        ),
        validate(
            "embedding-huge",
            r("embedding_size = 8", "embedding_size = 1099511627776"),
            &["model.embedding_size"],
        ),
        validate(
            "embedding-array",
            r("embedding_size = 8", "embedding_size = [8]"),
            &["model.embedding_size"],
        ),
        validate(
            "dropouts-per-layer-mismatch",
            r("\"biased-mf\"", "\"mlp\"\ndropouts = [0.1]"),
            &["model.dropouts"],
        ),
        validate(
            "hidden-layers-zero",
            r("\"biased-mf\"", "\"ncf\"\nhidden_layers = [0]"),
            &["model.hidden_layers"],
        ),
        validate(
            "hidden-layers-string",
            r("\"biased-mf\"", "\"ncf\"\nhidden_layers = \"10\""),
            &["model.hidden_layers"],
        ),
        validate(
            "hidden-layers-negative",
            r("\"biased-mf\"", "\"mlp\"\nhidden_layers = [128, -32]"),
            &["model.hidden_layers"],
        ),
        validate(
            "hidden-layers-huge",
            r("\"biased-mf\"", "\"ncf\"\nhidden_layers = [1000000000]"),
            &["model.hidden_layers"],
        ),
        validate(
            "dropout-above-one",
            r("\"biased-mf\"", "\"ncf\"\ndropout = 1.5"),
            &["dropout"],
        ),
        validate(
            "dropout-negative",
            r("\"biased-mf\"", "\"ncf\"\ndropout = -0.1"),
            &["dropout"],
        ),
        validate(
            "init-unknown",
            w("model", "init = \"xavier-magic\""),
            &["model.init"],
        ),
        validate(
            "init-scale-negative",
            w("model", "init = \"normal\"\ninit_scale = -1.0"),
            &["model.init_scale"],
        ),
        validate(
            "implicit-l2-negative",
            r("\"biased-mf\"", "\"svdpp\"\nimplicit_l2_scale = -0.5"),
            &["model.implicit_l2_scale"],
        ),
        // [training]
        validate(
            "epochs-zero",
            r("epochs = 1", "epochs = 0"),
            &["bad.toml:17", "training.epochs"],
        ),
        validate(
            "epochs-negative",
            r("epochs = 1", "epochs = -3"),
            &["training.epochs"],
        ),
        validate(
            "epochs-float",
            r("epochs = 1", "epochs = 2.5"),
            &["training.epochs"],
        ),
        validate(
            "batch-zero",
            r("batch_size = 1024", "batch_size = 0"),
            &["training.batch_size"],
        ),
        // A batch larger than the training set is one batch per epoch (documented).
        Case::accepted(
            "experiment/batch-larger-than-the-data",
            &["run", "bad.toml", "--db", "db.sqlite"],
            &["1 finished, 0 failed"],
        )
        .file(
            "bad.toml",
            r("batch_size = 1024", "batch_size = 1000000000000000"),
        ),
        validate(
            "learning-rate-zero",
            r("learning_rate = 0.01", "learning_rate = 0.0"),
            &["training.learning_rate"],
        ),
        validate(
            "learning-rate-negative",
            r("learning_rate = 0.01", "learning_rate = -0.01"),
            &["training.learning_rate"],
        ),
        validate(
            "learning-rate-nan",
            r("learning_rate = 0.01", "learning_rate = nan"),
            &["training.learning_rate"],
        ),
        validate(
            "learning-rate-inf",
            r("learning_rate = 0.01", "learning_rate = inf"),
            &["training.learning_rate"],
        ),
        validate(
            "learning-rate-string",
            r("learning_rate = 0.01", "learning_rate = \"fast\""),
            &["training.learning_rate"],
        ),
        validate("l2-negative", w("training", "l2 = -0.1"), &["training.l2"]),
        validate(
            "weight-decay-negative",
            w("training", "weight_decay = -1.0"),
            &["training.weight_decay"],
        ),
        validate(
            "optimizer-unknown",
            w("training", "optimizer = \"lbfgs\""),
            &["training.optimizer", "lbfgs"],
        ),
        validate(
            "loss-unknown",
            w("training", "loss = \"hinge\""),
            &["training.loss", "hinge"],
        ),
        validate(
            "huber-delta-zero",
            w("training", "loss = \"huber\"\nhuber_delta = 0.0"),
            &["training.huber_delta"],
        ),
        validate(
            "momentum-above-one",
            w("training", "optimizer = \"sgd\"\nmomentum = 1.5"),
            &["training.momentum"],
        ),
        validate(
            "momentum-with-adam",
            w("training", "momentum = 0.9"),
            &["training.momentum"],
        ),
        validate(
            "lr-schedule-unknown",
            w("training", "lr_schedule = \"step\""),
            &["training.lr_schedule"],
        ),
        validate(
            "lr-decay-zero",
            w("training", "lr_schedule = \"exponential\"\nlr_decay = 0.0"),
            &["training.lr_decay"],
        ),
        validate(
            "patience-without-validation",
            w("training", "patience = 3"),
            &["training.patience"],
        ),
        validate(
            "patience-zero",
            w("training", "patience = 0"),
            &["training.patience"],
        ),
        validate(
            "engine-unknown",
            w("training", "engine = \"turbo\""),
            &["training.engine"],
        ),
        validate(
            "engine-fused-on-cuda",
            w("training", "engine = \"fused\"\ndevice = \"cuda\""),
            &["training.engine"],
        ),
        validate(
            "device-unknown",
            w("training", "device = \"tpu\""),
            &["training.device"],
        ),
        validate(
            "checkpoint-unknown",
            w("training", "checkpoint = \"sometimes\""),
            &["training.checkpoint"],
        ),
        // [metrics]
        validate(
            "metric-unknown",
            w("metrics", "names = [\"rmse\", \"auc\"]"),
            &["metrics.names", "auc"],
        ),
        validate(
            "metric-at-zero",
            w("metrics", "names = [\"ndcg@0\"]"),
            &["metrics.names"],
        ),
        validate(
            "metric-at-text",
            w("metrics", "names = [\"ndcg@ten\"]"),
            &["metrics.names"],
        ),
        validate(
            "metrics-empty",
            w("metrics", "names = []"),
            &["metrics.names"],
        ),
        validate(
            "metrics-not-a-list",
            w("metrics", "names = \"rmse\""),
            &["metrics.names"],
        ),
        validate(
            "relevance-without-ranking",
            w("metrics", "relevance_threshold = 4.0"),
            &["metrics.relevance_threshold"],
        ),
        validate(
            "relevance-negative",
            w(
                "metrics",
                "names = [\"ndcg@10\"]\nrelevance_threshold = -1.0",
            ),
            &["metrics.relevance_threshold"],
        ),
        run(
            "relevance-above-the-scale",
            w(
                "metrics",
                "names = [\"ndcg@10\"]\nrelevance_threshold = 10.0",
            ),
            &["metrics.relevance_threshold"],
        ),
        // [sweep]
        validate(
            "sweep-unknown-key",
            w("sweep", "\"model.embeding_size\" = [8, 16]"),
            &["model.embeding_size"],
        ),
        validate(
            "sweep-empty-list",
            w("sweep", "\"model.embedding_size\" = []"),
            &["model.embedding_size"],
        ),
        validate(
            "sweep-not-a-list",
            w("sweep", "\"model.embedding_size\" = 8"),
            &["model.embedding_size"],
        ),
        validate(
            "sweep-wrong-type",
            w("sweep", "\"model.embedding_size\" = [\"big\"]"),
            &["model.embedding_size"],
        ),
        validate(
            "sweep-bad-value",
            w("sweep", "\"training.learning_rate\" = [0.01, -1.0]"),
            &["training.learning_rate"],
        ),
        validate(
            "sweep-experiment-name",
            w("sweep", "\"experiment.name\" = [\"a\", \"b\"]"),
            &["experiment.name"],
        ),
        validate(
            "sweep-checkpoint",
            w("sweep", "\"training.checkpoint\" = [\"none\", \"best\"]"),
            &["training.checkpoint"],
        ),
        validate(
            "sweep-two-spellings",
            w(
                "sweep",
                "\"model.embedding_size\" = [8]\nmodel.embedding_size = [16]",
            ),
            &["model.embedding_size"],
        ),
        validate(
            "sweep-duplicate-values",
            w("sweep", "\"model.embedding_size\" = [8, 8]"),
            &["model.embedding_size"],
        ),
        validate(
            "sweep-table-value",
            w("sweep", "\"model.embedding_size\" = { a = 1 }"),
            &["model.embedding_size"],
        ),
        // [search]
        validate(
            "search-empty-range",
            searching("training.learning_rate = { uniform = [] }", "5"),
            &[
                "bad.toml:26:",
                "training.learning_rate",
                "two finite numbers",
            ],
        ),
        validate(
            "search-reversed-range",
            searching("training.learning_rate = { uniform = [0.1, 0.01] }", "5"),
            &["bad.toml:26:", "training.learning_rate", "is empty"],
        ),
        validate(
            "search-log-range-from-zero",
            searching("training.l2 = { log_uniform = [0, 0.1] }", "5"),
            &["bad.toml:26:", "training.l2", "must start above 0"],
        ),
        validate(
            "search-unknown-distribution",
            searching("training.learning_rate = { normal = [0, 1] }", "5"),
            &[
                "bad.toml:26:",
                "training.learning_rate",
                "unknown distribution `normal`",
            ],
        ),
        validate(
            "search-condition-on-unknown-key",
            searching(
                "model.hidden_layers = { choice = [[8]], when = { \"model.arch\" = [\"ncf\"] } }",
                "5",
            ),
            &["bad.toml:26:", "model.hidden_layers", "`model.arch`"],
        ),
        validate(
            "search-no-trials",
            searching("training.l2 = { uniform = [0, 0.1] }", "0"),
            &["bad.toml:24:", "search.trials", ">= 1"],
        ),
    ]
}

/// BASE with a validation set and a random search of `trials` trials over `entry`
/// (line 26).
fn searching(entry: &str, trials: &str) -> String {
    let base = replaced(
        "test_fraction = 0.1",
        "test_fraction = 0.1\nvalidation_fraction = 0.05",
    );
    format!("{base}\n[search]\nstrategy = \"random\"\ntrials = {trials}\n[search.space]\n{entry}\n")
}
