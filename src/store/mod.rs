//! The store of experiments, runs and epochs: an SQLite file (the default, one host) or
//! a PostgreSQL server (shared by `exp worker`s on several hosts).
//!
//! Every run is written the moment something happens to it: claimed (`running`, with
//! its owner), each epoch, then finished, failed or interrupted. A crash therefore loses
//! at most the epoch in flight, and the next `exp run` resumes by skipping
//! [`Store::finished_keys`] and reclaiming anything failed, interrupted, or left
//! `running` by a process that died ([`Store::claim_run`], rule in `store/owner.rs`).
//! Claims are single transactions (IMMEDIATE on SQLite, a `SKIP LOCKED` row lock on
//! PostgreSQL), so several processes can share one database without training a run twice.
//!
//! The queries are written once and run on either engine through `store/db.rs`; the
//! schema is in `store/migrations.rs`. An SQLite file is plain SQLite, so `sqlite3
//! results.db` or any other client can query it; so can `psql` a PostgreSQL store.

pub mod copy;
pub(crate) mod db;
mod faults;
pub mod location;
pub(crate) mod migrations;
pub mod owner;
#[cfg(test)]
mod postgres_tests;
pub mod predictions;
pub mod records;
pub mod scratch;
pub(crate) mod server;
pub mod trials;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use db::{Db, DbError, Row, Sql, Value, column, params};
pub use location::Location;
use migrations::{MIGRATIONS, Migrated};
use owner::{Claimed, Owner};
use records::{
    Claim, EpochRecord, HostCounts, NewRun, Provenance, RunOutcome, RunStatus, StatusCounts,
    StoredExperiment, StoredRun,
};

/// How long a statement waits for another process's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a store operation failed. Every variant names the database: in `path`, the file,
/// or for a PostgreSQL store its URL without the password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory that should hold the database could not be created.
    #[error("cannot create directory `{dir}` for database `{path}`")]
    CreateDir {
        /// The database file.
        path: PathBuf,
        /// The directory that could not be created.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database engine reported an error while doing `action`.
    #[error("database `{path}`: {action}")]
    Database {
        /// The database (`:memory:` for an in-memory store).
        path: PathBuf,
        /// What the store was doing, e.g. `claiming run \`ab12\``.
        action: String,
        /// The engine's error.
        #[source]
        source: DbError,
    },
    /// A PostgreSQL server could not be reached or refused us (host, port, password,
    /// database name); nothing was read or written.
    #[error("cannot connect to PostgreSQL at `{url}`: {reason}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// What the server or the network said, in one line.
        reason: String,
    },
    /// The database was created by a newer exp with a schema this build does not know.
    #[error(
        "database `{path}` has schema version {found}, but this exp knows only up to \
         version {known}; use a newer exp (or another database)"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The database's `PRAGMA user_version`.
        found: usize,
        /// The newest schema version this build knows.
        known: usize,
    },
    /// A command that only reads was given a database that does not exist.
    #[error("no database at `{path}`: run an experiment first (exp run FILE) or pass --db")]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// The database cannot be written here (write commands: `exp run`, `exp rm`).
    #[error(
        "database `{path}` is read-only: {why}; `exp run` and `exp rm` must write it (the commands \
         that only read it work), so give write access or copy it somewhere writable"
    )]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// Why, e.g. `there is no write permission on it`.
        why: String,
    },
    /// A read-only database written by an older exp, which would need its schema upgraded.
    #[error(
        "database `{path}` has schema version {found}, this exp reads version {known}, and \
         it cannot be upgraded because it is read-only ({why}); open it once with write \
         access (any exp command upgrades it), or use the exp that wrote it"
    )]
    Outdated {
        /// The database file.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: usize,
        /// The version this build reads.
        known: usize,
        /// Why it cannot be written.
        why: String,
    },
    /// The file is damaged (overwritten pages, a copy cut short) or not a database at all.
    #[error(
        "database `{path}` is damaged: {what} (while {action}); `PRAGMA integrity_check` \
         says: {verdict}. Restore it from a backup, or save what is readable with \
         `sqlite3 {path} .recover`"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What the store was doing.
        action: String,
        /// What was found, e.g. `column 3 of a row holds text that is not UTF-8 (…)`.
        what: String,
        /// The first lines of `PRAGMA integrity_check`.
        verdict: String,
    },
    /// A write for a run this process no longer owns: another process took it over (its
    /// heartbeat had gone stale, e.g. while this process was suspended), or it ended or
    /// was deleted meanwhile. Nothing was written.
    #[error("database `{path}`: run {run_id} is no longer this process's: it is {now}")]
    ClaimLost {
        /// The database file.
        path: PathBuf,
        /// The run's id.
        run_id: i64,
        /// What the run is now, e.g. `being trained by node7 (pid 4242)` or `finished`.
        now: String,
    },
    /// No run has this id.
    #[error("database `{path}`: there is no run with id {run_id}")]
    NoSuchRun {
        /// The database file.
        path: PathBuf,
        /// The id asked for.
        run_id: i64,
    },
    /// A run's stored predictions are not whole records (edited by hand, or cut short).
    #[error("database `{path}`: run {run_id}: {source}")]
    BadPredictions {
        /// The database file.
        path: PathBuf,
        /// The run's id.
        run_id: i64,
        /// What is wrong with the BLOB.
        source: predictions::BadBlob,
    },
    /// A row holds a value exp never writes (edited by hand, or a newer exp).
    #[error("database `{path}`: run {run_id} has an unknown status `{status}`")]
    BadStatus {
        /// The database file.
        path: PathBuf,
        /// The run's id.
        run_id: i64,
        /// The stored status text.
        status: String,
    },
}

/// Results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Wraps a database error with the database and what was being done; an SQLite error
/// that shows the file damaged becomes [`StoreError::Damaged`] (with `PRAGMA
/// integrity_check` run on it), a write refused on a file that cannot be written here
/// [`StoreError::ReadOnly`].
fn sql<'a, E: Into<DbError>>(path: &'a Path, action: &'a str) -> impl FnOnce(E) -> StoreError + 'a {
    move |source| {
        let source = source.into();
        if let Some(what) = faults::damage(&source) {
            return StoreError::Damaged {
                path: path.to_path_buf(),
                action: action.to_string(),
                what,
                verdict: faults::integrity_verdict(path),
            };
        }
        if let DbError::Sqlite(error) = &source
            && faults::is_read_only_error(error)
            && let Some(why) = faults::read_only_reason(path)
        {
            return StoreError::ReadOnly {
                path: path.to_path_buf(),
                why,
            };
        }
        StoreError::Database {
            path: path.to_path_buf(),
            action: action.to_string(),
            source,
        }
    }
}

/// The results database: one connection and where it leads.
///
/// Methods that write take `&mut self`; share a store between threads by giving each
/// thread its own [`Store::open`] on the same database (SQLite's WAL mode lets readers
/// and one writer work at once, and writers wait up to [`BUSY_TIMEOUT`] for each other;
/// PostgreSQL serves each connection on its own).
#[derive(Debug)]
pub struct Store {
    db: Db,
    /// The SQLite file, or the PostgreSQL URL without its password: what errors name.
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `location` and brings its schema up to
    /// date: [`Store::open`] for a file, [`Store::connect`] for a PostgreSQL URL.
    pub fn open_location(location: &Location) -> Result<Store> {
        match location {
            Location::File(path) => Store::open(path),
            Location::Postgres(url) => Store::connect(url),
        }
    }

    /// Opens the existing store at `location` for the commands that only read:
    /// [`Store::open_read_only`] for a file; a PostgreSQL store is simply connected to.
    pub fn open_location_read_only(location: &Location) -> Result<Store> {
        match location {
            Location::File(path) => Store::open_read_only(path),
            Location::Postgres(url) => Store::connect(url),
        }
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to date
    /// (creating the tables in an empty database). Charts and checkpoints go under
    /// `results/` in the working directory, since the database is not a file.
    pub fn connect(url: &location::PostgresUrl) -> Result<Store> {
        let path = PathBuf::from(url.redacted());
        let client = server::connect(url)?;
        let db = Db::Postgres(std::sync::Mutex::new(client));
        let migrated = db
            .transaction(|tx| migrations::migrate_postgres(tx))
            .map_err(sql(&path, "migrating the schema"))?;
        match migrated {
            Migrated::UpToDate { .. } => Ok(Store { db, path }),
            Migrated::TooNew { found, known } => Err(StoreError::TooNew { path, found, known }),
        }
    }

    /// Opens (creating if needed) the database at `path`, its parent directories too,
    /// and brings the schema up to date.
    ///
    /// The connection uses WAL journaling, a 5 s busy timeout and enforced foreign keys.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(sql(path, "opening"))?;
        // SQLite opens a file it may not write read-only, silently; say so at once.
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
                why: faults::read_only_reason(path)
                    .unwrap_or_else(|| "SQLite opened it read-only".into()),
            });
        }
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql(path, "setting the busy timeout"))?;
        use_wal(&conn).map_err(sql(path, "switching to WAL journaling"))?;
        Store::setup(conn, path.to_path_buf())
    }

    /// Opens the existing database at `path` for reading only: what the commands that
    /// only read use, so that a database without write access (file, directory or
    /// filesystem) can be read. Nothing is created, and nothing is written, except that a
    /// database written by an older exp is first upgraded by [`Store::open`] when it can
    /// be written ([`StoreError::Outdated`] when it cannot). Writes through the returned
    /// store fail with [`StoreError::ReadOnly`] or SQLite's read-only error.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        if !path.is_file() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = faults::read_only_connection(path).map_err(sql(path, "opening read-only"))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sql(path, "reading the schema version"))?;
        let found = usize::try_from(version).unwrap_or(usize::MAX);
        let known = MIGRATIONS.len();
        if found > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        if found < known {
            drop(conn);
            match Store::open(path) {
                Ok(upgraded) => drop(upgraded),
                Err(StoreError::ReadOnly { why, .. }) => {
                    return Err(StoreError::Outdated {
                        path: path.to_path_buf(),
                        found,
                        known,
                        why,
                    });
                }
                Err(other) => return Err(other),
            }
            return Store::open_read_only(path);
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql(path, "enabling foreign keys"))?;
        Ok(Store::sqlite(conn, path.to_path_buf()))
    }

    /// A fresh, empty database in memory (tests, dry runs). It reports its path as
    /// `:memory:`.
    pub fn open_in_memory() -> Result<Store> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(sql(&path, "opening"))?;
        Store::setup(conn, path)
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Store> {
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql(&path, "enabling foreign keys"))?;
        match migrations::migrate(&mut conn, MIGRATIONS)
            .map_err(sql(&path, "migrating the schema"))?
        {
            Migrated::UpToDate { .. } => Ok(Store::sqlite(conn, path)),
            Migrated::TooNew { found, known } => Err(StoreError::TooNew { path, found, known }),
        }
    }

    /// The store over an open SQLite connection.
    fn sqlite(conn: Connection, path: PathBuf) -> Store {
        Store {
            db: Db::Sqlite(conn),
            path,
        }
    }

    /// The path the store was opened from (`:memory:` for an in-memory store; for a
    /// PostgreSQL store, its URL without the password).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is a PostgreSQL store (shared between hosts).
    pub fn is_server(&self) -> bool {
        self.db.dialect() == db::Dialect::Postgres
    }

    /// Where an experiment's charts and checkpoints go: beside an SQLite file, as
    /// [`results_dir`] says; under `results/` for a PostgreSQL store.
    pub fn results_dir(&self, experiment: &str) -> PathBuf {
        location::results_dir(
            self.db.dialect() == db::Dialect::Sqlite,
            &self.path,
            experiment,
        )
    }

    /// Runs `f` outside a transaction, naming `action` in its errors.
    fn read<T>(
        &self,
        action: &str,
        f: impl FnOnce(&mut dyn Sql) -> std::result::Result<T, DbError>,
    ) -> Result<T> {
        self.db.run(f).map_err(sql(&self.path, action))
    }

    /// Runs `f` in one write transaction ([`Db::transaction`]), naming `action` in its
    /// errors.
    fn write<T>(
        &self,
        action: &str,
        f: impl FnOnce(&mut dyn Sql) -> std::result::Result<T, DbError>,
    ) -> Result<T> {
        self.db.transaction(f).map_err(sql(&self.path, action))
    }

    /// Records that experiment `name` is being run from `file` with text `source_toml`,
    /// and returns its id. Running the same experiment again keeps its id (and its runs)
    /// and replaces the stored file name and text with the current ones.
    pub fn upsert_experiment(&mut self, name: &str, file: &str, source_toml: &str) -> Result<i64> {
        self.read(&format!("recording experiment `{name}`"), |db| {
            db.query_opt(
                "INSERT INTO experiments (name, file, source_toml) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE
                 SET file = excluded.file, source_toml = excluded.source_toml
                 RETURNING id",
                params![name, file, source_toml],
            )?
            .map_or(Ok(0), |row| row.get(0))
        })
    }

    /// Records what experiment `experiment_id` was run with besides its file: the
    /// `--set` overrides and its data sets' checksums (see [`StoredExperiment`]), so
    /// that `exp worker` can run it from the store alone.
    pub fn record_experiment_inputs(
        &mut self,
        experiment_id: i64,
        overrides: &[String],
        data_sha256: &str,
    ) -> Result<()> {
        let overrides = serde_json::to_string(overrides).unwrap_or_else(|_| "[]".into());
        self.read(
            "recording the experiment's overrides and data checksums",
            |db| {
                db.execute(
                    "UPDATE experiments SET overrides_json = ?2, data_sha256 = ?3 WHERE id = ?1",
                    params![experiment_id, overrides, data_sha256],
                )
            },
        )?;
        Ok(())
    }

    /// Experiment `name` as stored, `None` when there is none.
    pub fn stored_experiment(&self, name: &str) -> Result<Option<StoredExperiment>> {
        let action = format!("reading experiment `{name}`");
        let row = self.read(&action, |db| {
            db.query_opt(
                "SELECT id, name, file, source_toml, overrides_json, data_sha256
                 FROM experiments WHERE name = ?1",
                params![name],
            )
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let read = || -> std::result::Result<_, DbError> {
            Ok((
                row.get::<i64>(0)?,
                row.get::<String>(1)?,
                row.get::<String>(2)?,
                row.get::<String>(3)?,
                row.get::<Option<String>>(4)?,
                row.get::<Option<String>>(5)?,
            ))
        };
        let (id, name, file, source_toml, overrides, data_sha256) =
            read().map_err(sql(&self.path, &action))?;
        // Text exp did not write reads as no overrides rather than failing the worker;
        // the data checksum still guards what it trains on.
        let overrides = overrides
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        Ok(Some(StoredExperiment {
            id,
            name,
            file,
            source_toml,
            overrides,
            data_sha256,
        }))
    }

    /// All experiments as `(id, name)`, oldest first.
    pub fn experiments(&self) -> Result<Vec<(i64, String)>> {
        self.read("listing experiments", |db| {
            db.query("SELECT id, name FROM experiments ORDER BY id", &[])?
                .iter()
                .map(|row| Ok((row.get(0)?, row.get(1)?)))
                .collect()
        })
    }

    /// The keys of the experiment's finished (or pruned) runs: what a resumed sweep can
    /// skip.
    pub fn finished_keys(&self, experiment_id: i64) -> Result<HashSet<String>> {
        self.read("listing finished runs", |db| {
            Ok(column::<String>(
                db,
                "SELECT key FROM runs
                 WHERE experiment_id = ?1 AND status IN ('finished', 'pruned')",
                params![experiment_id],
            )?
            .into_iter()
            .collect())
        })
    }

    /// The store's clock now, as ISO-8601 UTC text with milliseconds (the format of every
    /// time column): what [`Owner::since`] is compared with.
    pub fn now(&self) -> Result<String> {
        self.read("reading the clock", |db| {
            db.query_opt("SELECT {now}", &[])?
                .map_or(Ok(String::new()), |row| row.get(0))
        })
    }

    /// Claims a run for `owner` to train on `device`.
    ///
    /// A new key is inserted as `running`. An existing row is taken over (reset to
    /// `running`: metrics, error and epochs cleared, parameters, configuration and fold
    /// replaced, owner and heartbeat set) when it is
    ///
    /// - `failed` or `interrupted` and ended before `owner.since` (one that ended during
    ///   this sweep was ended by a concurrent process: [`Claim::EndedElsewhere`]);
    /// - `finished`, only with `force`, and also only when it ended before `owner.since`;
    /// - `running` and [`owner::may_reclaim`] says its owner is gone; otherwise
    ///   [`Claim::Busy`].
    ///
    /// The check and the write are one transaction: IMMEDIATE on SQLite; on PostgreSQL
    /// the row is locked `FOR UPDATE SKIP LOCKED`, so a row another process is claiming
    /// at this moment is [`Claim::Busy`], and a new key is inserted `ON CONFLICT DO
    /// NOTHING`, so of two processes inserting it one gets it and the other is busy.
    pub fn claim_run(
        &mut self,
        experiment_id: i64,
        run: &NewRun,
        owner: &Owner,
        device: &str,
        force: bool,
    ) -> Result<Claim> {
        let action = format!("claiming run `{}`", run.key);
        self.write(&action, |tx| {
            let dialect = tx.dialect();
            let silent = dialect.seconds_between("{now}", "COALESCE(heartbeat_at, started_at)");
            let existing = tx.query_opt(
                &format!(
                    "SELECT id, status, finished_at, owner_host, owner_pid, {silent}
                     FROM runs WHERE experiment_id = ?1 AND key = ?2{}",
                    dialect.claim_lock()
                ),
                params![experiment_id, run.key.as_str()],
            )?;
            let Some(row) = existing else {
                let inserted = tx.query_opt(
                    "INSERT INTO runs (experiment_id, key, params_json, config_json, fold,
                                       status, started_at, device, owner_host, owner_pid,
                                       heartbeat_at, repeat, trial)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'running', {now}, ?6, ?7, ?8, {now}, ?9, ?10)
                     ON CONFLICT (experiment_id, key) DO NOTHING
                     RETURNING id",
                    params![
                        experiment_id,
                        run.key.as_str(),
                        run.params_json.as_str(),
                        run.config_json.as_str(),
                        run.fold,
                        device,
                        owner.host.as_str(),
                        owner.pid,
                        run.repeat,
                        run.trial
                    ],
                )?;
                return match inserted {
                    Some(row) => Ok(Claim::Claimed(row.get(0)?)),
                    // Another process holds the row (PostgreSQL only: it is claiming it).
                    None => Ok(claimed_elsewhere(tx, experiment_id, &run.key)?),
                };
            };
            let id: i64 = row.get(0)?;
            let status: String = row.get(1)?;
            let finished_at: Option<String> = row.get(2)?;
            let host: Option<String> = row.get(3)?;
            let pid: Option<i64> = row.get(4)?;
            let silent_for: Option<f64> = row.get(5)?;
            // A time written before this sweep began (or none: hand-edited rows).
            let ended_before = finished_at.is_none_or(|t| t < owner.since);
            match RunStatus::from_name(&status) {
                Some(RunStatus::Finished | RunStatus::Pruned) if !(force && ended_before) => {
                    return Ok(Claim::Finished);
                }
                Some(status @ (RunStatus::Failed | RunStatus::Interrupted)) if !ended_before => {
                    return Ok(Claim::EndedElsewhere(status));
                }
                Some(RunStatus::Running) => {
                    let claimed = Claimed {
                        owner: host.zip(pid.and_then(|p| u32::try_from(p).ok())),
                        silent_for: silent_for
                            .filter(|s| s.is_finite() && *s >= 0.0)
                            .map(Duration::from_secs_f64),
                    };
                    if !owner::may_reclaim(&claimed, owner, owner::pid_alive) {
                        let (host, pid) = claimed.owner.unwrap_or_default();
                        return Ok(Claim::Busy { host, pid });
                    }
                }
                _ => {}
            }
            for table in [
                "epochs",
                "run_metrics",
                "run_predictions",
                "run_user_metrics",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE run_id = ?1"),
                    params![id],
                )?;
            }
            tx.execute(
                "UPDATE runs SET params_json = ?2, config_json = ?3, fold = ?4,
                     repeat = ?8,
                     status = 'running', rmse = NULL, mae = NULL, best_epoch = NULL,
                     seconds = NULL, error = NULL, finished_at = NULL,
                     checkpoint = NULL, checkpoint_sha256 = NULL, seed = NULL,
                     data_sha256 = NULL, exp_version = NULL,
                     device = ?5, owner_host = ?6, owner_pid = ?7,
                     started_at = {now}, heartbeat_at = {now}
                 WHERE id = ?1",
                params![
                    id,
                    run.params_json.as_str(),
                    run.config_json.as_str(),
                    run.fold,
                    device,
                    owner.host.as_str(),
                    owner.pid,
                    run.repeat
                ],
            )?;
            Ok(Claim::Claimed(id))
        })
    }

    /// Records what run `run_id` is made from (its seed, data checksum and exp version),
    /// right after [`Store::claim_run`] claimed it: `exp recommend` rebuilds the run from
    /// these later, even when its experiment has since been run with another seed.
    pub fn record_provenance(
        &mut self,
        run_id: i64,
        owner: &Owner,
        provenance: &Provenance,
    ) -> Result<()> {
        let action = format!("recording the seed and data checksum of run {run_id}");
        self.owned_write(run_id, owner, &action, |tx| {
            tx.execute(
                "UPDATE runs SET seed = ?2, data_sha256 = ?3, exp_version = ?4 WHERE id = ?1",
                params![
                    run_id,
                    // SQL integers are signed: a seed past i64::MAX is kept as the i64
                    // with the same bits, and read back the same way.
                    provenance.seed as i64,
                    provenance.data_sha256.as_str(),
                    provenance.exp_version.as_str()
                ],
            )
            .map(drop)
        })
    }

    /// Runs `write` in one transaction if run `run_id` is still `running` and owned by
    /// `owner`: [`StoreError::ClaimLost`] if another process took it over or it ended,
    /// [`StoreError::NoSuchRun`] if it is gone. Every write a training process makes to
    /// its run goes through here, so a process whose claim was taken over never writes
    /// over the run's new owner. (On PostgreSQL the row is locked for the transaction, so
    /// a takeover cannot slip in between the check and the write.)
    fn owned_write<T>(
        &mut self,
        run_id: i64,
        owner: &Owner,
        action: &str,
        write: impl FnOnce(&mut dyn Sql) -> std::result::Result<T, DbError>,
    ) -> Result<T> {
        let path = self.path.clone();
        let result = self.db.transaction(|tx| {
            let lock = tx.dialect().write_lock();
            let row = tx.query_opt(
                &format!("SELECT status, owner_host, owner_pid FROM runs WHERE id = ?1{lock}"),
                params![run_id],
            )?;
            let Some(row) = row else {
                return Ok(Err(StoreError::NoSuchRun {
                    path: path.clone(),
                    run_id,
                }));
            };
            let status: String = row.get(0)?;
            let host: Option<String> = row.get(1)?;
            let pid: Option<i64> = row.get(2)?;
            let ours = status == "running"
                && host.as_deref() == Some(owner.host.as_str())
                && pid == Some(i64::from(owner.pid));
            if !ours {
                let now = match (status.as_str(), host, pid) {
                    ("running", Some(host), Some(pid)) => {
                        format!("being trained by {host} (pid {pid})")
                    }
                    (status, _, _) => status.to_owned(),
                };
                return Ok(Err(StoreError::ClaimLost {
                    path: path.clone(),
                    run_id,
                    now,
                }));
            }
            write(tx).map(Ok)
        });
        result.map_err(sql(&self.path, action))?
    }

    /// Refreshes the heartbeat of every run `owner` is training, so other processes know
    /// it is alive; returns how many rows it touched.
    pub fn heartbeat(&mut self, owner: &Owner) -> Result<usize> {
        self.read("refreshing the heartbeat of running runs", |db| {
            db.execute(
                "UPDATE runs SET heartbeat_at = {now}
                 WHERE status = 'running' AND owner_host = ?1 AND owner_pid = ?2",
                params![owner.host.as_str(), owner.pid],
            )
        })
    }

    /// Run counts by status for every experiment, by name.
    pub fn status_counts(&self) -> Result<Vec<StatusCounts>> {
        let rows = self.read("counting runs by status", |db| {
            db.query(
                "SELECT e.name, r.status, COUNT(r.id), MIN(r.id), MAX(r.id)
                 FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id
                 GROUP BY e.name, r.status ORDER BY e.name",
                &[],
            )
        })?;
        let mut out: Vec<StatusCounts> = Vec::new();
        for row in rows {
            let read = |row: &Row| -> std::result::Result<_, DbError> {
                Ok((
                    row.get::<String>(0)?,
                    row.get::<Option<String>>(1)?,
                    row.get::<usize>(2)?,
                    row.get::<Option<i64>>(3)?.zip(row.get::<Option<i64>>(4)?),
                ))
            };
            let (experiment, status, n, ids) =
                read(&row).map_err(sql(&self.path, "counting runs by status"))?;
            if out.last().is_none_or(|last| last.experiment != experiment) {
                out.push(StatusCounts {
                    experiment: experiment.clone(),
                    ..Default::default()
                });
            }
            let Some(counts) = out.last_mut() else {
                continue;
            };
            let Some(status) = status else {
                continue; // an experiment with no runs yet
            };
            match RunStatus::from_name(&status) {
                Some(RunStatus::Finished) => counts.finished += n,
                Some(RunStatus::Running) => counts.running += n,
                Some(RunStatus::Failed) => counts.failed += n,
                Some(RunStatus::Interrupted) => counts.interrupted += n,
                Some(RunStatus::Pruned) => counts.pruned += n,
                None => {
                    return Err(StoreError::BadStatus {
                        path: self.path.clone(),
                        run_id: 0,
                        status,
                    });
                }
            }
            counts.total += n;
            if let Some((low, high)) = ids {
                counts.ids = Some(match counts.ids {
                    Some((l, h)) => (l.min(low), h.max(high)),
                    None => (low, high),
                });
            }
        }
        Ok(out)
    }

    /// Runs per experiment and worker host (what `exp status` shows for a store several
    /// hosts share), by experiment and host name.
    pub fn host_counts(&self) -> Result<Vec<HostCounts>> {
        let action = "counting runs by worker host";
        let rows = self.read(action, |db| {
            db.query(
                "SELECT e.name, r.owner_host, COUNT(DISTINCT r.owner_pid),
                        SUM(CASE WHEN r.status IN ('finished', 'pruned') THEN 1 ELSE 0 END),
                        SUM(CASE WHEN r.status = 'running' THEN 1 ELSE 0 END),
                        SUM(CASE WHEN r.status IN ('failed', 'interrupted') THEN 1 ELSE 0 END)
                 FROM runs r JOIN experiments e ON e.id = r.experiment_id
                 WHERE r.owner_host IS NOT NULL
                 GROUP BY e.name, r.owner_host ORDER BY e.name, r.owner_host",
                &[],
            )?
            .iter()
            .map(|row| {
                Ok(HostCounts {
                    experiment: row.get(0)?,
                    host: row.get(1)?,
                    processes: row.get(2)?,
                    finished: row.get(3)?,
                    running: row.get(4)?,
                    ended_otherwise: row.get(5)?,
                })
            })
            .collect()
        })?;
        Ok(rows)
    }

    /// Records one trained epoch of a run `owner` is training. Each epoch number may be
    /// recorded once per claim. NaN metrics are stored as NULL and read back as NaN.
    pub fn add_epoch(&mut self, run_id: i64, owner: &Owner, epoch: &EpochRecord) -> Result<()> {
        let action = format!("recording epoch {} of run {run_id}", epoch.epoch);
        self.owned_write(run_id, owner, &action, |tx| {
            tx.execute(
                "INSERT INTO epochs
                     (run_id, epoch, train_loss, rmse, mae, seconds, val_rmse, val_mae,
                      train_seconds)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    run_id,
                    epoch.epoch,
                    epoch.train_loss,
                    epoch.rmse,
                    epoch.mae,
                    epoch.seconds,
                    epoch.validation_rmse,
                    epoch.validation_mae,
                    epoch.train_seconds
                ],
            )
            .map(drop)
        })
    }

    /// Stores run `run_id`'s test predictions (`metrics.save_predictions`), replacing any
    /// an earlier attempt stored. Written before the run is marked finished, so a finished
    /// run that asked for predictions has them.
    pub fn save_predictions(
        &mut self,
        run_id: i64,
        owner: &Owner,
        preds: &[predictions::Prediction],
    ) -> Result<()> {
        let action = format!("saving the test predictions of run {run_id}");
        self.owned_write(run_id, owner, &action, |tx| {
            tx.execute(
                "INSERT INTO run_predictions (run_id, count, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id) DO UPDATE SET count = excluded.count, data = excluded.data",
                params![run_id, preds.len(), predictions::encode(preds)],
            )
            .map(drop)
        })
    }

    /// Run `run_id`'s stored test predictions, `None` when it saved none.
    pub fn predictions(&self, run_id: i64) -> Result<Option<Vec<predictions::Prediction>>> {
        let action = format!("reading the test predictions of run {run_id}");
        let Some((count, data)) = self.counted_blob(
            "SELECT count, data FROM run_predictions WHERE run_id = ?1",
            params![run_id],
            &action,
        )?
        else {
            return Ok(None);
        };
        predictions::decode(&data, count)
            .map(Some)
            .map_err(|source| StoreError::BadPredictions {
                path: self.path.clone(),
                run_id,
                source,
            })
    }

    /// Stores each user's value of run `run_id`'s ranking metric `name`
    /// (`metrics.save_predictions`), replacing any an earlier attempt stored.
    pub fn save_user_metric(
        &mut self,
        run_id: i64,
        owner: &Owner,
        name: &str,
        values: &[(u32, f32)],
    ) -> Result<()> {
        let action = format!("saving the per-user `{name}` of run {run_id}");
        self.owned_write(run_id, owner, &action, |tx| {
            tx.execute(
                "INSERT INTO run_user_metrics (run_id, name, count, data)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (run_id, name) DO UPDATE
                 SET count = excluded.count, data = excluded.data",
                params![
                    run_id,
                    name,
                    values.len(),
                    predictions::encode_user_values(values)
                ],
            )
            .map(drop)
        })
    }

    /// Each user's value of run `run_id`'s ranking metric `name`, `None` when it saved
    /// none.
    pub fn user_metric(&self, run_id: i64, name: &str) -> Result<Option<Vec<(u32, f32)>>> {
        let action = format!("reading the per-user `{name}` of run {run_id}");
        let Some((count, data)) = self.counted_blob(
            "SELECT count, data FROM run_user_metrics WHERE run_id = ?1 AND name = ?2",
            params![run_id, name],
            &action,
        )?
        else {
            return Ok(None);
        };
        predictions::decode_user_values(&data, count)
            .map(Some)
            .map_err(|source| StoreError::BadPredictions {
                path: self.path.clone(),
                run_id,
                source,
            })
    }

    /// The `(count, data)` row of a packed-records table that `query` selects; `None`
    /// when there is none. `action` names the read in errors.
    fn counted_blob(
        &self,
        query: &str,
        params: &[Value],
        action: &str,
    ) -> Result<Option<(usize, Vec<u8>)>> {
        self.read(action, |db| {
            db.query_opt(query, params)?
                .map(|row| Ok((row.get(0)?, row.get(1)?)))
                .transpose()
        })
    }

    /// The ids of the runs of experiment `name` that stored test predictions.
    pub fn runs_with_predictions(&self, name: &str) -> Result<Vec<i64>> {
        let action = format!("listing the runs of experiment `{name}` with predictions");
        self.read(&action, |db| {
            column(
                db,
                "SELECT p.run_id FROM run_predictions p JOIN runs r ON r.id = p.run_id
                 JOIN experiments e ON e.id = r.experiment_id
                 WHERE e.name = ?1 ORDER BY p.run_id",
                params![name],
            )
        })
    }

    /// Marks a run `owner` is training finished (with its metrics), failed (with its
    /// error), pruned or interrupted, and stamps `finished_at`.
    pub fn finish_run(&mut self, run_id: i64, owner: &Owner, outcome: &RunOutcome) -> Result<()> {
        let action = format!("finishing run {run_id}");
        self.owned_write(run_id, owner, &action, |tx| {
            // A re-run replaces whatever an earlier attempt of this run stored.
            tx.execute("DELETE FROM run_metrics WHERE run_id = ?1", params![run_id])?;
            match outcome {
                RunOutcome::Finished {
                    rmse,
                    mae,
                    best_epoch,
                    seconds,
                    checkpoint,
                    engine,
                    metrics,
                } => {
                    tx.execute(
                        "UPDATE runs SET status = 'finished', rmse = ?2, mae = ?3, best_epoch = ?4,
                             seconds = ?5, error = NULL, checkpoint = ?6, engine = ?7,
                             checkpoint_sha256 = ?8, finished_at = {now}
                         WHERE id = ?1",
                        params![
                            run_id,
                            *rmse,
                            *mae,
                            *best_epoch,
                            *seconds,
                            checkpoint.as_ref().map(|c| c.path.as_str()),
                            engine.as_deref(),
                            checkpoint.as_ref().map(|c| c.sha256.as_str())
                        ],
                    )?;
                    for (name, value) in metrics {
                        tx.execute(
                            "INSERT INTO run_metrics (run_id, name, value) VALUES (?1, ?2, ?3)",
                            params![run_id, name.as_str(), *value],
                        )?;
                    }
                }
                RunOutcome::Failed { error, seconds } => {
                    tx.execute(
                        "UPDATE runs SET status = 'failed', rmse = NULL, mae = NULL,
                             best_epoch = NULL, seconds = ?2, error = ?3, finished_at = {now}
                         WHERE id = ?1",
                        params![run_id, *seconds, error.as_str()],
                    )?;
                }
                RunOutcome::Pruned {
                    reason,
                    epoch,
                    seconds,
                } => {
                    tx.execute(
                        "UPDATE runs SET status = 'pruned', rmse = NULL, mae = NULL,
                             best_epoch = ?4, seconds = ?2, error = ?3, finished_at = {now}
                         WHERE id = ?1",
                        params![run_id, *seconds, reason.as_str(), *epoch],
                    )?;
                }
                RunOutcome::Interrupted { reason, seconds } => {
                    tx.execute(
                        "UPDATE runs SET status = 'interrupted', rmse = NULL, mae = NULL,
                             best_epoch = NULL, seconds = ?2, error = ?3, finished_at = {now}
                         WHERE id = ?1",
                        params![run_id, *seconds, reason.as_str()],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Runs of one experiment (by name), or of all experiments, ordered by experiment
    /// name and then by id (claim order, which is grid order for a fresh sweep).
    pub fn runs(&self, experiment: Option<&str>) -> Result<Vec<StoredRun>> {
        let action = match experiment {
            Some(name) => format!("reading the runs of experiment `{name}`"),
            None => "reading runs".to_string(),
        };
        let (rows, metric_rows) = self.read(&action, |db| {
            let runs = db.query(
                &format!(
                    "{RUN_COLUMNS} WHERE CAST(?1 AS TEXT) IS NULL OR e.name = ?1
                     ORDER BY e.name, r.id"
                ),
                params![experiment],
            )?;
            let metrics = db.query(
                "SELECT m.run_id, m.name, m.value
                 FROM run_metrics m JOIN runs r ON r.id = m.run_id
                 JOIN experiments e ON e.id = r.experiment_id
                 WHERE CAST(?1 AS TEXT) IS NULL OR e.name = ?1",
                params![experiment],
            )?;
            Ok((runs, metrics))
        })?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            runs.push(self.read_run(row, &action)?);
        }
        let index: HashMap<i64, usize> = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        for row in &metric_rows {
            let read = || -> std::result::Result<_, DbError> {
                Ok((row.get::<i64>(0)?, row.get::<String>(1)?, row.get_nan(2)?))
            };
            let (run_id, name, value) = read().map_err(sql(&self.path, &action))?;
            if let Some(&i) = index.get(&run_id) {
                runs[i].metrics.insert(name, value);
            }
        }
        Ok(runs)
    }

    /// The run with id `run_id`, with its named metrics; [`StoreError::NoSuchRun`] if
    /// there is none. What `exp recommend` and `exp similar` start from.
    pub fn run(&self, run_id: i64) -> Result<StoredRun> {
        let action = format!("reading run {run_id}");
        let (found, metric_rows) = self.read(&action, |db| {
            let run = db.query_opt(&format!("{RUN_COLUMNS} WHERE r.id = ?1"), params![run_id])?;
            let metrics = db.query(
                "SELECT name, value FROM run_metrics WHERE run_id = ?1",
                params![run_id],
            )?;
            Ok((run, metrics))
        })?;
        let Some(row) = found else {
            return Err(StoreError::NoSuchRun {
                path: self.path.clone(),
                run_id,
            });
        };
        let mut run = self.read_run(&row, &action)?;
        for row in &metric_rows {
            let read = || -> std::result::Result<_, DbError> {
                Ok((row.get::<String>(0)?, row.get_nan(1)?))
            };
            let (name, value) = read().map_err(sql(&self.path, &action))?;
            run.metrics.insert(name, value);
        }
        Ok(run)
    }

    /// A row of [`RUN_COLUMNS`] as a run (without its named metrics).
    fn read_run(&self, row: &Row, action: &str) -> Result<StoredRun> {
        let (run, status) = read_run(row).map_err(sql(&self.path, action))?;
        let Some(status) = RunStatus::from_name(&status) else {
            return Err(StoreError::BadStatus {
                path: self.path.clone(),
                run_id: run.id,
                status,
            });
        };
        Ok(StoredRun { status, ..run })
    }

    /// The stored text of experiment `name`'s file (as of its latest `exp run`), if the
    /// experiment exists.
    pub fn experiment_source(&self, name: &str) -> Result<Option<String>> {
        self.read(&format!("reading the file of experiment `{name}`"), |db| {
            db.query_opt(
                "SELECT source_toml FROM experiments WHERE name = ?1",
                params![name],
            )?
            .map(|row| row.get(0))
            .transpose()
        })
    }

    /// Deletes the runs `ids` with their epochs and metrics, in one transaction, leaving
    /// any that are `running` (a process may be training them). Returns how many were
    /// deleted. Checkpoint files are the caller's to remove.
    pub fn delete_runs(&mut self, ids: &[i64]) -> Result<usize> {
        self.write(&format!("deleting {} run(s)", ids.len()), |tx| {
            let mut deleted = 0;
            for id in ids {
                deleted += tx.execute(
                    "DELETE FROM runs WHERE id = ?1 AND status != 'running'",
                    params![*id],
                )?;
            }
            Ok(deleted)
        })
    }

    /// Deletes experiment `name` when it has no runs left; true if it was deleted.
    pub fn delete_experiment_if_empty(&mut self, name: &str) -> Result<bool> {
        let deleted = self.read(&format!("deleting experiment `{name}`"), |db| {
            db.execute(
                "DELETE FROM experiments WHERE name = ?1
                 AND NOT EXISTS (SELECT 1 FROM runs WHERE experiment_id = experiments.id)",
                params![name],
            )
        })?;
        Ok(deleted > 0)
    }

    /// The recorded epochs of a run, in epoch order (empty for an unknown id).
    pub fn epochs(&self, run_id: i64) -> Result<Vec<EpochRecord>> {
        self.read(&format!("reading the epochs of run {run_id}"), |db| {
            db.query(
                "SELECT epoch, train_loss, rmse, mae, seconds, val_rmse, val_mae, train_seconds
                 FROM epochs
                 WHERE run_id = ?1 ORDER BY epoch",
                params![run_id],
            )?
            .iter()
            .map(|row| {
                Ok(EpochRecord {
                    epoch: row.get(0)?,
                    train_loss: row.get_nan(1)?,
                    rmse: row.get_nan(2)?,
                    mae: row.get_nan(3)?,
                    seconds: row.get_nan(4)?,
                    validation_rmse: row.get(5)?,
                    validation_mae: row.get(6)?,
                    train_seconds: row.get(7)?,
                })
            })
            .collect()
        })
    }
}

/// What [`Store::claim_run`] answers when the row it would insert is there but locked or
/// not yet committed by another process: busy, naming that process when its claim is
/// visible.
fn claimed_elsewhere(
    tx: &mut dyn Sql,
    experiment_id: i64,
    key: &str,
) -> std::result::Result<Claim, DbError> {
    let row = tx.query_opt(
        "SELECT owner_host, owner_pid FROM runs WHERE experiment_id = ?1 AND key = ?2",
        params![experiment_id, key],
    )?;
    let (host, pid) = match row {
        Some(row) => (
            row.get::<Option<String>>(0)?.unwrap_or_default(),
            row.get::<Option<i64>>(1)?
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0),
        ),
        None => (String::new(), 0),
    };
    Ok(Claim::Busy { host, pid })
}

/// The columns [`read_run`] reads, from `runs r JOIN experiments e`.
const RUN_COLUMNS: &str = "SELECT r.id, e.name, r.key, r.params_json, r.config_json, r.fold,
        r.status, r.rmse, r.mae, r.best_epoch, r.seconds, r.error, r.checkpoint,
        r.checkpoint_sha256, r.seed, r.data_sha256, r.exp_version, r.repeat
    FROM runs r JOIN experiments e ON e.id = r.experiment_id";

/// Puts the database in WAL mode (persistent in the file), retrying while another process
/// holds the lock for [`BUSY_TIMEOUT`] at most.
///
/// SQLite answers a journal-mode change that meets another connection's lock with "busy"
/// at once, without calling the busy handler, so two `exp run` processes opening a new
/// database together would fail one of them; they wait for each other here instead.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        // journal_mode answers with the mode now in force.
        let result = conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        });
        match result {
            Ok(_) => return Ok(()),
            Err(error) if is_busy(&error) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Whether `error` is SQLite's "database is busy" or "database is locked".
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Where an experiment's charts and checkpoints go for an SQLite store:
/// `<database directory>/<experiment>/`, beside the store that records its runs.
pub fn results_dir(db: &Path, experiment: &str) -> PathBuf {
    location::results_dir(true, db, experiment)
}

#[cfg(test)]
impl Store {
    /// This process as a claimant whose sweep began far in the future, so every ended
    /// run counts as ended before it (the plain resume case).
    pub(crate) fn test_owner() -> Owner {
        Owner {
            host: "test-host".into(),
            pid: std::process::id(),
            since: "9999-01-01T00:00:00.000Z".into(),
        }
    }

    /// Makes every heartbeat `seconds` old, as if their owners had gone silent.
    pub(crate) fn age_heartbeats(&mut self, seconds: u64) {
        let sql = match self.db.dialect() {
            db::Dialect::Sqlite => {
                "UPDATE runs SET heartbeat_at =
                     strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ?1 || ' seconds')"
            }
            db::Dialect::Postgres => {
                "UPDATE runs SET heartbeat_at = to_char(
                     clock_timestamp() AT TIME ZONE 'UTC' - make_interval(secs => ?1),
                     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            }
        };
        self.read("ageing heartbeats", |db| {
            db.execute(sql, params![seconds as f64])
        })
        .expect("age the heartbeats");
    }

    /// [`Store::claim_run`] as the plain resume case sees it: the row id when claimed.
    pub(crate) fn claim(&mut self, experiment_id: i64, run: &NewRun) -> Result<Option<i64>> {
        Ok(
            match self.claim_run(experiment_id, run, &Store::test_owner(), "cpu", false)? {
                Claim::Claimed(id) => Some(id),
                _ => None,
            },
        )
    }

    /// The SQLite connection of a file or in-memory store (tests that inspect rows).
    pub(crate) fn sqlite_conn(&self) -> &Connection {
        match &self.db {
            Db::Sqlite(conn) => conn,
            Db::Postgres(_) => panic!("not an SQLite store"),
        }
    }

    /// Runs `sql` on either engine and returns its rows (tests that inspect rows).
    pub(crate) fn test_query(&self, sql: &str, params: &[Value]) -> Vec<Row> {
        self.read("a test query", |db| db.query(sql, params))
            .expect("test query")
    }
}

/// Reads a [`RUN_COLUMNS`] row; the status comes back as text for the caller to check,
/// so that a bad value can be reported with the database path.
fn read_run(row: &Row) -> std::result::Result<(StoredRun, String), DbError> {
    let run = StoredRun {
        id: row.get(0)?,
        experiment: row.get(1)?,
        key: row.get(2)?,
        params_json: row.get(3)?,
        config_json: row.get(4)?,
        fold: row.get(5)?,
        status: RunStatus::Running,
        rmse: row.get(7)?,
        mae: row.get(8)?,
        best_epoch: row.get(9)?,
        seconds: row.get(10)?,
        error: row.get(11)?,
        checkpoint: row.get(12)?,
        checkpoint_sha256: row.get(13)?,
        // Stored as the i64 with the same bits (see `record_provenance`).
        seed: row.get::<Option<i64>>(14)?.map(|s| s as u64),
        data_sha256: row.get(15)?,
        exp_version: row.get(16)?,
        repeat: row.get(17)?,
        metrics: BTreeMap::new(),
    };
    Ok((run, row.get(6)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(key: &str, fold: usize) -> NewRun {
        NewRun {
            key: key.to_string(),
            params_json: r#"{"model.embedding_size":8}"#.to_string(),
            config_json: r#"{"model":{"embedding_size":8}}"#.to_string(),
            fold,
            repeat: 0,
            trial: None,
        }
    }

    fn epoch(n: usize, rmse: f64) -> EpochRecord {
        EpochRecord {
            epoch: n,
            train_loss: 1.0 / n as f64,
            rmse,
            mae: rmse * 0.8,
            seconds: 0.5,
            train_seconds: Some(0.25),
            validation_rmse: None,
            validation_mae: None,
        }
    }

    fn finished(rmse: f64) -> RunOutcome {
        RunOutcome::Finished {
            rmse,
            mae: rmse * 0.8,
            best_epoch: 3,
            seconds: 12.5,
            checkpoint: None,
            engine: None,
            metrics: vec![("ndcg@10".to_string(), 0.25)],
        }
    }

    fn store() -> Store {
        Store::open_in_memory().expect("in-memory store")
    }

    fn later() -> Owner {
        Store::test_owner()
    }

    fn owner(host: &str, pid: u32, since: &str) -> Owner {
        Owner {
            host: host.into(),
            pid,
            since: since.into(),
        }
    }

    #[test]
    fn a_run_a_live_process_trains_is_busy_until_that_process_dies() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let here = owner::host_name();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let other = owner(&here, child.id(), "2000-01-01T00:00:00.000Z");
        let me = Owner::this_process(store.now().expect("now"));
        let id = match store.claim_run(exp, &new_run("k", 0), &other, "cpu", false) {
            Ok(Claim::Claimed(id)) => id,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            store
                .claim_run(exp, &new_run("k", 0), &me, "cpu", false)
                .expect("second claim"),
            Claim::Busy {
                host: here.clone(),
                pid: child.id()
            },
            "a live process keeps its run"
        );
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert_eq!(
            store
                .claim_run(exp, &new_run("k", 0), &me, "cuda:0", false)
                .expect("reclaim"),
            Claim::Claimed(id),
            "a dead owner's run is taken over"
        );
        let (host, pid, device): (String, u32, String) = store
            .sqlite_conn()
            .query_row(
                "SELECT owner_host, owner_pid, device FROM runs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row");
        assert_eq!((host, pid, device.as_str()), (here, me.pid, "cuda:0"));
    }

    #[test]
    fn a_run_on_another_host_is_busy_until_its_heartbeat_is_stale() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let remote = owner("elsewhere", 4242, "2000-01-01T00:00:00.000Z");
        let me = Owner::this_process(store.now().expect("now"));
        store
            .claim_run(exp, &new_run("k", 0), &remote, "cpu", false)
            .expect("remote claim");
        let busy = store
            .claim_run(exp, &new_run("k", 0), &me, "cpu", false)
            .expect("busy");
        assert!(matches!(busy, Claim::Busy { pid: 4242, .. }), "{busy:?}");
        // The remote process refreshes; then it goes silent for longer than STALE_AFTER.
        assert_eq!(store.heartbeat(&remote).expect("heartbeat"), 1);
        assert_eq!(store.heartbeat(&me).expect("not mine"), 0);
        store
            .sqlite_conn()
            .execute(
                "UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-301 seconds')",
                [],
            )
            .expect("age the heartbeat");
        assert!(matches!(
            store
                .claim_run(exp, &new_run("k", 0), &me, "cpu", false)
                .expect("stale"),
            Claim::Claimed(_)
        ));
    }

    #[test]
    fn a_process_whose_run_was_taken_over_writes_nothing_more_to_it() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let sleeper = owner("laptop", 1111, "2000-01-01T00:00:00.000Z");
        let taker = owner("node7", 2222, "2000-01-01T00:00:00.000Z");
        let id = match store.claim_run(exp, &new_run("k", 0), &sleeper, "cpu", false) {
            Ok(Claim::Claimed(id)) => id,
            other => panic!("claim: {other:?}"),
        };
        store
            .add_epoch(id, &sleeper, &epoch(1, 1.0))
            .expect("its own epoch");
        // The first process is suspended past STALE_AFTER; the second takes the run over
        // (its epochs are cleared) and trains epoch 1 again.
        store
            .sqlite_conn()
            .execute(
                "UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-301 seconds')",
                [],
            )
            .expect("age the heartbeat");
        let claim = store.claim_run(exp, &new_run("k", 0), &taker, "cpu", false);
        assert!(
            matches!(claim, Ok(Claim::Claimed(i)) if i == id),
            "{claim:?}"
        );
        store
            .add_epoch(id, &taker, &epoch(1, 0.95))
            .expect("taker's epoch");

        // The first process wakes up: every write it tries is refused, and says why.
        let lost = |result: Result<()>| match result {
            Err(StoreError::ClaimLost { run_id, now, .. }) => {
                assert_eq!(run_id, id);
                now
            }
            other => panic!("expected ClaimLost, got {other:?}"),
        };
        let now = lost(store.add_epoch(id, &sleeper, &epoch(2, 0.9)));
        assert_eq!(now, "being trained by node7 (pid 2222)");
        let provenance = Provenance::new(7, "abc".into());
        lost(store.record_provenance(id, &sleeper, &provenance));
        lost(store.save_predictions(id, &sleeper, &[]));
        lost(store.save_user_metric(id, &sleeper, "ndcg@10", &[(1, 0.5)]));
        lost(store.finish_run(id, &sleeper, &finished(0.9)));
        // Same host name, other pid: not the owner either.
        let twin = owner("node7", 3333, "2000-01-01T00:00:00.000Z");
        lost(store.add_epoch(id, &twin, &epoch(2, 0.9)));

        // The taker finishes; the sleeper's late end is refused and changes nothing.
        store
            .add_epoch(id, &taker, &epoch(2, 0.85))
            .expect("taker's epoch 2");
        store
            .finish_run(id, &taker, &finished(0.85))
            .expect("taker finishes");
        assert_eq!(
            lost(store.finish_run(id, &sleeper, &finished(2.0))),
            "finished"
        );
        let run = store.run(id).expect("run");
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(run.rmse, Some(0.85));
        let rmses: Vec<f64> = store
            .epochs(id)
            .expect("epochs")
            .iter()
            .map(|e| e.rmse)
            .collect();
        assert_eq!(rmses, [0.95, 0.85], "only the taker's epochs");

        // A deleted run is no such run, not a lost one.
        store.delete_runs(&[id]).expect("delete");
        assert!(matches!(
            store.add_epoch(id, &taker, &epoch(3, 0.8)),
            Err(StoreError::NoSuchRun { .. })
        ));
    }

    #[test]
    fn runs_that_ended_during_this_sweep_are_left_to_the_next_one() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let early = owner("h", 1, "2000-01-01T00:00:00.000Z");
        let failed = RunOutcome::Failed {
            error: "boom".into(),
            seconds: 1.0,
        };
        for (key, outcome) in [
            ("failed", failed),
            (
                "interrupted",
                RunOutcome::Interrupted {
                    reason: "stopped".into(),
                    seconds: 1.0,
                },
            ),
            ("finished", finished(0.9)),
        ] {
            let Claim::Claimed(id) = store
                .claim_run(exp, &new_run(key, 0), &early, "cpu", false)
                .expect("claim")
            else {
                panic!("new key");
            };
            store.finish_run(id, &early, &outcome).expect("end");
        }
        // A process whose sweep began before those runs ended (a concurrent one).
        let concurrent = owner("h", 2, "2000-01-01T00:00:00.000Z");
        let claim = |store: &mut Store, key: &str, who: &Owner, force: bool| {
            store
                .claim_run(exp, &new_run(key, 0), who, "cpu", force)
                .expect("claim")
        };
        assert_eq!(
            claim(&mut store, "failed", &concurrent, false),
            Claim::EndedElsewhere(RunStatus::Failed)
        );
        assert_eq!(
            claim(&mut store, "interrupted", &concurrent, false),
            Claim::EndedElsewhere(RunStatus::Interrupted)
        );
        assert_eq!(
            claim(&mut store, "finished", &concurrent, true),
            Claim::Finished,
            "--force does not redo what a concurrent --force just did"
        );
        // A later sweep retries failed and interrupted runs; only --force redoes finished.
        let next = later();
        assert!(matches!(
            claim(&mut store, "failed", &next, false),
            Claim::Claimed(_)
        ));
        assert!(matches!(
            claim(&mut store, "interrupted", &next, false),
            Claim::Claimed(_)
        ));
        assert_eq!(claim(&mut store, "finished", &next, false), Claim::Finished);
        assert!(matches!(
            claim(&mut store, "finished", &next, true),
            Claim::Claimed(_)
        ));
        let statuses: Vec<RunStatus> = store
            .runs(None)
            .expect("runs")
            .iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses, vec![RunStatus::Running; 3]);
    }

    #[test]
    fn status_counts_group_runs_by_experiment_and_status() {
        let mut store = store();
        let a = store.upsert_experiment("a", "a.toml", "").expect("a");
        store
            .upsert_experiment("empty", "e.toml", "")
            .expect("empty");
        let ids: Vec<i64> = (0..4)
            .map(|k| {
                store
                    .claim(a, &new_run(&format!("k{k}"), 0))
                    .expect("claim")
                    .expect("new")
            })
            .collect();
        store
            .finish_run(ids[0], &Store::test_owner(), &finished(0.9))
            .expect("finish");
        store
            .finish_run(ids[1], &Store::test_owner(), &finished(0.8))
            .expect("finish");
        let stop = RunOutcome::Interrupted {
            reason: "stopped".into(),
            seconds: 0.5,
        };
        store
            .finish_run(ids[2], &Store::test_owner(), &stop)
            .expect("interrupt");
        assert_eq!(
            store.status_counts().expect("counts"),
            vec![
                StatusCounts {
                    experiment: "a".into(),
                    total: 4,
                    finished: 2,
                    running: 1,
                    failed: 0,
                    interrupted: 1,
                    pruned: 0,
                    ids: Some((ids[0], ids[3])),
                },
                StatusCounts {
                    experiment: "empty".into(),
                    ..Default::default()
                },
            ]
        );
    }

    #[test]
    fn one_run_reads_back_by_id_with_its_metrics_and_experiment_file() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "seed = 3").unwrap();
        let id = store.claim(exp, &new_run("k", 1)).unwrap().unwrap();
        store
            .finish_run(id, &Store::test_owner(), &finished(0.9))
            .unwrap();
        let run = store.run(id).unwrap();
        assert_eq!((run.key.as_str(), run.fold), ("k", 1));
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(run.metric("ndcg@10"), Some(0.25));
        assert_eq!(run, store.runs(None).unwrap()[0]);
        assert_eq!(
            store.experiment_source("e").unwrap().as_deref(),
            Some("seed = 3")
        );
        assert_eq!(store.experiment_source("nope").unwrap(), None);
        let missing = store.run(id + 1).unwrap_err().to_string();
        assert!(
            missing.contains(&format!("no run with id {}", id + 1)),
            "{missing}"
        );
    }

    #[test]
    fn file_store_is_created_with_parents_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/deeper/results.db");
        let run_id = {
            let mut store = Store::open(&path).expect("create");
            assert_eq!(store.path(), path);
            let exp = store
                .upsert_experiment("e", "e.toml", "x = 1")
                .expect("exp");
            let id = store.claim(exp, &new_run("k", 0)).expect("claim");
            id.expect("new key is claimable")
        };
        // Reopening runs the migrations again, which must be a no-op on existing data.
        let store = Store::open(&path).expect("reopen");
        let runs = store.runs(None).expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].id, run_id);
        let (version, journal, fk): (i64, String, bool) = store
            .sqlite_conn()
            .query_row(
                "SELECT (SELECT user_version FROM pragma_user_version),
                        (SELECT journal_mode FROM pragma_journal_mode),
                        (SELECT foreign_keys FROM pragma_foreign_keys)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("pragmas");
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(journal, "wal");
        assert!(fk);
    }

    #[test]
    fn concurrent_writers_on_one_file_all_succeed() {
        // Each thread has its own connection, as the scheduler's workers will. IMMEDIATE
        // claims plus the busy timeout must serialise them without SQLITE_BUSY errors.
        // (Keys are distinct per worker: two workers claiming one key would both train
        // it, since a running row is reclaimable by design; see claim_run.)
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shared.db");
        let exp = Store::open(&path)
            .expect("create")
            .upsert_experiment("e", "e.toml", "")
            .expect("exp");
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || -> Result<usize> {
                    let mut store = Store::open(&path)?;
                    let mut claimed = 0;
                    for k in 0..25 {
                        let key = format!("w{w}-{k}");
                        if let Some(id) = store.claim(exp, &new_run(&key, 0))? {
                            store.add_epoch(id, &Store::test_owner(), &epoch(1, 1.0))?;
                            store.add_epoch(id, &Store::test_owner(), &epoch(2, 0.9))?;
                            store.finish_run(id, &Store::test_owner(), &finished(0.9))?;
                            claimed += 1;
                        }
                        // Readers interleave with the writers.
                        store.finished_keys(exp)?;
                    }
                    Ok(claimed)
                })
            })
            .collect();
        for worker in workers {
            let claimed = worker
                .join()
                .expect("worker thread")
                .expect("no store error");
            assert_eq!(claimed, 25);
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.finished_keys(exp).expect("keys").len(), 100);
    }

    #[test]
    fn a_run_keeps_its_provenance_and_checkpoint_hash_until_it_is_claimed_again() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").unwrap();
        let id = store.claim(exp, &new_run("k", 0)).unwrap().unwrap();
        let provenance = Provenance::new(u64::MAX - 1, "d".repeat(64));
        store
            .record_provenance(id, &Store::test_owner(), &provenance)
            .unwrap();
        let mut outcome = finished(0.9);
        if let RunOutcome::Finished { checkpoint, .. } = &mut outcome {
            *checkpoint = Some(records::Checkpoint {
                path: "e/checkpoints/k.safetensors".into(),
                sha256: "c".repeat(64),
            });
        }
        store
            .finish_run(id, &Store::test_owner(), &outcome)
            .unwrap();
        let run = store.run(id).unwrap();
        assert_eq!(run.seed, Some(u64::MAX - 1), "seeds past i64::MAX survive");
        assert_eq!(run.data_sha256.as_deref(), Some("d".repeat(64).as_str()));
        assert_eq!(run.exp_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(
            run.checkpoint_sha256.as_deref(),
            Some("c".repeat(64).as_str())
        );
        assert_eq!(run, store.runs(None).unwrap()[0]);
        // A retrain starts from nothing: the next claim clears what the last one recorded.
        store
            .claim_run(exp, &new_run("k", 0), &later(), "cpu", true)
            .unwrap();
        let run = store.run(id).unwrap();
        assert_eq!(
            (run.seed, run.data_sha256, run.checkpoint_sha256),
            (None, None, None)
        );
        assert!(matches!(
            store.record_provenance(id + 1, &Store::test_owner(), &provenance),
            Err(StoreError::NoSuchRun { .. })
        ));
    }

    #[test]
    fn a_read_only_store_reads_and_refuses_to_write_or_create() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let missing = Store::open_read_only(&path).unwrap_err();
        assert!(matches!(missing, StoreError::Missing { .. }), "{missing}");
        assert!(!path.exists(), "nothing is created");
        {
            let mut store = Store::open(&path).unwrap();
            let exp = store.upsert_experiment("e", "e.toml", "").unwrap();
            store.claim(exp, &new_run("k", 0)).unwrap();
        }
        let mut store = Store::open_read_only(&path).unwrap();
        assert_eq!(store.runs(None).unwrap().len(), 1);
        let err = store.upsert_experiment("f", "f.toml", "").unwrap_err();
        assert!(err.to_string().contains("r.db"), "{err}");
        assert!(
            matches!(&err, StoreError::Database { source: DbError::Sqlite(source), .. }
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly)),
            "{err:?}"
        );
        drop(store);

        // An older schema is upgraded first (here it may be written), then read.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "ALTER TABLE runs DROP COLUMN seed; ALTER TABLE runs DROP COLUMN data_sha256;
                 ALTER TABLE runs DROP COLUMN exp_version;
                 ALTER TABLE runs DROP COLUMN checkpoint_sha256;
                 ALTER TABLE epochs DROP COLUMN train_seconds;
                 ALTER TABLE runs DROP COLUMN repeat; DROP TABLE run_predictions;
                 DROP TABLE run_user_metrics; DROP TABLE trials;
                 ALTER TABLE runs DROP COLUMN trial;
                 ALTER TABLE experiments DROP COLUMN overrides_json;
                 ALTER TABLE experiments DROP COLUMN data_sha256;
                 PRAGMA user_version = 5;",
            )
            .unwrap();
        }
        let store = Store::open_read_only(&path).unwrap();
        assert_eq!(store.runs(None).unwrap()[0].checkpoint_sha256, None);
        let version: i64 = store
            .sqlite_conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_row_overwritten_in_place_is_reported_as_damage_with_the_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let mut store = Store::open(&path).unwrap();
        let exp = store.upsert_experiment("e", "e.toml", "").unwrap();
        let id = store.claim(exp, &new_run("k", 0)).unwrap().unwrap();
        // What an overwritten row reads back as: bytes that are not UTF-8 in a TEXT column.
        store
            .sqlite_conn()
            .execute(
                "UPDATE runs SET params_json = CAST(x'7bff' AS TEXT) WHERE id = ?1",
                [id],
            )
            .unwrap();
        let err = store.runs(None).unwrap_err();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("database `"), "{message}");
        assert!(message.contains("d.db` is damaged"), "{message}");
        assert!(
            message.contains("`PRAGMA integrity_check` says: ok"),
            "{message}"
        );
    }

    #[test]
    fn newer_database_is_refused_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("future.db");
        {
            let conn = Connection::open(&path).expect("raw open");
            conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
                .expect("bump version");
        }
        let err = Store::open(&path).expect_err("too new");
        assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
        assert!(err.to_string().contains("future.db"), "{err}");
    }

    #[test]
    fn upsert_experiment_keeps_id_and_updates_source() {
        let mut store = store();
        let a = store.upsert_experiment("a", "a.toml", "v1").expect("a");
        let b = store.upsert_experiment("b", "b.toml", "b").expect("b");
        assert_ne!(a, b);
        let again = store
            .upsert_experiment("a", "moved/a.toml", "v2")
            .expect("a again");
        assert_eq!(again, a);
        let (file, source, created): (String, String, String) = store
            .sqlite_conn()
            .query_row(
                "SELECT file, source_toml, created_at FROM experiments WHERE id = ?1",
                [a],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row");
        assert_eq!((file.as_str(), source.as_str()), ("moved/a.toml", "v2"));
        // ISO-8601 UTC with milliseconds, e.g. 2025-01-31T12:00:00.000Z
        assert_eq!(created.len(), 24, "{created}");
        assert!(
            created.ends_with('Z') && created.as_bytes()[10] == b'T',
            "{created}"
        );
        assert_eq!(
            store.experiments().expect("list"),
            vec![(a, "a".to_string()), (b, "b".to_string())]
        );
    }

    #[test]
    fn claim_inserts_running_then_refuses_finished() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let id = store.claim(exp, &new_run("k1", 2)).expect("claim");
        let id = id.expect("new key");
        let runs = store.runs(Some("e")).expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Running);
        assert_eq!(runs[0].fold, 2);
        assert_eq!(runs[0].key, "k1");
        assert_eq!(runs[0].rmse, None);

        store
            .finish_run(id, &Store::test_owner(), &finished(0.9))
            .expect("finish");
        assert_eq!(store.claim(exp, &new_run("k1", 2)).expect("again"), None);
        assert_eq!(
            store.finished_keys(exp).expect("keys"),
            HashSet::from(["k1".to_string()])
        );
    }

    #[test]
    fn claim_resets_failed_run_and_clears_its_epochs() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let id = store
            .claim(exp, &new_run("k", 0))
            .expect("claim")
            .expect("new");
        store
            .add_epoch(id, &Store::test_owner(), &epoch(1, 1.2))
            .expect("epoch 1");
        store
            .add_epoch(id, &Store::test_owner(), &epoch(2, f64::NAN))
            .expect("epoch 2");
        let failed = RunOutcome::Failed {
            error: "loss became NaN at epoch 2".to_string(),
            seconds: 3.0,
        };
        store
            .finish_run(id, &Store::test_owner(), &failed)
            .expect("fail");
        let run = &store.runs(None).expect("runs")[0];
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.error.as_deref(), Some("loss became NaN at epoch 2"));
        assert_eq!(run.seconds, Some(3.0));
        assert!(store.finished_keys(exp).expect("keys").is_empty());

        let mut retry = new_run("k", 0);
        retry.config_json = r#"{"changed":true}"#.to_string();
        let again = store.claim(exp, &retry).expect("reclaim");
        assert_eq!(again, Some(id), "the failed row is reused");
        assert!(store.epochs(id).expect("epochs").is_empty());
        let run = &store.runs(None).expect("runs")[0];
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(run.error, None);
        assert_eq!(run.seconds, None);
        assert_eq!(run.config_json, r#"{"changed":true}"#);
        // The cleared epochs can be recorded again.
        store
            .add_epoch(id, &Store::test_owner(), &epoch(1, 1.1))
            .expect("epoch 1 again");
    }

    #[test]
    fn claim_reclaims_a_run_left_running() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let id = store.claim(exp, &new_run("k", 0)).expect("claim");
        store
            .add_epoch(id.expect("new"), &Store::test_owner(), &epoch(1, 1.0))
            .expect("epoch");
        let again = store.claim(exp, &new_run("k", 0)).expect("reclaim");
        assert_eq!(again, id);
        assert!(store.epochs(id.expect("id")).expect("epochs").is_empty());
    }

    #[test]
    fn claim_for_unknown_experiment_fails_on_foreign_key() {
        let mut store = store();
        let err = store
            .claim(42, &new_run("k", 0))
            .expect_err("no such experiment");
        assert!(err.to_string().contains("claiming run `k`"), "{err}");
    }

    #[test]
    fn keys_are_per_experiment() {
        let mut store = store();
        let a = store.upsert_experiment("a", "a.toml", "").expect("a");
        let b = store.upsert_experiment("b", "b.toml", "").expect("b");
        let ra = store
            .claim(a, &new_run("same", 0))
            .expect("a")
            .expect("new");
        let rb = store
            .claim(b, &new_run("same", 0))
            .expect("b")
            .expect("new");
        assert_ne!(ra, rb);
        store
            .finish_run(ra, &Store::test_owner(), &finished(1.0))
            .expect("finish a");
        assert_eq!(store.finished_keys(a).expect("a").len(), 1);
        assert!(store.finished_keys(b).expect("b").is_empty());
    }

    #[test]
    fn epochs_round_trip_in_order_with_nan() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let id = store
            .claim(exp, &new_run("k", 0))
            .expect("claim")
            .expect("new");
        store
            .add_epoch(id, &Store::test_owner(), &epoch(2, 0.95))
            .expect("2");
        store
            .add_epoch(id, &Store::test_owner(), &epoch(1, 1.05))
            .expect("1");
        store
            .add_epoch(id, &Store::test_owner(), &epoch(3, f64::NAN))
            .expect("3");
        let err = store
            .add_epoch(id, &Store::test_owner(), &epoch(2, 0.9))
            .expect_err("duplicate epoch");
        assert!(err.to_string().contains("epoch 2 of run"), "{err}");
        let got = store.epochs(id).expect("epochs");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], epoch(1, 1.05));
        assert_eq!(got[1], epoch(2, 0.95));
        assert_eq!(got[2].epoch, 3);
        assert!(got[2].rmse.is_nan() && got[2].mae.is_nan());
        assert!(store.epochs(id + 100).expect("unknown run").is_empty());
    }

    #[test]
    fn add_epoch_to_unknown_run_fails() {
        let mut store = store();
        assert!(
            store
                .add_epoch(7, &Store::test_owner(), &epoch(1, 1.0))
                .is_err()
        );
    }

    #[test]
    fn finish_run_stores_metrics_and_time() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let id = store
            .claim(exp, &new_run("k", 1))
            .expect("claim")
            .expect("new");
        store
            .finish_run(id, &Store::test_owner(), &finished(0.875))
            .expect("finish");
        let run = &store.runs(Some("e")).expect("runs")[0];
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(run.rmse, Some(0.875));
        assert_eq!(run.mae, Some(0.875 * 0.8));
        assert_eq!(run.best_epoch, Some(3));
        assert_eq!(run.seconds, Some(12.5));
        assert_eq!(run.error, None);
        assert_eq!(run.metric("ndcg@10"), Some(0.25));
        assert_eq!(run.metric("rmse"), Some(0.875));
        assert_eq!(run.metric("recall@10"), None);
        let finished_at: Option<String> = store
            .sqlite_conn()
            .query_row("SELECT finished_at FROM runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .expect("finished_at");
        assert!(finished_at.is_some_and(|t| t.ends_with('Z')));

        let err = store
            .finish_run(id + 1, &Store::test_owner(), &finished(1.0))
            .expect_err("unknown");
        assert!(matches!(err, StoreError::NoSuchRun { run_id, .. } if run_id == id + 1));
    }

    #[test]
    fn repeats_and_predictions_are_stored_per_run() {
        use predictions::Prediction;
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let first = store
            .claim(exp, &new_run("k0", 0))
            .expect("claim")
            .expect("new");
        let second = NewRun {
            repeat: 2,
            ..new_run("k2", 0)
        };
        let id = store.claim(exp, &second).expect("claim").expect("new");
        let preds = [
            Prediction {
                user: 3,
                item: 7,
                rating: 4.5,
                prediction: 3.875,
            },
            Prediction {
                user: 0,
                item: 1,
                rating: 1.0,
                prediction: 1.5,
            },
        ];
        assert_eq!(store.predictions(id).expect("read"), None);
        store
            .save_predictions(id, &Store::test_owner(), &preds)
            .expect("save");
        store
            .finish_run(id, &Store::test_owner(), &finished(0.9))
            .expect("finish");
        let runs = store.runs(Some("e")).expect("runs");
        assert_eq!(
            runs.iter().map(|r| (r.id, r.repeat)).collect::<Vec<_>>(),
            [(first, 0), (id, 2)]
        );
        assert_eq!(store.run(id).expect("run").repeat, 2);
        assert_eq!(store.predictions(id).expect("read"), Some(preds.to_vec()));
        assert_eq!(store.runs_with_predictions("e").expect("ids"), [id]);
        // Claiming the run again (a forced rerun) drops what the earlier attempt saved.
        let again = store
            .claim_run(exp, &second, &Store::test_owner(), "cpu", true)
            .expect("claim");
        assert_eq!(again, Claim::Claimed(id));
        assert_eq!(store.predictions(id).expect("read"), None);
        // A BLOB that is not whole records is reported with the run, not misread.
        store
            .sqlite_conn()
            .execute(
                "INSERT INTO run_predictions (run_id, count, data) VALUES (?1, 2, x'00')",
                [first],
            )
            .expect("bad blob");
        let err = store.predictions(first).expect_err("bad blob");
        assert!(
            err.to_string()
                .contains(&format!("run {first}: stored values are 1 bytes")),
            "{err}"
        );
    }

    #[test]
    fn a_failed_rerun_drops_the_named_metrics_of_the_earlier_attempt() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let id = store
            .claim(exp, &new_run("k", 0))
            .expect("claim")
            .expect("new");
        store
            .finish_run(id, &Store::test_owner(), &finished(0.9))
            .expect("finish");
        // Retrained with --force, and this time it fails.
        let again = store.claim_run(exp, &new_run("k", 0), &Store::test_owner(), "cpu", true);
        assert!(
            matches!(again, Ok(Claim::Claimed(i)) if i == id),
            "{again:?}"
        );
        let failed = RunOutcome::Failed {
            error: "loss became NaN at epoch 2".to_string(),
            seconds: 1.0,
        };
        store
            .finish_run(id, &Store::test_owner(), &failed)
            .expect("fail");
        let run = &store.runs(None).expect("runs")[0];
        assert!(run.metrics.is_empty(), "{:?}", run.metrics);
    }

    #[test]
    fn runs_are_filtered_and_ordered_by_experiment_then_id() {
        let mut store = store();
        let z = store.upsert_experiment("zeta", "z.toml", "").expect("z");
        let a = store.upsert_experiment("alpha", "a.toml", "").expect("a");
        let z1 = store.claim(z, &new_run("z1", 0)).expect("z1").expect("new");
        let a1 = store.claim(a, &new_run("a1", 0)).expect("a1").expect("new");
        let a2 = store.claim(a, &new_run("a2", 1)).expect("a2").expect("new");
        let all: Vec<(String, i64)> = store
            .runs(None)
            .expect("all")
            .into_iter()
            .map(|r| (r.experiment, r.id))
            .collect();
        assert_eq!(
            all,
            vec![
                ("alpha".to_string(), a1),
                ("alpha".to_string(), a2),
                ("zeta".to_string(), z1)
            ]
        );
        assert_eq!(store.runs(Some("zeta")).expect("zeta").len(), 1);
        assert!(store.runs(Some("nope")).expect("none").is_empty());
    }

    #[test]
    fn unknown_status_is_reported_with_the_run() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").expect("exp");
        let id = store
            .claim(exp, &new_run("k", 0))
            .expect("claim")
            .expect("new");
        // Only possible by hand: the CHECK constraint rejects it, so drop the check.
        store
            .sqlite_conn()
            .execute_batch("PRAGMA ignore_check_constraints = ON")
            .expect("pragma");
        store
            .sqlite_conn()
            .execute("UPDATE runs SET status = 'paused' WHERE id = ?1", [id])
            .expect("edit");
        let err = store.runs(None).expect_err("bad status");
        assert!(err.to_string().contains("unknown status `paused`"), "{err}");
    }

    #[test]
    fn deleting_runs_takes_their_epochs_and_metrics_and_spares_running_ones() {
        let mut store = store();
        let exp = store.upsert_experiment("e", "e.toml", "").unwrap();
        let done = store.claim(exp, &new_run("a", 0)).unwrap().unwrap();
        store
            .add_epoch(done, &Store::test_owner(), &epoch(1, 0.9))
            .unwrap();
        store
            .finish_run(done, &Store::test_owner(), &finished(0.9))
            .unwrap();
        let running = store.claim(exp, &new_run("b", 1)).unwrap().unwrap();
        assert_eq!(store.delete_runs(&[done, running, 999]).unwrap(), 1);
        let left: Vec<i64> = store
            .runs(Some("e"))
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(left, [running]);
        assert!(store.epochs(done).unwrap().is_empty());
        let metrics: i64 = store
            .sqlite_conn()
            .query_row("SELECT COUNT(*) FROM run_metrics", [], |r| r.get(0))
            .unwrap();
        assert_eq!(metrics, 0);
        // The experiment stays while it has a run; then it can go.
        assert!(!store.delete_experiment_if_empty("e").unwrap());
        store
            .finish_run(running, &Store::test_owner(), &finished(0.8))
            .unwrap();
        store.delete_runs(&[running]).unwrap();
        assert!(store.delete_experiment_if_empty("e").unwrap());
        assert!(store.experiments().unwrap().is_empty());
    }
}
