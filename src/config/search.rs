//! `[search]` → [`SearchSpec`]: the strategy, the searched keys and the pruner, each
//! checked with its line before anything trains.
//!
//! The space is read with its spans, like `[sweep]`: an entry may be spelled
//! `"training.learning_rate" = { … }`, `training.learning_rate = { … }` or
//! `learning_rate = { … }` under `[search.space.training]`, and entries keep the order of
//! their keys in the text. The values a key may take are checked like sweep values: each
//! end point of a range (each value of a `choice`) is put in place of the base value, with
//! its own span, and that document is validated as a grid point, so a bad value is
//! reported on the space entry's line under the key it sets. A conditional key's values are
//! checked with each value of its condition in place too (`training.momentum` only makes
//! sense where `training.optimizer` is `sgd`).

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::{Diagnostic, Problem};
use super::raw::{self, Kind};
use super::source::Source;
use super::spec::{RunConfig, SplitSpec};
use super::{apply, check_point, check_sweep_key, first_repeated_value};
use crate::search::spec::{
    Condition, Distribution, Parameter, PrunerKind, PrunerSpec, SearchSpec, Strategy,
};

/// The distributions a space entry may take, in documentation order.
const DISTRIBUTIONS: [&str; 4] = ["uniform", "log_uniform", "int", "choice"];

/// The keys of `[search]`, in documentation order.
const SEARCH_KEYS: [&str; 8] = [
    "strategy",
    "trials",
    "seed",
    "startup_trials",
    "candidates",
    "gamma",
    "space",
    "pruner",
];

/// The keys of `[search.pruner]`, in documentation order.
const PRUNER_KEYS: [&str; 6] = [
    "kind",
    "min_epochs",
    "reduction_factor",
    "max_epochs",
    "startup_trials",
    "p_threshold",
];

/// `search.startup_trials` when the file gives none.
pub const DEFAULT_STARTUP_TRIALS: usize = 10;
/// `search.candidates` when the file gives none.
pub const DEFAULT_CANDIDATES: usize = 24;
/// `search.gamma` when the file gives none (Optuna's).
pub const DEFAULT_GAMMA: f64 = 0.1;
/// `search.pruner.reduction_factor` when the file gives none.
pub const DEFAULT_REDUCTION_FACTOR: usize = 3;
/// `search.pruner.startup_trials` when the file gives none.
pub const DEFAULT_PRUNER_STARTUP_TRIALS: usize = 5;
/// `search.pruner.p_threshold` when the file gives none.
pub const DEFAULT_P_THRESHOLD: f64 = 0.1;

/// What the checks of `[search]` need from the rest of the file.
pub(super) struct Context<'a, 'i> {
    /// The text and file.
    pub source: &'a Source<'a>,
    /// The base document without `[sweep]` and `[search]`, for checking searched values.
    pub bare: &'a Spanned<DeTable<'i>>,
    /// Keys swept by `[sweep]` or `--set` (for the "missing key" hint).
    pub swept: &'a [String],
    /// The validated base configuration; `None` when the base has problems of its own.
    pub base: Option<&'a RunConfig>,
    /// `experiment.seed`, the default `search.seed`.
    pub seed: Option<u64>,
    /// Whether the file has a `[sweep]` table.
    pub has_sweep: bool,
}

/// One space entry as read, with what its values are checked with.
struct Entry<'i> {
    /// The parameter it becomes.
    parameter: Parameter,
    /// Where its key is written.
    key_span: Range<usize>,
    /// The values to check in place of the base value: the range's ends or the choices.
    ends: Vec<Spanned<DeValue<'i>>>,
    /// The condition's values as written, with the span of the condition's key.
    when: Option<(Range<usize>, Vec<Spanned<DeValue<'i>>>)>,
}

/// Read and check `search` (the value of the `[search]` table), adding problems; the spec
/// when the table is clean (its `trials` for a grid is set by the caller, who knows the
/// grid's size).
pub(super) fn read<'i>(
    cx: &Context<'_, 'i>,
    table_span: &Range<usize>,
    search: &Spanned<DeValue<'i>>,
    problems: &mut Vec<Diagnostic>,
) -> Option<SearchSpec> {
    let DeValue::Table(table) = search.get_ref() else {
        // Reported by the shape check.
        return None;
    };
    let before = problems.len();
    let mut r = Reader {
        source: cx.source,
        problems,
    };
    r.unknown_keys(table, "search", &SEARCH_KEYS);

    let strategy = match r.string(table, "strategy", "search") {
        Some(Some(name)) => r.name(
            &name,
            "search.strategy",
            &[Strategy::Grid, Strategy::Random, Strategy::Tpe],
            Strategy::as_str,
        ),
        Some(None) => {
            r.push(
                table_span,
                "search.strategy",
                Problem::MissingKey { swept: false },
            );
            None
        }
        None => None,
    };
    let strategy_span = table
        .get("strategy")
        .map_or(table_span.clone(), Spanned::span);
    let trials = r.count(table, "trials", "search", 1, "an integer >= 1");
    let seed = r.count(table, "seed", "search", 0, "an integer >= 0");
    let startup_trials = r.count(table, "startup_trials", "search", 1, "an integer >= 1");
    let candidates = r.count(table, "candidates", "search", 1, "an integer >= 1");
    let gamma = r.number(
        table,
        "gamma",
        "search",
        |g| g > 0.0 && g <= 1.0,
        "> 0 and <= 1",
    );

    let entries = match table.get("space") {
        None => Vec::new(),
        Some(space) => match space.get_ref() {
            DeValue::Table(space) => space_entries(&mut r, space),
            _ => {
                r.wrong_type(space, "search.space", "a table");
                Vec::new()
            }
        },
    };
    check_conditions(&mut r, &entries);
    let pruner = pruner(&mut r, table, cx.base);

    // Each searched value in place of the base value, like a sweep value.
    for entry in &entries {
        for end in &entry.ends {
            let conditions = match (&entry.when, &entry.parameter.when) {
                (Some((span, values)), Some(condition)) => values
                    .iter()
                    .map(|value| Some((condition.key.as_str(), span, value)))
                    .collect(),
                _ => vec![None],
            };
            for condition in conditions {
                let mut point = cx.bare.clone();
                if let Some((key, span, value)) = condition {
                    apply(point.get_mut(), key, span, value.clone());
                }
                apply(
                    point.get_mut(),
                    &entry.parameter.key,
                    &entry.key_span,
                    end.clone(),
                );
                check_point(cx.source, point, cx.swept, r.problems);
            }
        }
    }

    // Rules between the strategy, the space, `[sweep]` and the split.
    let space: Vec<Parameter> = entries.into_iter().map(|e| e.parameter).collect();
    let strategy = strategy?;
    // TPE's options mean nothing to the other strategies: most likely a mistake.
    if strategy != Strategy::Tpe {
        for name in ["startup_trials", "candidates", "gamma"] {
            r.belongs_to(
                table,
                name,
                "search",
                "`search.strategy = \"tpe\"`",
                format!("the strategy is \"{}\"", strategy.as_str()),
            );
        }
    }
    let space_span = table
        .get_key_value("space")
        .map(|(key, _)| key.span())
        .unwrap_or(table_span.clone());
    match strategy {
        Strategy::Grid => {
            if let Some(value) = table.get("trials") {
                r.push(
                    &value.span(),
                    "search.trials",
                    Problem::Requires {
                        requirement: "`search.strategy` \"random\" or \"tpe\"".to_string(),
                        actual: "the strategy is \"grid\", whose trials are the `[sweep]` points"
                            .to_string(),
                    },
                );
            }
            if !space.is_empty() {
                r.push(&space_span, "search.space", Problem::SearchGridSpace);
            }
            if !cx.has_sweep {
                r.push(
                    &strategy_span,
                    "search.strategy",
                    Problem::SearchGridNoSweep,
                );
            }
        }
        Strategy::Random | Strategy::Tpe => {
            let name = strategy.as_str();
            if cx.has_sweep {
                r.push(
                    &strategy_span,
                    "search.strategy",
                    Problem::SearchWithSweep { strategy: name },
                );
            }
            if table
                .get("space")
                .is_none_or(|space| matches!(space.get_ref(), DeValue::Table(t) if t.is_empty()))
            {
                r.push(
                    &strategy_span,
                    "search.strategy",
                    Problem::SearchEmptySpace { strategy: name },
                );
            }
            if table.get("trials").is_none() {
                r.push(
                    table_span,
                    "search.trials",
                    Problem::MissingKey { swept: false },
                );
            }
            if let Some(base) = cx.base
                && lacks_validation(&base.split)
            {
                r.push(
                    &strategy_span,
                    "search.strategy",
                    Problem::SearchNeedsValidation {
                        what: format!("strategy \"{name}\""),
                    },
                );
            }
            // Only for a clean space: a refused entry would look like a smaller space.
            let clean = !space.is_empty() && r.problems.len() == before;
            if let (true, Some(Some(trials))) = (clean, trials)
                && let Some(configurations) = discrete_size(&space)
                && configurations < trials as u128
            {
                let span = table
                    .get("trials")
                    .map_or(table_span.clone(), Spanned::span);
                r.push(
                    &span,
                    "search.trials",
                    Problem::SearchTooFewConfigurations {
                        configurations,
                        trials,
                    },
                );
            }
        }
    }

    if r.problems.len() > before {
        return None;
    }
    let trials = trials?;
    let seed = match seed? {
        Some(seed) => seed as u64,
        None => cx.seed?,
    };
    Some(SearchSpec {
        strategy,
        trials: trials.unwrap_or(0),
        seed,
        space,
        startup_trials: startup_trials?.unwrap_or(DEFAULT_STARTUP_TRIALS),
        candidates: candidates?.unwrap_or(DEFAULT_CANDIDATES),
        gamma: gamma?.unwrap_or(DEFAULT_GAMMA),
        pruner: pruner?,
    })
}

/// A split without a validation set, where a search has nothing to rank trials by: any
/// split but k-fold (whose folds' scores can be compared) with `validation_fraction` 0.
fn lacks_validation(split: &SplitSpec) -> bool {
    !matches!(split, SplitSpec::Kfold { .. }) && split.validation_fraction() <= 0.0
}

/// `[search.pruner]`, with its defaults; `None` after a problem.
fn pruner(
    r: &mut Reader<'_, '_>,
    search: &DeTable<'_>,
    base: Option<&RunConfig>,
) -> Option<PrunerSpec> {
    let empty = DeTable::new();
    let (table, kind_span) = match search.get("pruner") {
        None => (&empty, None),
        Some(value) => match value.get_ref() {
            DeValue::Table(table) => (table, Some(value.span())),
            _ => {
                r.wrong_type(value, "search.pruner", "a table");
                return None;
            }
        },
    };
    r.unknown_keys(table, "search.pruner", &PRUNER_KEYS);
    let kind = match r.string(table, "kind", "search.pruner")? {
        None => Some(PrunerKind::None),
        Some(name) => r.name(
            &name,
            "search.pruner.kind",
            &[
                PrunerKind::None,
                PrunerKind::Asha,
                PrunerKind::Median,
                PrunerKind::Wilcoxon,
            ],
            PrunerKind::as_str,
        ),
    };
    let kind_span = table
        .get("kind")
        .map(Spanned::span)
        .or(kind_span)
        .unwrap_or(0..0);
    // Options of one pruner kind mean nothing to the others: most likely a mistake.
    if let Some(kind) = kind {
        let actual = if table.get("kind").is_some() {
            format!("the kind is \"{}\"", kind.as_str())
        } else {
            "the kind is \"none\" (the default)".to_string()
        };
        for (name, owner) in [
            ("reduction_factor", PrunerKind::Asha),
            ("startup_trials", PrunerKind::Median),
            ("p_threshold", PrunerKind::Wilcoxon),
        ] {
            if kind != owner {
                let requirement = format!("`search.pruner.kind = \"{}\"`", owner.as_str());
                r.belongs_to(table, name, "search.pruner", &requirement, actual.clone());
            }
        }
    }
    let min_epochs = r
        .count(table, "min_epochs", "search.pruner", 1, "an integer >= 1")
        .map(|n| n.unwrap_or(1));
    let reduction_factor = r
        .count(
            table,
            "reduction_factor",
            "search.pruner",
            2,
            "an integer >= 2",
        )
        .map(|n| n.unwrap_or(DEFAULT_REDUCTION_FACTOR));
    let max_epochs = r.count(table, "max_epochs", "search.pruner", 1, "an integer >= 1");
    let startup_trials = r
        .count(
            table,
            "startup_trials",
            "search.pruner",
            0,
            "an integer >= 0",
        )
        .map(|n| n.unwrap_or(DEFAULT_PRUNER_STARTUP_TRIALS));
    let p_threshold = r
        .number(
            table,
            "p_threshold",
            "search.pruner",
            |p| p > 0.0 && p < 1.0,
            "> 0 and < 1",
        )
        .map(|p| p.unwrap_or(DEFAULT_P_THRESHOLD));

    let base = base?;
    let epochs = base.training.epochs;
    let kind = kind?;
    let min_epochs = min_epochs?;
    let max_epochs = match max_epochs? {
        None => epochs,
        Some(max) => {
            let span = table.get("max_epochs").map_or(0..0, Spanned::span);
            let found = r.source.snippet(&span);
            if max > epochs {
                let limit = format!("`training.epochs` ({epochs})");
                r.push(
                    &span,
                    "search.pruner.max_epochs",
                    Problem::SearchAbove { limit, found },
                );
                return None;
            }
            max
        }
    };
    if min_epochs > max_epochs {
        let span = table.get("min_epochs").map_or(0..0, Spanned::span);
        let limit = if table.get("max_epochs").is_some() {
            format!("`search.pruner.max_epochs` ({max_epochs})")
        } else {
            format!("`training.epochs` ({max_epochs})")
        };
        let found = r.source.snippet(&span);
        r.push(
            &span,
            "search.pruner.min_epochs",
            Problem::SearchAbove { limit, found },
        );
        return None;
    }
    match kind {
        PrunerKind::Asha | PrunerKind::Median if lacks_validation(&base.split) => {
            r.push(
                &kind_span,
                "search.pruner.kind",
                Problem::SearchNeedsValidation {
                    what: format!("the pruner \"{}\"", kind.as_str()),
                },
            );
            return None;
        }
        PrunerKind::Wilcoxon if !matches!(base.split, SplitSpec::Kfold { .. }) => {
            r.push(
                &kind_span,
                "search.pruner.kind",
                Problem::SearchNeedsKfold {
                    kind: base.split.kind(),
                },
            );
            return None;
        }
        _ => {}
    }
    Some(PrunerSpec {
        kind,
        min_epochs,
        reduction_factor: reduction_factor?,
        max_epochs,
        startup_trials: startup_trials?,
        p_threshold: p_threshold?,
    })
}

/// Every entry of `[search.space]` in file order, read and checked on its own.
fn space_entries<'i>(r: &mut Reader<'_, '_>, space: &DeTable<'i>) -> Vec<Entry<'i>> {
    let mut found = Vec::new();
    collect("", space, &mut found);
    found.sort_by_key(|(_, key_span, _)| key_span.start);

    let mut seen: Vec<(String, Range<usize>)> = Vec::new();
    let mut entries = Vec::new();
    for (key, key_span, value) in found {
        let DeValue::Table(entry) = value.get_ref() else {
            // A leaf where an entry was expected: `key = { normal = … }` read as a
            // sub-table, or `key = [a, b]`, or a key that does not exist.
            let parent = key.rsplit_once('.').map(|(parent, _)| parent);
            if let Some(parent) = parent.filter(|parent| check_search_key(parent).is_ok()) {
                let found = key
                    .rsplit_once('.')
                    .map_or("", |(_, leaf)| leaf)
                    .to_string();
                r.push(
                    &key_span,
                    parent,
                    Problem::SearchUnknownDistribution { found },
                );
            } else if check_search_key(&key).is_ok() {
                let found = raw::describe_value(r.source, &value);
                r.push(&value.span(), &key, Problem::SearchNoDistribution { found });
            } else if let Err(problem) = check_search_key(&key) {
                r.push(&key_span, &key, problem);
            }
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == key) {
            let first_line = r.source.line(first);
            r.push(&key_span, &key, Problem::SearchDuplicate { first_line });
            continue;
        }
        seen.push((key.clone(), key_span.clone()));
        if let Err(problem) = check_search_key(&key) {
            r.push(&key_span, &key, problem);
            continue;
        }
        if let Some(entry) = space_entry(r, key, key_span, entry, &value) {
            entries.push(entry);
        }
    }
    entries
}

/// Depth-first: every space entry (a table holding a distribution or an entry's option)
/// or non-table value under `table`, with its dotted key and key span.
fn collect<'i>(
    prefix: &str,
    table: &DeTable<'i>,
    out: &mut Vec<(String, Range<usize>, Spanned<DeValue<'i>>)>,
) {
    let is_entry = |inner: &DeTable<'i>| {
        inner.iter().any(|(key, _)| {
            let key: &str = key.get_ref();
            DISTRIBUTIONS.contains(&key) || ["log", "step", "when"].contains(&key)
        })
    };
    super::flatten_until(prefix, table, &is_entry, out);
}

/// Whether `key` may be searched: what `[sweep]` may set, except `data.*` and `split.*`.
fn check_search_key(key: &str) -> Result<(), Problem> {
    let table = key.split_once('.').map_or(key, |(table, _)| table);
    if table == "data" || table == "split" {
        return Err(Problem::SearchLoadedOnce);
    }
    check_sweep_key(key).map_err(|problem| match problem {
        Problem::SweepUnknownKey { sweepable } => Problem::SearchUnknownKey {
            searchable: sweepable
                .into_iter()
                .filter(|key| !key.starts_with("data.") && !key.starts_with("split."))
                .collect(),
        },
        problem => problem,
    })
}

/// One entry `{ distribution = …, log, step, when }` of the (checked) `key`.
fn space_entry<'i>(
    r: &mut Reader<'_, '_>,
    key: String,
    key_span: Range<usize>,
    entry: &DeTable<'i>,
    value: &Spanned<DeValue<'i>>,
) -> Option<Entry<'i>> {
    let mut distributions = Vec::new();
    let mut fine = true;
    for (name, _) in entry.iter() {
        let name_str: &str = name.get_ref();
        if let Some(known) = DISTRIBUTIONS.iter().find(|d| **d == name_str) {
            distributions.push((*known, name.span()));
        } else if !["log", "step", "when"].contains(&name_str) {
            let found = name_str.to_string();
            r.push(
                &name.span(),
                &key,
                Problem::SearchUnknownDistribution { found },
            );
            fine = false;
        }
    }
    let (distribution, name_span) = match distributions.as_slice() {
        [] => {
            let found = raw::describe_value(r.source, value);
            r.push(&key_span, &key, Problem::SearchNoDistribution { found });
            return None;
        }
        [one] => one.clone(),
        [(first, _), (second, span), ..] => {
            r.push(
                span,
                &key,
                Problem::SearchTwoDistributions {
                    first: first.to_string(),
                    second: second.to_string(),
                },
            );
            return None;
        }
    };
    if distribution != "int" {
        for option in ["log", "step"] {
            if let Some((name, _)) = entry.get_key_value(option) {
                r.push(
                    &name.span(),
                    &key,
                    Problem::SearchIntOption {
                        option: option.to_string(),
                        distribution,
                    },
                );
                fine = false;
            }
        }
    }
    let (table, leaf) = key.split_once('.').unwrap_or((&key, ""));
    let kind = raw::leaf_kind(table, leaf);
    let items = entry.get(distribution)?;
    let (parsed, ends) = match distribution {
        "uniform" | "log_uniform" => {
            if kind == Some(Kind::Int) {
                r.push(
                    &name_span,
                    &key,
                    Problem::SearchFloatForInt { distribution },
                );
                return None;
            }
            let (low, high, ends) = r.float_range(items, &key, distribution)?;
            if distribution == "uniform" {
                (Distribution::Uniform { low, high }, ends)
            } else {
                (Distribution::LogUniform { low, high }, ends)
            }
        }
        "int" => {
            let log = match entry.get("log") {
                None => false,
                Some(value) => match value.get_ref() {
                    DeValue::Boolean(log) => *log,
                    _ => {
                        r.wrong_type(value, &format!("{key}.log"), "a boolean");
                        return None;
                    }
                },
            };
            let step = match entry.get("step") {
                None => 1,
                Some(value) => {
                    let step = i64::deserialize(ValueDeserializer::from(value.clone()));
                    match step {
                        Ok(step) if step >= 1 => step,
                        _ => {
                            let found = r.source.snippet(&value.span());
                            r.push(&value.span(), &key, Problem::SearchStep { found });
                            return None;
                        }
                    }
                }
            };
            let (low, high, ends) = r.int_range(items, &key, log)?;
            if log && step != 1 {
                let step = entry
                    .get("step")
                    .map_or(String::new(), |value| r.source.snippet(&value.span()));
                r.push(&name_span, &key, Problem::SearchLogStep { step });
                return None;
            }
            (
                Distribution::Int {
                    low,
                    high,
                    log,
                    step,
                },
                ends,
            )
        }
        _ => {
            let DeValue::Array(values) = items.get_ref() else {
                r.wrong_type(items, &key, "a list of values for `choice`");
                return None;
            };
            if values.is_empty() {
                r.push(&items.span(), &key, Problem::SearchEmptyChoice);
                return None;
            }
            if let Some(repeated) = first_repeated_value(r.source, values) {
                let item = r.source.snippet(&repeated.span());
                r.push(&repeated.span(), &key, Problem::Duplicate { item });
                return None;
            }
            let values: Vec<toml::Value> = values.iter().filter_map(|v| r.value(v, &key)).collect();
            let ends = match items.get_ref() {
                DeValue::Array(items) => items.to_vec(),
                _ => Vec::new(),
            };
            (Distribution::Choice { values }, ends)
        }
    };
    let (when, when_values) = match entry.get("when") {
        None => (None, None),
        Some(when) => {
            let (condition, written) = r.condition(when, &key)?;
            (Some(condition), Some(written))
        }
    };
    fine.then_some(Entry {
        parameter: Parameter {
            key,
            distribution: parsed,
            when,
        },
        key_span,
        ends,
        when: when_values,
    })
}

/// Check every `when` against the entries declared before it.
fn check_conditions(r: &mut Reader<'_, '_>, entries: &[Entry<'_>]) {
    for (index, entry) in entries.iter().enumerate() {
        let (Some(condition), Some((span, written))) = (&entry.parameter.when, &entry.when) else {
            continue;
        };
        let key = &entry.parameter.key;
        let on = condition.key.clone();
        let found = entries.iter().position(|e| e.parameter.key == on);
        let problem = match found {
            None if matches!(
                check_sweep_key(&on),
                Err(Problem::SweepUnknownKey { .. } | Problem::SweepTable { .. })
            ) =>
            {
                Some(Problem::SearchWhenUnknownKey { on })
            }
            None => Some(Problem::SearchWhenNotSearched { on }),
            Some(at) if at >= index => Some(Problem::SearchWhenLater {
                on,
                line: r.source.line(&entries[at].key_span),
            }),
            Some(at) => match &entries[at].parameter.distribution {
                Distribution::Choice { values } => {
                    let missing = condition
                        .values
                        .iter()
                        .zip(written)
                        .find(|(value, _)| !values.iter().any(|c| same_value(c, value)));
                    if let Some((_, value)) = missing {
                        let choices = entries[at]
                            .ends
                            .iter()
                            .map(|end| r.source.snippet(&end.span()))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let problem = Problem::SearchWhenValue {
                            on,
                            value: r.source.snippet(&value.span()),
                            choices: format!("[{choices}]"),
                        };
                        r.push(&value.span(), key, problem);
                    }
                    None
                }
                other => Some(Problem::SearchWhenNotChoice {
                    on,
                    distribution: distribution_name(other),
                }),
            },
        };
        if let Some(problem) = problem {
            r.push(span, key, problem);
        }
    }
}

/// The name of `distribution` as written.
fn distribution_name(distribution: &Distribution) -> &'static str {
    match distribution {
        Distribution::Uniform { .. } => "uniform",
        Distribution::LogUniform { .. } => "log_uniform",
        Distribution::Int { .. } => "int",
        Distribution::Choice { .. } => "choice",
    }
}

/// Two TOML values are one choice: numbers by value (`1` is `1.0`), the rest as equal.
fn same_value(a: &toml::Value, b: &toml::Value) -> bool {
    match (a, b) {
        (toml::Value::Integer(x), toml::Value::Float(y))
        | (toml::Value::Float(y), toml::Value::Integer(x)) => *x as f64 == *y,
        _ => a == b,
    }
}

/// How many distinct configurations `space` has when every key is a `choice` or an
/// `int` (`None` when a key is continuous). A conditional key multiplies only the
/// configurations where its condition holds.
fn discrete_size(space: &[Parameter]) -> Option<u128> {
    let sizes: Vec<u128> = space
        .iter()
        .map(|p| match &p.distribution {
            Distribution::Choice { values } => Some(values.len() as u128),
            Distribution::Int {
                low, high, step, ..
            } => Some((high.abs_diff(*low) / step.unsigned_abs().max(1)) as u128 + 1),
            Distribution::Uniform { .. } | Distribution::LogUniform { .. } => None,
        })
        .collect::<Option<_>>()?;
    // Only the values of keys that others depend on need to be enumerated.
    let referenced: Vec<bool> = space
        .iter()
        .map(|p| {
            space
                .iter()
                .any(|q| q.when.as_ref().is_some_and(|c| c.key == p.key))
        })
        .collect();
    let mut chosen: Vec<Option<&toml::Value>> = vec![None; space.len()];
    Some(count_from(space, &sizes, &referenced, 0, &mut chosen))
}

/// Configurations of `space[index..]` given the values `chosen` for earlier keys.
fn count_from<'a>(
    space: &'a [Parameter],
    sizes: &[u128],
    referenced: &[bool],
    index: usize,
    chosen: &mut Vec<Option<&'a toml::Value>>,
) -> u128 {
    let Some(parameter) = space.get(index) else {
        return 1;
    };
    let active = match &parameter.when {
        None => true,
        Some(condition) => space
            .iter()
            .position(|p| p.key == condition.key)
            .and_then(|at| chosen[at])
            .is_some_and(|value| condition.values.iter().any(|v| same_value(v, value))),
    };
    if !active {
        return count_from(space, sizes, referenced, index + 1, chosen);
    }
    match (&parameter.distribution, referenced[index]) {
        (Distribution::Choice { values }, true) => {
            let mut total = 0u128;
            for value in values {
                chosen[index] = Some(value);
                let rest = count_from(space, sizes, referenced, index + 1, chosen);
                total = total.saturating_add(rest);
            }
            chosen[index] = None;
            total
        }
        _ => sizes[index].saturating_mul(count_from(space, sizes, referenced, index + 1, chosen)),
    }
}

/// Reads values of `[search]` with their spans, collecting problems.
struct Reader<'a, 'p> {
    source: &'a Source<'a>,
    problems: &'p mut Vec<Diagnostic>,
}

impl Reader<'_, '_> {
    fn push(&mut self, span: &Range<usize>, key: &str, problem: Problem) {
        self.problems
            .push(self.source.diagnostic(span, key, problem));
    }

    fn wrong_type(&mut self, value: &Spanned<DeValue<'_>>, key: &str, expected: &'static str) {
        let found = raw::describe_value(self.source, value);
        self.push(&value.span(), key, Problem::WrongType { expected, found });
    }

    /// Report every key of `table` (the table `prefix`) not in `allowed`.
    fn unknown_keys(&mut self, table: &DeTable<'_>, prefix: &str, allowed: &[&'static str]) {
        for (key, _) in table.iter() {
            let name: &str = key.get_ref();
            if !allowed.contains(&name) {
                self.push(
                    &key.span(),
                    &format!("{prefix}.{name}"),
                    Problem::UnknownKey {
                        expected: allowed.to_vec(),
                    },
                );
            }
        }
    }

    /// Report `table.name`, if present, as allowed only with `requirement`.
    fn belongs_to(
        &mut self,
        table: &DeTable<'_>,
        name: &str,
        prefix: &str,
        requirement: &str,
        actual: String,
    ) {
        if let Some((key, _)) = table.get_key_value(name) {
            self.push(
                &key.span(),
                &format!("{prefix}.{name}"),
                Problem::Requires {
                    requirement: requirement.to_string(),
                    actual,
                },
            );
        }
    }

    /// `table.name` as a string: `Some(None)` when absent, `None` after a problem.
    fn string(
        &mut self,
        table: &DeTable<'_>,
        name: &str,
        prefix: &str,
    ) -> Option<Option<Spanned<String>>> {
        let Some(value) = table.get(name) else {
            return Some(None);
        };
        match value.get_ref() {
            DeValue::String(text) => Some(Some(Spanned::new(value.span(), text.to_string()))),
            _ => {
                self.wrong_type(value, &format!("{prefix}.{name}"), "a string");
                None
            }
        }
    }

    /// One of the names of `all`.
    fn name<T: Copy>(
        &mut self,
        value: &Spanned<String>,
        key: &str,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Option<T> {
        let found = all
            .iter()
            .copied()
            .find(|&item| name(item) == value.get_ref());
        if found.is_none() {
            self.push(
                &value.span(),
                key,
                Problem::UnknownName {
                    allowed: all.iter().map(|&item| name(item)).collect(),
                    found: value.get_ref().clone(),
                },
            );
        }
        found
    }

    /// `table.name` as an integer of at least `min`: `Some(None)` when absent, `None`
    /// after a problem.
    fn count(
        &mut self,
        table: &DeTable<'_>,
        name: &str,
        prefix: &str,
        min: i64,
        expected: &'static str,
    ) -> Option<Option<usize>> {
        let Some(value) = table.get(name) else {
            return Some(None);
        };
        let key = format!("{prefix}.{name}");
        if !matches!(value.get_ref(), DeValue::Integer(_)) {
            self.wrong_type(value, &key, "an integer");
            return None;
        }
        match i64::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(n) if n >= min => usize::try_from(n).ok().map(Some),
            _ => {
                let found = self.source.snippet(&value.span());
                self.push(&value.span(), &key, Problem::OutOfRange { expected, found });
                None
            }
        }
    }

    /// `table.name` as a finite number for which `ok` holds: `Some(None)` when absent,
    /// `None` after a problem.
    fn number(
        &mut self,
        table: &DeTable<'_>,
        name: &str,
        prefix: &str,
        ok: fn(f64) -> bool,
        expected: &'static str,
    ) -> Option<Option<f64>> {
        let Some(value) = table.get(name) else {
            return Some(None);
        };
        let key = format!("{prefix}.{name}");
        if !matches!(value.get_ref(), DeValue::Integer(_) | DeValue::Float(_)) {
            self.wrong_type(value, &key, "a number");
            return None;
        }
        match f64::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(x) if x.is_finite() && ok(x) => Some(Some(x)),
            _ => {
                let found = self.source.snippet(&value.span());
                self.push(&value.span(), &key, Problem::OutOfRange { expected, found });
                None
            }
        }
    }

    /// The TOML value of `value`, or a problem.
    fn value(&mut self, value: &Spanned<DeValue<'_>>, key: &str) -> Option<toml::Value> {
        match toml::Value::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(value) => Some(value),
            Err(error) => {
                let problem = Problem::Other {
                    message: error.message().to_string(),
                };
                self.push(&value.span(), key, problem);
                None
            }
        }
    }

    /// The two ends of `items`, written as a list of two values.
    fn two<'i>(
        &mut self,
        items: &Spanned<DeValue<'i>>,
        key: &str,
        distribution: &'static str,
        fits: fn(&DeValue<'_>) -> bool,
    ) -> Option<[Spanned<DeValue<'i>>; 2]> {
        let pair = match items.get_ref() {
            DeValue::Array(pair) if pair.len() == 2 && pair.iter().all(|v| fits(v.get_ref())) => {
                [pair[0].clone(), pair[1].clone()]
            }
            _ => {
                let found = raw::describe_value(self.source, items);
                self.push(
                    &items.span(),
                    key,
                    Problem::SearchRangeShape {
                        distribution,
                        found,
                    },
                );
                return None;
            }
        };
        Some(pair)
    }

    /// Report an empty range `[low, high]` at `items`.
    fn empty_range(
        &mut self,
        items: &Spanned<DeValue<'_>>,
        key: &str,
        distribution: &'static str,
        ends: &[Spanned<DeValue<'_>>; 2],
    ) {
        let problem = Problem::SearchEmptyRange {
            distribution,
            low: self.source.snippet(&ends[0].span()),
            high: self.source.snippet(&ends[1].span()),
        };
        self.push(&items.span(), key, problem);
    }

    /// `uniform`/`log_uniform = [low, high]` with `low < high` (and `low > 0` on a log
    /// scale).
    fn float_range<'i>(
        &mut self,
        items: &Spanned<DeValue<'i>>,
        key: &str,
        distribution: &'static str,
    ) -> Option<(f64, f64, Vec<Spanned<DeValue<'i>>>)> {
        let number = |v: &DeValue<'_>| matches!(v, DeValue::Integer(_) | DeValue::Float(_));
        let ends = self.two(items, key, distribution, number)?;
        let as_f64 = |v: &Spanned<DeValue<'_>>| {
            f64::deserialize(ValueDeserializer::from(v.clone()))
                .ok()
                .filter(|x| x.is_finite())
        };
        let (Some(low), Some(high)) = (as_f64(&ends[0]), as_f64(&ends[1])) else {
            let found = raw::describe_value(self.source, items);
            let problem = Problem::SearchRangeShape {
                distribution,
                found,
            };
            self.push(&items.span(), key, problem);
            return None;
        };
        if distribution == "log_uniform" && low <= 0.0 {
            let low = self.source.snippet(&ends[0].span());
            self.push(
                &items.span(),
                key,
                Problem::SearchLogRange { distribution, low },
            );
            return None;
        }
        if low >= high {
            self.empty_range(items, key, distribution, &ends);
            return None;
        }
        Some((low, high, ends.to_vec()))
    }

    /// `int = [low, high]` with `low < high` (and `low > 0` when `log`).
    fn int_range<'i>(
        &mut self,
        items: &Spanned<DeValue<'i>>,
        key: &str,
        log: bool,
    ) -> Option<(i64, i64, Vec<Spanned<DeValue<'i>>>)> {
        let integer = |v: &DeValue<'_>| matches!(v, DeValue::Integer(_));
        let ends = self.two(items, key, "int", integer)?;
        let as_i64 =
            |v: &Spanned<DeValue<'_>>| i64::deserialize(ValueDeserializer::from(v.clone())).ok();
        let (Some(low), Some(high)) = (as_i64(&ends[0]), as_i64(&ends[1])) else {
            let found = raw::describe_value(self.source, items);
            let problem = Problem::SearchRangeShape {
                distribution: "int",
                found,
            };
            self.push(&items.span(), key, problem);
            return None;
        };
        if log && low <= 0 {
            let low = self.source.snippet(&ends[0].span());
            let problem = Problem::SearchLogRange {
                distribution: "int",
                low,
            };
            self.push(&items.span(), key, problem);
            return None;
        }
        if low >= high {
            self.empty_range(items, key, "int", &ends);
            return None;
        }
        Some((low, high, ends.to_vec()))
    }

    /// `when = { "other.key" = [v, …] }` of the entry for `key`: the condition, and the
    /// span of its key with its values as written.
    #[allow(clippy::type_complexity)]
    fn condition<'i>(
        &mut self,
        when: &Spanned<DeValue<'i>>,
        key: &str,
    ) -> Option<(Condition, (Range<usize>, Vec<Spanned<DeValue<'i>>>))> {
        let bad = |r: &mut Self| {
            let found = raw::describe_value(r.source, when);
            r.push(&when.span(), key, Problem::SearchWhenShape { found });
            None
        };
        let DeValue::Table(table) = when.get_ref() else {
            return bad(self);
        };
        let mut leaves = Vec::new();
        super::flatten("", table, &mut leaves);
        let [(on, on_span, values)] = leaves.as_slice() else {
            return bad(self);
        };
        let written: Vec<Spanned<DeValue<'i>>> = match values.get_ref() {
            DeValue::Array(items) if !items.is_empty() => items.to_vec(),
            DeValue::Array(_) => return bad(self),
            _ => vec![values.clone()],
        };
        let mut parsed = Vec::with_capacity(written.len());
        for value in &written {
            parsed.push(self.value(value, key)?);
        }
        let condition = Condition {
            key: on.clone(),
            values: parsed,
        };
        Some((condition, (on_span.clone(), written)))
    }
}
