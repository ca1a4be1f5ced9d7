//! One file per subcommand; [`dispatch`] routes the parsed command line to it.

pub mod compare;
pub mod progress;
pub mod run;
pub mod status;
pub mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the subcommand `cli` names; `Err` is reported by `main` with its causes.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Compare(args) => compare::compare(&args),
        Command::Validate(args) => validate::validate(&args),
        Command::Status(args) => status::status(&args),
    }
}
