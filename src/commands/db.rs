//! `exp db copy`: brings experiments home from a shared store (or takes them there).

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{DbCommand, DbCopyArgs};
use crate::store::Store;
use crate::store::copy::copy_experiments;

/// Runs an `exp db` subcommand.
pub fn db(command: &DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Copy(args) => copy(args),
    }
}

fn copy(args: &DbCopyArgs) -> anyhow::Result<ExitCode> {
    if args.from.is_missing_file() {
        bail!("no database at `{}` to copy from", args.from);
    }
    if args.from == args.to {
        bail!("--from and --to are the same store `{}`", args.from);
    }
    let from = Store::open_location_read_only(&args.from)?;
    let mut to = Store::open_location(&args.to)?;
    let copied = copy_experiments(&from, &mut to, args.experiment.as_deref())?;
    eprintln!(
        "copied {} experiment(s) ({}) from {} to {}: {} run(s), {} epoch(s), {} trial(s)",
        copied.experiments.len(),
        copied.experiments.join(", "),
        args.from,
        args.to,
        copied.runs,
        copied.epochs,
        copied.trials
    );
    Ok(ExitCode::SUCCESS)
}
