//! `--where key=value`: keep the configurations whose swept parameter has a value.
//!
//! A key is a swept parameter's full dotted name (`model.embedding_size`) or its short
//! name (`embedding_size`, the last segment, as table headers show it). A value matches
//! the parameter as printed (`dot-mf`, `[64,32]`) or, for numbers, numerically
//! (`0.010` matches `0.01`). Mistakes are errors that list what exists, never an empty
//! table.

use serde_json::Value;

use super::ReportError;
use super::compare::{ConfigSummary, display_value};

/// One parsed `--where key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The key as written.
    pub key: String,
    /// The value as written.
    pub value: String,
}

impl Filter {
    /// Parses `key=value` (the first `=` splits; spaces around either side are trimmed).
    pub fn parse(arg: &str) -> Result<Filter, ReportError> {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok(Filter {
                key: k.trim().to_string(),
                value: v.trim().to_string(),
            }),
            _ => Err(ReportError::BadFilter(arg.to_string())),
        }
    }
}

/// Whether `value` (a parameter's stored JSON value) matches the text `wanted`.
fn matches(value: &Value, wanted: &str) -> bool {
    let shown = display_value(value);
    if shown == wanted || shown.replace(' ', "") == wanted.replace(' ', "") {
        return true;
    }
    match (value.as_f64(), wanted.parse::<f64>()) {
        (Some(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The full key `key` names among `keys`: itself, or the one key whose last segment it
/// is.
fn resolve<'a>(key: &str, keys: &'a [String]) -> Result<&'a String, ReportError> {
    if let Some(k) = keys.iter().find(|k| *k == key) {
        return Ok(k);
    }
    let by_short: Vec<&String> = keys
        .iter()
        .filter(|k| k.rsplit('.').next() == Some(key))
        .collect();
    match by_short.as_slice() {
        [one] => Ok(one),
        [] => Err(ReportError::UnknownParam {
            key: key.to_string(),
            known: if keys.is_empty() {
                "none, nothing is swept".to_string()
            } else {
                keys.join(", ")
            },
        }),
        many => Err(ReportError::AmbiguousParam {
            key: key.to_string(),
            candidates: many
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The configurations of `summaries` that satisfy every filter, in their order.
///
/// Errors: an unknown or ambiguous key (listing the swept keys), a value no
/// configuration has (listing the values it does have), or filters that together match
/// nothing.
pub fn apply(
    summaries: &[ConfigSummary],
    filters: &[Filter],
) -> Result<Vec<ConfigSummary>, ReportError> {
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in summaries.iter().flat_map(|s| &s.params) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let mut resolved = Vec::new();
    for filter in filters {
        let key = resolve(&filter.key, &keys)?;
        let values: Vec<&Value> = summaries
            .iter()
            .filter_map(|s| s.params.iter().find(|(k, _)| k == key).map(|(_, v)| v))
            .collect();
        if !values.iter().any(|v| matches(v, &filter.value)) {
            let mut known: Vec<String> = values.iter().map(|v| display_value(v)).collect();
            known.dedup();
            let mut unique = Vec::new();
            for v in known {
                if !unique.contains(&v) {
                    unique.push(v);
                }
            }
            return Err(ReportError::UnknownValue {
                key: key.clone(),
                value: filter.value.clone(),
                known: unique.join(", "),
            });
        }
        resolved.push((key.clone(), filter.value.as_str()));
    }
    let kept: Vec<ConfigSummary> = summaries
        .iter()
        .filter(|s| {
            resolved
                .iter()
                .all(|(key, wanted)| s.params.iter().any(|(k, v)| k == key && matches(v, wanted)))
        })
        .cloned()
        .collect();
    if kept.is_empty() && !summaries.is_empty() {
        return Err(ReportError::NoMatch(
            filters
                .iter()
                .map(|f| format!("{}={}", f.key, f.value))
                .collect::<Vec<_>>()
                .join(" and "),
        ));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::summarize;
    use crate::store::records::StoredRun;

    fn run(id: i64, params: &str) -> StoredRun {
        StoredRun::finished_for_test(id, params, 0, 1.0)
    }

    fn grid() -> Vec<ConfigSummary> {
        summarize(&[
            run(
                1,
                r#"{"model.architecture":"dot-mf","training.learning_rate":0.01}"#,
            ),
            run(
                2,
                r#"{"model.architecture":"dot-mf","training.learning_rate":0.001}"#,
            ),
            run(
                3,
                r#"{"model.architecture":"biased-mf","training.learning_rate":0.01}"#,
            ),
        ])
    }

    fn filters(args: &[&str]) -> Vec<Filter> {
        args.iter()
            .map(|a| Filter::parse(a).expect("key=value"))
            .collect()
    }

    #[test]
    fn full_and_short_keys_and_numeric_values_match() {
        let g = grid();
        let kept = apply(&g, &filters(&["architecture=dot-mf"])).expect("ok");
        assert_eq!(kept.len(), 2);
        let kept = apply(&g, &filters(&["training.learning_rate=0.010"])).expect("ok");
        assert_eq!(
            kept.iter().map(|s| s.grid_index).collect::<Vec<_>>(),
            [0, 2]
        );
        let kept = apply(&g, &filters(&["architecture=dot-mf", "learning_rate=1e-3"])).expect("ok");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].grid_index, 1);
        assert_eq!(apply(&g, &[]).expect("no filter").len(), 3);
    }

    #[test]
    fn mistakes_list_what_exists() {
        let g = grid();
        let err = Filter::parse("architecture").expect_err("no =");
        assert_eq!(
            err.to_string(),
            "--where `architecture`: expected key=value, e.g. --where architecture=biased-mf"
        );
        let err = apply(&g, &filters(&["size=8"])).expect_err("unknown key");
        assert_eq!(
            err.to_string(),
            "--where: no swept parameter `size`; swept: model.architecture, training.learning_rate"
        );
        let err = apply(&g, &filters(&["architecture=ncf"])).expect_err("unknown value");
        assert_eq!(
            err.to_string(),
            "--where: no configuration has model.architecture=ncf; its values: dot-mf, biased-mf"
        );
        let err = apply(
            &g,
            &filters(&["architecture=biased-mf", "learning_rate=0.001"]),
        )
        .expect_err("nothing left");
        assert_eq!(
            err.to_string(),
            "--where: no configuration has architecture=biased-mf and learning_rate=0.001"
        );
        let clash = summarize(&[run(1, r#"{"model.dropout":0.1,"data.dropout":0.2}"#)]);
        let err = apply(&clash, &filters(&["dropout=0.1"])).expect_err("ambiguous");
        assert_eq!(
            err.to_string(),
            "--where: `dropout` could be model.dropout, data.dropout; use the full key"
        );
    }
}
