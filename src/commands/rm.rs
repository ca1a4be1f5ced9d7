//! `exp rm`: delete stored runs (their epochs, metrics and checkpoint files), chosen by
//! id, by being superseded by an edited experiment file, by having failed, or all of an
//! experiment's. Running runs are never deleted: a process may be training them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use crate::cli::RmArgs;
use crate::report::compare::superseded_runs;
use crate::report::missing_experiment;
use crate::store::Store;
use crate::store::records::{RunStatus, StoredRun};

/// Deletes the runs `args` selects (or lists them with `--dry-run`).
pub fn rm(args: &RmArgs) -> anyhow::Result<ExitCode> {
    if args.runs.is_empty() && !args.superseded && !args.failed && !args.all {
        bail!("say what to delete: --run ID, --superseded, --failed or --all (with -e NAME)");
    }
    if (args.superseded || args.failed || args.all) && args.experiment.is_none() {
        bail!("--superseded, --failed and --all need the experiment: -e NAME");
    }
    if args.db.is_missing_file() {
        bail!("no database at `{}`; pass --db", args.db);
    }
    let mut store = Store::open_location(&args.db)?;
    let runs = match &args.experiment {
        Some(name) => {
            let runs = store.runs(Some(name))?;
            if runs.is_empty() {
                return Err(missing_experiment(&store, name).into());
            }
            runs
        }
        None => store.runs(None)?,
    };
    for id in &args.runs {
        if !runs.iter().any(|r| r.id == *id) {
            match &args.experiment {
                Some(name) => bail!("experiment `{name}` has no run {id}"),
                None => bail!("there is no run with id {id} in `{}`", args.db),
            }
        }
    }
    let superseded = superseded_runs(&runs);
    let chosen: Vec<&StoredRun> = runs
        .iter()
        .filter(|r| {
            args.all
                || args.runs.contains(&r.id)
                || (args.superseded && superseded.contains(&r.id))
                || (args.failed && matches!(r.status, RunStatus::Failed | RunStatus::Interrupted))
        })
        .collect();
    let (running, deletable): (Vec<&StoredRun>, Vec<&StoredRun>) = chosen
        .into_iter()
        .partition(|r| r.status == RunStatus::Running);
    let checkpoints: Vec<PathBuf> = deletable
        .iter()
        .flat_map(|r| checkpoint_files(&store, r))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    if args.dry_run {
        for run in &deletable {
            println!(
                "run {}  {}  fold {}  {}  {}",
                run.id,
                run.experiment,
                run.fold + 1,
                run.status.as_str(),
                run.params_json
            );
        }
    } else {
        let ids: Vec<i64> = deletable.iter().map(|r| r.id).collect();
        store.delete_runs(&ids)?;
        for path in &checkpoints {
            if let Err(e) = std::fs::remove_file(path) {
                eprintln!("warning: could not delete {}: {e}", path.display());
            }
        }
    }
    let mut line = format!(
        "{verb} {} run(s) and {} checkpoint file(s)",
        deletable.len(),
        checkpoints.len()
    );
    if !running.is_empty() {
        let ids: Vec<String> = running.iter().map(|r| r.id.to_string()).collect();
        line.push_str(&format!(
            "; kept {} running run(s) ({}): stop the exp process training them first",
            running.len(),
            ids.join(", ")
        ));
    }
    if args.all
        && !args.dry_run
        && let Some(name) = &args.experiment
        && store.delete_experiment_if_empty(name)?
    {
        line.push_str(&format!("; experiment `{name}` removed"));
    }
    eprintln!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// The run's checkpoint files that exist: the recorded path and the one beside the
/// database (where `exp run` writes them).
fn checkpoint_files(store: &Store, run: &StoredRun) -> Vec<PathBuf> {
    let Some(recorded) = &run.checkpoint else {
        return Vec::new();
    };
    let beside_db = store
        .results_dir(&run.experiment)
        .join("checkpoints")
        .join(format!("{}.safetensors", run.key));
    // Both paths may name one file; canonical paths let the caller drop the repeat.
    [PathBuf::from(recorded), beside_db]
        .into_iter()
        .filter_map(|p| p.canonicalize().ok())
        .filter(|p| p.is_file())
        .collect()
}
