//! Metric names as reports use them: which way is better, how to print the name, what
//! unit the values have, and in which order to list them.
//!
//! Runs store any number of named metrics (`rmse`, `mae` in their own columns, others
//! such as `ndcg@10` in `run_metrics`), so reports work from names rather than a closed
//! list. Whether lower or higher is better is each metric's own statement, looked up by
//! name in one place, [`direction`].

use std::cmp::Ordering;
use std::fmt;

use crate::config::spec::{MetricName, RankingMetric};

pub use crate::config::spec::Direction;

/// Whether lower or higher values of the metric called `name` are better, as the metric
/// itself states it ([`MetricName::direction`], [`RankingKind::direction`]).
///
/// Every name a run stores is one of those; a name exp does not know (none is stored by
/// this version) is taken as lower-is-better, the direction of an error.
///
/// [`RankingKind::direction`]: crate::config::spec::RankingKind::direction
pub fn direction(name: &str) -> Direction {
    if let Some(metric) = MetricName::ALL.into_iter().find(|m| m.as_str() == name) {
        return metric.direction();
    }
    match RankingMetric::parse(name) {
        Ok(metric) => metric.kind.direction(),
        Err(_) => Direction::LowerIsBetter,
    }
}

/// A metric chosen by name, e.g. on the command line with `--metric`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Metric {
    name: String,
}

impl Metric {
    /// The metric called `name` (any name; whether runs have it is checked elsewhere).
    pub fn new(name: impl Into<String>) -> Metric {
        Metric { name: name.into() }
    }

    /// Test RMSE, the default ranking metric.
    pub fn rmse() -> Metric {
        Metric::new("rmse")
    }

    /// Test MAE.
    pub fn mae() -> Metric {
        Metric::new("mae")
    }

    /// The stored name: `rmse`, `ndcg@10`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name for people: `RMSE`, `MAE`, `nDCG@10`, or the stored name.
    pub fn label(&self) -> String {
        label(&self.name)
    }

    /// The label with its unit where it has one: `RMSE (rating points)`.
    pub fn label_with_unit(&self) -> String {
        match unit(&self.name) {
            Some(u) => format!("{} ({u})", self.label()),
            None => self.label(),
        }
    }

    /// Which way this metric improves.
    pub fn direction(&self) -> Direction {
        direction(&self.name)
    }

    /// Orders two values best first (`Less` when `a` is better); NaN sorts last.
    pub fn compare(&self, a: f64, b: f64) -> Ordering {
        let by_value = match self.direction() {
            Direction::LowerIsBetter => a.total_cmp(&b),
            Direction::HigherIsBetter => b.total_cmp(&a),
        };
        a.is_nan().cmp(&b.is_nan()).then(by_value)
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        self.compare(a, b) == Ordering::Less && !a.is_nan()
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The printed name of a metric: upper case for the error metrics (`RMSE`, `MAE`),
/// `nDCG@k` and `MAP@k`/`MRR` as usually written, other names unchanged.
pub fn label(name: &str) -> String {
    let (base, k) = match name.split_once('@') {
        Some((b, k)) => (b, Some(k)),
        None => (name, None),
    };
    let base = match base {
        "rmse" | "mae" | "mse" | "map" | "mrr" => base.to_ascii_uppercase(),
        "ndcg" => "nDCG".to_string(),
        other => other.to_string(),
    };
    match k {
        Some(k) => format!("{base}@{k}"),
        None => base,
    }
}

/// The unit of a metric's values, if it has one: rating errors are in rating points (the
/// data set's scale, stars for MovieLens); ranking metrics are fractions without unit.
pub fn unit(name: &str) -> Option<&'static str> {
    match name {
        "rmse" | "mae" => Some("rating points"),
        _ => None,
    }
}

/// Metric names in report order: `rmse`, `mae`, then the others alphabetically; each
/// name once.
pub fn order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut all: Vec<String> = names.into_iter().map(String::from).collect();
    all.sort_by(|a, b| {
        let rank = |n: &str| match n {
            "rmse" => 0,
            "mae" => 1,
            _ => 2,
        };
        rank(a).cmp(&rank(b)).then(a.cmp(b))
    });
    all.dedup();
    all
}

/// A file-name-safe form of a metric name: `ndcg@10` → `ndcg_at_10`.
pub fn file_stem(name: &str) -> String {
    name.replace('@', "_at_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_losses_are_lower_is_better_ranking_metrics_higher() {
        for name in ["rmse", "mae"] {
            assert_eq!(direction(name), Direction::LowerIsBetter, "{name}");
        }
        for name in [
            "ndcg@10",
            "precision@5",
            "recall@10",
            "hit-rate@10",
            "map@10",
            "mrr",
            "coverage@10",
        ] {
            assert_eq!(direction(name), Direction::HigherIsBetter, "{name}");
        }
        // Each metric states its own direction; the name only finds the metric.
        for metric in MetricName::ALL {
            assert_eq!(direction(metric.as_str()), metric.direction());
        }
        for kind in crate::config::spec::RankingKind::ALL {
            let name = format!("{}@5", kind.as_str());
            assert_eq!(direction(&name), kind.direction(), "{name}");
        }
        assert!(Direction::LowerIsBetter.better(0.8, 0.9));
        assert!(Direction::HigherIsBetter.better(0.9, 0.8));
        assert!(!Direction::LowerIsBetter.better(f64::NAN, 0.9));
    }

    #[test]
    fn compare_puts_the_better_value_first_and_nan_last() {
        let rmse = Metric::rmse();
        assert_eq!(rmse.compare(0.8, 0.9), Ordering::Less);
        assert!(rmse.better(0.8, 0.9) && !rmse.better(0.9, 0.8));
        let ndcg = Metric::new("ndcg@10");
        assert_eq!(ndcg.compare(0.3, 0.2), Ordering::Less);
        assert_eq!(ndcg.compare(f64::NAN, 0.2), Ordering::Greater);
        assert_eq!(rmse.compare(f64::NAN, 0.2), Ordering::Greater);
        assert!(!ndcg.better(f64::NAN, 0.2));
    }

    #[test]
    fn labels_units_order_and_file_names() {
        assert_eq!(label("rmse"), "RMSE");
        assert_eq!(label("ndcg@10"), "nDCG@10");
        assert_eq!(label("map@10"), "MAP@10");
        assert_eq!(label("precision@5"), "precision@5");
        assert_eq!(Metric::rmse().label_with_unit(), "RMSE (rating points)");
        assert_eq!(Metric::new("mrr").label_with_unit(), "MRR");
        assert_eq!(
            order(["recall@10", "mae", "ndcg@10", "rmse", "mae"]),
            ["rmse", "mae", "ndcg@10", "recall@10"]
        );
        assert_eq!(file_stem("ndcg@10"), "ndcg_at_10");
        assert_eq!(file_stem("a/b c"), "a_b_c");
    }
}
