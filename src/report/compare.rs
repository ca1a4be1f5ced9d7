//! `exp compare`: finished runs grouped into configurations, ranked by any stored
//! metric, tested against the best, and rendered as a table, CSV, JSON or Markdown.
//!
//! A *configuration* is a grid point: all runs with the same `params_json`, one per
//! fold. [`summarize`] turns runs into [`ConfigSummary`]s (mean, sample standard
//! deviation and t-based 95 % confidence interval over folds, for every metric the runs
//! have), [`Comparison::new`] ranks them by a [`Metric`] and tests each against the best
//! ([`significance`](super::significance)), and [`Comparison::render`] formats them.
//! Floats are printed with a fixed number of decimals (4 in the human formats, 6 in CSV
//! and JSON) so the output is stable enough to snapshot.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use super::ReportError;
use super::metric::{self, Metric};
use super::paired_ratings::PairedTest;
use super::significance::{self, Significance};
pub(crate) use super::summary::display_value;
pub use super::summary::{ConfigSummary, RunSlot, Stat};
use crate::store::records::{RunStatus, StoredRun};

/// An output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Aligned columns for a terminal, with a footer naming the tests.
    Table,
    /// Comma-separated values with a header row; mean, std and CI in separate columns.
    Csv,
    /// A JSON object: the metric, the tests used and one object per configuration.
    Json,
    /// A GitHub-flavoured Markdown table, with a footer naming the tests.
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

/// The ids of the finished runs that belong to an earlier version of their experiment
/// file: when a file's base values were edited between sweeps, a grid point (one
/// `params_json`) holds runs of two configurations (other `config_json`). The newest
/// configuration, that of the grid point's finished run with the highest id, is current;
/// the others are superseded. Summaries and charts leave superseded runs out.
pub fn superseded_runs(runs: &[StoredRun]) -> std::collections::HashSet<i64> {
    let mut newest: HashMap<&str, &StoredRun> = HashMap::new();
    let finished = || runs.iter().filter(|r| r.status == RunStatus::Finished);
    for run in finished() {
        let entry = newest.entry(run.params_json.as_str()).or_insert(run);
        if run.id > entry.id {
            *entry = run;
        }
    }
    finished()
        .filter(|r| newest[r.params_json.as_str()].config_json != r.config_json)
        .map(|r| r.id)
        .collect()
}

/// Groups the finished runs into configurations by `params_json`, in grid order (the
/// order in which each configuration first appears in `runs`). Running and failed runs
/// are left out; non-finite metric values are left out of that metric's statistics.
///
/// Runs of an earlier version of the experiment file ([`superseded_runs`]) are left out
/// and counted in [`ConfigSummary::superseded`].
///
/// Pass the runs of one experiment ([`Store::runs`](crate::store::Store::runs) orders
/// them by id, which is grid order). A `params_json` that is not a JSON object, which exp
/// never writes, becomes a single parameter named `params` holding the raw text.
pub fn summarize(runs: &[StoredRun]) -> Vec<ConfigSummary> {
    let superseded = superseded_runs(runs);
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, Vec<&StoredRun>> = HashMap::new();
    for run in runs {
        if run.status != RunStatus::Finished {
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
            let all = &groups[json];
            let runs: Vec<&StoredRun> = all
                .iter()
                .copied()
                .filter(|r| !superseded.contains(&r.id))
                .collect();
            let mut fold_values: BTreeMap<String, BTreeMap<RunSlot, f64>> = BTreeMap::new();
            for run in &runs {
                let named = run.metrics.iter().map(|(k, v)| (k.as_str(), Some(*v)));
                let all = [("rmse", run.rmse), ("mae", run.mae)]
                    .into_iter()
                    .chain(named);
                for (name, value) in all {
                    if let Some(v) = value.filter(|v| v.is_finite()) {
                        fold_values
                            .entry(name.to_string())
                            .or_default()
                            .insert((run.fold, run.repeat), v);
                    }
                }
            }
            let metrics = fold_values
                .iter()
                .map(|(name, folds)| {
                    let values: Vec<f64> = folds.values().copied().collect();
                    (name.clone(), Stat::of(&values))
                })
                .collect();
            let seconds: Vec<f64> = runs.iter().filter_map(|r| r.seconds).collect();
            let mut by_fold: Vec<(RunSlot, i64)> =
                runs.iter().map(|r| ((r.fold, r.repeat), r.id)).collect();
            by_fold.sort_unstable();
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
                run_ids: by_fold.into_iter().map(|(_, id)| id).collect(),
                superseded: all.len() - runs.len(),
                metrics,
                fold_values,
                seconds: Stat::of(&seconds),
                params,
            }
        })
        .collect()
}

/// A line saying how many finished runs [`summarize`] left out because they belong to an
/// earlier version of the experiment file, or `None` when it left out none.
pub fn superseded_note(summaries: &[ConfigSummary]) -> Option<String> {
    let n: usize = summaries.iter().map(|s| s.superseded).sum();
    (n > 0).then(|| {
        format!(
            "{n} finished run(s) from an earlier version of the experiment file (the same \
             swept values, other base values) are left out; they stay in the database"
        )
    })
}

/// The names of the metrics any configuration has, in report order (`rmse`, `mae`,
/// then the others alphabetically).
pub fn metric_names(summaries: &[ConfigSummary]) -> Vec<String> {
    metric::order(
        summaries
            .iter()
            .flat_map(|s| s.metrics.keys().map(String::as_str)),
    )
}

/// Checks that some configuration has `metric`; the error lists the metrics they have.
pub fn check_metric(summaries: &[ConfigSummary], metric: &Metric) -> Result<(), ReportError> {
    let names = metric_names(summaries);
    if names.iter().any(|n| n == metric.name()) {
        Ok(())
    } else {
        Err(ReportError::UnknownMetric {
            name: metric.name().to_string(),
            known: if names.is_empty() {
                "no metrics".to_string()
            } else {
                names.join(", ")
            },
        })
    }
}

/// Orders configurations best first by the mean of `metric` (ascending for errors,
/// descending for ranking metrics, see [`metric::direction`]). Ties keep their order; a
/// missing or NaN mean sorts last.
pub fn rank(summaries: &mut [ConfigSummary], metric: &Metric) {
    summaries
        .sort_by(|a, b| metric.compare(a.stat(metric.name()).mean, b.stat(metric.name()).mean));
}

/// The current finished runs of the best configuration of `runs` by `metric`, in fold
/// order: what `exp runs --best`, `exp recommend --best` and `exp similar --best` read.
/// Runs of an earlier version of the experiment file are left out, as in the ranking.
pub fn best_runs<'a>(
    runs: &'a [StoredRun],
    metric: &Metric,
) -> Result<Vec<&'a StoredRun>, ReportError> {
    let mut summaries = summarize(runs);
    check_metric(&summaries, metric)?;
    rank(&mut summaries, metric);
    let Some(best) = summaries.first() else {
        return Ok(Vec::new());
    };
    let superseded = superseded_runs(runs);
    let mut chosen: Vec<&StoredRun> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Finished && !superseded.contains(&r.id))
        .filter(|r| r.params_json == best.params_json)
        .collect();
    chosen.sort_by_key(|r| (r.fold, r.repeat, r.id));
    Ok(chosen)
}

/// Configurations ranked by a metric, each tested against the best: what every output
/// format shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The ranking metric.
    pub metric: Metric,
    /// Every metric shown, in report order.
    pub metrics: Vec<String>,
    /// The configurations, best first.
    pub ranked: Vec<ConfigSummary>,
    /// Per configuration, its test against `ranked[0]` (`None` for `ranked[0]`).
    pub significance: Vec<Option<Significance>>,
    /// Whether the human formats show each configuration's run ids (the machine formats
    /// always do).
    pub show_run_ids: bool,
}

impl Comparison {
    /// Ranks `summaries` by `metric` and tests each against the best.
    pub fn new(summaries: &[ConfigSummary], metric: &Metric) -> Comparison {
        let mut ranked = summaries.to_vec();
        rank(&mut ranked, metric);
        let significance = significance::against_first(&ranked, metric.name());
        Comparison {
            metric: metric.clone(),
            metrics: metric_names(summaries),
            ranked,
            significance,
            show_run_ids: false,
        }
    }

    /// Adds the per-rating tests from the configurations' saved test predictions and the
    /// per-user tests from their saved per-user values of the ranking metric (both by
    /// `params_json`, see [`paired_ratings::by_configuration`] and
    /// [`paired_users::by_configuration`]) and corrects all tests again; call it before
    /// [`Comparison::top`], so that the correction covers every comparison against the
    /// best.
    ///
    /// [`paired_ratings::by_configuration`]: super::paired_ratings::by_configuration
    /// [`paired_users::by_configuration`]: super::paired_users::by_configuration
    pub fn with_saved(mut self, saved: &significance::Saved) -> Comparison {
        self.significance = significance::against_first_with(
            &self.ranked,
            self.metric.name(),
            &saved.predictions,
            &saved.users,
        );
        self
    }

    /// Whether any configuration has a per-rating test (the tables then show its
    /// columns).
    pub fn has_per_rating(&self) -> bool {
        self.significance
            .iter()
            .flatten()
            .any(|s| s.per_rating.is_some())
    }

    /// Whether any configuration has a per-user test (the tables then show its columns).
    pub fn has_per_user(&self) -> bool {
        self.significance
            .iter()
            .flatten()
            .any(|s| s.per_user.is_some())
    }

    /// Shows the run ids in the table and Markdown formats too.
    pub fn with_run_ids(mut self) -> Comparison {
        self.show_run_ids = true;
        self
    }

    /// Keeps the best `n` configurations (the tests stay against the overall best).
    pub fn top(mut self, n: usize) -> Comparison {
        self.ranked.truncate(n);
        self.significance.truncate(n);
        self
    }

    /// The comparison in `format`; ends with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => {
                let rows = Rows::new(self);
                format!("{}\n{}\n", rows.text(), self.footer())
            }
            Format::Markdown => {
                let rows = Rows::new(self);
                format!("{}\n{}\n", rows.markdown(), self.footer())
            }
            Format::Csv => csv_rows(self),
            Format::Json => json_rows(self),
        }
    }

    /// True when there are configurations and none has more than one finished run:
    /// nothing to spread, interval or test.
    pub fn single_runs(&self) -> bool {
        !self.ranked.is_empty() && self.ranked.iter().all(|s| s.folds <= 1)
    }

    /// What the table shows and which tests the p columns come from.
    fn footer(&self) -> String {
        let label = format!("test {}", self.metric.label());
        if self.single_runs() {
            return format!(
                "Ranked by {label} ({}); one run per configuration (no folds to average, \
                 so no spread, interval or significance test); seconds per run.",
                self.metric.direction().phrase()
            );
        }
        let mut footer = format!(
            "Ranked by {label} ({}); mean ± sample std and t-based 95% CI over folds; seconds per run.\n{}",
            self.metric.direction().phrase(),
            significance::footer(&label)
        );
        if self.has_per_rating() {
            footer.push('\n');
            footer.push_str(&significance::per_rating_footer(self.metric.name()));
        }
        if self.has_per_user() {
            footer.push('\n');
            footer.push_str(&significance::per_user_footer(&self.metric.label()));
        }
        footer
    }
}

/// Renders the configurations ranked by `metric`, with significance, in `format` (see
/// [`Comparison`]). The output ends with a newline.
pub fn render(summaries: &[ConfigSummary], metric: &Metric, format: Format) -> String {
    Comparison::new(summaries, metric).render(format)
}

/// The parameter keys of all configurations, in first-seen order.
pub(crate) fn column_keys(params: &[Vec<(String, Value)>]) -> Vec<String> {
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

/// Reads `params_json` keeping the keys in their written (sweep) order, which
/// `serde_json::Map` without `preserve_order` would sort.
pub(crate) fn parse_params(json: &str) -> Vec<(String, Value)> {
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

/// A number with 4 decimals, `–` when it is not finite.
fn fixed4(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "–".to_string()
    }
}

/// `mean ± std` with 4 decimals each.
fn mean_std(s: Stat) -> String {
    if s.mean.is_finite() {
        format!("{} ± {}", fixed4(s.mean), fixed4(s.std))
    } else {
        "–".to_string()
    }
}

/// `[low, high]` of the 95 % CI, `–` with fewer than 2 folds.
fn interval(s: Stat) -> String {
    if s.ci95.is_finite() {
        format!("[{}, {}]", fixed4(s.ci_low()), fixed4(s.ci_high()))
    } else {
        "–".to_string()
    }
}

/// Seconds with one decimal, `–` when unknown.
fn seconds(s: Stat) -> String {
    if s.mean.is_finite() {
        format!("{:.1}", s.mean)
    } else {
        "–".to_string()
    }
}

/// A p-value for people: 4 decimals, `<0.0001` below that, `–` when not computed.
fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p.is_finite() && p < 0.0001 => "<0.0001".to_string(),
        Some(p) if p.is_finite() => format!("{p:.4}"),
        _ => "–".to_string(),
    }
}

/// An effect size for people: signed, 3 decimals; `–` when not computed.
fn effect(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "–".to_string(),
    }
}

/// The per-run test cells of a row (p t-test, p Wilcoxon, both Holm-corrected, d_z):
/// `best` for rank 1.
fn p_cells(sig: Option<&Significance>) -> [String; 5] {
    match sig {
        None => ["best", "best", "best", "best", ""].map(String::from),
        Some(s) => [
            p_value(s.t_test.map(|t| t.p)),
            p_value(s.wilcoxon.map(|w| w.p)),
            p_value(s.t_holm),
            p_value(s.wilcoxon_holm),
            effect(s.d_z),
        ],
    }
}

/// The per-rating (or per-user) test cells of a row (units paired, Holm-corrected p of
/// the t-test and the Wilcoxon test, d_z): `best` for rank 1, `–` without saved values.
fn fine_cells(
    sig: Option<&Significance>,
    test: fn(&Significance) -> Option<&PairedTest>,
) -> [String; 4] {
    match sig {
        None => ["", "best", "best", ""].map(String::from),
        Some(s) => match test(s) {
            None => ["–", "–", "–", "–"].map(String::from),
            Some(r) => [
                r.pairs.to_string(),
                p_value(r.t_holm),
                p_value(r.wilcoxon_holm),
                effect(r.d_z),
            ],
        },
    }
}

/// The value of `key` in `s`, as printed; empty when `s` does not sweep it.
fn param_cell(s: &ConfigSummary, key: &str) -> String {
    s.param(key).map_or_else(String::new, display_value)
}

/// Run ids as people read them: consecutive ids as a range, `1-5,9,12-13`.
fn id_ranges(ids: &[i64]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if end > start {
            format!("{start}-{end}")
        } else {
            start.to_string()
        });
        i += 1;
    }
    parts.join(",")
}

/// The human formats' cells: header and one row per configuration, with which columns
/// are right-aligned.
struct Rows {
    header: Vec<String>,
    right: Vec<bool>,
    cells: Vec<Vec<String>>,
}

impl Rows {
    fn new(cmp: &Comparison) -> Rows {
        let params: Vec<Vec<(String, Value)>> =
            cmp.ranked.iter().map(|s| s.params.clone()).collect();
        let keys = column_keys(&params);
        let names = short_names(&keys);
        let sort = cmp.metric.name();
        let others: Vec<&String> = cmp.metrics.iter().filter(|m| *m != sort).collect();
        // With one run per configuration there is no spread, interval or test to show.
        let single = cmp.single_runs();
        let value = |stat: Stat| {
            if single {
                fixed4(stat.mean)
            } else {
                mean_std(stat)
            }
        };
        let mut header = vec!["rank".to_string()];
        header.extend(keys.iter().map(|k| names[k].clone()));
        header.push(cmp.metric.label());
        if !single {
            header.push("95% CI".to_string());
        }
        header.extend(others.iter().map(|m| metric::label(m)));
        header.push("folds".to_string());
        if cmp.show_run_ids {
            header.push("runs".to_string());
        }
        header.push("seconds".to_string());
        let per_rating = !single && cmp.has_per_rating();
        let per_user = !single && cmp.has_per_user();
        if !single {
            header.extend(["p t-test", "p Wilcoxon", "Holm t", "Holm W", "d_z"].map(String::from));
        }
        if per_rating {
            header.extend(
                ["ratings", "rating Holm t", "rating Holm W", "rating d_z"].map(String::from),
            );
        }
        if per_user {
            header.extend(["users", "user Holm t", "user Holm W", "user d_z"].map(String::from));
        }
        let mut right = vec![true];
        right.extend(keys.iter().map(|_| false));
        right.extend(std::iter::repeat_n(true, header.len() - right.len()));
        let cells = cmp
            .ranked
            .iter()
            .zip(&cmp.significance)
            .enumerate()
            .map(|(i, (s, sig))| {
                let mut row = vec![(i + 1).to_string()];
                row.extend(keys.iter().map(|k| param_cell(s, k)));
                row.push(value(s.stat(sort)));
                if !single {
                    row.push(interval(s.stat(sort)));
                }
                row.extend(others.iter().map(|m| value(s.stat(m))));
                row.push(s.folds.to_string());
                if cmp.show_run_ids {
                    row.push(id_ranges(&s.run_ids));
                }
                row.push(seconds(s.seconds));
                if !single {
                    row.extend(p_cells(sig.as_ref()));
                }
                if per_rating {
                    row.extend(fine_cells(sig.as_ref(), |s| s.per_rating.as_ref()));
                }
                if per_user {
                    row.extend(fine_cells(sig.as_ref(), |s| s.per_user.as_ref()));
                }
                row
            })
            .collect();
        Rows {
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

/// CSV with full parameter keys as column names; for every metric its mean, std and CI
/// bounds in separate columns; then time, the number of paired folds and the p-values
/// (empty where not computed).
fn csv_rows(cmp: &Comparison) -> String {
    let params: Vec<Vec<(String, Value)>> = cmp.ranked.iter().map(|s| s.params.clone()).collect();
    let keys = column_keys(&params);
    let mut header: Vec<String> = vec!["rank".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(["label", "folds"].map(String::from));
    for m in &cmp.metrics {
        for part in ["mean", "std", "ci95_low", "ci95_high"] {
            header.push(format!("{m}_{part}"));
        }
    }
    header.extend(
        [
            "seconds_mean",
            "seconds_std",
            "paired_folds",
            "p_ttest",
            "p_wilcoxon",
            "p_ttest_holm",
            "p_wilcoxon_holm",
            "d_z",
            "rank_biserial",
            "rating_pairs",
            "rating_p_ttest",
            "rating_p_wilcoxon",
            "rating_p_ttest_holm",
            "rating_p_wilcoxon_holm",
            "rating_d_z",
            "rating_rank_biserial",
            "user_pairs",
            "user_p_ttest",
            "user_p_wilcoxon",
            "user_p_ttest_holm",
            "user_p_wilcoxon_holm",
            "user_d_z",
            "user_rank_biserial",
            "run_ids",
        ]
        .map(String::from),
    );
    let mut records = vec![header];
    for (i, (s, sig)) in cmp.ranked.iter().zip(&cmp.significance).enumerate() {
        let mut row = vec![(i + 1).to_string()];
        row.extend(keys.iter().map(|k| param_cell(s, k)));
        row.push(s.label.clone());
        row.push(s.folds.to_string());
        for m in &cmp.metrics {
            let stat = s.stat(m);
            row.extend([stat.mean, stat.std, stat.ci_low(), stat.ci_high()].map(fixed6));
        }
        row.push(fixed6(s.seconds.mean));
        row.push(fixed6(s.seconds.std));
        let opt6 = |x: Option<f64>| x.map_or_else(String::new, fixed6);
        match sig {
            None => row.extend(std::iter::repeat_n(String::new(), 21)),
            Some(sig) => {
                row.push(sig.paired_folds.to_string());
                row.push(opt6(sig.t_test.map(|t| t.p)));
                row.push(opt6(sig.wilcoxon.map(|w| w.p)));
                row.push(opt6(sig.t_holm));
                row.push(opt6(sig.wilcoxon_holm));
                row.push(opt6(sig.d_z));
                row.push(opt6(sig.rank_biserial));
                for fine in [&sig.per_rating, &sig.per_user] {
                    match fine {
                        None => row.extend(std::iter::repeat_n(String::new(), 7)),
                        Some(r) => {
                            row.push(r.pairs.to_string());
                            row.push(opt6(r.t_test.map(|t| t.p)));
                            row.push(opt6(r.wilcoxon.map(|w| w.p)));
                            row.push(opt6(r.t_holm));
                            row.push(opt6(r.wilcoxon_holm));
                            row.push(opt6(r.d_z));
                            row.push(opt6(r.rank_biserial));
                        }
                    }
                }
            }
        }
        let ids: Vec<String> = s.run_ids.iter().map(i64::to_string).collect();
        row.push(ids.join(" "));
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
pub(crate) fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Rounds to 6 decimals for JSON; NaN and infinities become `null`.
fn round6(x: f64) -> Option<f64> {
    x.is_finite().then(|| (x * 1e6).round() / 1e6)
}

/// The JSON output: what was compared and how, then the configurations.
#[derive(Serialize)]
struct JsonComparison<'a> {
    metric: &'a str,
    direction: &'static str,
    significance: JsonMethod,
    configurations: Vec<JsonRow<'a>>,
}

/// Which tests and pairing the p-values come from.
#[derive(Serialize)]
struct JsonMethod {
    against: &'static str,
    pairing: &'static str,
    t_test: &'static str,
    wilcoxon: &'static str,
    correction: &'static str,
}

/// One configuration in the JSON output.
#[derive(Serialize)]
struct JsonRow<'a> {
    rank: usize,
    label: &'a str,
    params: JsonParams<'a>,
    folds: usize,
    run_ids: &'a [i64],
    metrics: Ordered<'a, JsonStat>,
    seconds: JsonStat,
    significance: Option<JsonSignificance>,
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

/// Entries serialized as an object in the given order (metrics in report order).
struct Ordered<'a, V>(Vec<(&'a str, V)>);

impl<V: Serialize> Serialize for Ordered<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
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
    ci95_low: Option<f64>,
    ci95_high: Option<f64>,
    n: usize,
}

impl From<Stat> for JsonStat {
    fn from(s: Stat) -> Self {
        JsonStat {
            mean: round6(s.mean),
            std: round6(s.std),
            ci95_low: round6(s.ci_low()),
            ci95_high: round6(s.ci_high()),
            n: s.n,
        }
    }
}

/// A [`Significance`] for JSON; tests not computed are `null`.
#[derive(Serialize)]
struct JsonSignificance {
    paired_folds: usize,
    t_test: Option<JsonTTest>,
    wilcoxon: Option<JsonWilcoxon>,
    p_ttest_holm: Option<f64>,
    p_wilcoxon_holm: Option<f64>,
    d_z: Option<f64>,
    rank_biserial: Option<f64>,
    per_rating: Option<JsonPairedTest>,
    per_user: Option<JsonPairedTest>,
}

/// A per-rating test for JSON.
#[derive(Serialize)]
struct JsonPairedTest {
    pairs: usize,
    t_test: Option<JsonTTest>,
    wilcoxon: Option<JsonWilcoxon>,
    p_ttest_holm: Option<f64>,
    p_wilcoxon_holm: Option<f64>,
    d_z: Option<f64>,
    rank_biserial: Option<f64>,
}

impl JsonPairedTest {
    fn of(r: &PairedTest) -> JsonPairedTest {
        let r6 = |x: Option<f64>| x.and_then(round6);
        JsonPairedTest {
            pairs: r.pairs,
            t_test: r.t_test.as_ref().map(JsonTTest::of),
            wilcoxon: r.wilcoxon.as_ref().map(JsonWilcoxon::of),
            p_ttest_holm: r6(r.t_holm),
            p_wilcoxon_holm: r6(r.wilcoxon_holm),
            d_z: r6(r.d_z),
            rank_biserial: r6(r.rank_biserial),
        }
    }
}

impl JsonTTest {
    fn of(t: &super::stats::TTest) -> JsonTTest {
        JsonTTest {
            t: round6(t.t),
            df: t.df,
            p: round6(t.p),
        }
    }
}

impl JsonWilcoxon {
    fn of(w: &super::stats::Wilcoxon) -> JsonWilcoxon {
        JsonWilcoxon {
            statistic: w.statistic,
            n: w.n,
            p: round6(w.p),
            method: w.method.as_str(),
        }
    }
}

#[derive(Serialize)]
struct JsonTTest {
    t: Option<f64>,
    df: usize,
    p: Option<f64>,
}

#[derive(Serialize)]
struct JsonWilcoxon {
    statistic: f64,
    n: usize,
    p: Option<f64>,
    method: &'static str,
}

impl From<&Significance> for JsonSignificance {
    fn from(s: &Significance) -> Self {
        let r6 = |x: Option<f64>| x.and_then(round6);
        JsonSignificance {
            paired_folds: s.paired_folds,
            t_test: s.t_test.as_ref().map(JsonTTest::of),
            wilcoxon: s.wilcoxon.as_ref().map(JsonWilcoxon::of),
            p_ttest_holm: r6(s.t_holm),
            p_wilcoxon_holm: r6(s.wilcoxon_holm),
            d_z: r6(s.d_z),
            rank_biserial: r6(s.rank_biserial),
            per_rating: s.per_rating.as_ref().map(JsonPairedTest::of),
            per_user: s.per_user.as_ref().map(JsonPairedTest::of),
        }
    }
}

/// The pretty-printed JSON object.
fn json_rows(cmp: &Comparison) -> String {
    let configurations = cmp
        .ranked
        .iter()
        .zip(&cmp.significance)
        .enumerate()
        .map(|(i, (s, sig))| JsonRow {
            rank: i + 1,
            label: &s.label,
            params: JsonParams(&s.params),
            folds: s.folds,
            run_ids: &s.run_ids,
            metrics: Ordered(
                cmp.metrics
                    .iter()
                    .map(|m| (m.as_str(), s.stat(m).into()))
                    .collect(),
            ),
            seconds: s.seconds.into(),
            significance: sig.as_ref().map(JsonSignificance::from),
        })
        .collect();
    let doc = JsonComparison {
        metric: cmp.metric.name(),
        direction: cmp.metric.direction().as_str(),
        significance: JsonMethod {
            against: "rank 1",
            pairing: "by fold number and repeat, on the runs both configurations have; tests are null with fewer than 2 common runs; per_rating (RMSE or MAE with saved predictions): squared or absolute errors paired by fold, repeat, user and item; per_user (a ranking metric with saved per-user values): each user's value paired by fold, repeat and user",
            t_test: significance::TESTS[0],
            wilcoxon: significance::TESTS[1],
            correction: significance::CORRECTION,
        },
        configurations,
    };
    // Serializing plain structs of strings and numbers into a String cannot fail; fall
    // back to an empty object rather than panic if it ever did.
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finished run of grid point `params` on `fold`.
    fn run(id: i64, params: &str, fold: usize, rmse: f64, mae: f64, seconds: f64) -> StoredRun {
        StoredRun {
            mae: Some(mae),
            best_epoch: Some(10),
            seconds: Some(seconds),
            ..StoredRun::finished_for_test(id, params, fold, rmse)
        }
    }

    const DOT8: &str = r#"{"model.architecture":"dot-mf","model.embedding_size":8}"#;
    const BIASED8: &str = r#"{"model.architecture":"biased-mf","model.embedding_size":8}"#;
    const BIASED16: &str = r#"{"model.architecture":"biased-mf","model.embedding_size":16}"#;

    /// Three configurations; values chosen so means and stds are easy by hand. Every
    /// run also has `ndcg@10` (higher is better).
    fn fixture() -> Vec<StoredRun> {
        let mut failed = run(7, BIASED16, 2, 0.0, 0.0, 1.0);
        failed.status = RunStatus::Failed;
        failed.rmse = None;
        failed.mae = None;
        let mut running = run(8, DOT8, 3, 0.0, 0.0, 1.0);
        running.status = RunStatus::Running;
        let mut runs = vec![
            run(1, DOT8, 0, 1.00, 0.80, 10.0),
            run(2, DOT8, 1, 1.10, 0.90, 12.0),
            run(3, DOT8, 2, 0.90, 0.70, 14.0),
            run(4, BIASED8, 0, 0.90, 0.72, 20.0),
            run(5, BIASED8, 1, 0.94, 0.70, 22.0),
            run(6, BIASED16, 0, 0.95, 0.69, 30.0),
            failed,
            running,
        ];
        for (run, ndcg) in runs.iter_mut().zip([0.10, 0.12, 0.11, 0.20, 0.22, 0.15]) {
            run.metrics.insert("ndcg@10".to_string(), ndcg);
        }
        runs
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn stat_is_mean_sample_std_and_t_interval() {
        // values 1, 2, 3, 4: mean = 10 / 4 = 2.5;
        // squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; 5 / (4 - 1) = 1.6667;
        // std = sqrt(5 / 3) = 1.2909944487358056
        // ci95 = t(0.975, 3) · std / √4 = 3.182446305284263 · 1.2909944 / 2 = 2.0542603
        let s = Stat::of(&[1.0, 2.0, 3.0, 4.0]);
        assert!(close(s.mean, 2.5));
        assert!(close(s.std, 1.290_994_448_735_805_6), "{}", s.std);
        assert_eq!(s.n, 4);
        assert!((s.ci95 - 2.054_260_3).abs() < 1e-6, "{}", s.ci95);
        assert!(close(s.ci_low(), 2.5 - s.ci95) && close(s.ci_high(), 2.5 + s.ci95));
        let one = Stat::of(&[0.7]);
        assert_eq!((one.mean, one.std, one.n), (0.7, 0.0, 1));
        assert!(one.ci95.is_nan());
        let empty = Stat::of(&[]);
        assert!(empty.mean.is_nan() && empty.std.is_nan() && empty.n == 0);
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
        assert!(close(s[0].stat("rmse").mean, 1.0) && close(s[0].stat("rmse").std, 0.1));
        assert!(close(s[0].stat("mae").mean, 0.8) && close(s[0].stat("mae").std, 0.1));
        assert!(close(s[0].seconds.mean, 12.0) && close(s[0].seconds.std, 2.0));
        // ndcg@10 0.10, 0.12, 0.11: mean 0.11, std 0.01
        assert!(close(s[0].stat("ndcg@10").mean, 0.11));
        assert!(close(s[0].stat("ndcg@10").std, 0.01));
        // biased-mf/8 rmse 0.90, 0.94: mean 0.92; ss = 2 * 0.02² = 0.0008, std = sqrt(0.0008)
        // = 0.028284271247461905. mae 0.72, 0.70: mean 0.71, std 0.014142135623730951.
        assert!(close(s[1].stat("rmse").mean, 0.92));
        assert!(close(s[1].stat("rmse").std, 0.028_284_271_247_461_905));
        assert!(close(s[1].stat("mae").std, 0.014_142_135_623_730_95));
        // One fold: std 0, no interval.
        assert_eq!(s[2].stat("rmse").mean, 0.95);
        assert_eq!(s[2].stat("rmse").std, 0.0);
        assert!(s[2].stat("rmse").ci95.is_nan());
        assert!(s[2].stat("recall@10").mean.is_nan());
        // Per-run values keyed by (fold, repeat), for pairing.
        assert_eq!(
            s[1].fold_values["rmse"].iter().collect::<Vec<_>>(),
            [(&(0, 0), &0.90), (&(1, 0), &0.94)]
        );
        assert_eq!(
            s[2].params,
            vec![
                ("model.architecture".to_string(), Value::from("biased-mf")),
                ("model.embedding_size".to_string(), Value::from(16)),
            ]
        );
        assert_eq!(metric_names(&s), ["rmse", "mae", "ndcg@10"]);
    }

    #[test]
    fn runs_of_an_edited_experiment_file_are_left_out_and_counted() {
        // Runs 1–2 ran before the base values changed, runs 3–4 after: same grid point,
        // another configuration. Only the newest configuration's runs are averaged.
        let mut old = [
            run(1, "{}", 0, 0.90, 0.7, 1.0),
            run(2, "{}", 1, 0.92, 0.7, 1.0),
        ];
        for r in &mut old {
            r.config_json = r#"{"training":{"epochs":30}}"#.into();
        }
        let mut new = [
            run(3, "{}", 0, 0.80, 0.6, 1.0),
            run(4, "{}", 1, 0.84, 0.6, 1.0),
        ];
        for r in &mut new {
            r.config_json = r#"{"training":{"epochs":50}}"#.into();
        }
        let runs = [
            old[0].clone(),
            new[0].clone(),
            old[1].clone(),
            new[1].clone(),
        ];
        assert_eq!(superseded_runs(&runs), [1, 2].into_iter().collect());
        let s = summarize(&runs);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].folds, s[0].superseded), (2, 2));
        assert!((s[0].stat("rmse").mean - 0.82).abs() < 1e-12);
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
    fn rank_follows_the_metric_direction() {
        let mut s = summarize(&fixture());
        rank(&mut s, &Metric::rmse());
        // rmse means: dot-mf/8 1.0, biased/8 0.92, biased/16 0.95 (lower is better)
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [1, 2, 0]
        );
        rank(&mut s, &Metric::mae());
        // mae means: dot-mf/8 0.8, biased/8 0.71, biased/16 0.69
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [2, 1, 0]
        );
        rank(&mut s, &Metric::new("ndcg@10"));
        // ndcg@10 means: dot-mf/8 0.11, biased/8 0.21, biased/16 0.15 (higher is better)
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [1, 2, 0]
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
        rank(&mut s, &Metric::rmse());
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [3, 0, 2, 1]
        );
    }

    #[test]
    fn unknown_metric_lists_the_metrics_the_runs_have() {
        let s = summarize(&fixture());
        assert!(check_metric(&s, &Metric::new("ndcg@10")).is_ok());
        let err = check_metric(&s, &Metric::new("ndcg@5")).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown metric `ndcg@5`: the runs have rmse, mae, ndcg@10"
        );
        assert_eq!("md".parse::<Format>().ok(), Some(Format::Markdown));
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn top_keeps_the_best_and_their_tests() {
        let c = Comparison::new(&summarize(&fixture()), &Metric::rmse()).top(2);
        assert_eq!(c.ranked.len(), 2);
        assert_eq!(c.significance.len(), 2);
        assert_eq!(c.ranked[0].grid_index, 1);
    }

    #[test]
    fn table_snapshot() {
        let out = render(&summarize(&fixture()), &Metric::rmse(), Format::Table);
        let expected = "\
rank  architecture  embedding_size             RMSE            95% CI              MAE          nDCG@10  folds  seconds  p t-test  p Wilcoxon  Holm t  Holm W    d_z
   1  biased-mf     8               0.9200 ± 0.0283  [0.6659, 1.1741]  0.7100 ± 0.0141  0.2100 ± 0.0141      2     21.0      best        best    best    best
   2  biased-mf     16              0.9500 ± 0.0000                 –  0.6900 ± 0.0000  0.1500 ± 0.0000      1     30.0         –           –       –       –      –
   3  dot-mf        8               1.0000 ± 0.1000  [0.7516, 1.2484]  0.8000 ± 0.1000  0.1100 ± 0.0100      3     12.0    0.1444      0.5000  0.1444  0.5000  3.064

Ranked by test RMSE (lower is better); mean ± sample std and t-based 95% CI over folds; seconds per run.
p: test RMSE of each configuration against rank 1, paired by fold number (and repeat) on the runs both have; – when fewer than 2 are common. Tests: paired t-test, two-sided; Wilcoxon signed-rank test, two-sided; zero differences dropped (Wilcoxon's method, not Pratt's); exact distribution for n ≤ 25 without ties, otherwise normal approximation with tie correction. With n folds the exact Wilcoxon p-value cannot go below 2/2^n (0.0625 for 5; exact up to n = 25). Holm: p-values Holm–Bonferroni corrected across the comparisons against rank 1, one family per test; d_z: Cohen's d_z (mean paired difference / its sd), sign other − best (rank_biserial in CSV and JSON: the matched-pairs rank-biserial correlation, in [−1, 1]).
";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn markdown_snapshot() {
        let out = render(
            &summarize(&fixture()),
            &Metric::new("ndcg@10"),
            Format::Markdown,
        );
        let expected = "\
| rank | architecture | embedding_size | nDCG@10 | 95% CI | RMSE | MAE | folds | seconds | p t-test | p Wilcoxon | Holm t | Holm W | d_z |
| ---: | :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| 1 | biased-mf | 8 | 0.2100 ± 0.0141 | [0.0829, 0.3371] | 0.9200 ± 0.0283 | 0.7100 ± 0.0141 | 2 | 21.0 | best | best | best | best |  |
| 2 | biased-mf | 16 | 0.1500 ± 0.0000 | – | 0.9500 ± 0.0000 | 0.6900 ± 0.0000 | 1 | 30.0 | – | – | – | – | – |
| 3 | dot-mf | 8 | 0.1100 ± 0.0100 | [0.0852, 0.1348] | 1.0000 ± 0.1000 | 0.8000 ± 0.1000 | 3 | 12.0 | <0.0001 | 0.1573 | <0.0001 | 0.1573 | – |

Ranked by test nDCG@10 (higher is better); mean ± sample std and t-based 95% CI over folds; seconds per run.
p: test nDCG@10 of each configuration against rank 1, paired by fold number (and repeat) on the runs both have; – when fewer than 2 are common. Tests: paired t-test, two-sided; Wilcoxon signed-rank test, two-sided; zero differences dropped (Wilcoxon's method, not Pratt's); exact distribution for n ≤ 25 without ties, otherwise normal approximation with tie correction. With n folds the exact Wilcoxon p-value cannot go below 2/2^n (0.0625 for 5; exact up to n = 25). Holm: p-values Holm–Bonferroni corrected across the comparisons against rank 1, one family per test; d_z: Cohen's d_z (mean paired difference / its sd), sign other − best (rank_biserial in CSV and JSON: the matched-pairs rank-biserial correlation, in [−1, 1]).
";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn csv_snapshot_parses_with_the_csv_crate() {
        let out = render(&summarize(&fixture()), &Metric::rmse(), Format::Csv);
        let expected = "\
rank,model.architecture,model.embedding_size,label,folds,rmse_mean,rmse_std,rmse_ci95_low,rmse_ci95_high,mae_mean,mae_std,mae_ci95_low,mae_ci95_high,ndcg@10_mean,ndcg@10_std,ndcg@10_ci95_low,ndcg@10_ci95_high,seconds_mean,seconds_std,paired_folds,p_ttest,p_wilcoxon,p_ttest_holm,p_wilcoxon_holm,d_z,rank_biserial,rating_pairs,rating_p_ttest,rating_p_wilcoxon,rating_p_ttest_holm,rating_p_wilcoxon_holm,rating_d_z,rating_rank_biserial,user_pairs,user_p_ttest,user_p_wilcoxon,user_p_ttest_holm,user_p_wilcoxon_holm,user_d_z,user_rank_biserial,run_ids
1,biased-mf,8,architecture=biased-mf embedding_size=8,2,0.920000,0.028284,0.665876,1.174124,0.710000,0.014142,0.582938,0.837062,0.210000,0.014142,0.082938,0.337062,21.000000,1.414214,,,,,,,,,,,,,,,,,,,,,,4 5
2,biased-mf,16,architecture=biased-mf embedding_size=16,1,0.950000,0.000000,,,0.690000,0.000000,,,0.150000,0.000000,,,30.000000,0.000000,1,,,,,,,,,,,,,,,,,,,,,6
3,dot-mf,8,architecture=dot-mf embedding_size=8,3,1.000000,0.100000,0.751586,1.248414,0.800000,0.100000,0.551586,1.048414,0.110000,0.010000,0.085159,0.134841,12.000000,2.000000,2,0.144385,0.500000,0.144385,0.500000,3.064129,1.000000,,,,,,,,,,,,,,,1 2 3
";
        assert_eq!(out, expected, "\n{out}");
        let mut reader = csv::Reader::from_reader(out.as_bytes());
        let header = reader.headers().expect("header").clone();
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .expect("every row parses");
        assert_eq!(rows.len(), 3);
        let col = |name: &str| header.iter().position(|h| h == name).expect(name);
        assert_eq!(&rows[0][col("model.architecture")], "biased-mf");
        assert_eq!(&rows[0][col("rmse_mean")], "0.920000");
        assert_eq!(&rows[0][col("p_ttest")], "", "rank 1 is not tested");
        assert_eq!(&rows[1][col("paired_folds")], "1");
        assert_eq!(&rows[2][col("paired_folds")], "2");
        assert!(rows.iter().all(|r| r.len() == header.len()));
    }

    #[test]
    fn csv_quotes_awkward_values() {
        let json = r#"{"model.layers":[64,32],"data.name":"a \"b\""}"#;
        let out = render(
            &summarize(&[run(1, json, 0, 1.0, 0.8, 1.0)]),
            &Metric::rmse(),
            Format::Csv,
        );
        let row = out.lines().nth(1).expect("one row");
        assert!(
            row.starts_with(r#"1,"[64,32]","a ""b""","layers=[64,32] name=a ""b""",1,"#),
            "{row}"
        );
    }

    #[test]
    fn json_snapshot_parses_with_serde_json() {
        let out = render(&summarize(&fixture()[..5]), &Metric::rmse(), Format::Json);
        let expected = r#"{
  "metric": "rmse",
  "direction": "lower",
  "significance": {
    "against": "rank 1",
    "pairing": "by fold number and repeat, on the runs both configurations have; tests are null with fewer than 2 common runs; per_rating (RMSE or MAE with saved predictions): squared or absolute errors paired by fold, repeat, user and item; per_user (a ranking metric with saved per-user values): each user's value paired by fold, repeat and user",
    "t_test": "paired t-test, two-sided",
    "wilcoxon": "Wilcoxon signed-rank test, two-sided; zero differences dropped (Wilcoxon's method, not Pratt's); exact distribution for n ≤ 25 without ties, otherwise normal approximation with tie correction",
    "correction": "Holm: p-values Holm–Bonferroni corrected across the comparisons against rank 1, one family per test; d_z: Cohen's d_z (mean paired difference / its sd), sign other − best (rank_biserial in CSV and JSON: the matched-pairs rank-biserial correlation, in [−1, 1])"
  },
  "configurations": [
    {
      "rank": 1,
      "label": "architecture=biased-mf embedding_size=8",
      "params": {
        "model.architecture": "biased-mf",
        "model.embedding_size": 8
      },
      "folds": 2,
      "run_ids": [
        4,
        5
      ],
      "metrics": {
        "rmse": {
          "mean": 0.92,
          "std": 0.028284,
          "ci95_low": 0.665876,
          "ci95_high": 1.174124,
          "n": 2
        },
        "mae": {
          "mean": 0.71,
          "std": 0.014142,
          "ci95_low": 0.582938,
          "ci95_high": 0.837062,
          "n": 2
        },
        "ndcg@10": {
          "mean": 0.21,
          "std": 0.014142,
          "ci95_low": 0.082938,
          "ci95_high": 0.337062,
          "n": 2
        }
      },
      "seconds": {
        "mean": 21.0,
        "std": 1.414214,
        "ci95_low": 8.293795,
        "ci95_high": 33.706205,
        "n": 2
      },
      "significance": null
    },
    {
      "rank": 2,
      "label": "architecture=dot-mf embedding_size=8",
      "params": {
        "model.architecture": "dot-mf",
        "model.embedding_size": 8
      },
      "folds": 3,
      "run_ids": [
        1,
        2,
        3
      ],
      "metrics": {
        "rmse": {
          "mean": 1.0,
          "std": 0.1,
          "ci95_low": 0.751586,
          "ci95_high": 1.248414,
          "n": 3
        },
        "mae": {
          "mean": 0.8,
          "std": 0.1,
          "ci95_low": 0.551586,
          "ci95_high": 1.048414,
          "n": 3
        },
        "ndcg@10": {
          "mean": 0.11,
          "std": 0.01,
          "ci95_low": 0.085159,
          "ci95_high": 0.134841,
          "n": 3
        }
      },
      "seconds": {
        "mean": 12.0,
        "std": 2.0,
        "ci95_low": 7.031725,
        "ci95_high": 16.968275,
        "n": 3
      },
      "significance": {
        "paired_folds": 2,
        "t_test": {
          "t": 4.333333,
          "df": 1,
          "p": 0.144385
        },
        "wilcoxon": {
          "statistic": 0.0,
          "n": 2,
          "p": 0.5,
          "method": "exact"
        },
        "p_ttest_holm": 0.144385,
        "p_wilcoxon_holm": 0.5,
        "d_z": 3.064129,
        "rank_biserial": 1.0,
        "per_rating": null,
        "per_user": null
      }
    }
  ]
}
"#;
        assert_eq!(out, expected, "\n{out}");
        let doc: Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(doc["metric"], "rmse");
        assert_eq!(doc["direction"], "lower");
        assert!(doc["significance"]["wilcoxon"].as_str().is_some());
        let rows = doc["configurations"].as_array().expect("array");
        assert_eq!(rows.len(), 2);
        assert!(rows[0]["significance"].is_null());
        assert_eq!(rows[1]["significance"]["paired_folds"], 2);
    }

    #[test]
    fn empty_input_renders_headers_only() {
        let json = render(&[], &Metric::rmse(), Format::Json);
        let doc: Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(doc["configurations"], Value::Array(vec![]));
        let table = render(&[], &Metric::rmse(), Format::Table);
        assert!(
            table.starts_with(
                "rank  RMSE  95% CI  folds  seconds  p t-test  p Wilcoxon  Holm t  Holm W  d_z\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn run_ids_follow_folds_and_print_as_ranges() {
        let summaries = summarize(&fixture());
        let ids: Vec<&[i64]> = summaries.iter().map(|s| s.run_ids.as_slice()).collect();
        // The failed run 7 and the running run 8 are not averaged, so not listed.
        assert_eq!(ids, [&[1, 2, 3][..], &[4, 5][..], &[6][..]]);
        assert_eq!(id_ranges(&[1, 2, 3]), "1-3");
        assert_eq!(id_ranges(&[9, 1, 2, 5, 12, 13]), "1-2,5,9,12-13");
        assert_eq!(id_ranges(&[4]), "4");
        assert_eq!(id_ranges(&[]), "");
        let table = Comparison::new(&summaries, &Metric::new("rmse"))
            .with_run_ids()
            .render(Format::Table);
        let header = table.lines().next().unwrap();
        assert!(header.contains("  folds  runs  seconds"), "{table}");
        assert!(table.contains("  1-3  "), "{table}");
        let plain = render(&summaries, &Metric::new("rmse"), Format::Table);
        assert!(!plain.lines().next().unwrap().contains("runs"), "{plain}");
    }

    #[test]
    fn single_run_tables_show_no_spread_interval_or_tests() {
        let runs = [
            run(1, DOT8, 0, 1.00, 0.80, 10.0),
            run(2, BIASED8, 0, 0.90, 0.72, 20.0),
        ];
        let table = render(&summarize(&runs), &Metric::new("rmse"), Format::Table);
        let header = table.lines().next().unwrap();
        assert!(
            !header.contains("CI") && !header.contains("p t-test"),
            "{table}"
        );
        assert!(!table.contains('±') && !table.contains("best"), "{table}");
        assert!(table.contains("0.9000  0.7200"), "{table}");
        assert!(table.contains("one run per configuration"), "{table}");
        assert_eq!(
            table.lines().filter(|l| !l.is_empty()).count(),
            4,
            "{table}"
        );
    }
}
