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
pub mod compare;
mod font;
pub mod metric;
pub mod stats;

use std::path::PathBuf;

use crate::store::{Store, StoreError};

pub use charts::write_experiment_charts;
pub use compare::{ConfigSummary, Format, Metric, Stat, rank, render, summarize};

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
    /// `--by` named a metric reports cannot rank by.
    #[error("unknown metric `{0}`: expected `rmse` or `mae`")]
    UnknownMetric(String),
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
    /// plotters failed to draw or write a chart.
    #[error("cannot draw chart `{path}`")]
    Draw {
        /// The PNG being written.
        path: PathBuf,
        /// plotters' error (drawing, font or PNG encoding).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The bundled font is not a font plotters can read (a broken build).
    #[error("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded")]
    Font,
}

/// The error for an experiment with nothing to report: [`ReportError::UnknownExperiment`]
/// (listing the known names) or [`ReportError::NoFinishedRuns`].
pub(crate) fn missing_experiment(store: &Store, experiment: &str) -> ReportError {
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
