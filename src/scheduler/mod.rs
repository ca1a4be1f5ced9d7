//! Runs a sweep's pending runs on a pool of device workers and writes each to the store
//! as it goes.
//!
//! One worker per CPU slot and per CUDA device ([`devices::plan`]) pulls runs from one
//! queue in grid order, taking the first run its device may train (`training.device`).
//! Each run is claimed in the store before it trains (an atomic claim, so concurrent
//! `exp run` processes on one database never train a run twice), written after each
//! epoch, and marked finished, failed or interrupted when it ends: a crash later in the
//! sweep loses nothing already measured. A run's failure, divergence or panic fails that
//! run only. A [`Stop`] request (Ctrl-C, SIGTERM) starts no new run and stops the running
//! ones before their next batch, recording them as interrupted. While the sweep runs, a
//! heartbeat tells other processes its running runs are alive.

pub mod cores;
pub mod devices;
pub mod stop;

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

pub use devices::{DeviceError, DevicePlan, Slot};
pub use stop::Stop;

use crate::config::spec::DataSpec;
use crate::data;
use crate::data::dataset::Dataset;
use crate::runner::{Executor, RunEnv, RunError};
use crate::store::owner::{HEARTBEAT_EVERY, Owner};
use crate::store::records::{Checkpoint, Claim, EpochRecord, NewRun, Provenance, RunOutcome};
use crate::store::{Store, StoreError};
use crate::sweep::{self, RunSpec};
use crate::train::EpochControl;

/// A run that failed in this sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The run's swept parameters and fold, e.g. `learning_rate=1e6 fold 1`.
    pub label: String,
    /// The run key.
    pub key: String,
    /// Why it failed.
    pub error: String,
}

/// How a sweep went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepSummary {
    /// Runs trained to the end in this invocation.
    pub finished: usize,
    /// Runs that failed in this invocation.
    pub failed: Vec<Failure>,
    /// Runs skipped because the store already had them finished.
    pub skipped: usize,
    /// Runs left to another process: being trained there, ended there during this sweep,
    /// or taken over from this process while it trained them ([`Ending::TakenOver`]).
    pub elsewhere: usize,
    /// Runs stopped by a stop request and recorded as interrupted.
    pub interrupted: usize,
    /// Runs a search's pruner stopped early (recorded as pruned).
    pub pruned: usize,
    /// Runs not started because of a stop request (or because no worker was left).
    pub not_started: usize,
    /// Workers that could not start (e.g. a CUDA device that failed to open); their
    /// runs went to the other workers.
    pub worker_errors: Vec<String>,
}

/// Why a sweep could not go on (a run's own failure is not one: it is recorded and the
/// sweep continues).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A worker thread could not start.
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
    /// A search could not draw or build its next trial.
    #[error("search: {0}")]
    Search(String),
    /// A run needs a data set the caller did not load (a bug).
    #[error("internal error: data set {0} was not loaded")]
    DataNotLoaded(&'static str),
}

/// How a run ended, for progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ending<'a> {
    /// Trained to the end, with its test RMSE.
    Finished {
        /// Test RMSE of the reported epoch.
        rmse: f64,
    },
    /// Failed, with the reason.
    Failed(&'a str),
    /// Stopped by a stop request.
    Interrupted,
    /// Stopped by a search's pruner after this 1-based epoch.
    Pruned {
        /// The last epoch trained.
        epoch: usize,
    },
    /// Not trained here: finished already, or another process has it.
    Skipped,
    /// Stopped here because another process took the run over (this process's heartbeat
    /// had looked stale, e.g. while it was suspended) or ended it; nothing more of it was
    /// written here. Says what the run is now.
    TakenOver(&'a str),
}

/// Progress events, for the command line to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// The sweep begins: `pending` runs to go through, `skipped` already finished.
    Queued {
        /// Runs not finished in the store when the sweep began, in queue order.
        pending: &'a [&'a RunSpec],
        /// Runs already finished.
        skipped: usize,
        /// Workers that train in parallel.
        workers: usize,
    },
    /// A run began training on a worker.
    Started {
        /// The run.
        run: &'a RunSpec,
        /// The worker, e.g. `cpu#1` or `cuda:0`.
        worker: &'a str,
    },
    /// A run finished one epoch.
    Epoch {
        /// The run.
        run: &'a RunSpec,
        /// The worker.
        worker: &'a str,
        /// What the epoch measured.
        record: &'a EpochRecord,
    },
    /// A run ended, or was passed over.
    Ended {
        /// The run.
        run: &'a RunSpec,
        /// The worker.
        worker: &'a str,
        /// How.
        ending: Ending<'a>,
    },
}

/// What a sweep needs besides its runs and data.
pub struct SweepOptions<'a> {
    /// The workers, from [`devices::plan`].
    pub slots: &'a [Slot],
    /// This process, as recorded on its claims.
    pub owner: &'a Owner,
    /// Retrain finished runs too (`exp run --force`).
    pub force: bool,
    /// Raised to stop the sweep.
    pub stop: &'a Stop,
}

/// Where a sweep's workers take their runs from, and what decides whether a run goes on
/// after each epoch. A grid hands out a list fixed up front ([`GridQueue`]); a search draws
/// its trials as workers ask for them and prunes runs (`search::SearchQueue`).
pub trait RunQueue: Sync {
    /// The next run a worker on `slot` may train (`training.device`); `None` when none is
    /// left for it.
    fn next(&self, slot: Slot) -> Result<Option<Arc<RunSpec>>, SchedulerError>;
    /// Runs known but not started (after a stop, or when no worker could take them).
    fn left(&self) -> usize;
    /// After `record`, the latest epoch of `run` (stored as row `run_id`): go on, or stop
    /// it with the reason (pruning). A grid always goes on.
    fn after_epoch(
        &self,
        _run: &RunSpec,
        _run_id: i64,
        _record: &EpochRecord,
    ) -> Result<Option<String>, SchedulerError> {
        Ok(None)
    }
    /// `run` (row `run_id`) ended and its outcome is stored.
    fn ended(&self, _run: &RunSpec, _run_id: i64) -> Result<(), SchedulerError> {
        Ok(())
    }
}

/// The runs of a grid, in grid order, each taken by the first worker that may train it.
pub struct GridQueue {
    queue: Mutex<VecDeque<Arc<RunSpec>>>,
}

impl GridQueue {
    /// A queue of `runs`, in this order.
    pub fn new(runs: impl IntoIterator<Item = RunSpec>) -> Self {
        GridQueue {
            queue: Mutex::new(runs.into_iter().map(Arc::new).collect()),
        }
    }
}

impl RunQueue for GridQueue {
    fn next(&self, slot: Slot) -> Result<Option<Arc<RunSpec>>, SchedulerError> {
        let mut queue = lock(&self.queue);
        let at = queue
            .iter()
            .position(|run| run.config.training.device_pin().allows(slot.kind()));
        Ok(at.and_then(|at| queue.remove(at)))
    }

    fn left(&self) -> usize {
        lock(&self.queue).len()
    }
}

/// Runs every run of `runs` not already finished in `store` under `experiment_id` on the
/// workers of `options`, reading each run's data from `datasets`.
pub fn run_sweep(
    runs: &[RunSpec],
    datasets: &HashMap<DataSpec, Arc<Dataset>>,
    store: &Mutex<Store>,
    experiment_id: i64,
    executor: &dyn Executor,
    options: &SweepOptions<'_>,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<SweepSummary, SchedulerError> {
    let finished = if options.force {
        Default::default()
    } else {
        lock(store).finished_keys(experiment_id)?
    };
    let pending: Vec<&RunSpec> = runs.iter().filter(|r| !finished.contains(&r.key)).collect();
    let skipped = runs.len() - pending.len();
    on_event(Event::Queued {
        pending: &pending,
        skipped,
        workers: options.slots.len(),
    });
    let queue = GridQueue::new(pending.into_iter().cloned());
    let sweep = Sweep {
        datasets,
        store,
        experiment_id,
        executor,
        options,
        on_event,
    };
    let mut summary = sweep.run(&queue)?;
    summary.skipped += skipped;
    Ok(summary)
}

/// One sweep's fixed parts: what [`Sweep::run`] needs besides the queue of its runs.
pub struct Sweep<'a> {
    /// The data sets the runs train on, loaded.
    pub datasets: &'a HashMap<DataSpec, Arc<Dataset>>,
    /// The store every run is claimed in and written to.
    pub store: &'a Mutex<Store>,
    /// The experiment's row in the store.
    pub experiment_id: i64,
    /// What trains a run.
    pub executor: &'a dyn Executor,
    /// Workers, owner, force and stop.
    pub options: &'a SweepOptions<'a>,
    /// Progress events.
    pub on_event: &'a (dyn Fn(Event<'_>) + Sync),
}

impl Sweep<'_> {
    /// Trains the runs `queue` hands out on the workers until it has none left or a stop
    /// is requested.
    pub fn run(&self, queue: &dyn RunQueue) -> Result<SweepSummary, SchedulerError> {
        let Sweep {
            datasets,
            store,
            experiment_id,
            executor,
            options,
            on_event,
        } = *self;
        let shared = Shared {
            queue,
            summary: Mutex::new(SweepSummary::default()),
            datasets,
            fingerprints: datasets
                .iter()
                .map(|(spec, data)| (spec, data::fingerprint(data)))
                .collect(),
            store,
            experiment_id,
            executor,
            options,
            on_event,
            cores: cores::CoreBudget::new(
                options
                    .slots
                    .iter()
                    .filter(|s| matches!(s, Slot::Cpu(_)))
                    .count(),
            ),
        };
        let done = (Mutex::new(false), Condvar::new());
        let results: Vec<Result<(), SchedulerError>> = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            for &slot in options.slots {
                let shared = &shared;
                let handle = std::thread::Builder::new()
                    .name(format!("exp-{}", slot.label()))
                    .spawn_scoped(scope, move || shared.worker(slot))
                    .map_err(|e| SchedulerError::Threads(e.to_string()));
                handles.push(handle);
            }
            let heartbeat = std::thread::Builder::new()
                .name("exp-heartbeat".into())
                .spawn_scoped(scope, || heartbeat(store, options.owner, &done));
            let results = handles
                .into_iter()
                .map(|handle| {
                    handle.and_then(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(SchedulerError::Threads("a worker thread panicked".into()))
                        })
                    })
                })
                .collect();
            *lock(&done.0) = true;
            done.1.notify_all();
            if let Ok(h) = heartbeat {
                let _ = h.join();
            }
            results
        });
        let mut summary = shared
            .summary
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        summary.not_started = queue.left();
        for result in results {
            result?;
        }
        Ok(summary)
    }
}

/// Refreshes the heartbeat of this process's running runs until `done` is set.
fn heartbeat(store: &Mutex<Store>, owner: &Owner, done: &(Mutex<bool>, Condvar)) {
    let mut finished = lock(&done.0);
    while !*finished {
        let (guard, timeout) = done
            .1
            .wait_timeout(finished, HEARTBEAT_EVERY)
            .unwrap_or_else(|p| p.into_inner());
        finished = guard;
        if timeout.timed_out() && !*finished {
            // A failed refresh only risks another process taking over after
            // STALE_AFTER; the workers' own writes report real store trouble.
            let _ = lock(store).heartbeat(owner);
        }
    }
}

/// What every worker shares.
struct Shared<'a> {
    queue: &'a dyn RunQueue,
    summary: Mutex<SweepSummary>,
    datasets: &'a HashMap<DataSpec, Arc<Dataset>>,
    /// Each data set's [`data::fingerprint`], stored with every run that uses it.
    fingerprints: HashMap<&'a DataSpec, String>,
    store: &'a Mutex<Store>,
    experiment_id: i64,
    executor: &'a dyn Executor,
    options: &'a SweepOptions<'a>,
    on_event: &'a (dyn Fn(Event<'_>) + Sync),
    /// The CPU workers' cores: a run with `training.threads = N` holds N of them.
    cores: cores::CoreBudget,
}

impl Shared<'_> {
    /// One worker: open the device, then take runs it may train until none is left or a
    /// stop is requested. A store error stops the whole sweep.
    fn worker(&self, slot: Slot) -> Result<(), SchedulerError> {
        let label = slot.label();
        let device = match slot.open() {
            Ok(device) => device,
            Err(e) => {
                lock(&self.summary)
                    .worker_errors
                    .push(format!("{label}: cannot open the device: {e}"));
                return Ok(());
            }
        };
        // candle's intra-op parallelism goes through rayon; a one-thread pool of the
        // worker's own keeps each run on one compute thread, beside the other workers.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| SchedulerError::Threads(e.to_string()))?;
        let result = pool.install(|| {
            while !self.options.stop.requested() {
                let Some(run) = self.queue.next(slot)? else {
                    break;
                };
                // A CPU run's threads count against the cores (runs × threads ≤ cores).
                let _cores = matches!(slot, Slot::Cpu(_))
                    .then(|| self.cores.take(run.config.training.threads));
                self.execute_one(&run, slot, &label, &device)?;
            }
            Ok(())
        });
        if result.is_err() {
            // Without the store nothing can be recorded: stop the other workers too.
            self.options.stop.request();
        }
        result
    }

    fn execute_one(
        &self,
        run: &RunSpec,
        slot: Slot,
        worker: &str,
        device: &candle_core::Device,
    ) -> Result<(), SchedulerError> {
        let Some(data) = self.datasets.get(&run.config.data) else {
            return Err(SchedulerError::DataNotLoaded(
                run.config.data.dataset.as_str(),
            ));
        };
        let new_run = NewRun {
            key: run.key.clone(),
            params_json: sweep::params_json(&run.params),
            config_json: serde_json::to_string(&run.config).unwrap_or_default(),
            fold: run.fold,
            repeat: run.repeat,
            trial: run.trial,
        };
        let claim = lock(self.store).claim_run(
            self.experiment_id,
            &new_run,
            self.options.owner,
            &slot.device_name(),
            self.options.force,
        )?;
        let run_id = match claim {
            Claim::Claimed(id) => id,
            other => {
                let mut summary = lock(&self.summary);
                match other {
                    Claim::Finished => summary.skipped += 1,
                    _ => summary.elsewhere += 1,
                }
                drop(summary);
                (self.on_event)(Event::Ended {
                    run,
                    worker,
                    ending: Ending::Skipped,
                });
                return Ok(());
            }
        };
        let provenance = Provenance::new(
            run.seed,
            self.fingerprints
                .get(&run.config.data)
                .cloned()
                .unwrap_or_default(),
        );
        let owner = self.options.owner;
        if let Err(e) = lock(self.store).record_provenance(run_id, owner, &provenance) {
            return self.lost_or(e, run, worker);
        }
        (self.on_event)(Event::Started { run, worker });
        let started = Instant::now();
        let mut store_error = None;
        let mut queue_error = None;
        let mut pruned_because = None;
        let env = RunEnv {
            device,
            stop: self.options.stop.flag(),
        };
        let mut on_epoch = |record: &EpochRecord| {
            if let Err(e) = lock(self.store).add_epoch(run_id, owner, record) {
                store_error.get_or_insert(e);
                return EpochControl::Prune;
            }
            (self.on_event)(Event::Epoch {
                run,
                worker,
                record,
            });
            match self.queue.after_epoch(run, run_id, record) {
                Ok(None) => EpochControl::Continue,
                Ok(Some(reason)) => {
                    pruned_because = Some(reason);
                    EpochControl::Prune
                }
                Err(e) => {
                    queue_error.get_or_insert(e);
                    EpochControl::Prune
                }
            }
        };
        // A panic in one run fails that run, not the sweep.
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.executor.execute(run, data, &env, &mut on_epoch)
        }))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(RunError::Failed(format!(
                "internal error (panic): {message}"
            )))
        });
        if let Some(e) = store_error {
            return self.lost_or(e, run, worker);
        }
        if let Some(e) = queue_error {
            return Err(e);
        }
        let seconds = started.elapsed().as_secs_f64();
        let outcome = match &result {
            Ok(r) => RunOutcome::Finished {
                rmse: r.rmse,
                mae: r.mae,
                best_epoch: r.best_epoch,
                seconds: r.seconds,
                checkpoint: r.checkpoint.as_ref().map(|c| Checkpoint {
                    path: c.path.display().to_string(),
                    sha256: c.sha256.clone(),
                }),
                engine: r.engine.map(|e| e.as_str().to_owned()),
                metrics: r.metrics.clone(),
            },
            Err(RunError::Failed(error)) => RunOutcome::Failed {
                error: error.clone(),
                seconds,
            },
            Err(RunError::Interrupted(reason)) => RunOutcome::Interrupted {
                reason: reason.clone(),
                seconds,
            },
            Err(RunError::Pruned(epoch)) => RunOutcome::Pruned {
                reason: pruned_because
                    .clone()
                    .unwrap_or_else(|| format!("pruned after epoch {epoch}")),
                epoch: *epoch,
                seconds,
            },
        };
        let stored = (|| {
            let mut store = lock(self.store);
            if let Ok(r) = &result {
                if let Some(predictions) = &r.predictions {
                    store.save_predictions(run_id, owner, predictions)?;
                }
                for (name, values) in &r.user_metrics {
                    store.save_user_metric(run_id, owner, name, values)?;
                }
            }
            store.finish_run(run_id, owner, &outcome)
        })();
        if let Err(e) = stored {
            return self.lost_or(e, run, worker);
        }
        self.queue.ended(run, run_id)?;
        let ending = match &result {
            Ok(r) => {
                lock(&self.summary).finished += 1;
                Ending::Finished { rmse: r.rmse }
            }
            Err(RunError::Failed(error)) => {
                lock(&self.summary).failed.push(Failure {
                    label: run_label(run),
                    key: run.key.clone(),
                    error: error.clone(),
                });
                Ending::Failed(error)
            }
            Err(RunError::Interrupted(_)) => {
                lock(&self.summary).interrupted += 1;
                Ending::Interrupted
            }
            Err(RunError::Pruned(epoch)) => {
                lock(&self.summary).pruned += 1;
                Ending::Pruned { epoch: *epoch }
            }
        };
        (self.on_event)(Event::Ended {
            run,
            worker,
            ending,
        });
        Ok(())
    }

    /// A store error of run `run`: when it says another process took the run over, the
    /// run stops here quietly (counted as left to another process, with a line for
    /// progress) and the sweep goes on; any other error ends the sweep.
    fn lost_or(
        &self,
        error: StoreError,
        run: &RunSpec,
        worker: &str,
    ) -> Result<(), SchedulerError> {
        let StoreError::ClaimLost { now, .. } = &error else {
            return Err(error.into());
        };
        lock(&self.summary).elsewhere += 1;
        (self.on_event)(Event::Ended {
            run,
            worker,
            ending: Ending::TakenOver(now),
        });
        Ok(())
    }
}

/// A run as people read it: its swept parameters, its 1-based repeat (from the second
/// repeat on, so labels without repeats read as before) and its 1-based fold.
pub fn run_label(run: &RunSpec) -> String {
    let params = sweep::params_label(&run.params);
    let repeat = if run.repeat > 0 {
        format!("repeat {} ", run.repeat + 1)
    } else {
        String::new()
    };
    if params.is_empty() {
        format!("{repeat}fold {}", run.fold + 1)
    } else {
        format!("{params} {repeat}fold {}", run.fold + 1)
    }
}

/// Locks `m`, recovering the data if another worker panicked while holding it (the store
/// and summary stay consistent: every write is a single statement or transaction).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::runner::RunResult;
    use crate::store::records::RunStatus;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Trains nothing: two epochs with made-up scores. Embedding size 13 fails (as a
    /// divergence would), 14 panics, 15 raises the stop flag during its first epoch.
    struct MockExecutor {
        calls: AtomicUsize,
        stop: Option<Stop>,
    }

    impl MockExecutor {
        fn new() -> Self {
            MockExecutor {
                calls: AtomicUsize::new(0),
                stop: None,
            }
        }
    }

    impl Executor for MockExecutor {
        fn execute(
            &self,
            run: &RunSpec,
            _data: &Dataset,
            env: &RunEnv<'_>,
            on_epoch: &mut dyn FnMut(&EpochRecord) -> EpochControl,
        ) -> Result<RunResult, RunError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let size = run.config.model.embedding_size;
            let k = size as f64;
            for epoch in 1..=2 {
                if size == 15
                    && let Some(stop) = &self.stop
                {
                    stop.request();
                }
                if env.stop.load(Ordering::SeqCst) {
                    return Err(RunError::Interrupted(format!(
                        "interrupted before epoch {epoch}"
                    )));
                }
                let control = on_epoch(&EpochRecord {
                    epoch,
                    train_loss: 1.0 / epoch as f64,
                    rmse: 1.0 + k / 100.0 + run.fold as f64 / 1000.0,
                    mae: 0.8,
                    seconds: 0.01,
                    train_seconds: None,
                    validation_rmse: None,
                    validation_mae: None,
                });
                if control == EpochControl::Prune {
                    return Err(RunError::Pruned(epoch));
                }
            }
            match size {
                13 => {
                    return Err(RunError::Failed(
                        "training diverged: loss became NaN at epoch 2, batch 1".into(),
                    ));
                }
                14 => panic!("index out of bounds in the mock"),
                _ => {}
            }
            Ok(RunResult {
                rmse: 1.0 + k / 100.0 + run.fold as f64 / 1000.0,
                mae: 0.8,
                best_epoch: 2,
                seconds: 0.02,
                checkpoint: None,
                engine: None,
                metrics: Vec::new(),
                predictions: None,
                user_metrics: Vec::new(),
            })
        }
    }

    fn experiment(sizes: &str, extra: &str) -> crate::config::spec::Experiment {
        let text = format!(
            "[experiment]\nname = \"mock\"\n[data]\ndataset = \"ml-latest-small\"\n\
             [split]\nkind = \"kfold\"\nk = 3\n[model]\narchitecture = \"dot-mf\"\n\
             embedding_size = 8\n[training]\nepochs = 2\nbatch_size = 8\nlearning_rate = 0.1\n\
             {extra}[sweep]\n\"model.embedding_size\" = {sizes}\n"
        );
        config::parse_experiment(&text, Path::new("mock.toml")).expect("valid")
    }

    /// The mock executor reads no ratings.
    fn dataset() -> Arc<Dataset> {
        Arc::new(Dataset::from_triples(&[]))
    }

    fn me() -> Owner {
        Owner {
            host: "test".into(),
            pid: std::process::id(),
            since: "9999-01-01T00:00:00.000Z".into(),
        }
    }

    fn sweep_on(
        runs: &[RunSpec],
        store: &Mutex<Store>,
        executor: &MockExecutor,
        slots: &[Slot],
        stop: &Stop,
    ) -> SweepSummary {
        sweep_with(runs, store, executor, slots, stop, &|_| {})
    }

    /// A sweep of `runs` into experiment `mock` with any executor, `on_event` seeing its
    /// events.
    fn sweep_with(
        runs: &[RunSpec],
        store: &Mutex<Store>,
        executor: &dyn Executor,
        slots: &[Slot],
        stop: &Stop,
        on_event: &(dyn Fn(Event<'_>) + Sync),
    ) -> SweepSummary {
        let experiment_id = mock_experiment(store);
        let datasets = HashMap::from([(runs[0].config.data.clone(), dataset())]);
        let owner = me();
        let options = SweepOptions {
            slots,
            owner: &owner,
            force: false,
            stop,
        };
        run_sweep(
            runs,
            &datasets,
            store,
            experiment_id,
            executor,
            &options,
            on_event,
        )
        .unwrap()
    }

    /// The id of experiment `mock` (created on first use).
    fn mock_experiment(store: &Mutex<Store>) -> i64 {
        lock(store)
            .upsert_experiment("mock", "mock.toml", "")
            .unwrap()
    }

    fn sweep(runs: &[RunSpec], store: &Mutex<Store>, executor: &MockExecutor) -> SweepSummary {
        sweep_on(
            runs,
            store,
            executor,
            &[Slot::Cpu(0), Slot::Cpu(1)],
            &Stop::new(),
        )
    }

    fn statuses(store: &Mutex<Store>) -> Vec<RunStatus> {
        lock(store)
            .runs(Some("mock"))
            .unwrap()
            .iter()
            .map(|r| r.status)
            .collect()
    }

    #[test]
    fn every_run_is_stored_once_and_a_failure_or_panic_stays_with_its_run() {
        let runs = sweep::runs(&experiment("[8, 13, 14, 16]", "")).unwrap();
        assert_eq!(runs.len(), 12);
        let store = Mutex::new(Store::open_in_memory().unwrap());
        let executor = MockExecutor::new();
        let summary = sweep(&runs, &store, &executor);
        assert_eq!(summary.finished, 6);
        assert_eq!(summary.failed.len(), 6, "the folds of sizes 13 and 14");
        let mut labels: Vec<&str> = summary.failed.iter().map(|f| f.label.as_str()).collect();
        labels.sort();
        assert_eq!(labels[0], "embedding_size=13 fold 1");
        assert!(summary.failed.iter().any(|f| f.error.contains("diverged")));
        assert!(
            summary
                .failed
                .iter()
                .any(|f| f.error.contains("panic") && f.error.contains("out of bounds"))
        );
        let stored = lock(&store).runs(Some("mock")).unwrap();
        assert_eq!(stored.len(), 12);
        assert_eq!(
            stored
                .iter()
                .filter(|r| r.status == RunStatus::Finished)
                .count(),
            6
        );
        // Epochs of every run were written as they happened, failed ones included.
        for run in &stored {
            assert_eq!(lock(&store).epochs(run.id).unwrap().len(), 2);
        }
    }

    /// [`MockExecutor`], except that after the first epoch of embedding size 17's first
    /// fold another process takes that run over (this one's heartbeat made stale).
    struct TakenOverExecutor<'s> {
        inner: MockExecutor,
        store: &'s Mutex<Store>,
        experiment_id: i64,
    }

    impl Executor for TakenOverExecutor<'_> {
        fn execute(
            &self,
            run: &RunSpec,
            data: &Dataset,
            env: &RunEnv<'_>,
            on_epoch: &mut dyn FnMut(&EpochRecord) -> EpochControl,
        ) -> Result<RunResult, RunError> {
            let victim = run.config.model.embedding_size == 17 && run.fold == 0;
            let mut take_over = |record: &EpochRecord| {
                let control = on_epoch(record);
                if victim && record.epoch == 1 {
                    let mut store = lock(self.store);
                    store.age_heartbeats(301);
                    let taker = Owner {
                        host: "node7".into(),
                        pid: 2222,
                        since: "9999-01-01T00:00:00.000Z".into(),
                    };
                    let claim = store.claim_run(
                        self.experiment_id,
                        &NewRun {
                            key: run.key.clone(),
                            params_json: "{}".into(),
                            config_json: "{}".into(),
                            fold: run.fold,
                            repeat: run.repeat,
                            trial: None,
                        },
                        &taker,
                        "cpu",
                        false,
                    );
                    assert!(matches!(claim, Ok(Claim::Claimed(_))), "{claim:?}");
                }
                control
            };
            self.inner.execute(run, data, env, &mut take_over)
        }
    }

    #[test]
    fn a_run_taken_over_by_another_process_stops_quietly_and_the_sweep_goes_on() {
        let runs = sweep::runs(&experiment("[8, 17]", "")).unwrap();
        let store = Mutex::new(Store::open_in_memory().unwrap());
        let executor = TakenOverExecutor {
            inner: MockExecutor::new(),
            store: &store,
            experiment_id: mock_experiment(&store),
        };
        let lines = Mutex::new(Vec::new());
        let on_event = |event: Event<'_>| {
            if let Event::Ended {
                run,
                ending: Ending::TakenOver(now),
                ..
            } = event
            {
                lock(&lines).push(format!("{}: {now}", run_label(run)));
            }
        };
        // (sweep_with unwraps the result: a lost claim does not end the sweep.)
        let summary = sweep_with(
            &runs,
            &store,
            &executor,
            &[Slot::Cpu(0)],
            &Stop::new(),
            &on_event,
        );
        assert_eq!(summary.finished, 5, "every other run");
        assert_eq!(summary.elsewhere, 1);
        assert!(summary.failed.is_empty(), "{:?}", summary.failed);
        assert_eq!(
            lines.into_inner().unwrap(),
            ["embedding_size=17 fold 1: being trained by node7 (pid 2222)"]
        );
        // The taker's claim is intact: still running under it, no epoch of ours after
        // the take-over (its claim cleared the first one).
        let stored = lock(&store).runs(Some("mock")).unwrap();
        let taken = stored
            .iter()
            .find(|r| r.status == RunStatus::Running)
            .expect("the taken-over run");
        assert_eq!(lock(&store).epochs(taken.id).unwrap().len(), 0);
        assert_eq!(
            stored
                .iter()
                .filter(|r| r.status == RunStatus::Finished)
                .count(),
            5
        );
    }

    #[test]
    fn a_second_sweep_retrains_only_what_did_not_finish() {
        let runs = sweep::runs(&experiment("[8, 13]", "")).unwrap();
        let store = Mutex::new(Store::open_in_memory().unwrap());
        let first = MockExecutor::new();
        sweep(&runs, &store, &first);
        assert_eq!(first.calls.load(Ordering::SeqCst), 6);
        let second = MockExecutor::new();
        let summary = sweep(&runs, &store, &second);
        assert_eq!(summary.skipped, 3, "the finished folds of embedding_size 8");
        assert_eq!(
            second.calls.load(Ordering::SeqCst),
            3,
            "only the failed runs again"
        );
        assert_eq!(
            lock(&store).runs(Some("mock")).unwrap().len(),
            6,
            "no duplicates"
        );
    }

    #[test]
    fn a_stop_interrupts_the_running_runs_and_starts_no_more() {
        // One worker, grid order: size 8 (3 folds) finishes, size 15's first fold raises
        // the stop during its first epoch and is interrupted, nothing else starts.
        let runs = sweep::runs(&experiment("[8, 15, 16]", "")).unwrap();
        let store = Mutex::new(Store::open_in_memory().unwrap());
        let stop = Stop::new();
        let executor = MockExecutor {
            calls: AtomicUsize::new(0),
            stop: Some(stop.clone()),
        };
        let summary = sweep_on(&runs, &store, &executor, &[Slot::Cpu(0)], &stop);
        assert_eq!(
            (summary.finished, summary.interrupted, summary.not_started),
            (3, 1, 5)
        );
        assert_eq!(
            statuses(&store),
            [vec![RunStatus::Finished; 3], vec![RunStatus::Interrupted]].concat()
        );
        // The next sweep resumes: the interrupted run and the rest, nothing twice.
        let again = MockExecutor::new();
        let summary = sweep(&runs, &store, &again);
        assert_eq!((summary.skipped, summary.finished), (3, 6));
        assert_eq!(statuses(&store), vec![RunStatus::Finished; 9]);
    }

    #[test]
    fn pinned_runs_go_only_to_workers_of_their_kind() {
        let exp = experiment("[8, 16]", "device = \"cpu\"\n");
        let runs = sweep::runs(&exp).unwrap();
        let cuda_only = DevicePlan {
            slots: vec![Slot::Cuda(0)],
            notes: Vec::new(),
        };
        let err = cuda_only.check_pins(&runs).expect_err("no cpu worker");
        assert!(
            err.to_string().contains(
                "6 run(s) set `training.device = \"cpu\"` (e.g. embedding_size=8 fold 1)"
            ),
            "{err}"
        );
        let both = DevicePlan {
            slots: vec![Slot::Cuda(0), Slot::Cpu(0)],
            notes: Vec::new(),
        };
        both.check_pins(&runs).expect("a cpu worker exists");
        // A CPU worker beside a CUDA worker that cannot open (no GPU here, or no CUDA
        // build) trains everything; the CUDA worker's failure is reported.
        let store = Mutex::new(Store::open_in_memory().unwrap());
        let summary = sweep_on(
            &runs,
            &store,
            &MockExecutor::new(),
            &both.slots,
            &Stop::new(),
        );
        assert_eq!(summary.finished, 6);
        if !cfg!(feature = "cuda") {
            assert_eq!(summary.worker_errors.len(), 1, "{summary:?}");
            assert!(summary.worker_errors[0].starts_with("cuda:0"));
        }
    }
}
