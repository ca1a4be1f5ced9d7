//! `exp export`: every stored run of an experiment as one row (or one row per epoch), with
//! every configuration key, fold, status and metric, as CSV or JSON for pandas, R or a
//! spreadsheet. Unlike `exp compare` nothing is averaged: per-fold values, as stored.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::cli::{ExportArgs, ExportFormat};
use crate::report::{metric, missing_experiment};
use crate::store::Store;
use crate::store::records::{EpochRecord, StoredRun};

/// Writes the runs `args` selects to `--output` or stdout.
pub fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    if args.db.is_missing_file() {
        bail!("no database at `{}`; pass --db", args.db);
    }
    let store = Store::open_location_read_only(&args.db)?;
    let runs = store.runs(args.experiment.as_deref())?;
    if runs.is_empty() {
        match &args.experiment {
            Some(name) => return Err(missing_experiment(&store, name).into()),
            None => bail!("`{}` holds no runs yet", args.db),
        }
    }
    if args.predictions {
        if args.format != ExportFormat::Csv {
            bail!("--predictions writes CSV only; drop --format or use --format csv");
        }
        let (text, rows) = predictions_csv(&store, &runs)?;
        if rows == 0 {
            bail!(
                "no run{} saved test predictions; set `metrics.save_predictions = true` in \
                 the experiment file and run it again",
                args.experiment
                    .as_deref()
                    .map(|n| format!(" of experiment `{n}`"))
                    .unwrap_or_default()
            );
        }
        return write_out(args, &text, &format!("{rows} prediction(s)"));
    }
    let mut epochs = BTreeMap::new();
    if args.epochs {
        for run in &runs {
            epochs.insert(run.id, store.epochs(run.id)?);
        }
    }
    let text = match args.format {
        ExportFormat::Csv => csv_text(&runs, args.epochs.then_some(&epochs))?,
        ExportFormat::Json => json_text(&runs, args.epochs.then_some(&epochs))?,
    };
    write_out(args, &text, &format!("{} run(s)", runs.len()))
}

/// Writes `text` to `--output` (saying `what` was written) or to stdout.
fn write_out(args: &ExportArgs, text: &str, what: &str) -> anyhow::Result<ExitCode> {
    match &args.output {
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to stdout")?,
        Some(path) => {
            crate::output::write(path, text)
                .with_context(|| format!("writing `{}`", path.display()))?;
            eprintln!("wrote {what} to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The saved test predictions of `runs` as CSV, one row per prediction, and how many
/// rows. `fold` and `repeat` are 1-based as in the per-run rows; `user` and `item` are the
/// dense ids of the data set as loaded (what the store keeps); `prediction` is clipped to
/// the rating range, as the test metrics are.
fn predictions_csv(store: &Store, runs: &[StoredRun]) -> anyhow::Result<(String, usize)> {
    use std::fmt::Write as _;
    let mut out = String::from("run_id,experiment,fold,repeat,user,item,rating,prediction\n");
    let mut rows = 0;
    for run in runs {
        let Some(preds) = store.predictions(run.id)? else {
            continue;
        };
        let experiment = crate::report::compare::csv_field(&run.experiment);
        for p in &preds {
            // Shortest text that reads back as the same f32.
            let _ = writeln!(
                out,
                "{},{experiment},{},{},{},{},{},{}",
                run.id,
                run.fold + 1,
                run.repeat + 1,
                p.user,
                p.item,
                p.rating,
                p.prediction
            );
        }
        rows += preds.len();
    }
    Ok((out, rows))
}

/// `config_json` as dotted keys (`training.learning_rate`) and scalar text; lists as
/// JSON text, absent values as empty text.
fn flat_config(config_json: &str) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let dotted = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&dotted, inner, out);
                }
            }
            Value::Null => {
                out.insert(prefix.to_string(), String::new());
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    let value: Value = serde_json::from_str(config_json).unwrap_or(Value::Null);
    walk("", &value, &mut out);
    out.remove("");
    out
}

/// A metric value for CSV: full precision, empty when missing or not finite.
fn number(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or_else(String::new, |v| v.to_string())
}

/// One CSV row per run (or per epoch of each run, with the run's columns repeated).
fn csv_text(
    runs: &[StoredRun],
    epochs: Option<&BTreeMap<i64, Vec<EpochRecord>>>,
) -> anyhow::Result<String> {
    let configs: Vec<BTreeMap<String, String>> =
        runs.iter().map(|r| flat_config(&r.config_json)).collect();
    let config_keys: BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    let metrics = metric::order(
        runs.iter()
            .flat_map(|r| r.metrics.keys().map(String::as_str)),
    );
    let mut header: Vec<String> = [
        "id",
        "experiment",
        "key",
        "fold",
        "repeat",
        "status",
        "swept",
    ]
    .map(String::from)
    .to_vec();
    header.extend(config_keys.iter().map(|k| k.to_string()));
    header.extend(["rmse", "mae"].map(String::from));
    header.extend(metrics.iter().cloned());
    header.extend(["best_epoch", "seconds", "checkpoint", "error"].map(String::from));
    if epochs.is_some() {
        header.extend(
            [
                "epoch",
                "train_loss",
                "epoch_rmse",
                "epoch_mae",
                "val_rmse",
                "val_mae",
                "epoch_seconds",
            ]
            .map(String::from),
        );
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header)?;
    for (run, config) in runs.iter().zip(&configs) {
        let mut row = vec![
            run.id.to_string(),
            run.experiment.clone(),
            run.key.clone(),
            (run.fold + 1).to_string(),
            (run.repeat + 1).to_string(),
            run.status.as_str().to_string(),
            run.params_json.clone(),
        ];
        row.extend(
            config_keys
                .iter()
                .map(|k| config.get(*k).cloned().unwrap_or_default()),
        );
        row.push(number(run.rmse));
        row.push(number(run.mae));
        row.extend(metrics.iter().map(|m| number(run.metrics.get(m).copied())));
        row.push(run.best_epoch.map_or_else(String::new, |e| e.to_string()));
        row.push(number(run.seconds));
        row.push(run.checkpoint.clone().unwrap_or_default());
        row.push(run.error.clone().unwrap_or_default());
        match epochs.map(|all| all.get(&run.id).map_or(&[][..], Vec::as_slice)) {
            None => writer.write_record(&row)?,
            Some(list) => {
                for e in list {
                    let mut with_epoch = row.clone();
                    with_epoch.extend([
                        e.epoch.to_string(),
                        number(Some(e.train_loss)),
                        number(Some(e.rmse)),
                        number(Some(e.mae)),
                        number(e.validation_rmse),
                        number(e.validation_mae),
                        number(Some(e.seconds)),
                    ]);
                    writer.write_record(&with_epoch)?;
                }
            }
        }
    }
    let bytes = writer.into_inner().context("finishing the CSV")?;
    Ok(String::from_utf8(bytes)?)
}

/// A JSON array of runs, each with its swept parameters, full configuration, metrics and
/// (with `epochs`) its epochs.
fn json_text(
    runs: &[StoredRun],
    epochs: Option<&BTreeMap<i64, Vec<EpochRecord>>>,
) -> anyhow::Result<String> {
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    let rows: Vec<Value> = runs
        .iter()
        .map(|run| {
            let mut metrics = Map::new();
            metrics.insert("rmse".into(), json!(finite(run.rmse)));
            metrics.insert("mae".into(), json!(finite(run.mae)));
            for (name, value) in &run.metrics {
                metrics.insert(name.clone(), json!(finite(Some(*value))));
            }
            let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
            let mut row = json!({
                "id": run.id,
                "experiment": run.experiment,
                "key": run.key,
                "fold": run.fold + 1,
                "repeat": run.repeat + 1,
                "status": run.status.as_str(),
                "swept": parse(&run.params_json),
                "config": parse(&run.config_json),
                "metrics": metrics,
                "best_epoch": run.best_epoch,
                "seconds": finite(run.seconds),
                "checkpoint": run.checkpoint,
                "error": run.error,
            });
            if let Some(all) = epochs {
                let list: Vec<Value> = all
                    .get(&run.id)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .map(|e| {
                        json!({
                            "epoch": e.epoch,
                            "train_loss": finite(Some(e.train_loss)),
                            "rmse": finite(Some(e.rmse)),
                            "mae": finite(Some(e.mae)),
                            "val_rmse": finite(e.validation_rmse),
                            "val_mae": finite(e.validation_mae),
                            "seconds": finite(Some(e.seconds)),
                        })
                    })
                    .collect();
                row["epochs"] = Value::Array(list);
            }
            row
        })
        .collect();
    Ok(serde_json::to_string_pretty(&rows)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_flatten_to_dotted_keys() {
        let flat = flat_config(
            r#"{"data":{"dataset":"ml-100k","path":null},"model":{"hidden_layers":[10,5]},
                "training":{"learning_rate":0.01,"epochs":3},"metrics":["rmse","mae"]}"#,
        );
        let pairs: Vec<(&str, &str)> = flat.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("data.dataset", "ml-100k"),
                ("data.path", ""),
                ("metrics", r#"["rmse","mae"]"#),
                ("model.hidden_layers", "[10,5]"),
                ("training.epochs", "3"),
                ("training.learning_rate", "0.01"),
            ]
        );
        assert!(flat_config("not json").is_empty());
    }

    #[test]
    fn csv_has_a_row_per_run_or_per_epoch() {
        let mut a = StoredRun::finished_for_test(1, r#"{"model.embedding_size":8}"#, 0, 0.9);
        a.config_json = r#"{"model":{"embedding_size":8}}"#.into();
        a.metrics.insert("ndcg@10".into(), 0.25);
        let mut b = StoredRun::finished_for_test(2, r#"{"model.embedding_size":8}"#, 1, 0.8);
        b.config_json = a.config_json.clone();
        let runs = [a, b];
        let text = csv_text(&runs, None).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(&rows[0][col("model.embedding_size")], "8");
        assert_eq!(&rows[1][col("fold")], "2");
        assert_eq!(&rows[0][col("rmse")], "0.9");
        assert_eq!(&rows[0][col("ndcg@10")], "0.25");
        assert_eq!(&rows[1][col("ndcg@10")], "");

        let epoch = |n: usize| EpochRecord {
            epoch: n,
            train_loss: 1.0,
            rmse: 0.9,
            mae: 0.7,
            seconds: 0.5,
            train_seconds: None,
            validation_rmse: None,
            validation_mae: None,
        };
        let epochs = BTreeMap::from([(1, vec![epoch(1), epoch(2)]), (2, vec![epoch(1)])]);
        let text = csv_text(&runs, Some(&epochs)).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let epoch_col = header.iter().position(|h| h == "epoch").unwrap();
        let ids: Vec<(&str, &str)> = rows.iter().map(|r| (&r[0], &r[epoch_col])).collect();
        assert_eq!(ids, [("1", "1"), ("1", "2"), ("2", "1")]);
    }
}
