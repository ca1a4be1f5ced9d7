//! Experiment files: TOML text → raw serde structs → validated [`spec::Experiment`].
//!
//! This is the first stage of the pipeline; nothing downstream sees a value that has not
//! passed through here. Reading a file goes:
//!
//! 1. parse the TOML keeping byte spans ([`toml::de::DeTable`]), so every problem can name
//!    its line;
//! 2. read `[sweep]` into axes (dotted key + list of values, in file order);
//! 3. validate the base document (`raw` → `validate`), then the base with each sweep value
//!    substituted in, then every grid point. A sweep value is validated exactly like a base
//!    value, by putting it (with its own span) where the base value was, so a bad sweep
//!    value is reported on the sweep's line under the key it sets;
//! 4. only when all of that is clean, return the [`Experiment`]: a file that loads is a
//!    file whose whole grid can run.
//!
//! Every problem is collected, not just the first, and each is displayed as
//! ``experiments/sweep.toml:14: `training.learning_rate` must be > 0, got -0.1``.
//! The file format is documented in `docs/experiment-file.md`.

mod error;
mod raw;
mod source;
pub mod spec;
mod validate;

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub use error::{ConfigError, Diagnostic, Problem};
pub use validate::{DEFAULT_INIT_SCALE, DEFAULT_METRICS, DEFAULT_SEED};

use raw::{FIXED_TABLE, SWEEP_TABLE};
use source::Source;
use spec::{
    BadLinePolicy, DEFAULT_IMPLICIT_L2_SCALE, DEFAULT_LR_DECAY, DevicePin, EngineChoice,
    Experiment, InitSpec, LrSchedule, RunConfig, SplitSpec, SweepAxis,
};
use validate::Checker;

/// The most grid points a sweep may ask for. Every point is validated when the file is
/// loaded and every point trains at least one model; a sweep past this is almost surely a
/// mistake (a list pasted into the wrong key).
pub const MAX_GRID_POINTS: usize = 100_000;

/// Read and validate the experiment file at `path`.
///
/// Relative `data.path` values resolve against the file's directory.
pub fn load_experiment(path: &Path) -> Result<Experiment, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_experiment(&text, path)
}

/// Validate experiment-file `text`; `path` is where it came from (named in every error, and
/// the base for relative `data.path` values).
pub fn parse_experiment(text: &str, path: &Path) -> Result<Experiment, ConfigError> {
    let source = Source::file(path, text);
    let root = DeTable::parse(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        ConfigError::Invalid(vec![source.diagnostic(
            &span,
            "",
            Problem::Syntax {
                message: error.message().to_string(),
            },
        )])
    })?;
    let mut problems = Vec::new();

    let axes = sweep_axes(&source, root.get_ref(), &mut problems);
    let swept: Vec<String> = axes.iter().map(|axis| axis.key.clone()).collect();

    // The base document, on its own.
    let mut base = None;
    if let Some(read) = raw::read_raw(&source, root.clone(), &mut problems) {
        let mut file = read.file;
        let mut cx = Checker::new(&source, &swept, &read.dropped);
        let experiment = validate::experiment(&mut cx, file.experiment.take());
        let config = validate::run_config(&mut cx, file);
        base = experiment.zip(config);
        problems.append(&mut cx.problems);
    }

    // Grid points are the base without `[sweep]` (already read into `axes`; cloning and
    // re-reading it for every point would dominate the cost of a large grid).
    let mut bare = root.clone();
    bare.get_mut().remove(SWEEP_TABLE);

    // Each sweep value on its own, so a bad value is reported once, on its own line.
    for axis in &axes {
        for value in &axis.values {
            let mut point = bare.clone();
            apply(point.get_mut(), &axis.key, &axis.key_span, value.clone());
            check_point(&source, point, &swept, &mut problems);
        }
    }

    // Every grid point, for values that are only wrong together. With today's keys each
    // such clash already shows when one value meets the base, but this keeps "a file that
    // loads runs its whole grid" true as keys are added (under 1 s at the grid limit).
    if problems.is_empty() {
        let lens: Vec<usize> = axes.iter().map(|axis| axis.values.len()).collect();
        for digits in crate::sweep::odometer(&lens) {
            let mut point = bare.clone();
            for (axis, &digit) in axes.iter().zip(&digits) {
                let value = axis.values[digit].clone();
                apply(point.get_mut(), &axis.key, &axis.key_span, value);
            }
            check_point(&source, point, &swept, &mut problems);
        }
    }

    let problems = dedup_by_line(problems);
    let Some((keys, mut base)) = base.filter(|_| problems.is_empty()) else {
        return Err(ConfigError::Invalid(problems));
    };
    resolve_data_path(&mut base, path);

    let mut sweep = Vec::with_capacity(axes.len());
    for axis in axes {
        let mut values = Vec::with_capacity(axis.values.len());
        for value in axis.values {
            let span = value.span();
            let value = toml::Value::deserialize(ValueDeserializer::from(value)).map_err(|e| {
                let problem = Problem::Other {
                    message: e.message().to_string(),
                };
                ConfigError::Invalid(vec![source.diagnostic(&span, &axis.key, problem)])
            })?;
            values.push(value);
        }
        sweep.push(SweepAxis {
            key: axis.key,
            values,
        });
    }

    Ok(Experiment {
        name: keys.name,
        seed: keys.seed,
        source_path: path.to_path_buf(),
        source_text: text.to_string(),
        base,
        sweep,
        devices: keys.devices,
    })
}

/// Validate one document (base plus sweep values) as a grid point, adding its problems.
fn check_point(
    source: &Source<'_>,
    point: Spanned<DeTable<'_>>,
    swept: &[String],
    problems: &mut Vec<Diagnostic>,
) -> Option<RunConfig> {
    let read = raw::read_raw(source, point, problems)?;
    let mut cx = Checker::new(source, swept, &read.dropped);
    let config = validate::run_config(&mut cx, read.file);
    problems.append(&mut cx.problems);
    config
}

/// Drop repeats (a bad base value shows up in every grid point) and order by line.
fn dedup_by_line(problems: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    let mut unique: Vec<Diagnostic> = problems
        .into_iter()
        .filter(|problem| seen.insert(problem.to_string()))
        .collect();
    unique.sort_by_key(|problem| problem.line);
    unique
}

/// One `[sweep]` entry as written.
struct Axis<'i> {
    /// Dotted key it sets, e.g. `model.embedding_size`.
    key: String,
    /// Where the key is written in `[sweep]`.
    key_span: Range<usize>,
    /// The values, each with its own span; never empty.
    values: Vec<Spanned<DeValue<'i>>>,
}

/// Read `[sweep]` into axes in file order, reporting entries that cannot be swept.
///
/// `[sweep]` may spell a key as `"model.k" = […]`, `model.k = […]` or `k = […]` under
/// `[sweep.model]`; all three are the same axis. File order is the order of the keys in
/// the text, whichever spelling is used.
fn sweep_axes<'i>(
    source: &Source<'_>,
    root: &DeTable<'i>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<Axis<'i>> {
    let Some(DeValue::Table(table)) = root.get(SWEEP_TABLE).map(Spanned::get_ref) else {
        // Absent, or not a table (which `raw::check_shape` reports).
        return Vec::new();
    };
    let mut entries = Vec::new();
    flatten("", table, &mut entries);
    entries.sort_by_key(|(_, key_span, _)| key_span.start);

    let mut seen: Vec<(String, Range<usize>)> = Vec::new();
    let mut axes = Vec::new();
    for (key, key_span, value) in entries {
        if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == key) {
            let first_line = source.line(first);
            problems.push(source.diagnostic(
                &key_span,
                &key,
                Problem::SweepDuplicate { first_line },
            ));
            continue;
        }
        seen.push((key.clone(), key_span.clone()));
        if let Err(problem) = check_sweep_key(&key) {
            problems.push(source.diagnostic(&key_span, &key, problem));
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            let found = raw::describe_value(source, &value);
            problems.push(source.diagnostic(&value.span(), &key, Problem::SweepNotList { found }));
            continue;
        };
        if items.is_empty() {
            problems.push(source.diagnostic(&value.span(), &key, Problem::SweepEmpty));
            continue;
        }
        // A list-valued key takes one list per grid point: `[[10], [10, 10]]`. A flat list
        // would otherwise be read as one point per element and fail as "not a list" there.
        if sweep_key_takes_a_list(&key)
            && let Some(flat) = items.iter().find(|item| !item.get_ref().is_array())
        {
            let found = raw::describe_value(source, flat);
            problems.push(source.diagnostic(
                &flat.span(),
                &key,
                Problem::SweepNotListOfLists { found },
            ));
            continue;
        }
        axes.push(Axis {
            key,
            key_span,
            values: items.to_vec(),
        });
    }

    let points = grid_points(axes.iter().map(|axis| axis.values.len()));
    if points > MAX_GRID_POINTS as u128 {
        let span = root
            .get_key_value(SWEEP_TABLE)
            .map(|(key, _)| key.span())
            .unwrap_or(0..0);
        let problem = Problem::SweepTooLarge {
            points,
            limit: MAX_GRID_POINTS,
        };
        problems.push(source.diagnostic(&span, SWEEP_TABLE, problem));
    }
    axes
}

/// Depth-first: every non-table value under `table`, with its dotted key and key span.
fn flatten<'i>(
    prefix: &str,
    table: &DeTable<'i>,
    out: &mut Vec<(String, Range<usize>, Spanned<DeValue<'i>>)>,
) {
    for (key, value) in table.iter() {
        let dotted = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        match value.get_ref() {
            DeValue::Table(inner) => flatten(&dotted, inner, out),
            _ => out.push((dotted, key.span(), value.clone())),
        }
    }
}

/// The number of grid points for axes of these lengths (saturating; 1 for no axes).
pub(crate) fn grid_points(lens: impl IntoIterator<Item = usize>) -> u128 {
    lens.into_iter()
        .fold(1u128, |total, len| total.saturating_mul(len as u128))
}

/// Whether `key` names a leaf that `[sweep]` may set: any leaf outside `[experiment]`.
pub(crate) fn check_sweep_key(key: &str) -> Result<(), Problem> {
    let (table, leaf) = key.split_once('.').unwrap_or((key, ""));
    if table == FIXED_TABLE {
        return Err(Problem::SweepFixed);
    }
    match raw::table_schema(table) {
        Some(schema) if leaf.is_empty() => Err(Problem::SweepTable {
            leaves: schema
                .key_names()
                .iter()
                .map(|name| format!("{table}.{name}"))
                .collect(),
        }),
        Some(_) if raw::leaf_kind(table, leaf).is_some() => Ok(()),
        _ => Err(Problem::SweepUnknownKey {
            sweepable: raw::sweepable_keys(),
        }),
    }
}

/// Whether the (checked) dotted `key` takes a list, such as `model.hidden_layers`.
fn sweep_key_takes_a_list(key: &str) -> bool {
    key.split_once('.')
        .and_then(|(table, leaf)| raw::leaf_kind(table, leaf))
        .is_some_and(|kind| kind.element().is_some())
}

/// Put `value` at the (checked) dotted `key`, creating the table if the base lacks it.
/// The value keeps its own span, so problems with it point at the `[sweep]` line.
fn apply<'i>(
    root: &mut DeTable<'i>,
    key: &str,
    key_span: &Range<usize>,
    value: Spanned<DeValue<'i>>,
) {
    let Some((table, leaf)) = key.split_once('.') else {
        return;
    };
    let table_key = Spanned::new(key_span.clone(), Cow::Owned(table.to_string()));
    let table = root
        .entry(table_key)
        .or_insert_with(|| Spanned::new(key_span.clone(), DeValue::Table(DeTable::new())));
    // A base value that is not a table is reported by the shape check; leave it be.
    if let DeValue::Table(table) = table.get_mut() {
        let leaf_key = Spanned::new(key_span.clone(), Cow::Owned(leaf.to_string()));
        table.insert(leaf_key, value);
    }
}

/// Relative `data.path` values are relative to the experiment file's directory.
fn resolve_data_path(config: &mut RunConfig, experiment_file: &Path) {
    if let Some(path) = &config.data.path
        && path.is_relative()
        && let Some(dir) = experiment_file.parent()
    {
        config.data.path = Some(dir.join(path));
    }
}

/// The configuration of one grid point of an in-memory experiment: `exp.base` with
/// `params` (dotted key, value) applied, validated exactly as a file would be.
///
/// This is how [`crate::sweep::expand`] builds grid points. It works from `exp.base` and
/// the given values, not from `exp.source_text`, so it also serves experiments built in
/// code; their problems name the key but no line. For an experiment from
/// [`parse_experiment`] it cannot fail, since every grid point was validated there.
pub(crate) fn resolve_point(
    exp: &Experiment,
    params: &[(String, toml::Value)],
) -> Result<RunConfig, ConfigError> {
    let file = exp.source_path.as_path();
    let no_line = |key: &str, problem| Diagnostic {
        file: file.to_path_buf(),
        line: None,
        key: key.to_string(),
        problem,
    };
    let mut table = raw_table(&exp.base, Written::from_source(&exp.source_text));
    let mut problems = Vec::new();
    for (key, value) in params {
        match check_sweep_key(key) {
            Ok(()) => set_dotted(&mut table, key, value.clone()),
            Err(problem) => problems.push(no_line(key, problem)),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    let text = toml::to_string(&table).map_err(|e| {
        let problem = Problem::Other {
            message: e.to_string(),
        };
        ConfigError::Invalid(vec![no_line("", problem)])
    })?;
    let source = Source::rendered(file, &text);
    let root = DeTable::parse(&text).map_err(|e| {
        let problem = Problem::Syntax {
            message: e.message().to_string(),
        };
        ConfigError::Invalid(vec![no_line("", problem)])
    })?;
    let swept: Vec<String> = params.iter().map(|(key, _)| key.clone()).collect();
    let mut problems = Vec::new();
    let config = check_point(&source, root, &swept, &mut problems);
    let Some(mut config) = config.filter(|_| problems.is_empty()) else {
        return Err(ConfigError::Invalid(dedup_by_line(problems)));
    };
    if swept.iter().any(|key| key == "data.path") {
        // Only a swept path is as written; the base path was resolved when the file loaded.
        resolve_data_path(&mut config, file);
    }
    Ok(config)
}

/// Set `table.leaf` in a plain TOML table.
fn set_dotted(root: &mut toml::Table, key: &str, value: toml::Value) {
    let Some((table, leaf)) = key.split_once('.') else {
        return;
    };
    let table = root
        .entry(table.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(table) = table {
        table.insert(leaf.to_string(), value);
    }
}

/// Which architecture-dependent `[model]` lists an experiment file writes out.
#[derive(Debug, Default, Clone, Copy)]
struct Written {
    /// `model.hidden_layers` is in the file (outside `[sweep]`).
    hidden_layers: bool,
    /// `model.dropouts` is in the file (outside `[sweep]`).
    dropouts: bool,
}

impl Written {
    /// Read from an experiment file's text; nothing is written for text that does not parse
    /// (an experiment built in code).
    fn from_source(text: &str) -> Self {
        let Ok(root) = text.parse::<toml::Table>() else {
            return Written::default();
        };
        let model = root.get("model").and_then(toml::Value::as_table);
        let has = |key: &str| model.is_some_and(|model| model.contains_key(key));
        Written {
            hidden_layers: has("hidden_layers"),
            dropouts: has("dropouts"),
        }
    }
}

/// `config` written back as the tables of an experiment file (without `[experiment]`).
///
/// A `[model]` list equal to its architecture's default is left out unless `written` says
/// the file spelled it out: leaving it out lets a swept `model.architecture` bring its own
/// default, as it does when the file is loaded.
fn raw_table(config: &RunConfig, written: Written) -> toml::Table {
    use toml::Value;
    fn int(n: usize) -> Value {
        Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
    }
    fn table<const N: usize>(entries: [(&str, Option<Value>); N]) -> Value {
        Value::Table(
            entries
                .into_iter()
                .filter_map(|(key, value)| Some((key.to_string(), value?)))
                .collect(),
        )
    }
    let string = |s: &str| Some(Value::String(s.to_string()));

    let d = &config.data;
    let f = &d.filters;
    let at_least_two = |n: usize| (n > 1).then(|| int(n));
    let data = table([
        ("dataset", string(d.dataset.as_str())),
        (
            "path",
            d.path
                .as_ref()
                .and_then(|path| string(&path.to_string_lossy())),
        ),
        ("min_year", f.min_year.map(|y| Value::Integer(y.into()))),
        ("max_year", f.max_year.map(|y| Value::Integer(y.into()))),
        (
            "verified_only",
            f.verified_only.then_some(Value::Boolean(true)),
        ),
        ("min_user_ratings", at_least_two(f.min_user_ratings)),
        ("min_item_ratings", at_least_two(f.min_item_ratings)),
        ("k_core", f.k_core.map(int)),
        (
            "on_bad_line",
            (d.on_bad_line != BadLinePolicy::Error)
                .then(|| string(d.on_bad_line.as_str()))
                .flatten(),
        ),
    ]);
    let split = match &config.split {
        SplitSpec::Holdout {
            test_fraction,
            validation_fraction,
        } => table([
            ("kind", string(config.split.kind())),
            ("test_fraction", Some(Value::Float(*test_fraction))),
            (
                "validation_fraction",
                Some(Value::Float(*validation_fraction)),
            ),
        ]),
        SplitSpec::Kfold {
            k,
            validation_fraction,
        } => table([
            ("kind", string(config.split.kind())),
            ("k", Some(int(*k))),
            (
                "validation_fraction",
                Some(Value::Float(*validation_fraction)),
            ),
        ]),
    };
    let m = &config.model;
    let float = |x: f64| Some(Value::Float(x));
    // Optional keys are written only when they differ from what leaving them out gives, so a
    // swept value that changes a default (the architecture's hidden layers) still does, and
    // a key tied to another one (`init_scale` to `init`) is not written where it is not
    // allowed. `written` says which architecture-dependent lists the file spelled out.
    let default_layers = m.architecture.default_hidden_layers();
    let layers_written = written.hidden_layers || m.hidden_layers != default_layers;
    // Left out, dropouts are 0 for each layer; the spec has one per layer.
    let dropouts_written = written.dropouts || m.dropouts.iter().any(|&rate| rate != 0.0);
    let ints = |values: &[usize]| Some(Value::Array(values.iter().map(|&n| int(n)).collect()));
    let (init, init_scale) = match m.init {
        None => (None, None),
        Some(InitSpec::HeNormal) => (string("he-normal"), None),
        Some(InitSpec::Normal { std: scale } | InitSpec::Uniform { limit: scale }) => (
            string(m.init.map(InitSpec::as_str).unwrap_or_default()),
            (scale != DEFAULT_INIT_SCALE).then_some(Value::Float(scale)),
        ),
    };
    let model = table([
        ("architecture", string(m.architecture.as_str())),
        ("embedding_size", Some(int(m.embedding_size))),
        ("user_embedding_size", m.user_embedding_size.map(int)),
        ("item_embedding_size", m.item_embedding_size.map(int)),
        (
            "hidden_layers",
            layers_written.then(|| ints(&m.hidden_layers)).flatten(),
        ),
        (
            "dropouts",
            dropouts_written
                .then(|| Value::Array(m.dropouts.iter().map(|&rate| Value::Float(rate)).collect())),
        ),
        (
            "embedding_dropout",
            (m.embedding_dropout != 0.0).then_some(Value::Float(m.embedding_dropout)),
        ),
        ("init", init),
        ("init_scale", init_scale),
        (
            "implicit_l2_scale",
            (m.implicit_l2_scale != DEFAULT_IMPLICIT_L2_SCALE)
                .then_some(Value::Float(m.implicit_l2_scale)),
        ),
    ]);
    let t = &config.training;
    let training = table([
        ("epochs", Some(int(t.epochs))),
        ("batch_size", Some(int(t.batch_size))),
        ("optimizer", string(t.optimizer.as_str())),
        ("learning_rate", float(t.learning_rate)),
        ("loss", string(t.loss.as_str())),
        ("l2", float(t.l2)),
        (
            "weight_decay",
            (t.weight_decay != 0.0).then_some(Value::Float(t.weight_decay)),
        ),
        (
            "momentum",
            (t.momentum != 0.0).then_some(Value::Float(t.momentum)),
        ),
        (
            "huber_delta",
            (t.huber_delta != 1.0).then_some(Value::Float(t.huber_delta)),
        ),
        (
            "lr_schedule",
            (t.lr_schedule != LrSchedule::Constant)
                .then(|| string(t.lr_schedule.as_str()))
                .flatten(),
        ),
        (
            "lr_decay",
            (t.lr_decay != DEFAULT_LR_DECAY).then_some(Value::Float(t.lr_decay)),
        ),
        (
            "patience",
            t.early_stopping.map(|stopping| int(stopping.patience)),
        ),
        (
            "monitor",
            t.early_stopping
                .and_then(|stopping| string(stopping.monitor.as_str())),
        ),
        (
            "device",
            (t.device != DevicePin::Any)
                .then(|| string(t.device.as_str()))
                .flatten(),
        ),
        (
            "engine",
            (t.engine != EngineChoice::Auto)
                .then(|| string(t.engine.as_str()))
                .flatten(),
        ),
    ]);
    // Rating metrics first, then ranking metrics: each list keeps its own order, which is
    // all the spec records.
    let ranking = config.ranking.as_ref();
    let names = config
        .metrics
        .iter()
        .map(|metric| metric.as_str().to_string())
        .chain(
            ranking
                .into_iter()
                .flat_map(|r| r.metrics.iter().map(|m| m.name())),
        )
        .map(Value::String)
        .collect();
    let metrics = table([
        ("names", Some(Value::Array(names))),
        (
            "relevance_threshold",
            ranking.map(|r| Value::Float(r.relevance_threshold)),
        ),
    ]);

    [
        ("data", data),
        ("split", split),
        ("model", model),
        ("training", training),
        ("metrics", metrics),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

#[cfg(test)]
mod tests;
