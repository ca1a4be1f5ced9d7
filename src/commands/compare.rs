//! `exp compare`: rank an experiment's configurations by a metric over folds, with
//! confidence intervals and significance tests against the best; several experiments
//! that share their folds can be ranked in one table (see [`pool`]).

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{CompareArgs, FormatArg};
use crate::report::compare::{self, Comparison, Format};
use crate::report::filter::{self, Filter};
use crate::report::pool;
use crate::report::significance;
use crate::report::{Metric, missing_experiment};
use crate::store::Store;
use crate::store::records::StoredRun;

/// Prints the ranking of one experiment, of each experiment (table formats), or of several
/// experiments pooled into one table.
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    if args.db.is_missing_file() {
        bail!(
            "no database at `{}`: run an experiment first (exp run experiments/sweep.toml) or pass --db",
            args.db
        );
    }
    // Argument mistakes are reported before anything is read.
    let filters = args
        .filters
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let metric = Metric::new(args.metric.trim());
    let store = Store::open_location_read_only(&args.db)?;
    let format = Format::from(args.format);
    if args.all || args.experiment.len() > 1 {
        let names: Vec<String> = if args.all {
            store.experiments()?.into_iter().map(|(_, n)| n).collect()
        } else {
            args.experiment.clone()
        };
        if names.is_empty() {
            bail!("`{}` holds no experiment yet", args.db);
        }
        let runs = pool::pool(&store, &names)?;
        let label = names.join(", ");
        print!(
            "{}",
            ranking(&store, &runs, &label, &filters, &metric, args)?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = match args.experiment.first() {
        Some(name) => vec![name.clone()],
        None => store.experiments()?.into_iter().map(|(_, n)| n).collect(),
    };
    if names.is_empty() {
        bail!("`{}` holds no experiment yet", args.db);
    }
    if names.len() > 1 && matches!(format, Format::Csv | Format::Json) {
        bail!(
            "`{}` holds {} experiments ({}); choose one with --experiment for {} output (or \
             several, or --all, to rank them in one table)",
            args.db,
            names.len(),
            names.join(", "),
            if format == Format::Csv { "CSV" } else { "JSON" }
        );
    }
    for name in &names {
        let runs = store.runs(Some(name))?;
        if compare::summarize(&runs).is_empty() {
            let error = missing_experiment(&store, name);
            if names.len() > 1 {
                eprintln!("{name}: skipped ({error})");
                continue;
            }
            return Err(error.into());
        }
        let table = ranking(&store, &runs, name, &filters, &metric, args)?;
        if names.len() > 1 {
            let heading = if format == Format::Markdown {
                "## "
            } else {
                ""
            };
            println!("{heading}{name}\n");
        }
        print!("{table}");
        if names.len() > 1 {
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The ranking of `runs` (one experiment's, or several pooled) as `args` asks; `name`
/// says whose runs they are in notes and errors. Ranked by RMSE or MAE, the runs' saved
/// test predictions (if any) add the per-rating tests.
fn ranking(
    store: &Store,
    runs: &[StoredRun],
    name: &str,
    filters: &[Filter],
    metric: &Metric,
    args: &CompareArgs,
) -> anyhow::Result<String> {
    let summaries = compare::summarize(runs);
    if let Some(note) = compare::superseded_note(&summaries) {
        eprintln!("{name}: {note}");
    }
    // A search's pruned runs stopped early: they have no final score to rank.
    let pruned = runs
        .iter()
        .filter(|r| r.status == crate::store::records::RunStatus::Pruned)
        .count();
    if pruned > 0 {
        eprintln!(
            "{name}: {pruned} pruned run(s) not ranked (stopped early by the search's pruner; \
             `exp runs` lists them)"
        );
    }
    compare::check_metric(&summaries, metric)
        .with_context(|| format!("--metric for experiment `{name}`"))?;
    let kept = filter::apply(&summaries, filters)
        .with_context(|| format!("filtering experiment `{name}`"))?;
    let mut comparison = Comparison::new(&kept, metric);
    let saved = significance::load_saved(store, runs, &kept, metric)
        .with_context(|| format!("reading the saved predictions of experiment `{name}`"))?;
    if !saved.is_empty() {
        comparison = comparison.with_saved(&saved);
    }
    if let Some(n) = args.top {
        comparison = comparison.top(n);
    }
    if args.ids {
        comparison = comparison.with_run_ids();
    }
    Ok(comparison.render(Format::from(args.format)))
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
