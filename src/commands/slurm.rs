//! `exp slurm submit`: hands an experiment to a Slurm cluster as a job array of
//! `exp worker`s that share a PostgreSQL store.
//!
//! The experiment is validated against its data and stored first, so every worker reads
//! the same experiment and checks its own copy of the data against the stored checksums.
//! The script asks Slurm to requeue a preempted task and to send SIGTERM a minute before
//! the time limit; `exec` makes the worker the batch step itself, so it gets that signal
//! (and scancel's), marks its running runs interrupted and exits, leaving the store
//! consistent for the next submission.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

use crate::cli::{SlurmCommand, SlurmSubmitArgs};
use crate::commands::run;
use crate::config;
use crate::output;
use crate::store::Location;

/// Runs an `exp slurm` subcommand.
pub fn slurm(command: &SlurmCommand) -> anyhow::Result<ExitCode> {
    match command {
        SlurmCommand::Submit(args) => submit(args),
    }
}

/// What the sbatch script is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// `experiment.name`.
    pub experiment: String,
    /// Array tasks.
    pub workers: usize,
    /// CPUs per task.
    pub cpus_per_task: usize,
    /// GPUs per task.
    pub gpus_per_task: usize,
    /// Partition, if any.
    pub partition: Option<String>,
    /// Time limit, if any.
    pub time: Option<String>,
    /// Array throttle, if any.
    pub max_running: Option<usize>,
    /// The exp binary the workers run (absolute).
    pub exp: PathBuf,
    /// The directory the workers start in (absolute): where `exp slurm submit` ran.
    pub workdir: PathBuf,
    /// Where the script and the workers' logs go (absolute).
    pub log_dir: PathBuf,
    /// `EXP_DATA_DIR` at submission, passed on explicitly (it is how workers find data).
    pub data_dir: Option<PathBuf>,
}

/// The sbatch script for `spec`. The database URL is not in it: workers read `EXP_DB`
/// from the environment sbatch passes on (the URL may hold a password).
pub fn sbatch_script(spec: &JobSpec) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let mut directive = |line: String| {
        let _ = writeln!(s, "#SBATCH {line}");
    };
    directive(format!("--job-name=exp-{}", spec.experiment));
    let throttle = spec.max_running.map_or(String::new(), |m| format!("%{m}"));
    directive(format!(
        "--array=0-{}{throttle}",
        spec.workers.saturating_sub(1)
    ));
    directive("--ntasks=1".into());
    directive(format!("--cpus-per-task={}", spec.cpus_per_task));
    if spec.gpus_per_task > 0 {
        directive(format!("--gpus-per-task={}", spec.gpus_per_task));
    }
    if let Some(partition) = &spec.partition {
        directive(format!("--partition={partition}"));
    }
    if let Some(time) = &spec.time {
        directive(format!("--time={time}"));
    }
    // A preempted or failed-node task is queued again; it resumes the store's runs.
    directive("--requeue".into());
    // SIGTERM to the worker a minute before the time limit: it marks its runs interrupted.
    directive("--signal=B:TERM@60".into());
    directive(format!("--chdir={}", quote_path(&spec.workdir)));
    directive(format!(
        "--output={}",
        quote_path(&spec.log_dir.join("worker-%A_%a.out"))
    ));
    let _ = writeln!(
        s,
        "\n# Written by `exp slurm submit`: one `exp worker` per array task, all claiming runs of\n\
         # experiment `{}` from the store named by EXP_DB (from the submitting environment;\n\
         # not written here, it may hold a password).",
        spec.experiment
    );
    s.push_str("set -eu\n");
    s.push_str(": \"${EXP_DB:?EXP_DB must name the store (sbatch passes on the submitting environment)}\"\n");
    if let Some(dir) = &spec.data_dir {
        let _ = writeln!(
            s,
            "export EXP_DATA_DIR={}",
            shell_quote(&dir.to_string_lossy())
        );
    }
    let devices = if spec.gpus_per_task > 0 {
        let gpus: Vec<String> = (0..spec.gpus_per_task)
            .map(|i| format!("cuda:{i}"))
            .collect();
        format!("--devices {}", gpus.join(","))
    } else {
        format!("--jobs {}", spec.cpus_per_task)
    };
    // exec: the worker is the batch step, so scancel's and --signal's SIGTERM reach it.
    let _ = writeln!(
        s,
        "exec {} worker --experiment {} {devices}",
        quote_path(&spec.exp),
        shell_quote(&spec.experiment)
    );
    s
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn quote_path(path: &Path) -> String {
    shell_quote(&path.to_string_lossy())
}

fn submit(args: &SlurmSubmitArgs) -> anyhow::Result<ExitCode> {
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    if args.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    if let Location::File(path) = &args.db {
        bail!(
            "--db `{}` is an SQLite file, which must not be shared between hosts (SQLite's \
             WAL needs every process on one host); Slurm may start workers on any node, so \
             give a postgres://user@host:port/db URL every node can reach",
            path.display()
        );
    }
    let experiment = config::load_experiment_with(&args.experiment, &args.set)?;
    let workdir = std::env::current_dir().context("reading the working directory")?;
    let log_dir = workdir
        .join(args.db.results_dir(&experiment.name))
        .join("slurm");
    let spec = JobSpec {
        experiment: experiment.name.clone(),
        workers: args.workers,
        cpus_per_task: args.cpus_per_task,
        gpus_per_task: args.gpus_per_task,
        partition: args.partition.clone(),
        time: args.time.clone(),
        max_running: args.max_running,
        exp: std::env::current_exe().context("finding the exp binary the workers will run")?,
        workdir,
        log_dir,
        data_dir: std::env::var_os("EXP_DATA_DIR")
            .map(PathBuf::from)
            .map(|dir| std::path::absolute(&dir).unwrap_or(dir)),
    };
    let script = sbatch_script(&spec);
    if args.dry_run {
        print!("{script}");
        return Ok(ExitCode::SUCCESS);
    }
    let (_, runs) = run::store_experiment(&args.db, &args.experiment, &experiment)?;
    output::prepare_dir(&spec.log_dir)
        .with_context(|| format!("creating {}", spec.log_dir.display()))?;
    let path = spec.log_dir.join("worker.sbatch");
    std::fs::write(&path, &script).with_context(|| format!("writing {}", path.display()))?;
    let Location::Postgres(url) = &args.db else {
        unreachable!("an SQLite --db was refused above");
    };
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&path)
        .env("EXP_DB", url.as_str())
        .output()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!(
                "`sbatch` is not on PATH: run this on a Slurm login node (--dry-run prints \
                 the script without submitting; it is written to {})",
                path.display()
            ),
            _ => anyhow::Error::new(error).context("starting sbatch"),
        })?;
    if !out.status.success() {
        bail!(
            "sbatch refused {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "{}: {runs} run(s) stored in {}; job array {job} of {} worker(s) submitted \
         (script {}, logs beside it). Follow with: exp status --db $EXP_DB",
        experiment.name,
        args.db,
        args.workers,
        path.display()
    );
    println!("{job}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            experiment: "sweep".into(),
            workers: 3,
            cpus_per_task: 2,
            gpus_per_task: 0,
            partition: None,
            time: Some("01:00:00".into()),
            max_running: Some(2),
            exp: "/opt/exp/bin/exp".into(),
            workdir: "/home/ana/my runs".into(),
            log_dir: "/home/ana/my runs/results/sweep/slurm".into(),
            data_dir: None,
        }
    }

    #[test]
    fn the_script_asks_for_an_array_of_workers_and_keeps_the_url_out() {
        let script = sbatch_script(&spec());
        for line in [
            "#SBATCH --array=0-2%2",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --time=01:00:00",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:TERM@60",
            "#SBATCH --chdir='/home/ana/my runs'",
            "#SBATCH --output='/home/ana/my runs/results/sweep/slurm/worker-%A_%a.out'",
            "exec /opt/exp/bin/exp worker --experiment sweep --jobs 2",
        ] {
            assert!(
                script.lines().any(|l| l == line),
                "missing `{line}` in\n{script}"
            );
        }
        assert!(!script.contains("--partition"), "{script}");
        assert!(!script.contains("postgres://"), "{script}");
    }

    #[test]
    fn gpu_workers_train_on_the_gpus_slurm_gives_them() {
        let script = sbatch_script(&JobSpec {
            gpus_per_task: 2,
            partition: Some("gpu".into()),
            max_running: None,
            ..spec()
        });
        assert!(script.contains("#SBATCH --gpus-per-task=2\n"), "{script}");
        assert!(script.contains("#SBATCH --partition=gpu\n"), "{script}");
        assert!(script.contains("#SBATCH --array=0-2\n"), "{script}");
        assert!(script.contains("--devices cuda:0,cuda:1\n"), "{script}");
    }

    #[test]
    fn odd_names_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("sweep"), "sweep");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
