//! Command-line arguments (clap derive). Parsing only: each subcommand's work is in
//! `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
        after_help = "Example:\n  exp run experiments/sweep.toml\n  exp run experiments/sweep.toml --db results/exp.sqlite --jobs 2\n\n\
Runs already finished in the database (same configuration, seed and fold) are skipped, so\n\
re-running an interrupted sweep resumes it. Charts are written to <db dir>/<experiment>/."
    )]
    Run(RunArgs),
    /// Rank an experiment's configurations by a metric over folds, with confidence
    /// intervals and significance tests against the best.
    #[command(
        after_help = "Example:\n  exp compare --experiment sweep --metric rmse\n  exp compare -e sweep --where architecture=biased-mf --top 3\n  exp compare -e sweep --format markdown > results.md\n\n\
Each configuration is tested against rank 1 with a paired t-test and a Wilcoxon\n\
signed-rank test (two-sided), paired by fold on the folds both have."
    )]
    Compare(CompareArgs),
    /// Write a Markdown report with every chart of an experiment.
    #[command(
        after_help = "Example:\n  exp report sweep\n  exp report sweep --db results/exp.sqlite --metric mae\n\n\
Writes <db dir>/<experiment>/report.md and its PNG charts: metric bars, learning curves,\n\
sensitivity to each numeric parameter, heatmaps of parameter pairs, accuracy against\n\
training time with the Pareto front, and parallel coordinates."
    )]
    Report(ReportArgs),
    /// Parse and validate an experiment file and print its grid; trains nothing.
    #[command(after_help = "Example:\n  exp validate experiments/sweep.toml")]
    Validate(ValidateArgs),
}

/// `exp run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
    /// SQLite database to write (created if missing).
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Runs trained in parallel (default: the number of CPU cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
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
    /// Metric to rank by: any metric the runs stored (rmse, mae, ndcg@10, …). Errors
    /// and losses rank lower-first, ranking metrics higher-first.
    #[arg(long, short = 'm', default_value = "rmse")]
    pub metric: String,
    /// Keep configurations whose swept parameter has this value (full or short key,
    /// e.g. `architecture=biased-mf`); repeat to combine.
    #[arg(long = "where", short = 'w', value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Show only the best N configurations.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
}

/// `exp report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The experiment's name (as in its file's `experiment.name`).
    pub experiment: String,
    /// SQLite database to read; the report goes to `<db dir>/<experiment>/`.
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Metric the report ranks by and the heatmaps, Pareto front and parallel
    /// coordinates show (any metric the runs stored).
    #[arg(long, short = 'm', default_value = "rmse")]
    pub metric: String,
}

/// `exp validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
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
