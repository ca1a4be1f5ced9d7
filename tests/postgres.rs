//! `exp` on a real PostgreSQL store, end to end: the same experiment on SQLite and on
//! PostgreSQL, two `exp worker`s sharing one experiment, a worker killed mid-run and its
//! run taken over, a worker refusing data that differs from the stored experiment's, and
//! the one-line errors for bad URLs.
//!
//! Each test works in its own scratch database on the server `EXP_TEST_POSTGRES` names
//! (`scripts/pg-server.sh start DIR` starts one); without it they skip with a printed
//! reason, and CI, which sets `EXP_REQUIRE_POSTGRES`, fails instead.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use exp::store::scratch::ScratchDatabase;
use rusqlite::Connection;

mod common;
use common::{fixture, text};

/// Six runs of about a second each (dot MF on the embedded ml-latest-small).
const GRID: &str = "[experiment]\nname = \"pg\"\n[data]\ndataset = \"ml-latest-small\"\n\
    [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n[model]\narchitecture = \"dot-mf\"\n\
    embedding_size = 4\n[training]\nepochs = 8\nbatch_size = 32\nlearning_rate = 0.01\n\
    [sweep]\n\"model.embedding_size\" = [4, 6, 8, 10, 12, 14]\n";
const RUNS: i64 = 6;

/// A temporary directory with the experiment file, an `sbatch` that accepts any job
/// (so `exp slurm submit` stores the experiment without a cluster), and `exp` commands
/// that run there against the scratch database.
struct Cluster {
    dir: tempfile::TempDir,
    db: ScratchDatabase,
}

impl Cluster {
    fn new(test: &str, experiment: &str) -> Option<Cluster> {
        let db = ScratchDatabase::create(test)?;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pg.toml");
        std::fs::write(&file, experiment).expect("write the experiment");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        let sbatch = bin.join("sbatch");
        std::fs::write(&sbatch, "#!/bin/sh\necho 4242\n").expect("write sbatch");
        std::fs::set_permissions(&sbatch, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("make sbatch executable");
        Some(Cluster { dir, db })
    }

    fn exp(&self, args: &[&str]) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_exp"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("EXP_DB", self.db.url())
            .env_remove("EXP_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `exp slurm submit FILE --workers N` with the stand-in sbatch: stores the experiment.
    fn submit(&self) {
        let out = self
            .exp(&["slurm", "submit", "pg.toml", "--workers", "2"])
            .output()
            .expect("exp runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "4242", "the job id is printed");
    }

    fn worker(&self) -> Child {
        self.exp(&["worker", "--experiment", "pg", "--jobs", "1"])
            .spawn()
            .expect("exp worker starts")
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(self.db.url(), postgres::NoTls).expect("connect")
    }

    fn count(&self, sql: &str) -> i64 {
        self.client()
            .query_one(sql, &[])
            .expect("count")
            .get::<_, i64>(0)
    }
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// The same experiment file run on an SQLite file and on PostgreSQL stores the same
/// runs, with bit-for-bit the same test RMSE per run key.
#[test]
fn the_same_experiment_on_sqlite_and_postgres_gives_identical_rmse_per_key() {
    let Some(db) = ScratchDatabase::create(
        "the_same_experiment_on_sqlite_and_postgres_gives_identical_rmse_per_key",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("tiny.toml");
    let sqlite = dir.path().join("exp.sqlite");
    for target in [sqlite.to_str().unwrap(), db.url()] {
        let out = common::exp(&["run", file.to_str().unwrap(), "--db", target], dir.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let lite: BTreeMap<String, f64> = Connection::open(&sqlite)
        .unwrap()
        .prepare("SELECT key, rmse FROM runs")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let pg: BTreeMap<String, f64> = postgres::Client::connect(db.url(), postgres::NoTls)
        .unwrap()
        .query("SELECT key, rmse FROM runs", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(lite.len(), 4);
    assert_eq!(pg, lite);
    // The reading commands work on the URL directly.
    for args in [
        vec!["status"],
        vec!["compare", "-e", "tiny"],
        vec!["runs", "-e", "tiny"],
        vec!["report", "tiny"],
    ] {
        let mut full = args.clone();
        full.extend(["--db", db.url()]);
        let out = common::exp(&full, dir.path());
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    assert!(dir.path().join("results/tiny/report.md").is_file());
}

/// Two workers on one stored experiment: every run trained once, by one of them, and
/// each epoch recorded once.
#[test]
fn two_workers_share_a_stored_experiment_and_train_every_run_once() {
    let Some(cluster) = Cluster::new(
        "two_workers_share_a_stored_experiment_and_train_every_run_once",
        GRID,
    ) else {
        return;
    };
    cluster.submit();
    assert_eq!(
        cluster.count("SELECT COUNT(*) FROM runs"),
        0,
        "submit trains nothing"
    );
    let (a, b) = (cluster.worker(), cluster.worker());
    finish(a);
    finish(b);
    assert_eq!(
        cluster.count("SELECT COUNT(*) FROM runs WHERE status = 'finished'"),
        RUNS
    );
    assert_eq!(cluster.count("SELECT COUNT(DISTINCT key) FROM runs"), RUNS);
    assert_eq!(cluster.count("SELECT COUNT(*) FROM epochs"), RUNS * 8);
    // `exp status` on the URL shows where the runs were trained.
    let out = cluster.exp(&["status"]).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let row = stdout
        .lines()
        .find(|l| l.starts_with("pg ") && l.contains(host.trim()))
        .unwrap_or_else(|| panic!("a row for this host: {stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[2..], ["2", "6", "0", "0"], "{stdout}");
    // A third worker finds nothing left and exits 0 at once.
    let out = finish(cluster.worker());
    assert!(
        text(&out.stderr).contains("0 finished"),
        "{}",
        text(&out.stderr)
    );
}

/// A worker killed with SIGKILL mid-run leaves its run `running`; the next worker on
/// this host sees its pid is gone, takes the run over and finishes the experiment.
#[test]
fn a_killed_workers_run_is_taken_over_by_the_next_worker() {
    let Some(cluster) = Cluster::new(
        "a_killed_workers_run_is_taken_over_by_the_next_worker",
        GRID,
    ) else {
        return;
    };
    cluster.submit();
    let mut first = cluster.worker();
    let start = Instant::now();
    while cluster.count("SELECT COUNT(*) FROM runs WHERE status = 'finished'") < 1 {
        assert!(start.elapsed() < Duration::from_secs(60), "no run finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let mut stderr = String::new();
    if let Some(mut e) = first.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let finished = cluster.count("SELECT COUNT(*) FROM runs WHERE status = 'finished'");
    assert!(finished < RUNS, "killed before the end: {stderr}");
    finish(cluster.worker());
    assert_eq!(
        cluster.count("SELECT COUNT(*) FROM runs WHERE status = 'finished'"),
        RUNS
    );
    assert_eq!(cluster.count("SELECT COUNT(DISTINCT key) FROM runs"), RUNS);
    assert_eq!(cluster.count("SELECT COUNT(*) FROM epochs"), RUNS * 8);
}

/// A worker whose copy of the data differs from the data the experiment was stored with
/// refuses to train, naming the data set, and writes nothing.
#[test]
fn a_worker_with_other_data_refuses_to_train() {
    let Some(cluster) = Cluster::new("a_worker_with_other_data_refuses_to_train", GRID) else {
        return;
    };
    cluster.submit();
    // ml-latest-small from EXP_DATA_DIR with its last rating missing.
    let data = cluster.dir.path().join("data/ml-latest-small");
    std::fs::create_dir_all(&data).unwrap();
    for (name, cut) in [("ratings.csv", true), ("movies.csv", false)] {
        let gz = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/data/ml-latest-small")
            .join(format!("{name}.gz"));
        let mut content = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap())
            .read_to_string(&mut content)
            .unwrap();
        if cut {
            let end = content.trim_end().rfind('\n').unwrap();
            content.truncate(end + 1);
        }
        std::fs::write(data.join(name), content).unwrap();
    }
    let out = cluster
        .exp(&["worker", "--experiment", "pg"])
        .env("EXP_DATA_DIR", cluster.dir.path().join("data"))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not the data it was stored with"),
        "{stderr}"
    );
    assert!(
        stderr.contains("data set ml-latest-small: SHA-256"),
        "{stderr}"
    );
    assert_eq!(
        cluster.count("SELECT COUNT(*) FROM runs"),
        0,
        "nothing trained"
    );
}

/// Bad URLs give one clear line each, exit 1 and no panic: nothing listening, a wrong
/// password, a scheme exp cannot store in, and a database of a newer schema (left as it
/// was).
#[test]
fn bad_database_urls_are_one_clear_line_each() {
    let Some(db) = ScratchDatabase::create("bad_database_urls_are_one_clear_line_each") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = db.url().to_string();
    let wrong_password = {
        let (scheme_user, rest) = good.split_once('@').expect("a URL with a user");
        let user = scheme_user.rsplit_once(':').map_or(scheme_user, |(u, _)| u);
        format!("{user}:not-the-password@{rest}")
    };
    // Exit 1 for a store that cannot be used, 2 (a usage error, as clap reports it) for
    // a value that is not a store location at all.
    let check = |url: &str, code: i32, expected: &str| {
        let out = common::exp(&["status", "--db", url], dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{url}: {stderr}");
        assert!(stderr.contains(expected), "{url}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !stderr.contains("not-the-password"),
            "no password shown: {stderr}"
        );
        let errors = stderr.lines().filter(|l| l.contains("error")).count();
        assert_eq!(errors, 1, "one line: {stderr}");
    };
    check(
        "postgres://exp@127.0.0.1:1/exp?connect_timeout=5",
        1,
        "cannot connect to PostgreSQL at `postgres://exp@127.0.0.1:1/exp?connect_timeout=5`",
    );
    check(&wrong_password, 1, "password authentication failed");
    check(
        "mysql://exp@localhost/exp",
        2,
        "`mysql://` is not a database exp can use",
    );
    // A database a newer exp migrated: refused, and nothing is written to it.
    let mut client = postgres::Client::connect(&good, postgres::NoTls).unwrap();
    let out = common::exp(&["status", "--db", &good], dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "an empty store has no experiment yet"
    );
    client
        .execute("UPDATE exp_schema SET version = 99", &[])
        .unwrap();
    let out = common::exp(
        &["run", fixture("tiny.toml").to_str().unwrap(), "--db", &good],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has schema version 99"), "{stderr}");
    let experiments: i64 = client
        .query_one("SELECT COUNT(*) FROM experiments", &[])
        .unwrap()
        .get(0);
    assert_eq!(experiments, 0, "nothing written");
}

/// A search through the server: two workers draw its trials (each number once, the
/// search stops at its count), and `exp db copy` brings it home to an SQLite file that
/// `exp compare` reads exactly as it reads the server.
#[test]
fn a_search_shared_by_two_workers_draws_each_trial_once_and_copies_home() {
    const TRIALS: i64 = 10;
    let search = "[experiment]\nname = \"pg\"\nseed = 11\n\
         [data]\ndataset = \"ml-latest-small\"\n\
         [split]\nkind = \"holdout\"\ntest_fraction = 0.1\nvalidation_fraction = 0.05\n\
         [model]\narchitecture = \"biased-mf\"\nembedding_size = 8\n\
         [training]\nepochs = 6\nbatch_size = 256\nlearning_rate = 0.01\n\
         [search]\nstrategy = \"tpe\"\ntrials = 10\n\
         [search.space]\n\
         \"training.learning_rate\" = { log_uniform = [0.0003, 0.3] }\n\
         \"model.embedding_size\" = { int = [4, 32], log = true }\n\
         [search.pruner]\nkind = \"asha\"\nmin_epochs = 1\nreduction_factor = 3\n";
    let Some(cluster) = Cluster::new(
        "a_search_shared_by_two_workers_draws_each_trial_once_and_copies_home",
        search,
    ) else {
        return;
    };
    cluster.submit();
    let (a, b) = (cluster.worker(), cluster.worker());
    finish(a);
    finish(b);
    assert_eq!(
        cluster.count("SELECT COUNT(DISTINCT number) FROM trials"),
        TRIALS
    );
    assert_eq!(cluster.count("SELECT COUNT(*) FROM trials"), TRIALS);
    assert_eq!(
        cluster.count("SELECT COUNT(*) FROM trials WHERE status IN ('complete', 'pruned')"),
        TRIALS
    );
    assert_eq!(
        cluster.count("SELECT COUNT(*) FROM runs WHERE status IN ('finished', 'pruned')"),
        TRIALS,
        "one run per trial (holdout), each ended"
    );
    let home = cluster.dir.path().join("home.sqlite");
    let out = cluster
        .exp(&["db", "copy", "--from", cluster.db.url(), "--to"])
        .arg(&home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = Connection::open(&home).unwrap();
    let trials: i64 = conn
        .query_row("SELECT COUNT(*) FROM trials", [], |r| r.get(0))
        .unwrap();
    assert_eq!(trials, TRIALS);
    let epochs: i64 = conn
        .query_row("SELECT COUNT(*) FROM epochs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(epochs, cluster.count("SELECT COUNT(*) FROM epochs"));
    let compare = |db: &str| {
        let out = cluster
            .exp(&["compare", "-e", "pg", "--db", db])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(compare(home.to_str().unwrap()), compare(cluster.db.url()));
    // Copying it again is refused: the target already holds it.
    let again = cluster
        .exp(&["db", "copy", "--from", cluster.db.url(), "--to"])
        .arg(&home)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already holds an experiment `pg`"));
}
