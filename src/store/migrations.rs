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
pub(crate) fn migrate(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<Migrated> {
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
        // A list longer than i32::MAX cannot exist; saturating keeps this panic-free.
        let version = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(Migrated::UpToDate { applied })
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
        next.push("ALTER TABLE runs ADD COLUMN device TEXT;");
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
}
