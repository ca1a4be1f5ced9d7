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
    /// The file the experiment was read from, as given on the command line.
    pub source_path: PathBuf,
    /// The file's text, stored with the experiment so a database is self-describing.
    pub source_text: String,
    /// The configuration before any sweep value is applied.
    pub base: RunConfig,
    /// The swept keys in file order; the grid is their cross product.
    pub sweep: Vec<SweepAxis>,
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
    /// What to measure on the test split, in the order written.
    pub metrics: Vec<MetricName>,
}

/// `[data]`: the data set and where its files are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DataSpec {
    /// `data.dataset`.
    pub dataset: DatasetName,
    /// `data.path`: directory holding the data set's files; `None` means the embedded copy
    /// (ml-latest-small) or `$EXP_DATA_DIR/<dataset>`.
    pub path: Option<PathBuf>,
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
}

impl DatasetName {
    /// Every data set, in documentation order.
    pub const ALL: [DatasetName; 3] = [
        DatasetName::Ml100k,
        DatasetName::Ml1m,
        DatasetName::MlLatestSmall,
    ];

    /// The name as written in experiment files and directory names.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Ml100k => "ml-100k",
            DatasetName::Ml1m => "ml-1m",
            DatasetName::MlLatestSmall => "ml-latest-small",
        }
    }
}

/// `[split]`: holdout or k-fold cross-validation, both seeded by `experiment.seed`.
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
}

impl SplitSpec {
    /// The kind as written in `split.kind`: `holdout` or `kfold`.
    pub fn kind(&self) -> &'static str {
        match self {
            SplitSpec::Holdout { .. } => "holdout",
            SplitSpec::Kfold { .. } => "kfold",
        }
    }

    /// How many runs one grid point becomes: 1 for holdout, k for k-fold.
    pub fn folds(&self) -> usize {
        match self {
            SplitSpec::Holdout { .. } => 1,
            SplitSpec::Kfold { k, .. } => *k,
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
}

/// The model architectures exp can train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Dot product of user and item embeddings.
    DotMf,
    /// Dot product plus user and item biases, through a sigmoid scaled to the rating range.
    BiasedMf,
}

impl Architecture {
    /// Every architecture, in documentation order.
    pub const ALL: [Architecture; 2] = [Architecture::DotMf, Architecture::BiasedMf];

    /// The name as written in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::DotMf => "dot-mf",
            Architecture::BiasedMf => "biased-mf",
        }
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
}

/// Optimisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    /// Adam (Kingma & Ba), with lazy (touched-rows-only) updates for embedding tables.
    Adam,
}

impl OptimizerName {
    /// Every optimiser, in documentation order.
    pub const ALL: [OptimizerName; 1] = [OptimizerName::Adam];

    /// The name as written in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizerName::Adam => "adam",
        }
    }
}

/// Training losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossName {
    /// Mean squared error.
    Mse,
}

impl LossName {
    /// Every loss, in documentation order.
    pub const ALL: [LossName; 1] = [LossName::Mse];

    /// The name as written in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            LossName::Mse => "mse",
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
}
