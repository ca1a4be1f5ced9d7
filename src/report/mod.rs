//! Reports on stored runs: the `exp compare` tables and the PNG charts.
//!
//! The last stage of the data flow, and read-only: it takes [`StoredRun`]s from the
//! [`Store`], groups the finished ones into configurations ([`compare::summarize`]),
//! then renders a table ([`compare::render`]). Everything between the store and the
//! output is a pure function with unit tests.
//!
//! [`StoredRun`]: crate::store::records::StoredRun
//! [`Store`]: crate::store::Store

pub mod compare;

use std::path::PathBuf;

use crate::store::StoreError;

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
}

