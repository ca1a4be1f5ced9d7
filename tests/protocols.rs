//! End-to-end tests of the split kinds published results use (`predefined`, `temporal`,
//! `user-holdout`) and of the experiment files under `experiments/published/`, through
//! the real binary on small generated data in the data sets' own formats (ML-100K and
//! ML-1M may not be redistributed, so nothing real is committed).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::Connection;

mod common;
use common::{exp, exp_with, shared_data, text};

/// One generated rating: user, item, stars, Unix seconds.
type Row = (u32, u32, u32, i64);

/// `users` × some items with deterministic ratings and distinct timestamps, in a shuffled
/// file order (as `u.data` is).
fn generated_ratings(users: u32, items: u32) -> Vec<Row> {
    let mut rows = Vec::new();
    for u in 1..=users {
        for i in 1..=items {
            if (u * 7 + i * 3) % 4 != 0 {
                let stars = 1 + (u + 2 * i) % 5;
                let time = 880_000_000 + i64::from((u * 131 + i * 977) % 100_000) * 60;
                rows.push((u, i, stars, time));
            }
        }
    }
    // A fixed shuffle: file order is not time order.
    let n = rows.len();
    for k in 0..n {
        rows.swap(k, (k * 7919 + 13) % n);
    }
    rows
}

fn tab_lines(rows: &[Row]) -> String {
    rows.iter()
        .map(|(u, i, r, t)| format!("{u}\t{i}\t{r}\t{t}\n"))
        .collect()
}

/// A folder in ML-100K's layout: `u.data` (tab-separated, in `rows` order), `u.item` and
/// the five folds `u1`–`u5` made as the archive's `mku.sh` makes them (fold f tests on
/// the f-th fifth of `u.data`'s lines).
fn ml100k_folder(dir: &Path, rows: &[Row]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("u.data"), tab_lines(rows)).unwrap();
    let items: HashSet<u32> = rows.iter().map(|r| r.1).collect();
    let mut item_lines = String::new();
    for i in 1..=*items.iter().max().unwrap() {
        item_lines += &format!(
            "{i}|Film {i} (1995)|01-Jan-1995||http://x|{}\n",
            ["0"; 19].join("|")
        );
    }
    std::fs::write(dir.join("u.item"), item_lines).unwrap();
    let fifth = rows.len() / 5;
    for f in 0..5 {
        let (start, end) = (f * fifth, if f == 4 { rows.len() } else { (f + 1) * fifth });
        let test: Vec<Row> = rows[start..end].to_vec();
        let base: Vec<Row> = rows[..start].iter().chain(&rows[end..]).copied().collect();
        std::fs::write(dir.join(format!("u{}.test", f + 1)), tab_lines(&test)).unwrap();
        std::fs::write(dir.join(format!("u{}.base", f + 1)), tab_lines(&base)).unwrap();
    }
}

/// An experiment file on ML-100K at `data_dir` with `split` as its `[split]` body and a
/// closed-form model (fast, and its test RMSE depends only on the rows).
fn experiment(dir: &Path, name: &str, data_dir: &Path, split: &str) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "[experiment]\nname = \"{name}\"\nseed = 5\n[data]\ndataset = \"ml-100k\"\n\
             path = \"{}\"\n[split]\n{split}\n[model]\narchitecture = \"biases\"\n\
             embedding_size = 1\n[training]\nepochs = 1\nbatch_size = 64\nlearning_rate = 0.01\n",
            data_dir.display()
        ),
    )
    .unwrap();
    file
}

/// `exp run file --db dir/exp.sqlite` in `dir`: its output and the database's path.
fn run(dir: &Path, file: &Path) -> (std::process::Output, PathBuf) {
    let db = dir.join("exp.sqlite");
    let out = exp(
        &["run", file.to_str().unwrap(), "--db", db.to_str().unwrap()],
        dir,
    );
    (out, db)
}

/// `(user, item)` rows of a CSV written by `exp data split`.
fn split_rows(path: &Path) -> Vec<(u32, u32)> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].parse().unwrap())
        })
        .collect()
}

/// `exp data split` of `file`'s fold `fold` into `dir/out<fold>`: (train, validation, test).
fn split_of(dir: &Path, file: &Path, fold: usize) -> [Vec<(u32, u32)>; 3] {
    let out = dir.join(format!("out{fold}"));
    let run = exp(
        &[
            "data",
            "split",
            file.to_str().unwrap(),
            "--fold",
            &fold.to_string(),
            "--out",
            out.to_str().unwrap(),
        ],
        dir,
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let validation = out.join("validation.csv");
    [
        split_rows(&out.join("train.csv")),
        if validation.exists() {
            split_rows(&validation)
        } else {
            Vec::new()
        },
        split_rows(&out.join("test.csv")),
    ]
}

fn pairs(rows: &[Row]) -> HashSet<(u32, u32)> {
    rows.iter().map(|r| (r.0, r.1)).collect()
}

#[test]
fn predefined_folds_train_and_test_on_the_files_and_pair_by_fold() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml-100k");
    let rows = generated_ratings(30, 20);
    ml100k_folder(&data, &rows);
    let file = experiment(
        dir.path(),
        "u15",
        &data,
        "kind = \"predefined\"\nfolds = \"u1-u5\"\nvalidation_fraction = 0.1",
    );
    let (out, db) = run(dir.path(), &file);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("predefined split, fold 4:"), "{stderr}");
    let conn = Connection::open(&db).unwrap();
    let folds: Vec<i64> = conn
        .prepare("SELECT fold FROM runs WHERE status = 'finished' ORDER BY fold")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(folds, vec![0, 1, 2, 3, 4]);

    // Fold f trains on uF.base less its validation tenth and tests on uF.test exactly.
    let fifth = rows.len() / 5;
    for fold in [0, 4] {
        let [train, validation, test] = split_of(dir.path(), &file, fold);
        let end = if fold == 4 {
            rows.len()
        } else {
            (fold + 1) * fifth
        };
        let expected_test = pairs(&rows[fold * fifth..end]);
        assert_eq!(test.iter().copied().collect::<HashSet<_>>(), expected_test);
        assert_eq!(test.len(), expected_test.len());
        let base: HashSet<(u32, u32)> = train.iter().chain(&validation).copied().collect();
        assert_eq!(base.len(), rows.len() - expected_test.len());
        assert!(base.is_disjoint(&expected_test));
        let expected_validation = ((rows.len() - expected_test.len()) as f64 * 0.1).round();
        assert_eq!(validation.len(), expected_validation as usize);
    }
}

#[test]
fn a_fold_file_rating_the_data_set_lacks_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml-100k");
    let rows = generated_ratings(12, 10);
    ml100k_folder(&data, &rows);
    // Line 3 of u2.test becomes a rating of an item nobody rated in u.data.
    let mut test: Vec<String> = std::fs::read_to_string(data.join("u2.test"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    test[2] = "1\t999\t3\t880000000".into();
    std::fs::write(data.join("u2.test"), test.join("\n") + "\n").unwrap();
    let file = experiment(
        dir.path(),
        "bad",
        &data,
        "kind = \"predefined\"\nfolds = \"u1-u5\"",
    );
    let (out, db) = run(dir.path(), &file);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("u2.test:3: user 1, item 999 (rating 3) is not a rating of data set ml-100k"),
        "{stderr}"
    );
    // The same from [[split.files]], with a missing file named.
    let file = experiment(
        dir.path(),
        "missing",
        &data,
        "kind = \"predefined\"\n[[split.files]]\ntrain = \"u1.base\"\ntest = \"nope.test\"",
    );
    let out = exp(
        &["run", file.to_str().unwrap(), "--db", db.to_str().unwrap()],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("nope.test"), "{stderr}");
}

#[test]
fn temporal_splits_test_on_the_latest_ratings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml-100k");
    let rows = generated_ratings(25, 16);
    ml100k_folder(&data, &rows);
    let time: HashMap<(u32, u32), i64> = rows.iter().map(|r| ((r.0, r.1), r.3)).collect();
    let times = |list: &[(u32, u32)]| list.iter().map(|p| time[p]).collect::<Vec<_>>();

    // Global: every test rating is later than every validation rating, and those later
    // than every training rating.
    let file = experiment(
        dir.path(),
        "global",
        &data,
        "kind = \"temporal\"\ntest_fraction = 0.2\nvalidation_fraction = 0.25",
    );
    let [train, validation, test] = split_of(dir.path(), &file, 0);
    assert_eq!(test.len(), (rows.len() as f64 * 0.2).round() as usize);
    let max = |v: Vec<i64>| v.into_iter().max().unwrap();
    let min = |v: Vec<i64>| v.into_iter().min().unwrap();
    assert!(max(times(&train)) <= min(times(&validation)));
    assert!(max(times(&validation)) <= min(times(&test)));

    // Per user, leave the last one out: one test rating per user, their latest.
    let file = experiment(
        dir.path(),
        "last",
        &data,
        "kind = \"temporal\"\nper_user = true\nleave_last = 1",
    );
    let [train, _, test] = split_of(dir.path(), &file, 0);
    let users: HashSet<u32> = rows.iter().map(|r| r.0).collect();
    assert_eq!(test.len(), users.len());
    for &(u, i) in &test {
        let latest = train
            .iter()
            .filter(|p| p.0 == u)
            .map(|p| time[p])
            .max()
            .unwrap();
        assert!(time[&(u, i)] > latest, "user {u}");
    }

    // A cut by date: everything from that day on.
    let file = experiment(
        dir.path(),
        "date",
        &data,
        "kind = \"temporal\"\nbefore = \"1997-11-14\"",
    );
    let cut = 879_465_600; // 1997-11-14T00:00:00Z
    let [train, _, test] = split_of(dir.path(), &file, 0);
    assert!(times(&test).iter().all(|&t| t >= cut));
    assert!(times(&train).iter().all(|&t| t < cut));
    assert_eq!(test.len(), rows.iter().filter(|r| r.3 >= cut).count());
}

#[test]
fn a_temporal_split_of_ratings_without_timestamps_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml-100k");
    let rows: Vec<Row> = generated_ratings(10, 8)
        .into_iter()
        .map(|(u, i, r, _)| (u, i, r, 0))
        .collect();
    ml100k_folder(&data, &rows);
    let file = experiment(
        dir.path(),
        "notime",
        &data,
        "kind = \"temporal\"\ntest_fraction = 0.2",
    );
    let (out, _) = run(dir.path(), &file);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("`split.kind = \"temporal\"` needs rating timestamps"),
        "{stderr}"
    );
}

#[test]
fn user_holdout_tests_each_users_fraction() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml-100k");
    let rows = generated_ratings(20, 12);
    ml100k_folder(&data, &rows);
    let file = experiment(
        dir.path(),
        "strat",
        &data,
        "kind = \"user-holdout\"\ntest_fraction = 0.25",
    );
    let [train, _, test] = split_of(dir.path(), &file, 0);
    let mut count: HashMap<u32, usize> = HashMap::new();
    for r in &rows {
        *count.entry(r.0).or_default() += 1;
    }
    for (&u, &c) in &count {
        let tested = test.iter().filter(|p| p.0 == u).count();
        assert_eq!(
            tested,
            ((c as f64 * 0.25).round() as usize).min(c - 1),
            "user {u}"
        );
        assert!(train.iter().any(|p| p.0 == u));
    }
}

/// The published ML-1M file runs as it is on a small file in ML-1M's format
/// (`ratings.dat` with `::` separators, `movies.dat`), found through `EXP_DATA_DIR` as
/// `exp data download ml-1m` would place the real one.
#[test]
fn the_published_ml1m_file_validates_and_runs_on_synthetic_ml1m_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml-1m");
    std::fs::create_dir_all(&data).unwrap();
    let rows = generated_ratings(40, 25);
    let ratings: String = rows
        .iter()
        .map(|(u, i, r, t)| format!("{u}::{i}::{r}::{t}\n"))
        .collect();
    std::fs::write(data.join("ratings.dat"), ratings).unwrap();
    let movies: String = (1..=25)
        .map(|i| format!("{i}::Film {i} (1999)::Drama|Comedy\n"))
        .collect();
    std::fs::write(data.join("movies.dat"), movies).unwrap();

    let published = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/published");
    let ml1m = published.join("ml1m-90-10.toml");
    let out = exp(&["validate", ml1m.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = dir.path().join("exp.sqlite");
    let out = exp_with(
        &["run", ml1m.to_str().unwrap(), "--db", db.to_str().unwrap()],
        dir.path(),
        &[("EXP_DATA_DIR", dir.path())],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let conn = Connection::open(&db).unwrap();
    let (runs, rmse): (i64, f64) = conn
        .query_row(
            "SELECT COUNT(*), MAX(rmse) FROM runs WHERE status = 'finished'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(runs, 1);
    assert!(rmse.is_finite() && rmse > 0.0 && rmse < 2.0, "{rmse}");

    // Every published file is a valid experiment.
    for entry in std::fs::read_dir(&published).unwrap() {
        let path = entry.unwrap().path();
        let out = exp(&["validate", path.to_str().unwrap()], dir.path());
        assert!(out.status.success(), "{path:?}: {}", text(&out.stderr));
    }
}

/// On the real ML-100K: u1.base/u1.test made from `u.data` as the archive's `mku.sh` makes
/// them (u1.test = the first 20000 lines) give an 80000/20000 fold whose test set has 32
/// ratings of items absent from u1.base (32 items, no users), as `exp run` reports.
#[test]
fn the_u1_fold_of_the_real_ml100k() {
    let Some(u_data) = shared_data::require("ml-100k/u.data") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml-100k");
    std::fs::create_dir_all(&data).unwrap();
    let source = u_data.parent().unwrap();
    for file in ["u.data", "u.item"] {
        std::fs::copy(source.join(file), data.join(file)).unwrap();
    }
    let lines: Vec<String> = std::fs::read_to_string(&u_data)
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(data.join("u1.test"), lines[..20_000].concat()).unwrap();
    std::fs::write(data.join("u1.base"), lines[20_000..].concat()).unwrap();
    let file = experiment(
        dir.path(),
        "u1",
        &data,
        "kind = \"predefined\"\n[[split.files]]\ntrain = \"u1.base\"\ntest = \"u1.test\"",
    );
    let (out, _) = run(dir.path(), &file);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("predefined split, fold 0: 80000 training, 0 validation, 20000 test"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "32 of 20000 test rating(s) (0.16%) have a user or item with no \
             training rating (0 user(s), 32 item(s))"
        ),
        "{stderr}"
    );
}
