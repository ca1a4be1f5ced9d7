//! Sizes that cannot fit: refused by `exp validate` and `exp run` before anything trains,
//! naming the file, line and key; and, when the estimate is skipped, failing their own
//! runs while the other runs of the sweep train (never aborting the process).

mod common;

use std::path::Path;

use common::{exp, exp_with, fixture, text};
use rusqlite::Connection;

/// `tests/fixtures/tiny.toml` (ml-latest-small, 2 folds) with its sweep replaced by
/// `sweep` and `extra` lines appended to `[training]`-free tables, written to `dir`.
fn experiment(dir: &Path, sweep: &str, extra: &str) -> String {
    let tiny = std::fs::read_to_string(fixture("tiny.toml")).unwrap();
    let base = tiny
        .split("[sweep]")
        .next()
        .unwrap()
        .replace("epochs = 2", "epochs = 1");
    let path = dir.join("sizes.toml");
    std::fs::write(&path, format!("{base}{extra}\n[sweep]\n{sweep}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

/// The line of `file` that contains `needle` (1-based).
fn line_of(file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

const HUGE_K: &str = "\"model.embedding_size\" = [8, 1099511627776]";

#[test]
fn validate_refuses_an_embedding_size_that_cannot_fit_naming_the_sweep_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), HUGE_K, "");
    let out = exp(&["validate", &file], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    let line = line_of(&file, "model.embedding_size\" = [8");
    let at = format!("sizes.toml:{line}: `model.embedding_size`: grid point 2 of 2");
    assert!(stderr.contains(&at), "{at}\n{stderr}");
    assert!(stderr.contains("PiB"), "says the estimate: {stderr}");
    assert!(stderr.contains("available"), "says the limit: {stderr}");
    assert!(!stderr.contains("grid point 1"), "k = 8 fits: {stderr}");
}

#[test]
fn run_refuses_it_before_anything_trains() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), HUGE_K, "");
    let db = dir.path().join("results/exp.sqlite");
    let out = exp(
        &["run", &file, "--db", db.to_str().unwrap(), "--jobs", "2"],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "no abort (134): {stderr}");
    assert!(stderr.contains("`model.embedding_size`"), "{stderr}");
    assert!(!db.exists(), "nothing was started or stored");
}

#[test]
fn a_size_that_cannot_fit_fails_its_own_runs_and_the_others_train() {
    // With the estimate skipped, the guards inside the run catch the table: its runs fail
    // with a message, the k = 8 runs finish, and the process exits 1, not 134.
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), HUGE_K, "");
    let db = dir.path().join("results/exp.sqlite");
    let out = exp_with(
        &["run", &file, "--db", db.to_str().unwrap(), "--jobs", "2"],
        dir.path(),
        &[("EXP_SKIP_MEMORY_ESTIMATE", Path::new("1"))],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2 finished, 2 failed"), "{stderr}");
    assert!(stderr.contains("needs 2.4 PiB"), "{stderr}");
    let conn = Connection::open(&db).unwrap();
    let mut rows: Vec<(String, i64)> = conn
        .prepare("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [("failed".to_string(), 2), ("finished".to_string(), 2)],
        "none left running"
    );
}

#[test]
fn the_memory_limit_can_be_lowered_and_in_run_guards_use_it_too() {
    // k = 4096 on ml-latest-small: tables of (610 + 9724) × 4098 floats, about 160 MiB,
    // more than a 64 MiB cap; k = 8 needs about 2 MiB.
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), "\"model.embedding_size\" = [8, 4096]", "");
    let cap = Path::new("67108864");
    let out = exp_with(
        &["validate", &file],
        dir.path(),
        &[("EXP_MEMORY_LIMIT_BYTES", cap)],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("64.0 MiB allowed by EXP_MEMORY_LIMIT_BYTES"),
        "{stderr}"
    );
    let db = dir.path().join("exp.sqlite");
    let out = exp_with(
        &["run", &file, "--db", db.to_str().unwrap(), "--jobs", "2"],
        dir.path(),
        &[
            ("EXP_MEMORY_LIMIT_BYTES", cap),
            ("EXP_SKIP_MEMORY_ESTIMATE", Path::new("1")),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2 finished, 2 failed"), "{stderr}");
    assert!(
        stderr.contains("item_factors_one_bias needs 152.0 MiB"),
        "the table's own guard: {stderr}"
    );
    // A malformed cap is an error naming the variable.
    let out = exp_with(
        &["validate", &file],
        dir.path(),
        &[("EXP_MEMORY_LIMIT_BYTES", Path::new("lots"))],
    );
    assert!(
        text(&out.stderr).contains("EXP_MEMORY_LIMIT_BYTES must be a whole number"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn huge_hidden_layers_and_user_embeddings_are_refused_naming_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(
        dir.path(),
        "\"model.hidden_layers\" = [[16], [1000000000]]",
        "",
    );
    let file = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"biased-mf\"", "\"mlp\"");
    std::fs::write(dir.path().join("sizes.toml"), &file).unwrap();
    let out = exp(&["validate", "sizes.toml"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`model.hidden_layers`: grid point 2 of 2"),
        "{stderr}"
    );

    let file = file.replace(
        "\"model.hidden_layers\" = [[16], [1000000000]]",
        "\"model.user_embedding_size\" = [8, 1099511627776]",
    );
    std::fs::write(dir.path().join("sizes.toml"), &file).unwrap();
    let out = exp(&["validate", "sizes.toml"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`model.user_embedding_size`: grid point 2 of 2"),
        "{stderr}"
    );
}

#[test]
fn a_batch_size_larger_than_the_data_trains_one_batch_per_epoch() {
    // Batch buffers were reserved for `training.batch_size` values: 10^12 aborted.
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), "\"training.batch_size\" = [1000000000000]", "");
    let db = dir.path().join("exp.sqlite");
    let out = exp(
        &["run", &file, "--db", db.to_str().unwrap(), "--jobs", "2"],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 finished, 0 failed"), "{stderr}");
}

#[test]
fn a_relevance_threshold_outside_the_rating_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(
        dir.path(),
        "\"metrics.relevance_threshold\" = [4.0, 6.0]",
        "[metrics]\nnames = [\"rmse\", \"ndcg@10\"]\nrelevance_threshold = 4.0\n",
    );
    let out = exp(&["validate", &file], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = line_of(&file, "\"metrics.relevance_threshold\" = [4.0");
    let at = format!("sizes.toml:{line}: `metrics.relevance_threshold`: grid point 2 of 2");
    assert!(stderr.contains(&at), "{at}\n{stderr}");
    assert!(stderr.contains("rating range 0.5..=5"), "{stderr}");
}
