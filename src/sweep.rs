//! The sweep: an [`Experiment`] → grid points → runs, each run with a stable key.
//!
//! Second stage of the pipeline, after `config`. The grid is the cross product of the
//! `[sweep]` axes, enumerated as an **odometer**: the *first* swept key in the file varies
//! slowest and the *last* fastest. For
//!
//! ```toml
//! [sweep]
//! model.architecture = ["dot-mf", "biased-mf"]
//! model.embedding_size = [8, 16]
//! ```
//!
//! the points are, in order, `dot-mf 8`, `dot-mf 16`, `biased-mf 8`, `biased-mf 16`.
//! Each point becomes one run per fold (fold fastest). The order is locked by
//! `tests::expand_is_an_odometer_first_key_slowest` because reports and progress output
//! rely on it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::spec::{Experiment, RunConfig};
use crate::config::{self, ConfigError, Diagnostic, Problem, odometer};

/// One point of the grid: the swept values and the configuration they give.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPoint {
    /// 0-based position in grid order.
    pub index: usize,
    /// The swept keys and this point's values, in sweep-file order; empty with no sweep.
    pub params: Vec<(String, toml::Value)>,
    /// The base configuration with `params` applied.
    pub config: RunConfig,
}

/// Every grid point of `exp`, in odometer order (first sweep key slowest, last fastest).
///
/// With no `[sweep]` there is exactly one point, the base, with empty `params`. The
/// configurations are those [`load_experiment`](crate::config::load_experiment) validated,
/// one per point, in this order ([`Experiment::points`]); nothing is read or checked again.
/// An experiment whose points do not match its sweep (changed after loading) is an error.
pub fn expand(exp: &Experiment) -> Result<Vec<GridPoint>, ConfigError> {
    let lens: Vec<usize> = exp.sweep.iter().map(|axis| axis.values.len()).collect();
    let no_line = |key: &str, problem| {
        ConfigError::Invalid(vec![Diagnostic {
            file: exp.source_path.clone(),
            line: None,
            key: key.to_string(),
            problem,
        }])
    };
    if let Some(empty) = exp.sweep.iter().find(|axis| axis.values.is_empty()) {
        return Err(no_line(&empty.key, Problem::SweepEmpty));
    }
    let points = config::grid_points(lens.iter().copied());
    if points > config::MAX_GRID_POINTS as u128 {
        let problem = Problem::SweepTooLarge {
            points,
            limit: config::MAX_GRID_POINTS,
        };
        return Err(no_line("sweep", problem));
    }
    if points != exp.points.len() as u128 {
        let problem = Problem::Other {
            message: format!(
                "the sweep has {points} grid point(s) but {} configuration(s) were validated; \
                 load the experiment again after changing it",
                exp.points.len()
            ),
        };
        return Err(no_line("sweep", problem));
    }

    let mut grid = Vec::with_capacity(exp.points.len());
    for ((index, digits), config) in odometer(&lens).enumerate().zip(&exp.points) {
        let params: Vec<(String, toml::Value)> = exp
            .sweep
            .iter()
            .zip(&digits)
            .map(|(axis, &digit)| (axis.key.clone(), axis.values[digit].clone()))
            .collect();
        grid.push(GridPoint {
            index,
            params,
            config: config.clone(),
        });
    }
    Ok(grid)
}

/// One training run: a grid point on one fold.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// `experiment.name`.
    pub experiment: String,
    /// Index of the grid point ([`GridPoint::index`]).
    pub point: usize,
    /// The point's swept values, in sweep-file order.
    pub params: Vec<(String, toml::Value)>,
    /// The point's configuration.
    pub config: RunConfig,
    /// The seed of this run's repeat ([`Experiment::repeat_seed`]): `experiment.seed` for
    /// repeat 0, so folds and points of one repeat differ only by their configuration and
    /// fold.
    pub seed: u64,
    /// 0-based repeat (`experiment.repeats`; 0 without repeats).
    pub repeat: usize,
    /// 0-based fold (0 for holdout).
    pub fold: usize,
    /// Folds of this point: `k` for k-fold, 1 for holdout.
    pub folds: usize,
    /// [`run_key`] of `seed`, `config` and `fold`: names the run in the store, so a rerun
    /// skips what is done.
    pub key: String,
    /// The search trial the run belongs to (`[search]`); `None` for a grid run.
    pub trial: Option<usize>,
}

/// Every run of `exp`: grid points in [`expand`] order, within each point its repeats in
/// order, and within each repeat its folds in order (fold fastest). A k-fold split with
/// repeats is repeated k-fold cross-validation: each repeat draws its own k folds from its
/// own seed.
pub fn runs(exp: &Experiment) -> Result<Vec<RunSpec>, ConfigError> {
    let points = expand(exp)?;
    // Folds and repeats multiply the grid: refuse before allocating a run list that cannot
    // fit.
    let repeats = exp.repeats.max(1) as u128;
    let total: u128 = points
        .iter()
        .map(|p| p.config.split.folds() as u128 * repeats)
        .sum();
    if total > config::MAX_RUNS as u128 {
        return Err(ConfigError::Invalid(vec![Diagnostic {
            file: exp.source_path.clone(),
            line: None,
            key: "split.k".to_string(),
            problem: Problem::Other {
                message: format!(
                    "the experiment expands to {total} runs (grid points × repeats × folds), more than \
                     the limit of {}",
                    config::MAX_RUNS
                ),
            },
        }]));
    }
    let mut runs = Vec::new();
    for point in points {
        let folds = point.config.split.folds();
        for repeat in 0..exp.repeats.max(1) {
            let seed = exp.repeat_seed(repeat);
            for fold in 0..folds {
                runs.push(RunSpec {
                    experiment: exp.name.clone(),
                    point: point.index,
                    params: point.params.clone(),
                    config: point.config.clone(),
                    seed,
                    repeat,
                    fold,
                    folds,
                    key: run_key(seed, &point.config, fold),
                    trial: None,
                });
            }
        }
    }
    Ok(runs)
}

/// What [`run_key`] hashes; field order is part of the key, do not reorder.
#[derive(Serialize)]
struct KeyInput<'a> {
    seed: u64,
    config: &'a RunConfig,
    fold: usize,
}

/// The stable key of a run: the first 16 hex digits of the SHA-256 of the compact JSON
/// `{"seed":…,"config":…,"fold":…}` (serde_json of the spec structs, fields in declaration
/// order).
///
/// `config.data.path` is left out: it says where the files are, not what they are, and it
/// changes with the directory `exp` is started from, which must not make finished runs look
/// new. The experiment name is left out too: the store already scopes runs by experiment.
/// Changing a spec struct's fields changes every key; `tests::run_key_is_pinned` makes such
/// a change visible.
pub fn run_key(seed: u64, config: &RunConfig, fold: usize) -> String {
    let mut config = config.clone();
    config.data.path = None;
    let input = KeyInput {
        seed,
        config: &config,
        fold,
    };
    // Plain structs with string keys and no maps: serialising cannot fail.
    let json = serde_json::to_vec(&input).expect("RunConfig serialises to JSON");
    let digest = Sha256::digest(&json);
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The swept values as a compact JSON object in sweep order, e.g.
/// `{"model.architecture":"dot-mf","model.embedding_size":8}`; `{}` when nothing is swept.
/// This is what the store records per run.
pub fn params_json(params: &[(String, toml::Value)]) -> String {
    let entries: Vec<String> = params
        .iter()
        .map(|(key, value)| {
            let key = serde_json::Value::String(key.clone());
            let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
            format!("{key}:{value}")
        })
        .collect();
    format!("{{{}}}", entries.join(","))
}

/// A short human label for a grid point, e.g. `architecture=dot-mf embedding_size=8`;
/// `base` when nothing is swept. Keys are shortened to their last part unless two swept keys
/// share it; strings are shown without quotes and lists without spaces
/// (`hidden_layers=[10,10]`).
pub fn params_label(params: &[(String, toml::Value)]) -> String {
    if params.is_empty() {
        return "base".to_string();
    }
    let short = |key: &str| key.rsplit('.').next().unwrap_or(key).to_string();
    let parts: Vec<String> = params
        .iter()
        .map(|(key, value)| {
            let clash = params
                .iter()
                .filter(|(other, _)| short(other) == short(key))
                .count()
                > 1;
            let key = if clash { key.clone() } else { short(key) };
            format!("{key}={}", label_value(value))
        })
        .collect();
    parts.join(" ")
}

/// A value as [`params_label`] shows it: strings bare, lists compact (`[10,10]`, `["mae"]`).
fn label_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| match item {
                    toml::Value::Array(_) => label_value(item),
                    other => other.to_string(),
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::config::parse_experiment;
    use crate::config::spec::*;

    const HEAD: &str = r#"
[experiment]
name = "grid"
seed = 3
[data]
dataset = "ml-100k"
path = "data/a"
[split]
kind = "kfold"
k = 3
[model]
architecture = "dot-mf"
embedding_size = 4
[training]
epochs = 1
batch_size = 32
learning_rate = 0.5
"#;

    fn experiment(sweep: &str) -> Experiment {
        let text = format!("{HEAD}{sweep}");
        parse_experiment(&text, Path::new("experiments/grid.toml"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The grid order is part of the interface (reports, progress, point indices): lock it.
    #[test]
    fn expand_is_an_odometer_first_key_slowest() {
        let exp = experiment(
            r#"
[sweep]
model.architecture = ["dot-mf", "biased-mf"]
model.embedding_size = [8, 16, 32]
training.learning_rate = [0.1, 0.01]
"#,
        );
        let grid = expand(&exp).expect("valid");
        let labels: Vec<String> = grid.iter().map(|p| params_label(&p.params)).collect();
        assert_eq!(
            labels,
            [
                "architecture=dot-mf embedding_size=8 learning_rate=0.1",
                "architecture=dot-mf embedding_size=8 learning_rate=0.01",
                "architecture=dot-mf embedding_size=16 learning_rate=0.1",
                "architecture=dot-mf embedding_size=16 learning_rate=0.01",
                "architecture=dot-mf embedding_size=32 learning_rate=0.1",
                "architecture=dot-mf embedding_size=32 learning_rate=0.01",
                "architecture=biased-mf embedding_size=8 learning_rate=0.1",
                "architecture=biased-mf embedding_size=8 learning_rate=0.01",
                "architecture=biased-mf embedding_size=16 learning_rate=0.1",
                "architecture=biased-mf embedding_size=16 learning_rate=0.01",
                "architecture=biased-mf embedding_size=32 learning_rate=0.1",
                "architecture=biased-mf embedding_size=32 learning_rate=0.01",
            ]
        );
        for (i, point) in grid.iter().enumerate() {
            assert_eq!(point.index, i);
            let keys: Vec<&str> = point.params.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(
                keys,
                [
                    "model.architecture",
                    "model.embedding_size",
                    "training.learning_rate"
                ]
            );
            // The config really carries the point's values; the rest is the base.
            let arch = point.params[0].1.as_str().expect("string");
            assert_eq!(point.config.model.architecture.as_str(), arch);
            let size = point.params[1].1.as_integer().expect("integer");
            assert_eq!(point.config.model.embedding_size as i64, size);
            let rate = point.params[2].1.as_float().expect("float");
            assert_eq!(point.config.training.learning_rate, rate);
            assert_eq!(point.config.training.epochs, exp.base.training.epochs);
            assert_eq!(point.config.data, exp.base.data);
        }
    }

    #[test]
    fn odometer_edges() {
        let all: Vec<Vec<usize>> = odometer(&[2, 3]).collect();
        assert_eq!(all, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
        assert_eq!(odometer(&[]).collect::<Vec<_>>(), [Vec::<usize>::new()]);
        assert_eq!(odometer(&[2, 0]).count(), 0);
        assert_eq!(odometer(&[1, 1, 1]).count(), 1);
    }

    #[test]
    fn no_sweep_is_one_base_point() {
        let exp = experiment("");
        let grid = expand(&exp).expect("valid");
        assert_eq!(grid.len(), 1);
        assert_eq!(grid[0].index, 0);
        assert!(grid[0].params.is_empty());
        assert_eq!(grid[0].config, exp.base);
        assert_eq!(params_label(&grid[0].params), "base");
        assert_eq!(params_json(&grid[0].params), "{}");
    }

    #[test]
    fn runs_are_points_times_folds_fold_fastest() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/sweep.toml");
        let exp = crate::config::load_experiment(&path).expect("loads");
        let runs = runs(&exp).expect("valid");
        assert_eq!(runs.len(), 2 * 4 * 5);
        for (i, run) in runs.iter().enumerate() {
            assert_eq!((run.point, run.fold, run.folds), (i / 5, i % 5, 5));
            assert_eq!(run.experiment, "sweep");
            assert_eq!(run.seed, 42);
            assert_eq!(run.key, run_key(run.seed, &run.config, run.fold));
        }
        assert_eq!(
            params_label(&runs[0].params),
            "architecture=dot-mf embedding_size=8"
        );
        assert_eq!(
            params_label(&runs[39].params),
            "architecture=biased-mf embedding_size=64"
        );
        let mut keys: Vec<&str> = runs.iter().map(|run| run.key.as_str()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), runs.len(), "run keys are distinct");
    }

    #[test]
    fn repeats_run_each_point_with_derived_seeds_and_keep_repeat_0s_keys() {
        let text = HEAD.replace("seed = 3", "seed = 3\nrepeats = 3");
        let text = format!("{text}[sweep]\nmodel.embedding_size = [1, 2]\n");
        let exp = parse_experiment(&text, Path::new("experiments/grid.toml")).expect("valid");
        let single = experiment("[sweep]\nmodel.embedding_size = [1, 2]\n");
        let runs = runs(&exp).expect("valid");
        // 2 points × 3 repeats × 3 folds, fold fastest, then repeat.
        assert_eq!(runs.len(), 18);
        let shape: Vec<(usize, usize, usize, u64)> = runs
            .iter()
            .map(|r| (r.point, r.repeat, r.fold, r.seed))
            .collect();
        assert_eq!(
            &shape[..7],
            &[
                (0, 0, 0, 3),
                (0, 0, 1, 3),
                (0, 0, 2, 3),
                (0, 1, 0, 4),
                (0, 1, 1, 4),
                (0, 1, 2, 4),
                (0, 2, 0, 5),
            ]
        );
        for run in &runs {
            assert_eq!(run.key, run_key(run.seed, &run.config, run.fold));
        }
        // Repeat 0 is the experiment without repeats, key for key.
        let without: Vec<String> = super::runs(&single)
            .expect("valid")
            .into_iter()
            .map(|r| r.key)
            .collect();
        let repeat0: Vec<String> = runs
            .iter()
            .filter(|r| r.repeat == 0)
            .map(|r| r.key.clone())
            .collect();
        assert_eq!(repeat0, without);
        let mut keys: Vec<&str> = runs.iter().map(|r| r.key.as_str()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 18, "every repeat is its own run");
    }

    #[test]
    fn holdout_points_have_one_run() {
        let text = HEAD.replace(
            "kind = \"kfold\"\nk = 3",
            "kind = \"holdout\"\ntest_fraction = 0.1",
        );
        let text = format!("{text}[sweep]\nmodel.embedding_size = [1, 2]\n");
        let holdout = parse_experiment(&text, Path::new("experiments/grid.toml")).expect("valid");
        let runs = runs(&holdout).expect("valid");
        let shape: Vec<(usize, usize, usize)> =
            runs.iter().map(|r| (r.point, r.fold, r.folds)).collect();
        assert_eq!(shape, [(0, 0, 1), (1, 0, 1)]);
    }

    #[test]
    fn an_experiment_of_more_runs_than_the_limit_is_refused_before_expanding() {
        // 2 points × 600,000 folds: 1.2 million runs, each point valid on its own.
        let text = HEAD.replace("k = 3", "k = 600000");
        let text = format!("{text}[sweep]\nmodel.embedding_size = [1, 2]\n");
        let exp = parse_experiment(&text, Path::new("experiments/grid.toml")).expect("valid");
        let err = runs(&exp).expect_err("too many runs").to_string();
        assert!(
            err.contains("split.k") && err.contains("1200000 runs") && err.contains("1000000"),
            "{err}"
        );
    }

    fn fixed_config() -> RunConfig {
        RunConfig {
            data: DataSpec::new(DatasetName::MlLatestSmall),
            split: SplitSpec::Kfold {
                k: 5,
                validation_fraction: 0.0,
            },
            model: ModelSpec::with_defaults(Architecture::BiasedMf, 32),
            training: TrainingSpec::adam(10, 256, 0.005, 0.0),
            metrics: vec![MetricName::Rmse, MetricName::Mae],
            ranking: None,
            save_predictions: false,
        }
    }

    /// Run keys name stored results: if this literal changes, every finished run of every
    /// experiment would look new. Change it only on purpose.
    ///
    /// Reference, outside Rust:
    /// ```text
    /// >>> import hashlib
    /// >>> j = '{"seed":42,"config":{"data":{"dataset":"ml-latest-small","path":null},'
    /// ...     '"split":{"kind":"kfold","k":5,"validation_fraction":0.0},'
    /// ...     '"model":{"architecture":"biased-mf","embedding_size":32},'
    /// ...     '"training":{"epochs":10,"batch_size":256,"optimizer":"adam",'
    /// ...     '"learning_rate":0.005,"loss":"mse","l2":0.0},"metrics":["rmse","mae"]},"fold":0}'
    /// >>> hashlib.sha256(j.encode()).hexdigest()[:16]
    /// '2d36803cfd0d5e94'
    /// ```
    #[test]
    fn run_key_is_pinned() {
        let config = fixed_config();
        assert_eq!(run_key(42, &config, 0), "2d36803cfd0d5e94");
    }

    #[test]
    fn run_keys_differ_by_seed_fold_and_config_but_not_path() {
        let config = fixed_config();
        let key = run_key(42, &config, 0);
        assert_eq!(key.len(), 16);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(key, run_key(42, &config.clone(), 0), "deterministic");
        assert_ne!(key, run_key(42, &config, 1));
        assert_ne!(key, run_key(43, &config, 0));
        let mut other = config.clone();
        other.model.embedding_size = 64;
        assert_ne!(key, run_key(42, &other, 0));
        let mut other = config.clone();
        other.training.learning_rate = 0.0050000001;
        assert_ne!(key, run_key(42, &other, 0));
        let mut moved = config.clone();
        moved.data.path = Some(PathBuf::from("/elsewhere/ml-latest-small"));
        assert_eq!(
            key,
            run_key(42, &moved, 0),
            "data.path is a location, not part of the key"
        );
    }

    #[test]
    fn params_json_keeps_sweep_order() {
        let params = vec![
            ("model.embedding_size".to_string(), toml::Value::Integer(8)),
            (
                "model.architecture".to_string(),
                toml::Value::String("dot-mf".into()),
            ),
            (
                "training.learning_rate".to_string(),
                toml::Value::Float(0.005),
            ),
            (
                "metrics.names".to_string(),
                toml::Value::Array(vec![toml::Value::String("mae".into())]),
            ),
        ];
        assert_eq!(
            params_json(&params),
            r#"{"model.embedding_size":8,"model.architecture":"dot-mf","training.learning_rate":0.005,"metrics.names":["mae"]}"#
        );
        assert_eq!(
            params_label(&params),
            r#"embedding_size=8 architecture=dot-mf learning_rate=0.005 names=["mae"]"#
        );
    }

    #[test]
    fn swept_lists_expand_to_their_configs_and_label_compactly() {
        let exp = experiment(
            r#"
[sweep]
model.architecture = ["ncf", "mlp"]
"model.hidden_layers" = [[10], [10, 10]]
"#,
        );
        let grid = expand(&exp).expect("valid");
        let labels: Vec<String> = grid.iter().map(|p| params_label(&p.params)).collect();
        assert_eq!(
            labels,
            [
                "architecture=ncf hidden_layers=[10]",
                "architecture=ncf hidden_layers=[10,10]",
                "architecture=mlp hidden_layers=[10]",
                "architecture=mlp hidden_layers=[10,10]",
            ]
        );
        let models: Vec<(Architecture, Vec<usize>, Vec<f64>)> = grid
            .iter()
            .map(|p| {
                let m = &p.config.model;
                (m.architecture, m.hidden_layers.clone(), m.dropouts.clone())
            })
            .collect();
        assert_eq!(
            models,
            [
                (Architecture::Ncf, vec![10], vec![0.0]),
                (Architecture::Ncf, vec![10, 10], vec![0.0, 0.0]),
                (Architecture::Mlp, vec![10], vec![0.0]),
                (Architecture::Mlp, vec![10, 10], vec![0.0, 0.0]),
            ]
        );
        assert_eq!(
            params_json(&grid[1].params),
            r#"{"model.architecture":"ncf","model.hidden_layers":[10,10]}"#
        );

        let text = HEAD.replace("\"dot-mf\"", "\"ncf\"")
            + "[sweep]\n\"model.dropouts\" = [[0.5], [0.25]]\n";
        let exp = parse_experiment(&text, Path::new("experiments/grid.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let grid = expand(&exp).expect("valid");
        assert_eq!(params_label(&grid[0].params), "dropouts=[0.5]");
        let dropouts: Vec<Vec<f64>> = grid.into_iter().map(|p| p.config.model.dropouts).collect();
        assert_eq!(dropouts, [[0.5], [0.25]]);
    }

    /// A swept architecture brings its own default hidden layers unless the file writes
    /// them, in which case every architecture gets the written ones (as at load time).
    #[test]
    fn swept_architectures_keep_their_default_layers_unless_written() {
        let default_layers = |head_model: &str| {
            let text = HEAD.replace(
                "architecture = \"dot-mf\"\n",
                &format!("architecture = \"ncf\"\n{head_model}"),
            ) + "[sweep]\nmodel.architecture = [\"ncf\", \"mlp\", \"two-tower\"]\n";
            let exp = parse_experiment(&text, Path::new("experiments/grid.toml"))
                .unwrap_or_else(|e| panic!("{e}"));
            expand(&exp)
                .expect("valid")
                .into_iter()
                .map(|p| p.config.model.hidden_layers)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            default_layers(""),
            [vec![10], vec![128, 32], vec![256, 128, 32]]
        );
        // Written equal to ncf's default: still written, so every point gets it.
        assert_eq!(
            default_layers("hidden_layers = [10]\n"),
            [vec![10], vec![10], vec![10]]
        );
    }

    /// Every optional key written in the file reaches each grid point's configuration,
    /// and a swept value that clashes with a base key is refused when the file loads.
    #[test]
    fn points_carry_every_key_of_the_file() {
        let text = r#"
[experiment]
name = "keys"
[data]
dataset = "ml-100k"
[split]
kind = "kfold"
k = 3
validation_fraction = 0.1
[model]
architecture = "mlp"
embedding_size = 4
user_embedding_size = 3
item_embedding_size = 5
hidden_layers = [6, 2]
dropouts = [0.5, 0.0]
embedding_dropout = 0.2
init = "uniform"
implicit_l2_scale = 0.3
[training]
epochs = 1
batch_size = 32
learning_rate = 0.5
optimizer = "sgd"
momentum = 0.9
loss = "huber"
huber_delta = 0.5
weight_decay = 1e-4
lr_schedule = "exponential"
lr_decay = 0.8
patience = 2
monitor = "mae"
[sweep]
model.init = ["uniform", "he-normal"]
"#;
        let exp = parse_experiment(text, Path::new("experiments/keys.toml")).expect("valid");
        let grid = expand(&exp).expect("valid");
        assert_eq!(
            grid[0].config, exp.base,
            "the first point is the base as written"
        );
        let inits: Vec<Option<InitSpec>> = grid.iter().map(|p| p.config.model.init).collect();
        assert_eq!(
            inits,
            [
                Some(InitSpec::Uniform {
                    limit: config::DEFAULT_INIT_SCALE
                }),
                Some(InitSpec::HeNormal)
            ]
        );
        let t = &grid[1].config.training;
        assert_eq!(
            (t.optimizer, t.momentum, t.loss),
            (OptimizerName::Sgd, 0.9, LossName::Huber)
        );
        assert_eq!(
            t.early_stopping,
            Some(EarlyStopping {
                patience: 2,
                monitor: MetricName::Mae,
            })
        );
        // A momentum point with adam is refused with the file.
        let adam = text.replace(
            "model.init = [\"uniform\", \"he-normal\"]",
            "training.optimizer = [\"adam\"]",
        );
        let err = parse_experiment(&adam, Path::new("experiments/keys.toml"))
            .expect_err("momentum with adam");
        assert!(
            err.to_string().contains(
                "`training.momentum` is only allowed with `training.optimizer = \"sgd\"`"
            ),
            "{err}"
        );
    }

    #[test]
    fn params_label_keeps_full_keys_when_short_ones_clash() {
        let params = vec![
            ("a.size".to_string(), toml::Value::Integer(1)),
            ("b.size".to_string(), toml::Value::Integer(2)),
            ("b.rate".to_string(), toml::Value::Float(0.5)),
        ];
        assert_eq!(params_label(&params), "a.size=1 b.size=2 rate=0.5");
    }

    #[test]
    fn relative_data_paths_resolve_against_the_experiment_file_once() {
        let exp = experiment("[sweep]\nmodel.embedding_size = [1, 2]\n");
        let base_path = Some(PathBuf::from("experiments/data/a"));
        assert_eq!(exp.base.data.path, base_path);
        for point in expand(&exp).expect("valid") {
            assert_eq!(point.config.data.path, base_path, "not joined twice");
        }
        let exp = experiment("[sweep]\ndata.path = [\"data/b\", \"/abs/c\"]\n");
        let paths: Vec<Option<PathBuf>> = expand(&exp)
            .expect("valid")
            .into_iter()
            .map(|point| point.config.data.path)
            .collect();
        assert_eq!(
            paths,
            [
                Some(PathBuf::from("experiments/data/b")),
                Some(PathBuf::from("/abs/c"))
            ]
        );
    }

    /// Points hold the values as read, to the last bit: nothing is printed and read back.
    #[test]
    fn points_keep_awkward_floats_exactly() {
        let text = HEAD
            .replace(
                "learning_rate = 0.5",
                "learning_rate = 0.30000000000000004\nl2 = 1e-20",
            )
            .replace(
                "kind = \"kfold\"\nk = 3",
                "kind = \"holdout\"\ntest_fraction = 0.3333333333333333",
            );
        let exp = parse_experiment(&text, Path::new("experiments/grid.toml")).expect("valid");
        let grid = expand(&exp).expect("valid");
        assert_eq!(grid[0].config.training.learning_rate, 0.1 + 0.2);
        assert_eq!(grid[0].config.training.l2, 1e-20);
        assert_eq!(grid[0].config, exp.base);
    }

    /// The grid hands out the configurations validated with the file; an experiment whose
    /// sweep was changed afterwards no longer matches them and is refused, not trained.
    #[test]
    fn a_sweep_changed_after_loading_is_refused() {
        let mut exp = experiment("");
        exp.sweep = vec![SweepAxis {
            key: "model.embedding_size".into(),
            values: vec![toml::Value::Integer(8), toml::Value::Integer(0)],
        }];
        let err = expand(&exp).expect_err("2 points, 1 configuration");
        assert!(
            err.to_string()
                .contains("the sweep has 2 grid point(s) but 1 configuration(s) were validated"),
            "{err}"
        );
        exp.sweep = vec![SweepAxis {
            key: "model.embedding_size".into(),
            values: vec![],
        }];
        assert!(
            expand(&exp)
                .expect_err("empty")
                .to_string()
                .contains("lists no values")
        );
    }

    /// Every experiment file under `experiments/`, sorted.
    fn experiment_files() -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("read experiments/") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "toml")
                    && !path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(std::path::Path::new("experiments"), &mut files);
        files.sort();
        files
    }

    /// The run keys of every file in `experiments/` are those pinned in
    /// `tests/fixtures/run-keys.txt` (one `file key` line per run, in run order): a change
    /// to how grid points are built must not make a finished run look new. After a
    /// deliberate change to an experiment file, rewrite the list with
    /// `EXP_PIN_RUN_KEYS=1 cargo test --release --lib run_keys_of_every_experiment_file`.
    #[test]
    fn run_keys_of_every_experiment_file_are_pinned() {
        let mut lines = String::new();
        for file in experiment_files() {
            let exp = crate::config::load_experiment(&file).expect("a valid experiment file");
            for run in runs(&exp).expect("runs") {
                lines.push_str(&format!("{} {}\n", file.display(), run.key));
            }
        }
        let pinned = std::path::Path::new("tests/fixtures/run-keys.txt");
        if std::env::var_os("EXP_PIN_RUN_KEYS").is_some() {
            std::fs::write(pinned, &lines).expect("write the pinned keys");
        }
        let expected = std::fs::read_to_string(pinned).expect("tests/fixtures/run-keys.txt");
        assert!(
            lines.lines().count() > 100,
            "the experiment files have runs"
        );
        assert_eq!(lines, expected, "run keys changed");
    }
}
