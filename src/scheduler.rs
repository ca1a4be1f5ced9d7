//! Runs a sweep's pending runs in parallel and writes each to the store as it finishes.
//!
//! Runs are claimed in the store before they train, so a run already finished (same key)
//! is never trained again, and a failing run is recorded as failed while the others go on.
//! Results are written after *each* epoch and run: a crash later in the sweep loses nothing
//! already measured.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::config::spec::DataSpec;
use crate::data::dataset::Dataset;
use crate::runner::Executor;
use crate::store::records::{NewRun, RunOutcome};
use crate::store::{Store, StoreError};
use crate::sweep::{self, RunSpec};
use std::time::Instant;

/// How a sweep went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepSummary {
    /// Runs trained to the end in this invocation.
    pub finished: usize,
    /// Runs that failed in this invocation, with their error.
    pub failed: Vec<(String, String)>,
    /// Runs skipped because the store already had them finished.
    pub skipped: usize,
}

/// Why a sweep could not go on (a run's own failure is not one: it is recorded and the
/// sweep continues).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The worker pool could not start.
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
    /// A run needs a data set the caller did not load (a bug).
    #[error("internal error: data set {0} was not loaded")]
    DataNotLoaded(&'static str),
}

/// Progress events, for the command line to print.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A run began training.
    Started {
        /// The run.
        run: &'a RunSpec,
    },
    /// A run finished one epoch.
    Epoch {
        /// The run.
        run: &'a RunSpec,
        /// 1-based epoch.
        epoch: usize,
        /// Test RMSE after the epoch.
        rmse: f64,
    },
    /// A run ended; `error` is set when it failed.
    Ended {
        /// The run.
        run: &'a RunSpec,
        /// Test RMSE when it finished.
        rmse: Option<f64>,
        /// Why it failed.
        error: Option<&'a str>,
    },
}

/// Runs every run of `runs` not already finished in `store` under `experiment_id`, `jobs`
/// at a time, reading each run's data from `datasets`.
pub fn run_sweep(
    runs: &[RunSpec],
    datasets: &HashMap<DataSpec, Arc<Dataset>>,
    store: &Mutex<Store>,
    experiment_id: i64,
    executor: &dyn Executor,
    jobs: usize,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<SweepSummary, SchedulerError> {
    let finished = lock(store).finished_keys(experiment_id)?;
    let pending: Vec<&RunSpec> = runs.iter().filter(|r| !finished.contains(&r.key)).collect();
    let summary = Mutex::new(SweepSummary {
        skipped: runs.len() - pending.len(),
        ..Default::default()
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .thread_name(|i| format!("exp-run-{i}"))
        .build()
        .map_err(|e| SchedulerError::Threads(e.to_string()))?;
    pool.install(|| {
        pending.par_iter().with_max_len(1).try_for_each(|run| {
            let Some(data) = datasets.get(&run.config.data) else {
                return Err(SchedulerError::DataNotLoaded(
                    run.config.data.dataset.as_str(),
                ));
            };
            execute_one(
                run,
                data,
                store,
                experiment_id,
                executor,
                &summary,
                on_event,
            )
        })
    })?;
    Ok(summary.into_inner().unwrap_or_else(|p| p.into_inner()))
}

fn execute_one(
    run: &RunSpec,
    data: &Dataset,
    store: &Mutex<Store>,
    experiment_id: i64,
    executor: &dyn Executor,
    summary: &Mutex<SweepSummary>,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<(), SchedulerError> {
    let new_run = NewRun {
        key: run.key.clone(),
        params_json: sweep::params_json(&run.params),
        config_json: serde_json::to_string(&run.config).unwrap_or_default(),
        fold: run.fold,
    };
    let Some(run_id) = lock(store).claim_run(experiment_id, &new_run)? else {
        // Another process finished it meanwhile.
        lock(summary).skipped += 1;
        return Ok(());
    };
    on_event(Event::Started { run });
    let started = Instant::now();
    let mut store_error = None;
    let result = executor.execute(run, data, &mut |epoch| {
        if let Err(e) = lock(store).add_epoch(run_id, epoch) {
            store_error.get_or_insert(e);
        }
        on_event(Event::Epoch {
            run,
            epoch: epoch.epoch,
            rmse: epoch.rmse,
        });
    });
    if let Some(e) = store_error {
        return Err(e.into());
    }
    let outcome = match &result {
        Ok(r) => RunOutcome::Finished {
            rmse: r.rmse,
            mae: r.mae,
            best_epoch: r.best_epoch,
            seconds: r.seconds,
            checkpoint: r.checkpoint.as_ref().map(|p| p.display().to_string()),
            metrics: r.metrics.clone(),
        },
        Err(error) => RunOutcome::Failed {
            error: error.clone(),
            seconds: started.elapsed().as_secs_f64(),
        },
    };
    lock(store).finish_run(run_id, &outcome)?;
    match result {
        Ok(r) => {
            lock(summary).finished += 1;
            on_event(Event::Ended {
                run,
                rmse: Some(r.rmse),
                error: None,
            });
        }
        Err(error) => {
            on_event(Event::Ended {
                run,
                rmse: None,
                error: Some(&error),
            });
            lock(summary).failed.push((run.key.clone(), error));
        }
    }
    Ok(())
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
    use crate::data::dataset::{IdMap, Ratings};
    use crate::runner::RunResult;
    use crate::store::records::{EpochRecord, RunStatus};
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Trains nothing: two epochs with made-up scores, failing any run whose embedding
    /// size is 13 (as a divergence would).
    struct MockExecutor {
        calls: AtomicUsize,
    }

    impl Executor for MockExecutor {
        fn execute(
            &self,
            run: &RunSpec,
            _data: &Dataset,
            on_epoch: &mut dyn FnMut(&EpochRecord),
        ) -> Result<crate::runner::RunResult, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let k = run.config.model.embedding_size as f64;
            for epoch in 1..=2 {
                on_epoch(&EpochRecord {
                    epoch,
                    train_loss: 1.0 / epoch as f64,
                    rmse: 1.0 + k / 100.0 + run.fold as f64 / 1000.0,
                    mae: 0.8,
                    seconds: 0.01,
                    validation_rmse: None,
                    validation_mae: None,
                });
            }
            if run.config.model.embedding_size == 13 {
                return Err("training diverged: loss became NaN at epoch 2, batch 1".into());
            }
            Ok(RunResult {
                rmse: 1.0 + k / 100.0 + run.fold as f64 / 1000.0,
                mae: 0.8,
                best_epoch: 2,
                seconds: 0.02,
                checkpoint: None,
                metrics: Vec::new(),
            })
        }
    }

    fn experiment(sizes: &str) -> crate::config::spec::Experiment {
        let text = format!(
            "[experiment]\nname = \"mock\"\n[data]\ndataset = \"ml-latest-small\"\n\
             [split]\nkind = \"kfold\"\nk = 3\n[model]\narchitecture = \"dot-mf\"\n\
             embedding_size = 8\n[training]\nepochs = 2\nbatch_size = 8\nlearning_rate = 0.1\n\
             [sweep]\n\"model.embedding_size\" = {sizes}\n"
        );
        config::parse_experiment(&text, Path::new("mock.toml")).expect("valid")
    }

    fn dataset() -> Arc<Dataset> {
        Arc::new(Dataset {
            name: "mock".into(),
            ratings: Ratings::default(),
            users: IdMap::default(),
            items: IdMap::default(),
            item_info: Vec::new(),
            user_info: Vec::new(),
            rating_range: (0.5, 5.0),
            report: Default::default(),
        })
    }

    fn sweep(runs: &[RunSpec], store: &Mutex<Store>, executor: &MockExecutor) -> SweepSummary {
        let experiment_id = lock(store)
            .upsert_experiment("mock", "mock.toml", "")
            .unwrap();
        let datasets = HashMap::from([(runs[0].config.data.clone(), dataset())]);
        run_sweep(runs, &datasets, store, experiment_id, executor, 2, &|_| {}).unwrap()
    }

    #[test]
    fn every_run_is_stored_once_and_a_failure_stays_with_its_run() {
        let runs = sweep::runs(&experiment("[8, 13, 16]")).unwrap();
        assert_eq!(runs.len(), 9);
        let store = Mutex::new(Store::open_in_memory().unwrap());
        let executor = MockExecutor {
            calls: AtomicUsize::new(0),
        };
        let summary = sweep(&runs, &store, &executor);
        assert_eq!(summary.finished, 6);
        assert_eq!(
            summary.failed.len(),
            3,
            "the three folds of embedding_size 13"
        );
        assert!(summary.failed[0].1.contains("diverged"));
        let stored = lock(&store).runs(Some("mock")).unwrap();
        assert_eq!(stored.len(), 9);
        let finished = stored
            .iter()
            .filter(|r| r.status == RunStatus::Finished)
            .count();
        assert_eq!(finished, 6);
        let failed: Vec<_> = stored
            .iter()
            .filter(|r| r.status == RunStatus::Failed)
            .collect();
        assert!(
            failed
                .iter()
                .all(|r| r.error.as_deref().is_some_and(|e| e.contains("NaN")))
        );
        // Epochs of every run were written as they happened, failed ones included.
        for run in &stored {
            assert_eq!(lock(&store).epochs(run.id).unwrap().len(), 2);
        }
    }

    #[test]
    fn a_second_sweep_retrains_only_what_did_not_finish() {
        let runs = sweep::runs(&experiment("[8, 13]")).unwrap();
        let store = Mutex::new(Store::open_in_memory().unwrap());
        let first = MockExecutor {
            calls: AtomicUsize::new(0),
        };
        sweep(&runs, &store, &first);
        assert_eq!(first.calls.load(Ordering::SeqCst), 6);
        let second = MockExecutor {
            calls: AtomicUsize::new(0),
        };
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
}
