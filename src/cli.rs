//! Command-line arguments (clap derive). Parsing only: each subcommand's work is in
//! `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::spec::{Architecture, DatasetName, DeviceSpec};
use crate::store::Location;

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
    /// Expand an experiment file's grid and train every run, storing results in the database.
    #[command(
        after_help = "Example:\n  exp run experiments/sweep.toml\n  exp run experiments/sweep.toml --db results/exp.sqlite --jobs 2\n  exp run experiments/sweep.toml --devices cpu:2,cuda:0\n  exp run experiments/seeds/ --set training.epochs=3\n  exp run experiments/sweep.toml --set model.architecture=ncf --set training.epochs=5\n\n\
Runs already finished in the database (same configuration, seed and fold) are skipped, so\n\
re-running an interrupted sweep resumes it (failed and interrupted runs train again;\n\
--force retrains everything). Several exp run processes may share one database: each run\n\
is trained once. Ctrl-C stops the sweep, marking running runs interrupted. Charts are\n\
written to <db dir>/<experiment>/."
    )]
    Run(RunArgs),
    /// Train the pending runs of an experiment stored in a shared database, until none is
    /// left (what each task of `exp slurm submit`'s job array runs).
    #[command(
        after_help = "Example:\n  exp worker --db postgres://exp@db.lab/sweeps --experiment sweep\n  EXP_DB=postgres://exp@db.lab/sweeps exp worker -e sweep --jobs 4\n\n\
The experiment is read from the database (stored there by `exp run` or `exp slurm\n\
submit`); the data is found as for `exp run` (EXP_DATA_DIR, the cache) and must hash to\n\
what was stored with the experiment, or the worker refuses to train. Any number of\n\
workers may share one database: each run is trained once, and a run whose worker died\n\
is taken over once its heartbeat is 5 minutes old (at once on the same host)."
    )]
    Worker(WorkerArgs),
    /// Validate an experiment against its data and store it for `exp worker`s, training
    /// nothing (`exp slurm submit` does this, then starts the workers through Slurm).
    #[command(
        after_help = "Example:\n  exp submit experiments/sweep.toml --db postgres://exp@db.lab/sweeps\n  exp worker --db postgres://exp@db.lab/sweeps --experiment sweep   # on each node"
    )]
    Submit(SubmitArgs),
    /// Rank an experiment's configurations by a metric over folds, with confidence
    /// intervals and significance tests against the best.
    #[command(
        after_help = "Example:\n  exp compare --experiment sweep --metric rmse\n  exp compare -e sweep --where architecture=biased-mf --top 3 --ids\n  exp compare -e sweep --format markdown > results.md\n  exp compare -e seed-ncf -e seed-biased-mf -e seed-svdpp\n\n\
Each configuration is tested against rank 1 with a paired t-test and a Wilcoxon\n\
signed-rank test (two-sided), paired by fold on the folds both have. Several\n\
experiments share one table only when their runs used the same data, split and seed;\n\
otherwise exp says which differs."
    )]
    Compare(CompareArgs),
    /// Write a Markdown report with every chart of an experiment.
    #[command(
        after_help = "Example:\n  exp report sweep\n  exp report sweep --db results/exp.sqlite --metric mae\n  exp report seed-ncf seed-biased-mf seed-svdpp\n\n\
Writes <db dir>/<experiment>/report.md and its PNG charts: metric bars, learning curves,\n\
sensitivity to each numeric parameter, heatmaps of parameter pairs, accuracy against\n\
training time with the Pareto front, and parallel coordinates."
    )]
    Report(ReportArgs),
    /// Parse and validate an experiment file and print its grid; trains nothing.
    #[command(after_help = "Example:\n  exp validate experiments/sweep.toml")]
    Validate(ValidateArgs),
    /// A stored run's top-N items for a user: the items they did not rate in training,
    /// ranked by predicted rating.
    #[command(after_help = RECOMMEND_HELP)]
    Recommend(RecommendArgs),
    /// The items nearest to an item by the cosine similarity of a stored run's item
    /// vectors.
    #[command(after_help = SIMILAR_HELP)]
    Similar(SimilarArgs),
    /// Data sets: download the GroupLens sets, describe any data set, write a split's rows.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run an experiment on a Slurm cluster: a job array of `exp worker`s sharing a
    /// PostgreSQL store.
    #[command(subcommand)]
    Slurm(SlurmCommand),
    /// Move results between stores: copy experiments from a PostgreSQL server into a
    /// local SQLite file (or back).
    #[command(subcommand)]
    Db(DbCommand),
    /// List the experiments in a database with their run counts by status.
    #[command(after_help = "Example:\n  exp status\n  exp status --db results/exp.sqlite")]
    Status(StatusArgs),
    /// List stored runs with their ids, configuration, fold, status and metrics.
    #[command(after_help = RUNS_HELP)]
    Runs(RunsArgs),
    /// Print what an experiment file can name: models, data sets, metrics, optimisers or
    /// losses, one line each.
    #[command(after_help = "Example:\n  exp list models\n  exp list datasets")]
    List(ListArgs),
    /// Delete stored runs with their epochs, metrics and checkpoint files.
    #[command(
        after_help = "Example:\n  exp rm -e sweep --superseded     # runs of an earlier version of the file\n  exp rm -e sweep --failed --dry-run\n  exp rm --run 12 --run 13\n  exp rm -e sweep --all            # the whole experiment\n\n\
Running runs are never deleted (a process may be training them). Deleted runs train\n\
again on the next exp run of their file."
    )]
    Rm(RmArgs),
    /// Write every stored run (or every epoch) with all its parameters and metrics as
    /// CSV or JSON.
    #[command(
        after_help = "Example:\n  exp export -e sweep > sweep.csv\n  exp export -e sweep --epochs --format json -o sweep-epochs.json\n\n\
One row per run: id, experiment, run key, fold (1-based), status, the swept values, every\n\
configuration key (data.*, split.*, model.*, training.*), test RMSE, MAE and every other\n\
stored metric, best epoch, seconds, checkpoint and error. --epochs gives one row per\n\
epoch instead, with the run's columns repeated (JSON: an `epochs` list per run)."
    )]
    Export(ExportArgs),
    /// Score the equal-weight average of two or more experiments' saved test predictions,
    /// fold by fold.
    #[command(
        after_help = "Example:\n  exp blend -e published-ml100k-u1-svdpp-16 -e published-ml100k-u1-autorec\n\n\
Each experiment needs one finished run with `metrics.save_predictions = true` per fold and\n\
repeat, all on the same test ratings (same data set and split). The weights are equal and\n\
fixed: nothing is fitted on the test ratings."
    )]
    Blend(BlendArgs),
    /// Write a commented experiment file to start from.
    #[command(
        after_help = "Example:\n  exp init > my.toml\n  exp init --dataset ml-100k --architecture ncf -o experiments/ncf.toml\n\n\
The file is valid as written: 5-fold cross-validation, Adam with early stopping and a\n\
grid over the embedding size; every key has a comment saying what it does."
    )]
    Init(InitArgs),
}

/// `exp rm`.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// The experiment whose runs are chosen (needed by --superseded, --failed, --all).
    #[arg(long, short = 'e', value_name = "NAME")]
    pub experiment: Option<String>,
    /// Delete this run (repeatable; ids from `exp runs`).
    #[arg(long = "run", value_name = "ID")]
    pub runs: Vec<i64>,
    /// Delete finished runs of an earlier version of the experiment file (the ones
    /// `exp compare` leaves out).
    #[arg(long)]
    pub superseded: bool,
    /// Delete failed and interrupted runs.
    #[arg(long)]
    pub failed: bool,
    /// Delete every run of the experiment, and the experiment.
    #[arg(long)]
    pub all: bool,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Database to change: an SQLite file or a postgres:// URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// `exp export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Only this experiment (default: every run in the database).
    #[arg(long, short = 'e', value_name = "NAME")]
    pub experiment: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// One row per epoch instead of per run.
    #[arg(long)]
    pub epochs: bool,
    /// One row per saved test prediction (runs with `metrics.save_predictions = true`):
    /// run id, fold, repeat, user, item, rating, prediction. CSV only.
    #[arg(long, conflicts_with = "epochs")]
    pub predictions: bool,
    /// Write here instead of to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Database to read: an SQLite file, or a postgres://user@host:port/db URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// `exp blend`.
#[derive(Debug, clap::Args)]
pub struct BlendArgs {
    /// An experiment to blend (two or more).
    #[arg(long = "experiment", short = 'e', value_name = "NAME", required = true)]
    pub experiments: Vec<String>,
    /// Database to read: an SQLite file, or a postgres://user@host:port/db URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// Formats of `exp export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of runs.
    Json,
}

/// `exp list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// What to list.
    #[arg(value_enum)]
    pub what: ListWhat,
}

/// The vocabularies `exp list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    /// `model.architecture` values.
    Models,
    /// `data.dataset` values, and whether each is on this machine.
    Datasets,
    /// `metrics.names` values.
    Metrics,
    /// `training.optimizer` values.
    Optimizers,
    /// `training.loss` values.
    Losses,
}

/// `exp init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The data set (`exp list datasets`).
    #[arg(long, default_value = "ml-latest-small", value_parser = dataset_arg)]
    pub dataset: DatasetName,
    /// The architecture (`exp list models`).
    #[arg(long, default_value = "biased-mf", value_parser = architecture_arg)]
    pub architecture: Architecture,
    /// `experiment.name` (default: ARCHITECTURE-DATASET).
    #[arg(long)]
    pub name: Option<String>,
    /// Write the file here instead of to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// A `--dataset` value: one of [`DatasetName::ALL`].
fn dataset_arg(text: &str) -> Result<DatasetName, String> {
    DatasetName::ALL
        .into_iter()
        .find(|d| d.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = DatasetName::ALL.iter().map(|d| d.as_str()).collect();
            format!("expected one of {}", names.join(", "))
        })
}

/// An `--architecture` value: one of [`Architecture::ALL`].
fn architecture_arg(text: &str) -> Result<Architecture, String> {
    Architecture::ALL
        .into_iter()
        .find(|a| a.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = Architecture::ALL.iter().map(|a| a.as_str()).collect();
            format!("expected one of {}", names.join(", "))
        })
}

/// `exp data …`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a GroupLens data set, verify its SHA-256 and unpack it.
    #[command(
        after_help = "Example:\n  exp data download ml-100k\n  EXP_DATA_DIR=~/data exp data download ml-1m\n\n\
Unpacks into $EXP_DATA_DIR/<name>/ when EXP_DATA_DIR is set, else into the platform cache\n\
folder (~/.cache/exp/data/<name>/ on Linux), where `exp run` looks for it. The archive is\n\
checked against a pinned SHA-256 before use; on a mismatch nothing is kept. Amazon files\n\
cannot be downloaded: the command says where to get them."
    )]
    Download(DownloadArgs),
    /// Describe a data set: sizes, sparsity, quantiles, rating distribution, and charts.
    #[command(
        after_help = "Example:\n  exp data stats ml-latest-small\n  exp data stats experiments/amazon-sample.toml --out results/data/amazon\n\n\
Given an experiment file, its [data] section is used (path and filters included). The\n\
table goes to stdout; the PNG charts (rating histogram, top-20 items and users, long-tail\n\
curve) to results/data/<name>/ or --out."
    )]
    Stats(StatsArgs),
    /// Write an experiment's train and test rows to CSV (to train other libraries on them).
    #[command(
        after_help = "Example:\n  exp data split experiments/funk-svd.toml --out results/split\n  exp data split experiments/svdpp-5fold.toml --fold 2 --out /tmp/fold2\n\n\
Writes train.csv and test.csv (and validation.csv when the split has one) with a\n\
`user,item,rating` header and the raw ids of the data set's files: the rows `exp run`\n\
trains and tests on for that fold and the experiment's seed, after the [data] filters."
    )]
    Split(SplitArgs),
}

/// `exp data download`.
#[derive(Debug, clap::Args)]
pub struct DownloadArgs {
    /// ml-100k, ml-1m or ml-latest-small.
    pub dataset: String,
    /// Folder holding the archives instead of the GroupLens site (a mirror); default
    /// $EXP_DOWNLOAD_BASE_URL, else https://files.grouplens.org/datasets/movielens.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Expect this SHA-256 (hex) for the archive instead of the pinned one.
    #[arg(long)]
    pub sha256: Option<String>,
    /// Download again even if the data set is already unpacked.
    #[arg(long)]
    pub force: bool,
}

/// `exp data split`.
#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// The experiment file whose data set, filters, split and seed to use.
    pub experiment: PathBuf,
    /// The fold to write (0-based; holdout splits have only fold 0).
    #[arg(long, default_value_t = 0)]
    pub fold: usize,
    /// Folder to write the CSV files into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Override a key of the experiment file, as `exp run --set` does. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `exp data stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// A data set name (ml-100k, ml-1m, ml-latest-small, amazon-movies-tv) or an
    /// experiment file (.toml) whose [data] section to use.
    pub target: String,
    /// The data set's folder or file (with a data set name; overrides EXP_DATA_DIR).
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Folder for the PNG charts (default: results/data/<name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How many users and items the top charts show.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

const RECOMMEND_HELP: &str = "Example:\n  exp recommend -e recommend --best --user 1\n  exp recommend --run 12 --user 1 -n 10 --rated\n\n\
The model is rebuilt from the run's stored configuration and checkpoint, on the same data\n\
set and split (the experiment's seed and the run's fold), so \"not rated in training\" is\n\
exact. `exp runs` lists run ids; --best takes the best configuration's run instead.";

const SIMILAR_HELP: &str = "Example:\n  exp similar -e recommend --best --item 1\n  exp similar --run 12 --item \"toy story (1995)\" -n 5\n\n\
--item takes a raw item id or a piece of a title (any case); a title piece that matches\n\
several items lists them and exits with an error. Models without item vectors (the\n\
global-mean and biases baselines) cannot answer.";

const RUNS_HELP: &str = "Example:\n  exp runs\n  exp runs -e sweep --best\n  exp runs -e sweep --format csv > runs.csv\n\n\
One row per run: its id (what `exp recommend --run` and `exp similar --run` take), the\n\
experiment, the swept values, the fold (1-based), the status and its test metrics.\n\
--best keeps the runs of each experiment's best configuration by --metric.";

/// `exp db` subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy experiments (runs, epochs, metrics, predictions, trials) from one store into
    /// another, with new ids there.
    #[command(
        after_help = "Example:\n  exp db copy --from postgres://exp@db.lab/sweeps --to results/exp.sqlite --experiment sweep\n  exp db copy --from $EXP_DB --to results/cluster.sqlite\n\n\
The copy is one transaction on the target: all of it lands, or nothing. An experiment the\n\
target already holds is refused (remove it there first). Checkpoint files are not in the\n\
store; copy results/<experiment>/checkpoints/ from the workers' results folder if needed."
    )]
    Copy(DbCopyArgs),
}

/// `exp db copy`.
#[derive(Debug, clap::Args)]
pub struct DbCopyArgs {
    /// The store to read: a postgres:// URL or an SQLite file.
    #[arg(long)]
    pub from: Location,
    /// The store to write (an SQLite file is created if missing).
    #[arg(long)]
    pub to: Location,
    /// Copy only this experiment (default: all).
    #[arg(long, short = 'e')]
    pub experiment: Option<String>,
}

/// `exp slurm` subcommands.
#[derive(Debug, Subcommand)]
pub enum SlurmCommand {
    /// Validate and store an experiment, write an sbatch script for a job array of N
    /// workers, and submit it; prints the job id.
    #[command(
        after_help = "Example:\n  exp slurm submit experiments/sweep.toml --db postgres://exp@db.lab/sweeps --workers 3\n  exp slurm submit experiments/ml1m-svdpp.toml --db $EXP_DB --workers 20 --cpus-per-task 4 \\\n      --partition cpu --time 02:00:00 --max-running 10\n  exp slurm submit experiments/sweep.toml --db $EXP_DB --workers 3 --dry-run\n\n\
The script goes to results/<experiment>/slurm/worker.sbatch and the workers' logs beside\n\
it. Each array task runs `exp worker`, which claims runs until none is left; the tasks\n\
share the PostgreSQL store, so each run trains once. The URL reaches the workers through\n\
the environment sbatch passes on (EXP_DB), never written into the script. scancel leaves\n\
the store consistent (a cancelled worker marks its runs interrupted); submitting again\n\
trains what is left."
    )]
    Submit(SlurmSubmitArgs),
}

/// `exp slurm submit`.
#[derive(Debug, clap::Args)]
pub struct SlurmSubmitArgs {
    /// The experiment file (TOML).
    #[arg(value_name = "FILE")]
    pub experiment: PathBuf,
    /// The shared store the workers write: a postgres://user@host:port/db URL every node
    /// can reach (also $EXP_DB). SQLite files cannot be shared between hosts.
    #[arg(long, env = "EXP_DB")]
    pub db: Location,
    /// Override a key of the file, as for `exp run`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// How many workers (array tasks) to start.
    #[arg(long)]
    pub workers: usize,
    /// CPUs per worker; each trains that many runs at once.
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: usize,
    /// GPUs per worker; each trains on `cuda:0` … (the GPUs Slurm gives the task).
    #[arg(long, default_value_t = 0)]
    pub gpus_per_task: usize,
    /// The Slurm partition (default: the cluster's).
    #[arg(long)]
    pub partition: Option<String>,
    /// Wall-time limit per worker, as sbatch reads it (e.g. `02:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// At most this many workers at once (the array's `%M`).
    #[arg(long)]
    pub max_running: Option<usize>,
    /// Print the script; store and submit nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `exp submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The experiment file (TOML).
    #[arg(value_name = "FILE")]
    pub experiment: PathBuf,
    /// The store the workers will share: a postgres:// URL (or an SQLite file, for
    /// workers on this host). Also $EXP_DB.
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
    /// Override a key of the file, as for `exp run`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `exp worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The store holding the experiment: a postgres:// URL shared by the workers (or an
    /// SQLite file, for workers on this host). Also $EXP_DB.
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
    /// The experiment to work on (its `experiment.name`, as `exp status` lists it).
    #[arg(long, short = 'e')]
    pub experiment: String,
    /// Runs trained in parallel on the CPU (the device `cpu:N`). Default: one per core.
    #[arg(long, short = 'j', conflicts_with = "devices")]
    pub jobs: Option<usize>,
    /// Devices to train on, comma-separated, as for `exp run`.
    #[arg(long, value_delimiter = ',', value_name = "DEVICE,...")]
    pub devices: Option<Vec<DeviceSpec>>,
}

/// `exp run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Experiment files (TOML), or directories of them (their `*.toml` files, in name
    /// order); all are validated before any trains, then run one after another.
    #[arg(value_name = "FILE_OR_DIR", required = true)]
    pub experiments: Vec<PathBuf>,
    /// Override a key of every file: `--set training.epochs=5`, `--set
    /// model.architecture=ncf`, `--set model.hidden_layers=[64,32]`. Validated like the
    /// file; an override is a swept parameter with one value (its runs get their own run
    /// keys and rows in `exp compare`) and replaces the key's [sweep] values. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Database to write: an SQLite file (created if missing) or a postgres:// URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
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
    /// Database to read: an SQLite file, or a postgres://user@host:port/db URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// `exp compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The experiment to rank (default: each experiment in the database, one table
    /// each). Repeat it to rank several experiments' configurations in one table; they
    /// must share data set, split and seed, so that their folds are the same.
    #[arg(long, short = 'e', value_name = "NAME")]
    pub experiment: Vec<String>,
    /// Rank every experiment in the database in one table (they must share data set,
    /// split and seed).
    #[arg(long, conflicts_with = "experiment")]
    pub all: bool,
    /// Show each configuration's run ids (for `exp recommend --run`, `exp similar --run`);
    /// CSV and JSON always have them.
    #[arg(long)]
    pub ids: bool,
    /// Database to read: an SQLite file, or a postgres://user@host:port/db URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
    /// Metric to rank by: any metric the runs stored (rmse, mae, ndcg@10, …). Errors
    /// and losses rank lower-first, ranking metrics higher-first.
    #[arg(long, short = 'm', default_value = "rmse")]
    pub metric: String,
    /// Keep configurations whose swept parameter has this value (full or short key,
    /// e.g. `architecture=biased-mf`); repeat to combine.
    #[arg(long = "where", short = 'w', value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Show only the best N configurations (N >= 1).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub top: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
}

/// `exp report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The experiment's name (as in its file's `experiment.name`). Several names make one
    /// report ranking their configurations together (they must share data set, split and
    /// seed), written to `<db dir>/<a>+<b>/`.
    #[arg(value_name = "EXPERIMENT", required_unless_present = "all")]
    pub experiments: Vec<String>,
    /// Every experiment in the database in one report (they must share data set, split
    /// and seed).
    #[arg(long, conflicts_with = "experiments")]
    pub all: bool,
    /// Database to read (file or postgres:// URL); the report goes to `<db dir>/<experiment>/` (`results/<experiment>/` for a URL).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
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
    /// The database `exp run` would write: its results directory `<db dir>/<experiment>/`
    /// is checked too (nothing is created).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// `exp recommend`.
#[derive(Debug, clap::Args)]
pub struct RecommendArgs {
    /// Which run to read.
    #[command(flatten)]
    pub choice: RunChoice,
    /// The user's raw id as in the data set (e.g. `1` for ml-latest-small's `userId` 1).
    #[arg(long)]
    pub user: String,
    /// How many items to recommend (>= 1).
    #[arg(long, short = 'n', default_value_t = 20, value_parser = at_least_one)]
    pub n: usize,
    /// Also list every item the user rated, true rating beside the prediction.
    #[arg(long)]
    pub rated: bool,
    /// Database to read: an SQLite file, or a postgres://user@host:port/db URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// `exp similar`.
#[derive(Debug, clap::Args)]
pub struct SimilarArgs {
    /// Which run to read.
    #[command(flatten)]
    pub choice: RunChoice,
    /// A raw item id, or a piece of a title (case does not matter).
    #[arg(long)]
    pub item: String,
    /// How many similar items to list (>= 1).
    #[arg(long, short = 'n', default_value_t = 10, value_parser = at_least_one)]
    pub n: usize,
    /// List only items with at least this many ratings in the run's training split (the
    /// vectors of rarely rated items are mostly their initial noise).
    #[arg(long, default_value_t = 0)]
    pub min_ratings: usize,
    /// Database to read: an SQLite file, or a postgres://user@host:port/db URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// Which stored run `exp recommend` and `exp similar` read: `--run ID`, or
/// `--experiment NAME --best` for the best configuration's run on one of its folds.
#[derive(Debug, Clone, clap::Args)]
pub struct RunChoice {
    /// Id of a finished run (`exp runs` lists them).
    #[arg(
        long,
        required_unless_present = "experiment",
        conflicts_with = "experiment"
    )]
    pub run: Option<i64>,
    /// The experiment whose best configuration to read (with --best).
    #[arg(long, short = 'e', requires = "best")]
    pub experiment: Option<String>,
    /// Read the run of the experiment's best configuration by --metric.
    #[arg(long, requires = "experiment")]
    pub best: bool,
    /// With --best: the fold whose run to read (1-based); default the first finished one.
    #[arg(long, requires = "best")]
    pub fold: Option<usize>,
    /// With --best: the metric that ranks the configurations.
    #[arg(long, default_value = "rmse", requires = "best")]
    pub metric: String,
}

/// `exp runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Only the runs of this experiment (default: every experiment).
    #[arg(long, short = 'e')]
    pub experiment: Option<String>,
    /// Only the runs of each experiment's best configuration by --metric.
    #[arg(long)]
    pub best: bool,
    /// The metric --best ranks by.
    #[arg(long, short = 'm', default_value = "rmse")]
    pub metric: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunsFormat::Table)]
    pub format: RunsFormat,
    /// Database to read: an SQLite file, or a postgres://user@host:port/db URL (also $EXP_DB).
    #[arg(long, env = "EXP_DB", default_value = DEFAULT_DB)]
    pub db: Location,
}

/// Output formats of `exp runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunsFormat {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
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

/// Parses a count that must be at least 1 (`--top`, `-n`): asking for none is a mistake,
/// not an empty answer.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
