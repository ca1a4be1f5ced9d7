//! End-to-end tests of `exp data split`: the rows it writes are the rows `exp run` trains
//! and tests on, so other libraries can be measured on exactly the same ratings.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::Connection;

mod common;
use common::{exp, text};

/// `(user, item, rating)` rows of a CSV that `exp data split` wrote, header checked.
fn read_rows(path: &Path) -> Vec<(String, String, f64)> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert_eq!(
        reader.headers().unwrap(),
        vec!["user", "item", "rating"],
        "{path:?}"
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].parse().unwrap())
        })
        .collect()
}

/// A global-mean model predicts the training mean for every test rating, so its stored test
/// RMSE pins both the training rows (their mean) and the test rows: each fold's RMSE
/// recomputed from the CSVs must be the stored one. The folds' test rows are disjoint
/// from their training rows, and together they cover every rating once.
#[test]
fn split_rows_are_the_rows_the_run_trains_and_tests_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mean.toml");
    std::fs::write(
        &file,
        "[experiment]\nname = \"mean\"\nseed = 11\n[data]\ndataset = \"ml-latest-small\"\n\
         [split]\nkind = \"kfold\"\nk = 3\n\
         [model]\narchitecture = \"global-mean\"\nembedding_size = 1\n\
         [training]\nepochs = 1\nbatch_size = 1024\nlearning_rate = 0.01\n",
    )
    .unwrap();
    let db = dir.path().join("exp.sqlite");
    let out = exp(
        &["run", file.to_str().unwrap(), "--db", db.to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = Connection::open(&db).unwrap();

    let mut every_test_row = HashSet::new();
    let mut total = None;
    let mut rmses = Vec::new();
    for fold in 0..3 {
        let folder = dir.path().join(format!("fold{fold}"));
        let out = exp(
            &[
                "data",
                "split",
                file.to_str().unwrap(),
                "--fold",
                &fold.to_string(),
                "--out",
                folder.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            !folder.join("validation.csv").exists(),
            "no validation split"
        );
        let train = read_rows(&folder.join("train.csv"));
        let test = read_rows(&folder.join("test.csv"));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains(&format!("{} rows", train.len())),
            "{stdout}"
        );

        let pairs = |rows: &[(String, String, f64)]| -> HashSet<(String, String)> {
            rows.iter()
                .map(|(u, i, _)| (u.clone(), i.clone()))
                .collect()
        };
        let (train_pairs, test_pairs) = (pairs(&train), pairs(&test));
        assert_eq!(train_pairs.len(), train.len(), "no duplicate training rows");
        assert_eq!(test_pairs.len(), test.len(), "no duplicate test rows");
        assert!(train_pairs.is_disjoint(&test_pairs), "fold {fold} overlaps");
        let n = train.len() + test.len();
        assert_eq!(*total.get_or_insert(n), n, "every fold splits all ratings");
        for pair in test_pairs {
            assert!(every_test_row.insert(pair), "a rating is in two test folds");
        }

        let mean = train.iter().map(|r| r.2).sum::<f64>() / train.len() as f64;
        let rmse =
            (test.iter().map(|r| (r.2 - mean).powi(2)).sum::<f64>() / test.len() as f64).sqrt();
        let stored: f64 = conn
            .query_row(
                "SELECT rmse FROM runs WHERE fold = ?1 AND status = 'finished'",
                [fold],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            (rmse - stored).abs() < 2e-6,
            "fold {fold}: RMSE from the CSVs {rmse}, stored {stored}"
        );
        rmses.push(stored);
    }
    assert_eq!(
        every_test_row.len(),
        total.unwrap(),
        "the test folds cover the data"
    );
    // The check discriminates: the folds' RMSEs differ by more than its tolerance.
    assert!((rmses[0] - rmses[1]).abs() > 1e-5 && (rmses[1] - rmses[2]).abs() > 1e-5);
}

/// A fold the experiment does not have is an error naming the flag and the fold count.
#[test]
fn split_refuses_a_fold_beyond_the_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let out = exp(
        &[
            "data",
            "split",
            common::fixture("tiny.toml").to_str().unwrap(),
            "--fold",
            "2",
            "--out",
            "rows",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--fold 2") && stderr.contains("2 fold(s)"),
        "{stderr}"
    );
    assert!(!dir.path().join("rows").exists(), "nothing written");
}
