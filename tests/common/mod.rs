//! What the end-to-end tests share: running the real `exp` binary, reading its output,
//! and finding the fixtures and the real data sets.

// Each test file uses the helpers it needs; the others would warn as unused there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `exp args` in `cwd` with `env` set and none of the caller's data-related
/// environment (`EXP_DATA_DIR`, `EXP_DOWNLOAD_BASE_URL`) or store (`EXP_DB`).
pub fn exp_with(args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exp"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("EXP_DATA_DIR")
        .env_remove("EXP_DOWNLOAD_BASE_URL")
        .env_remove("EXP_DB");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("the exp binary runs")
}

/// Runs `exp args` in `cwd` (see [`exp_with`]).
pub fn exp(args: &[&str], cwd: &Path) -> Output {
    exp_with(args, cwd, &[])
}

/// Process output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Where the real data sets are, and the skip-or-fail rule when they are missing.
#[path = "../../src/shared_data.rs"]
pub mod shared_data;

/// Writes `experiment` (TOML text) to `<dir>/<name>.toml` and runs `exp run` on it with its
/// database at `<dir>/exp.sqlite`: the run's output and the database's path.
pub fn run_experiment(dir: &Path, name: &str, experiment: &str) -> (Output, PathBuf) {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, experiment).expect("write the experiment file");
    let db = dir.join("exp.sqlite");
    let out = exp(
        &[
            "run",
            file.to_str().expect("a UTF-8 path"),
            "--db",
            db.to_str().expect("a UTF-8 path"),
        ],
        dir,
    );
    (out, db)
}

/// An experiment file alone in a temporary directory, with its database at
/// `results/exp.sqlite` beside it: for tests that start `exp run` on it several times,
/// wait for it, kill it or run two at once.
pub struct ExperimentDir {
    _dir: tempfile::TempDir,
    /// The experiment file.
    pub file: PathBuf,
    /// Its database.
    pub db: PathBuf,
}

impl ExperimentDir {
    /// Writes `text` to `<tempdir>/<name>.toml`.
    pub fn new(name: &str, text: &str) -> ExperimentDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, text).expect("write experiment");
        let db = dir.path().join("results/exp.sqlite");
        ExperimentDir {
            _dir: dir,
            file,
            db,
        }
    }

    /// `exp run FILE --db DB EXTRA…`, output captured, without the caller's `EXP_DATA_DIR`
    /// or `EXP_DB`.
    pub fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_exp"));
        cmd.arg("run")
            .arg(&self.file)
            .arg("--db")
            .arg(&self.db)
            .args(extra)
            .env_remove("EXP_DATA_DIR")
            .env_remove("EXP_DB")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    /// Runs it to the end.
    pub fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().expect("exp runs")
    }

    /// Starts it.
    pub fn spawn(&self, extra: &[&str]) -> std::process::Child {
        self.command(extra).spawn().expect("exp runs")
    }
}
