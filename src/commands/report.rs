//! `exp report`: every chart of an experiment and a Markdown page that links them.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::ReportArgs;
use crate::report::{Metric, document};
use crate::store::Store;

/// Writes `<db dir>/<experiment>/report.md` and its charts (`<db dir>/<a>+<b>/` for
/// several experiments ranked together); prints the report's path.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    if args.db.is_missing_file() {
        bail!(
            "no database at `{}`: run an experiment first (exp run experiments/sweep.toml) or pass --db",
            args.db
        );
    }
    let store = Store::open_location_read_only(&args.db)?;
    let names: Vec<String> = if args.all {
        store.experiments()?.into_iter().map(|(_, n)| n).collect()
    } else {
        args.experiments.clone()
    };
    if names.is_empty() {
        bail!(
            "name an experiment (or several, or --all); `{}` holds: {}",
            args.db,
            store
                .experiments()?
                .into_iter()
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let title = names.join("+");
    let out_dir = args.db.results_dir(&title);
    let metric = Metric::new(args.metric.trim());
    let written = document::write_report(&store, &names, &metric, &out_dir)
        .with_context(|| format!("writing the report of `{}`", names.join(", ")))?;
    eprintln!(
        "{title}: {} chart(s) in {}",
        written.charts.len(),
        out_dir.display()
    );
    println!("{}", written.markdown.display());
    Ok(ExitCode::SUCCESS)
}
