//! The bad-input corpus: experiment files, data files, databases, checkpoints, downloads
//! and command lines that an unlucky user (or an attacker) could hand to exp. Each case
//! runs the real `exp` binary in a scratch folder and must end *cleanly*: a non-zero exit
//! whose message contains what the case names (the file, key or line and what was
//! expected), or, for inputs exp documents as accepted, success with what it says about
//! them. A panic, an abort, a hang or a silent acceptance fails the test.
//!
//! `scripts/bad-inputs.sh` runs this test and prints its one line per case and the
//! final `cases=N clean=N panics=N hangs=N` line.

#[path = "../common/mod.rs"]
mod common;

mod command_lines;
mod data_files;
mod downloads;
mod experiment_files;
mod stores;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one case may take before it counts as a hang.
const HANG_AFTER: Duration = Duration::from_secs(60);

/// Prepares a case's folder beyond its files (e.g. trains a run into a database), before
/// the case's command runs. Setup failures are the corpus's bugs: they panic.
pub type Setup = Box<dyn Fn(&Path)>;

/// One bad input and what exp must do with it.
pub struct Case {
    /// Unique, stable, `group/what`.
    pub name: String,
    /// Files written into the scratch folder (relative path, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// Run after the files are written, before the command.
    pub setup: Option<Setup>,
    /// The arguments of `exp` (run in the scratch folder).
    pub args: Vec<String>,
    /// Environment variables for the command.
    pub env: Vec<(String, String)>,
    /// What a clean outcome is.
    pub expect: Expect,
    /// Checked after the command: what must hold of the folder (e.g. a file a link
    /// pointed at is unchanged); an error says what does not.
    pub check: Option<Check>,
}

/// A check of the scratch folder after a case's command.
pub type Check = Box<dyn Fn(&Path) -> Result<(), String>>;

/// A clean outcome.
pub enum Expect {
    /// Exit status 1 (an error, not a crash), or 2 (a usage error), with every one of
    /// these on stderr.
    Error(Vec<String>),
    /// Exit status 0 with every one of these on stdout or stderr (an input exp documents
    /// as accepted, e.g. a skipped bad line that is counted).
    Accepted(Vec<String>),
}

impl Case {
    /// A case that must fail with `needles` on stderr.
    pub fn error(name: &str, args: &[&str], needles: &[&str]) -> Case {
        Case {
            name: name.to_string(),
            files: Vec::new(),
            setup: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            expect: Expect::Error(needles.iter().map(|n| n.to_string()).collect()),
            check: None,
        }
    }

    /// A case that must succeed with `needles` in its output.
    pub fn accepted(name: &str, args: &[&str], needles: &[&str]) -> Case {
        Case {
            expect: Expect::Accepted(needles.iter().map(|n| n.to_string()).collect()),
            ..Case::error(name, args, &[])
        }
    }

    /// Adds a file to the scratch folder.
    pub fn file(mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Case {
        self.files.push((path.to_string(), bytes.into()));
        self
    }

    /// Adds a setup step.
    pub fn setup(mut self, setup: impl Fn(&Path) + 'static) -> Case {
        self.setup = Some(Box::new(setup));
        self
    }

    /// Adds a check of the folder after the command.
    pub fn check(mut self, check: impl Fn(&Path) -> Result<(), String> + 'static) -> Case {
        self.check = Some(Box::new(check));
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: &str, value: &str) -> Case {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
}

/// How a case ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    Clean,
    /// Exited without a crash, but not as the case expects (why).
    Unclear(String),
    /// Panicked, aborted or was killed by a signal.
    Panic(String),
    Hang,
}

/// Runs `exp` for one case in `dir`, killing it after [`HANG_AFTER`].
fn run_case(case: &Case, dir: &Path) -> (Outcome, String) {
    for (path, bytes) in &case.files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("case folder");
        }
        std::fs::write(&path, bytes).expect("case file");
    }
    if let Some(setup) = &case.setup {
        setup(dir);
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_exp"));
    command
        .args(&case.args)
        .current_dir(dir)
        .env_remove("EXP_DATA_DIR")
        .env_remove("EXP_DOWNLOAD_BASE_URL")
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in &case.env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("the exp binary starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for exp") {
            break Some(status);
        }
        if start.elapsed() > HANG_AFTER {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let first_line = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    let Some(status) = status else {
        return (Outcome::Hang, first_line);
    };
    if stderr.contains("panicked at") || status.code().is_none_or(|c| c == 101 || c > 128) {
        return (Outcome::Panic(format!("{status}")), first_line);
    }
    let outcome = match &case.expect {
        Expect::Error(needles) => {
            // 1: an error; 2: a usage error, as the argument parser reports it.
            if !matches!(status.code(), Some(1 | 2)) {
                Outcome::Unclear(format!("{status}, expected an error (exit 1 or 2)"))
            } else {
                missing(needles, &stderr)
            }
        }
        Expect::Accepted(needles) => {
            if !status.success() {
                Outcome::Unclear(format!("{status}, expected success"))
            } else {
                missing(needles, &format!("{stdout}{stderr}"))
            }
        }
    };
    let outcome = match (&outcome, &case.check) {
        (Outcome::Clean, Some(check)) => check(dir).err().map_or(Outcome::Clean, Outcome::Unclear),
        _ => outcome,
    };
    (outcome, first_line)
}

/// Clean when every needle is in `text`, else which is missing.
fn missing(needles: &[String], text: &str) -> Outcome {
    match needles.iter().find(|n| !text.contains(n.as_str())) {
        None => Outcome::Clean,
        Some(n) => Outcome::Unclear(format!("message lacks `{n}`")),
    }
}

/// Every case of the corpus, group by group.
fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(experiment_files::cases());
    cases.extend(command_lines::cases());
    cases.extend(data_files::cases());
    cases.extend(stores::cases());
    cases.extend(downloads::cases());
    cases
}

#[test]
fn every_bad_input_ends_in_a_clear_error_never_a_panic_or_a_hang() {
    let cases = corpus();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    // `EXP_BAD_INPUTS=substring` runs only the matching cases (for debugging one).
    let only = std::env::var("EXP_BAD_INPUTS").unwrap_or_default();

    let (mut clean, mut panics, mut hangs, mut unclear) = (0, 0, 0, Vec::new());
    let mut ran = 0;
    for case in cases.iter().filter(|c| c.name.contains(&only)) {
        ran += 1;
        let dir = tempfile::tempdir().expect("scratch folder");
        let (outcome, first_line) = run_case(case, dir.path());
        let verdict = match &outcome {
            Outcome::Clean => {
                clean += 1;
                "clean".to_string()
            }
            Outcome::Unclear(why) => {
                unclear.push(case.name.clone());
                format!("UNCLEAR ({why})")
            }
            Outcome::Panic(status) => {
                panics += 1;
                unclear.push(case.name.clone());
                format!("PANIC ({status})")
            }
            Outcome::Hang => {
                hangs += 1;
                unclear.push(case.name.clone());
                "HANG".to_string()
            }
        };
        println!("case {}: {verdict}: {first_line}", case.name);
    }
    println!("cases={ran} clean={clean} panics={panics} hangs={hangs}");
    assert!(
        unclear.is_empty(),
        "{} of {ran} cases did not end cleanly: {unclear:?}",
        unclear.len()
    );
    if only.is_empty() {
        assert!(ran >= 150, "the corpus shrank to {ran} cases");
    }
}
