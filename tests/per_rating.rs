//! End to end: a run on the per-rating SGD path (plain SGD at batch size 1) through the
//! real `exp` binary stores every epoch and its RMSE, on one thread and on two.

use rusqlite::Connection;

mod common;
use common::{run_experiment, text};

/// Funk SVD trained per rating on the embedded ml-latest-small, one and two threads.
const EXPERIMENT: &str = "[experiment]\nname = \"per-rating\"\nseed = 3\n\
    [data]\ndataset = \"ml-latest-small\"\n\
    [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n\
    [model]\narchitecture = \"funk-svd\"\nembedding_size = 8\n\
    [training]\nepochs = 3\nbatch_size = 1\noptimizer = \"sgd\"\nlearning_rate = 0.005\n\
    l2 = 0.04\n\
    [sweep]\n\"training.threads\" = [1, 2]\n";

#[test]
fn a_per_rating_run_stores_its_epochs_and_rmse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, db) = run_experiment(dir.path(), "per-rating", EXPERIMENT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 run(s) (per-rating SGD on the CPU) on"),
        "{}",
        text(&out.stderr)
    );
    let conn = Connection::open(&db).expect("the database");
    let rows: Vec<(String, i64, f64)> = conn
        .prepare(
            "SELECT r.status, COUNT(e.epoch), MAX(e.rmse) FROM runs r \
             JOIN epochs e ON e.run_id = r.id GROUP BY r.id ORDER BY r.id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (status, epochs, rmse) in &rows {
        assert_eq!((status.as_str(), *epochs), ("finished", 3), "{rows:?}");
        assert!(*rmse > 0.5 && *rmse < 1.2, "{rows:?}");
    }
    let rmse: Vec<f64> = conn
        .prepare("SELECT rmse FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        (rmse[0] - rmse[1]).abs() < 0.01,
        "one vs two threads: {rmse:?}"
    );
}
