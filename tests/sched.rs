//! End-to-end tests of the scheduler through the real `exp` binary: resume after SIGKILL,
//! two processes on one database, a diverging run failing alone, SIGTERM mid-sweep, a
//! suspended process losing its run to another, and a sweep over both training engines.
//!
//! The sweeps train dot-product MF on the embedded ml-latest-small for about a second per
//! run, long enough to stop a sweep between its first finished run and its last.

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

mod common;
use common::text;

/// Six runs of about one second each.
const GRID: &str = "[experiment]\nname = \"sched\"\n[data]\ndataset = \"ml-latest-small\"\n\
    [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n[model]\narchitecture = \"dot-mf\"\n\
    embedding_size = 4\n[training]\nepochs = 8\nbatch_size = 32\nlearning_rate = 0.01\n\
    [sweep]\n\"model.embedding_size\" = [4, 6, 8, 10, 12, 14]\n";
const RUNS: i64 = 6;

/// The experiment file and its database (`common::ExperimentDir`).
struct Sweep(common::ExperimentDir);

impl std::ops::Deref for Sweep {
    type Target = common::ExperimentDir;
    fn deref(&self) -> &common::ExperimentDir {
        &self.0
    }
}

impl Sweep {
    fn new(text: &str) -> Sweep {
        Sweep(common::ExperimentDir::new("sched", text))
    }

    /// Counts of runs by status, read while another process may be writing.
    fn count(&self, status: &str) -> i64 {
        if !self.db.is_file() {
            return 0;
        }
        let Ok(conn) = Connection::open_with_flags(&self.db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        else {
            return 0;
        };
        let _ = conn.busy_timeout(Duration::from_secs(5));
        conn.query_row(
            "SELECT COUNT(*) FROM runs WHERE status = ?1",
            [status],
            |r| r.get(0),
        )
        .unwrap_or(0)
    }

    /// Waits until at least one run has finished (the sweep is under way, its signal
    /// handler installed), failing after a minute.
    fn wait_for_a_finished_run(&self, child: &mut Child) {
        let start = Instant::now();
        while self.count("finished") < 1 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("exp exited ({status}) before any run finished");
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no run finished");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every run of the grid is in the database exactly once, finished, with its epochs
    /// exactly once.
    fn assert_complete(&self, epochs_per_run: i64) {
        let conn = Connection::open(&self.db).expect("open db");
        let (rows, keys, finished): (i64, i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COUNT(DISTINCT key), SUM(status = 'finished') FROM runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("count runs");
        assert_eq!((rows, keys, finished), (RUNS, RUNS, RUNS));
        let epochs: i64 = conn
            .query_row("SELECT COUNT(*) FROM epochs", [], |r| r.get(0))
            .expect("count epochs");
        assert_eq!(epochs, RUNS * epochs_per_run, "no epoch recorded twice");
    }
}

#[test]
fn a_sweep_killed_with_sigkill_resumes_and_trains_every_run_once() {
    let sweep = Sweep::new(GRID);
    let mut child = sweep.spawn(&["--jobs", "1"]);
    sweep.wait_for_a_finished_run(&mut child);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let finished_before = sweep.count("finished");
    assert!(
        finished_before < RUNS,
        "the sweep ended before it was killed"
    );
    // The run it was training (if the kill did not fall between two runs) is left
    // `running`, owned by a dead pid.
    assert!(sweep.count("running") <= 1);

    let again = sweep.run(&[]);
    let stderr = text(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{finished_before} already done")),
        "{stderr}"
    );
    sweep.assert_complete(8);
}

#[test]
fn two_processes_on_one_database_share_the_grid() {
    let sweep = Sweep::new(GRID);
    // Create the database first, so both start on the same schema at once.
    let a = sweep.spawn(&["--jobs", "1"]);
    let b = sweep.spawn(&["--jobs", "1"]);
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    for out in [&a, &b] {
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("error"), "{stderr}");
    }
    sweep.assert_complete(8);
    // Between them they trained each run once.
    let trained = |out: &Output| -> i64 {
        let stderr = text(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("sched: ") && l.contains(" finished, "))
            .unwrap_or_else(|| panic!("no summary in {stderr}"))
            .to_string();
        line["sched: ".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    assert_eq!(trained(&a) + trained(&b), RUNS);
}

/// Every trained architecture, once on each engine: the fused CPU kernels and candle's
/// graph (the path a GPU takes), scheduled together on two CPU workers.
const ENGINES: &str = "[experiment]\nname = \"engines\"\nseed = 5\n\
    [data]\ndataset = \"ml-latest-small\"\nmin_year = 2017\n\
    [split]\nkind = \"holdout\"\ntest_fraction = 0.2\n\
    [model]\narchitecture = \"dot-mf\"\nembedding_size = 8\nhidden_layers = [16, 8]\n\
    dropouts = [0.2, 0.1]\n\
    [training]\nepochs = 2\nbatch_size = 64\noptimizer = \"sgd\"\nmomentum = 0.9\n\
    learning_rate = 0.01\n\
    [sweep]\n\"model.architecture\" = [\"dot-mf\", \"biased-mf\", \"funk-svd\", \"svdpp\", \
    \"ncf\", \"mlp\", \"two-tower\", \"gmf\"]\n\"training.engine\" = [\"fused\", \"graph\"]\n";

/// The graph engine trains every architecture end to end on the CPU, and its test RMSE
/// after two epochs equals the fused engine's to 1e-4; each run records its engine. A
/// graph path broken for any architecture fails here, in every CI run.
#[test]
fn both_engines_train_every_architecture_to_the_same_test_rmse() {
    let sweep = Sweep::new(ENGINES);
    let out = sweep.run(&["--jobs", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(sweep.count("finished"), 16);
    let conn = Connection::open(&sweep.db).expect("open db");
    let mut query = conn
        .prepare(
            "SELECT json_extract(params_json, '$.\"model.architecture\"'),
                    json_extract(params_json, '$.\"training.engine\"'), engine, rmse
             FROM runs ORDER BY 1, 2",
        )
        .expect("query");
    let rows: Vec<(String, String, String, f64)> = query
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 16);
    for pair in rows.chunks(2) {
        let [
            (architecture, fused, fused_ran, fused_rmse),
            (_, graph, graph_ran, graph_rmse),
        ] = pair
        else {
            panic!("unpaired runs: {pair:?}");
        };
        assert_eq!((fused.as_str(), graph.as_str()), ("fused", "graph"));
        assert_eq!((fused_ran, graph_ran), (fused, graph), "{architecture}");
        assert!(
            fused_rmse.is_finite() && *fused_rmse < 1.2,
            "{architecture}: {fused_rmse}"
        );
        assert!(
            (fused_rmse - graph_rmse).abs() < 1e-4,
            "{architecture}: fused {fused_rmse} vs graph {graph_rmse}"
        );
    }
}

#[test]
fn a_diverging_configuration_fails_alone_and_the_summary_names_it() {
    let sweep = Sweep::new(
        "[experiment]\nname = \"diverge\"\n[data]\ndataset = \"ml-latest-small\"\n\
         [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n[model]\narchitecture = \"dot-mf\"\n\
         embedding_size = 8\n[training]\nepochs = 2\nbatch_size = 1024\noptimizer = \"sgd\"\n\
         learning_rate = 0.05\n[sweep]\n\"training.learning_rate\" = [0.05, 1e6, 0.1]\n",
    );
    let out = sweep.run(&[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2 finished, 1 failed"), "{stderr}");
    let failures = stderr
        .split("failed runs:")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure list in {stderr}"));
    let line = failures.lines().nth(1).unwrap_or_default();
    assert!(
        line.contains("learning_rate=1000000") && line.contains("fold 1: training diverged"),
        "{stderr}"
    );
    assert_eq!(sweep.count("finished"), 2);
    assert_eq!(sweep.count("failed"), 1);
}

#[cfg(unix)]
#[test]
fn sigterm_marks_running_runs_interrupted_and_the_next_run_completes() {
    let sweep = Sweep::new(GRID);
    let mut child = sweep.spawn(&["--jobs", "2"]);
    sweep.wait_for_a_finished_run(&mut child);
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sends SIGTERM to the child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().expect("wait");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Resume with: exp run"), "{stderr}");
    assert_eq!(sweep.count("running"), 0, "nothing left running: {stderr}");
    let interrupted = sweep.count("interrupted");
    assert!(
        interrupted >= 1 && sweep.count("finished") < RUNS,
        "{interrupted} interrupted: {stderr}"
    );

    let status = Command::new(env!("CARGO_BIN_EXE_exp"))
        .args(["status", "--db"])
        .arg(&sweep.db)
        .output()
        .expect("exp status");
    assert!(status.status.success(), "{}", text(&status.stderr));
    let table = text(&status.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("sched "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[4], interrupted.to_string(), "{table}");

    let again = sweep.run(&[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    sweep.assert_complete(8);
}

/// Sends `signal` to `child`.
#[cfg(unix)]
fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: signals the child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// A process suspended mid-run (SIGSTOP) past the heartbeat's staleness limit loses the
/// run to a second process, which trains everything; woken up, the first stops that run
/// quietly instead of writing over it, and exits 0.
#[cfg(unix)]
#[test]
fn a_suspended_process_whose_run_was_taken_over_writes_nothing_over_it() {
    let sweep = Sweep::new(GRID);
    let mut sleeper = sweep.spawn(&["--jobs", "1"]);
    // Suspend it in the middle of a run (some of its 8 epochs recorded), with no write
    // transaction of its open: the heartbeat is then aged by hand, as if 5 minutes had
    // passed, which needs the write lock.
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never caught mid-run"
        );
        if let Ok(Some(status)) = sleeper.try_wait() {
            panic!("exp exited ({status}) before it could be suspended");
        }
        std::thread::sleep(Duration::from_millis(5));
        signal(&sleeper, libc::SIGSTOP);
        // Not created yet, or locked by the suspended process: let it go on a little.
        let Ok(conn) = Connection::open_with_flags(&sweep.db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        else {
            signal(&sleeper, libc::SIGCONT);
            continue;
        };
        conn.busy_timeout(Duration::from_millis(500))
            .expect("timeout");
        let mid_run: rusqlite::Result<i64> = conn.query_row(
            "SELECT COUNT(*) FROM runs r WHERE r.status = 'running'
               AND (SELECT COUNT(*) FROM epochs e WHERE e.run_id = r.id) BETWEEN 1 AND 7",
            [],
            |r| r.get(0),
        );
        let aged = matches!(mid_run, Ok(1))
            && conn
                .execute(
                    "UPDATE runs SET heartbeat_at =
                         strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-301 seconds')
                     WHERE status = 'running'",
                    [],
                )
                .is_ok_and(|n| n == 1);
        if aged {
            break;
        }
        signal(&sleeper, libc::SIGCONT);
    }

    let taker = sweep.run(&[]);
    let taker_err = text(&taker.stderr);
    assert!(taker.status.success(), "{taker_err}");
    sweep.assert_complete(8);

    signal(&sleeper, libc::SIGCONT);
    let woken = sleeper.wait_with_output().expect("wait");
    let woken_err = text(&woken.stderr);
    assert!(woken.status.success(), "{woken_err}");
    assert!(
        woken_err.contains("stopped, taken over by another process (it is finished)"),
        "{woken_err}"
    );
    // Nothing of the woken process's went in after the take-over: every run once, each
    // with its 8 epochs once.
    sweep.assert_complete(8);
}

#[test]
fn cuda_devices_in_a_cpu_build_are_refused_before_anything_trains() {
    if cfg!(feature = "cuda") {
        return;
    }
    let sweep = Sweep::new(GRID);
    let out = sweep.run(&["--devices", "cpu:1,cuda:0"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`cuda:0`") && stderr.contains("--features cuda"),
        "{stderr}"
    );
    assert!(!sweep.db.exists(), "nothing may be written");
    // The same from the experiment file.
    let sweep = Sweep::new(&GRID.replace(
        "name = \"sched\"\n",
        "name = \"sched\"\ndevices = [\"cpu:2\", \"cuda:1\"]\n",
    ));
    let out = sweep.run(&[]);
    assert!(
        text(&out.stderr).contains("`cuda:1`"),
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new(&sweep.db).exists());
}
