//! Which colour a configuration gets: one mapping shared by every chart of a report.
//!
//! A colour should mean something a reader can name, and mean the same thing in every
//! chart. So configurations are coloured by the value of one *categorical* swept
//! parameter (the colour key), with a legend naming the values: `model.architecture`
//! when it is swept, else the first other categorical parameter, else `experiment` in a
//! report that pools several experiments. Each value keeps its place in
//! [`PALETTE`](super::charts::PALETTE), in sweep order, so `biased-mf` is the same orange in the
//! dot plots, learning curves, Pareto, sensitivity and parallel-coordinates charts. A
//! parameter with more values than the palette has colours is not a key (colours would
//! repeat); with no key every configuration gets the first colour.
//!
//! The mapping depends only on the set of configurations, not on their order, so every
//! chart that builds it from the same summaries gets the same colours.

use plotters::style::RGBColor;
use serde_json::Value;

use super::charts::PALETTE;
use super::compare::{ConfigSummary, display_value};
use super::grid;
use super::pool::EXPERIMENT_PARAM;

/// The swept key preferred as the colour key when it is categorical.
const PREFERRED: &str = "model.architecture";

/// The colour of every configuration in a report: by the value of one categorical swept
/// parameter, or one colour for all.
#[derive(Debug, Clone, PartialEq)]
pub struct ColourKey {
    /// The full key of the parameter (`model.architecture`); `None`: one colour for all.
    pub key: Option<String>,
    /// The short name shown as the legend's heading (`architecture`).
    pub name: String,
    /// The key's values in sweep order; value *i* gets `PALETTE[i]`.
    pub values: Vec<Value>,
}

impl ColourKey {
    /// Chooses the colour key of `summaries` (see the module comment for the order of
    /// preference). Only categorical parameters with 2 to `PALETTE.len()` values qualify.
    pub fn choose(summaries: &[ConfigSummary]) -> ColourKey {
        // Grid order, whatever order the caller ranked the summaries in.
        let mut ordered: Vec<ConfigSummary> = summaries.to_vec();
        ordered.sort_by_key(|s| s.grid_index);
        let axes = grid::axes(&ordered);
        let candidates: Vec<&grid::Axis> = axes
            .iter()
            .filter(|a| !a.numeric && (2..=PALETTE.len()).contains(&a.values.len()))
            .collect();
        let pick = candidates
            .iter()
            .find(|a| a.key == PREFERRED)
            .or_else(|| candidates.iter().find(|a| a.key != EXPERIMENT_PARAM))
            .or_else(|| candidates.first());
        match pick {
            Some(axis) => ColourKey {
                key: Some(axis.key.clone()),
                name: axis.name.clone(),
                values: axis.values.clone(),
            },
            None => ColourKey {
                key: None,
                name: String::new(),
                values: Vec::new(),
            },
        }
    }

    /// Whether colours mean something (there is a key and so a legend).
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// The palette index of `summary`: its key value's place (0 without a key).
    pub fn index(&self, summary: &ConfigSummary) -> usize {
        self.key
            .as_deref()
            .and_then(|k| summary.param(k))
            .and_then(|v| self.values.iter().position(|x| x == v))
            .unwrap_or(0)
    }

    /// The colour of `summary`.
    pub fn colour(&self, summary: &ConfigSummary) -> RGBColor {
        PALETTE[self.index(summary) % PALETTE.len()]
    }

    /// The legend: each value as printed, with its palette index; empty without a key.
    pub fn legend(&self) -> Vec<(String, usize)> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (display_value(v), i))
            .collect()
    }

    /// A phrase for chart notes: `colour: architecture`, or `None` without a key.
    pub fn phrase(&self) -> Option<String> {
        self.key.as_ref().map(|_| format!("colour: {}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::summarize;
    use crate::store::records::StoredRun;

    fn run(id: i64, params: &str) -> StoredRun {
        StoredRun::finished_for_test(id, params, 0, 0.9 + id as f64 * 0.01)
    }

    fn summaries(params: &[&str]) -> Vec<ConfigSummary> {
        let runs: Vec<StoredRun> = params
            .iter()
            .enumerate()
            .map(|(i, p)| run(i as i64 + 1, p))
            .collect();
        summarize(&runs)
    }

    #[test]
    fn architecture_is_the_key_and_values_keep_their_colour_in_any_order() {
        let s = summaries(&[
            r#"{"training.optimizer":"adam","model.architecture":"dot-mf","model.embedding_size":8}"#,
            r#"{"training.optimizer":"sgd","model.architecture":"biased-mf","model.embedding_size":8}"#,
            r#"{"training.optimizer":"adam","model.architecture":"biased-mf","model.embedding_size":16}"#,
        ]);
        let key = ColourKey::choose(&s);
        assert_eq!(key.key.as_deref(), Some("model.architecture"));
        assert_eq!(key.name, "architecture");
        assert_eq!(
            key.legend(),
            [("dot-mf".to_string(), 0), ("biased-mf".to_string(), 1)]
        );
        assert_eq!(key.phrase().as_deref(), Some("colour: architecture"));
        // Same value, same colour, whatever the configuration.
        assert_eq!(key.index(&s[1]), key.index(&s[2]));
        assert_eq!(key.colour(&s[0]), PALETTE[0]);
        // A chart that ranks its summaries first gets the same mapping.
        let mut reversed = s.clone();
        reversed.reverse();
        assert_eq!(ColourKey::choose(&reversed), key);
    }

    #[test]
    fn otherwise_the_first_categorical_key_then_the_experiment_then_none() {
        let s = summaries(&[
            r#"{"experiment":"a","training.optimizer":"adam","model.embedding_size":8}"#,
            r#"{"experiment":"b","training.optimizer":"sgd","model.embedding_size":8}"#,
        ]);
        assert_eq!(
            ColourKey::choose(&s).key.as_deref(),
            Some("training.optimizer")
        );
        let pooled = summaries(&[r#"{"experiment":"a"}"#, r#"{"experiment":"b"}"#]);
        let key = ColourKey::choose(&pooled);
        assert_eq!(key.key.as_deref(), Some("experiment"));
        assert_eq!((key.index(&pooled[0]), key.index(&pooled[1])), (0, 1));
        // Only numbers swept: one colour, no legend.
        let numeric = summaries(&[
            r#"{"model.embedding_size":8}"#,
            r#"{"model.embedding_size":16}"#,
        ]);
        let none = ColourKey::choose(&numeric);
        assert!(!none.is_keyed() && none.legend().is_empty() && none.phrase().is_none());
        assert_eq!(none.index(&numeric[1]), 0);
    }

    #[test]
    fn a_key_with_more_values_than_colours_is_not_used() {
        let params: Vec<String> = (0..=PALETTE.len())
            .map(|i| {
                format!(
                    r#"{{"model.architecture":"arch{i}","training.optimizer":"{}"}}"#,
                    if i % 2 == 0 { "adam" } else { "sgd" }
                )
            })
            .collect();
        let refs: Vec<&str> = params.iter().map(String::as_str).collect();
        let key = ColourKey::choose(&summaries(&refs));
        assert_eq!(key.key.as_deref(), Some("training.optimizer"));
    }
}
