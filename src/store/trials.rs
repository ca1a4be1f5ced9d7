//! The trials of a search (`[search]`): one row per sampled configuration, and the
//! per-epoch scores its pruner compares.
//!
//! A trial's number is taken inside one transaction together with the history
//! its values were drawn from ([`Store::draw_trial`]), so processes sharing a search
//! never take one number twice and a search stops at exactly `trials` trials. Its runs
//! are ordinary runs with `runs.trial` set.

use super::db::{self, DbError, Row, params};
use super::{Result, Store};
use crate::store::records::RunStatus;

/// Where a trial stands. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialStatus {
    /// Drawn; some of its runs have not ended.
    Running,
    /// Every run finished: its value is the mean objective of its runs.
    Complete,
    /// A pruner stopped it (one of its runs, or its remaining folds).
    Pruned,
    /// A run of it failed (e.g. diverged); it is not drawn again.
    Failed,
}

impl TrialStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Running => "running",
            TrialStatus::Complete => "complete",
            TrialStatus::Pruned => "pruned",
            TrialStatus::Failed => "failed",
        }
    }

    /// The status with this stored name (unknown names read as running: they are not
    /// ended, so a search waits for them rather than counting them).
    pub fn from_name(name: &str) -> TrialStatus {
        match name {
            "complete" => TrialStatus::Complete,
            "pruned" => TrialStatus::Pruned,
            "failed" => TrialStatus::Failed,
            _ => TrialStatus::Running,
        }
    }
}

/// What a sampler drew for the next trial.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTrial {
    /// The searched values as a JSON object in space order (`sweep::params_json`).
    pub params_json: String,
    /// Which sampler drew them: `grid`, `random`, `tpe` or `tpe-startup`.
    pub sampler: String,
    /// The seed of the generator that drew them: with the history, all a resumed
    /// search needs to draw the same values again.
    pub sampler_seed: u64,
    /// How many ended trials the sampler learnt from.
    pub history: usize,
}

/// A trial as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrial {
    /// 0-based number, unique in its experiment.
    pub number: usize,
    /// The searched values, JSON.
    pub params_json: String,
    /// Which sampler drew them.
    pub sampler: String,
    /// The generator's seed.
    pub sampler_seed: u64,
    /// How many ended trials the sampler learnt from.
    pub history: usize,
    /// Where it stands.
    pub status: TrialStatus,
    /// Its objective (mean validation RMSE of its runs) once ended; for a pruned trial,
    /// the last score its runs reported.
    pub value: Option<f64>,
    /// Seconds from the search's first trial being drawn to this one ending.
    pub ended_after: Option<f64>,
}

/// One run of a trial, as its trial's outcome needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRun {
    /// Row id.
    pub id: i64,
    /// 0-based fold.
    pub fold: usize,
    /// 0-based repeat.
    pub repeat: usize,
    /// Where it stands.
    pub status: RunStatus,
    /// Its objective at its reported epoch (its last, when pruned): validation RMSE, or
    /// the held-out fold's RMSE when the split has no validation part.
    pub objective: Option<f64>,
    /// Test RMSE of its reported epoch (finished runs).
    pub rmse: Option<f64>,
}

/// Which score of an epoch a search optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// `val_rmse`: the split has a validation part.
    ValidationRmse,
    /// `rmse` of the held-out fold: k-fold without a validation part (the
    /// cross-validation score).
    FoldRmse,
}

impl Objective {
    fn column(self) -> &'static str {
        match self {
            Objective::ValidationRmse => "val_rmse",
            Objective::FoldRmse => "rmse",
        }
    }
}

impl Store {
    /// The experiment's trials, by number.
    pub fn trials(&self, experiment_id: i64) -> Result<Vec<StoredTrial>> {
        self.read("reading the trials of a search", |db| {
            let ended_after = db.dialect().seconds_between(
                "ended_at",
                "(SELECT MIN(created_at) FROM trials WHERE experiment_id = ?1)",
            );
            db.query(
                &format!(
                    "SELECT number, params_json, sampler, sampler_seed, history, status, value,
                            {ended_after}
                     FROM trials WHERE experiment_id = ?1 ORDER BY number"
                ),
                params![experiment_id],
            )?
            .iter()
            .map(read_trial)
            .collect()
        })
    }

    /// Draws trial number `n` = the number of trials so far, unless `limit` are drawn
    /// already (`Ok(None)`): `draw(n, trials)` gets the trials so far and returns the new
    /// one's values, inside one transaction that holds the experiment's row locked (on
    /// SQLite, the write lock), so no other process draws the same number or from a
    /// different history. An error from `draw` writes nothing.
    pub fn draw_trial<E>(
        &mut self,
        experiment_id: i64,
        limit: usize,
        draw: impl FnOnce(usize, &[StoredTrial]) -> std::result::Result<NewTrial, E>,
    ) -> Result<std::result::Result<Option<StoredTrial>, E>> {
        self.write("drawing the next trial of a search", |tx| {
            let lock = tx.dialect().write_lock();
            tx.query(
                &format!("SELECT id FROM experiments WHERE id = ?1{lock}"),
                params![experiment_id],
            )?;
            let trials = tx
                .query(
                    "SELECT number, params_json, sampler, sampler_seed, history, status, value,
                            NULL
                     FROM trials WHERE experiment_id = ?1 ORDER BY number",
                    params![experiment_id],
                )?
                .iter()
                .map(read_trial)
                .collect::<std::result::Result<Vec<_>, DbError>>()?;
            let number = trials.len();
            if number >= limit {
                return Ok(Ok(None));
            }
            let new = match draw(number, &trials) {
                Ok(new) => new,
                Err(e) => return Ok(Err(e)),
            };
            tx.execute(
                "INSERT INTO trials (experiment_id, number, params_json, sampler, sampler_seed,
                                     history, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running')",
                params![
                    experiment_id,
                    number,
                    new.params_json.as_str(),
                    new.sampler.as_str(),
                    // Stored as the signed integer with the same bits.
                    new.sampler_seed as i64,
                    new.history
                ],
            )?;
            Ok(Ok(Some(StoredTrial {
                number,
                params_json: new.params_json,
                sampler: new.sampler,
                sampler_seed: new.sampler_seed,
                history: new.history,
                status: TrialStatus::Running,
                value: None,
                ended_after: None,
            })))
        })
    }

    /// Records that trial `number` ended with `status` and `value`. A trial already
    /// ended keeps its first ending (two processes may both see its last run end).
    pub fn end_trial(
        &mut self,
        experiment_id: i64,
        number: usize,
        status: TrialStatus,
        value: Option<f64>,
    ) -> Result<()> {
        self.read(&format!("ending trial {number}"), |db| {
            db.execute(
                "UPDATE trials SET status = ?3, value = ?4, ended_at = {now}
                 WHERE experiment_id = ?1 AND number = ?2 AND status = 'running'",
                params![experiment_id, number, status.as_str(), value],
            )
        })?;
        Ok(())
    }

    /// Leaves `note` on run `run_id` (in its `error` column, which `exp runs` shows): why
    /// its trial's remaining runs were not trained.
    pub fn note_run(&mut self, run_id: i64, note: &str) -> Result<()> {
        self.read("noting why a trial stopped", |db| {
            db.execute(
                "UPDATE runs SET error = ?2 WHERE id = ?1",
                params![run_id, note],
            )
        })?;
        Ok(())
    }

    /// The runs of trial `number` stored so far, with their objective.
    pub fn trial_runs(
        &self,
        experiment_id: i64,
        number: usize,
        objective: Objective,
    ) -> Result<Vec<TrialRun>> {
        let column = objective.column();
        self.read(&format!("reading the runs of trial {number}"), |db| {
            db.query(
                &format!(
                    "SELECT r.id, r.fold, r.repeat, r.status, e.{column}, r.rmse
                     FROM runs r LEFT JOIN epochs e ON e.run_id = r.id AND e.epoch = r.best_epoch
                     WHERE r.experiment_id = ?1 AND r.trial = ?2 ORDER BY r.repeat, r.fold"
                ),
                params![experiment_id, number],
            )?
            .iter()
            .map(|row| {
                let status: String = row.get(3)?;
                Ok(TrialRun {
                    id: row.get(0)?,
                    fold: row.get(1)?,
                    repeat: row.get(2)?,
                    status: RunStatus::from_name(&status).unwrap_or(RunStatus::Running),
                    objective: row.get(4)?,
                    rmse: row.get(5)?,
                })
            })
            .collect()
        })
    }

    /// The objective at `epoch` of every other run of the experiment on the same fold and
    /// repeat that reached it (`finished_only`: of finished runs only): what a pruner
    /// compares run `run_id` with.
    pub fn epoch_scores(
        &self,
        experiment_id: i64,
        run_id: i64,
        epoch: usize,
        objective: Objective,
        finished_only: bool,
    ) -> Result<Vec<f64>> {
        let column = objective.column();
        let finished = if finished_only {
            "AND r.status = 'finished'"
        } else {
            ""
        };
        self.read(&format!("reading the scores of epoch {epoch}"), |db| {
            db::column(
                db,
                &format!(
                    "SELECT e.{column} FROM runs r JOIN epochs e ON e.run_id = r.id
                     WHERE r.experiment_id = ?1 AND r.id != ?2 AND e.epoch = ?3
                       AND r.fold = (SELECT fold FROM runs WHERE id = ?2)
                       AND r.repeat = (SELECT repeat FROM runs WHERE id = ?2)
                       AND e.{column} IS NOT NULL {finished}"
                ),
                params![experiment_id, run_id, epoch],
            )
        })
    }

    /// Every trial's objective per epoch, the mean over its runs that reported that
    /// epoch: `(trial, epoch, mean)` by trial and epoch (what the search charts draw).
    pub fn trial_epochs(
        &self,
        experiment_id: i64,
        objective: Objective,
    ) -> Result<Vec<(usize, usize, f64)>> {
        let column = objective.column();
        self.read("reading the trials' epochs", |db| {
            db.query(
                &format!(
                    "SELECT r.trial, e.epoch, AVG(e.{column}) FROM runs r
                     JOIN epochs e ON e.run_id = r.id
                     WHERE r.experiment_id = ?1 AND r.trial IS NOT NULL
                       AND e.{column} IS NOT NULL
                     GROUP BY r.trial, e.epoch ORDER BY r.trial, e.epoch"
                ),
                params![experiment_id],
            )?
            .iter()
            .map(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .collect()
        })
    }

    /// The best (lowest) objective of run `run_id` up to `epoch`.
    pub fn best_score_until(
        &self,
        run_id: i64,
        epoch: usize,
        objective: Objective,
    ) -> Result<Option<f64>> {
        let column = objective.column();
        self.read("reading a run's best score", |db| {
            Ok(db
                .query_opt(
                    &format!("SELECT MIN({column}) FROM epochs WHERE run_id = ?1 AND epoch <= ?2"),
                    params![run_id, epoch],
                )?
                .map(|row| row.get::<Option<f64>>(0))
                .transpose()?
                .flatten())
        })
    }
}

fn read_trial(row: &Row) -> std::result::Result<StoredTrial, DbError> {
    let status: String = row.get(5)?;
    Ok(StoredTrial {
        number: row.get(0)?,
        params_json: row.get(1)?,
        sampler: row.get(2)?,
        // Stored as a signed integer; the bits are the seed.
        sampler_seed: row.get::<i64>(3)? as u64,
        history: row.get(4)?,
        status: TrialStatus::from_name(&status),
        value: row.get(6)?,
        ended_after: row.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::owner::Owner;
    use crate::store::records::{Claim, EpochRecord, NewRun, RunOutcome};

    fn owner() -> Owner {
        Owner {
            host: "test".into(),
            pid: std::process::id(),
            since: "9999-01-01T00:00:00.000Z".into(),
        }
    }

    fn new_trial(params: &str) -> NewTrial {
        NewTrial {
            params_json: params.into(),
            sampler: "random".into(),
            sampler_seed: u64::MAX - 1,
            history: 0,
        }
    }

    #[test]
    fn trials_are_numbered_in_order_and_stop_at_the_limit() {
        let mut store = Store::open_in_memory().unwrap();
        let id = store.upsert_experiment("s", "s.toml", "").unwrap();
        for expected in 0..3 {
            let drawn = store
                .draw_trial(id, 3, |n, so_far| {
                    assert_eq!((n, so_far.len()), (expected, expected));
                    Ok::<_, ()>(new_trial(&format!("{{\"x\":{n}}}")))
                })
                .unwrap()
                .unwrap()
                .expect("under the limit");
            assert_eq!(drawn.number, expected);
        }
        let none = store
            .draw_trial(id, 3, |_, _| -> std::result::Result<NewTrial, ()> {
                panic!("not called at the limit")
            })
            .unwrap()
            .unwrap();
        assert_eq!(none, None);
        // A sampler error writes nothing.
        let failed = store.draw_trial(id, 5, |_, _| Err("exhausted")).unwrap();
        assert_eq!(failed, Err("exhausted"));
        let trials = store.trials(id).unwrap();
        assert_eq!(trials.len(), 3);
        assert_eq!(trials[2].params_json, "{\"x\":2}");
        assert_eq!(
            trials[2].sampler_seed,
            u64::MAX - 1,
            "the seed's bits survive"
        );
        store
            .end_trial(id, 1, TrialStatus::Complete, Some(0.9))
            .unwrap();
        // The first ending stays.
        store
            .end_trial(id, 1, TrialStatus::Pruned, Some(1.2))
            .unwrap();
        let trials = store.trials(id).unwrap();
        assert_eq!(trials[1].status, TrialStatus::Complete);
        assert_eq!(trials[1].value, Some(0.9));
        assert!(trials[1].ended_after.is_some_and(|s| s >= 0.0));
        assert_eq!(trials[0].status, TrialStatus::Running);
    }

    #[test]
    fn pruners_see_other_runs_of_the_same_fold_at_an_epoch() {
        let mut store = Store::open_in_memory().unwrap();
        let id = store.upsert_experiment("s", "s.toml", "").unwrap();
        let mut ids = Vec::new();
        for (key, fold, scores) in [
            ("a", 0, vec![1.0, 0.9]),
            ("b", 0, vec![1.1, 0.95]),
            ("c", 1, vec![0.5, 0.4]),
            ("d", 0, vec![1.3]),
        ] {
            let run = NewRun {
                key: key.into(),
                params_json: "{}".into(),
                config_json: "{}".into(),
                fold,
                repeat: 0,
                trial: Some(ids.len()),
            };
            let Claim::Claimed(run_id) = store.claim_run(id, &run, &owner(), "cpu", false).unwrap()
            else {
                panic!("claimed");
            };
            for (e, score) in scores.iter().enumerate() {
                store
                    .add_epoch(
                        run_id,
                        &owner(),
                        &EpochRecord {
                            epoch: e + 1,
                            train_loss: 1.0,
                            rmse: 2.0,
                            mae: 1.0,
                            seconds: 0.1,
                            train_seconds: None,
                            validation_rmse: Some(*score),
                            validation_mae: None,
                        },
                    )
                    .unwrap();
            }
            ids.push(run_id);
        }
        store
            .finish_run(
                ids[0],
                &owner(),
                &RunOutcome::Finished {
                    rmse: 2.0,
                    mae: 1.0,
                    best_epoch: 2,
                    seconds: 1.0,
                    checkpoint: None,
                    engine: None,
                    metrics: Vec::new(),
                },
            )
            .unwrap();
        let v = Objective::ValidationRmse;
        // Run d (fold 0) at epoch 1 sees a and b, not c (fold 1) nor itself.
        let mut at1 = store.epoch_scores(id, ids[3], 1, v, false).unwrap();
        at1.sort_by(f64::total_cmp);
        assert_eq!(at1, [1.0, 1.1]);
        assert_eq!(store.epoch_scores(id, ids[3], 2, v, true).unwrap(), [0.9]);
        assert_eq!(store.best_score_until(ids[1], 2, v).unwrap(), Some(0.95));
        assert_eq!(store.best_score_until(ids[1], 1, v).unwrap(), Some(1.1));
        // The fold score is the test column.
        assert_eq!(
            store
                .epoch_scores(id, ids[3], 1, Objective::FoldRmse, false)
                .unwrap(),
            [2.0, 2.0]
        );
        let runs = store.trial_runs(id, 0, v).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Finished);
        assert_eq!(
            runs[0].objective,
            Some(0.9),
            "validation RMSE at its best epoch"
        );
        assert_eq!(runs[0].rmse, Some(2.0));
    }
}
