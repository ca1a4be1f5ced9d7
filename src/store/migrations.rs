//! The database schema as an append-only list of migrations.
//!
//! Borrowed from cargo (`src/cargo/util/sqlite.rs`): the schema version lives in SQLite's
//! own `PRAGMA user_version`, migration *n* (0-based) brings a database from version *n*
//! to *n + 1*, and everything not yet applied runs in one transaction. To change the
//! schema, **append** a migration; never edit or reorder one that has shipped, or
//! databases created by an older exp would silently diverge from new ones.
//!
//! The SQL sticks to what any `sqlite3` client since 3.7 can read: no `STRICT` tables,
//! no generated columns. Times are ISO-8601 UTC text with milliseconds.

use rusqlite::{Connection, TransactionBehavior};

use super::db::{DbError, Sql, params};

/// Migration 12, the same on both engines: the `--set` overrides an experiment was
/// submitted with (a JSON array of `KEY=VALUE`) and a SHA-256 of each of its data sets as
/// loaded (a JSON object, data set name to hash), so that `exp worker` can run it from the
/// store alone and a worker whose copy of the data differs refuses to train. NULL for
/// experiments stored before it.
const EXPERIMENT_INPUTS: &str = "
ALTER TABLE experiments ADD COLUMN overrides_json TEXT;
ALTER TABLE experiments ADD COLUMN data_sha256 TEXT;
";

/// The migrations, oldest first. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: experiments, runs and their epochs.
    //
    // Metric columns of `epochs` are nullable because SQLite stores a NaN REAL as NULL:
    // a diverged epoch is recorded (and read back as NaN) instead of violating NOT NULL.
    r#"
CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    file        TEXT NOT NULL,
    source_toml TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    params_json   TEXT NOT NULL,
    config_json   TEXT NOT NULL,
    fold          INTEGER NOT NULL CHECK (fold >= 0),
    status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    rmse          REAL,
    mae           REAL,
    best_epoch    INTEGER,
    seconds       REAL,
    error         TEXT,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    UNIQUE (experiment_id, key)
);

CREATE TABLE epochs (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    train_loss REAL,
    rmse       REAL,
    mae        REAL,
    seconds    REAL,
    PRIMARY KEY (run_id, epoch)
);
"#,
    // 2: validation metrics per epoch (early stopping watches them) and the path of a
    // finished run's saved weights.
    r#"
ALTER TABLE epochs ADD COLUMN val_rmse REAL;
ALTER TABLE epochs ADD COLUMN val_mae REAL;
ALTER TABLE runs ADD COLUMN checkpoint TEXT;
"#,
    // 3: named metrics of a finished run beyond RMSE and MAE (ranking metrics such as
    // `ndcg@10`), one row per metric so a new metric needs no schema change.
    r#"
CREATE TABLE run_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  REAL,
    PRIMARY KEY (run_id, name)
);
"#,
    // 4: the `interrupted` status, and who trains a running run. SQLite cannot alter a
    // CHECK constraint, so `runs` is rebuilt (the documented 12-step procedure, with
    // foreign keys off, see `migrate`) keeping every row and id; `epochs` and
    // `run_metrics` refer to `runs` by name and keep pointing at the new table.
    //
    // `owner_host`, `owner_pid` and `heartbeat_at` let another process tell a run being
    // trained from one whose process died (`store/owner.rs`); `device` is where it trained.
    r#"
CREATE TABLE runs_v4 (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    params_json   TEXT NOT NULL,
    config_json   TEXT NOT NULL,
    fold          INTEGER NOT NULL CHECK (fold >= 0),
    status        TEXT NOT NULL
                  CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    rmse          REAL,
    mae           REAL,
    best_epoch    INTEGER,
    seconds       REAL,
    error         TEXT,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    checkpoint    TEXT,
    device        TEXT,
    owner_host    TEXT,
    owner_pid     INTEGER,
    heartbeat_at  TEXT,
    UNIQUE (experiment_id, key)
);
INSERT INTO runs_v4 (id, experiment_id, key, params_json, config_json, fold, status, rmse,
                     mae, best_epoch, seconds, error, started_at, finished_at, checkpoint)
SELECT id, experiment_id, key, params_json, config_json, fold, status, rmse, mae,
       best_epoch, seconds, error, started_at, finished_at, checkpoint
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v4 RENAME TO runs;
"#,
    // 5: the engine that computed a finished run's steps (`fused` or `graph`; NULL for
    // closed-form fits and for runs stored before engines were recorded).
    "ALTER TABLE runs ADD COLUMN engine TEXT;",
    // 6: what a run was made from, so it can be rebuilt and checked later: its seed (a
    // later re-run of the experiment with another seed no longer hides it), a SHA-256 of
    // its data set as loaded (`data::fingerprint`), the exp version that trained it, and
    // the SHA-256 of its checkpoint file. NULL in runs stored before this migration.
    r#"
ALTER TABLE runs ADD COLUMN seed INTEGER;
ALTER TABLE runs ADD COLUMN data_sha256 TEXT;
ALTER TABLE runs ADD COLUMN exp_version TEXT;
ALTER TABLE runs ADD COLUMN checkpoint_sha256 TEXT;
"#,
    // 7: the seconds of an epoch's training steps alone (`seconds` also scores the test
    // and validation rows), what benchmarks compare. NULL in epochs stored before it.
    "ALTER TABLE epochs ADD COLUMN train_seconds REAL;",
    // 8: the repeat a run belongs to (`experiment.repeats`; each repeat has its own seed),
    // so `exp compare` pairs configurations by (fold, repeat). Runs stored before it are
    // repeat 0, which they are.
    "ALTER TABLE runs ADD COLUMN repeat INTEGER NOT NULL DEFAULT 0 CHECK (repeat >= 0);",
    // 9: a finished run's test predictions (`metrics.save_predictions`), one BLOB per
    // run: `count` records of user (u32), item (u32), rating (f32) and prediction (f32),
    // little-endian, 16 bytes each, in the test split's order (`store::predictions`).
    r#"
CREATE TABLE run_predictions (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    count  INTEGER NOT NULL CHECK (count >= 0),
    data   BLOB NOT NULL
);
"#,
    // 10: each user's value of a finished run's ranking metric (`metrics.save_predictions`
    // with ranking metrics), one BLOB per run and metric: `count` records of user (u32)
    // and value (f32), little-endian, 8 bytes each (`store::predictions`).
    r#"
CREATE TABLE run_user_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    count  INTEGER NOT NULL CHECK (count >= 0),
    data   BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
"#,
    // 11: searches (`[search]`). The `pruned` status (a run a pruner stopped early; it
    // keeps its epochs) needs the CHECK rebuilt, as in migration 4; `trial` says which
    // trial of a search a run belongs to (NULL for grid runs). `trials` holds one row per
    // sampled configuration: its number (0-based, unique per experiment, so two processes
    // on one search never take the same number), its values, the sampler and the seed
    // that drew them, its status and its objective (mean validation RMSE of its runs).
    r#"
CREATE TABLE runs_v11 (
    id                INTEGER PRIMARY KEY,
    experiment_id     INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    params_json       TEXT NOT NULL,
    config_json       TEXT NOT NULL,
    fold              INTEGER NOT NULL CHECK (fold >= 0),
    status            TEXT NOT NULL
                      CHECK (status IN ('running', 'finished', 'failed', 'interrupted', 'pruned')),
    rmse              REAL,
    mae               REAL,
    best_epoch        INTEGER,
    seconds           REAL,
    error             TEXT,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    checkpoint        TEXT,
    device            TEXT,
    owner_host        TEXT,
    owner_pid         INTEGER,
    heartbeat_at      TEXT,
    engine            TEXT,
    seed              INTEGER,
    data_sha256       TEXT,
    exp_version       TEXT,
    checkpoint_sha256 TEXT,
    repeat            INTEGER NOT NULL DEFAULT 0 CHECK (repeat >= 0),
    trial             INTEGER CHECK (trial >= 0),
    UNIQUE (experiment_id, key)
);
INSERT INTO runs_v11 (id, experiment_id, key, params_json, config_json, fold, status, rmse,
                      mae, best_epoch, seconds, error, started_at, finished_at, checkpoint,
                      device, owner_host, owner_pid, heartbeat_at, engine, seed, data_sha256,
                      exp_version, checkpoint_sha256, repeat)
SELECT id, experiment_id, key, params_json, config_json, fold, status, rmse, mae,
       best_epoch, seconds, error, started_at, finished_at, checkpoint, device, owner_host,
       owner_pid, heartbeat_at, engine, seed, data_sha256, exp_version, checkpoint_sha256,
       repeat
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v11 RENAME TO runs;

CREATE TABLE trials (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    number        INTEGER NOT NULL CHECK (number >= 0),
    params_json   TEXT NOT NULL,
    sampler       TEXT NOT NULL,
    sampler_seed  INTEGER NOT NULL,
    history       INTEGER NOT NULL CHECK (history >= 0),
    status        TEXT NOT NULL CHECK (status IN ('running', 'complete', 'pruned', 'failed')),
    value         REAL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    ended_at      TEXT,
    PRIMARY KEY (experiment_id, number)
);
"#,
    // 12: what `exp worker` needs to run an experiment from the store alone (the same
    // statements on PostgreSQL).
    EXPERIMENT_INPUTS,
];

/// What [`migrate`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Migrated {
    /// The database is at the latest version; `applied` migrations were run to get there.
    UpToDate {
        /// How many migrations this call applied (0 when it was already current).
        applied: usize,
    },
    /// The database was written by a newer exp: its version is `found`, we know `known`.
    TooNew {
        /// The database's `user_version`.
        found: usize,
        /// The number of migrations this build knows.
        known: usize,
    },
}

/// Brings the database up to date with `migrations`.
///
/// The transaction is IMMEDIATE so that two processes opening a fresh database at the
/// same time do not both try to create the tables: the second waits (busy timeout), then
/// sees the new version and applies nothing.
///
/// A database newer than this build is left untouched and reported as
/// [`Migrated::TooNew`]: unlike cargo's shared cache, an exp results database is owned by
/// one project, and writing rows an unknown schema may not expect is worse than stopping.
///
/// Foreign keys are off while migrations run (a migration that rebuilds a table drops
/// the old one, which would otherwise cascade to its children) and back to what they
/// were afterwards; `PRAGMA foreign_key_check` must be clean before the commit.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<Migrated> {
    // The pragma is a no-op inside a transaction, so it is set around it.
    let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    if foreign_keys {
        conn.pragma_update(None, "foreign_keys", false)?;
    }
    let result = migrate_in_transaction(conn, migrations);
    if foreign_keys {
        conn.pragma_update(None, "foreign_keys", true)?;
    }
    result
}

fn migrate_in_transaction(
    conn: &mut Connection,
    migrations: &[&str],
) -> rusqlite::Result<Migrated> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    // user_version is a signed 32-bit integer; a negative one was not written by exp.
    let found = usize::try_from(version).unwrap_or(usize::MAX);
    if found > migrations.len() {
        return Ok(Migrated::TooNew {
            found,
            known: migrations.len(),
        });
    }
    for sql in &migrations[found..] {
        tx.execute_batch(sql)?;
    }
    let applied = migrations.len() - found;
    if applied > 0 {
        let broken = tx
            .prepare("PRAGMA foreign_key_check")?
            .query([])?
            .next()?
            .is_some();
        if broken {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
                Some("the migrated database has rows whose foreign keys point nowhere".into()),
            ));
        }
    }
    if applied > 0 {
        // A list longer than i32::MAX cannot exist; saturating keeps this panic-free.
        let version = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(Migrated::UpToDate { applied })
}

/// The schema version a PostgreSQL store starts at: PostgreSQL support came with schema
/// 11, so an empty PostgreSQL database is created at that version in one step
/// ([`POSTGRES_BASELINE`]) and then follows [`POSTGRES_MIGRATIONS`].
pub(crate) const POSTGRES_BASELINE_VERSION: usize = 11;

/// The tables of schema version [`POSTGRES_BASELINE_VERSION`] in PostgreSQL's types:
/// the same tables, columns, keys and checks as SQLite's at that version (a test compares
/// the two column by column), with `BIGINT` for SQLite's INTEGER, `DOUBLE PRECISION` for
/// REAL and `BYTEA` for BLOB. Times are the same ISO-8601 UTC text.
pub(crate) const POSTGRES_BASELINE: &str = r#"
CREATE TABLE experiments (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    file        TEXT NOT NULL,
    source_toml TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT ({now})
);

CREATE TABLE runs (
    id                BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    experiment_id     BIGINT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    params_json       TEXT NOT NULL,
    config_json       TEXT NOT NULL,
    fold              BIGINT NOT NULL CHECK (fold >= 0),
    status            TEXT NOT NULL
                      CHECK (status IN ('running', 'finished', 'failed', 'interrupted', 'pruned')),
    rmse              DOUBLE PRECISION,
    mae               DOUBLE PRECISION,
    best_epoch        BIGINT,
    seconds           DOUBLE PRECISION,
    error             TEXT,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    checkpoint        TEXT,
    device            TEXT,
    owner_host        TEXT,
    owner_pid         BIGINT,
    heartbeat_at      TEXT,
    engine            TEXT,
    seed              BIGINT,
    data_sha256       TEXT,
    exp_version       TEXT,
    checkpoint_sha256 TEXT,
    repeat            BIGINT NOT NULL DEFAULT 0 CHECK (repeat >= 0),
    trial             BIGINT CHECK (trial >= 0),
    UNIQUE (experiment_id, key)
);

CREATE TABLE epochs (
    run_id        BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch         BIGINT NOT NULL,
    train_loss    DOUBLE PRECISION,
    rmse          DOUBLE PRECISION,
    mae           DOUBLE PRECISION,
    seconds       DOUBLE PRECISION,
    val_rmse      DOUBLE PRECISION,
    val_mae       DOUBLE PRECISION,
    train_seconds DOUBLE PRECISION,
    PRIMARY KEY (run_id, epoch)
);

CREATE TABLE run_metrics (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  DOUBLE PRECISION,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE run_predictions (
    run_id BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    count  BIGINT NOT NULL CHECK (count >= 0),
    data   BYTEA NOT NULL
);

CREATE TABLE run_user_metrics (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    count  BIGINT NOT NULL CHECK (count >= 0),
    data   BYTEA NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE trials (
    experiment_id BIGINT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    number        BIGINT NOT NULL CHECK (number >= 0),
    params_json   TEXT NOT NULL,
    sampler       TEXT NOT NULL,
    sampler_seed  BIGINT NOT NULL,
    history       BIGINT NOT NULL CHECK (history >= 0),
    status        TEXT NOT NULL CHECK (status IN ('running', 'complete', 'pruned', 'failed')),
    value         DOUBLE PRECISION,
    created_at    TEXT NOT NULL DEFAULT ({now}),
    ended_at      TEXT,
    PRIMARY KEY (experiment_id, number)
);
"#;

/// PostgreSQL's migrations after [`POSTGRES_BASELINE`]: entry *i* brings a PostgreSQL
/// store from version `POSTGRES_BASELINE_VERSION + i` to the next, as [`MIGRATIONS`]'
/// entry of that version does an SQLite one. Append to both lists together.
pub(crate) const POSTGRES_MIGRATIONS: &[&str] = &[
    // 12
    EXPERIMENT_INPUTS,
];

/// Brings a PostgreSQL store up to date, inside the caller's transaction. The version
/// lives in a one-row table `exp_schema`; an advisory lock held to the end of the
/// transaction makes two workers connecting to a fresh database at once take turns.
pub(crate) fn migrate_postgres(tx: &mut dyn Sql) -> Result<Migrated, DbError> {
    // Any constant works; this one spells "exp" in ASCII.
    tx.batch("SELECT pg_advisory_xact_lock(6584432)")?;
    tx.batch("CREATE TABLE IF NOT EXISTS exp_schema (version BIGINT NOT NULL)")?;
    let found = match tx.query_opt("SELECT version FROM exp_schema", &[])? {
        Some(row) => row.get::<usize>(0)?,
        None => 0,
    };
    let known = POSTGRES_BASELINE_VERSION + POSTGRES_MIGRATIONS.len();
    if found > known {
        return Ok(Migrated::TooNew { found, known });
    }
    if found == known {
        return Ok(Migrated::UpToDate { applied: 0 });
    }
    if found == 0 {
        tx.batch(POSTGRES_BASELINE)?;
        tx.execute("INSERT INTO exp_schema (version) VALUES (0)", &[])?;
    }
    let from = found.max(POSTGRES_BASELINE_VERSION);
    for sql in &POSTGRES_MIGRATIONS[from - POSTGRES_BASELINE_VERSION..] {
        tx.batch(sql)?;
    }
    tx.execute("UPDATE exp_schema SET version = ?1", params![known])?;
    Ok(Migrated::UpToDate {
        applied: known - found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> usize {
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("read user_version");
        usize::try_from(v).expect("non-negative version")
    }

    #[test]
    fn migrating_twice_applies_each_migration_once() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).expect("first migration"),
            Migrated::UpToDate {
                applied: MIGRATIONS.len()
            }
        );
        assert_eq!(user_version(&conn), MIGRATIONS.len());
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).expect("second migration"),
            Migrated::UpToDate { applied: 0 }
        );
        assert_eq!(user_version(&conn), MIGRATIONS.len());
    }

    #[test]
    fn appended_migration_applies_only_the_new_one() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        migrate(&mut conn, MIGRATIONS).expect("current schema");
        let mut next: Vec<&str> = MIGRATIONS.to_vec();
        next.push("ALTER TABLE runs ADD COLUMN notes TEXT;");
        assert_eq!(
            migrate(&mut conn, &next).expect("appended migration"),
            Migrated::UpToDate { applied: 1 }
        );
        assert_eq!(user_version(&conn), next.len());
        // The older list now sees a database from the future and leaves it alone.
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).expect("older build"),
            Migrated::TooNew {
                found: next.len(),
                known: MIGRATIONS.len()
            }
        );
    }

    /// Migration 11 rebuilds `runs` for the `pruned` status: a version-10 database keeps
    /// every column of its runs, its epochs still point at them, and the new status and
    /// `trials` table take rows.
    #[test]
    fn a_version_10_database_keeps_its_runs_through_the_pruned_rebuild() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        conn.pragma_update(None, "foreign_keys", true)
            .expect("foreign keys");
        migrate(&mut conn, &MIGRATIONS[..10]).expect("version 10");
        conn.execute_batch(
            "INSERT INTO experiments (id, name, file, source_toml) VALUES (1, 'old', 'o.toml', '');
             INSERT INTO runs (id, experiment_id, key, params_json, config_json, fold, status,
                               rmse, started_at, engine, seed, data_sha256, repeat)
             VALUES (5, 1, 'k5', '{}', '{}', 2, 'finished', 0.9, 't0', 'fused', 42, 'abc', 1);
             INSERT INTO epochs (run_id, epoch, rmse, val_rmse, train_seconds)
             VALUES (5, 1, 1.0, 1.1, 0.5);",
        )
        .expect("old rows");
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).expect("to the latest"),
            Migrated::UpToDate {
                applied: MIGRATIONS.len() - 10
            }
        );
        let row: (String, i64, String, i64, String, i64, Option<i64>) = conn
            .query_row(
                "SELECT key, fold, engine, seed, data_sha256, repeat, trial FROM runs WHERE id = 5",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .expect("the run");
        assert_eq!(
            row,
            ("k5".into(), 2, "fused".into(), 42, "abc".into(), 1, None)
        );
        let val: f64 = conn
            .query_row("SELECT val_rmse FROM epochs WHERE run_id = 5", [], |r| {
                r.get(0)
            })
            .expect("its epoch");
        assert_eq!(val, 1.1);
        conn.execute_batch(
            "UPDATE runs SET status = 'pruned', trial = 0 WHERE id = 5;
             INSERT INTO trials (experiment_id, number, params_json, sampler, sampler_seed,
                                 history, status)
             VALUES (1, 0, '{}', 'random', 3, 0, 'pruned');",
        )
        .expect("the new status and table");
        assert!(
            conn.execute("UPDATE runs SET status = 'paused' WHERE id = 5", [])
                .is_err(),
            "the CHECK still refuses unknown statuses"
        );
        // Deleting the experiment removes its trials too.
        conn.execute("DELETE FROM experiments WHERE id = 1", [])
            .expect("delete");
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM trials", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0);
    }

    #[test]
    fn a_version_3_database_keeps_its_rows_through_the_runs_rebuild() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        conn.pragma_update(None, "foreign_keys", true)
            .expect("foreign keys");
        migrate(&mut conn, &MIGRATIONS[..3]).expect("version 3");
        conn.execute_batch(
            "INSERT INTO experiments (id, name, file, source_toml) VALUES (1, 'old', 'o.toml', '');
             INSERT INTO runs (id, experiment_id, key, params_json, config_json, fold, status,
                               rmse, mae, best_epoch, seconds, started_at, finished_at, checkpoint)
             VALUES (7, 1, 'k7', '{}', '{}', 0, 'finished', 0.9, 0.7, 2, 1.5, 't0', 't1', 'c.st'),
                    (8, 1, 'k8', '{}', '{}', 1, 'running', NULL, NULL, NULL, NULL, 't0', NULL, NULL);
             INSERT INTO epochs (run_id, epoch, rmse) VALUES (7, 1, 1.0), (7, 2, 0.9), (8, 1, 1.1);
             INSERT INTO run_metrics (run_id, name, value) VALUES (7, 'ndcg@10', 0.25);",
        )
        .expect("old rows");
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).expect("to the latest"),
            Migrated::UpToDate {
                applied: MIGRATIONS.len() - 3
            }
        );
        type Row = (i64, String, String, Option<f64>, Option<String>);
        let runs: Vec<Row> = conn
            .prepare("SELECT id, key, status, rmse, checkpoint FROM runs ORDER BY id")
            .expect("select")
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(
            runs,
            vec![
                (
                    7,
                    "k7".into(),
                    "finished".into(),
                    Some(0.9),
                    Some("c.st".into())
                ),
                (8, "k8".into(), "running".into(), None, None),
            ]
        );
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(
            count("SELECT COUNT(*) FROM epochs"),
            3,
            "epochs survive the rebuild"
        );
        assert_eq!(count("SELECT COUNT(*) FROM run_metrics"), 1);
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("pragma");
        assert!(fk, "foreign keys are back on");
        // The new status is accepted, and the children still cascade from the new table.
        conn.execute("UPDATE runs SET status = 'interrupted' WHERE id = 8", [])
            .expect("interrupted is a valid status");
        conn.execute("DELETE FROM runs WHERE id = 7", [])
            .expect("delete");
        assert_eq!(count("SELECT COUNT(*) FROM epochs"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM run_metrics"), 0);
    }

    #[test]
    fn failing_migration_rolls_back_everything() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        let broken = [MIGRATIONS[0], "CREATE TABLE oops (;"];
        assert!(migrate(&mut conn, &broken).is_err());
        assert_eq!(user_version(&conn), 0);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .expect("count tables");
        assert_eq!(tables, 0, "the first migration must be rolled back too");
    }

    #[test]
    fn postgres_migrations_keep_pace_with_sqlite_ones() {
        assert_eq!(
            POSTGRES_BASELINE_VERSION + POSTGRES_MIGRATIONS.len(),
            MIGRATIONS.len(),
            "a migration appended to MIGRATIONS needs its PostgreSQL twin in POSTGRES_MIGRATIONS"
        );
    }
}
