//! `exp compare`: finished runs grouped into configurations, ranked, and rendered as a
//! table, CSV, JSON or Markdown.
//!
//! A *configuration* is a grid point: all runs with the same `params_json`, one per
//! fold. [`summarize`] turns runs into [`ConfigSummary`]s (mean and sample standard
//! deviation over folds), [`rank`] orders them by a [`Metric`], and [`render`] formats
//! them. Floats are printed with a fixed number of decimals (4 in the human formats,
//! 6 in CSV and JSON) so the output is stable enough to snapshot.

use std::collections::HashMap;
use std::str::FromStr;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ReportError;
use crate::store::records::{RunStatus, StoredRun};

/// A test metric configurations can be ranked by. Lower is better for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
}

impl Metric {
    /// The name used on the command line and in CSV/JSON keys: `rmse`, `mae`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
        }
    }

    /// The name for people: `RMSE`, `MAE`.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Rmse => "RMSE",
            Metric::Mae => "MAE",
        }
    }

    /// This metric's statistic in a summary.
    pub fn stat(self, summary: &ConfigSummary) -> Stat {
        match self {
            Metric::Rmse => summary.rmse,
            Metric::Mae => summary.mae,
        }
    }
}

impl FromStr for Metric {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rmse" => Ok(Metric::Rmse),
            "mae" => Ok(Metric::Mae),
            other => Err(ReportError::UnknownMetric(other.to_string())),
        }
    }
}

/// An output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header row; mean and std in separate columns.
    Csv,
    /// A JSON array of objects, one per configuration.
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "markdown" | "md" => Ok(Format::Markdown),
            other => Err(ReportError::UnknownFormat(other.to_string())),
        }
    }
}

/// Mean and sample standard deviation of one quantity over the folds of a configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Arithmetic mean (NaN when there are no values).
    pub mean: f64,
    /// Sample standard deviation, dividing by n − 1; 0 for a single value, NaN for none.
    pub std: f64,
}

impl Stat {
    /// The statistic of `values`.
    pub fn of(values: &[f64]) -> Stat {
        let n = values.len();
        if n == 0 {
            return Stat {
                mean: f64::NAN,
                std: f64::NAN,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n == 1 {
            0.0
        } else {
            let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            (ss / (n - 1) as f64).sqrt()
        };
        Stat { mean, std }
    }
}

/// One configuration (grid point) and its results over folds.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSummary {
    /// The swept parameters in sweep order, with their full dotted keys.
    pub params: Vec<(String, Value)>,
    /// The `params_json` the runs share: the configuration's identity.
    pub params_json: String,
    /// Short, readable name: `architecture=dot-mf embedding_size=8` (the last segment of
    /// each key, or the full key where two last segments clash); `base` when nothing is
    /// swept.
    pub label: String,
    /// Position of the configuration in grid order (order of its first run), stable
    /// across rankings; charts use it to give each configuration a fixed colour.
    pub grid_index: usize,
    /// Number of finished runs (folds) averaged.
    pub folds: usize,
    /// Test RMSE over folds.
    pub rmse: Stat,
    /// Test MAE over folds.
    pub mae: Stat,
    /// Wall-clock seconds per run over folds.
    pub seconds: Stat,
}

impl ConfigSummary {
    /// The parameter values in sweep order, as printed in tables (`dot-mf`, `8`).
    pub fn values(&self) -> Vec<String> {
        self.params.iter().map(|(_, v)| display_value(v)).collect()
    }
}

/// Groups the finished runs into configurations by `params_json`, in grid order (the
/// order in which each configuration first appears in `runs`). Running and failed runs
/// are left out, as are finished runs without metrics.
///
/// Pass the runs of one experiment ([`Store::runs`](crate::store::Store::runs) orders
/// them by id, which is grid order). A `params_json` that is not a JSON object, which exp
/// never writes, becomes a single parameter named `params` holding the raw text.
pub fn summarize(runs: &[StoredRun]) -> Vec<ConfigSummary> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, Vec<&StoredRun>> = HashMap::new();
    for run in runs {
        if run.status != RunStatus::Finished || run.rmse.is_none() || run.mae.is_none() {
            continue;
        }
        let key = run.params_json.as_str();
        groups
            .entry(key)
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(run);
    }
    let params: Vec<Vec<(String, Value)>> = order.iter().map(|json| parse_params(json)).collect();
    let names = short_names(&column_keys(&params));
    order
        .iter()
        .zip(params)
        .enumerate()
        .map(|(grid_index, (json, params))| {
            let runs = &groups[json];
            let stat = |f: fn(&StoredRun) -> Option<f64>| {
                Stat::of(&runs.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
            };
            let label = if params.is_empty() {
                "base".to_string()
            } else {
                params
                    .iter()
                    .map(|(k, v)| format!("{}={}", names.get(k).map_or(k, |s| s), display_value(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            ConfigSummary {
                params_json: json.to_string(),
                label,
                grid_index,
                folds: runs.len(),
                rmse: stat(|r| r.rmse),
                mae: stat(|r| r.mae),
                seconds: stat(|r| r.seconds),
                params,
            }
        })
        .collect()
}

/// Orders configurations best first by the mean of `metric` (lower is better). Ties keep
/// their order; a NaN mean sorts last.
pub fn rank(summaries: &mut [ConfigSummary], metric: Metric) {
    summaries.sort_by(|a, b| {
        let (x, y) = (metric.stat(a).mean, metric.stat(b).mean);
        x.is_nan().cmp(&y.is_nan()).then(x.total_cmp(&y))
    });
}

/// Renders the configurations ranked by `metric` (see [`rank`]) in `format`. The output
/// ends with a newline. Parameter columns are the union of all swept keys in sweep order.
pub fn render(summaries: &[ConfigSummary], metric: Metric, format: Format) -> String {
    let mut ranked = summaries.to_vec();
    rank(&mut ranked, metric);
    let table = Rows::new(&ranked);
    match format {
        Format::Table => table.text(),
        Format::Markdown => table.markdown(),
        Format::Csv => csv_rows(&ranked, &table.keys),
        Format::Json => json_rows(&ranked),
    }
}

/// The parameter keys of all configurations, in first-seen order.
fn column_keys(params: &[Vec<(String, Value)>]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in params.iter().flatten() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

/// Maps each dotted key to its last segment (`model.embedding_size` → `embedding_size`),
/// keeping the full key where two keys share a last segment.
pub(crate) fn short_names(keys: &[String]) -> HashMap<String, String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    let mut count: HashMap<String, usize> = HashMap::new();
    for k in keys {
        *count.entry(last(k)).or_default() += 1;
    }
    keys.iter()
        .map(|k| {
            let short = last(k);
            let name = if count[&short] > 1 { k.clone() } else { short };
            (k.clone(), name)
        })
        .collect()
}

/// A parameter value as people write it: strings without quotes, everything else as JSON.
pub(crate) fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads `params_json` keeping the keys in their written (sweep) order, which
/// `serde_json::Map` without `preserve_order` would sort.
fn parse_params(json: &str) -> Vec<(String, Value)> {
    match serde_json::from_str::<OrderedObject>(json) {
        Ok(OrderedObject(entries)) => entries,
        Err(_) => vec![("params".to_string(), Value::String(json.to_string()))],
    }
}

/// A JSON object as a list of entries in document order.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of swept parameters")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(OrderedObject(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A number with 4 decimals, `-` when it is not finite.
fn fixed4(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "-".to_string()
    }
}

/// `mean ± std` with 4 decimals each.
fn mean_std(s: Stat) -> String {
    format!("{} ± {}", fixed4(s.mean), fixed4(s.std))
}

/// Seconds with one decimal, `-` when unknown.
fn seconds(s: Stat) -> String {
    if s.mean.is_finite() {
        format!("{:.1}", s.mean)
    } else {
        "-".to_string()
    }
}

/// The human formats' cells: header and one row per configuration, with which columns
/// are right-aligned.
struct Rows {
    keys: Vec<String>,
    header: Vec<String>,
    right: Vec<bool>,
    cells: Vec<Vec<String>>,
}

impl Rows {
    fn new(ranked: &[ConfigSummary]) -> Rows {
        let params: Vec<Vec<(String, Value)>> = ranked.iter().map(|s| s.params.clone()).collect();
        let keys = column_keys(&params);
        let names = short_names(&keys);
        let mut header = vec!["rank".to_string()];
        header.extend(keys.iter().map(|k| names[k].clone()));
        header.extend(["RMSE", "MAE", "folds", "seconds"].map(String::from));
        let mut right = vec![true];
        right.extend(keys.iter().map(|_| false));
        right.extend([true; 4]);
        let cells = ranked
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut row = vec![(i + 1).to_string()];
                row.extend(keys.iter().map(|k| {
                    s.params
                        .iter()
                        .find(|(pk, _)| pk == k)
                        .map_or_else(String::new, |(_, v)| display_value(v))
                }));
                row.extend([
                    mean_std(s.rmse),
                    mean_std(s.mae),
                    s.folds.to_string(),
                    seconds(s.seconds),
                ]);
                row
            })
            .collect();
        Rows {
            keys,
            header,
            right,
            cells,
        }
    }

    /// Columns padded to their widest cell, two spaces apart, no trailing spaces.
    fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header[c])
                    .chain(self.cells.iter().map(|r| &r[c]))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.cells) {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .zip(&self.right)
                .map(|((cell, &w), &right)| {
                    if right {
                        format!("{cell:>w$}")
                    } else {
                        format!("{cell:<w$}")
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    /// A GitHub table; numeric columns right-aligned, `|` in cells escaped.
    fn markdown(&self) -> String {
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let esc = |row: &Vec<String>| row.iter().map(|c| c.replace('|', "\\|")).collect();
        let mut out = line(esc(&self.header));
        out.push_str(&line(
            self.right
                .iter()
                .map(|&r| if r { "---:" } else { ":---" }.to_string())
                .collect(),
        ));
        for row in &self.cells {
            out.push_str(&line(esc(row)));
        }
        out
    }
}

/// A float with 6 decimals for the machine formats; empty when not finite.
fn fixed6(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        String::new()
    }
}

/// CSV with full parameter keys as column names and mean/std in separate columns.
fn csv_rows(ranked: &[ConfigSummary], keys: &[String]) -> String {
    let mut header: Vec<String> = vec!["rank".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(
        [
            "label",
            "folds",
            "rmse_mean",
            "rmse_std",
            "mae_mean",
            "mae_std",
            "seconds_mean",
            "seconds_std",
        ]
        .map(String::from),
    );
    let mut records = vec![header];
    for (i, s) in ranked.iter().enumerate() {
        let mut row = vec![(i + 1).to_string()];
        row.extend(keys.iter().map(|k| {
            s.params
                .iter()
                .find(|(pk, _)| pk == k)
                .map_or_else(String::new, |(_, v)| display_value(v))
        }));
        row.push(s.label.clone());
        row.push(s.folds.to_string());
        for stat in [s.rmse, s.mae, s.seconds] {
            row.push(fixed6(stat.mean));
            row.push(fixed6(stat.std));
        }
        records.push(row);
    }
    let mut out = String::new();
    for record in records {
        let fields: Vec<String> = record.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// One configuration in the JSON output.
#[derive(Serialize)]
struct JsonRow<'a> {
    rank: usize,
    label: &'a str,
    params: JsonParams<'a>,
    folds: usize,
    rmse: JsonStat,
    mae: JsonStat,
    seconds: JsonStat,
}

/// Parameters serialized as an object in sweep order.
struct JsonParams<'a>(&'a [(String, Value)]);

impl Serialize for JsonParams<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A [`Stat`] rounded to 6 decimals; NaN becomes `null`.
#[derive(Serialize)]
struct JsonStat {
    mean: Option<f64>,
    std: Option<f64>,
}

impl From<Stat> for JsonStat {
    fn from(s: Stat) -> Self {
        let round = |x: f64| x.is_finite().then(|| (x * 1e6).round() / 1e6);
        JsonStat {
            mean: round(s.mean),
            std: round(s.std),
        }
    }
}

/// A pretty-printed JSON array.
fn json_rows(ranked: &[ConfigSummary]) -> String {
    let rows: Vec<JsonRow> = ranked
        .iter()
        .enumerate()
        .map(|(i, s)| JsonRow {
            rank: i + 1,
            label: &s.label,
            params: JsonParams(&s.params),
            folds: s.folds,
            rmse: s.rmse.into(),
            mae: s.mae.into(),
            seconds: s.seconds.into(),
        })
        .collect();
    // Serializing plain structs of strings and numbers into a String cannot fail; fall
    // back to an empty array rather than panic if it ever did.
    let mut out = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finished run of grid point `params` on `fold`.
    fn run(id: i64, params: &str, fold: usize, rmse: f64, mae: f64, seconds: f64) -> StoredRun {
        StoredRun {
            id,
            experiment: "e".to_string(),
            key: format!("k{id}"),
            params_json: params.to_string(),
            config_json: "{}".to_string(),
            fold,
            status: RunStatus::Finished,
            rmse: Some(rmse),
            mae: Some(mae),
            best_epoch: Some(10),
            seconds: Some(seconds),
            error: None,
            checkpoint: None,
            metrics: Default::default(),
        }
    }

    const DOT8: &str = r#"{"model.architecture":"dot-mf","model.embedding_size":8}"#;
    const BIASED8: &str = r#"{"model.architecture":"biased-mf","model.embedding_size":8}"#;
    const BIASED16: &str = r#"{"model.architecture":"biased-mf","model.embedding_size":16}"#;

    /// Three configurations; values chosen so means and stds are easy by hand.
    fn fixture() -> Vec<StoredRun> {
        let mut failed = run(7, BIASED16, 2, 0.0, 0.0, 1.0);
        failed.status = RunStatus::Failed;
        failed.rmse = None;
        failed.mae = None;
        let mut running = run(8, DOT8, 3, 0.0, 0.0, 1.0);
        running.status = RunStatus::Running;
        vec![
            run(1, DOT8, 0, 1.00, 0.80, 10.0),
            run(2, DOT8, 1, 1.10, 0.90, 12.0),
            run(3, DOT8, 2, 0.90, 0.70, 14.0),
            run(4, BIASED8, 0, 0.90, 0.72, 20.0),
            run(5, BIASED8, 1, 0.94, 0.70, 22.0),
            run(6, BIASED16, 0, 0.95, 0.69, 30.0),
            failed,
            running,
        ]
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn stat_is_mean_and_sample_std() {
        // values 1, 2, 3, 4: mean = 10 / 4 = 2.5;
        // squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; 5 / (4 - 1) = 1.6667;
        // std = sqrt(5 / 3) = 1.2909944487358056
        let s = Stat::of(&[1.0, 2.0, 3.0, 4.0]);
        assert!(close(s.mean, 2.5));
        assert!(close(s.std, 1.290_994_448_735_805_6), "{}", s.std);
        assert_eq!(
            Stat::of(&[0.7]),
            Stat {
                mean: 0.7,
                std: 0.0
            }
        );
        let empty = Stat::of(&[]);
        assert!(empty.mean.is_nan() && empty.std.is_nan());
    }

    #[test]
    fn summarize_groups_finished_runs_by_params_in_grid_order() {
        let s = summarize(&fixture());
        let labels: Vec<&str> = s.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "architecture=dot-mf embedding_size=8",
                "architecture=biased-mf embedding_size=8",
                "architecture=biased-mf embedding_size=16"
            ]
        );
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        // Failed and running runs are not counted.
        assert_eq!(s.iter().map(|c| c.folds).collect::<Vec<_>>(), [3, 2, 1]);
        // dot-mf rmse 1.00, 1.10, 0.90: mean 1.0; deviations 0, .1, -.1 → ss = 0.02,
        // 0.02 / 2 = 0.01, std = 0.1. seconds 10, 12, 14: mean 12, std sqrt(8 / 2) = 2.
        assert!(close(s[0].rmse.mean, 1.0) && close(s[0].rmse.std, 0.1));
        assert!(close(s[0].mae.mean, 0.8) && close(s[0].mae.std, 0.1));
        assert!(close(s[0].seconds.mean, 12.0) && close(s[0].seconds.std, 2.0));
        // biased-mf/8 rmse 0.90, 0.94: mean 0.92; ss = 2 * 0.02² = 0.0008, std = sqrt(0.0008)
        // = 0.028284271247461905. mae 0.72, 0.70: mean 0.71, std 0.014142135623730951.
        assert!(close(s[1].rmse.mean, 0.92));
        assert!(close(s[1].rmse.std, 0.028_284_271_247_461_905));
        assert!(close(s[1].mae.std, 0.014_142_135_623_730_95));
        // One fold: std 0.
        assert_eq!(
            s[2].rmse,
            Stat {
                mean: 0.95,
                std: 0.0
            }
        );
        assert_eq!(
            s[2].params,
            vec![
                ("model.architecture".to_string(), Value::from("biased-mf")),
                ("model.embedding_size".to_string(), Value::from(16)),
            ]
        );
    }

    #[test]
    fn nothing_swept_is_labelled_base() {
        let s = summarize(&[
            run(1, "{}", 0, 1.0, 0.8, 1.0),
            run(2, "{}", 1, 1.0, 0.8, 1.0),
        ]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].label, "base");
        assert_eq!(s[0].folds, 2);
        assert!(s[0].params.is_empty());
    }

    #[test]
    fn params_keep_sweep_order_not_alphabetical() {
        let json = r#"{"training.lr":0.01,"model.architecture":"dot-mf"}"#;
        let s = summarize(&[run(1, json, 0, 1.0, 0.8, 1.0)]);
        assert_eq!(s[0].label, "lr=0.01 architecture=dot-mf");
    }

    #[test]
    fn clashing_last_segments_keep_full_keys() {
        let json = r#"{"model.dropout":0.1,"data.dropout":0.2,"training.epochs":5}"#;
        let s = summarize(&[run(1, json, 0, 1.0, 0.8, 1.0)]);
        assert_eq!(s[0].label, "model.dropout=0.1 data.dropout=0.2 epochs=5");
    }

    #[test]
    fn invalid_params_json_is_kept_as_raw_text() {
        let s = summarize(&[run(1, "not json", 0, 1.0, 0.8, 1.0)]);
        assert_eq!(s[0].label, "params=not json");
    }

    #[test]
    fn rank_orders_by_chosen_metric_ascending() {
        let mut s = summarize(&fixture());
        rank(&mut s, Metric::Rmse);
        // rmse means: dot-mf/8 1.0, biased/8 0.92, biased/16 0.95
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [1, 2, 0]
        );
        rank(&mut s, Metric::Mae);
        // mae means: dot-mf/8 0.8, biased/8 0.71, biased/16 0.69
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [2, 1, 0]
        );
    }

    #[test]
    fn rank_puts_nan_last_and_keeps_ties_stable() {
        let mut s = summarize(&[
            run(1, r#"{"a":1}"#, 0, 0.9, 0.7, 1.0),
            run(2, r#"{"a":2}"#, 0, f64::NAN, 0.7, 1.0),
            run(3, r#"{"a":3}"#, 0, 0.9, 0.7, 1.0),
            run(4, r#"{"a":4}"#, 0, 0.8, 0.7, 1.0),
        ]);
        rank(&mut s, Metric::Rmse);
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [3, 0, 2, 1]
        );
    }

    #[test]
    fn metric_and_format_parse() {
        assert_eq!("rmse".parse::<Metric>().ok(), Some(Metric::Rmse));
        assert_eq!("mae".parse::<Metric>().ok(), Some(Metric::Mae));
        let err = "ndcg".parse::<Metric>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown metric `ndcg`: expected `rmse` or `mae`"
        );
        assert_eq!("md".parse::<Format>().ok(), Some(Format::Markdown));
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn table_snapshot() {
        let out = render(&summarize(&fixture()), Metric::Rmse, Format::Table);
        let expected = "\
rank  architecture  embedding_size             RMSE              MAE  folds  seconds
   1  biased-mf     8               0.9200 ± 0.0283  0.7100 ± 0.0141      2     21.0
   2  biased-mf     16              0.9500 ± 0.0000  0.6900 ± 0.0000      1     30.0
   3  dot-mf        8               1.0000 ± 0.1000  0.8000 ± 0.1000      3     12.0
";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn markdown_snapshot() {
        let out = render(&summarize(&fixture()), Metric::Mae, Format::Markdown);
        let expected = "\
| rank | architecture | embedding_size | RMSE | MAE | folds | seconds |
| ---: | :--- | :--- | ---: | ---: | ---: | ---: |
| 1 | biased-mf | 16 | 0.9500 ± 0.0000 | 0.6900 ± 0.0000 | 1 | 30.0 |
| 2 | biased-mf | 8 | 0.9200 ± 0.0283 | 0.7100 ± 0.0141 | 2 | 21.0 |
| 3 | dot-mf | 8 | 1.0000 ± 0.1000 | 0.8000 ± 0.1000 | 3 | 12.0 |
";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn csv_snapshot() {
        let out = render(&summarize(&fixture()), Metric::Rmse, Format::Csv);
        let expected = "\
rank,model.architecture,model.embedding_size,label,folds,rmse_mean,rmse_std,mae_mean,mae_std,seconds_mean,seconds_std
1,biased-mf,8,architecture=biased-mf embedding_size=8,2,0.920000,0.028284,0.710000,0.014142,21.000000,1.414214
2,biased-mf,16,architecture=biased-mf embedding_size=16,1,0.950000,0.000000,0.690000,0.000000,30.000000,0.000000
3,dot-mf,8,architecture=dot-mf embedding_size=8,3,1.000000,0.100000,0.800000,0.100000,12.000000,2.000000
";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn csv_quotes_awkward_values() {
        let json = r#"{"model.layers":[64,32],"data.name":"a \"b\""}"#;
        let out = render(
            &summarize(&[run(1, json, 0, 1.0, 0.8, 1.0)]),
            Metric::Rmse,
            Format::Csv,
        );
        let row = out.lines().nth(1).expect("one row");
        assert!(
            row.starts_with(r#"1,"[64,32]","a ""b""","layers=[64,32] name=a ""b""",1,"#),
            "{row}"
        );
    }

    #[test]
    fn json_snapshot() {
        let out = render(&summarize(&fixture()[..5]), Metric::Rmse, Format::Json);
        let expected = r#"[
  {
    "rank": 1,
    "label": "architecture=biased-mf embedding_size=8",
    "params": {
      "model.architecture": "biased-mf",
      "model.embedding_size": 8
    },
    "folds": 2,
    "rmse": {
      "mean": 0.92,
      "std": 0.028284
    },
    "mae": {
      "mean": 0.71,
      "std": 0.014142
    },
    "seconds": {
      "mean": 21.0,
      "std": 1.414214
    }
  },
  {
    "rank": 2,
    "label": "architecture=dot-mf embedding_size=8",
    "params": {
      "model.architecture": "dot-mf",
      "model.embedding_size": 8
    },
    "folds": 3,
    "rmse": {
      "mean": 1.0,
      "std": 0.1
    },
    "mae": {
      "mean": 0.8,
      "std": 0.1
    },
    "seconds": {
      "mean": 12.0,
      "std": 2.0
    }
  }
]
"#;
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn empty_input_renders_headers_only() {
        assert_eq!(render(&[], Metric::Rmse, Format::Json), "[]\n");
        assert_eq!(
            render(&[], Metric::Rmse, Format::Table),
            "rank  RMSE  MAE  folds  seconds\n"
        );
    }
}
