//! A search driven through the real scheduler with an executor that trains nothing: its
//! validation score is a known function of the learning rate and the epoch, so which
//! trials a pruner stops, and how a resumed search goes on, can be checked exactly.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::queue::SearchQueue;
use super::spec::{Distribution, Parameter, PrunerKind, PrunerSpec, SearchSpec, Strategy};
use crate::config::spec::{Experiment, RunConfig};
use crate::config::{self, ConfigError};
use crate::data::dataset::Dataset;
use crate::runner::{Executor, RunEnv, RunError, RunResult};
use crate::scheduler::{Slot, Stop, Sweep, SweepOptions, SweepSummary};
use crate::store::Store;
use crate::store::owner::Owner;
use crate::store::records::{EpochRecord, RunStatus};
use crate::store::trials::TrialStatus;
use crate::sweep::{self, RunSpec};
use crate::train::EpochControl;

/// Validation RMSE `0.8 + 0.1 |log10(lr / 0.01)| + 0.5 / epoch` (+ 0.001 per fold): the
/// best learning rate is 0.01 and every run improves each epoch. Raises `stop` when it
/// starts trial `stop_at`.
struct Scored {
    epochs_trained: AtomicUsize,
    stop_at: Option<(usize, Stop)>,
}

impl Scored {
    fn new() -> Self {
        Scored {
            epochs_trained: AtomicUsize::new(0),
            stop_at: None,
        }
    }
}

fn score(run: &RunSpec, epoch: usize) -> f64 {
    let lr = run.config.training.learning_rate;
    0.8 + 0.1 * (lr / 0.01).log10().abs() + 0.5 / epoch as f64 + 0.001 * run.fold as f64
}

impl Executor for Scored {
    fn execute(
        &self,
        run: &RunSpec,
        _data: &Dataset,
        env: &RunEnv<'_>,
        on_epoch: &mut dyn FnMut(&EpochRecord) -> EpochControl,
    ) -> Result<RunResult, RunError> {
        if let Some((trial, stop)) = &self.stop_at
            && run.trial == Some(*trial)
        {
            stop.request();
        }
        let epochs = run.config.training.epochs;
        for epoch in 1..=epochs {
            if env.stop.load(Ordering::SeqCst) {
                return Err(RunError::Interrupted(format!("before epoch {epoch}")));
            }
            self.epochs_trained.fetch_add(1, Ordering::SeqCst);
            let control = on_epoch(&EpochRecord {
                epoch,
                train_loss: 1.0,
                rmse: score(run, epoch) + 0.05,
                mae: 0.7,
                seconds: 0.001,
                train_seconds: None,
                validation_rmse: Some(score(run, epoch)),
                validation_mae: None,
            });
            if control == EpochControl::Prune {
                return Err(RunError::Pruned(epoch));
            }
        }
        Ok(RunResult {
            rmse: score(run, epochs) + 0.05,
            mae: 0.7,
            best_epoch: epochs,
            seconds: 0.01,
            checkpoint: None,
            engine: None,
            metrics: Vec::new(),
            predictions: None,
            user_metrics: Vec::new(),
        })
    }
}

fn experiment(split: &str, strategy: Strategy, trials: usize, pruner: PrunerKind) -> Experiment {
    let text = format!(
        "[experiment]\nname = \"search\"\nseed = 3\n[data]\ndataset = \"ml-latest-small\"\n\
         [split]\n{split}\n[model]\narchitecture = \"biased-mf\"\nembedding_size = 8\n\
         [training]\nepochs = 9\nbatch_size = 8\nlearning_rate = 0.01\n"
    );
    let mut experiment = config::parse_experiment(&text, Path::new("search.toml")).unwrap();
    experiment.search = Some(SearchSpec {
        strategy,
        trials,
        seed: 3,
        space: vec![Parameter {
            key: "training.learning_rate".into(),
            distribution: Distribution::LogUniform {
                low: 1e-4,
                high: 1.0,
            },
            when: None,
        }],
        startup_trials: 10,
        candidates: 24,
        gamma: 0.1,
        pruner: PrunerSpec {
            kind: pruner,
            min_epochs: 1,
            reduction_factor: 3,
            max_epochs: 9,
            startup_trials: 5,
            p_threshold: 0.1,
        },
    });
    experiment
}

const HOLDOUT: &str = "kind = \"holdout\"\ntest_fraction = 0.1\nvalidation_fraction = 0.05";
const KFOLD: &str = "kind = \"kfold\"\nk = 5";

/// The base configuration with the trial's learning rate.
fn configure(
    base: &RunConfig,
) -> impl Fn(&[(String, toml::Value)]) -> Result<RunConfig, ConfigError> + Sync + '_ {
    move |params| {
        let mut config = base.clone();
        for (key, value) in params {
            if key == "training.learning_rate" {
                config.training.learning_rate = value.as_float().unwrap();
            }
        }
        Ok(config)
    }
}

fn me() -> Owner {
    Owner {
        host: "test".into(),
        pid: std::process::id(),
        since: "9999-01-01T00:00:00.000Z".into(),
    }
}

fn search(
    experiment: &Experiment,
    store: &Mutex<Store>,
    executor: &Scored,
    slots: &[Slot],
    stop: &Stop,
) -> SweepSummary {
    let experiment_id = store
        .lock()
        .unwrap()
        .upsert_experiment("search", "search.toml", "")
        .unwrap();
    // The executor reads no ratings.
    let data = Arc::new(Dataset::from_triples(&[]));
    let datasets = HashMap::from([(experiment.base.data.clone(), data)]);
    let owner = me();
    let options = SweepOptions {
        slots,
        owner: &owner,
        force: false,
        stop,
    };
    let configure = configure(&experiment.base);
    let queue = SearchQueue::new(experiment, &configure, store, experiment_id).unwrap();
    Sweep {
        datasets: &datasets,
        store,
        experiment_id,
        executor,
        options: &options,
        on_event: &|_| {},
    }
    .run(&queue)
    .unwrap()
}

/// [`search`] on one worker, uninterrupted: runs report in trial order, so every
/// verdict is deterministic.
fn one_worker(experiment: &Experiment, store: &Mutex<Store>) -> SweepSummary {
    search(
        experiment,
        store,
        &Scored::new(),
        &[Slot::Cpu(0)],
        &Stop::new(),
    )
}

fn two_workers() -> [Slot; 2] {
    [Slot::Cpu(0), Slot::Cpu(1)]
}

#[test]
fn a_random_search_runs_exactly_its_trials_with_distinct_values() {
    let experiment = experiment(HOLDOUT, Strategy::Random, 12, PrunerKind::None);
    let store = Mutex::new(Store::open_in_memory().unwrap());
    let summary = search(
        &experiment,
        &store,
        &Scored::new(),
        &two_workers(),
        &Stop::new(),
    );
    assert_eq!((summary.finished, summary.pruned), (12, 0));
    let store = store.into_inner().unwrap();
    let trials = store.trials(1).unwrap();
    assert_eq!(trials.len(), 12);
    let distinct: HashSet<&str> = trials.iter().map(|t| t.params_json.as_str()).collect();
    assert_eq!(distinct.len(), 12);
    for trial in &trials {
        assert_eq!(trial.status, TrialStatus::Complete);
        // The value is the run's validation RMSE at its last epoch.
        let params = super::sampler::parse_params(&trial.params_json).unwrap();
        let lr = params[0].1.as_float().unwrap();
        let expected = 0.8 + 0.1 * (lr / 0.01).log10().abs() + 0.5 / 9.0;
        assert!((trial.value.unwrap() - expected).abs() < 1e-9, "{trial:?}");
    }
    let runs = store.runs(Some("search")).unwrap();
    assert_eq!(runs.len(), 12);
    assert!(runs.iter().all(|r| r.status == RunStatus::Finished));
}

#[test]
fn asha_stops_runs_at_rungs_and_keeps_their_epochs() {
    let experiment = experiment(HOLDOUT, Strategy::Random, 20, PrunerKind::Asha);
    let store = Mutex::new(Store::open_in_memory().unwrap());
    let executor = Scored::new();
    // One worker: runs report in trial order, so the verdicts are deterministic.
    let summary = search(
        &experiment,
        &store,
        &executor,
        &[Slot::Cpu(0)],
        &Stop::new(),
    );
    assert_eq!(summary.finished + summary.pruned, 20);
    assert!(summary.pruned >= 10, "{summary:?}");
    let store = store.into_inner().unwrap();
    let runs = store.runs(Some("search")).unwrap();
    let epochs = executor.epochs_trained.load(Ordering::SeqCst);
    assert!(epochs <= 20 * 9 * 6 / 10, "trained {epochs} of 180 epochs");
    for run in &runs {
        let stored = store.epochs(run.id).unwrap().len();
        match run.status {
            // A pruned run stopped at a rung (1 or 3: the last epoch is never pruned).
            RunStatus::Pruned => {
                assert!([1, 3].contains(&stored), "{stored}");
                assert!(run.error.as_deref().unwrap().contains("by asha"));
            }
            RunStatus::Finished => assert_eq!(stored, 9),
            other => panic!("{other:?}"),
        }
    }
    let trials = store.trials(1).unwrap();
    let pruned = trials
        .iter()
        .filter(|t| t.status == TrialStatus::Pruned)
        .count();
    assert_eq!(pruned, summary.pruned);
    // The best trial survived every rung.
    let best = trials
        .iter()
        .min_by(|a, b| a.value.unwrap().total_cmp(&b.value.unwrap()))
        .unwrap();
    assert_eq!(best.status, TrialStatus::Complete);
}

#[test]
fn a_stopped_search_resumes_to_exactly_its_trials() {
    let experiment = experiment(HOLDOUT, Strategy::Tpe, 15, PrunerKind::Asha);
    let store = Mutex::new(Store::open_in_memory().unwrap());
    // Uninterrupted, one worker: the reference sequence of trials.
    let reference = {
        let store = Mutex::new(Store::open_in_memory().unwrap());
        one_worker(&experiment, &store);
        store.into_inner().unwrap().trials(1).unwrap()
    };
    // Stopped three times, at trials 4, 8 and 11, then resumed to the end.
    for at in [4, 8, 11] {
        let stop = Stop::new();
        let executor = Scored {
            epochs_trained: AtomicUsize::new(0),
            stop_at: Some((at, stop.clone())),
        };
        let summary = search(&experiment, &store, &executor, &[Slot::Cpu(0)], &stop);
        assert_eq!(summary.interrupted, 1, "{summary:?}");
    }
    let pruned_before: Vec<i64> = store
        .lock()
        .unwrap()
        .runs(Some("search"))
        .unwrap()
        .iter()
        .filter(|r| r.status == RunStatus::Pruned)
        .map(|r| r.id)
        .collect();
    one_worker(&experiment, &store);
    let store = store.into_inner().unwrap();
    let trials = store.trials(1).unwrap();
    assert_eq!(trials.len(), 15);
    // The same trials, drawn from the same histories, as without the stops.
    let values = |t: &[crate::store::trials::StoredTrial]| {
        t.iter()
            .map(|t| (t.params_json.clone(), t.status, t.history))
            .collect::<Vec<_>>()
    };
    assert_eq!(values(&trials), values(&reference));
    let runs = store.runs(Some("search")).unwrap();
    assert_eq!(runs.len(), 15, "one run per trial, none twice");
    for id in pruned_before {
        let run = runs.iter().find(|r| r.id == id).unwrap();
        assert_eq!(run.status, RunStatus::Pruned, "kept as pruned");
    }
}

#[test]
fn wilcoxon_skips_the_last_fold_of_a_trial_worse_on_four() {
    let mut experiment = experiment(KFOLD, Strategy::Random, 6, PrunerKind::Wilcoxon);
    // Trial 0 at the optimum; trials 1.. far from it.
    let spec = experiment.search.as_mut().unwrap();
    spec.space[0].distribution = Distribution::LogUniform {
        low: 0.009,
        high: 0.011,
    };
    let store = Mutex::new(Store::open_in_memory().unwrap());
    let summary = one_worker(&experiment, &store);
    let store = store.into_inner().unwrap();
    let trials = store.trials(1).unwrap();
    assert_eq!(trials.len(), 6);
    // With one worker, trial n's folds run in order: after a complete trial 0, a worse
    // trial is stopped after its 4th fold (p = 1/16 < 0.1) unless it is the better one.
    let runs = store.runs(Some("search")).unwrap();
    for trial in &trials[1..] {
        let folds = runs
            .iter()
            .filter(|r| r.params_json == trial.params_json)
            .count();
        match trial.status {
            TrialStatus::Pruned => assert_eq!(folds, 4, "{trial:?} {runs:#?}"),
            TrialStatus::Complete => assert_eq!(folds, 5),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        trials.iter().any(|t| t.status == TrialStatus::Pruned),
        "{trials:?} {summary:?}"
    );
}

#[test]
fn a_grid_as_a_search_keeps_its_run_keys() {
    let text = "[experiment]\nname = \"search\"\n[data]\ndataset = \"ml-latest-small\"\n\
                [split]\nkind = \"holdout\"\ntest_fraction = 0.1\nvalidation_fraction = 0.05\n[model]\n\
                architecture = \"biased-mf\"\nembedding_size = 8\n[training]\nepochs = 9\n\
                batch_size = 8\nlearning_rate = 0.01\n\
                [sweep]\ntraining.learning_rate = [0.001, 0.01, 0.1, 1.0]\n";
    let mut experiment = config::parse_experiment(text, Path::new("grid.toml")).unwrap();
    let grid_keys: Vec<String> = sweep::runs(&experiment)
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    let mut spec = self::experiment(HOLDOUT, Strategy::Grid, 4, PrunerKind::Asha)
        .search
        .unwrap();
    spec.space.clear();
    experiment.search = Some(spec);
    let store = Mutex::new(Store::open_in_memory().unwrap());
    let summary = one_worker(&experiment, &store);
    assert_eq!(summary.finished + summary.pruned, 4);
    assert!(summary.pruned >= 1, "{summary:?}");
    let store = store.into_inner().unwrap();
    let keys: Vec<String> = store
        .runs(Some("search"))
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, grid_keys);
}

#[test]
fn median_stops_runs_worse_than_the_finished_ones_once_five_have_finished() {
    let experiment = experiment(HOLDOUT, Strategy::Random, 16, PrunerKind::Median);
    let store = Mutex::new(Store::open_in_memory().unwrap());
    let summary = one_worker(&experiment, &store);
    assert_eq!(summary.finished + summary.pruned, 16);
    let store = store.into_inner().unwrap();
    let runs = store.runs(Some("search")).unwrap();
    // Nothing is pruned before five runs have finished (one worker: trial order).
    let first_pruned = runs.iter().position(|r| r.status == RunStatus::Pruned);
    let finished_before = runs[..first_pruned.unwrap_or(runs.len())]
        .iter()
        .filter(|r| r.status == RunStatus::Finished)
        .count();
    assert!(first_pruned.is_some(), "median pruned nothing: {summary:?}");
    assert!(finished_before >= 5, "{finished_before}");
    // A pruned run's best score was worse than the median of the finished runs at its
    // last epoch (here every run improves each epoch, so its score at that epoch).
    for run in runs.iter().filter(|r| r.status == RunStatus::Pruned) {
        let epochs = store.epochs(run.id).unwrap();
        let last = epochs.last().unwrap();
        let reason = run.error.as_deref().unwrap();
        assert!(reason.contains("by median"), "{reason}");
        assert!(
            reason.contains(&format!("{:.4}", last.validation_rmse.unwrap())),
            "{reason}"
        );
    }
}
