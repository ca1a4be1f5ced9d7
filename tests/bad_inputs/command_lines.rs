//! Command lines with wrong arguments, options or values, and commands asked about things
//! that do not exist.

use std::path::Path;
use std::process::Command;

use crate::Case;
use crate::experiment_files::BASE;

/// Trains BASE (one run, the embedded data) into `db.sqlite` of `dir`, with `extra` lines
/// appended to its `[training]` table.
pub fn trained(dir: &Path, extra: &str) {
    let text = BASE.replace(
        "learning_rate = 0.01\n",
        &format!("learning_rate = 0.01\n{extra}\n"),
    );
    std::fs::write(dir.join("good.toml"), text).expect("good.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_exp"))
        .args(["run", "good.toml", "--db", "db.sqlite"])
        .current_dir(dir)
        .output()
        .expect("exp runs");
    assert!(
        out.status.success(),
        "setup run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A case run after BASE was trained into `db.sqlite`.
fn after_run(name: &str, args: &[&str], needles: &[&str]) -> Case {
    Case::error(&format!("cli/{name}"), args, needles).setup(|dir| trained(dir, ""))
}

fn cli(name: &str, args: &[&str], needles: &[&str]) -> Case {
    Case::error(&format!("cli/{name}"), args, needles)
}

pub fn cases() -> Vec<Case> {
    let good = |c: Case| c.file("good.toml", BASE);
    vec![
        cli("run-missing-file", &["run", "nope.toml"], &["nope.toml"]),
        cli("run-empty-directory", &["run", "empty/"], &["empty"]).file("empty/README", "x"),
        cli("validate-directory", &["validate", "."], &["."]),
        good(cli(
            "set-without-equals",
            &["run", "good.toml", "--set", "model.embedding_size"],
            &["--set", "KEY=VALUE"],
        )),
        good(cli(
            "set-bad-value",
            &["run", "good.toml", "--set", "model.embedding_size=abc"],
            &["--set model.embedding_size=abc"],
        )),
        good(cli(
            "set-out-of-range",
            &["run", "good.toml", "--set", "training.epochs=0"],
            &["--set training.epochs=0", "training.epochs"],
        )),
        good(cli(
            "set-unknown-key",
            &["run", "good.toml", "--set", "model.depth=3"],
            &["model.depth"],
        )),
        good(cli(
            "set-experiment-name",
            &["run", "good.toml", "--set", "experiment.name=x"],
            &["experiment.name"],
        )),
        good(cli(
            "set-bad-toml",
            &["run", "good.toml", "--set", "model.hidden_layers=[1,"],
            &["--set"],
        )),
        good(cli(
            "jobs-zero",
            &["run", "good.toml", "--jobs", "0"],
            &["--jobs"],
        )),
        good(cli(
            "jobs-text",
            &["run", "good.toml", "--jobs", "many"],
            &["--jobs"],
        )),
        good(cli(
            "devices-unknown",
            &["run", "good.toml", "--devices", "gpu:1"],
            &["gpu"],
        )),
        good(cli(
            "devices-empty",
            &["run", "good.toml", "--devices", ""],
            &["--devices"],
        )),
        good(cli(
            "jobs-and-devices",
            &["run", "good.toml", "--jobs", "2", "--devices", "cpu:1"],
            &["--jobs"],
        )),
        good(cli(
            "db-is-a-directory",
            &["run", "good.toml", "--db", "."],
            &["."],
        )),
        cli("unknown-command", &["train", "x.toml"], &["train"]),
        cli(
            "compare-no-database",
            &["compare", "-e", "x", "--db", "none.sqlite"],
            &["none.sqlite"],
        ),
        after_run(
            "compare-unknown-experiment",
            &["compare", "-e", "nope", "--db", "db.sqlite"],
            &["nope"],
        ),
        after_run(
            "compare-unknown-metric",
            &[
                "compare",
                "-e",
                "bad",
                "--db",
                "db.sqlite",
                "--metric",
                "auc",
            ],
            &["auc"],
        ),
        after_run(
            "compare-where-unknown-key",
            &[
                "compare",
                "-e",
                "bad",
                "--db",
                "db.sqlite",
                "--where",
                "depth=3",
            ],
            &["depth"],
        ),
        after_run(
            "compare-where-no-equals",
            &[
                "compare",
                "-e",
                "bad",
                "--db",
                "db.sqlite",
                "--where",
                "depth",
            ],
            &["--where"],
        ),
        after_run(
            "compare-top-zero",
            &["compare", "-e", "bad", "--db", "db.sqlite", "--top", "0"],
            &["--top"],
        ),
        after_run(
            "compare-format-unknown",
            &[
                "compare",
                "-e",
                "bad",
                "--db",
                "db.sqlite",
                "--format",
                "xml",
            ],
            &["xml"],
        ),
        after_run(
            "report-unknown-experiment",
            &["report", "nope", "--db", "db.sqlite"],
            &["nope"],
        ),
        after_run(
            "recommend-unknown-run",
            &[
                "recommend",
                "--run",
                "999",
                "--user",
                "1",
                "--db",
                "db.sqlite",
            ],
            &["999"],
        ),
        after_run(
            "recommend-unknown-user",
            &[
                "recommend",
                "--run",
                "1",
                "--user",
                "999999",
                "--db",
                "db.sqlite",
            ],
            &["999999"],
        ),
        after_run(
            "recommend-user-not-a-number",
            &[
                "recommend",
                "--run",
                "1",
                "--user",
                "alice",
                "--db",
                "db.sqlite",
            ],
            &["alice"],
        ),
        after_run(
            "recommend-n-zero",
            &[
                "recommend",
                "--run",
                "1",
                "--user",
                "1",
                "-n",
                "0",
                "--db",
                "db.sqlite",
            ],
            &["-n"],
        ),
        after_run(
            "recommend-fold-out-of-range",
            &[
                "recommend",
                "-e",
                "bad",
                "--best",
                "--fold",
                "7",
                "--user",
                "1",
                "--db",
                "db.sqlite",
            ],
            &["fold"],
        ),
        after_run(
            "similar-unknown-title",
            &[
                "similar",
                "--run",
                "1",
                "--item",
                "zzzz no such film",
                "--db",
                "db.sqlite",
            ],
            &["zzzz no such film"],
        ),
        after_run(
            "similar-unknown-id",
            &[
                "similar",
                "--run",
                "1",
                "--item",
                "99999999",
                "--db",
                "db.sqlite",
            ],
            &["99999999"],
        ),
        after_run(
            "rm-without-selection",
            &["rm", "-e", "bad", "--db", "db.sqlite"],
            &["--superseded"],
        ),
        after_run(
            "rm-unknown-run",
            &["rm", "--run", "999", "--db", "db.sqlite"],
            &["999"],
        ),
        after_run(
            "export-format-unknown",
            &["export", "--format", "parquet", "--db", "db.sqlite"],
            &["parquet"],
        ),
        after_run(
            "export-into-missing-folder",
            &["export", "-o", "no/such/dir/out.csv", "--db", "db.sqlite"],
            &["no/such/dir/out.csv"],
        ),
        after_run(
            "runs-unknown-experiment",
            &["runs", "-e", "nope", "--db", "db.sqlite"],
            &["nope"],
        ),
        cli(
            "stats-unknown-dataset",
            &["data", "stats", "ml-10m"],
            &["ml-10m"],
        ),
        cli(
            "stats-missing-path",
            &["data", "stats", "ml-100k", "--path", "no/such"],
            &["no/such"],
        ),
        good(cli(
            "split-fold-out-of-range",
            &["data", "split", "good.toml", "--fold", "3", "--out", "rows"],
            &["--fold 3", "good.toml", "fold(s)"],
        )),
        good(cli(
            "split-out-is-a-file",
            &["data", "split", "good.toml", "--out", "good.toml"],
            &["good.toml", "output folder"],
        )),
        cli(
            "init-unknown-architecture",
            &["init", "--architecture", "transformer"],
            &["transformer"],
        ),
        cli(
            "init-unknown-dataset",
            &["init", "--dataset", "ml-10m"],
            &["ml-10m"],
        ),
        cli(
            "init-would-overwrite",
            &["init", "-o", "mine.toml"],
            &["mine.toml", "--force"],
        )
        .file("mine.toml", "keep me"),
        cli("list-unknown", &["list", "everything"], &["everything"]),
    ]
}
