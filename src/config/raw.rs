//! The experiment file as written: serde structs that mirror the TOML, before validation.
//!
//! Every leaf is a [`Spanned`] so validation can say on which line a bad value is; every
//! key is optional here so a missing key is reported by validation (with its table's line)
//! rather than by serde. Reading goes in two steps:
//!
//! 1. [`check_shape`] walks the parsed document against [`SCHEMA`] and reports *every*
//!    unknown key (listing the valid ones) and every value of the wrong TOML type, each with
//!    its dotted key and line. serde stops at the first error and knows neither, so this pass
//!    is what makes the messages useful.
//! 2. serde fills [`RawFile`]. Because of step 1 it cannot fail on user input; it is kept
//!    strict (`deny_unknown_fields`) so that the schema and these structs cannot drift apart
//!    silently (a test checks they agree).

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::{Diagnostic, Problem};
use super::source::Source;

/// The TOML type a leaf key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A TOML integer.
    Int,
    /// A TOML float or integer (`learning_rate = 1` is fine).
    Float,
    /// A TOML string.
    Str,
    /// A TOML boolean, e.g. `data.verified_only`.
    Bool,
    /// An array of strings.
    StrList,
    /// An array of integers, e.g. `model.hidden_layers`.
    IntList,
    /// An array of numbers (floats or integers), e.g. `model.dropouts`.
    FloatList,
    /// An array of tables with string keys `train` and `test`: `[[split.files]]`.
    FilePairs,
}

impl Kind {
    /// How the expected type reads in a message.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Int => "an integer",
            Kind::Float => "a number",
            Kind::Str => "a string",
            Kind::Bool => "a boolean",
            Kind::StrList => "a list of strings",
            Kind::IntList => "a list of integers",
            Kind::FloatList => "a list of numbers",
            Kind::FilePairs => "a list of tables with `train` and `test` file names",
        }
    }

    /// The kind of each element for list kinds; `None` for scalars.
    pub fn element(self) -> Option<Kind> {
        match self {
            Kind::StrList => Some(Kind::Str),
            Kind::IntList => Some(Kind::Int),
            Kind::FloatList => Some(Kind::Float),
            Kind::Int | Kind::Float | Kind::Str | Kind::Bool | Kind::FilePairs => None,
        }
    }
}

/// One table of the experiment file and its keys, in documentation order.
#[derive(Debug)]
pub(crate) struct TableSchema {
    /// The table name, e.g. `model`.
    pub name: &'static str,
    /// Its keys and their types.
    pub keys: &'static [(&'static str, Kind)],
}

impl TableSchema {
    /// The key names, in order.
    pub fn key_names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|(name, _)| *name).collect()
    }
}

/// Every table and key an experiment file may contain, besides `[sweep]` and `[search]`.
pub(crate) const SCHEMA: &[TableSchema] = &[
    TableSchema {
        name: "experiment",
        keys: &[
            ("name", Kind::Str),
            ("seed", Kind::Int),
            ("devices", Kind::StrList),
            // Repeated holdout (statistics): how many seeds each configuration runs with.
            ("repeats", Kind::Int),
        ],
    },
    TableSchema {
        name: "data",
        keys: &[
            ("dataset", Kind::Str),
            ("path", Kind::Str),
            ("min_year", Kind::Int),
            ("max_year", Kind::Int),
            ("verified_only", Kind::Bool),
            ("min_user_ratings", Kind::Int),
            ("min_item_ratings", Kind::Int),
            ("k_core", Kind::Int),
            ("on_bad_line", Kind::Str),
        ],
    },
    TableSchema {
        name: "split",
        keys: &[
            ("kind", Kind::Str),
            ("k", Kind::Int),
            ("test_fraction", Kind::Float),
            ("validation_fraction", Kind::Float),
            // Predefined and temporal splits.
            ("folds", Kind::Str),
            ("files", Kind::FilePairs),
            ("before", Kind::Str),
            ("per_user", Kind::Bool),
            ("leave_last", Kind::Int),
        ],
    },
    TableSchema {
        name: "model",
        keys: &[
            ("architecture", Kind::Str),
            ("embedding_size", Kind::Int),
            ("user_embedding_size", Kind::Int),
            ("item_embedding_size", Kind::Int),
            ("hidden_layers", Kind::IntList),
            ("dropouts", Kind::FloatList),
            ("embedding_dropout", Kind::Float),
            ("init", Kind::Str),
            ("init_scale", Kind::Float),
            ("implicit_l2_scale", Kind::Float),
        ],
    },
    TableSchema {
        name: "training",
        keys: &[
            ("epochs", Kind::Int),
            ("batch_size", Kind::Int),
            ("optimizer", Kind::Str),
            ("learning_rate", Kind::Float),
            ("loss", Kind::Str),
            ("l2", Kind::Float),
            ("weight_decay", Kind::Float),
            ("momentum", Kind::Float),
            ("huber_delta", Kind::Float),
            ("lr_schedule", Kind::Str),
            ("lr_decay", Kind::Float),
            ("patience", Kind::Int),
            ("monitor", Kind::Str),
            ("device", Kind::Str),
            ("engine", Kind::Str),
            ("threads", Kind::Int),
            ("order", Kind::Str),
            ("checkpoint", Kind::Str),
        ],
    },
    TableSchema {
        name: "metrics",
        keys: &[
            ("names", Kind::StrList),
            ("relevance_threshold", Kind::Float),
            // Saved test predictions (statistics): storage only, see STORAGE_ONLY.
            ("save_predictions", Kind::Bool),
        ],
    },
];

/// The table holding the sweep; its contents are read by `config::sweep_axes`, not here.
pub(crate) const SWEEP_TABLE: &str = "sweep";

/// The table holding the search (strategy, space, pruner); read by `config::search`.
pub(crate) const SEARCH_TABLE: &str = "search";

/// The table whose keys are fixed for the whole experiment and cannot be swept.
pub(crate) const FIXED_TABLE: &str = "experiment";

/// The schema of table `name`.
pub(crate) fn table_schema(name: &str) -> Option<&'static TableSchema> {
    SCHEMA.iter().find(|table| table.name == name)
}

/// The type of the leaf `table.key`, if it exists.
pub(crate) fn leaf_kind(table: &str, key: &str) -> Option<Kind> {
    let schema = table_schema(table)?;
    schema
        .keys
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, kind)| *kind)
}

/// The keys allowed at the top level, in documentation order.
fn top_level_keys() -> Vec<&'static str> {
    SCHEMA
        .iter()
        .map(|table| table.name)
        .chain([SWEEP_TABLE, SEARCH_TABLE])
        .collect()
}

/// Every dotted key that `[sweep]` accepts: all leaves outside `[experiment]`.
pub(crate) fn sweepable_keys() -> Vec<String> {
    SCHEMA
        .iter()
        .filter(|table| table.name != FIXED_TABLE)
        .flat_map(|table| {
            table
                .keys
                .iter()
                .map(move |(key, _)| format!("{}.{key}", table.name))
        })
        .filter(|key| !STORAGE_ONLY.contains(&key.as_str()))
        .collect()
}

/// Keys that decide what is stored, not what is trained: never part of a run key, so they
/// cannot be swept (their grid points would be one run).
pub(crate) const STORAGE_ONLY: &[&str] = &["training.checkpoint", "metrics.save_predictions"];

/// `string "ten"`, `integer 8`, `a table`: how a found value reads in a message.
pub(crate) fn describe_value(source: &Source<'_>, value: &Spanned<DeValue<'_>>) -> String {
    match value.get_ref() {
        DeValue::Table(_) => "a table".to_string(),
        other => {
            let mut snippet = source.snippet(&value.span());
            if snippet.chars().count() > 40 {
                snippet = snippet.chars().take(37).collect::<String>() + "...";
            }
            format!("{} {snippet}", other.type_str())
        }
    }
}

/// Step 1: report unknown keys and values of the wrong type anywhere outside `[sweep]`
/// and `[search]` (whose contents are read with their spans elsewhere),
/// and drop them from `root` so that serde and validation can still check everything else.
/// Returns the dotted keys dropped (validation must not call them "missing").
pub(crate) fn check_shape(
    source: &Source<'_>,
    root: &mut DeTable<'_>,
    out: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut dropped = Vec::new();
    let mut remove = Vec::new();
    for (name, value) in root.iter_mut() {
        let name_str: &str = name.get_ref();
        if name_str == SWEEP_TABLE || name_str == SEARCH_TABLE {
            if !value.get_ref().is_table() {
                out.push(wrong_type(source, value, name_str, "a table"));
                remove.push(name_str.to_string());
            }
            continue;
        }
        let Some(schema) = table_schema(name_str) else {
            out.push(source.diagnostic(
                &name.span(),
                name_str,
                Problem::UnknownKey {
                    expected: top_level_keys(),
                },
            ));
            remove.push(name_str.to_string());
            continue;
        };
        if !value.get_ref().is_table() {
            out.push(wrong_type(source, value, name_str, "a table"));
            remove.push(name_str.to_string());
            dropped.push(name_str.to_string());
            continue;
        }
        let DeValue::Table(table) = value.get_mut() else {
            continue;
        };
        let mut remove_leaves = Vec::new();
        for (key, value) in table.iter() {
            let dotted = format!("{name_str}.{}", key.get_ref());
            let fine = match leaf_kind(name_str, key.get_ref()) {
                None => {
                    out.push(source.diagnostic(
                        &key.span(),
                        &dotted,
                        Problem::UnknownKey {
                            expected: schema.key_names(),
                        },
                    ));
                    false
                }
                Some(kind) => check_leaf(source, value, &dotted, kind, out),
            };
            if !fine {
                remove_leaves.push(key.get_ref().to_string());
                dropped.push(dotted);
            }
        }
        for key in remove_leaves {
            table.remove(key.as_str());
        }
    }
    for key in remove {
        root.remove(key.as_str());
    }
    dropped
}

fn wrong_type(
    source: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    key: &str,
    expected: &'static str,
) -> Diagnostic {
    source.diagnostic(
        &value.span(),
        key,
        Problem::WrongType {
            expected,
            found: describe_value(source, value),
        },
    )
}

/// Check one leaf value against its kind; `false` (with a diagnostic) if it does not fit.
fn check_leaf(
    source: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    key: &str,
    kind: Kind,
    out: &mut Vec<Diagnostic>,
) -> bool {
    match (kind, value.get_ref()) {
        (Kind::Int, DeValue::Integer(_)) => {
            // TOML allows integers that do not fit in 64 bits to parse; serde would reject them.
            let fits = i64::deserialize(ValueDeserializer::from(value.clone())).is_ok();
            if !fits {
                out.push(source.diagnostic(
                    &value.span(),
                    key,
                    Problem::OutOfRange {
                        expected: "a 64-bit integer",
                        found: source.snippet(&value.span()),
                    },
                ));
            }
            fits
        }
        (Kind::Float, DeValue::Integer(_) | DeValue::Float(_)) => true,
        (Kind::Str, DeValue::String(_)) => true,
        (Kind::Bool, DeValue::Boolean(_)) => true,
        (Kind::StrList | Kind::IntList | Kind::FloatList, DeValue::Array(items)) => {
            let element = kind.element().unwrap_or(Kind::Str);
            let before = out.len();
            for item in items.iter() {
                let fits_type = matches!(
                    (element, item.get_ref()),
                    (Kind::Int, DeValue::Integer(_))
                        | (Kind::Float, DeValue::Integer(_) | DeValue::Float(_))
                        | (Kind::Str, DeValue::String(_))
                );
                if fits_type {
                    // Only the 64-bit check can still fail.
                    check_leaf(source, item, key, element, out);
                } else {
                    out.push(wrong_type(source, item, key, kind.expected()));
                }
            }
            out.len() == before
        }
        (Kind::FilePairs, DeValue::Array(items)) => {
            let before = out.len();
            for item in items.iter() {
                let DeValue::Table(pair) = item.get_ref() else {
                    out.push(wrong_type(source, item, key, kind.expected()));
                    continue;
                };
                for (name, value) in pair.iter() {
                    let dotted = format!("{key}.{}", name.get_ref());
                    if !FILE_PAIR_KEYS.contains(&name.get_ref().as_ref()) {
                        out.push(source.diagnostic(
                            &name.span(),
                            &dotted,
                            Problem::UnknownKey {
                                expected: FILE_PAIR_KEYS.to_vec(),
                            },
                        ));
                    } else if !matches!(value.get_ref(), DeValue::String(_)) {
                        out.push(wrong_type(source, value, &dotted, Kind::Str.expected()));
                    }
                }
            }
            out.len() == before
        }
        _ => {
            out.push(wrong_type(source, value, key, kind.expected()));
            false
        }
    }
}

/// The keys of one `[[split.files]]` entry.
const FILE_PAIR_KEYS: &[&str] = &["train", "test"];

/// The raw file, and the dotted keys the shape check dropped.
pub(crate) struct Read {
    /// What serde read from the checked document.
    pub file: RawFile,
    /// Keys reported and removed by [`check_shape`].
    pub dropped: Vec<String>,
}

/// Steps 1 and 2: shape check, then serde. Problems go to `out`; `None` only if serde fails,
/// which the schema test rules out.
pub(crate) fn read_raw(
    source: &Source<'_>,
    mut root: Spanned<DeTable<'_>>,
    out: &mut Vec<Diagnostic>,
) -> Option<Read> {
    let dropped = check_shape(source, root.get_mut(), out);
    let lookup = root.clone();
    match RawFile::deserialize(toml::de::Deserializer::from(root)) {
        Ok(file) => Some(Read { file, dropped }),
        Err(error) => {
            // Unreachable for inputs that pass `check_shape` unless the schema and the
            // structs below disagree; still report it as well as we can.
            let span = error.span().unwrap_or(0..0);
            let key = key_at(lookup.get_ref(), &span, "").unwrap_or_default();
            out.push(source.diagnostic(
                &span,
                &key,
                Problem::Other {
                    message: error.message().to_string(),
                },
            ));
            None
        }
    }
}

/// The dotted key whose key or value span holds `span.start`, deepest first.
fn key_at(table: &DeTable<'_>, span: &Range<usize>, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let dotted = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        if let DeValue::Table(inner) = value.get_ref()
            && let Some(found) = key_at(inner, span, &dotted)
        {
            return Some(found);
        }
        if key.span().contains(&span.start) || value.span().contains(&span.start) {
            return Some(dotted);
        }
    }
    None
}

/// The whole file. Every table is optional here; validation reports the missing ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    /// `[experiment]`.
    pub experiment: Option<Spanned<RawExperiment>>,
    /// `[data]`.
    pub data: Option<Spanned<RawData>>,
    /// `[split]`.
    pub split: Option<Spanned<RawSplit>>,
    /// `[model]`.
    pub model: Option<Spanned<RawModel>>,
    /// `[training]`.
    pub training: Option<Spanned<RawTraining>>,
    /// `[metrics]`.
    pub metrics: Option<Spanned<RawMetrics>>,
    /// `[sweep]`: accepted here, read with its spans by `config::sweep_axes`.
    #[allow(dead_code)]
    pub sweep: Option<toml::Table>,
    /// `[search]`: accepted here, read with its spans by `config::search`. Ignored rather
    /// than parsed, so nothing in it can stop the rest of the file from being checked.
    #[allow(dead_code)]
    pub search: Option<serde::de::IgnoredAny>,
}

/// `[experiment]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExperiment {
    /// Required.
    pub name: Option<Spanned<String>>,
    /// Default 42.
    pub seed: Option<Spanned<i64>>,
    /// Default: decided by the command line (all CPU cores).
    pub devices: Option<Spanned<Vec<Spanned<String>>>>,
    /// Default 1: each configuration and fold runs once, with the experiment's seed.
    pub repeats: Option<Spanned<i64>>,
}

/// `[data]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawData {
    /// Required.
    pub dataset: Option<Spanned<String>>,
    /// Optional.
    pub path: Option<Spanned<String>>,
    /// Optional: keep ratings from this year on.
    pub min_year: Option<Spanned<i64>>,
    /// Optional: keep ratings up to this year.
    pub max_year: Option<Spanned<i64>>,
    /// Default false; Amazon only.
    pub verified_only: Option<Spanned<bool>>,
    /// Default 1 (off).
    pub min_user_ratings: Option<Spanned<i64>>,
    /// Default 1 (off).
    pub min_item_ratings: Option<Spanned<i64>>,
    /// Optional.
    pub k_core: Option<Spanned<i64>>,
    /// `error` (default) or `skip`.
    pub on_bad_line: Option<Spanned<String>>,
}

/// `[split]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSplit {
    /// Required: `holdout` or `kfold`.
    pub kind: Option<Spanned<String>>,
    /// k-fold only.
    pub k: Option<Spanned<i64>>,
    /// Holdout only.
    pub test_fraction: Option<Spanned<f64>>,
    /// Default 0.
    pub validation_fraction: Option<Spanned<f64>>,
    /// Predefined only: `u1-u5` or `ua-ub` (ML-100K's shipped folds).
    pub folds: Option<Spanned<String>>,
    /// Predefined only: `[[split.files]]` train/test pairs.
    pub files: Option<Spanned<Vec<Spanned<RawFoldFiles>>>>,
    /// Temporal only: `YYYY-MM-DD`, the first day of the test set.
    pub before: Option<Spanned<String>>,
    /// Temporal only: cut each user's ratings rather than all of them.
    pub per_user: Option<Spanned<bool>>,
    /// Temporal with `per_user` only: each user's last N ratings are the test set.
    pub leave_last: Option<Spanned<i64>>,
}

/// One `[[split.files]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFoldFiles {
    /// Required: the training file.
    pub train: Option<Spanned<String>>,
    /// Required: the test file.
    pub test: Option<Spanned<String>>,
}

/// `[model]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    /// Required.
    pub architecture: Option<Spanned<String>>,
    /// Required.
    pub embedding_size: Option<Spanned<i64>>,
    /// Default: `embedding_size`.
    pub user_embedding_size: Option<Spanned<i64>>,
    /// Default: `embedding_size`.
    pub item_embedding_size: Option<Spanned<i64>>,
    /// Default: the architecture's (`Architecture::default_hidden_layers`).
    pub hidden_layers: Option<Spanned<Vec<Spanned<i64>>>>,
    /// Default: 0 for each hidden layer.
    pub dropouts: Option<Spanned<Vec<Spanned<f64>>>>,
    /// Default 0.
    pub embedding_dropout: Option<Spanned<f64>>,
    /// `he-normal`, `normal` or `uniform`; default: the architecture's own.
    pub init: Option<Spanned<String>>,
    /// Only with `init` `normal` or `uniform`; default 0.05.
    pub init_scale: Option<Spanned<f64>>,
    /// Default 0.5; read by `svdpp` only.
    pub implicit_l2_scale: Option<Spanned<f64>>,
}

/// `[training]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTraining {
    /// Required.
    pub epochs: Option<Spanned<i64>>,
    /// Required.
    pub batch_size: Option<Spanned<i64>>,
    /// Default `adam`.
    pub optimizer: Option<Spanned<String>>,
    /// Required.
    pub learning_rate: Option<Spanned<f64>>,
    /// Default `mse`.
    pub loss: Option<Spanned<String>>,
    /// Default 0.
    pub l2: Option<Spanned<f64>>,
    /// Default 0.
    pub weight_decay: Option<Spanned<f64>>,
    /// Default 0; only with `sgd`.
    pub momentum: Option<Spanned<f64>>,
    /// Default 1; only with `huber`.
    pub huber_delta: Option<Spanned<f64>>,
    /// `constant`, `cosine` or `exponential`; default `constant`.
    pub lr_schedule: Option<Spanned<String>>,
    /// Default 0.95; only with `exponential`.
    pub lr_decay: Option<Spanned<f64>>,
    /// Absent: no early stopping.
    pub patience: Option<Spanned<i64>>,
    /// Default `rmse`; only with `patience`.
    pub monitor: Option<Spanned<String>>,
    /// `any`, `cpu` or `cuda`; default `any`.
    pub device: Option<Spanned<String>>,
    /// `auto`, `fused` or `graph`; default `auto`.
    pub engine: Option<Spanned<String>>,
    /// Default 1; only on the per-rating SGD path.
    pub threads: Option<Spanned<i64>>,
    /// `shuffled`, `by-user` or `by-item`; default `shuffled` (`by-item` for `autorec`).
    pub order: Option<Spanned<String>>,
    /// `none` or `best`; default `none`.
    pub checkpoint: Option<Spanned<String>>,
}

/// `[metrics]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    /// Default `["rmse", "mae"]`.
    pub names: Option<Spanned<Vec<Spanned<String>>>>,
    /// Default 4; only with a ranking metric in `names`.
    pub relevance_threshold: Option<Spanned<f64>>,
    /// Default false: store each run's test predictions.
    pub save_predictions: Option<Spanned<bool>>,
}
