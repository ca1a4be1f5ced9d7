//! The validated experiment: what every later stage (sweep, data, training, store) reads.
//!
//! Nothing here is constructed from user input directly: the raw serde layer in
//! `config::raw` parses the TOML, and `config::validate` turns it into these types,
//! rejecting invalid values with the file, line and key. Once a value has one of these
//! types it is known to be valid.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One experiment file, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// `experiment.name`: groups runs in the database and names `results/<name>/`.
    pub name: String,
    /// `experiment.seed`: seeds splits, initialisation and shuffling of every run.
    pub seed: u64,
    /// `experiment.repeats`: how many times each configuration and fold runs, each time
    /// with its own seed ([`Experiment::repeat_seed`]); at least 1.
    pub repeats: usize,
    /// The file the experiment was read from, as given on the command line.
    pub source_path: PathBuf,
    /// The file's text, stored with the experiment so a database is self-describing.
    pub source_text: String,
    /// The configuration before any sweep value is applied.
    pub base: RunConfig,
    /// The swept keys in file order; the grid is their cross product.
    pub sweep: Vec<SweepAxis>,
    /// The configuration of every grid point, validated when the file was read, in grid
    /// order (first sweep key slowest); the base alone without a sweep.
    pub points: Vec<RunConfig>,
    /// `experiment.devices`: where the sweep may train, in the order written; empty when
    /// the file does not say (the command line or the default decides).
    pub devices: Vec<DeviceSpec>,
    /// `[search]`: how trials are drawn and pruned; `None` for a plain grid.
    pub search: Option<crate::search::spec::SearchSpec>,
    /// The `--set` arguments the experiment was loaded with: a search applies them, then
    /// a trial's values, to build each trial's configuration.
    pub overrides: Vec<String>,
}

impl Experiment {
    /// The seed of repeat `repeat` (0-based): the experiment's seed for repeat 0, so an
    /// experiment's run keys do not change when repeats are added, and `seed + repeat`
    /// (wrapping) after that. Every random stream of a run (split, initialisation,
    /// shuffling) is drawn from its seed, so repeat r of an experiment is the same run as
    /// repeat 0 of the experiment with `seed + r`, and has the same run key.
    pub fn repeat_seed(&self, repeat: usize) -> u64 {
        repeat_seed(self.seed, repeat)
    }
}

/// See [`Experiment::repeat_seed`].
pub fn repeat_seed(seed: u64, repeat: usize) -> u64 {
    seed.wrapping_add(repeat as u64)
}

/// A device a sweep may train on, as written in `experiment.devices` or `--devices`:
/// `cpu` (as many parallel runs as cores), `cpu:N` (N parallel runs, one compute thread
/// each), `cuda` (GPU 0) or `cuda:I` (GPU I, one run at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// The CPU, with `workers` parallel runs (`None`: one per core).
    Cpu {
        /// Parallel runs, at least 1.
        workers: Option<usize>,
    },
    /// One CUDA GPU by index.
    Cuda {
        /// The GPU's index (CUDA ordinal).
        ordinal: usize,
    },
}

/// What a device string must look like, for error messages.
pub const DEVICE_FORMAT: &str =
    "`cpu`, `cpu:N` (N >= 1 parallel runs) or `cuda:I` (I the GPU index, e.g. `cuda:0`)";

/// Why a device string is not a [`DeviceSpec`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{found}` is not a device; expected {DEVICE_FORMAT}")]
pub struct DeviceSpecError {
    /// The string as written.
    pub found: String,
}

impl std::str::FromStr for DeviceSpec {
    type Err = DeviceSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || DeviceSpecError {
            found: text.to_string(),
        };
        let (kind, number) = match text.trim().split_once(':') {
            Some((kind, number)) => (kind, Some(number.parse::<usize>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        match (kind, number) {
            ("cpu", None) => Ok(DeviceSpec::Cpu { workers: None }),
            ("cpu", Some(n)) if n >= 1 => Ok(DeviceSpec::Cpu { workers: Some(n) }),
            ("cuda", n) => Ok(DeviceSpec::Cuda {
                ordinal: n.unwrap_or(0),
            }),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu { workers: None } => write!(f, "cpu"),
            DeviceSpec::Cpu { workers: Some(n) } => write!(f, "cpu:{n}"),
            DeviceSpec::Cuda { ordinal } => write!(f, "cuda:{ordinal}"),
        }
    }
}

impl DeviceSpec {
    /// The kind of device, for matching against a run's `training.device`.
    pub fn kind(self) -> DeviceKind {
        match self {
            DeviceSpec::Cpu { .. } => DeviceKind::Cpu,
            DeviceSpec::Cuda { .. } => DeviceKind::Cuda,
        }
    }

    /// Whether `self` and `other` name the same device (`cpu:2` and `cpu` do).
    pub fn same_device(self, other: DeviceSpec) -> bool {
        match (self, other) {
            (DeviceSpec::Cpu { .. }, DeviceSpec::Cpu { .. }) => true,
            (DeviceSpec::Cuda { ordinal: a }, DeviceSpec::Cuda { ordinal: b }) => a == b,
            _ => false,
        }
    }
}

/// Kinds of device, as a run may pin them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// The CPU.
    Cpu,
    /// A CUDA GPU.
    Cuda,
}

impl DeviceKind {
    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
    }
}

/// `training.device`: which kind of device a run must train on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DevicePin {
    /// Whichever worker is free (the default).
    #[default]
    Any,
    /// Only a CPU worker.
    Cpu,
    /// Only a CUDA worker.
    Cuda,
}

impl DevicePin {
    /// Every value, in documentation order.
    pub const ALL: [DevicePin; 3] = [DevicePin::Any, DevicePin::Cpu, DevicePin::Cuda];

    /// The name as written in `training.device`.
    pub fn as_str(self) -> &'static str {
        match self {
            DevicePin::Any => "any",
            DevicePin::Cpu => "cpu",
            DevicePin::Cuda => "cuda",
        }
    }

    /// Whether a worker on a device of `kind` may train the run.
    pub fn allows(self, kind: DeviceKind) -> bool {
        matches!(
            (self, kind),
            (DevicePin::Any, _)
                | (DevicePin::Cpu, DeviceKind::Cpu)
                | (DevicePin::Cuda, DeviceKind::Cuda)
        )
    }

    fn is_any(&self) -> bool {
        *self == DevicePin::Any
    }
}

/// `training.engine`: how a training step is computed (see `engine`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineChoice {
    /// Fused on the CPU, graph on any other device (the default).
    #[default]
    Auto,
    /// exp's fused CPU kernels: the fast path; CPU only.
    Fused,
    /// candle tensor ops and candle autograd: runs on every device candle supports.
    Graph,
}

impl EngineChoice {
    /// Every value, in documentation order.
    pub const ALL: [EngineChoice; 3] =
        [EngineChoice::Auto, EngineChoice::Fused, EngineChoice::Graph];

    /// The name as written in `training.engine`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineChoice::Auto => "auto",
            EngineChoice::Fused => "fused",
            EngineChoice::Graph => "graph",
        }
    }

    fn is_auto(&self) -> bool {
        *self == EngineChoice::Auto
    }
}

/// `training.order`: how the batch loop orders an epoch's ratings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BatchOrder {
    /// Every rating shuffled as a whole every epoch (the default).
    #[default]
    Shuffled,
    /// Users in a shuffled order, each user's ratings (shuffled) together, cut into
    /// batches: a batch then holds few users. For SVD++, whose batch costs
    /// `Σ |N(u)|·k` over its distinct users, on data sets with heavy users.
    ByUser,
    /// Items in a shuffled order, each item's ratings (shuffled) together: a batch holds
    /// few items. The item autoencoder's default, whose batch reads each distinct item's
    /// whole rating vector.
    ByItem,
}

impl BatchOrder {
    /// Every value, in documentation order.
    pub const ALL: [BatchOrder; 3] = [BatchOrder::Shuffled, BatchOrder::ByUser, BatchOrder::ByItem];

    /// The name as written in `training.order`.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchOrder::Shuffled => "shuffled",
            BatchOrder::ByUser => "by-user",
            BatchOrder::ByItem => "by-item",
        }
    }

    fn is_shuffled(&self) -> bool {
        *self == BatchOrder::Shuffled
    }
}

/// `training.checkpoint`: whether a finished run's weights are saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointPolicy {
    /// Save nothing (the default): `exp recommend` and `exp similar` retrain such a run
    /// from its stored configuration and seed when asked, which reproduces its weights.
    #[default]
    None,
    /// Save the reported epoch's weights as `<experiment>/checkpoints/<run key>.safetensors`
    /// beside the database: worth it when a run trains for long and is queried often.
    Best,
}

impl CheckpointPolicy {
    /// Every value, in documentation order.
    pub const ALL: [CheckpointPolicy; 2] = [CheckpointPolicy::None, CheckpointPolicy::Best];

    /// The name as written in `training.checkpoint`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointPolicy::None => "none",
            CheckpointPolicy::Best => "best",
        }
    }
}

/// One swept key and its values, e.g. `model.embedding_size = [8, 16, 32]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepAxis {
    /// Dotted path of the key in the experiment file, e.g. `model.embedding_size`.
    pub key: String,
    /// The values in the order written; never empty.
    pub values: Vec<toml::Value>,
}

/// The fully resolved configuration of one grid point (the fold is not part of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Which ratings to load.
    pub data: DataSpec,
    /// How ratings are divided into train, validation and test.
    pub split: SplitSpec,
    /// The model to train.
    pub model: ModelSpec,
    /// How to train it.
    pub training: TrainingSpec,
    /// The rating metrics of `metrics.names`, in the order written (RMSE and MAE are
    /// stored for every run regardless).
    pub metrics: Vec<MetricName>,
    /// The ranking metrics of `metrics.names` (e.g. `ndcg@10`) with the relevance
    /// threshold; `None` when none is asked for. Left out of the serialised configuration
    /// when `None`, so runs that ask for no ranking metric keep their run keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingSpec>,
    /// `metrics.save_predictions`: store the run's test predictions for the per-rating
    /// tests and `exp export`; default false. It decides what is stored, not what is
    /// trained, so it is never part of the run key (nor of the stored configuration) and
    /// cannot be swept.
    #[serde(skip)]
    pub save_predictions: bool,
}

/// `[data]`: the data set, where its files are, and which ratings to keep.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DataSpec {
    /// `data.dataset`.
    pub dataset: DatasetName,
    /// `data.path`: directory holding the data set's files (for Amazon also the reviews
    /// file itself); `None` means the embedded copy (ml-latest-small),
    /// `$EXP_DATA_DIR/<dataset>` or the download cache.
    pub path: Option<PathBuf>,
    /// The `data.*` filters; all off by default. Flattened and left out of the serialised
    /// form while off, so run keys of experiments without filters do not change.
    #[serde(default, flatten)]
    pub filters: FilterSpec,
    /// `data.on_bad_line`: stop at a malformed line (default) or skip and count it.
    #[serde(default, skip_serializing_if = "BadLinePolicy::is_error")]
    pub on_bad_line: BadLinePolicy,
}

impl DataSpec {
    /// `dataset` read from its default place, with no filter and strict parsing.
    pub fn new(dataset: DatasetName) -> Self {
        DataSpec {
            dataset,
            path: None,
            filters: FilterSpec::default(),
            on_bad_line: BadLinePolicy::Error,
        }
    }
}

/// Which ratings to keep after reading (the `[data]` filter keys). Applied in the order
/// of the fields: year, verified, then the per-user/per-item minimums, then the k-core.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FilterSpec {
    /// `data.min_year`: keep ratings made in this calendar year (UTC) or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_year: Option<i32>,
    /// `data.max_year`: keep ratings made in this calendar year (UTC) or earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_year: Option<i32>,
    /// `data.verified_only`: Amazon only, keep reviews marked `verified`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified_only: bool,
    /// `data.min_user_ratings`: drop users with fewer ratings (counted once, after the
    /// year and verified filters, together with `min_item_ratings`); 0 or 1 = off.
    #[serde(default, skip_serializing_if = "is_at_most_one")]
    pub min_user_ratings: usize,
    /// `data.min_item_ratings`: drop items with fewer ratings (see `min_user_ratings`).
    #[serde(default, skip_serializing_if = "is_at_most_one")]
    pub min_item_ratings: usize,
    /// `data.k_core`: then drop users and items with fewer than k ratings, repeatedly,
    /// until every remaining user and item has at least k; `None` = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k_core: Option<usize>,
}

fn is_at_most_one(n: &usize) -> bool {
    *n <= 1
}

impl FilterSpec {
    /// True when no filter is set (loading keeps every rating).
    pub fn is_off(&self) -> bool {
        self.min_year.is_none()
            && self.max_year.is_none()
            && !self.verified_only
            && self.min_user_ratings <= 1
            && self.min_item_ratings <= 1
            && self.k_core.is_none_or(|k| k <= 1)
    }
}

/// What loading does with a malformed line (`data.on_bad_line`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadLinePolicy {
    /// Stop with the file, line and what was wrong (the default).
    #[default]
    Error,
    /// Skip the line, count it, and report the count and the first line numbers.
    Skip,
}

impl BadLinePolicy {
    /// Both policies, in documentation order.
    pub const ALL: [BadLinePolicy; 2] = [BadLinePolicy::Error, BadLinePolicy::Skip];

    /// The name as written in `data.on_bad_line`.
    pub fn as_str(self) -> &'static str {
        match self {
            BadLinePolicy::Error => "error",
            BadLinePolicy::Skip => "skip",
        }
    }

    fn is_error(&self) -> bool {
        *self == BadLinePolicy::Error
    }
}

/// The data sets exp can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// MovieLens 100K (u.data, u.item).
    #[serde(rename = "ml-100k")]
    Ml100k,
    /// MovieLens 1M (ratings.dat, movies.dat).
    #[serde(rename = "ml-1m")]
    Ml1m,
    /// MovieLens latest-small, 2018 (ratings.csv, movies.csv); embedded in the binary.
    MlLatestSmall,
    /// Amazon reviews, Movies & TV (2018 or 2014 JSON lines, or the ratings-only CSV).
    AmazonMoviesTv,
}

impl DatasetName {
    /// Every data set, in documentation order.
    pub const ALL: [DatasetName; 4] = [
        DatasetName::Ml100k,
        DatasetName::Ml1m,
        DatasetName::MlLatestSmall,
        DatasetName::AmazonMoviesTv,
    ];

    /// The name as written in experiment files and directory names.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Ml100k => "ml-100k",
            DatasetName::Ml1m => "ml-1m",
            DatasetName::MlLatestSmall => "ml-latest-small",
            DatasetName::AmazonMoviesTv => "amazon-movies-tv",
        }
    }

    /// One line for `exp list datasets`: size and what it holds.
    pub fn description(self) -> &'static str {
        match self {
            DatasetName::Ml100k => {
                "MovieLens 100K: 100,000 ratings (1-5) of 1,682 movies by 943 users"
            }
            DatasetName::Ml1m => {
                "MovieLens 1M: 1,000,209 ratings (1-5) of 3,706 movies by 6,040 users"
            }
            DatasetName::MlLatestSmall => {
                "MovieLens latest-small (2018): 100,836 ratings (0.5-5) of 9,742 movies by 610 users"
            }
            DatasetName::AmazonMoviesTv => {
                "Amazon reviews, Movies & TV (2018 or 2014 JSON lines, or the ratings-only CSV)"
            }
        }
    }
}

/// `[split]`: how the ratings are divided into training, validation and test sets. The
/// random kinds (holdout, k-fold, user-holdout, and validation sets everywhere but in
/// `temporal`) are seeded by `experiment.seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SplitSpec {
    /// One random split: `test_fraction` of the ratings are the test set.
    Holdout {
        /// In (0, 1).
        test_fraction: f64,
        /// Fraction of the *training* part held out for validation, in [0, 1); 0 = none.
        validation_fraction: f64,
    },
    /// k folds; fold f's test set is the f-th part, every rating is in exactly one test set.
    Kfold {
        /// At least 2.
        k: usize,
        /// As for holdout.
        validation_fraction: f64,
    },
    /// Folds given by files in the data set's own format (ML-100K's `u1.base`/`u1.test`
    /// …, or any train/test pairs): fold f trains on pair f's training file and is scored
    /// on its test file. Validation is a seeded random part of the training file.
    Predefined {
        /// The pairs, one per fold, as written (relative paths are read from the data
        /// set's folder). `split.folds = "u1-u5"` is written here as its five pairs.
        files: Vec<FoldFiles>,
        /// As for holdout.
        validation_fraction: f64,
    },
    /// A split in time: the latest ratings are the test set, so no model trains on the
    /// future of what it is scored on. Validation is the latest part of the training set,
    /// cut the same way (globally, or per user).
    Temporal {
        /// Where the test set starts.
        cut: TemporalCut,
        /// As for holdout, but the latest of the training part, not a random part.
        validation_fraction: f64,
    },
    /// A stratified random holdout: `test_fraction` of each user's ratings.
    UserHoldout {
        /// In (0, 1).
        test_fraction: f64,
        /// As for holdout, also taken per user.
        validation_fraction: f64,
    },
}

/// One fold of a `predefined` split: its training and test file, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldFiles {
    /// The training file.
    pub train: String,
    /// The test file.
    pub test: String,
}

/// Where a `temporal` split puts its test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cut", rename_all = "kebab-case")]
pub enum TemporalCut {
    /// The latest `test_fraction` of all ratings.
    Latest {
        /// In (0, 1).
        test_fraction: f64,
    },
    /// Every rating made on or after `before` (midnight UTC).
    Before {
        /// The date as written, `YYYY-MM-DD`.
        before: String,
        /// Its midnight UTC in Unix seconds.
        at: i64,
    },
    /// Each user's last `leave_last` ratings.
    UserLast {
        /// At least 1.
        leave_last: usize,
    },
    /// The latest `test_fraction` of each user's ratings.
    UserLatest {
        /// In (0, 1).
        test_fraction: f64,
    },
}

/// Midnight UTC of the date `YYYY-MM-DD` in Unix seconds (proleptic Gregorian calendar),
/// or `None` when `text` is not such a date. For `split.before`.
pub fn utc_midnight(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return None;
    }
    // Days from 1970-01-01 (Howard Hinnant's `days_from_civil`).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

impl SplitSpec {
    /// The kind as written in `split.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            SplitSpec::Holdout { .. } => "holdout",
            SplitSpec::Kfold { .. } => "kfold",
            SplitSpec::Predefined { .. } => "predefined",
            SplitSpec::Temporal { .. } => "temporal",
            SplitSpec::UserHoldout { .. } => "user-holdout",
        }
    }

    /// How many runs one grid point becomes: k for k-fold, one per file pair for
    /// predefined, 1 otherwise.
    pub fn folds(&self) -> usize {
        match self {
            SplitSpec::Kfold { k, .. } => *k,
            SplitSpec::Predefined { files, .. } => files.len(),
            SplitSpec::Holdout { .. }
            | SplitSpec::Temporal { .. }
            | SplitSpec::UserHoldout { .. } => 1,
        }
    }

    /// The fraction of the training part held out for validation.
    pub fn validation_fraction(&self) -> f64 {
        match self {
            SplitSpec::Holdout {
                validation_fraction,
                ..
            }
            | SplitSpec::Kfold {
                validation_fraction,
                ..
            }
            | SplitSpec::Predefined {
                validation_fraction,
                ..
            }
            | SplitSpec::Temporal {
                validation_fraction,
                ..
            }
            | SplitSpec::UserHoldout {
                validation_fraction,
                ..
            } => *validation_fraction,
        }
    }
}

/// `[model]`: the architecture and its sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// `model.architecture`.
    pub architecture: Architecture,
    /// `model.embedding_size`: factors per user and per item, at least 1.
    pub embedding_size: usize,
    /// `model.user_embedding_size`: the user table's width where an architecture lets the
    /// two sides differ (MLP); `None` means `embedding_size` (see [`ModelSpec::user_size`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_embedding_size: Option<usize>,
    /// `model.item_embedding_size`: as `user_embedding_size`, for items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_embedding_size: Option<usize>,
    /// `model.hidden_layers`: widths of the dense hidden layers (NCF, MLP, and each tower of
    /// the two-tower model), input side first; each at least 1. Defaults per architecture:
    /// NCF `[10]`, MLP `[128, 32]`, two-tower `[256, 128, 32]`, others `[]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_layers: Vec<usize>,
    /// `model.dropouts`: dropout rate after each hidden layer, in [0, 1), one per hidden
    /// layer; defaults to 0 for each. Active only while training.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropouts: Vec<f64>,
    /// `model.embedding_dropout`: dropout rate on the concatenated embeddings (NCF, MLP),
    /// in [0, 1); default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub embedding_dropout: f64,
    /// `model.init` with `model.init_scale`: how embeddings and dense weights start;
    /// `None` means the architecture's own default (documented per architecture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<InitSpec>,
    /// `model.implicit_l2_scale`: the L2 penalty on SVD++'s implicit-feedback rows as a
    /// multiple of `training.l2`, at least 0; default 0.5 (the best of 0.2, 0.3 and 0.5 in
    /// `experiments/ml100k-tuned-svdpp.toml`). Those rows are read by nearly every batch,
    /// so the full per-step penalty would hold them near zero.
    #[serde(
        default = "default_implicit_l2_scale",
        skip_serializing_if = "is_default_implicit_l2_scale"
    )]
    pub implicit_l2_scale: f64,
}

/// `model.implicit_l2_scale` when absent.
pub const DEFAULT_IMPLICIT_L2_SCALE: f64 = 0.5;

fn default_implicit_l2_scale() -> f64 {
    DEFAULT_IMPLICIT_L2_SCALE
}

fn is_default_implicit_l2_scale(x: &f64) -> bool {
    *x == DEFAULT_IMPLICIT_L2_SCALE
}

// Optional keys left at their defaults are not serialised, so adding a key to exp does
// not change the run keys (hashes of the serialised configuration) of existing runs.
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

impl ModelSpec {
    /// `architecture` with `embedding_size` factors and every other key at its default.
    pub fn with_defaults(architecture: Architecture, embedding_size: usize) -> Self {
        let hidden_layers = architecture.default_hidden_layers();
        ModelSpec {
            architecture,
            embedding_size,
            user_embedding_size: None,
            item_embedding_size: None,
            dropouts: vec![0.0; hidden_layers.len()],
            hidden_layers,
            embedding_dropout: 0.0,
            init: None,
            implicit_l2_scale: DEFAULT_IMPLICIT_L2_SCALE,
        }
    }
}

impl ModelSpec {
    /// Width of the user embedding.
    pub fn user_size(&self) -> usize {
        self.user_embedding_size.unwrap_or(self.embedding_size)
    }

    /// Width of the item embedding.
    pub fn item_size(&self) -> usize {
        self.item_embedding_size.unwrap_or(self.embedding_size)
    }
}

/// Parameter initialisers a model can be asked to use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InitSpec {
    /// Normal(0, √(2 / fan_in)) — Keras's `he_normal`, the notebooks' choice.
    HeNormal,
    /// Normal(0, `std`); `model.init_scale` is the standard deviation (> 0, default 0.05).
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// Uniform(−`limit`, `limit`); `model.init_scale` is the limit (> 0, default 0.05),
    /// Keras's default embedding initialiser.
    Uniform {
        /// Half-width of the interval.
        limit: f64,
    },
}

impl InitSpec {
    /// The name as written in `model.init`.
    pub fn as_str(self) -> &'static str {
        match self {
            InitSpec::HeNormal => "he-normal",
            InitSpec::Normal { .. } => "normal",
            InitSpec::Uniform { .. } => "uniform",
        }
    }
}

/// The model architectures exp can train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Dot product of user and item embeddings.
    DotMf,
    /// Dot product plus user and item biases, through a sigmoid scaled to the rating range.
    BiasedMf,
    /// Neural collaborative filtering: concat(user, item embeddings) → dropout → dense
    /// hidden layers → dense(1) → sigmoid scaled to the rating range.
    Ncf,
    /// concat(item, user embeddings) → dense ReLU layers (default 128, 32) → dense(1),
    /// linear output.
    Mlp,
    /// Content model: an item tower on genres/year/average rating and a user tower on the
    /// user's average rating per genre, L2-normalised outputs, dot product.
    TwoTower,
    /// Funk-style biased SVD: `μ + b_u + b_i + u·v`, trained by SGD (a classical baseline).
    FunkSvd,
    /// SVD++: biased MF whose user is also the normalised sum of implicit factors of the
    /// items they rated in training, through the scaled sigmoid.
    #[serde(rename = "svdpp")]
    SvdPp,
    /// Predicts the training mean for everything (the baseline every model must beat).
    GlobalMean,
    /// `μ + b_u + b_i` with regularised biases fitted in closed form (a classical baseline).
    Biases,
    /// Generalised MF (the NCF paper's GMF): element-wise product of user and item
    /// embeddings → dense(1) → sigmoid scaled to the rating range.
    Gmf,
    /// I-AutoRec (Sedhain et al. 2015): an item's training ratings over all users →
    /// sigmoid code of `embedding_size` units → one output per user, linear.
    #[serde(rename = "autorec")]
    AutoRec,
}

impl Architecture {
    /// Every architecture, in documentation order.
    pub const ALL: [Architecture; 11] = [
        Architecture::DotMf,
        Architecture::BiasedMf,
        Architecture::Ncf,
        Architecture::Mlp,
        Architecture::TwoTower,
        Architecture::FunkSvd,
        Architecture::SvdPp,
        Architecture::GlobalMean,
        Architecture::Biases,
        Architecture::Gmf,
        Architecture::AutoRec,
    ];

    /// The name as written in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::DotMf => "dot-mf",
            Architecture::BiasedMf => "biased-mf",
            Architecture::Ncf => "ncf",
            Architecture::Mlp => "mlp",
            Architecture::TwoTower => "two-tower",
            Architecture::FunkSvd => "funk-svd",
            Architecture::SvdPp => "svdpp",
            Architecture::GlobalMean => "global-mean",
            Architecture::Biases => "biases",
            Architecture::Gmf => "gmf",
            Architecture::AutoRec => "autorec",
        }
    }

    /// One line for `exp list models`: what it computes and where it comes from.
    pub fn description(self) -> &'static str {
        match self {
            Architecture::DotMf => "dot product of user and item embeddings (plain MF)",
            Architecture::BiasedMf => {
                "dot product + user and item biases through a sigmoid scaled to the rating range"
            }
            Architecture::Ncf => {
                "neural collaborative filtering: concatenated embeddings → dense layers → scaled sigmoid"
            }
            Architecture::Mlp => {
                "concatenated embeddings → dense ReLU layers (128, 32) → linear output"
            }
            Architecture::TwoTower => {
                "content model: item tower on genres/year/mean rating, user tower on genre tastes; finds similar items"
            }
            Architecture::FunkSvd => "Funk-style biased SVD μ + b_u + b_i + u·v, trained by SGD",
            Architecture::SvdPp => {
                "SVD++: biased MF plus implicit factors of the items a user rated"
            }
            Architecture::GlobalMean => "the training mean for everything (the baseline to beat)",
            Architecture::Biases => "μ + b_u + b_i fitted in closed form (a classical baseline)",
            Architecture::Gmf => {
                "generalised MF (NCF paper): element-wise product → dense(1) → scaled sigmoid"
            }
            Architecture::AutoRec => {
                "I-AutoRec: an item's ratings by every user → sigmoid code → one output per user"
            }
        }
    }

    /// The default of `model.hidden_layers` for this architecture.
    pub fn default_hidden_layers(self) -> Vec<usize> {
        match self {
            Architecture::Ncf => vec![10],
            Architecture::Mlp => vec![128, 32],
            Architecture::TwoTower => vec![256, 128, 32],
            _ => Vec::new(),
        }
    }

    /// The default of `training.order`: by item for the item autoencoder (a batch reads
    /// each distinct item's whole rating vector), shuffled for the rest.
    pub fn default_batch_order(self) -> BatchOrder {
        match self {
            Architecture::AutoRec => BatchOrder::ByItem,
            _ => BatchOrder::Shuffled,
        }
    }

    /// True for the baselines fitted in closed form rather than trained by epochs.
    pub fn is_closed_form(self) -> bool {
        matches!(self, Architecture::GlobalMean | Architecture::Biases)
    }
}

/// `[training]`: the optimisation loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpec {
    /// At least 1.
    pub epochs: usize,
    /// Ratings per minibatch, at least 1.
    pub batch_size: usize,
    /// `training.optimizer`.
    pub optimizer: OptimizerName,
    /// Greater than 0.
    pub learning_rate: f64,
    /// `training.loss`.
    pub loss: LossName,
    /// L2 penalty on the embedding rows a batch touches, at least 0.
    pub l2: f64,
    /// `training.weight_decay`: L2 penalty on dense-layer weights (added to their gradient
    /// as `weight_decay · w`), at least 0; default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_decay: f64,
    /// `training.momentum`: SGD momentum in [0, 1); default 0. Only for `sgd`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub momentum: f64,
    /// `training.huber_delta`: where the Huber loss turns from quadratic to linear, > 0;
    /// default 1. Only for `huber`.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub huber_delta: f64,
    /// `training.lr_schedule`: how the learning rate changes from epoch to epoch; default
    /// constant. See `train::schedule`.
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    /// `training.lr_decay`: the per-epoch factor of the exponential schedule, in (0, 1];
    /// default 0.95. Only for `exponential`.
    #[serde(
        default = "default_lr_decay",
        skip_serializing_if = "is_default_lr_decay"
    )]
    pub lr_decay: f64,
    /// `training.patience` and `training.monitor`: stop when the validation metric has not
    /// improved for `patience` epochs and restore the best epoch's weights. Needs
    /// `split.validation_fraction` > 0. `None`: train all epochs, report the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// `training.device`: the kind of device the run must train on; default any.
    #[serde(default, skip_serializing_if = "DevicePin::is_any")]
    pub device: DevicePin,
    /// `training.engine`: how a step is computed, exp's fused CPU kernels or candle's
    /// graph; default `auto` (fused on the CPU, graph elsewhere). Left out of the run key
    /// when `auto`, so files without the key keep their keys.
    #[serde(default, skip_serializing_if = "EngineChoice::is_auto")]
    pub engine: EngineChoice,
    /// `training.threads`: threads one run's per-rating SGD trains on, at least 1;
    /// default 1. Only on the per-rating path (see `engine::per_rating`); the scheduler
    /// counts them against the cores. Left out of the run key when 1.
    #[serde(default = "one_thread", skip_serializing_if = "is_one_thread")]
    pub threads: usize,
    /// `training.order`: the batch loop's order of an epoch's ratings; default
    /// `shuffled`. The per-rating path orders as its model needs and ignores it. Left out
    /// of the run key when `shuffled`.
    #[serde(default, skip_serializing_if = "BatchOrder::is_shuffled")]
    pub order: BatchOrder,
    /// `training.checkpoint`: save the run's weights or not; default `none`. It decides
    /// what is stored, not what is trained, so it is never part of the run key (nor of
    /// the stored configuration) and cannot be swept.
    #[serde(skip)]
    pub checkpoint: CheckpointPolicy,
}

fn one() -> f64 {
    1.0
}

fn one_thread() -> usize {
    1
}

fn is_one_thread(n: &usize) -> bool {
    *n == 1
}

/// The exponential schedule's per-epoch factor when `training.lr_decay` is absent.
pub const DEFAULT_LR_DECAY: f64 = 0.95;

fn default_lr_decay() -> f64 {
    DEFAULT_LR_DECAY
}

fn is_default_lr_decay(x: &f64) -> bool {
    *x == DEFAULT_LR_DECAY
}

impl TrainingSpec {
    /// MSE training with Adam and every optional key at its default.
    pub fn adam(epochs: usize, batch_size: usize, learning_rate: f64, l2: f64) -> Self {
        TrainingSpec {
            epochs,
            batch_size,
            optimizer: OptimizerName::Adam,
            learning_rate,
            loss: LossName::Mse,
            l2,
            weight_decay: 0.0,
            momentum: 0.0,
            huber_delta: 1.0,
            lr_schedule: LrSchedule::Constant,
            lr_decay: DEFAULT_LR_DECAY,
            early_stopping: None,
            device: DevicePin::Any,
            engine: EngineChoice::Auto,
            threads: 1,
            order: BatchOrder::Shuffled,
            checkpoint: CheckpointPolicy::None,
        }
    }

    /// The kind of device the run may train on: `training.device`, narrowed to the CPU
    /// when `training.engine = "fused"` (exp's fused kernels are CPU code).
    pub fn device_pin(&self) -> DevicePin {
        match (self.engine, self.device) {
            (EngineChoice::Fused, DevicePin::Any) => DevicePin::Cpu,
            (_, pin) => pin,
        }
    }
}

/// Early stopping on the validation split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// `training.patience`: epochs without improvement before stopping, at least 1.
    pub patience: usize,
    /// `training.monitor`: the validation metric watched (lower is better); default rmse.
    pub monitor: MetricName,
}

/// Optimisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    /// Adam (Kingma & Ba), with lazy (touched-rows-only) updates for embedding tables.
    Adam,
    /// AdaMax (Adam with the infinity norm), lazy for embedding tables.
    Adamax,
    /// Stochastic gradient descent with optional momentum, lazy for embedding tables.
    Sgd,
}

impl OptimizerName {
    /// Every optimiser, in documentation order.
    pub const ALL: [OptimizerName; 3] = [
        OptimizerName::Adam,
        OptimizerName::Adamax,
        OptimizerName::Sgd,
    ];

    /// The name as written in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizerName::Adam => "adam",
            OptimizerName::Adamax => "adamax",
            OptimizerName::Sgd => "sgd",
        }
    }

    /// One line for `exp list optimizers`.
    pub fn description(self) -> &'static str {
        match self {
            OptimizerName::Adam => {
                "Adam (Kingma & Ba); embedding rows updated lazily, only where a batch reads"
            }
            OptimizerName::Adamax => "AdaMax, Adam with the infinity norm; lazy for embedding rows",
            OptimizerName::Sgd => {
                "stochastic gradient descent with optional training.momentum; lazy for embedding rows"
            }
        }
    }
}

/// Learning-rate schedules, applied once per epoch (as PyTorch's epoch-stepped schedulers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `training.learning_rate` in every epoch.
    #[default]
    Constant,
    /// Cosine annealing from `learning_rate` towards 0 over `training.epochs`.
    Cosine,
    /// `learning_rate · lr_decayᵉ⁻¹` in epoch e.
    Exponential,
}

impl LrSchedule {
    /// Every schedule, in documentation order.
    pub const ALL: [LrSchedule; 3] = [
        LrSchedule::Constant,
        LrSchedule::Cosine,
        LrSchedule::Exponential,
    ];

    /// The name as written in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Cosine => "cosine",
            LrSchedule::Exponential => "exponential",
        }
    }

    fn is_constant(&self) -> bool {
        *self == LrSchedule::Constant
    }
}

/// Training losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossName {
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    Mae,
    /// Huber loss with `training.huber_delta`.
    Huber,
}

impl LossName {
    /// Every loss, in documentation order.
    pub const ALL: [LossName; 3] = [LossName::Mse, LossName::Mae, LossName::Huber];

    /// The name as written in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            LossName::Mse => "mse",
            LossName::Mae => "mae",
            LossName::Huber => "huber",
        }
    }

    /// One line for `exp list losses`.
    pub fn description(self) -> &'static str {
        match self {
            LossName::Mse => "mean squared error (what RMSE measures)",
            LossName::Mae => "mean absolute error (what MAE measures; robust to outliers)",
            LossName::Huber => "squared below training.huber_delta, absolute above it",
        }
    }
}

/// Which way a metric improves: stated by each metric (see [`MetricName::direction`],
/// [`RankingKind::direction`]) and used alike by early stopping, `exp compare` and the
/// reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Errors and losses: RMSE, MAE.
    LowerIsBetter,
    /// Ranking and coverage metrics: nDCG, precision, recall, hit rate, MAP, MRR, …
    HigherIsBetter,
}

impl Direction {
    /// Whether `a` is strictly better than `b` (false when either is NaN).
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::LowerIsBetter => a < b,
            Direction::HigherIsBetter => a > b,
        }
    }

    /// `lower is better` / `higher is better`, for captions.
    pub fn phrase(self) -> &'static str {
        match self {
            Direction::LowerIsBetter => "lower is better",
            Direction::HigherIsBetter => "higher is better",
        }
    }

    /// `lower` / `higher`, for machine-readable output.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::LowerIsBetter => "lower",
            Direction::HigherIsBetter => "higher",
        }
    }
}

/// Rating-prediction metrics computed on the test (and validation) split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricName {
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
}

impl MetricName {
    /// Every metric, in documentation order.
    pub const ALL: [MetricName; 2] = [MetricName::Rmse, MetricName::Mae];

    /// The name as written in experiment files and database columns.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::Rmse => "rmse",
            MetricName::Mae => "mae",
        }
    }

    /// One line for `exp list metrics`.
    pub fn description(self) -> &'static str {
        match self {
            MetricName::Rmse => {
                "root mean squared error of the predicted ratings on the test split"
            }
            MetricName::Mae => "mean absolute error of the predicted ratings on the test split",
        }
    }

    /// Which way the metric improves: both are errors.
    pub fn direction(self) -> Direction {
        match self {
            MetricName::Rmse | MetricName::Mae => Direction::LowerIsBetter,
        }
    }
}

/// The ranking metrics a run computes after training, on the reported epoch's weights.
///
/// Every user with at least one relevant test rating gets a ranked list of the items they
/// did not rate in the training part of the split (training and validation ratings); the
/// metrics compare its head with the user's relevant test items. See `metrics::ranking`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingSpec {
    /// The ranking metrics of `metrics.names`, in the order written; never empty.
    pub metrics: Vec<RankingMetric>,
    /// `metrics.relevance_threshold`: a test rating at least this high makes the item
    /// relevant to its user; default [`DEFAULT_RELEVANCE_THRESHOLD`].
    pub relevance_threshold: f64,
}

/// `metrics.relevance_threshold` when the file gives none: 4 stars and up are relevant.
pub const DEFAULT_RELEVANCE_THRESHOLD: f64 = 4.0;

/// A family of ranking metrics; most are cut off at a depth k (`ndcg@10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RankingKind {
    /// Relevant items in the top k, over k.
    Precision,
    /// Relevant items in the top k, over the user's relevant items.
    Recall,
    /// Normalised discounted cumulative gain with binary gains.
    Ndcg,
    /// 1 when the top k holds at least one relevant item, else 0.
    HitRate,
    /// Mean average precision at k.
    Map,
    /// Reciprocal rank of the first relevant item (in the whole ranking without k).
    Mrr,
    /// Fraction of the catalogue that appears in some evaluated user's top k.
    Coverage,
}

impl RankingKind {
    /// Every kind, in documentation order.
    pub const ALL: [RankingKind; 7] = [
        RankingKind::Precision,
        RankingKind::Recall,
        RankingKind::Ndcg,
        RankingKind::HitRate,
        RankingKind::Map,
        RankingKind::Mrr,
        RankingKind::Coverage,
    ];

    /// The name before the `@`, as written in `metrics.names`.
    pub fn as_str(self) -> &'static str {
        match self {
            RankingKind::Precision => "precision",
            RankingKind::Recall => "recall",
            RankingKind::Ndcg => "ndcg",
            RankingKind::HitRate => "hit-rate",
            RankingKind::Map => "map",
            RankingKind::Mrr => "mrr",
            RankingKind::Coverage => "coverage",
        }
    }

    /// One line for `exp list metrics`.
    pub fn description(self) -> &'static str {
        match self {
            RankingKind::Precision => "relevant items in the top k, over k",
            RankingKind::Recall => "relevant items in the top k, over the user's relevant items",
            RankingKind::Ndcg => "normalised discounted cumulative gain, binary gains",
            RankingKind::HitRate => "1 when the top k holds a relevant item",
            RankingKind::Map => "mean average precision at k",
            RankingKind::Mrr => "reciprocal rank of the first relevant item (mrr@k cuts at k)",
            RankingKind::Coverage => "share of the catalogue in some user's top k",
        }
    }

    /// Which way the metric improves: every ranking and coverage metric is a share or a
    /// gain, higher is better.
    pub fn direction(self) -> Direction {
        match self {
            RankingKind::Precision
            | RankingKind::Recall
            | RankingKind::Ndcg
            | RankingKind::HitRate
            | RankingKind::Map
            | RankingKind::Mrr
            | RankingKind::Coverage => Direction::HigherIsBetter,
        }
    }

    /// True for the kinds that may be written without `@k` (only `mrr`).
    pub fn k_optional(self) -> bool {
        self == RankingKind::Mrr
    }
}

/// One ranking metric, written `kind@k` (`ndcg@10`, `recall@20`) or `mrr`; serialised as
/// that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RankingMetric {
    /// Which metric.
    pub kind: RankingKind,
    /// The cut-off depth, at least 1; `None` only for `mrr` (the whole ranking).
    pub k: Option<usize>,
}

/// Why a name is not a ranking metric (the config layer turns it into a diagnostic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RankingNameError {
    /// Not a known metric family.
    #[error("not a known metric")]
    Unknown,
    /// A family that needs a depth, written without one (`ndcg`).
    #[error("`{0}` needs a cut-off depth, e.g. `{0}@10`")]
    MissingK(&'static str),
    /// The depth is not an integer ≥ 1 (`ndcg@0`, `ndcg@x`).
    #[error("the depth after `@` must be an integer >= 1, got `{0}`")]
    BadK(String),
}

impl RankingMetric {
    /// The metric named `name` (`ndcg@10`, `mrr`), if it is one.
    pub fn parse(name: &str) -> Result<RankingMetric, RankingNameError> {
        let (kind, k) = match name.split_once('@') {
            Some((kind, k)) => (kind, Some(k)),
            None => (name, None),
        };
        let kind = RankingKind::ALL
            .into_iter()
            .find(|candidate| candidate.as_str() == kind)
            .ok_or(RankingNameError::Unknown)?;
        let k = match k {
            None if kind.k_optional() => None,
            None => return Err(RankingNameError::MissingK(kind.as_str())),
            Some(text) => match text.parse::<usize>() {
                Ok(k) if k >= 1 && text.bytes().all(|b| b.is_ascii_digit()) => Some(k),
                _ => return Err(RankingNameError::BadK(text.to_string())),
            },
        };
        Ok(RankingMetric { kind, k })
    }

    /// The name as written and stored, e.g. `ndcg@10`.
    pub fn name(&self) -> String {
        match self.k {
            Some(k) => format!("{}@{k}", self.kind.as_str()),
            None => self.kind.as_str().to_string(),
        }
    }
}

impl From<RankingMetric> for String {
    fn from(metric: RankingMetric) -> String {
        metric.name()
    }
}

impl TryFrom<String> for RankingMetric {
    type Error = RankingNameError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        RankingMetric::parse(&name)
    }
}
