//! Raw → validated: the `ParamGuard` step. Every invalid value becomes its own
//! [`Diagnostic`]; nothing stops at the first one, so a file with three mistakes reports three.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::error::{Diagnostic, Problem};
use super::raw::{
    RawData, RawExperiment, RawFile, RawFoldFiles, RawMetrics, RawModel, RawSplit, RawTraining,
};
use super::source::Source;
use super::spec::{
    Architecture, BadLinePolicy, BatchOrder, CheckpointPolicy, DEFAULT_IMPLICIT_L2_SCALE,
    DEFAULT_LR_DECAY, DEFAULT_RELEVANCE_THRESHOLD, DEVICE_FORMAT, DataSpec, DatasetName, DevicePin,
    DeviceSpec, EarlyStopping, EngineChoice, FilterSpec, FoldFiles, InitSpec, LossName, LrSchedule,
    MetricName, ModelSpec, OptimizerName, RankingMetric, RankingNameError, RankingSpec, RunConfig,
    SplitSpec, TemporalCut, TrainingSpec, utc_midnight,
};

/// `model.init_scale` when `model.init` is `normal` or `uniform` and the file gives none.
pub const DEFAULT_INIT_SCALE: f64 = 0.05;

/// `model.init` names, in documentation order.
const INIT_NAMES: [&str; 3] = ["he-normal", "normal", "uniform"];

/// `experiment.seed` when the file gives none.
pub const DEFAULT_SEED: u64 = 42;

/// Collects diagnostics while checking one document.
pub(crate) struct Checker<'a> {
    source: &'a Source<'a>,
    /// Dotted keys that `[sweep]` sets, for the "missing" hint.
    swept: &'a [String],
    /// Keys the shape check already reported and removed: absent, but not "missing".
    dropped: &'a [String],
    /// Every problem found so far.
    pub problems: Vec<Diagnostic>,
}

/// Where a table that is absent "is": the top of the file.
const TOP: Range<usize> = 0..0;

impl<'a> Checker<'a> {
    /// A checker with no problems yet.
    pub fn new(source: &'a Source<'a>, swept: &'a [String], dropped: &'a [String]) -> Self {
        Checker {
            source,
            swept,
            dropped,
            problems: Vec::new(),
        }
    }

    fn was_dropped(&self, key: &str) -> bool {
        self.dropped.iter().any(|dropped| dropped == key)
    }

    fn push(&mut self, span: &Range<usize>, key: &str, problem: Problem) {
        self.problems
            .push(self.source.diagnostic(span, key, problem));
    }

    /// The table, or a "missing table" problem.
    fn table<T>(&mut self, table: Option<Spanned<T>>, name: &str) -> Option<(Range<usize>, T)> {
        match table {
            Some(table) => Some((table.span(), table.into_inner())),
            None => {
                if !self.was_dropped(name) {
                    self.push(&TOP, name, Problem::MissingTable);
                }
                None
            }
        }
    }

    /// The value, or a "missing key" problem on the table's line.
    fn required<T>(
        &mut self,
        value: Option<Spanned<T>>,
        table_span: &Range<usize>,
        key: &str,
    ) -> Option<Spanned<T>> {
        if value.is_none() {
            self.missing(table_span, key);
        }
        value
    }

    /// Report `key` as missing from the table at `table_span`.
    fn missing(&mut self, table_span: &Range<usize>, key: &str) {
        if self.was_dropped(key) {
            return;
        }
        let swept = self.swept.iter().any(|swept| swept == key);
        self.push(table_span, key, Problem::MissingKey { swept });
    }

    /// An integer of at least `min`, as a `usize`.
    fn count(
        &mut self,
        value: Spanned<i64>,
        key: &str,
        min: i64,
        expected: &'static str,
    ) -> Option<usize> {
        let number = *value.get_ref();
        match usize::try_from(number) {
            Ok(count) if number >= min => Some(count),
            _ => {
                let found = self.source.snippet(&value.span());
                self.push(&value.span(), key, Problem::OutOfRange { expected, found });
                None
            }
        }
    }

    /// A finite number for which `ok` holds.
    fn number(
        &mut self,
        value: Spanned<f64>,
        key: &str,
        ok: fn(f64) -> bool,
        expected: &'static str,
    ) -> Option<f64> {
        let number = *value.get_ref();
        if number.is_finite() && ok(number) {
            Some(number)
        } else {
            let found = self.source.snippet(&value.span());
            self.push(&value.span(), key, Problem::OutOfRange { expected, found });
            None
        }
    }

    /// A list of integers, each at least `min`; every bad element is reported on its line.
    fn counts(
        &mut self,
        values: Spanned<Vec<Spanned<i64>>>,
        key: &str,
        min: i64,
        expected: &'static str,
    ) -> Option<Vec<usize>> {
        let counts: Vec<Option<usize>> = values
            .into_inner()
            .into_iter()
            .map(|value| self.count(value, key, min, expected))
            .collect();
        counts.into_iter().collect()
    }

    /// A list of finite numbers for which `ok` holds; every bad element is reported.
    fn numbers(
        &mut self,
        values: Spanned<Vec<Spanned<f64>>>,
        key: &str,
        ok: fn(f64) -> bool,
        expected: &'static str,
    ) -> Option<Vec<f64>> {
        let numbers: Vec<Option<f64>> = values
            .into_inner()
            .into_iter()
            .map(|value| self.number(value, key, ok, expected))
            .collect();
        numbers.into_iter().collect()
    }

    /// ` (line 21)` for a value written in the file, `` (the default)`` for one that is not.
    fn where_set(&self, span: Option<&Range<usize>>) -> String {
        match span.map(|span| self.source.line(span)) {
            Some(Some(line)) => format!(" (line {line})"),
            Some(None) => String::new(),
            None => " (the default)".to_string(),
        }
    }

    /// Report `key` at `span` as needing `requirement`.
    fn requires(&mut self, span: &Range<usize>, key: &str, requirement: String, actual: String) {
        self.push(
            span,
            key,
            Problem::Requires {
                requirement,
                actual,
            },
        );
    }

    /// One of the names in `all`.
    fn choice<T: Copy>(
        &mut self,
        value: &Spanned<String>,
        key: &str,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Option<T> {
        let found = all
            .iter()
            .copied()
            .find(|item| name(*item) == value.get_ref());
        if found.is_none() {
            self.push(
                &value.span(),
                key,
                Problem::UnknownName {
                    allowed: all.iter().map(|item| name(*item)).collect(),
                    found: value.get_ref().clone(),
                },
            );
        }
        found
    }
}

/// The validated `[experiment]` table.
pub(crate) struct ExperimentKeys {
    /// `experiment.name`.
    pub name: String,
    /// `experiment.seed`.
    pub seed: u64,
    /// `experiment.devices` (empty when absent).
    pub devices: Vec<DeviceSpec>,
    /// `experiment.repeats` (1 when absent).
    pub repeats: usize,
}

/// `[experiment]`: the name, seed and devices. `None` when something is wrong (see the
/// checker).
pub(crate) fn experiment(
    cx: &mut Checker<'_>,
    raw: Option<Spanned<RawExperiment>>,
) -> Option<ExperimentKeys> {
    let (
        span,
        RawExperiment {
            name,
            seed,
            devices,
            repeats,
        },
    ) = cx.table(raw, "experiment")?;
    let name = cx.required(name, &span, "experiment.name").and_then(|name| {
        let text = name.get_ref();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !text.is_empty()
            && text.len() <= crate::output::NAME_MAX
            && text.chars().all(allowed)
            && !text.chars().all(|c| c == '.')
        {
            Some(name.into_inner())
        } else {
            let found = cx.source.snippet(&name.span());
            cx.push(
                &name.span(),
                "experiment.name",
                Problem::BadFormat {
                    expected: "made of letters, digits, `_`, `.` and `-`, at most 255 bytes, and not only dots (it names a results/ directory)",
                    found,
                },
            );
            None
        }
    });
    let seed = match seed {
        None => Some(DEFAULT_SEED),
        Some(seed) => cx
            .count(seed, "experiment.seed", 0, ">= 0")
            .map(|seed| seed as u64),
    };
    let devices = match devices {
        None => Some(Vec::new()),
        Some(list) => device_list(cx, list),
    };
    let repeats = match repeats {
        None => Some(1),
        Some(repeats) => cx.count(repeats, "experiment.repeats", 1, ">= 1"),
    };
    Some(ExperimentKeys {
        name: name?,
        seed: seed?,
        devices: devices?,
        repeats: repeats?,
    })
}

/// `experiment.devices`: each entry a [`DeviceSpec`], no device twice, not empty.
fn device_list(
    cx: &mut Checker<'_>,
    list: Spanned<Vec<Spanned<String>>>,
) -> Option<Vec<DeviceSpec>> {
    let key = "experiment.devices";
    if list.get_ref().is_empty() {
        cx.push(&list.span(), key, Problem::EmptyList);
        return None;
    }
    let mut devices: Vec<DeviceSpec> = Vec::new();
    let mut valid = true;
    for entry in list.into_inner() {
        match entry.get_ref().parse::<DeviceSpec>() {
            Ok(device) if devices.iter().any(|d| d.same_device(device)) => {
                cx.push(
                    &entry.span(),
                    key,
                    Problem::Duplicate {
                        item: device.to_string(),
                    },
                );
                valid = false;
            }
            Ok(device) => devices.push(device),
            Err(_) => {
                let found = cx.source.snippet(&entry.span());
                cx.push(
                    &entry.span(),
                    key,
                    Problem::BadFormat {
                        expected: DEVICE_FORMAT,
                        found,
                    },
                );
                valid = false;
            }
        }
    }
    valid.then_some(devices)
}

/// Everything but `[experiment]` and `[sweep]`: one grid point's configuration. `data.path`
/// is returned as written; resolving it against the file's directory is the caller's job.
pub(crate) fn run_config(cx: &mut Checker<'_>, raw: RawFile) -> Option<RunConfig> {
    let data = data(cx, raw.data);
    let split = split(cx, raw.split);
    let model = model(cx, raw.model);
    let validation_fraction = split.as_ref().map(|(split, _)| split.validation_fraction());
    if let (Some(data), Some((_, Some(folds_span)))) = (&data, &split)
        && data.dataset != DatasetName::Ml100k
    {
        cx.requires(
            folds_span,
            "split.folds",
            "`data.dataset = \"ml-100k\"` (the named folds are ML-100K's own files; \
             `[[split.files]]` names any others)"
                .to_string(),
            format!("the data set is `{}`", data.dataset.as_str()),
        );
    }
    let split = split.map(|(split, _)| split);
    let architecture = model.as_ref().map(|model| model.architecture);
    let training = training(cx, raw.training, validation_fraction, architecture);
    // `metrics.save_predictions`: its type is checked with the file's shape; a bool.
    let save_predictions = raw
        .metrics
        .as_ref()
        .and_then(|m| m.get_ref().save_predictions.as_ref())
        .is_some_and(|b| *b.get_ref());
    let (metrics, ranking) = metrics(cx, raw.metrics)?;
    Some(RunConfig {
        data: data?,
        split: split?,
        model: model?,
        training: training?,
        metrics,
        ranking,
        save_predictions,
    })
}

fn data(cx: &mut Checker<'_>, raw: Option<Spanned<RawData>>) -> Option<DataSpec> {
    let (
        span,
        RawData {
            dataset,
            path,
            min_year,
            max_year,
            verified_only,
            min_user_ratings,
            min_item_ratings,
            k_core,
            on_bad_line,
        },
    ) = cx.table(raw, "data")?;
    let dataset_span = dataset.as_ref().map(Spanned::span);
    let dataset = cx
        .required(dataset, &span, "data.dataset")
        .and_then(|dataset| {
            cx.choice(
                &dataset,
                "data.dataset",
                &DatasetName::ALL,
                DatasetName::as_str,
            )
        });
    let path = match path {
        None => Some(None),
        Some(path) if path.get_ref().is_empty() => {
            cx.push(
                &path.span(),
                "data.path",
                Problem::BadFormat {
                    expected: "a non-empty path",
                    found: "\"\"".to_string(),
                },
            );
            None
        }
        Some(path) => Some(Some(PathBuf::from(path.into_inner()))),
    };
    let year = |cx: &mut Checker<'_>, value: Option<Spanned<i64>>, key: &str| match value {
        None => Some(None),
        Some(value) => {
            let year = *value.get_ref();
            if (1900..=2100).contains(&year) {
                Some(i32::try_from(year).ok())
            } else {
                let found = cx.source.snippet(&value.span());
                let expected = ">= 1900 and <= 2100";
                cx.push(&value.span(), key, Problem::OutOfRange { expected, found });
                None
            }
        }
    };
    let max_year_span = max_year.as_ref().map(Spanned::span);
    let min_year = year(cx, min_year, "data.min_year");
    let max_year = year(cx, max_year, "data.max_year");
    if let (Some(Some(lo)), Some(Some(hi)), Some(span)) = (min_year, max_year, &max_year_span)
        && hi < lo
    {
        let found = format!("{hi} (data.min_year is {lo})");
        cx.push(
            span,
            "data.max_year",
            Problem::OutOfRange {
                expected: ">= data.min_year",
                found,
            },
        );
    }
    let verified_only = match verified_only {
        None => Some(false),
        Some(flag) => match dataset {
            Some(DatasetName::AmazonMoviesTv) | None => Some(*flag.get_ref()),
            Some(other) => {
                let actual = format!(
                    "the data set is `{}`{}",
                    other.as_str(),
                    cx.where_set(dataset_span.as_ref())
                );
                cx.requires(
                    &flag.span(),
                    "data.verified_only",
                    "`data.dataset = \"amazon-movies-tv\"` (only Amazon reviews carry a verified flag)"
                        .to_string(),
                    actual,
                );
                None
            }
        },
    };
    let minimum = |cx: &mut Checker<'_>, value: Option<Spanned<i64>>, key: &str| match value {
        None => Some(0),
        Some(value) => cx.count(value, key, 1, ">= 1"),
    };
    let min_user_ratings = minimum(cx, min_user_ratings, "data.min_user_ratings");
    let min_item_ratings = minimum(cx, min_item_ratings, "data.min_item_ratings");
    let k_core = match k_core {
        None => Some(None),
        Some(k) => cx.count(k, "data.k_core", 1, ">= 1").map(Some),
    };
    let on_bad_line = match on_bad_line {
        None => Some(BadLinePolicy::Error),
        Some(name) => cx.choice(
            &name,
            "data.on_bad_line",
            &BadLinePolicy::ALL,
            BadLinePolicy::as_str,
        ),
    };
    Some(DataSpec {
        dataset: dataset?,
        path: path?,
        filters: FilterSpec {
            min_year: min_year?,
            max_year: max_year?,
            verified_only: verified_only?,
            min_user_ratings: min_user_ratings?,
            min_item_ratings: min_item_ratings?,
            k_core: k_core?,
        },
        on_bad_line: on_bad_line?,
    })
}

const HOLDOUT: &str = "holdout";
const KFOLD: &str = "kfold";
const PREDEFINED: &str = "predefined";
const TEMPORAL: &str = "temporal";
const USER_HOLDOUT: &str = "user-holdout";
const SPLIT_KINDS: [&str; 5] = [HOLDOUT, KFOLD, PREDEFINED, TEMPORAL, USER_HOLDOUT];

/// ML-100K's shipped folds and their files, for `split.folds`.
const NAMED_FOLDS: [(&str, &[(&str, &str)]); 2] = [
    (
        "u1-u5",
        &[
            ("u1.base", "u1.test"),
            ("u2.base", "u2.test"),
            ("u3.base", "u3.test"),
            ("u4.base", "u4.test"),
            ("u5.base", "u5.test"),
        ],
    ),
    ("ua-ub", &[("ua.base", "ua.test"), ("ub.base", "ub.test")]),
];

/// A kind-specific `[split]` key, where it is written (if it is), and the kinds it
/// belongs to.
type KeyOfKinds<'a> = (
    &'static str,
    Option<&'a Range<usize>>,
    &'static [&'static str],
);

/// `split.before` as written and its midnight UTC in Unix seconds.
type Date = (String, i64);

/// The validated `[split]` and, when the folds were named by `split.folds`, that key's
/// span (the folds are ML-100K's, which `run_config` checks against `data.dataset`).
type CheckedSplit = (SplitSpec, Option<Range<usize>>);

fn split(cx: &mut Checker<'_>, raw: Option<Spanned<RawSplit>>) -> Option<CheckedSplit> {
    let (
        span,
        RawSplit {
            kind,
            k,
            test_fraction,
            validation_fraction,
            folds,
            files,
            before,
            per_user,
            leave_last,
        },
    ) = cx.table(raw, "split")?;
    let kind = cx
        .required(kind, &span, "split.kind")
        .and_then(|kind| cx.choice(&kind, "split.kind", &SPLIT_KINDS, |name| name));
    let validation_fraction = match validation_fraction {
        None => Some(0.0),
        Some(fraction) => cx.number(
            fraction,
            "split.validation_fraction",
            |f| (0.0..1.0).contains(&f),
            ">= 0 and < 1",
        ),
    };
    // Range checks apply whatever the kind, so every bad value is reported.
    let k_span = k.as_ref().map(Spanned::span);
    let k = k.map(|k| cx.count(k, "split.k", 2, ">= 2"));
    let test_span = test_fraction.as_ref().map(Spanned::span);
    let test_fraction = test_fraction.map(|fraction| {
        cx.number(
            fraction,
            "split.test_fraction",
            |f| f > 0.0 && f < 1.0,
            "> 0 and < 1",
        )
    });
    let leave_last_span = leave_last.as_ref().map(Spanned::span);
    let leave_last = leave_last.map(|n| cx.count(n, "split.leave_last", 1, ">= 1"));
    let folds_span = folds.as_ref().map(Spanned::span);
    let folds = folds.map(|name| {
        let names = NAMED_FOLDS.map(|(name, _)| name);
        cx.choice(&name, "split.folds", &names, |name| name)
            .and_then(|name| NAMED_FOLDS.iter().find(|(n, _)| *n == name))
            .map(|(_, pairs)| {
                pairs
                    .iter()
                    .map(|(train, test)| FoldFiles {
                        train: (*train).to_string(),
                        test: (*test).to_string(),
                    })
                    .collect::<Vec<_>>()
            })
    });
    let files_span = files.as_ref().map(Spanned::span);
    let files = files.map(|files| fold_files(cx, files));
    let before_span = before.as_ref().map(Spanned::span);
    let before = before.map(|date| {
        let text = date.get_ref().clone();
        match utc_midnight(&text) {
            Some(at) => Some((text, at)),
            None => {
                let found = cx.source.snippet(&date.span());
                cx.push(
                    &date.span(),
                    "split.before",
                    Problem::BadFormat {
                        expected: "a date `YYYY-MM-DD`",
                        found,
                    },
                );
                None
            }
        }
    });
    let per_user_span = per_user.as_ref().map(Spanned::span);
    let per_user = per_user.map(|flag| *flag.get_ref());

    // Then each kind-specific key must belong to the kind in effect.
    let kind = kind?;
    let present: [KeyOfKinds<'_>; 7] = [
        ("split.k", k_span.as_ref(), &[KFOLD]),
        (
            "split.test_fraction",
            test_span.as_ref(),
            &[HOLDOUT, TEMPORAL, USER_HOLDOUT],
        ),
        ("split.folds", folds_span.as_ref(), &[PREDEFINED]),
        ("split.files", files_span.as_ref(), &[PREDEFINED]),
        ("split.before", before_span.as_ref(), &[TEMPORAL]),
        ("split.per_user", per_user_span.as_ref(), &[TEMPORAL]),
        ("split.leave_last", leave_last_span.as_ref(), &[TEMPORAL]),
    ];
    let mut misplaced = false;
    for (key, key_span, belongs_to) in present {
        if let Some(key_span) = key_span
            && !belongs_to.contains(&kind)
        {
            cx.push(key_span, key, Problem::WrongSplitKind { kind, belongs_to });
            misplaced = true;
        }
    }
    if misplaced {
        return None;
    }
    let validation_fraction = validation_fraction?;
    let spec = match kind {
        HOLDOUT | USER_HOLDOUT => {
            if test_span.is_none() {
                cx.missing(&span, "split.test_fraction");
            }
            let test_fraction = test_fraction.flatten()?;
            if kind == HOLDOUT {
                SplitSpec::Holdout {
                    test_fraction,
                    validation_fraction,
                }
            } else {
                SplitSpec::UserHoldout {
                    test_fraction,
                    validation_fraction,
                }
            }
        }
        KFOLD => {
            if k_span.is_none() {
                cx.missing(&span, "split.k");
            }
            SplitSpec::Kfold {
                k: k.flatten()?,
                validation_fraction,
            }
        }
        PREDEFINED => {
            let files = match (folds, files, &folds_span) {
                (None, None, _) => {
                    cx.missing(&span, "split.folds");
                    return None;
                }
                (Some(_), Some(_), Some(folds_span)) => {
                    cx.push(
                        folds_span,
                        "split.folds",
                        Problem::Other {
                            message: format!(
                                "`split.folds` and `split.files`{} both name the folds; \
                                 write one of them",
                                cx.where_set(files_span.as_ref())
                            ),
                        },
                    );
                    return None;
                }
                (Some(folds), _, _) => folds?,
                (None, Some(files), _) => files?,
            };
            SplitSpec::Predefined {
                files,
                validation_fraction,
            }
        }
        _ => {
            let cut = temporal_cut(
                cx,
                &span,
                per_user.unwrap_or(false).then_some(per_user_span).flatten(),
                (test_fraction, test_span),
                (before, before_span),
                (leave_last, leave_last_span),
            )?;
            SplitSpec::Temporal {
                cut,
                validation_fraction,
            }
        }
    };
    Some((spec, folds_span))
}

/// A `temporal` split's cut: exactly one of `test_fraction` and `before` for a global
/// cut; with `per_user = true`, exactly one of `leave_last` and `test_fraction`.
fn temporal_cut(
    cx: &mut Checker<'_>,
    span: &Range<usize>,
    per_user: Option<Range<usize>>,
    (test_fraction, test_span): (Option<Option<f64>>, Option<Range<usize>>),
    (before, before_span): (Option<Option<Date>>, Option<Range<usize>>),
    (leave_last, leave_last_span): (Option<Option<usize>>, Option<Range<usize>>),
) -> Option<TemporalCut> {
    let both = |cx: &mut Checker<'_>, key: &str, at: &Range<usize>, other: &str, other_at| {
        let message = format!(
            "`{key}` and `{other}`{} both say where the test set starts; write one of them",
            cx.where_set(Some(other_at))
        );
        cx.push(at, key, Problem::Other { message });
    };
    match per_user {
        None => {
            if let Some(at) = &leave_last_span {
                let actual = "`split.per_user` is not set (a global cut)".to_string();
                cx.requires(
                    at,
                    "split.leave_last",
                    "`split.per_user = true`".into(),
                    actual,
                );
                return None;
            }
            match (test_span, before_span) {
                (None, None) => {
                    cx.missing(span, "split.test_fraction");
                    None
                }
                (Some(at), Some(other)) => {
                    both(cx, "split.before", &other, "split.test_fraction", &at);
                    None
                }
                (Some(_), None) => Some(TemporalCut::Latest {
                    test_fraction: test_fraction.flatten()?,
                }),
                (None, Some(_)) => {
                    let (before, at) = before.flatten()?;
                    Some(TemporalCut::Before { before, at })
                }
            }
        }
        Some(per_user_span) => {
            if let Some(at) = &before_span {
                let actual = format!(
                    "`split.per_user = true`{}",
                    cx.where_set(Some(&per_user_span))
                );
                cx.requires(
                    at,
                    "split.before",
                    "a global cut (`split.per_user` unset or false)".into(),
                    actual,
                );
                return None;
            }
            match (leave_last_span, test_span) {
                (None, None) => {
                    cx.missing(span, "split.leave_last");
                    None
                }
                (Some(at), Some(other)) => {
                    both(cx, "split.leave_last", &at, "split.test_fraction", &other);
                    None
                }
                (Some(_), None) => Some(TemporalCut::UserLast {
                    leave_last: leave_last.flatten()?,
                }),
                (None, Some(_)) => Some(TemporalCut::UserLatest {
                    test_fraction: test_fraction.flatten()?,
                }),
            }
        }
    }
}

/// The `[[split.files]]` pairs: at least one, each with both files named.
fn fold_files(
    cx: &mut Checker<'_>,
    files: Spanned<Vec<Spanned<RawFoldFiles>>>,
) -> Option<Vec<FoldFiles>> {
    let span = files.span();
    let files = files.into_inner();
    if files.is_empty() {
        cx.push(&span, "split.files", Problem::EmptyList);
        return None;
    }
    let mut pairs = Vec::with_capacity(files.len());
    let mut valid = true;
    for pair in files {
        let pair_span = pair.span();
        let RawFoldFiles { train, test } = pair.into_inner();
        let mut name = |value: Option<Spanned<String>>, key: &str| match value {
            None => {
                cx.missing(&pair_span, key);
                None
            }
            Some(path) if path.get_ref().trim().is_empty() => {
                cx.push(
                    &path.span(),
                    key,
                    Problem::BadFormat {
                        expected: "a non-empty path",
                        found: "\"\"".to_string(),
                    },
                );
                None
            }
            Some(path) => Some(path.into_inner()),
        };
        let (train, test) = (
            name(train, "split.files.train"),
            name(test, "split.files.test"),
        );
        match (train, test) {
            (Some(train), Some(test)) => pairs.push(FoldFiles { train, test }),
            _ => valid = false,
        }
    }
    valid.then_some(pairs)
}

fn model(cx: &mut Checker<'_>, raw: Option<Spanned<RawModel>>) -> Option<ModelSpec> {
    let (
        span,
        RawModel {
            architecture,
            embedding_size,
            user_embedding_size,
            item_embedding_size,
            hidden_layers,
            dropouts,
            embedding_dropout,
            init,
            init_scale,
            implicit_l2_scale,
        },
    ) = cx.table(raw, "model")?;
    let architecture = cx
        .required(architecture, &span, "model.architecture")
        .and_then(|name| {
            cx.choice(
                &name,
                "model.architecture",
                &Architecture::ALL,
                Architecture::as_str,
            )
        });
    let embedding_size = cx
        .required(embedding_size, &span, "model.embedding_size")
        .and_then(|size| cx.count(size, "model.embedding_size", 1, ">= 1"));
    let mut side_size = |size: Option<Spanned<i64>>, key| match size {
        None => Some(None),
        Some(size) => cx.count(size, key, 1, ">= 1").map(Some),
    };
    let user_embedding_size = side_size(user_embedding_size, "model.user_embedding_size");
    let item_embedding_size = side_size(item_embedding_size, "model.item_embedding_size");

    // `None`: absent (the architecture's default); `Some(None)`: present but invalid.
    let hidden_layers = hidden_layers
        .map(|layers| cx.counts(layers, "model.hidden_layers", 1, "a list of integers >= 1"));
    let dropout_range = |rate: f64| (0.0..1.0).contains(&rate);
    let dropouts_span = dropouts.as_ref().map(Spanned::span);
    let dropouts = dropouts.map(|rates| {
        cx.numbers(
            rates,
            "model.dropouts",
            dropout_range,
            "a list of numbers >= 0 and < 1",
        )
    });
    let embedding_dropout = match embedding_dropout {
        None => Some(0.0),
        Some(rate) => cx.number(
            rate,
            "model.embedding_dropout",
            dropout_range,
            ">= 0 and < 1",
        ),
    };
    let init = init_spec(cx, init, init_scale);
    let implicit_l2_scale = match implicit_l2_scale {
        None => Some(DEFAULT_IMPLICIT_L2_SCALE),
        Some(scale) => cx.number(scale, "model.implicit_l2_scale", |s| s >= 0.0, ">= 0"),
    };

    let (architecture, embedding_size) = (architecture?, embedding_size?);
    let (hidden_layers, hidden_note) = match hidden_layers {
        None => (
            architecture.default_hidden_layers(),
            format!(" (the default for `{}`)", architecture.as_str()),
        ),
        Some(layers) => (layers?, String::new()),
    };
    let dropouts = match (dropouts, dropouts_span) {
        (Some(rates), Some(rates_span)) => {
            let rates = rates?;
            if rates.len() != hidden_layers.len() {
                cx.push(
                    &rates_span,
                    "model.dropouts",
                    Problem::LengthMismatch {
                        other_key: "model.hidden_layers",
                        expected: hidden_layers.len(),
                        note: hidden_note,
                        found: rates.len(),
                        rule: "one dropout rate per hidden layer",
                    },
                );
                return None;
            }
            rates
        }
        _ => vec![0.0; hidden_layers.len()],
    };
    Some(ModelSpec {
        architecture,
        embedding_size,
        user_embedding_size: user_embedding_size?,
        item_embedding_size: item_embedding_size?,
        hidden_layers,
        dropouts,
        embedding_dropout: embedding_dropout?,
        init: init?,
        implicit_l2_scale: implicit_l2_scale?,
    })
}

/// `model.init` and `model.init_scale`: `Some(None)` when neither is given.
fn init_spec(
    cx: &mut Checker<'_>,
    init: Option<Spanned<String>>,
    init_scale: Option<Spanned<f64>>,
) -> Option<Option<InitSpec>> {
    let init_span = init.as_ref().map(Spanned::span);
    let name = match &init {
        None => None,
        Some(name) => Some(cx.choice(name, "model.init", &INIT_NAMES, |name| name)?),
    };
    let scale = match init_scale {
        None => None,
        Some(scale) => {
            let scale_span = scale.span();
            let scale = cx.number(scale, "model.init_scale", |s| s > 0.0, "> 0")?;
            if !matches!(name, Some("normal" | "uniform")) {
                let actual = match name {
                    Some(name) => format!(
                        "`model.init` is `{name}`{}",
                        cx.where_set(init_span.as_ref())
                    ),
                    None => "`model.init` is not set".to_string(),
                };
                cx.requires(
                    &scale_span,
                    "model.init_scale",
                    "`model.init = \"normal\"` or `\"uniform\"` (it is their standard deviation or limit)"
                        .to_string(),
                    actual,
                );
                return None;
            }
            Some(scale)
        }
    };
    let scale = scale.unwrap_or(DEFAULT_INIT_SCALE);
    Some(match name {
        None => None,
        Some("normal") => Some(InitSpec::Normal { std: scale }),
        Some("uniform") => Some(InitSpec::Uniform { limit: scale }),
        Some(_) => Some(InitSpec::HeNormal),
    })
}

/// `[training]`. `validation_fraction` is the split's (`None` if the split is invalid), which
/// early stopping needs to be positive; `architecture` the model's (`None` if invalid),
/// which `training.threads` needs to have a per-rating path.
fn training(
    cx: &mut Checker<'_>,
    raw: Option<Spanned<RawTraining>>,
    validation_fraction: Option<f64>,
    architecture: Option<Architecture>,
) -> Option<TrainingSpec> {
    let (
        span,
        RawTraining {
            epochs,
            batch_size,
            optimizer,
            learning_rate,
            loss,
            l2,
            weight_decay,
            momentum,
            huber_delta,
            lr_schedule,
            lr_decay,
            patience,
            monitor,
            device,
            engine,
            threads,
            order,
            checkpoint,
        },
    ) = cx.table(raw, "training")?;
    let epochs = cx
        .required(epochs, &span, "training.epochs")
        .and_then(|epochs| cx.count(epochs, "training.epochs", 1, ">= 1"));
    let batch_size = cx
        .required(batch_size, &span, "training.batch_size")
        .and_then(|size| cx.count(size, "training.batch_size", 1, ">= 1"));
    let optimizer_span = optimizer.as_ref().map(Spanned::span);
    let optimizer = match optimizer {
        None => Some(OptimizerName::Adam),
        Some(name) => cx.choice(
            &name,
            "training.optimizer",
            &OptimizerName::ALL,
            OptimizerName::as_str,
        ),
    };
    let learning_rate = cx
        .required(learning_rate, &span, "training.learning_rate")
        .and_then(|rate| cx.number(rate, "training.learning_rate", |r| r > 0.0, "> 0"));
    let loss_span = loss.as_ref().map(Spanned::span);
    let loss = match loss {
        None => Some(LossName::Mse),
        Some(name) => cx.choice(&name, "training.loss", &LossName::ALL, LossName::as_str),
    };
    let l2 = match l2 {
        None => Some(0.0),
        Some(l2) => cx.number(l2, "training.l2", |l2| l2 >= 0.0, ">= 0"),
    };
    let weight_decay = match weight_decay {
        None => Some(0.0),
        Some(decay) => cx.number(decay, "training.weight_decay", |d| d >= 0.0, ">= 0"),
    };

    // Keys that belong to one optimiser or loss: written with another is an error, whatever
    // the value, since the key would silently do nothing.
    let momentum = match momentum {
        None => Some(0.0),
        Some(momentum) => {
            let momentum_span = momentum.span();
            let value = cx.number(
                momentum,
                "training.momentum",
                |m| (0.0..1.0).contains(&m),
                ">= 0 and < 1",
            );
            match optimizer {
                Some(OptimizerName::Sgd) | None => value,
                Some(other) => {
                    let actual = format!(
                        "the optimizer is `{}`{}",
                        other.as_str(),
                        cx.where_set(optimizer_span.as_ref())
                    );
                    cx.requires(
                        &momentum_span,
                        "training.momentum",
                        "`training.optimizer = \"sgd\"`".to_string(),
                        actual,
                    );
                    None
                }
            }
        }
    };
    let huber_delta = match huber_delta {
        None => Some(1.0),
        Some(delta) => {
            let delta_span = delta.span();
            let value = cx.number(delta, "training.huber_delta", |d| d > 0.0, "> 0");
            match loss {
                Some(LossName::Huber) | None => value,
                Some(other) => {
                    let actual = format!(
                        "the loss is `{}`{}",
                        other.as_str(),
                        cx.where_set(loss_span.as_ref())
                    );
                    cx.requires(
                        &delta_span,
                        "training.huber_delta",
                        "`training.loss = \"huber\"`".to_string(),
                        actual,
                    );
                    None
                }
            }
        }
    };
    let schedule_span = lr_schedule.as_ref().map(Spanned::span);
    let lr_schedule = match lr_schedule {
        None => Some(LrSchedule::Constant),
        Some(name) => cx.choice(
            &name,
            "training.lr_schedule",
            &LrSchedule::ALL,
            LrSchedule::as_str,
        ),
    };
    let lr_decay = match lr_decay {
        None => Some(DEFAULT_LR_DECAY),
        Some(decay) => {
            let decay_span = decay.span();
            let value = cx.number(
                decay,
                "training.lr_decay",
                |d| d > 0.0 && d <= 1.0,
                "> 0 and <= 1",
            );
            match lr_schedule {
                Some(LrSchedule::Exponential) | None => value,
                Some(other) => {
                    let actual = format!(
                        "the schedule is `{}`{}",
                        other.as_str(),
                        cx.where_set(schedule_span.as_ref())
                    );
                    cx.requires(
                        &decay_span,
                        "training.lr_decay",
                        "`training.lr_schedule = \"exponential\"`".to_string(),
                        actual,
                    );
                    None
                }
            }
        }
    };
    let early_stopping = early_stopping(cx, patience, monitor, validation_fraction);
    let device = match device {
        None => Some(DevicePin::Any),
        Some(name) => cx.choice(&name, "training.device", &DevicePin::ALL, DevicePin::as_str),
    };
    let engine_span = engine.as_ref().map(Spanned::span);
    let engine = match engine {
        None => Some(EngineChoice::Auto),
        Some(name) => cx.choice(
            &name,
            "training.engine",
            &EngineChoice::ALL,
            EngineChoice::as_str,
        ),
    };
    // exp's fused kernels are CPU code: a fused run pinned to a GPU can never train.
    if let (Some(EngineChoice::Fused), Some(DevicePin::Cuda), Some(span)) =
        (engine, device, &engine_span)
    {
        cx.requires(
            span,
            "training.engine",
            "`training.device = \"cpu\"` or `\"any\"` (the fused engine runs on the CPU only)"
                .to_string(),
            "the device is `cuda`".to_string(),
        );
    }
    let threads = match threads {
        None => Some(1),
        Some(n) => {
            let span = n.span();
            let value = cx.count(n, "training.threads", 1, ">= 1");
            let settings = PerRatingSettings {
                optimizer,
                batch_size,
                momentum,
                loss,
                engine,
                device,
                architecture,
            };
            match settings.why_not() {
                // SVD++'s loop trains on one thread: a user's implicit rows span every item
                // range, so LIBMF's blocks would share rows.
                None if value > Some(1) && architecture == Some(Architecture::SvdPp) => {
                    cx.requires(
                        &span,
                        "training.threads",
                        "a `dot-mf`, `biased-mf` or `funk-svd` model for more than one thread \
                         (SVD++'s per-rating loop trains on one)"
                            .to_string(),
                        "the model is `svdpp`".to_string(),
                    );
                    None
                }
                None => value,
                Some(actual) => {
                    cx.requires(
                        &span,
                        "training.threads",
                        PerRatingSettings::REQUIREMENT.to_string(),
                        actual,
                    );
                    None
                }
            }
        }
    };
    let order = match order {
        None => Some(architecture.map_or(BatchOrder::Shuffled, Architecture::default_batch_order)),
        Some(name) => cx.choice(
            &name,
            "training.order",
            &BatchOrder::ALL,
            BatchOrder::as_str,
        ),
    };
    let checkpoint = match checkpoint {
        None => Some(CheckpointPolicy::None),
        Some(name) => cx.choice(
            &name,
            "training.checkpoint",
            &CheckpointPolicy::ALL,
            CheckpointPolicy::as_str,
        ),
    };

    Some(TrainingSpec {
        epochs: epochs?,
        batch_size: batch_size?,
        optimizer: optimizer?,
        learning_rate: learning_rate?,
        loss: loss?,
        l2: l2?,
        weight_decay: weight_decay?,
        momentum: momentum?,
        huber_delta: huber_delta?,
        lr_schedule: lr_schedule?,
        lr_decay: lr_decay?,
        early_stopping: early_stopping?,
        device: device?,
        engine: engine?,
        threads: threads?,
        order: order?,
        checkpoint: checkpoint?,
    })
}

/// The settings that decide whether a run takes the per-rating SGD path (see
/// `engine::per_rating::PerRatingSgd::for_run`), as far as the file says; `None` fields
/// were invalid and are reported already.
struct PerRatingSettings {
    optimizer: Option<OptimizerName>,
    batch_size: Option<usize>,
    momentum: Option<f64>,
    loss: Option<LossName>,
    engine: Option<EngineChoice>,
    device: Option<DevicePin>,
    architecture: Option<Architecture>,
}

impl PerRatingSettings {
    /// What `training.threads` needs, for its error.
    const REQUIREMENT: &'static str = "the per-rating SGD path: `training.optimizer = \"sgd\"`, \
        `training.batch_size = 1`, no momentum, `training.loss = \"mse\"`, the fused engine \
        on the CPU and a `dot-mf`, `biased-mf`, `funk-svd` or `svdpp` model";

    /// The first setting that keeps the run off the per-rating path, in words; `None` when
    /// none does.
    fn why_not(&self) -> Option<String> {
        if let Some(o) = self.optimizer.filter(|&o| o != OptimizerName::Sgd) {
            return Some(format!("the optimizer is `{}`", o.as_str()));
        }
        if let Some(b) = self.batch_size.filter(|&b| b != 1) {
            return Some(format!("the batch size is {b}"));
        }
        if let Some(m) = self.momentum.filter(|&m| m != 0.0) {
            return Some(format!("the momentum is {m}"));
        }
        if let Some(l) = self.loss.filter(|&l| l != LossName::Mse) {
            return Some(format!("the loss is `{}`", l.as_str()));
        }
        if self.engine == Some(EngineChoice::Graph) {
            return Some("the engine is `graph`".to_string());
        }
        if self.device == Some(DevicePin::Cuda) {
            return Some("the device is `cuda`".to_string());
        }
        let per_rating = [
            Architecture::DotMf,
            Architecture::BiasedMf,
            Architecture::FunkSvd,
            Architecture::SvdPp,
        ];
        self.architecture
            .filter(|a| !per_rating.contains(a))
            .map(|a| format!("the model is `{}`", a.as_str()))
    }
}

/// `training.patience` and `training.monitor`: `Some(None)` when neither is given.
fn early_stopping(
    cx: &mut Checker<'_>,
    patience: Option<Spanned<i64>>,
    monitor: Option<Spanned<String>>,
    validation_fraction: Option<f64>,
) -> Option<Option<EarlyStopping>> {
    let monitor = match monitor {
        None => Some(MetricName::Rmse),
        Some(name) => {
            let chosen = cx.choice(
                &name,
                "training.monitor",
                &MetricName::ALL,
                MetricName::as_str,
            );
            if patience.is_none() {
                cx.requires(
                    &name.span(),
                    "training.monitor",
                    "`training.patience` (it is the metric early stopping watches)".to_string(),
                    "`training.patience` is not set".to_string(),
                );
                return None;
            }
            chosen
        }
    };
    let Some(patience) = patience else {
        return Some(None);
    };
    let patience_span = patience.span();
    let patience = cx.count(patience, "training.patience", 1, ">= 1");
    if validation_fraction == Some(0.0) {
        cx.requires(
            &patience_span,
            "training.patience",
            "a validation split, `split.validation_fraction` > 0 (early stopping watches the validation metric)"
                .to_string(),
            "`split.validation_fraction` is 0".to_string(),
        );
        return None;
    }
    Some(Some(EarlyStopping {
        patience: patience?,
        monitor: monitor?,
    }))
}

/// `metrics.names` when the file gives none.
pub const DEFAULT_METRICS: [MetricName; 2] = [MetricName::Rmse, MetricName::Mae];

/// The names `metrics.names` accepts besides the rating metrics, as shown in messages.
const RANKING_NAMES: [&str; 8] = [
    "precision@K",
    "recall@K",
    "ndcg@K",
    "hit-rate@K",
    "map@K",
    "mrr",
    "mrr@K",
    "coverage@K",
];

/// `[metrics]`: the rating metrics and, when `names` lists any ranking metric, the
/// ranking specification with `relevance_threshold`.
fn metrics(
    cx: &mut Checker<'_>,
    raw: Option<Spanned<RawMetrics>>,
) -> Option<(Vec<MetricName>, Option<RankingSpec>)> {
    let (names, threshold) = match raw.map(Spanned::into_inner) {
        Some(raw) => (raw.names, raw.relevance_threshold),
        None => (None, None),
    };
    let threshold = match threshold {
        None => Some(None),
        Some(value) => {
            let span = value.span();
            cx.number(
                value,
                "metrics.relevance_threshold",
                |t| t > 0.0,
                "> 0 (a rating)",
            )
            .map(|t| Some((span, t)))
        }
    };
    let key = "metrics.names";
    let Some(names) = names else {
        if let Some(Some((span, _))) = threshold {
            cx.requires(
                &span,
                "metrics.relevance_threshold",
                "a ranking metric such as `ndcg@10` in `metrics.names`".to_string(),
                "`metrics.names` is not set (`rmse` and `mae` only)".to_string(),
            );
            return None;
        }
        return Some((DEFAULT_METRICS.to_vec(), None));
    };
    if names.get_ref().is_empty() {
        cx.push(&names.span(), key, Problem::EmptyList);
        return None;
    }
    let names_span = names.span();
    let mut metrics = Vec::new();
    let mut ranking = Vec::new();
    let mut seen = Vec::new();
    let mut valid = true;
    for name in names.into_inner() {
        let text = name.get_ref().as_str();
        if seen.iter().any(|s| s == text) {
            let span = name.span();
            let item = name.into_inner();
            cx.push(&span, key, Problem::Duplicate { item });
            valid = false;
            continue;
        }
        seen.push(text.to_string());
        if let Some(metric) = MetricName::ALL.into_iter().find(|m| m.as_str() == text) {
            metrics.push(metric);
            continue;
        }
        match RankingMetric::parse(text) {
            Ok(metric) => ranking.push(metric),
            Err(error) => {
                valid = false;
                let found = name.get_ref().clone();
                let problem = match error {
                    RankingNameError::Unknown => Problem::UnknownName {
                        allowed: MetricName::ALL
                            .iter()
                            .map(|m| m.as_str())
                            .chain(RANKING_NAMES)
                            .collect(),
                        found,
                    },
                    other => Problem::Other {
                        message: format!("`{found}`: {other}"),
                    },
                };
                cx.push(&name.span(), key, problem);
            }
        }
    }
    let threshold = threshold?;
    if !valid {
        return None;
    }
    if ranking.is_empty() {
        if let Some((span, _)) = threshold {
            cx.requires(
                &span,
                "metrics.relevance_threshold",
                "a ranking metric such as `ndcg@10` in `metrics.names`".to_string(),
                format!(
                    "`metrics.names` has none{}",
                    cx.where_set(Some(&names_span))
                ),
            );
            return None;
        }
        return Some((metrics, None));
    }
    let relevance_threshold = threshold.map_or(DEFAULT_RELEVANCE_THRESHOLD, |(_, t)| t);
    Some((
        metrics,
        Some(RankingSpec {
            metrics: ranking,
            relevance_threshold,
        }),
    ))
}
