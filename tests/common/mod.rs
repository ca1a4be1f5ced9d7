//! What the end-to-end tests share: running the real `exp` binary, reading its output,
//! and finding the fixtures and the real data sets.

// Each test file uses the helpers it needs; the others would warn as unused there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `exp args` in `cwd` with `env` set and none of the caller's data-related
/// environment (`EXP_DATA_DIR`, `EXP_DOWNLOAD_BASE_URL`).
pub fn exp_with(args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exp"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("EXP_DATA_DIR")
        .env_remove("EXP_DOWNLOAD_BASE_URL");
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
