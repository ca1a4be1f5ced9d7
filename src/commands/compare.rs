//! `exp compare`: rank an experiment's configurations by a metric over folds, with
//! confidence intervals and significance tests against the best.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{CompareArgs, FormatArg};
use crate::report::compare::{self, Comparison, Format};
use crate::report::filter::{self, Filter};
use crate::report::{Metric, missing_experiment};
use crate::store::Store;

/// Prints the ranking of one experiment (or of each experiment, for the table formats).
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    if !args.db.is_file() {
        bail!(
            "no database at `{}`: run an experiment first (exp run experiments/sweep.toml) or pass --db",
            args.db.display()
        );
    }
    // Argument mistakes are reported before anything is read.
    let filters = args
        .filters
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let metric = Metric::new(args.metric.trim());
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
        let summaries = compare::summarize(&runs);
        if summaries.is_empty() {
            let error = missing_experiment(&store, name);
            if names.len() > 1 {
                eprintln!("{name}: skipped ({error})");
                continue;
            }
            return Err(error.into());
        }
        if let Some(note) = compare::superseded_note(&summaries) {
            eprintln!("{name}: {note}");
        }
        compare::check_metric(&summaries, &metric)
            .with_context(|| format!("--metric for experiment `{name}`"))?;
        let kept = filter::apply(&summaries, &filters)
            .with_context(|| format!("filtering experiment `{name}`"))?;
        let mut comparison = Comparison::new(&kept, &metric);
        if let Some(n) = args.top {
            comparison = comparison.top(n);
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
        print!("{}", comparison.render(format));
        if names.len() > 1 {
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
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
