//! End-to-end tests of where results go: no output file is written through a link, and
//! a results directory that cannot be used is reported before anything trains.

use std::os::unix::fs::symlink;
use std::path::Path;

use rusqlite::Connection;

mod common;
use common::{exp, text};

/// A one-run experiment on the embedded data (holdout, one epoch), plus `sweep`.
fn write_experiment(path: &Path, name: &str, learning_rate: &str, sweep: &str) {
    std::fs::write(
        path,
        format!(
            "[experiment]\nname = \"{name}\"\n[data]\ndataset = \"ml-latest-small\"\n\
             [split]\nkind = \"holdout\"\ntest_fraction = 0.1\n[model]\narchitecture = \"dot-mf\"\n\
             embedding_size = 4\n[training]\nepochs = 1\nbatch_size = 4096\n\
             learning_rate = {learning_rate}\n{sweep}"
        ),
    )
    .unwrap();
}

#[test]
fn a_link_planted_in_the_results_is_refused_and_its_target_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("linked.toml");
    write_experiment(
        &file,
        "linked",
        "0.01",
        "[sweep]\n\"model.embedding_size\" = [4, 8]\n",
    );
    let outside = dir.path().join("precious.txt");
    std::fs::write(&outside, "keep me").unwrap();
    let results = dir.path().join("results/linked");
    std::fs::create_dir_all(&results).unwrap();
    let link = results.join("rmse_by_config.png");
    symlink(&outside, &link).unwrap();
    let db = dir.path().join("results/exp.sqlite");
    let db_arg = db.to_str().unwrap();

    let out = exp(&["run", file.to_str().unwrap(), "--db", db_arg], dir.path());
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("rmse_by_config.png") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

    // `exp export -o` refuses a link too.
    let export_link = dir.path().join("runs.csv");
    symlink(&outside, &export_link).unwrap();
    let out = exp(
        &[
            "export",
            "--db",
            db_arg,
            "-o",
            export_link.to_str().unwrap(),
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("runs.csv") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
}

#[test]
fn a_name_too_long_for_the_file_system_fails_validation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.toml");
    write_experiment(&file, &"n".repeat(300), "0.01", "");
    for command in ["validate", "run"] {
        let out = exp(&[command, file.to_str().unwrap()], dir.path());
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains("experiment.name") && stderr.contains("at most 255 bytes"),
            "{command}: {stderr}"
        );
    }
    assert!(!dir.path().join("results").exists(), "nothing was written");
}

#[test]
fn a_dangling_link_at_the_results_directory_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dangling.toml");
    write_experiment(&file, "dangling", "0.01", "");
    std::fs::create_dir_all(dir.path().join("results")).unwrap();
    symlink(
        dir.path().join("nowhere"),
        dir.path().join("results/dangling"),
    )
    .unwrap();
    let db = dir.path().join("results/exp.sqlite");
    for command in ["validate", "run"] {
        let out = exp(
            &[
                command,
                file.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
            ],
            dir.path(),
        );
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains("experiment.name")
                && stderr.contains("results/dangling")
                && stderr.contains("does not exist"),
            "{command}: {stderr}"
        );
    }
    assert!(!db.exists(), "nothing trained, no database written");
}

#[test]
fn a_sweep_whose_every_run_failed_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diverge.toml");
    write_experiment(&file, "diverge", "1e30", "");
    let db = dir.path().join("exp.sqlite");
    let out = exp(
        &["run", file.to_str().unwrap(), "--db", db.to_str().unwrap()],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("0 finished, 1 failed"), "{stderr}");
    assert!(stderr.contains("every run failed"), "{stderr}");
    assert!(stderr.contains("diverged"), "{stderr}");
    assert!(!stderr.contains("no finished runs yet"), "{stderr}");
    let conn = Connection::open(&db).unwrap();
    let failed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE status = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failed, 1);
}
