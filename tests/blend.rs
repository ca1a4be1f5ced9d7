//! End to end: I-AutoRec and biased MF trained on the same repeated holdout of the
//! embedded ml-latest-small with their test predictions saved, then `exp blend` of the two,
//! checked against the average of the exported predictions; and the blends exp refuses.

mod common;

use std::collections::BTreeMap;

use common::{exp, text};
use rusqlite::Connection;

/// A 2-repeat holdout; `{name}`, `{model}` and `{seed}` are filled in per experiment.
const FILE: &str = r#"[experiment]
name = "{name}"
seed = {seed}
repeats = 2

[data]
dataset = "ml-latest-small"

[split]
kind = "holdout"
test_fraction = 0.1

[model]
{model}

[training]
epochs = 2
batch_size = 1024
learning_rate = 0.01

[metrics]
save_predictions = true
"#;

const MF: &str = "architecture = \"biased-mf\"\nembedding_size = 4";
const AUTOREC: &str = "architecture = \"autorec\"\nembedding_size = 8";

/// Writes and runs one experiment into `db`, asserting it succeeds.
fn run(dir: &std::path::Path, db: &str, name: &str, model: &str, seed: u64, extra: &str) {
    let text_of = FILE
        .replace("{name}", name)
        .replace("{model}", model)
        .replace("{seed}", &seed.to_string())
        + extra;
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text_of).unwrap();
    let out = exp(&["run", file.to_str().unwrap(), "--db", db], dir);
    assert!(out.status.success(), "{name}: {}", text(&out.stderr));
}

/// Each run's exported predictions by (repeat, experiment): (rating, prediction) pairs in
/// test order.
fn exported(dir: &std::path::Path, db: &str) -> BTreeMap<(String, String), Vec<(f64, f64)>> {
    let out = exp(&["export", "--predictions", "--db", db], dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut by_run: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for record in csv::Reader::from_reader(out.stdout.as_slice()).records() {
        let r = record.unwrap();
        by_run
            .entry((r[3].to_string(), r[1].to_string()))
            .or_default()
            .push((r[6].parse().unwrap(), r[7].parse().unwrap()));
    }
    by_run
}

#[test]
fn autorec_trains_end_to_end_and_blends_with_biased_mf_as_the_average_of_their_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exp.sqlite");
    let db_arg = db.to_str().unwrap();
    run(dir.path(), db_arg, "mf", MF, 7, "");
    run(dir.path(), db_arg, "ar", AUTOREC, 7, "");

    // The autoencoder's runs: finished, by item (its default order, part of the run key),
    // every epoch stored with a finite loss, predictions saved.
    let conn = Connection::open(&db).unwrap();
    let runs: Vec<(String, String, f64)> = conn
        .prepare(
            "SELECT r.status, r.config_json, r.rmse FROM runs r JOIN experiments e \
             ON e.id = r.experiment_id WHERE e.name = 'ar' ORDER BY r.repeat",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(runs.len(), 2);
    for (status, config, rmse) in &runs {
        assert_eq!(status, "finished");
        assert!(config.contains("\"order\":\"by-item\""), "{config}");
        assert!(rmse.is_finite() && *rmse > 0.5 && *rmse < 1.5, "{rmse}");
    }
    let epochs: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM epochs p JOIN runs r ON r.id = p.run_id JOIN experiments e \
             ON e.id = r.experiment_id WHERE e.name = 'ar' AND p.train_loss > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(epochs, 4, "2 epochs × 2 repeats");

    let out = exp(
        &["blend", "-e", "mf", "-e", "ar", "--db", db_arg],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    // Rows: repeat 1, repeat 2, mean; columns: fold, repeat, ratings, mf RMSE, ar RMSE,
    // blend RMSE, blend MAE.
    let rows: Vec<Vec<String>> = printed
        .lines()
        .filter(|l| l.starts_with('1') || l.starts_with("mean"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 3, "{printed}");
    let predictions = exported(dir.path(), db_arg);
    let mut blend_sum = 0.0;
    for (row, repeat) in rows.iter().zip(["1", "2"]) {
        assert_eq!(row[1], repeat, "{printed}");
        let mf = &predictions[&(repeat.to_string(), "mf".to_string())];
        let ar = &predictions[&(repeat.to_string(), "ar".to_string())];
        assert_eq!(row[2], mf.len().to_string());
        let rmse = |pairs: &mut dyn Iterator<Item = (f64, f64)>| {
            let (mut se, mut n) = (0.0, 0.0);
            for (rating, p) in pairs {
                se += (p - rating) * (p - rating);
                n += 1.0;
            }
            (se / n).sqrt()
        };
        let blend = rmse(&mut mf.iter().zip(ar).map(|(&(rating, a), &(other, b))| {
            assert_eq!(rating, other, "the same test ratings in the same order");
            (rating, (a + b) / 2.0)
        }));
        let mf_rmse = rmse(&mut mf.iter().copied());
        let ar_rmse = rmse(&mut ar.iter().copied());
        assert_eq!(row[3], format!("{mf_rmse:.4}"), "{printed}");
        assert_eq!(row[4], format!("{ar_rmse:.4}"), "{printed}");
        assert_eq!(row[5], format!("{blend:.4}"), "{printed}");
        // Two different models: the blend beats the worse of them.
        assert!(blend < mf_rmse.max(ar_rmse), "{printed}");
        blend_sum += blend;
    }
    let mean: f64 = rows[2][3].parse().unwrap();
    assert!((mean - blend_sum / 2.0).abs() < 2e-4, "{printed}");
}

#[test]
fn blend_refuses_one_experiment_sweeps_other_splits_and_runs_without_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exp.sqlite");
    let db_arg = db.to_str().unwrap();
    run(dir.path(), db_arg, "a", MF, 7, "");
    // Another seed: another holdout, so other test ratings.
    run(dir.path(), db_arg, "b", MF, 8, "");
    run(
        dir.path(),
        db_arg,
        "swept",
        MF,
        7,
        "\n[sweep]\n\"training.l2\" = [0.0, 0.01]\n",
    );
    let unsaved = FILE
        .replace("{name}", "unsaved")
        .replace("{model}", MF)
        .replace("{seed}", "7")
        .replace("save_predictions = true", "save_predictions = false");
    std::fs::write(dir.path().join("unsaved.toml"), unsaved).unwrap();
    let out = exp(&["run", "unsaved.toml", "--db", db_arg], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));

    let refused = |args: &[&str], expected: &str| {
        let mut all = vec!["blend"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--db", db_arg]);
        let out = exp(&all, dir.path());
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(&["-e", "a"], "at least two experiments");
    refused(&["-e", "a", "-e", "b"], "not the same test split");
    refused(
        &["-e", "a", "-e", "swept"],
        "one configuration per experiment",
    );
    refused(
        &["-e", "a", "-e", "unsaved"],
        "no finished run with saved test predictions",
    );
    refused(&["-e", "a", "-e", "nosuch"], "nosuch");
}
