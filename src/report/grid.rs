//! The swept parameters as chart axes, and slices through the grid.
//!
//! Charts that put a parameter on an axis need to know whether it is numeric (placed by
//! value, on a log scale when its values span a factor of 10 or more) or categorical
//! (evenly spaced, in sweep order), and which configurations to draw when more
//! parameters are swept than the chart has axes. The answer used throughout the report
//! is a *slice through the best configuration*: the parameters a chart does not show
//! are held at the best configuration's values, so every point drawn is one real
//! configuration (mean over folds), never an average over different settings.

use serde_json::Value;

use super::compare::{ConfigSummary, column_keys, display_value, rank, short_names};
use super::metric::Metric;

/// One swept parameter as an axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The full dotted key, `model.embedding_size`.
    pub key: String,
    /// The short name shown on charts, `embedding_size`.
    pub name: String,
    /// The distinct values: ascending for numeric axes, first-seen (sweep) order
    /// otherwise.
    pub values: Vec<Value>,
    /// Whether every value is a number.
    pub numeric: bool,
    /// Whether a numeric axis is drawn on a log scale (all values > 0, largest ≥ 10 ×
    /// smallest).
    pub log: bool,
}

impl Axis {
    /// The position of `value` along the axis: its logarithm on log axes, itself on
    /// linear ones, its index on categorical ones. `None` for a value not on the axis.
    pub fn position(&self, value: &Value) -> Option<f64> {
        if self.numeric {
            let v = value.as_f64()?;
            Some(if self.log { v.ln() } else { v })
        } else {
            self.values
                .iter()
                .position(|x| x == value)
                .map(|i| i as f64)
        }
    }

    /// The positions of the axis's values, with their labels, for ticks.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        self.values
            .iter()
            .filter_map(|v| self.position(v).map(|p| (p, display_value(v))))
            .collect()
    }

    /// The index of `value` among the axis's values.
    pub fn index(&self, value: &Value) -> Option<usize> {
        self.values.iter().position(|x| x == value)
    }
}

/// The swept parameters of `summaries` as axes, in sweep order.
pub fn axes(summaries: &[ConfigSummary]) -> Vec<Axis> {
    let params: Vec<Vec<(String, Value)>> = summaries.iter().map(|s| s.params.clone()).collect();
    let keys = column_keys(&params);
    let names = short_names(&keys);
    keys.iter()
        .map(|key| {
            let mut values: Vec<Value> = Vec::new();
            for v in summaries.iter().filter_map(|s| s.param(key)) {
                if !values.contains(v) {
                    values.push(v.clone());
                }
            }
            let numeric = values.iter().all(Value::is_number);
            let mut log = false;
            if numeric {
                values.sort_by(|a, b| {
                    let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                    x.total_cmp(&y)
                });
                let nums: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
                let (lo, hi) = (nums.first().copied(), nums.last().copied());
                if let (Some(lo), Some(hi)) = (lo, hi) {
                    log = lo > 0.0 && hi >= 10.0 * lo;
                }
            }
            Axis {
                name: names.get(key).cloned().unwrap_or_else(|| key.clone()),
                key: key.clone(),
                values,
                numeric,
                log,
            }
        })
        .collect()
}

/// The best configuration by `metric` (`None` when there are none).
pub fn best(summaries: &[ConfigSummary], metric: &Metric) -> Option<ConfigSummary> {
    let mut ranked = summaries.to_vec();
    rank(&mut ranked, metric);
    ranked
        .into_iter()
        .next()
        .filter(|s| s.stat(metric.name()).mean.is_finite())
}

/// The configurations that agree with `anchor` on every swept parameter except those in
/// `free`: a slice through the grid at `anchor`.
pub fn slice<'a>(
    summaries: &'a [ConfigSummary],
    anchor: &ConfigSummary,
    free: &[&str],
) -> Vec<&'a ConfigSummary> {
    summaries
        .iter()
        .filter(|s| {
            anchor
                .params
                .iter()
                .filter(|(k, _)| !free.contains(&k.as_str()))
                .all(|(k, v)| s.param(k) == Some(v))
        })
        .collect()
}

/// `name=value` of the parameters held fixed in a slice at `anchor` (all but `free`),
/// joined with `, `; empty when none are.
pub fn fixed_phrase(axes: &[Axis], anchor: &ConfigSummary, free: &[&str]) -> String {
    axes.iter()
        .filter(|a| !free.contains(&a.key.as_str()))
        .filter_map(|a| {
            anchor
                .param(&a.key)
                .map(|v| format!("{}={}", a.name, display_value(v)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::summarize;
    use crate::store::records::StoredRun;

    fn run(id: i64, arch: &str, size: u32, lr: f64, rmse: f64) -> StoredRun {
        StoredRun::finished_for_test(
            id,
            &format!(
                r#"{{"model.architecture":"{arch}","model.embedding_size":{size},"training.learning_rate":{lr}}}"#
            ),
            0,
            rmse,
        )
    }

    fn grid() -> Vec<ConfigSummary> {
        summarize(&[
            run(1, "dot-mf", 64, 0.01, 0.95),
            run(2, "dot-mf", 8, 0.01, 0.93),
            run(3, "biased-mf", 64, 0.01, 0.85),
            run(4, "biased-mf", 8, 0.01, 0.86),
            run(5, "biased-mf", 8, 0.001, 0.90),
            run(6, "biased-mf", 16, 0.001, 0.91),
        ])
    }

    #[test]
    fn axes_know_numeric_log_and_categorical_parameters() {
        let a = axes(&grid());
        assert_eq!(
            a.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
            ["architecture", "embedding_size", "learning_rate"]
        );
        assert!(!a[0].numeric && !a[0].log);
        assert_eq!(
            a[0].values,
            [Value::from("dot-mf"), Value::from("biased-mf")]
        );
        // Sizes sorted ascending; 8 → 64 is only 8×: linear.
        assert!(a[1].numeric && !a[1].log);
        assert_eq!(
            a[1].values,
            [Value::from(8), Value::from(16), Value::from(64)]
        );
        // 0.001 → 0.01 is 10×: log.
        assert!(a[2].numeric && a[2].log);
        assert_eq!(a[0].position(&Value::from("biased-mf")), Some(1.0));
        assert_eq!(a[1].position(&Value::from(16)), Some(16.0));
        assert!((a[2].position(&Value::from(0.01)).expect("on axis") - 0.01f64.ln()).abs() < 1e-12);
        assert_eq!(a[1].ticks()[0], (8.0, "8".to_string()));
        assert_eq!(a[0].index(&Value::from("ncf")), None);
    }

    #[test]
    fn slices_hold_the_other_parameters_at_the_best() {
        let g = grid();
        let best = best(&g, &Metric::rmse()).expect("best");
        assert_eq!(
            best.label,
            "architecture=biased-mf embedding_size=64 learning_rate=0.01"
        );
        let s = slice(&g, &best, &["model.embedding_size", "model.architecture"]);
        // learning_rate = 0.01: four configurations.
        assert_eq!(
            s.iter().map(|c| c.grid_index).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        let a = axes(&g);
        assert_eq!(
            fixed_phrase(&a, &best, &["model.embedding_size", "model.architecture"]),
            "learning_rate=0.01"
        );
        assert_eq!(fixed_phrase(&a, &best, &[]).matches('=').count(), 3);
    }
}
