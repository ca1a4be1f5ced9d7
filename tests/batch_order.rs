//! End to end: `training.order = "by-user"` trains SVD++ in batches of whole users through
//! the real `exp` binary, to about the accuracy of the shuffled order, and stores its order
//! in the run's configuration (the default's configuration, and so its key, unchanged).

use rusqlite::Connection;

mod common;
use common::{exp, run_experiment, text};

/// SVD++ with Adam in batches on the embedded ml-latest-small, both orders.
const EXPERIMENT: &str = "[experiment]\nname = \"batch-order\"\nseed = 3\n\
    [data]\ndataset = \"ml-latest-small\"\n\
    [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n\
    [model]\narchitecture = \"svdpp\"\nembedding_size = 8\n\
    [training]\nepochs = 4\nbatch_size = 256\noptimizer = \"adam\"\nlearning_rate = 0.005\n\
    l2 = 0.002\n\
    [sweep]\n\"training.order\" = [\"shuffled\", \"by-user\"]\n";

#[test]
fn by_user_batches_train_svdpp_like_shuffled_ones_under_their_own_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, db) = run_experiment(dir.path(), "batch-order", EXPERIMENT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = Connection::open(&db).expect("the database");
    let rows: Vec<(String, String, f64)> = conn
        .prepare("SELECT config_json, status, rmse FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.1 == "finished"), "{rows:?}");
    let by_user: Vec<_> = rows.iter().filter(|r| r.0.contains("by-user")).collect();
    assert_eq!(
        by_user.len(),
        1,
        "only the by-user run names its order: {rows:?}"
    );
    assert!(
        rows.iter().all(|r| !r.0.contains("shuffled")),
        "the default order stays out of the key: {rows:?}"
    );
    let (a, b) = (rows[0].2, rows[1].2);
    assert!(a > 0.7 && a < 1.2 && b > 0.7 && b < 1.2, "{rows:?}");
    assert!((a - b).abs() < 0.05, "shuffled {a} vs by-user {b}");
}

#[test]
fn an_unknown_order_is_refused_naming_the_key_and_the_choices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad-order.toml");
    let bad = EXPERIMENT.replace("\"by-user\"]", "\"by-movie\"]");
    std::fs::write(&file, bad).expect("write experiment");
    let out = exp(&["validate", file.to_str().unwrap()], dir.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("training.order"), "{err}");
    assert!(
        err.contains("by-user") && err.contains("by-item") && err.contains("by-movie"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
