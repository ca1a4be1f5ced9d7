//! `exp compare`: rank an experiment's configurations by a metric, mean ± std over folds.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{CompareArgs, FormatArg, MetricArg};
use crate::report::compare::{self, Format, Metric};
use crate::store::Store;

/// Prints the ranking of one experiment (or of each experiment, for the table formats).
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    if !args.db.is_file() {
        bail!(
            "no database at `{}`: run an experiment first (exp run experiments/sweep.toml) or pass --db",
            args.db.display()
        );
    }
    let store = Store::open(&args.db)?;
    let names: Vec<String> = match &args.experiment {
        Some(name) => vec![name.clone()],
        None => store.experiments()?.into_iter().map(|(_, n)| n).collect(),
    };
    if names.is_empty() {
        bail!("`{}` holds no experiment yet", args.db.display());
    }
    let format = Format::from(args.format);
    if names.len() > 1 && matches!(format, Format::Csv | Format::Json) {
        bail!(
            "`{}` holds {} experiments ({}); choose one with --experiment for {} output",
            args.db.display(),
            names.len(),
            names.join(", "),
            if format == Format::Csv { "CSV" } else { "JSON" }
        );
    }
    for name in &names {
        let runs = store.runs(Some(name))?;
        if runs.is_empty() {
            let known: Vec<String> = store.experiments()?.into_iter().map(|(_, n)| n).collect();
            bail!(
                "no experiment named `{name}` in `{}` (it holds: {})",
                args.db.display(),
                known.join(", ")
            );
        }
        if names.len() > 1 {
            println!(
                "{}{name}\n",
                if format == Format::Markdown {
                    "## "
                } else {
                    ""
                }
            );
        }
        let summaries = compare::summarize(&runs);
        print!(
            "{}",
            compare::render(&summaries, args.metric.into(), format)
        );
        if names.len() > 1 {
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl From<MetricArg> for Metric {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Rmse => Metric::Rmse,
            MetricArg::Mae => Metric::Mae,
        }
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
        }
    }
}
