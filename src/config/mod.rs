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
//! 4. read `[search]` (`search`): the values of its space are checked the same way, each
//!    end of a range and each choice in place of the base value;
//! 5. only when all of that is clean, return the [`Experiment`]: a file that loads is a
//!    file whose whole grid (or every value a search may draw) can run.
//!
//! Every problem is collected, not just the first, and each is displayed as
//! ``experiments/sweep.toml:14: `training.learning_rate` must be > 0, got -0.1``.
//! The file format is documented in `docs/experiment-file.md`.

mod error;
mod raw;
mod search;
mod source;
pub mod spec;
pub mod template;
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

use raw::{FIXED_TABLE, SEARCH_TABLE, SWEEP_TABLE};
use source::Source;
use spec::{Experiment, RunConfig, SweepAxis};
use validate::Checker;

/// The most grid points a sweep may ask for. Every point is validated when the file is
/// loaded and every point trains at least one model; a sweep past this is almost surely a
/// mistake (a list pasted into the wrong key).
pub const MAX_GRID_POINTS: usize = 100_000;

/// The most runs (grid points × folds) one experiment may expand to: a million runs of
/// the smallest model would take days, and a larger `split.k` is a typo.
pub const MAX_RUNS: usize = 1_000_000;

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

/// Read and validate the experiment file at `path` with command-line overrides
/// (`exp run --set KEY=VALUE`, see [`parse_experiment_with`]).
pub fn load_experiment_with(path: &Path, overrides: &[String]) -> Result<Experiment, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_experiment_with(&text, path, overrides)
}

/// Validate experiment-file `text`; `path` is where it came from (named in every error, and
/// the base for relative `data.path` values).
pub fn parse_experiment(text: &str, path: &Path) -> Result<Experiment, ConfigError> {
    parse_experiment_with(text, path, &[])
}

/// The table the `--set` overrides are read from, written after the file's text. Not a
/// key anyone can write: files with it are refused as having an unknown table.
const OVERRIDE_TABLE: &str = "__set__";

/// Validate experiment-file `text` with `overrides`, each `KEY=VALUE` as typed after
/// `--set` (`training.epochs=5`, `model.architecture=ncf`, `model.hidden_layers=[64,32]`).
///
/// An override is a one-value sweep of its key: it replaces the file's value (and the
/// key's `[sweep]` values, if it is swept), is validated like the file, and is one of the
/// run's swept parameters, so its runs are configurations of their own in `exp compare`
/// and have their own run keys. Keys that only decide what is stored
/// (`training.checkpoint`) replace the file's value instead. A VALUE that is not TOML
/// is taken as a string, so `model.architecture=ncf` needs no quotes. Problems with an
/// override name the `--set` argument.
pub fn parse_experiment_with(
    text: &str,
    path: &Path,
    overrides: &[String],
) -> Result<Experiment, ConfigError> {
    parse(text, path, overrides, Reading::Experiment)
}

/// The configuration of one trial of a search: `experiment`'s file with its `--set`
/// overrides and then `params` (searched key, value) applied, exactly as if each param
/// were one more `--set KEY=VALUE` after the experiment's own. So a trial that draws the
/// values of a grid point has that point's configuration and run key.
///
/// The `[search]` table is not read again (it was validated when the experiment was
/// loaded), so this costs what validating one grid point costs. Values that break the
/// file's rules are refused like `--set` values, naming the `KEY=VALUE` argument; a file
/// whose `[sweep]` still has more than one point after `params` is refused too.
pub fn trial_config(
    experiment: &Experiment,
    params: &[(String, toml::Value)],
) -> Result<RunConfig, ConfigError> {
    // A key given twice would be a duplicate TOML key: the trial's value replaces the
    // experiment's `--set` of the same key, as a later `--set` would.
    let drawn = |arg: &String| {
        let key = arg
            .split_once('=')
            .map_or(arg.as_str(), |(key, _)| key)
            .trim();
        params.iter().any(|(param, _)| param == key)
    };
    let mut overrides: Vec<String> = experiment
        .overrides
        .iter()
        .filter(|arg| !drawn(arg))
        .cloned()
        .collect();
    overrides.extend(params.iter().map(|(key, value)| format!("{key}={value}")));
    let trial = parse(
        &experiment.source_text,
        &experiment.source_path,
        &overrides,
        Reading::Trial,
    )?;
    let points = trial.points.len();
    match <[RunConfig; 1]>::try_from(trial.points) {
        Ok([config]) => Ok(config),
        Err(_) => Err(ConfigError::Invalid(vec![Diagnostic {
            file: experiment.source_path.clone(),
            line: None,
            key: SWEEP_TABLE.to_string(),
            problem: Problem::Other {
                message: format!(
                    "a trial is one configuration, but its parameters leave {points} grid \
                     points; give a value for every `[sweep]` key"
                ),
            },
        }])),
    }
}

/// What a file is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// A whole experiment: everything, `[search]` included, is validated.
    Experiment,
    /// One trial of a validated experiment: `[search]` is left out, and sweep values are
    /// checked only as the (single) grid point they make.
    Trial,
}

/// [`parse_experiment_with`], reading for `reading`.
fn parse(
    text: &str,
    path: &Path,
    overrides: &[String],
    reading: Reading,
) -> Result<Experiment, ConfigError> {
    let mut full = text.to_string();
    let mut override_lines = None;
    if !overrides.is_empty() {
        let mut lines = Vec::with_capacity(overrides.len());
        for arg in overrides {
            lines.push(override_line(arg)?);
        }
        full.push_str(&format!("\n[{OVERRIDE_TABLE}]\n"));
        override_lines = Some(full.len());
        for line in lines {
            full.push_str(&line);
            full.push('\n');
        }
    }
    let mut source = Source::file(path, &full);
    source.overrides = override_lines.map(|from| (from, overrides));
    let mut root = DeTable::parse(&full).map_err(|error| {
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

    let set = root.get_mut().remove(OVERRIDE_TABLE);
    if reading == Reading::Trial {
        root.get_mut().remove(SEARCH_TABLE);
    }
    let mut axes = sweep_axes(&source, root.get_ref(), &mut problems);
    if let Some(set) = set {
        apply_overrides(&source, root.get_mut(), set, &mut axes, &mut problems);
    }
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
    bare.get_mut().remove(SEARCH_TABLE);

    // Each sweep value on its own, so a bad value is reported once, on its own line. A
    // trial's values are checked by its one grid point below.
    let single = if reading == Reading::Trial {
        &[][..]
    } else {
        &axes[..]
    };
    for axis in single {
        for value in &axis.values {
            let mut point = bare.clone();
            apply(point.get_mut(), &axis.key, &axis.key_span, value.clone());
            check_point(&source, point, &swept, &mut problems);
        }
    }

    // `[search]`, against the base document and the validated base.
    let mut search = None;
    if let Some((key, value)) = root.get_ref().get_key_value(SEARCH_TABLE) {
        let cx = search::Context {
            source: &source,
            bare: &bare,
            swept: &swept,
            base: base.as_ref().map(|(_, config)| config),
            seed: base.as_ref().map(|(keys, _)| keys.seed),
            has_sweep: root.get_ref().contains_key(SWEEP_TABLE),
        };
        search = search::read(&cx, &key.span(), value, &mut problems);
    }

    // Every grid point, for values that are only wrong together. With today's keys each
    // such clash already shows when one value meets the base, but this keeps "a file that
    // loads runs its whole grid" true as keys are added (under 1 s at the grid limit).
    // The configurations kept here are the grid's: `sweep::expand` hands them out as they
    // are, so each point is read and checked once, from the file itself.
    let mut points = Vec::new();
    if problems.is_empty() {
        let lens: Vec<usize> = axes.iter().map(|axis| axis.values.len()).collect();
        for digits in odometer(&lens) {
            let mut point = bare.clone();
            for (axis, &digit) in axes.iter().zip(&digits) {
                let value = axis.values[digit].clone();
                apply(point.get_mut(), &axis.key, &axis.key_span, value);
            }
            if let Some(mut config) = check_point(&source, point, &swept, &mut problems) {
                resolve_data_path(&mut config, path);
                points.push(config);
            }
        }
    }

    // A grid search runs every point.
    if let Some(spec) = &mut search
        && spec.strategy == crate::search::spec::Strategy::Grid
    {
        spec.trials = points.len();
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
        repeats: keys.repeats,
        source_path: path.to_path_buf(),
        source_text: text.to_string(),
        base,
        sweep,
        points,
        devices: keys.devices,
        search,
        overrides: overrides.to_vec(),
    })
}

/// A diagnostic about `key` of a loaded `experiment`, for checks made after the file was
/// validated (against the loaded data): it names the `--set` argument that set the key,
/// else the key's `[sweep]` entry, else its line in its table; without a line when the
/// key is left at its default.
pub fn key_diagnostic(
    experiment: &Experiment,
    overrides: &[String],
    key: &str,
    problem: Problem,
) -> Diagnostic {
    let set = overrides
        .iter()
        .find(|arg| arg.split_once('=').is_some_and(|(k, _)| k.trim() == key));
    if let Some(arg) = set {
        return Diagnostic {
            file: format!("--set {arg}").into(),
            line: None,
            key: key.to_string(),
            problem,
        };
    }
    let source = Source::file(&experiment.source_path, &experiment.source_text);
    let mut entries = Vec::new();
    if let Ok(root) = DeTable::parse(&experiment.source_text) {
        flatten("", root.get_ref(), &mut entries);
    }
    let swept = format!("{SWEEP_TABLE}.{key}");
    let span = [swept.as_str(), key].into_iter().find_map(|wanted| {
        entries
            .iter()
            .find(|(dotted, _, _)| dotted == wanted)
            .map(|(_, span, _)| span.clone())
    });
    match span {
        Some(span) => source.diagnostic(&span, key, problem),
        None => Diagnostic {
            file: experiment.source_path.clone(),
            line: None,
            key: key.to_string(),
            problem,
        },
    }
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

/// `KEY = VALUE` for the `--set` argument `arg` (`KEY=VALUE`): VALUE as written when it
/// is a TOML value, else quoted as a string.
fn override_line(arg: &str) -> Result<String, ConfigError> {
    let bad = |message: String| {
        ConfigError::Invalid(vec![Diagnostic {
            file: format!("--set {arg}").into(),
            line: None,
            key: String::new(),
            problem: Problem::Other { message },
        }])
    };
    let Some((key, value)) = arg.split_once('=') else {
        return Err(bad(
            "expected KEY=VALUE, e.g. --set training.epochs=5".to_string()
        ));
    };
    let (key, value) = (key.trim(), value.trim());
    let bare = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !key.split('.').all(bare) || !key.contains('.') {
        return Err(bad(format!(
            "`{key}` is not a dotted key such as `training.epochs`"
        )));
    }
    if key.starts_with(&format!("{FIXED_TABLE}.")) {
        return Err(bad(format!(
            "`{FIXED_TABLE}.*` names the experiment and its seed; edit the file (or a copy) to \
             change them"
        )));
    }
    if value.contains(['\n', '\r']) {
        return Err(bad("the value must be on one line".to_string()));
    }
    let is_toml = toml::from_str::<toml::Table>(&format!("v = {value}")).is_ok();
    let value = if is_toml {
        value.to_string()
    } else {
        toml::Value::String(value.to_string()).to_string()
    };
    Ok(format!("{key} = {value}"))
}

/// Apply the `--set` table: storage-only keys replace the base value in `root`; every
/// other key becomes a one-value axis, replacing the values of the key's `[sweep]` axis
/// (in its place) if it has one.
fn apply_overrides<'i>(
    source: &Source<'_>,
    root: &mut DeTable<'i>,
    set: Spanned<DeValue<'i>>,
    axes: &mut Vec<Axis<'i>>,
    problems: &mut Vec<Diagnostic>,
) {
    let DeValue::Table(table) = set.get_ref() else {
        return;
    };
    let mut entries = Vec::new();
    flatten("", table, &mut entries);
    entries.sort_by_key(|(_, key_span, _)| key_span.start);
    for (key, key_span, value) in entries {
        if raw::STORAGE_ONLY.contains(&key.as_str()) {
            apply(root, &key, &key_span, value);
            continue;
        }
        if let Err(problem) = check_sweep_key(&key) {
            // An unknown leaf of a known table reads better as the file's own error.
            let table = key.split_once('.').and_then(|(t, _)| raw::table_schema(t));
            let problem = match (problem, table) {
                (Problem::SweepUnknownKey { .. }, Some(schema)) => Problem::UnknownKey {
                    expected: schema.key_names(),
                },
                (problem, _) => problem,
            };
            problems.push(source.diagnostic(&key_span, &key, problem));
            continue;
        }
        // A swept key keeps its place in the grid's order; a new one comes last.
        match axes.iter_mut().find(|axis| axis.key == key) {
            Some(axis) => {
                axis.key_span = key_span;
                axis.values = vec![value];
            }
            None => axes.push(Axis {
                key,
                key_span,
                values: vec![value],
            }),
        }
    }
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
        // The same value twice would make two grid points with one run key: the second
        // would be "already finished" as soon as the first is.
        if let Some(repeated) = first_repeated_value(source, items) {
            let item = source.snippet(&repeated.span());
            problems.push(source.diagnostic(&repeated.span(), &key, Problem::Duplicate { item }));
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

/// The first value of a `[sweep]` list equal to an earlier one: numbers compare by value
/// (`0.01` and `0.010` are one learning rate), everything else as written.
fn first_repeated_value<'a, 'i>(
    source: &Source<'_>,
    items: &'a [Spanned<DeValue<'i>>],
) -> Option<&'a Spanned<DeValue<'i>>> {
    let normal = |item: &Spanned<DeValue<'_>>| {
        let text = source.snippet(&item.span());
        match item.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => text
                .replace('_', "")
                .parse::<f64>()
                .map_or(text, |x| format!("{x:e}")),
            _ => text,
        }
    };
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        let value = normal(item);
        if seen.contains(&value) {
            return Some(item);
        }
        seen.push(value);
    }
    None
}

/// Depth-first: every non-table value under `table`, with its dotted key and key span.
fn flatten<'i>(
    prefix: &str,
    table: &DeTable<'i>,
    out: &mut Vec<(String, Range<usize>, Spanned<DeValue<'i>>)>,
) {
    flatten_until(prefix, table, &|_| false, out);
}

/// [`flatten`], but a table for which `is_leaf` holds is collected whole instead of
/// entered (a search-space entry such as `{ uniform = [a, b] }`).
fn flatten_until<'i>(
    prefix: &str,
    table: &DeTable<'i>,
    is_leaf: &dyn Fn(&DeTable<'i>) -> bool,
    out: &mut Vec<(String, Range<usize>, Spanned<DeValue<'i>>)>,
) {
    for (key, value) in table.iter() {
        let dotted = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        match value.get_ref() {
            DeValue::Table(inner) if !is_leaf(inner) => flatten_until(&dotted, inner, is_leaf, out),
            _ => out.push((dotted, key.span(), value.clone())),
        }
    }
}

/// Positions `[d0, d1, …]` with `0 <= di < lens[i]`, last position fastest: the grid's
/// order (see `sweep`). One empty position for no axes; nothing if any axis is empty.
pub fn odometer(lens: &[usize]) -> impl Iterator<Item = Vec<usize>> + use<> {
    let lens = lens.to_vec();
    let mut next = (!lens.contains(&0)).then(|| vec![0; lens.len()]);
    std::iter::from_fn(move || {
        let current = next.take()?;
        let mut digits = current.clone();
        // Turn the last wheel; carry leftwards. Falling off the left end means done.
        for position in (0..digits.len()).rev() {
            digits[position] += 1;
            if digits[position] < lens[position] {
                next = Some(digits);
                break;
            }
            digits[position] = 0;
        }
        Some(current)
    })
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
    if raw::STORAGE_ONLY.contains(&key) {
        return Err(Problem::SweepStorageOnly);
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

/// `experiment.seed` of an experiment file's text, e.g. one stored with its runs; the
/// default when the file sets none, `None` when the text is not TOML. The seed decides the
/// split, so runs of two files share their folds only when this agrees.
pub fn file_seed(text: &str) -> Option<u64> {
    let table: toml::Table = toml::from_str(text).ok()?;
    match table.get(FIXED_TABLE).and_then(|e| e.get("seed")) {
        None => Some(DEFAULT_SEED),
        Some(toml::Value::Integer(seed)) => u64::try_from(*seed).ok(),
        Some(_) => None,
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

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod tests;
