//! End-to-end tests of `[search]` through the real `exp` binary: a random search with
//! ASHA stored trial by trial, a search killed with SIGKILL five times and resumed to
//! exactly its trials, two processes sharing one search, and bad search tables refused
//! before anything trains.
//!
//! The searches train biased MF on the embedded ml-latest-small for a fraction of a
//! second per trial.

use std::collections::HashSet;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

mod common;
use common::text;

/// A random search over the learning rate, L2 and the embedding size, pruned by ASHA
/// at epochs 1 and 3 of 9.
fn search_file(strategy: &str, trials: usize, batch_size: usize) -> String {
    format!(
        "[experiment]\nname = \"hp\"\nseed = 11\n\
         [data]\ndataset = \"ml-latest-small\"\n\
         [split]\nkind = \"holdout\"\ntest_fraction = 0.1\nvalidation_fraction = 0.05\n\
         [model]\narchitecture = \"biased-mf\"\nembedding_size = 8\n\
         [training]\nepochs = 9\nbatch_size = {batch_size}\nlearning_rate = 0.01\n\
         [search]\nstrategy = \"{strategy}\"\ntrials = {trials}\n\
         [search.space]\n\
         \"training.learning_rate\" = {{ log_uniform = [0.0003, 0.3] }}\n\
         \"training.l2\" = {{ log_uniform = [0.000001, 0.01] }}\n\
         \"model.embedding_size\" = {{ int = [4, 32], log = true }}\n\
         [search.pruner]\nkind = \"asha\"\nmin_epochs = 1\nreduction_factor = 3\n"
    )
}

/// The experiment file and its database (`common::ExperimentDir`).
struct Search(common::ExperimentDir);

impl std::ops::Deref for Search {
    type Target = common::ExperimentDir;
    fn deref(&self) -> &common::ExperimentDir {
        &self.0
    }
}

impl Search {
    fn new(text: &str) -> Search {
        Search(common::ExperimentDir::new("search", text))
    }

    fn conn(&self) -> Connection {
        let conn = Connection::open_with_flags(&self.db, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
        conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
        conn
    }

    /// Rows of `sql`, one integer each.
    fn ints(&self, sql: &str) -> Vec<i64> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn int(&self, sql: &str) -> i64 {
        self.ints(sql)[0]
    }

    /// Exactly `n` trials, numbered 0..n, with distinct values; each run belongs to a
    /// trial, each trial has one run (holdout), and no run key is stored twice.
    fn assert_trials(&self, n: i64) {
        assert_eq!(
            self.ints("SELECT number FROM trials ORDER BY number"),
            (0..n).collect::<Vec<_>>()
        );
        assert_eq!(
            self.int("SELECT COUNT(DISTINCT params_json) FROM trials"),
            n
        );
        assert_eq!(
            self.int("SELECT COUNT(*) FROM trials WHERE status = 'running'"),
            0
        );
        assert_eq!(self.int("SELECT COUNT(*) FROM runs"), n);
        assert_eq!(self.int("SELECT COUNT(DISTINCT key) FROM runs"), n);
        assert_eq!(self.int("SELECT COUNT(DISTINCT trial) FROM runs"), n);
        assert_eq!(
            self.int("SELECT COUNT(*) FROM runs WHERE status NOT IN ('finished', 'pruned')"),
            0
        );
        // A run's trial has the run's values.
        assert_eq!(
            self.int(
                "SELECT COUNT(*) FROM runs r JOIN trials t ON t.number = r.trial
                 WHERE t.params_json != r.params_json"
            ),
            0
        );
    }
}

#[test]
fn a_random_search_with_asha_stores_every_trial_and_prunes_at_rungs() {
    let search = Search::new(&search_file("random", 12, 256));
    let out = search.run(&["--jobs", "2"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    search.assert_trials(12);
    let pruned = search.int("SELECT COUNT(*) FROM runs WHERE status = 'pruned'");
    assert!(pruned > 0, "ASHA pruned nothing: {stderr}");
    assert_eq!(
        search.int("SELECT COUNT(*) FROM trials WHERE status = 'pruned'"),
        pruned
    );
    // A pruned run keeps the epochs it trained, and stopped at a rung (1 or 3).
    let epochs = search.ints(
        "SELECT COUNT(e.epoch) FROM runs r JOIN epochs e ON e.run_id = r.id
         WHERE r.status = 'pruned' GROUP BY r.id",
    );
    assert!(epochs.iter().all(|n| [1, 3].contains(n)), "{epochs:?}");
    assert!(
        stderr.contains(&format!(
            "search: 12 trials ({} complete, {pruned} pruned",
            12 - pruned
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{pruned} pruned")), "{stderr}");
    // `exp status` counts them apart.
    let status = common::exp(
        &["status", "--db", search.db.to_str().expect("utf-8")],
        Path::new("."),
    );
    let table = text(&status.stdout);
    assert!(table.contains("pruned"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with("hp "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "12", "{row}");
    assert_eq!(cells[6], pruned.to_string(), "{row}");
    // `exp compare` ranks the complete trials, top N on request, and counts the pruned.
    let db = search.db.to_str().expect("utf-8");
    let compare = common::exp(
        &["compare", "-e", "hp", "--db", db, "--top", "3"],
        Path::new("."),
    );
    assert!(compare.status.success(), "{}", text(&compare.stderr));
    assert!(
        text(&compare.stderr).contains(&format!("hp: {pruned} pruned run(s) not ranked")),
        "{}",
        text(&compare.stderr)
    );
    let ranked = text(&compare.stdout);
    assert!(
        ranked.contains("learning_rate") && ranked.contains("embedding_size"),
        "{ranked}"
    );
    // The search charts beside the usual ones.
    let dir = search.db.parent().expect("results dir").join("hp");
    for chart in [
        "search_history.png",
        "search_slice.png",
        "search_intermediate.png",
    ] {
        assert!(dir.join(chart).is_file(), "{chart} in {}", dir.display());
    }
    // Running it again trains nothing.
    let again = search.run(&[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    search.assert_trials(12);
}

#[test]
fn a_search_killed_five_times_resumes_to_exactly_its_trials() {
    const TRIALS: i64 = 16;
    let search = Search::new(&search_file("tpe", TRIALS as usize, 32));
    let mut pruned_seen: HashSet<i64> = HashSet::new();
    // Kill at pseudo-random moments (a fixed sequence, so a failure can be rerun).
    for delay_ms in [700u64, 1300, 400, 1900, 1000] {
        let mut child = search.spawn(&["--jobs", "1"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("SIGKILL");
        }
        child.wait().expect("reap");
        if search.db.is_file() {
            pruned_seen.extend(search.ints("SELECT id FROM runs WHERE status = 'pruned'"));
        }
    }
    let out = search.run(&["--jobs", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    search.assert_trials(TRIALS);
    // Runs pruned before a kill are still pruned, not trained again.
    let pruned_now: HashSet<i64> = search
        .ints("SELECT id FROM runs WHERE status = 'pruned'")
        .into_iter()
        .collect();
    assert!(
        pruned_seen.is_subset(&pruned_now),
        "{pruned_seen:?} {pruned_now:?}"
    );
    // No epoch stored twice for a run.
    assert_eq!(
        search.int("SELECT COUNT(*) FROM (SELECT run_id, epoch FROM epochs GROUP BY 1, 2 HAVING COUNT(*) > 1)"),
        0
    );
}

#[test]
fn two_processes_share_one_search_without_drawing_a_trial_twice() {
    const TRIALS: i64 = 10;
    let search = Search::new(&search_file("random", TRIALS as usize, 128));
    let a = search.spawn(&["--jobs", "1"]);
    let b = search.spawn(&["--jobs", "1"]);
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    for out in [&a, &b] {
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    search.assert_trials(TRIALS);
    // Between them they trained each trial once: `hp: N finished, …, M pruned`.
    let trained = |out: &Output| -> i64 {
        let stderr = text(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("hp: ") && l.contains(" finished, "))
            .and_then(|l| l.split(';').next())
            .unwrap_or_else(|| panic!("no summary in {stderr}"))
            .to_string();
        let count = |what: &str| {
            line.split(", ")
                .find_map(|part| part.trim_start_matches("hp: ").strip_suffix(what))
                .map_or(0, |n| {
                    n.trim().parse::<i64>().unwrap_or_else(|_| panic!("{line}"))
                })
        };
        count(" finished") + count(" pruned")
    };
    assert_eq!(trained(&a) + trained(&b), TRIALS);
}

#[test]
fn a_bad_search_table_is_refused_before_anything_trains() {
    let text_of = |space: &str| {
        search_file("random", 4, 256).replace(
            "\"training.l2\" = { log_uniform = [0.000001, 0.01] }\n",
            space,
        )
    };
    for (space, expected) in [
        (
            "\"training.l2\" = { log_uniform = [0.0, 0.01] }\n",
            "search.toml:22:",
        ),
        (
            "\"training.l2\" = { uniform = [0.2, 0.1] }\n",
            "search.toml:22:",
        ),
        (
            "\"training.l2\" = { normal = [0.0, 1.0] }\n",
            "search.toml:22:",
        ),
    ] {
        let search = Search::new(&text_of(space));
        let out = search.run(&[]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{space}: {stderr}");
        assert!(stderr.contains(expected), "{space}: {stderr}");
        assert!(stderr.contains("training.l2"), "{space}: {stderr}");
        assert!(!search.db.exists(), "nothing written for {space}");
    }
}
