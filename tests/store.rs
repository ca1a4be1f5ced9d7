//! End-to-end tests of the results database under faults: read-only databases, changed
//! checkpoints, experiments re-run with another seed, damaged files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{exp, text};
use rusqlite::Connection;

/// A quick biased-MF experiment on the embedded ml-latest-small: two runs.
fn experiment(name: &str, seed: u64, checkpoint: &str) -> String {
    format!(
        "[experiment]\nname = \"{name}\"\nseed = {seed}\n[data]\ndataset = \"ml-latest-small\"\n\
         [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n\
         [model]\narchitecture = \"biased-mf\"\nembedding_size = 4\n\
         [training]\nepochs = 1\nbatch_size = 1024\nlearning_rate = 0.01\n\
         checkpoint = \"{checkpoint}\"\n\
         [sweep]\n\"model.embedding_size\" = [4, 8]\n"
    )
}

/// Writes `text` to `dir/<name>.toml` and runs it into `db`, asserting success.
fn run_experiment(dir: &Path, db: &Path, name: &str, text: &str) -> Output {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let out = exp(
        &["run", file.to_str().unwrap(), "--db", db.to_str().unwrap()],
        dir,
    );
    assert!(out.status.success(), "{}", text_of(&out));
    out
}

fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `exp args` in `cwd` as a user that cannot write what it does not own: this user
/// when it is not root, else `nobody` (root may write any file whatever its permission
/// bits, so a read-only database is only read-only to someone else).
#[cfg(unix)]
fn exp_unprivileged(args: &[&str], cwd: &Path) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exp"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("EXP_DATA_DIR")
        .env_remove("EXP_DOWNLOAD_BASE_URL");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534).env("HOME", cwd);
    }
    cmd.output().expect("the exp binary runs")
}

fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Item: read-only results are readable. A database whose file and directory cannot be
/// written is read by every command that only reads (the charts of `report` go to a
/// writable experiment folder), is left byte for byte as it was, and the commands that
/// write say that it is read-only, naming it.
#[cfg(unix)]
#[test]
fn a_database_that_cannot_be_written_is_read_and_write_commands_say_so() {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    let results = dir.path().join("results");
    let db = results.join("exp.sqlite");
    run_experiment(dir.path(), &db, "ro", &experiment("ro", 3, "best"));
    // The experiment's folder (charts) stays writable to everyone; only the database is not.
    set_mode(&results.join("ro"), 0o777);
    for entry in std::fs::read_dir(results.join("ro")).unwrap() {
        let path = entry.unwrap().path();
        set_mode(&path, if path.is_dir() { 0o777 } else { 0o666 });
    }
    set_mode(&db, 0o444);
    set_mode(&results, 0o555);
    let before = sha256_of(&db);
    let db_arg = db.to_str().unwrap();
    for args in [
        vec!["status"],
        vec!["runs"],
        vec!["compare", "-e", "ro"],
        vec!["export"],
        vec!["report", "ro"],
        vec!["recommend", "--run", "1", "--user", "1", "-n", "3"],
        vec!["similar", "--run", "1", "--item", "1", "-n", "3"],
    ] {
        let mut all = args.clone();
        all.extend(["--db", db_arg]);
        let out = exp_unprivileged(&all, dir.path());
        assert!(out.status.success(), "{args:?}: {}", text_of(&out));
    }
    let file = dir.path().join("ro.toml");
    for args in [
        vec!["rm", "--run", "1"],
        vec!["run", file.to_str().unwrap(), "--force"],
    ] {
        let mut all = args.clone();
        all.extend(["--db", db_arg]);
        let out = exp_unprivileged(&all, dir.path());
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("database `{db_arg}` is read-only")),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(sha256_of(&db), before, "nothing wrote the database");
    let left: Vec<PathBuf> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left.len(), 2, "no -wal or -shm file appeared: {left:?}");
    set_mode(&results, 0o755);
}

/// Item: checkpoints are verified. The run stores its checkpoint's SHA-256; a checkpoint
/// whose weights were overwritten afterwards is refused by `recommend` and `similar`,
/// naming the file; and checkpoints get the database's permissions.
#[cfg(unix)]
#[test]
fn a_checkpoint_changed_after_its_run_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exp.sqlite");
    // The database exists (made by a run without checkpoints) and is private to its group.
    run_experiment(dir.path(), &db, "plain", &experiment("plain", 1, "none"));
    set_mode(&db, 0o640);
    run_experiment(dir.path(), &db, "ck", &experiment("ck", 1, "best"));
    let conn = Connection::open(&db).unwrap();
    let (id, path): (i64, String) = conn
        .query_row(
            "SELECT r.id, r.checkpoint FROM runs r
             JOIN experiments e ON e.id = r.experiment_id WHERE e.name = 'ck' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let checkpoint = dir.path().join(&path);
    let written = sha256_of(&checkpoint);

    let db_arg = db.to_str().unwrap();
    let id = id.to_string();
    let recommend = ["recommend", "--run", &id, "--user", "1", "--db", db_arg];
    let similar = ["similar", "--run", &id, "--item", "1", "--db", db_arg];
    assert!(exp(&recommend, dir.path()).status.success());
    // Overwrite bytes in the weights (past the JSON header): still a valid file.
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 16].copy_from_slice(&[0xff; 16]);
    std::fs::write(&checkpoint, &bytes).unwrap();
    for args in [&recommend[..], &similar[..]] {
        let out = exp(args, dir.path());
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains(&path), "{stderr}");
        assert!(
            stderr.contains("has changed since the run wrote it"),
            "{stderr}"
        );
    }
    let stored: Option<String> = conn
        .query_row(
            "SELECT checkpoint_sha256 FROM runs WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, Some(written));
    assert_eq!(mode_of(&checkpoint), 0o640, "the database's permissions");
}

/// Item: runs remember their seed. An experiment re-run under its name with another seed
/// leaves its earlier runs usable: they stored their seed (with the data checksum and
/// exp's version), so `exp recommend --run 1` rebuilds them exactly.
#[test]
fn a_run_keeps_its_seed_when_its_experiment_is_run_again_with_another_seed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exp.sqlite");
    run_experiment(dir.path(), &db, "seeds", &experiment("seeds", 9, "none"));
    run_experiment(dir.path(), &db, "seeds", &experiment("seeds", 42, "none"));
    let db_arg = db.to_str().unwrap();
    let out = exp(
        &[
            "recommend",
            "--run",
            "1",
            "--user",
            "1",
            "-n",
            "3",
            "--db",
            db_arg,
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("as stored"), "{stderr}");

    let conn = Connection::open(&db).unwrap();
    type Row = (i64, Option<i64>, Option<String>, Option<String>);
    let rows: Vec<Row> = conn
        .prepare("SELECT id, seed, data_sha256, exp_version FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let seeds: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
    assert_eq!(seeds, [Some(9), Some(9), Some(42), Some(42)]);
    let data = rows[0].2.clone().expect("a data checksum");
    assert_eq!(data.len(), 64);
    assert!(rows.iter().all(|r| r.2.as_deref() == Some(data.as_str())));
    assert!(
        rows.iter()
            .all(|r| r.3.as_deref() == Some(env!("CARGO_PKG_VERSION")))
    );
}

/// Item: messages. A database with bytes overwritten inside a row, or with its header
/// overwritten, is reported as damaged with its path and `PRAGMA integrity_check`'s
/// verdict, not as a UTF-8 or "not a database" error alone.
#[test]
fn a_damaged_database_is_named_with_the_integrity_check_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exp.sqlite");
    run_experiment(dir.path(), &db, "dmg", &experiment("dmg", 1, "none"));
    let pristine = std::fs::read(&db).unwrap();
    let db_arg = db.to_str().unwrap();

    // Inside rows: the text of the runs' swept parameters (every copy in the file, as
    // free pages may hold stale ones).
    let mut bytes = pristine.clone();
    let needle = b"{\"model.embedding_size\":";
    let found: Vec<usize> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(at, _)| at)
        .collect();
    assert!(!found.is_empty(), "a stored params_json");
    for at in found {
        bytes[at + 1..at + 9].copy_from_slice(&[0xff; 8]);
    }
    std::fs::write(&db, &bytes).unwrap();
    for args in [["runs", "--db", db_arg], ["compare", "--db", db_arg]] {
        let out = exp(&args, dir.path());
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("database `{db_arg}` is damaged")),
            "{stderr}"
        );
        assert!(
            stderr.contains("`PRAGMA integrity_check` says: ok"),
            "{stderr}"
        );
    }

    // The header: not recognisable as a database any more.
    let mut bytes = pristine;
    bytes[..16].copy_from_slice(&[0xff; 16]);
    std::fs::write(&db, &bytes).unwrap();
    let out = exp(&["status", "--db", db_arg], dir.path());
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("database `{db_arg}` is damaged")),
        "{stderr}"
    );
    assert!(stderr.contains("integrity_check"), "{stderr}");
}

/// Each stored epoch keeps the seconds of its training steps alone beside the whole
/// epoch's seconds (which also score the test rows): benchmarks read `train_seconds`.
#[test]
fn every_epoch_stores_its_training_seconds_apart_from_the_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exp.sqlite");
    run_experiment(dir.path(), &db, "timed", &experiment("timed", 3, "none"));
    let conn = Connection::open(&db).unwrap();
    let rows: Vec<(f64, Option<f64>)> = conn
        .prepare("SELECT seconds, train_seconds FROM epochs")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "two runs of one epoch");
    for (seconds, train_seconds) in rows {
        let train_seconds = train_seconds.expect("train_seconds stored");
        assert!(
            train_seconds > 0.0 && train_seconds <= seconds,
            "train_seconds {train_seconds}, seconds {seconds}"
        );
    }
}
