//! One file per subcommand; [`dispatch`] routes the parsed command line to it.

pub mod blend;
pub mod compare;
pub mod data;
pub mod db;
pub mod eta;
pub mod export;
pub mod init;
pub mod list;
pub mod listing;
pub mod progress;
pub mod recommend;
pub mod report;
pub mod rm;
pub mod run;
pub mod runs;
pub mod similar;
pub mod slurm;
pub mod split;
pub mod status;
pub mod validate;
pub mod worker;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the subcommand `cli` names; `Err` is reported by `main` with its causes.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Worker(args) => worker::worker(&args),
        Command::Submit(args) => worker::submit(&args),
        Command::Compare(args) => compare::compare(&args),
        Command::Report(args) => report::report(&args),
        Command::Validate(args) => validate::validate(&args),
        Command::Data(command) => data::data(&command),
        Command::Slurm(command) => slurm::slurm(&command),
        Command::Db(command) => db::db(&command),
        Command::Recommend(args) => recommend::recommend(&args),
        Command::Similar(args) => similar::similar(&args),
        Command::Status(args) => status::status(&args),
        Command::Runs(args) => runs::runs(&args),
        Command::List(args) => list::list(&args),
        Command::Init(args) => init::init(&args),
        Command::Rm(args) => rm::rm(&args),
        Command::Export(args) => export::export(&args),
        Command::Blend(args) => blend::blend(&args),
    }
}
