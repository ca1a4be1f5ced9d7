//! Reports on stored runs: the `exp compare` tables and the PNG charts.
//!
//! The last stage of the data flow, and read-only: it takes [`StoredRun`]s from the
//! [`Store`], groups the finished ones into configurations ([`compare::summarize`]),
//! then either renders a table ([`compare::render`]) or draws charts
//! ([`charts::write_experiment_charts`]). Everything between the store and the output
//! is a pure function with unit tests; only the drawing functions touch files.
//!
//! [`StoredRun`]: crate::store::records::StoredRun
//! [`Store`]: crate::store::Store

pub mod charts;
pub mod colormap;
pub mod colours;
pub mod compare;
pub mod document;
pub mod dots;
pub mod filter;
pub(crate) mod font;
pub mod grid;
pub mod heatmap;
pub mod highlight;
pub mod metric;
pub mod paired_ratings;
pub mod paired_users;
pub mod parallel;
pub mod pareto;
pub mod pool;
pub mod search;
pub mod sensitivity;
pub mod significance;
pub mod stats;
pub mod summary;

use std::path::PathBuf;

use crate::store::{Store, StoreError};

pub use charts::write_experiment_charts;
pub use compare::{Comparison, ConfigSummary, Format, Stat, rank, render, summarize};
pub use metric::{Direction, Metric};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database holds no experiment with this name.
    #[error("database `{path}` has no experiment named `{name}` (it has: {known})")]
    UnknownExperiment {
        /// The database file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The names it does have, comma-separated (`none` when empty).
        known: String,
    },
    /// The experiment exists but none of its runs has finished.
    #[error("experiment `{name}` in database `{path}` has no finished runs yet")]
    NoFinishedRuns {
        /// The database file.
        path: PathBuf,
        /// The experiment.
        name: String,
    },
    /// `--metric` named a metric none of the runs has.
    #[error("unknown metric `{name}`: the runs have {known}")]
    UnknownMetric {
        /// The name asked for.
        name: String,
        /// The metric names the runs do have, comma-separated.
        known: String,
    },
    /// A `--where` argument is not `key=value`.
    #[error("--where `{0}`: expected key=value, e.g. --where architecture=biased-mf")]
    BadFilter(String),
    /// `--where` named a key that is not swept.
    #[error("--where: no swept parameter `{key}`; swept: {known}")]
    UnknownParam {
        /// The key as written.
        key: String,
        /// The swept keys, comma-separated.
        known: String,
    },
    /// `--where` used a short key that two swept keys end with.
    #[error("--where: `{key}` could be {candidates}; use the full key")]
    AmbiguousParam {
        /// The key as written.
        key: String,
        /// The full keys it could mean.
        candidates: String,
    },
    /// `--where` asked for a value no configuration has.
    #[error("--where: no configuration has {key}={value}; its values: {known}")]
    UnknownValue {
        /// The full key.
        key: String,
        /// The value as written.
        value: String,
        /// The values the configurations have, comma-separated.
        known: String,
    },
    /// Every filter matches something, but no configuration matches them all.
    #[error("--where: no configuration has {0}")]
    NoMatch(String),
    /// `--format` named an unknown output format.
    #[error("unknown format `{0}`: expected `table`, `csv`, `json` or `markdown`")]
    UnknownFormat(String),
    /// The output directory for charts could not be created.
    #[error("cannot create chart directory `{dir}`")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A chart or report destination cannot be written safely (a link, a directory), or
    /// writing its temporary file or renaming it failed.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// plotters failed to draw or write a chart.
    #[error("cannot draw chart `{path}`")]
    Draw {
        /// The PNG being written.
        path: PathBuf,
        /// plotters' error (drawing, font or PNG encoding).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Two experiments asked to be ranked together were not scored on the same folds.
    #[error(
        "cannot rank experiment `{other}` with `{first}`: {reason} (run {run}); \
         configurations are compared fold by fold, so only experiments with the same \
         data, split and seed can share a table"
    )]
    Incomparable {
        /// The first experiment.
        first: String,
        /// The experiment that differs.
        other: String,
        /// A run of `other` that differs.
        run: i64,
        /// What differs, with both values.
        reason: String,
    },
    /// The bundled font is not a font plotters can read (a broken build).
    #[error("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded")]
    Font,
}

/// The error for an experiment with nothing to report: [`ReportError::UnknownExperiment`]
/// (listing the known names) or [`ReportError::NoFinishedRuns`].
pub fn missing_experiment(store: &Store, experiment: &str) -> ReportError {
    match store.experiments() {
        Err(e) => ReportError::Store(e),
        Ok(list) if list.iter().any(|(_, name)| name == experiment) => {
            ReportError::NoFinishedRuns {
                path: store.path().to_path_buf(),
                name: experiment.to_string(),
            }
        }
        Ok(list) => {
            let names: Vec<&str> = list.iter().map(|(_, n)| n.as_str()).collect();
            ReportError::UnknownExperiment {
                path: store.path().to_path_buf(),
                name: experiment.to_string(),
                known: if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
            }
        }
    }
}
