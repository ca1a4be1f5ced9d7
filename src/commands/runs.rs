//! `exp runs`: the stored runs with their ids, so `recommend` and `similar` can name one.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::cli::{RunsArgs, RunsFormat};
use crate::report::compare::{self, csv_field, display_value, parse_params};
use crate::report::{Metric, missing_experiment};
use crate::store::Store;
use crate::store::records::StoredRun;

/// One row of the listing.
#[derive(Debug, Serialize)]
struct Row {
    id: i64,
    experiment: String,
    configuration: String,
    /// 1-based, as progress lines and failure summaries print it.
    fold: usize,
    status: String,
    rmse: Option<f64>,
    mae: Option<f64>,
    seconds: Option<f64>,
}

/// Prints the runs of one experiment, or of every experiment, as a table, CSV or JSON.
pub fn runs(args: &RunsArgs) -> anyhow::Result<ExitCode> {
    if args.db.is_missing_file() {
        bail!(
            "no database at `{}`: run an experiment first (exp run experiments/sweep.toml) or pass --db",
            args.db
        );
    }
    let store = Store::open_location_read_only(&args.db)?;
    let names: Vec<String> = match &args.experiment {
        Some(name) => vec![name.clone()],
        None => store.experiments()?.into_iter().map(|(_, n)| n).collect(),
    };
    if names.is_empty() {
        bail!("`{}` holds no experiment yet", args.db);
    }
    let metric = Metric::new(args.metric.trim());
    let mut rows = Vec::new();
    for name in &names {
        let runs = store.runs(Some(name))?;
        if runs.is_empty() {
            return Err(missing_experiment(&store, name).into());
        }
        let chosen: Vec<&StoredRun> = if args.best {
            let best = compare::best_runs(&runs, &metric)
                .with_context(|| format!("--best for experiment `{name}`"))?;
            if best.is_empty() {
                return Err(missing_experiment(&store, name).into());
            }
            best
        } else {
            runs.iter().collect()
        };
        let labels: HashMap<String, String> = compare::summarize(&runs)
            .into_iter()
            .map(|s| (s.params_json, s.label))
            .collect();
        rows.extend(chosen.into_iter().map(|run| {
            Row {
                id: run.id,
                experiment: run.experiment.clone(),
                configuration: labels
                    .get(&run.params_json)
                    .cloned()
                    .unwrap_or_else(|| label(&run.params_json)),
                fold: run.fold + 1,
                status: run.status.as_str().to_string(),
                rmse: run.rmse,
                mae: run.mae,
                seconds: run.seconds,
            }
        }));
    }
    print!("{}", render(&rows, args.format)?);
    Ok(ExitCode::SUCCESS)
}

/// `key=value` pairs of a run's swept values (last key segments), `base` for none: the
/// label of a run whose configuration has no finished run to take it from.
fn label(params_json: &str) -> String {
    let params = parse_params(params_json);
    if params.is_empty() {
        return "base".to_string();
    }
    params
        .iter()
        .map(|(k, v)| {
            let short = k.rsplit('.').next().unwrap_or(k);
            format!("{short}={}", display_value(v))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn render(rows: &[Row], format: RunsFormat) -> anyhow::Result<String> {
    let number =
        |x: Option<f64>, digits: usize| x.map_or(String::new(), |x| format!("{x:.digits$}"));
    let header = [
        "id",
        "experiment",
        "configuration",
        "fold",
        "status",
        "rmse",
        "mae",
        "seconds",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.id.to_string(),
                r.experiment.clone(),
                r.configuration.clone(),
                r.fold.to_string(),
                r.status.clone(),
                number(r.rmse, 4),
                number(r.mae, 4),
                number(r.seconds, 1),
            ]
        })
        .collect();
    Ok(match format {
        RunsFormat::Json => serde_json::to_string_pretty(rows)? + "\n",
        RunsFormat::Csv => {
            let mut out = header.join(",") + "\n";
            for row in &cells {
                let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
                out.push_str(&(fields.join(",") + "\n"));
            }
            out
        }
        RunsFormat::Table => {
            let widths: Vec<usize> = (0..header.len())
                .map(|i| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            // Text columns left-aligned, numbers right-aligned.
            let line = |cells: &[&str]| {
                let mut out = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    let w = widths[i];
                    let cell = match i {
                        1 | 2 | 4 => format!("{cell:<w$}"),
                        _ => format!("{cell:>w$}"),
                    };
                    out.push_str(&cell);
                    out.push_str(if i + 1 < cells.len() { "  " } else { "\n" });
                }
                out.trim_end().to_string() + "\n"
            };
            let mut out = line(&header);
            for row in &cells {
                out.push_str(&line(&row.each_ref().map(String::as_str)));
            }
            out
        }
    })
}
