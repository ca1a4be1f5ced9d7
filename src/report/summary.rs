//! What `exp compare` knows of one configuration: its swept values and each metric's
//! mean, spread and confidence interval over folds. Shared by the comparison table, the
//! significance tests and the charts.

use std::collections::BTreeMap;

use serde_json::Value;

use super::stats::ci95_half_width;

/// Mean, spread and 95 % confidence interval of one quantity over the folds of a
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Arithmetic mean (NaN when there are no values).
    pub mean: f64,
    /// Sample standard deviation, dividing by n − 1; 0 for a single value, NaN for none.
    pub std: f64,
    /// Number of values.
    pub n: usize,
    /// Half-width of the t-based 95 % confidence interval of the mean,
    /// t₀.₉₇₅,ₙ₋₁ · std / √n; NaN for fewer than 2 values.
    pub ci95: f64,
}

impl Stat {
    /// The statistic of `values`.
    pub fn of(values: &[f64]) -> Stat {
        let n = values.len();
        if n == 0 {
            return Stat {
                mean: f64::NAN,
                std: f64::NAN,
                n,
                ci95: f64::NAN,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n == 1 {
            0.0
        } else {
            let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            (ss / (n - 1) as f64).sqrt()
        };
        Stat {
            mean,
            std,
            n,
            ci95: ci95_half_width(std, n),
        }
    }

    /// The statistic of nothing: every field NaN, n = 0.
    pub fn missing() -> Stat {
        Stat::of(&[])
    }

    /// Lower end of the 95 % confidence interval.
    pub fn ci_low(&self) -> f64 {
        self.mean - self.ci95
    }

    /// Upper end of the 95 % confidence interval.
    pub fn ci_high(&self) -> f64 {
        self.mean + self.ci95
    }
}

/// Where a run sits in its configuration: (fold, repeat), both 0-based. Runs of two
/// configurations in the same slot were tested on the same ratings (the same split of the
/// same seed), which is what pairs them.
pub type RunSlot = (usize, usize);

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
    /// across rankings; the charts' colour key lists its values in this order.
    pub grid_index: usize,
    /// Number of finished runs (folds, times repeats) averaged.
    pub folds: usize,
    /// The ids of those runs, in (fold, repeat) order: what `exp show`, `recommend` and
    /// `similar` take.
    pub run_ids: Vec<i64>,
    /// Finished runs of this grid point left out because they ran under an earlier
    /// version of the experiment file (same swept values, other base values).
    pub superseded: usize,
    /// Every metric the runs have (`rmse`, `mae`, `ndcg@10`, …) over folds.
    pub metrics: BTreeMap<String, Stat>,
    /// The per-run values behind [`ConfigSummary::metrics`]: metric → (fold, repeat) →
    /// value; what the significance tests pair.
    pub fold_values: BTreeMap<String, BTreeMap<RunSlot, f64>>,
    /// Wall-clock seconds per run (training and evaluation) over folds.
    pub seconds: Stat,
}

impl ConfigSummary {
    /// The parameter values in sweep order, as printed in tables (`dot-mf`, `8`).
    pub fn values(&self) -> Vec<String> {
        self.params.iter().map(|(_, v)| display_value(v)).collect()
    }

    /// The statistic of metric `name` (all NaN when the runs lack it).
    pub fn stat(&self, name: &str) -> Stat {
        self.metrics
            .get(name)
            .copied()
            .unwrap_or_else(Stat::missing)
    }

    /// The value of the swept parameter `key` (full key), if this configuration has it.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A parameter value as people write it: strings without quotes, everything else as JSON.
pub(crate) fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
