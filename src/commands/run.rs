//! `exp run`: validate → plan devices → load data → train the pending runs on the device
//! workers → store → charts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use crate::cli::RunArgs;
use crate::commands::progress::{self, Progress};
use crate::config;
use crate::config::spec::{DataSpec, DeviceKind, DeviceSpec, Experiment, SplitSpec};
use crate::data::split::cold_start;
use crate::data::{self, Dataset};
use crate::engine::per_rating;
use crate::output;
use crate::report;
use crate::runner::{CandleExecutor, split_for};
use crate::scheduler::{self, RunQueue, Stop, SweepOptions, SweepSummary};
use crate::search::{self, queue::SearchQueue};
use crate::store::Store;
use crate::store::owner::Owner;
use crate::store::records::StoredExperiment;
use crate::store::trials::{Objective, TrialStatus};
use crate::sweep::{self, RunSpec};

/// Exit code of a sweep stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs each experiment file's grid in turn and prints its ranking; exits non-zero if a
/// run failed or the sweep was interrupted.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let files = experiment_files(&args.experiments)?;
    // Everything that can be wrong with the files is found before anything trains.
    let mut experiments = Vec::with_capacity(files.len());
    let mut problems = Vec::new();
    for file in &files {
        match config::load_experiment_with(file, &args.set) {
            Ok(experiment) => experiments.push(experiment),
            Err(error) => problems.push(error.to_string()),
        }
    }
    // So is a results directory that cannot be made (a dangling link or a file in its
    // place, an unwritable folder): otherwise every run would fail on it, one by one.
    for (file, experiment) in files.iter().zip(&experiments) {
        let dir = args.db.results_dir(&experiment.name);
        if let Err(error) = output::prepare_dir(&dir) {
            problems.push(format!(
                "{}: `experiment.name` = `{}`: cannot use its results directory `{}`: {error}",
                file.display(),
                experiment.name,
                dir.display()
            ));
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    let stop = Stop::new();
    let shown = Shown::default();
    install_stop_handler(&stop, &shown)?;
    let mut code = ExitCode::SUCCESS;
    let several = files.len() > 1;
    let mut not_run = Vec::new();
    for (file, experiment) in files.iter().zip(experiments) {
        match run_experiment(args, Role::Run { file }, experiment, &stop, &shown) {
            Ok(Outcome::Interrupted) => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
            Ok(Outcome::SomeFailed) => code = ExitCode::FAILURE,
            Ok(Outcome::AllDone) => {}
            // One file whose data cannot be loaded (a data set not downloaded) does not
            // keep the other files from training; the error is printed in its place.
            Err(error) if several => {
                eprintln!("error: {}: {error}", file.display());
                for cause in error.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
                not_run.push(file.display().to_string());
                code = ExitCode::FAILURE;
            }
            Err(error) => return Err(error),
        }
    }
    if !not_run.is_empty() {
        eprintln!(
            "{} of {} experiment files could not run (see the errors above): {}",
            not_run.len(),
            files.len(),
            not_run.join(", ")
        );
    }
    Ok(code)
}

/// How one experiment's sweep ended.
pub(crate) enum Outcome {
    /// Every run finished (now or earlier).
    AllDone,
    /// A run failed or could not start; the others are stored.
    SomeFailed,
    /// Stopped by a signal: the remaining files are not started.
    Interrupted,
}

/// The experiment files named on the command line: files as given, directories as the
/// `*.toml` files directly in them, in name order.
fn experiment_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading directory `{}`", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
                .collect();
            if found.is_empty() {
                bail!(
                    "directory `{}` holds no .toml experiment file",
                    path.display()
                );
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Who trains an experiment's runs, and so what happens around the training.
pub(crate) enum Role<'a> {
    /// `exp run FILE`: stores the experiment (its file, `--set` overrides and data
    /// checksums, what a worker needs), trains, then writes the charts and prints the
    /// ranking.
    Run {
        /// The experiment file.
        file: &'a Path,
    },
    /// `exp worker`: trains the pending runs of an experiment read from the store, after
    /// checking that its data here is the data it was stored with; the charts and the
    /// ranking are `exp report`'s and `exp compare`'s, once every worker is done.
    Worker {
        /// The experiment as stored.
        stored: &'a StoredExperiment,
    },
}

impl Role<'_> {
    /// The experiment file, for messages (a worker names the file it was submitted from).
    fn file(&self) -> &Path {
        match self {
            Role::Run { file } => file,
            Role::Worker { stored } => Path::new(&stored.file),
        }
    }
}

/// Trains one validated experiment's pending runs; then, for `exp run`, writes its charts
/// and prints its ranking.
pub(crate) fn run_experiment(
    args: &RunArgs,
    role: Role<'_>,
    experiment: Experiment,
    stop: &Stop,
    shown: &Shown,
) -> anyhow::Result<Outcome> {
    let file = role.file();
    if args.force && experiment.search.is_some() {
        bail!(
            "{}: --force does not apply to a [search]: its trials are drawn once and kept; \
             remove the experiment's runs (exp rm) or give it another `experiment.name` to \
             search again",
            file.display()
        );
    }
    let runs = sweep::runs(&experiment)?;
    let requested = requested_devices(args, &experiment.devices)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = scheduler::devices::plan(&requested, cores, cfg!(feature = "cuda"))?;
    plan.check_pins(&runs)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }

    let datasets = load_checked(file, &experiment, &runs, &args.set)?;

    let fingerprints = data_fingerprints(&datasets);
    let mut store = Store::open_location(&args.db)?;
    let experiment_id = match &role {
        Role::Run { .. } => record_experiment(&mut store, file, &experiment, &fingerprints)?,
        Role::Worker { stored } => {
            check_same_data(stored, &fingerprints)?;
            stored.id
        }
    };
    let owner = Owner::this_process(store.now()?);
    // Say which runs take the per-rating loop: it is chosen by configuration, not by a key.
    let per_rating = runs
        .iter()
        .filter(|run| {
            per_rating::label(run.config.model.architecture, &run.config.training).is_some()
        })
        .count();
    let per_rating = match per_rating {
        0 => String::new(),
        n if n == runs.len() => " (per-rating SGD on the CPU)".to_string(),
        n => format!(" ({n} of them per-rating SGD on the CPU)"),
    };
    eprintln!(
        "{}: {} run(s){per_rating} on {}, results in {}",
        experiment.name,
        runs.len(),
        plan.describe(),
        args.db
    );

    let progress = progress::on_stderr();
    *lock(shown) = Some(Arc::clone(&progress));
    let out_dir = args.db.results_dir(&experiment.name);
    let store = Mutex::new(store);
    let options = SweepOptions {
        slots: &plan.slots,
        owner: &owner,
        force: args.force,
        stop,
    };
    let executor = CandleExecutor::new()
        .with_checkpoints(out_dir.join("checkpoints"))
        .with_checkpoint_mode(args.db.file().and_then(file_mode));
    let on_event = |event: scheduler::Event<'_>| progress.event(&event);
    let result = match &experiment.search {
        None => scheduler::run_sweep(
            &runs,
            &datasets,
            &store,
            experiment_id,
            &executor,
            &options,
            &on_event,
        ),
        Some(_) => {
            let sweep = scheduler::Sweep {
                datasets: &datasets,
                store: &store,
                experiment_id,
                executor: &executor,
                options: &options,
                on_event: &on_event,
            };
            search_sweep(&experiment, &runs, &sweep)
        }
    };
    progress.finish();
    *lock(shown) = None;
    let summary = result?;
    let store = store.into_inner().unwrap_or_else(|p| p.into_inner());
    for error in &summary.worker_errors {
        eprintln!("warning: worker {error}");
    }

    if stop.requested() {
        eprintln!("{}", summary_line(&experiment.name, &summary));
        print_failures(&summary);
        let resume = match role {
            Role::Run { file } => {
                let sets: String = args.set.iter().map(|s| format!(" --set '{s}'")).collect();
                format!("exp run {}{sets} --db {}", file.display(), args.db)
            }
            Role::Worker { stored } => {
                format!("exp worker --db {} --experiment {}", args.db, stored.name)
            }
        };
        eprintln!(
            "interrupted: {} running run(s) marked interrupted, {} not started; the database \
             is consistent. Resume with: {resume}",
            summary.interrupted, summary.not_started,
        );
        return Ok(Outcome::Interrupted);
    }
    if let Role::Worker { .. } = role {
        eprintln!("{}", summary_line(&experiment.name, &summary));
        print_failures(&summary);
        return Ok(if summary.failed.is_empty() && summary.not_started == 0 {
            Outcome::AllDone
        } else {
            Outcome::SomeFailed
        });
    }

    if experiment.search.is_some() {
        match search_summary(&store, &experiment, experiment_id) {
            Ok(line) => eprintln!("{}: {line}", experiment.name),
            Err(error) => eprintln!("warning: cannot summarise the search: {error}"),
        }
    }
    let charts = match report::charts::write_experiment_charts(&store, &experiment.name, &out_dir) {
        Ok(charts) => charts,
        // Nothing finished, now or before: say so, with why, rather than the charts' view.
        Err(report::ReportError::NoFinishedRuns { .. }) => {
            eprintln!(
                "{}; every run failed, so there are no charts or ranking",
                summary_line(&experiment.name, &summary)
            );
            print_failures(&summary);
            return Ok(Outcome::SomeFailed);
        }
        Err(error) => {
            return Err(error).with_context(|| format!("writing charts to {}", out_dir.display()));
        }
    };
    let mut charts = charts;
    if let Some(view) = report::search::stored::search_view(&store, &experiment.name)? {
        charts.extend(
            report::search::write_search_charts(&view, &out_dir)
                .with_context(|| format!("writing search charts to {}", out_dir.display()))?,
        );
    }
    let stored = store.runs(Some(&experiment.name))?;
    let summaries = report::compare::summarize(&stored);
    if let Some(note) = report::compare::superseded_note(&summaries) {
        eprintln!("{}: {note}", experiment.name);
    }
    print!(
        "{}",
        report::compare::render(
            &summaries,
            &report::Metric::rmse(),
            report::compare::Format::Table
        )
    );
    eprintln!(
        "{}; charts: {}",
        summary_line(&experiment.name, &summary),
        charts
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    print_failures(&summary);
    if summary.not_started > 0 {
        eprintln!(
            "{} run(s) were not started: no worker could take them (see the warnings above)",
            summary.not_started
        );
    }
    if summary.failed.is_empty() && summary.not_started == 0 {
        Ok(Outcome::AllDone)
    } else {
        Ok(Outcome::SomeFailed)
    }
}

/// Loads the data sets `runs` use and checks what only the data can tell (memory, the
/// rating range, folds and splits that fit), before anything trains or is stored.
fn load_checked(
    file: &Path,
    experiment: &Experiment,
    runs: &[RunSpec],
    set: &[String],
) -> anyhow::Result<HashMap<DataSpec, Arc<Dataset>>> {
    let mut datasets = HashMap::new();
    for run in runs {
        if !datasets.contains_key(&run.config.data) {
            let dataset = data::load(&run.config.data).with_context(|| {
                format!("loading data set {}", run.config.data.dataset.as_str())
            })?;
            eprintln!(
                "{}: {} users, {} items, {} ratings",
                dataset.name,
                dataset.n_users(),
                dataset.n_items(),
                dataset.ratings.len()
            );
            // Skipped lines and what the [data] filters removed.
            for line in dataset.report.lines() {
                eprintln!("{line}");
            }
            datasets.insert(run.config.data.clone(), Arc::new(dataset));
        }
    }
    // What only the data can tell (memory, the rating range), before anything trains.
    crate::preflight::check(experiment, set, &datasets)?;

    check_folds_fit(file, runs, &datasets)?;
    check_splits(file, runs, &datasets)?;
    Ok(datasets)
}

/// Validates `experiment` against its data and stores it in `db` (file text, `--set`
/// overrides, data checksums) without training anything: what `exp slurm submit` does
/// before the workers start. Returns its id and how many runs its grid has.
pub(crate) fn store_experiment(
    db: &crate::store::Location,
    file: &Path,
    experiment: &Experiment,
) -> anyhow::Result<(i64, usize)> {
    let runs = sweep::runs(experiment)?;
    let datasets = load_checked(file, experiment, &runs, &experiment.overrides)?;
    let mut store = Store::open_location(db)?;
    let id = record_experiment(&mut store, file, experiment, &data_fingerprints(&datasets))?;
    Ok((id, runs.len()))
}

/// Stores the experiment's file text, overrides and data checksums; returns its id.
fn record_experiment(
    store: &mut Store,
    file: &Path,
    experiment: &Experiment,
    fingerprints: &str,
) -> anyhow::Result<i64> {
    let id = store.upsert_experiment(
        &experiment.name,
        &file.display().to_string(),
        &experiment.source_text,
    )?;
    store.record_experiment_inputs(id, &experiment.overrides, fingerprints)?;
    Ok(id)
}

/// Each data set's [`data::fingerprint`] as a JSON object, data set name to SHA-256, in
/// name order: what the store records with the experiment and a worker compares.
fn data_fingerprints(datasets: &HashMap<DataSpec, Arc<Dataset>>) -> String {
    let mut by_name = std::collections::BTreeMap::new();
    for dataset in datasets.values() {
        let mut name = dataset.name.clone();
        // Two specs of one data set (other filters) get their own entries.
        let mut n = 1;
        while by_name.contains_key(&name) {
            n += 1;
            name = format!("{}#{n}", dataset.name);
        }
        by_name.insert(name, data::fingerprint(dataset));
    }
    serde_json::to_string(&by_name).unwrap_or_default()
}

/// Refuses to train when this worker's data differs from the data the experiment was
/// stored with (another release of the data set, a file edited or cut short): its runs
/// would not be comparable with the others'.
fn check_same_data(stored: &StoredExperiment, here: &str) -> anyhow::Result<()> {
    let Some(recorded) = stored.data_sha256.as_deref() else {
        return Ok(()); // stored before exp recorded checksums
    };
    if recorded == here {
        return Ok(());
    }
    let parse = |text: &str| -> std::collections::BTreeMap<String, String> {
        serde_json::from_str(text).unwrap_or_default()
    };
    let (recorded, here) = (parse(recorded), parse(here));
    let differences: Vec<String> = recorded
        .iter()
        .map(|(name, sha)| match here.get(name) {
            Some(local) if local == sha => String::new(),
            Some(local) => format!(
                "data set {name}: SHA-256 {} here, {} when the experiment was stored",
                short(local),
                short(sha)
            ),
            None => format!("data set {name} was not loaded here"),
        })
        .filter(|line| !line.is_empty())
        .collect();
    bail!(
        "experiment `{}`: this worker's data is not the data it was stored with, so it \
         will not train (its runs would not be comparable): {}; give every node the same \
         copy (EXP_DATA_DIR), or run the experiment again under another name",
        stored.name,
        if differences.is_empty() {
            "the data sets differ".to_string()
        } else {
            differences.join("; ")
        }
    )
}

/// The first 12 hex digits of a SHA-256: enough to tell two apart in a message.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The Unix permission bits of the file at `path` (the database), if they can be read.
fn file_mode(path: &std::path::Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).ok().map(|m| m.permissions().mode())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The devices asked for: `--devices`, else the file's `experiment.devices`, else `cpu`;
/// `--jobs N` then sets the CPU entry to `cpu:N`, keeping any CUDA devices.
/// Refuses a k-fold split with more folds than its data set has ratings (a fold without a
/// test rating has no score), before anything trains.
fn check_folds_fit(
    file: &Path,
    runs: &[RunSpec],
    datasets: &HashMap<DataSpec, Arc<Dataset>>,
) -> anyhow::Result<()> {
    for run in runs {
        let (SplitSpec::Kfold { k, .. }, Some(dataset)) =
            (&run.config.split, datasets.get(&run.config.data))
        else {
            continue;
        };
        if *k > dataset.ratings.len() {
            bail!(
                "{}: `split.k` = {k} is more than the {} ratings of {}: every fold needs at \
                 least one test rating",
                file.display(),
                dataset.ratings.len(),
                dataset.name
            );
        }
    }
    Ok(())
}

/// Makes each fold of the predefined, temporal and user-holdout splits once before anything
/// trains, so a missing or mismatched split file or a data set without timestamps stops
/// the experiment at once rather than failing every run, and says how many test ratings
/// have a user or item with no training rating (the model scores those from its fallback).
fn check_splits(
    file: &Path,
    runs: &[RunSpec],
    datasets: &HashMap<DataSpec, Arc<Dataset>>,
) -> anyhow::Result<()> {
    let mut seen: Vec<(&DataSpec, &SplitSpec, u64, usize)> = Vec::new();
    for run in runs {
        if matches!(
            run.config.split,
            SplitSpec::Holdout { .. } | SplitSpec::Kfold { .. }
        ) {
            continue;
        }
        let key = (&run.config.data, &run.config.split, run.seed, run.fold);
        let Some(dataset) = datasets.get(&run.config.data) else {
            continue;
        };
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let split = split_for(run, dataset).with_context(|| {
            format!(
                "{}: making fold {} of the `{}` split",
                file.display(),
                run.fold,
                run.config.split.kind()
            )
        })?;
        let cold = cold_start(&dataset.ratings, &split);
        eprintln!(
            "{} split, fold {}: {} training, {} validation, {} test ratings",
            run.config.split.kind(),
            run.fold,
            split.train.len(),
            split.validation.len(),
            split.test.len()
        );
        if let Some(note) = cold.note(split.test.len()) {
            eprintln!("  {note}");
        }
    }
    Ok(())
}

fn requested_devices(args: &RunArgs, from_file: &[DeviceSpec]) -> anyhow::Result<Vec<DeviceSpec>> {
    let mut devices = match (&args.devices, from_file) {
        (Some(list), _) => list.clone(),
        (None, []) => vec![DeviceSpec::Cpu { workers: None }],
        (None, list) => list.to_vec(),
    };
    if let Some(jobs) = args.jobs {
        if jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        devices.retain(|d| d.kind() != DeviceKind::Cpu);
        devices.push(DeviceSpec::Cpu {
            workers: Some(jobs),
        });
    }
    Ok(devices)
}

/// The progress display of the sweep running now, if any: the stop handler prints
/// through it (a bare `eprintln` would break the bars' redrawing and leave stale lines)
/// and clears it before a forced exit.
pub(crate) type Shown = Arc<Mutex<Option<Arc<dyn Progress + Send>>>>;

fn lock(shown: &Shown) -> std::sync::MutexGuard<'_, Option<Arc<dyn Progress + Send>>> {
    shown.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ctrl-C and SIGTERM raise `stop` (running runs end at their next batch, marked
/// interrupted); a second signal clears the display and exits at once, leaving running
/// rows for the next `exp run` to reclaim.
pub(crate) fn install_stop_handler(stop: &Stop, shown: &Shown) -> anyhow::Result<()> {
    let stop = stop.clone();
    let shown = Arc::clone(shown);
    let result = ctrlc::set_handler(move || {
        let progress = lock(&shown).clone();
        let say = |message: &str| match &progress {
            Some(progress) => progress.println(message),
            None => eprintln!("{message}"),
        };
        if stop.requested() {
            if let Some(progress) = &progress {
                progress.finish();
            }
            eprintln!("second stop signal: exiting now");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        say(
            "stopping: no new run starts; running runs stop at their next batch \
             (signal again to exit at once)",
        );
        stop.request();
    });
    match result {
        // A handler from an earlier call in this process stays; exp calls this once.
        Ok(()) | Err(ctrlc::Error::MultipleHandlers) => Ok(()),
        Err(e) => Err(e).context("installing the Ctrl-C / SIGTERM handler"),
    }
}

/// `sweep: 3 finished, 1 failed, 2 already done` and whatever else happened.
fn summary_line(name: &str, summary: &SweepSummary) -> String {
    let mut line = format!(
        "{name}: {} finished, {} failed, {} already done",
        summary.finished,
        summary.failed.len(),
        summary.skipped
    );
    for (n, what) in [
        (summary.elsewhere, "left to another exp process"),
        (summary.pruned, "pruned"),
        (summary.interrupted, "interrupted"),
        (summary.not_started, "not started"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    }
    line
}

/// Trains `experiment`'s search: the runs of its trials as they are drawn. Progress is
/// told the runs of the trials left, each counted as the base configuration's runs.
fn search_sweep(
    experiment: &Experiment,
    base_runs: &[RunSpec],
    sweep: &scheduler::Sweep<'_>,
) -> Result<SweepSummary, scheduler::SchedulerError> {
    let configure = |params: &[(String, toml::Value)]| config::trial_config(experiment, params);
    let queue = SearchQueue::new(experiment, &configure, sweep.store, sweep.experiment_id)?;
    let drawn = sweep
        .store
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .trials(sweep.experiment_id)?
        .len();
    let trials = experiment.search.as_ref().map_or(0, |s| s.trials);
    let left = trials.saturating_sub(drawn) * base_runs.len() + queue.left();
    let pending: Vec<&RunSpec> = base_runs.iter().cycle().take(left).collect();
    (sweep.on_event)(scheduler::Event::Queued {
        pending: &pending,
        skipped: 0,
        workers: sweep.options.slots.len(),
    });
    sweep.run(&queue)
}

/// One line on a search's trials: how many ended how, and the best by its objective with
/// its test RMSE.
fn search_summary(
    store: &Store,
    experiment: &Experiment,
    experiment_id: i64,
) -> anyhow::Result<String> {
    let trials = store.trials(experiment_id)?;
    let count = |status| trials.iter().filter(|t| t.status == status).count();
    let mut line = format!(
        "search: {} trials ({} complete, {} pruned, {} failed, {} unfinished)",
        trials.len(),
        count(TrialStatus::Complete),
        count(TrialStatus::Pruned),
        count(TrialStatus::Failed),
        count(TrialStatus::Running)
    );
    let best = trials
        .iter()
        .filter(|t| t.status == TrialStatus::Complete)
        .filter_map(|t| Some((t, t.value.filter(|v| v.is_finite())?)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((trial, value)) = best {
        let runs = store.trial_runs(experiment_id, trial.number, Objective::ValidationRmse)?;
        let rmse: Vec<f64> = runs.iter().filter_map(|r| r.rmse).collect();
        let test = rmse.iter().sum::<f64>() / rmse.len().max(1) as f64;
        let params = search::sampler::parse_params(&trial.params_json).unwrap_or_default();
        // Read back sorted by key: shown in the order of the space (or the grid).
        let params = match experiment.search.as_ref() {
            Some(spec) => search::space::in_space_order(params, spec, experiment),
            None => params,
        };
        line.push_str(&format!(
            "; best trial {} ({}): objective {value:.4}, test RMSE {test:.4}",
            trial.number,
            sweep::params_label(&params)
        ));
    }
    Ok(line)
}

fn print_failures(summary: &SweepSummary) {
    if summary.failed.is_empty() {
        return;
    }
    eprintln!("failed runs:");
    for failure in &summary.failed {
        eprintln!("  {}: {}", failure.label, failure.error);
    }
}
