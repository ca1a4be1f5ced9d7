//! Command-line arguments (clap derive). Parsing only: each subcommand's work is in
//! `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::spec::DeviceSpec;

/// Default database, relative to the current directory.
pub const DEFAULT_DB: &str = "results/exp.sqlite";

/// exp: declared, repeatable experiment sweeps for recommender models.
#[derive(Debug, Parser)]
#[command(name = "exp", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Expand an experiment file's grid and train every run, storing results in SQLite.
    #[command(
        after_help = "Example:\n  exp run experiments/sweep.toml\n  exp run experiments/sweep.toml --db results/exp.sqlite --jobs 2\n  exp run experiments/sweep.toml --devices cpu:2,cuda:0\n\n\
Runs already finished in the database (same configuration, seed and fold) are skipped, so\n\
re-running an interrupted sweep resumes it (failed and interrupted runs train again;\n\
--force retrains everything). Several exp run processes may share one database: each run\n\
is trained once. Ctrl-C stops the sweep, marking running runs interrupted. Charts are\n\
written to <db dir>/<experiment>/."
    )]
    Run(RunArgs),
    /// Rank an experiment's configurations by a metric, mean ± std over folds.
    #[command(
        after_help = "Example:\n  exp compare --experiment sweep --metric rmse\n  exp compare --format markdown > results.md"
    )]
    Compare(CompareArgs),
    /// Parse and validate an experiment file and print its grid; trains nothing.
    #[command(after_help = "Example:\n  exp validate experiments/sweep.toml")]
    Validate(ValidateArgs),
    /// List the experiments in a database with their run counts by status.
    #[command(after_help = "Example:\n  exp status\n  exp status --db results/exp.sqlite")]
    Status(StatusArgs),
}

/// `exp run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
    /// SQLite database to write (created if missing).
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Runs trained in parallel on the CPU: shorthand for the device `cpu:N` (keeps the
    /// file's CUDA devices). Default: one per core.
    #[arg(long, short = 'j', conflicts_with = "devices")]
    pub jobs: Option<usize>,
    /// Devices to train on, comma-separated: `cpu`, `cpu:N` (N parallel runs) or
    /// `cuda:I` (GPU I). Default: the file's `experiment.devices`, else `cpu`.
    #[arg(long, value_delimiter = ',', value_name = "DEVICE,...")]
    pub devices: Option<Vec<DeviceSpec>>,
    /// Retrain every run of the grid, finished ones included.
    #[arg(long)]
    pub force: bool,
}

/// `exp status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// SQLite database to read.
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: PathBuf,
}

/// `exp compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Only this experiment (default: every experiment in the database).
    #[arg(long, short = 'e')]
    pub experiment: Option<String>,
    /// SQLite database to read.
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Metric to rank by (lower is better).
    #[arg(long, value_enum, default_value_t = MetricArg::Rmse)]
    pub metric: MetricArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
}

/// `exp validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
}

/// Metrics `exp compare` can rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricArg {
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
}

/// Output formats of `exp compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}
