//! `exp worker`: trains the pending runs of an experiment stored in the database, until
//! none is left. What each task of a Slurm job array runs (`exp slurm submit`); any number
//! of workers on any number of hosts can share one PostgreSQL store, each claiming the
//! next run no other worker holds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{RunArgs, SubmitArgs, WorkerArgs};
use crate::commands::run::{self, EXIT_INTERRUPTED, Outcome, Role};
use crate::config;
use crate::scheduler::Stop;
use crate::store::Store;

/// `exp submit`: validates the experiment against its data and stores it, training
/// nothing; prints how to start workers on it.
pub fn submit(args: &SubmitArgs) -> anyhow::Result<ExitCode> {
    let experiment = config::load_experiment_with(&args.experiment, &args.set)?;
    let (_, runs) = run::store_experiment(&args.db, &args.experiment, &experiment)?;
    eprintln!(
        "{}: {runs} run(s) stored in {}; start workers with: exp worker --db {} --experiment {}",
        experiment.name, args.db, args.db, experiment.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads the experiment from the store, checks this node's data against it, and trains
/// its runs; exits 0 when every run is done (here or by another worker).
pub fn worker(args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    if args.db.is_missing_file() {
        bail!(
            "no database at `{}`: a worker trains an experiment stored by `exp run` or \
             `exp slurm submit`; pass --db",
            args.db
        );
    }
    let stored = {
        let store = Store::open_location(&args.db)?;
        match store.stored_experiment(&args.experiment)? {
            Some(stored) => stored,
            None => {
                let names: Vec<String> = store
                    .experiments()?
                    .into_iter()
                    .map(|(_, name)| name)
                    .collect();
                bail!(
                    "`{}` holds no experiment `{}`{}",
                    args.db,
                    args.experiment,
                    if names.is_empty() {
                        " (it holds none yet: store one with exp slurm submit FILE or exp run FILE)"
                            .to_string()
                    } else {
                        format!(" (it holds: {})", names.join(", "))
                    }
                );
            }
        }
    };
    let experiment = config::parse_experiment_with(
        &stored.source_toml,
        Path::new(&stored.file),
        &stored.overrides,
    )
    .with_context(|| {
        format!(
            "experiment `{}` as stored in `{}` no longer validates with this exp",
            stored.name, args.db
        )
    })?;
    let run_args = RunArgs {
        experiments: Vec::new(),
        set: stored.overrides.clone(),
        db: args.db.clone(),
        jobs: args.jobs,
        devices: args.devices.clone(),
        force: false,
    };
    let stop = Stop::new();
    let shown = run::Shown::default();
    run::install_stop_handler(&stop, &shown)?;
    eprintln!(
        "worker {} (pid {}): experiment `{}` from {}",
        crate::store::owner::host_name(),
        std::process::id(),
        stored.name,
        args.db
    );
    Ok(
        match run::run_experiment(
            &run_args,
            Role::Worker { stored: &stored },
            experiment,
            &stop,
            &shown,
        )? {
            Outcome::AllDone => ExitCode::SUCCESS,
            Outcome::SomeFailed => ExitCode::FAILURE,
            Outcome::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
        },
    )
}
