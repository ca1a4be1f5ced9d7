//! `exp report`: every chart of an experiment and a Markdown page that links them.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::ReportArgs;
use crate::report::{Metric, document};
use crate::store::Store;
use crate::store::results_dir;

/// Writes `<db dir>/<experiment>/report.md` and its charts; prints the report's path.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    if !args.db.is_file() {
        bail!(
            "no database at `{}`: run an experiment first (exp run experiments/sweep.toml) or pass --db",
            args.db.display()
        );
    }
    let store = Store::open(&args.db)?;
    let out_dir = results_dir(&args.db, &args.experiment);
    let metric = Metric::new(args.metric.trim());
    let written = document::write_report(&store, &args.experiment, &metric, &out_dir)
        .with_context(|| format!("writing the report of `{}`", args.experiment))?;
    eprintln!(
        "{}: {} charts in {}",
        args.experiment,
        written.charts.len(),
        out_dir.display()
    );
    println!("{}", written.markdown.display());
    Ok(ExitCode::SUCCESS)
}
