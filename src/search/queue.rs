//! A search as the scheduler's queue: trials are drawn when a worker needs a run, each
//! trial's runs (its folds and repeats) are queued, and every epoch goes past the pruner.
//!
//! Everything a search knows lives in the store, so any number of `exp run` processes
//! can share one search and a killed one resumes it:
//!
//! - a new trial number is taken with the history it was drawn from in one transaction
//!   ([`Store::draw_trial`]): never twice, never past `search.trials`;
//! - a process first queues the unfinished runs of trials already drawn (by anyone), and
//!   draws a new trial only when it has nothing else to train, so one worker alone
//!   repeats exactly the trial sequence an uninterrupted search would have drawn;
//! - a trial ends when its runs have: complete (all finished), pruned (one was pruned,
//!   or Wilcoxon stopped its remaining folds) or failed; its value is the mean objective
//!   of its runs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::sampler::{self, SampleError};
use super::spec::{PrunerKind, SearchSpec, Strategy};
use super::{pruner, space};
use crate::config::ConfigError;
use crate::config::spec::{Experiment, RunConfig};
use crate::scheduler::{RunQueue, SchedulerError, Slot};
use crate::store::records::{EpochRecord, RunStatus};
use crate::store::trials::{NewTrial, Objective, StoredTrial, TrialRun, TrialStatus};
use crate::store::{Store, StoreError};
use crate::sweep::{self, GridPoint, RunSpec};

/// Builds the configuration of a trial from its values (`config::trial_config` of the
/// experiment, or a grid point's configuration).
pub type Configure<'a> =
    dyn Fn(&[(String, toml::Value)]) -> Result<RunConfig, ConfigError> + Sync + 'a;

/// Why a search could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The experiment has no `[search]` table (a bug in the caller).
    #[error("internal error: the experiment has no [search] table")]
    NotASearch,
    /// No new values could be drawn.
    #[error("drawing trial {number}: {source}")]
    Sample {
        /// The trial.
        number: usize,
        /// Why.
        #[source]
        source: SampleError,
    },
    /// A trial's values did not make a valid configuration.
    #[error("trial {number} ({values}): {source}")]
    Configure {
        /// The trial.
        number: usize,
        /// Its values, as a label.
        values: String,
        /// Why.
        #[source]
        source: ConfigError,
    },
}

impl From<SearchError> for SchedulerError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Store(e) => SchedulerError::Store(e),
            other => SchedulerError::Search(other.to_string()),
        }
    }
}

/// One search's queue of runs; see the module documentation.
pub struct SearchQueue<'a> {
    experiment: &'a Experiment,
    spec: &'a SearchSpec,
    /// `strategy = "grid"`: the grid's points, trial n being point n.
    grid: Vec<GridPoint>,
    configure: &'a Configure<'a>,
    store: &'a Mutex<Store>,
    experiment_id: i64,
    objective: Objective,
    rungs: Vec<usize>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Runs of drawn trials waiting for a worker, trial by trial.
    queue: VecDeque<Arc<RunSpec>>,
    /// A trial's runs, by trial number, once built.
    runs: HashMap<usize, Vec<Arc<RunSpec>>>,
    /// No trial is left to draw.
    drawn_all: bool,
}

impl<'a> SearchQueue<'a> {
    /// The queue of `experiment`'s search (`experiment.search` must be set) stored under
    /// `experiment_id`: the unfinished runs of trials drawn earlier come first. Trials
    /// whose runs all ended while no process was there to say so are ended now.
    pub fn new(
        experiment: &'a Experiment,
        configure: &'a Configure<'a>,
        store: &'a Mutex<Store>,
        experiment_id: i64,
    ) -> Result<Self, SearchError> {
        let spec = experiment.search.as_ref().ok_or(SearchError::NotASearch)?;
        let grid = match spec.strategy {
            Strategy::Grid => {
                sweep::expand(experiment).map_err(|source| SearchError::Configure {
                    number: 0,
                    values: "grid".into(),
                    source,
                })?
            }
            Strategy::Random | Strategy::Tpe => Vec::new(),
        };
        let objective = if experiment.base.split.validation_fraction() > 0.0 {
            Objective::ValidationRmse
        } else {
            Objective::FoldRmse
        };
        let rungs = match spec.pruner.kind {
            PrunerKind::Asha => pruner::rungs(&spec.pruner),
            _ => Vec::new(),
        };
        let queue = SearchQueue {
            experiment,
            spec,
            grid,
            configure,
            store,
            experiment_id,
            objective,
            rungs,
            state: Mutex::new(State::default()),
        };
        let trials = lock(store).trials(experiment_id)?;
        for trial in trials.iter().filter(|t| t.status == TrialStatus::Running) {
            let runs = queue.trial_runs(trial)?;
            if queue.conclude(trial.number, runs.len())?.is_some() {
                continue;
            }
            let done = lock(store).finished_keys(experiment_id)?;
            let mut state = lock(&queue.state);
            state
                .queue
                .extend(runs.iter().filter(|run| !done.contains(&run.key)).cloned());
            state.runs.insert(trial.number, runs);
        }
        Ok(queue)
    }

    /// The objective the search minimises.
    pub fn objective(&self) -> Objective {
        self.objective
    }

    /// The runs of `trial`: its configuration on every repeat and fold.
    fn trial_runs(&self, trial: &StoredTrial) -> Result<Vec<Arc<RunSpec>>, SearchError> {
        let params = space::in_space_order(
            sampler::parse_params(&trial.params_json).unwrap_or_default(),
            self.spec,
            self.experiment,
        );
        let config = match self.spec.strategy {
            Strategy::Grid => self
                .grid
                .get(trial.number)
                .map(|point| point.config.clone())
                .ok_or_else(|| SearchError::Sample {
                    number: trial.number,
                    source: SampleError::Tpe("past the end of the grid".into()),
                })?,
            Strategy::Random | Strategy::Tpe => {
                (self.configure)(&params).map_err(|source| SearchError::Configure {
                    number: trial.number,
                    values: sweep::params_label(&params),
                    source,
                })?
            }
        };
        let folds = config.split.folds();
        let mut runs = Vec::new();
        for repeat in 0..self.experiment.repeats.max(1) {
            let seed = self.experiment.repeat_seed(repeat);
            for fold in 0..folds {
                runs.push(Arc::new(RunSpec {
                    experiment: self.experiment.name.clone(),
                    point: trial.number,
                    params: params.clone(),
                    config: config.clone(),
                    seed,
                    repeat,
                    fold,
                    folds,
                    key: sweep::run_key(seed, &config, fold),
                    trial: Some(trial.number),
                }));
            }
        }
        Ok(runs)
    }

    /// Draws the next trial, if any is left, and queues its runs.
    fn draw_next(&self, state: &mut State) -> Result<bool, SearchError> {
        let spec = self.spec;
        let grid = &self.grid;
        let drawn = lock(self.store).draw_trial(
            self.experiment_id,
            spec.trials,
            |number, trials: &[StoredTrial]| match spec.strategy {
                Strategy::Grid => {
                    let point = grid
                        .get(number)
                        .ok_or(SampleError::Exhausted { attempts: 0 })?;
                    Ok(NewTrial {
                        params_json: sweep::params_json(&point.params),
                        sampler: "grid".into(),
                        sampler_seed: spec.seed,
                        history: 0,
                    })
                }
                Strategy::Random | Strategy::Tpe => {
                    sampler::draw(spec, number, trials).map(|(_, new)| new)
                }
            },
        )?;
        let trial = match drawn {
            Ok(Some(trial)) => trial,
            Ok(None) => {
                state.drawn_all = true;
                return Ok(false);
            }
            Err(source) => {
                let number = lock(self.store).trials(self.experiment_id)?.len();
                return Err(SearchError::Sample { number, source });
            }
        };
        let runs = self.trial_runs(&trial)?;
        state.queue.extend(runs.iter().cloned());
        state.runs.insert(trial.number, runs);
        Ok(true)
    }

    /// Ends trial `number` in the store if all of its `expected` runs have ended (or
    /// one was pruned or failed): returns its status then.
    fn conclude(&self, number: usize, expected: usize) -> Result<Option<TrialStatus>, StoreError> {
        let mut store = lock(self.store);
        let runs = store.trial_runs(self.experiment_id, number, self.objective)?;
        let Some((status, value)) = outcome(&runs, expected) else {
            return Ok(None);
        };
        store.end_trial(self.experiment_id, number, status, value)?;
        Ok(Some(status))
    }

    /// Whether trial `number` has ended in the store (another process may have pruned it).
    fn trial_ended(&self, number: usize) -> Result<bool, StoreError> {
        let trials = lock(self.store).trials(self.experiment_id)?;
        Ok(trials
            .get(number)
            .is_some_and(|t| t.status != TrialStatus::Running))
    }

    /// Drops the queued runs of trial `number`.
    fn drop_trial(&self, number: usize) {
        lock(&self.state)
            .queue
            .retain(|run| run.trial != Some(number));
    }

    /// Wilcoxon: whether trial `number`'s finished folds are significantly worse than the
    /// best complete trial's on the same folds.
    fn wilcoxon_verdict(&self, number: usize) -> Result<Option<String>, StoreError> {
        let store = lock(self.store);
        let trials = store.trials(self.experiment_id)?;
        let best = trials
            .iter()
            .filter(|t| t.status == TrialStatus::Complete && t.number != number)
            .filter_map(|t| Some((t.number, t.value.filter(|v| v.is_finite())?)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((best, _)) = best else {
            return Ok(None);
        };
        let best_runs = store.trial_runs(self.experiment_id, best, self.objective)?;
        let mine = store.trial_runs(self.experiment_id, number, self.objective)?;
        let (mut scores, mut reference) = (Vec::new(), Vec::new());
        for run in mine.iter().filter(|r| r.status == RunStatus::Finished) {
            let theirs = best_runs
                .iter()
                .find(|b| b.fold == run.fold && b.repeat == run.repeat);
            if let (Some(score), Some(best)) = (run.objective, theirs.and_then(|b| b.objective)) {
                scores.push(score);
                reference.push(best);
            }
        }
        Ok(pruner::wilcoxon(
            &scores,
            &reference,
            self.spec.pruner.p_threshold,
        ))
    }
}

/// A trial's ending from its stored `runs` when `expected` runs make it whole: failed if
/// one failed, pruned if one was pruned, complete when all finished; `None` while it is
/// still going. The value is the mean objective of its runs that have one.
pub fn outcome(runs: &[TrialRun], expected: usize) -> Option<(TrialStatus, Option<f64>)> {
    let scores: Vec<f64> = runs
        .iter()
        .filter(|r| matches!(r.status, RunStatus::Finished | RunStatus::Pruned))
        .filter_map(|r| r.objective.filter(|v| v.is_finite()))
        .collect();
    let mean = (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
    let count = |status| runs.iter().filter(|r| r.status == status).count();
    if count(RunStatus::Failed) > 0 {
        Some((TrialStatus::Failed, None))
    } else if count(RunStatus::Pruned) > 0 {
        Some((TrialStatus::Pruned, mean))
    } else if count(RunStatus::Finished) >= expected {
        Some((TrialStatus::Complete, mean))
    } else {
        None
    }
}

impl RunQueue for SearchQueue<'_> {
    fn next(&self, slot: Slot) -> Result<Option<Arc<RunSpec>>, SchedulerError> {
        let mut state = lock(&self.state);
        loop {
            let at = state
                .queue
                .iter()
                .position(|run| run.config.training.device_pin().allows(slot.kind()));
            if let Some(run) = at.and_then(|at| state.queue.remove(at)) {
                // Another process may have pruned its trial since it was queued.
                if run
                    .trial
                    .is_some_and(|t| self.trial_ended(t).unwrap_or(false))
                {
                    continue;
                }
                return Ok(Some(run));
            }
            if state.drawn_all || !self.draw_next(&mut state)? {
                return Ok(None);
            }
        }
    }

    fn left(&self) -> usize {
        lock(&self.state).queue.len()
    }

    fn after_epoch(
        &self,
        run: &RunSpec,
        run_id: i64,
        record: &EpochRecord,
    ) -> Result<Option<String>, SchedulerError> {
        let Some(trial) = run.trial else {
            return Ok(None);
        };
        // Its last epoch ends it anyway; stopping there would only relabel it.
        if record.epoch >= run.config.training.epochs {
            return Ok(None);
        }
        if self.trial_ended(trial)? {
            return Ok(Some(format!("trial {trial} was stopped")));
        }
        let score = match self.objective {
            Objective::ValidationRmse => record.validation_rmse,
            Objective::FoldRmse => Some(record.rmse),
        };
        let Some(score) = score.filter(|s| s.is_finite()) else {
            return Ok(None);
        };
        let pruner = &self.spec.pruner;
        let reason = match pruner.kind {
            PrunerKind::Asha if self.rungs.contains(&record.epoch) => {
                let others = lock(self.store).epoch_scores(
                    self.experiment_id,
                    run_id,
                    record.epoch,
                    self.objective,
                    false,
                )?;
                pruner::asha(score, &others, pruner.reduction_factor)
            }
            PrunerKind::Median if record.epoch >= pruner.min_epochs => {
                let store = lock(self.store);
                let finished = store.epoch_scores(
                    self.experiment_id,
                    run_id,
                    record.epoch,
                    self.objective,
                    true,
                )?;
                let best = store
                    .best_score_until(run_id, record.epoch, self.objective)?
                    .unwrap_or(score);
                pruner::median(best, &finished, pruner.startup_trials)
            }
            _ => None,
        };
        Ok(reason.map(|why| {
            format!(
                "pruned at epoch {} by {}: {why}",
                record.epoch,
                pruner.kind.as_str()
            )
        }))
    }

    fn ended(&self, run: &RunSpec, _run_id: i64) -> Result<(), SchedulerError> {
        let Some(trial) = run.trial else {
            return Ok(());
        };
        let expected = run.folds * self.experiment.repeats.max(1);
        if let Some(status) = self.conclude(trial, expected)? {
            if status != TrialStatus::Complete {
                self.drop_trial(trial);
            }
            return Ok(());
        }
        if self.spec.pruner.kind == PrunerKind::Wilcoxon
            && let Some(why) = self.wilcoxon_verdict(trial)?
        {
            let mut store = lock(self.store);
            let runs = store.trial_runs(self.experiment_id, trial, self.objective)?;
            let scores: Vec<f64> = runs.iter().filter_map(|r| r.objective).collect();
            let mean =
                (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
            store.end_trial(self.experiment_id, trial, TrialStatus::Pruned, mean)?;
            drop(store);
            // The reason goes on the trial's last finished run, where `exp runs` shows it.
            if let Some(last) = runs.iter().rev().find(|r| r.status == RunStatus::Finished) {
                lock(self.store).note_run(
                    last.id,
                    &format!("remaining folds pruned by wilcoxon: {why}"),
                )?;
            }
            self.drop_trial(trial);
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
