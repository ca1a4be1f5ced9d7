//! `exp data split`: writes the train, validation and test rows of an experiment's split to
//! CSV, so another library can train and test on exactly the ratings `exp run` uses.
//!
//! The rows come from the same code path as a run: the experiment's data set loaded with
//! its `[data]` filters (`data::load`) and split by `runner::split_for` with the
//! experiment's seed and the fold asked for. Nothing here re-implements the split.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::SplitArgs;
use crate::config;
use crate::data::split::cold_start;
use crate::data::{self, Dataset};
use crate::output;
use crate::runner::split_for;
use crate::sweep::{self, RunSpec};

/// Writes `train.csv`, `test.csv` (and `validation.csv` when the split has one) of the
/// experiment's split for `--fold` into `--out`, and prints their row counts.
pub fn split(args: &SplitArgs) -> anyhow::Result<ExitCode> {
    let experiment = config::load_experiment_with(&args.experiment, &args.set)?;
    let runs = sweep::runs(&experiment)?;
    let run = run_for_fold(&args.experiment, &runs, args.fold)?;
    let dataset = data::load(&run.config.data)
        .with_context(|| format!("loading data set {}", run.config.data.dataset.as_str()))?;
    for line in dataset.report.lines() {
        eprintln!("{line}");
    }
    let split = split_for(run, &dataset).context("splitting the data set")?;
    let cold = cold_start(&dataset.ratings, &split);
    output::prepare_dir(&args.out)
        .with_context(|| format!("cannot use the output folder `{}`", args.out.display()))?;
    let mut parts = vec![("train", &split.train), ("test", &split.test)];
    if !split.validation.is_empty() {
        parts.push(("validation", &split.validation));
    }
    for (name, rows) in parts {
        let path = args.out.join(format!("{name}.csv"));
        output::write(&path, rows_csv(&dataset, rows))
            .with_context(|| format!("writing the {name} rows"))?;
        println!("{}\t{} rows", path.display(), rows.len());
    }
    eprintln!(
        "{}: fold {} of {} (seed {}), {} ratings after the [data] filters",
        dataset.name,
        run.fold,
        run.folds,
        run.seed,
        dataset.ratings.len()
    );
    if let Some(line) = cold.note(split.test.len()) {
        eprintln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The run of fold `fold` whose split is written. Every grid point of one data set and
/// split shares the rows of a fold, so the first point's run stands for all; a grid that
/// sweeps `data.*` or `split.*` has several splits and is refused.
fn run_for_fold<'a>(file: &Path, runs: &'a [RunSpec], fold: usize) -> anyhow::Result<&'a RunSpec> {
    let Some(first) = runs.first() else {
        bail!("{}: the experiment has no runs", file.display());
    };
    if fold >= first.folds {
        bail!(
            "--fold {fold}: `{}` has {} fold(s) (0 to {}); `split.k` sets how many",
            file.display(),
            first.folds,
            first.folds - 1
        );
    }
    let same_rows = runs
        .iter()
        .all(|r| r.config.data == first.config.data && r.config.split == first.config.split);
    if !same_rows {
        bail!(
            "{}: the sweep changes `data.*` or `split.*` keys, so its grid points train on \
             different rows; pin them with --set KEY=VALUE to pick one",
            file.display()
        );
    }
    runs.iter()
        .find(|r| r.fold == fold)
        .with_context(|| format!("{}: no run of fold {fold}", file.display()))
}

/// The CSV text of `rows` of `dataset`: a `user,item,rating` header, then one line per
/// rating with the raw ids as in the data set's files, in index order.
fn rows_csv(dataset: &Dataset, rows: &[usize]) -> String {
    let ratings = &dataset.ratings;
    let mut text = String::with_capacity(16 * (rows.len() + 1));
    text.push_str("user,item,rating\n");
    for &i in rows {
        let user = csv_field(dataset.users.raw(ratings.users[i]));
        let item = csv_field(dataset.items.raw(ratings.items[i]));
        // Writing to a String cannot fail.
        let _ = writeln!(text, "{user},{item},{}", ratings.values[i]);
    }
    text
}

/// `raw` as one CSV field: quoted (inner quotes doubled) when it holds a comma, a quote or
/// a line break, as is otherwise.
fn csv_field(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", raw.replace('"', "\"\"")).into()
    } else {
        raw.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::from_triples(&[("7", "a,b", 4.0), ("9", "c", 3.5), ("7", "c", 1.0)])
    }

    #[test]
    fn rows_are_written_with_raw_ids_in_index_order() {
        assert_eq!(
            rows_csv(&tiny(), &[2, 0]),
            "user,item,rating\n7,c,1\n7,\"a,b\",4\n"
        );
        assert_eq!(rows_csv(&tiny(), &[1]), "user,item,rating\n9,c,3.5\n");
    }

    #[test]
    fn a_field_with_a_quote_is_quoted_and_doubled() {
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
