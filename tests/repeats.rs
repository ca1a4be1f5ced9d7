//! End to end: a repeated holdout that saves its test predictions, compared per rating
//! and exported, through the real `exp` binary on the embedded ml-latest-small.

mod common;

use common::{exp, text};
use rusqlite::Connection;

const FILE: &str = r#"[experiment]
name = "rep"
seed = 11
repeats = 2

[data]
dataset = "ml-latest-small"

[split]
kind = "holdout"
test_fraction = 0.1

[model]
architecture = "biased-mf"
embedding_size = 4

[training]
epochs = 2
batch_size = 1024
learning_rate = 0.01

[metrics]
save_predictions = true

[sweep]
training.l2 = [0.0, 0.05]
"#;

#[test]
fn repeated_holdout_saves_predictions_that_compare_and_export_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rep.toml");
    std::fs::write(&file, FILE).unwrap();
    let db = dir.path().join("exp.sqlite");
    let db_arg = db.to_str().unwrap();
    let out = exp(&["run", file.to_str().unwrap(), "--db", db_arg], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));

    // 2 configurations × 2 repeats, each repeat with its own seed and split (ordered by
    // repeat: two CPU workers claim the runs in either order).
    let conn = Connection::open(&db).unwrap();
    let rows: Vec<(i64, i64, i64, f64)> = conn
        .prepare("SELECT id, repeat, seed, rmse FROM runs ORDER BY repeat, id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let shape: Vec<(i64, i64)> = rows.iter().map(|r| (r.1, r.2)).collect();
    assert_eq!(shape, [(0, 11), (0, 11), (1, 12), (1, 12)]);
    let saved: i64 = conn
        .query_row("SELECT COUNT(*) FROM run_predictions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(saved, 4);

    // Export round trip: the RMSE of each run's exported predictions is its stored RMSE.
    let out = exp(
        &["export", "-e", "rep", "--predictions", "--db", db_arg],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            "run_id",
            "experiment",
            "fold",
            "repeat",
            "user",
            "item",
            "rating",
            "prediction"
        ]
    );
    let mut sums: std::collections::BTreeMap<i64, (f64, usize)> = Default::default();
    let mut test_sets: std::collections::BTreeMap<i64, Vec<(u32, u32)>> = Default::default();
    for record in reader.records() {
        let r = record.unwrap();
        let id: i64 = r[0].parse().unwrap();
        let rating: f32 = r[6].parse().unwrap();
        let prediction: f32 = r[7].parse().unwrap();
        let e = f64::from(prediction) - f64::from(rating);
        let entry = sums.entry(id).or_default();
        entry.0 += e * e;
        entry.1 += 1;
        test_sets
            .entry(id)
            .or_default()
            .push((r[4].parse().unwrap(), r[5].parse().unwrap()));
    }
    assert_eq!(sums.len(), 4);
    for (id, _, _, rmse) in &rows {
        let (ss, n) = sums[id];
        let from_export = (ss / n as f64).sqrt();
        assert!(
            (from_export - rmse).abs() < 1e-5,
            "run {id}: {from_export} vs stored {rmse}"
        );
    }
    // Same repeat, same test ratings; another repeat, another split.
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(test_sets[&ids[0]], test_sets[&ids[1]]);
    assert_ne!(test_sets[&ids[0]], test_sets[&ids[2]]);
    let n_test = test_sets[&ids[0]].len() + test_sets[&ids[2]].len();

    // compare pairs by (fold, repeat) and adds the per-rating tests, Holm-corrected.
    let out = exp(
        &["compare", "-e", "rep", "--format", "json", "--db", db_arg],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let second = &doc["configurations"][1]["significance"];
    assert_eq!(second["paired_folds"], 2, "{doc:#}");
    assert_eq!(second["per_rating"]["pairs"], n_test as u64, "{doc:#}");
    assert!(second["per_rating"]["p_ttest_holm"].is_number(), "{doc:#}");
    assert!(second["d_z"].is_number() || second["d_z"].is_null());
    let out = exp(&["compare", "-e", "rep", "--db", db_arg], dir.path());
    let table = text(&out.stdout);
    assert!(
        table.lines().next().unwrap().contains("rating Holm t"),
        "{table}"
    );
    assert!(table.contains("Per rating: the squared errors"), "{table}");
    // Ranked by a metric without per-rating errors, no per-rating columns.
    let out = exp(
        &["compare", "-e", "rep", "--metric", "mae", "--db", db_arg],
        dir.path(),
    );
    assert!(text(&out.stdout).contains("Per rating: the absolute errors"));

    // Without saved predictions, export says how to get them.
    let out = exp(
        &[
            "export",
            "-e",
            "rep",
            "--predictions",
            "--format",
            "json",
            "--db",
            db_arg,
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--predictions writes CSV only"));
}

#[test]
fn saved_per_user_values_average_to_the_stored_metric_and_feed_per_user_tests() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    let file_text = FILE.replace("name = \"rep\"", "name = \"users\"").replace(
        "save_predictions = true",
        "names = [\"rmse\", \"ndcg@10\", \"coverage@10\"]\nsave_predictions = true",
    );
    std::fs::write(&file, file_text).unwrap();
    let db = dir.path().join("exp.sqlite");
    let db_arg = db.to_str().unwrap();
    let out = exp(&["run", file.to_str().unwrap(), "--db", db_arg], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Each run's per-user nDCG@10 averages to its stored nDCG@10; coverage, not a
    // per-user quantity, is not saved per user.
    let conn = Connection::open(&db).unwrap();
    let rows: Vec<(f64, String, i64, Vec<u8>)> = conn
        .prepare(
            "SELECT m.value, u.name, u.count, u.data FROM run_user_metrics u
             JOIN run_metrics m ON m.run_id = u.run_id AND m.name = u.name ORDER BY u.run_id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 4, "one per run, nDCG only");
    let mut users = 0;
    for (stored, name, count, data) in &rows {
        assert_eq!(name, "ndcg@10");
        assert_eq!(data.len(), *count as usize * 8);
        let values: Vec<f64> = data
            .chunks_exact(8)
            .map(|c| f64::from(f32::from_le_bytes([c[4], c[5], c[6], c[7]])))
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((mean - stored).abs() < 1e-6, "{mean} vs {stored}");
        users = values.len().max(users);
    }

    let out = exp(
        &[
            "compare", "-e", "users", "--metric", "ndcg@10", "--format", "json", "--db", db_arg,
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let second = &doc["configurations"][1]["significance"];
    assert!(
        second["per_user"]["pairs"].as_u64().unwrap() > users as u64,
        "{doc:#}"
    );
    assert!(second["per_user"]["p_wilcoxon_holm"].is_number(), "{doc:#}");
    assert!(second["per_rating"].is_null(), "{doc:#}");
    let out = exp(
        &[
            "compare", "-e", "users", "--metric", "ndcg@10", "--db", db_arg,
        ],
        dir.path(),
    );
    let table = text(&out.stdout);
    assert!(
        table.lines().next().unwrap().contains("user Holm W"),
        "{table}"
    );
    assert!(table.contains("Per user: each user's nDCG@10"), "{table}");
}
