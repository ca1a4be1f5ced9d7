//! Copying experiments between stores: `exp db copy` brings an experiment home from a
//! PostgreSQL server into a local SQLite file (or the other way), with its runs, epochs,
//! metrics, predictions and trials.
//!
//! Both stores are at the same schema version (opening one migrates it), and both
//! engines have the same columns (a PostgreSQL test compares them), so each table is
//! copied column for column. Rows get new ids in the target; the references between them
//! (a run's experiment, an epoch's run) are rewritten to match. The copy is one
//! transaction on the target: it lands whole or not at all.

use std::collections::HashMap;

use super::db::{DbError, Sql, Value, params};
use super::{Result, Store, StoreError, sql};

/// The columns of `experiments` besides `id`.
const EXPERIMENT_COLUMNS: &[&str] = &[
    "name",
    "file",
    "source_toml",
    "created_at",
    "overrides_json",
    "data_sha256",
];

/// The columns of `runs` besides `id` (the first, `experiment_id`, is rewritten).
const RUN_COLUMNS: &[&str] = &[
    "experiment_id",
    "key",
    "params_json",
    "config_json",
    "fold",
    "status",
    "rmse",
    "mae",
    "best_epoch",
    "seconds",
    "error",
    "started_at",
    "finished_at",
    "checkpoint",
    "device",
    "owner_host",
    "owner_pid",
    "heartbeat_at",
    "engine",
    "seed",
    "data_sha256",
    "exp_version",
    "checkpoint_sha256",
    "repeat",
    "trial",
];

/// The tables that hang off a run, each with its columns (the first, `run_id`, is
/// rewritten).
const RUN_TABLES: &[(&str, &[&str])] = &[
    (
        "epochs",
        &[
            "run_id",
            "epoch",
            "train_loss",
            "rmse",
            "mae",
            "seconds",
            "val_rmse",
            "val_mae",
            "train_seconds",
        ],
    ),
    ("run_metrics", &["run_id", "name", "value"]),
    ("run_predictions", &["run_id", "count", "data"]),
    ("run_user_metrics", &["run_id", "name", "count", "data"]),
];

/// The columns of `trials` (the first, `experiment_id`, is rewritten).
const TRIAL_COLUMNS: &[&str] = &[
    "experiment_id",
    "number",
    "params_json",
    "sampler",
    "sampler_seed",
    "history",
    "status",
    "value",
    "created_at",
    "ended_at",
];

/// What [`copy_experiments`] copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// The experiments' names.
    pub experiments: Vec<String>,
    /// Runs copied.
    pub runs: usize,
    /// Epochs copied.
    pub epochs: usize,
    /// Trials copied.
    pub trials: usize,
}

/// Why a copy was refused before anything was written.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source has no experiment of that name.
    #[error("`{from}` holds no experiment `{name}`{}", list(.names))]
    NoSuchExperiment {
        /// The source store.
        from: String,
        /// The name asked for.
        name: String,
        /// The experiments it does hold.
        names: Vec<String>,
    },
    /// The target already has an experiment of that name (copying would mix two).
    #[error(
        "`{to}` already holds an experiment `{name}`: remove it there first \
         (exp rm -e {name} --all --db …) or copy into another file"
    )]
    Exists {
        /// The target store.
        to: String,
        /// The experiment.
        name: String,
    },
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        " (it holds none)".into()
    } else {
        format!(" (it holds: {})", names.join(", "))
    }
}

/// Copies experiment `name` (or every experiment) from `from` into `to`.
pub fn copy_experiments(
    from: &Store,
    to: &mut Store,
    name: Option<&str>,
) -> std::result::Result<Copied, CopyError> {
    let all = from.experiments()?;
    let chosen: Vec<(i64, String)> = match name {
        Some(name) => {
            let found: Vec<_> = all.iter().filter(|(_, n)| n == name).cloned().collect();
            if found.is_empty() {
                return Err(CopyError::NoSuchExperiment {
                    from: from.path().display().to_string(),
                    name: name.to_owned(),
                    names: all.into_iter().map(|(_, n)| n).collect(),
                });
            }
            found
        }
        None => all,
    };
    let existing: Vec<String> = to.experiments()?.into_iter().map(|(_, n)| n).collect();
    if let Some((_, clash)) = chosen.iter().find(|(_, n)| existing.contains(n)) {
        return Err(CopyError::Exists {
            to: to.path().display().to_string(),
            name: clash.clone(),
        });
    }
    // Read everything first, then write it in one transaction.
    let mut copies = Vec::with_capacity(chosen.len());
    for (id, name) in &chosen {
        copies.push(read_experiment(from, *id, name)?);
    }
    let to_path = to.path().to_path_buf();
    let copied = to
        .db
        .transaction(|tx| {
            let mut copied = Copied::default();
            for copy in &copies {
                write_experiment(tx, copy, &mut copied)?;
            }
            Ok::<_, DbError>(copied)
        })
        .map_err(sql(&to_path, "copying experiments into it"))?;
    Ok(copied)
}

/// One row's values, in its column list's order.
type Values = Vec<Value>;

/// One run's rows, as read from the source.
struct RunRows {
    /// Its id in the source.
    id: i64,
    /// Its `runs` row (`RUN_COLUMNS`).
    row: Values,
    /// Its rows in each of `RUN_TABLES`, in that order.
    children: Vec<Vec<Values>>,
}

/// One experiment's rows, as read from the source.
struct ExperimentRows {
    name: String,
    experiment: Values,
    runs: Vec<RunRows>,
    trials: Vec<Values>,
}

fn read_experiment(from: &Store, id: i64, name: &str) -> Result<ExperimentRows> {
    from.read(&format!("reading experiment `{name}` to copy it"), |db| {
        let experiment = select(db, "experiments", EXPERIMENT_COLUMNS, "id", id)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let ids = super::db::column::<i64>(
            db,
            "SELECT id FROM runs WHERE experiment_id = ?1 ORDER BY id",
            params![id],
        )?;
        let mut runs = Vec::with_capacity(ids.len());
        for run_id in ids {
            let row = select(db, "runs", RUN_COLUMNS, "id", run_id)?
                .into_iter()
                .next()
                .unwrap_or_default();
            let mut children = Vec::with_capacity(RUN_TABLES.len());
            for (table, columns) in RUN_TABLES {
                children.push(select(db, table, columns, "run_id", run_id)?);
            }
            runs.push(RunRows {
                id: run_id,
                row,
                children,
            });
        }
        let trials = select(db, "trials", TRIAL_COLUMNS, "experiment_id", id)?;
        Ok(ExperimentRows {
            name: name.to_owned(),
            experiment,
            runs,
            trials,
        })
    })
}

/// The `columns` of every row of `table` whose `key` is `value`, in key order.
fn select(
    db: &mut dyn Sql,
    table: &str,
    columns: &[&str],
    key: &str,
    value: i64,
) -> std::result::Result<Vec<Values>, DbError> {
    Ok(db
        .query(
            &format!(
                "SELECT {} FROM {table} WHERE {key} = ?1 ORDER BY 1, 2",
                columns.join(", ")
            ),
            params![value],
        )?
        .into_iter()
        .map(|row| row.into_values())
        .collect())
}

/// Inserts `values` as a row of `table`'s `columns`, returning the new `id` when `id`.
fn insert(
    db: &mut dyn Sql,
    table: &str,
    columns: &[&str],
    values: &[Value],
    id: bool,
) -> std::result::Result<Option<i64>, DbError> {
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({}){}",
        columns.join(", "),
        placeholders.join(", "),
        if id { " RETURNING id" } else { "" }
    );
    if id {
        db.query_opt(&sql, values)?
            .map(|row| row.get(0))
            .transpose()
    } else {
        db.execute(&sql, values).map(|_| None)
    }
}

fn write_experiment(
    tx: &mut dyn Sql,
    copy: &ExperimentRows,
    copied: &mut Copied,
) -> std::result::Result<(), DbError> {
    let experiment_id = insert(
        tx,
        "experiments",
        EXPERIMENT_COLUMNS,
        &copy.experiment,
        true,
    )?
    .unwrap_or_default();
    let mut run_ids: HashMap<i64, i64> = HashMap::new();
    for RunRows {
        id: old_id,
        row,
        children,
    } in &copy.runs
    {
        let mut row = row.clone();
        row[0] = Value::Int(experiment_id);
        let new_id = insert(tx, "runs", RUN_COLUMNS, &row, true)?.unwrap_or_default();
        run_ids.insert(*old_id, new_id);
        copied.runs += 1;
        for ((table, columns), rows) in RUN_TABLES.iter().zip(children) {
            for child in rows {
                let mut child = child.clone();
                child[0] = Value::Int(new_id);
                insert(tx, table, columns, &child, false)?;
                if *table == "epochs" {
                    copied.epochs += 1;
                }
            }
        }
    }
    for trial in &copy.trials {
        let mut trial = trial.clone();
        trial[0] = Value::Int(experiment_id);
        insert(tx, "trials", TRIAL_COLUMNS, &trial, false)?;
        copied.trials += 1;
    }
    copied.experiments.push(copy.name.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy lists name every column of every table, so a migration that adds one
    /// cannot be forgotten here.
    #[test]
    fn the_copy_names_every_column() {
        let store = Store::open_in_memory().unwrap();
        let mut tables: Vec<(&str, Vec<&str>)> = vec![
            ("experiments", [&["id"][..], EXPERIMENT_COLUMNS].concat()),
            ("runs", [&["id"][..], RUN_COLUMNS].concat()),
            ("trials", TRIAL_COLUMNS.to_vec()),
        ];
        tables.extend(RUN_TABLES.iter().map(|(t, c)| (*t, c.to_vec())));
        for (table, columns) in tables {
            let mut stored: Vec<String> = store
                .test_query(
                    &format!("SELECT name FROM pragma_table_info('{table}')"),
                    &[],
                )
                .iter()
                .map(|r| r.get::<String>(0).unwrap())
                .collect();
            stored.sort();
            let mut listed: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
            listed.sort();
            assert_eq!(listed, stored, "table {table}");
        }
    }
}
