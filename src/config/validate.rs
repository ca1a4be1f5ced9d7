//! Raw → validated: the `ParamGuard` step. Every invalid value becomes its own
//! [`Diagnostic`]; nothing stops at the first one, so a file with three mistakes reports three.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::error::{Diagnostic, Problem};
use super::raw::{RawData, RawExperiment, RawFile, RawMetrics, RawModel, RawSplit, RawTraining};
use super::source::Source;
use super::spec::{
    Architecture, DataSpec, DatasetName, LossName, MetricName, ModelSpec, OptimizerName, RunConfig,
    SplitSpec, TrainingSpec,
};

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

/// `[experiment]`: the name and seed. `None` when something is wrong (see the checker).
pub(crate) fn experiment(
    cx: &mut Checker<'_>,
    raw: Option<Spanned<RawExperiment>>,
) -> Option<(String, u64)> {
    let (span, RawExperiment { name, seed }) = cx.table(raw, "experiment")?;
    let name = cx.required(name, &span, "experiment.name").and_then(|name| {
        let text = name.get_ref();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !text.is_empty() && text.chars().all(allowed) && !text.chars().all(|c| c == '.') {
            Some(name.into_inner())
        } else {
            let found = cx.source.snippet(&name.span());
            cx.push(
                &name.span(),
                "experiment.name",
                Problem::BadFormat {
                    expected: "made of letters, digits, `_`, `.` and `-`, and not only dots (it names a results/ directory)",
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
    Some((name?, seed?))
}

/// Everything but `[experiment]` and `[sweep]`: one grid point's configuration. `data.path`
/// is returned as written; resolving it against the file's directory is the caller's job.
pub(crate) fn run_config(cx: &mut Checker<'_>, raw: RawFile) -> Option<RunConfig> {
    let data = data(cx, raw.data);
    let split = split(cx, raw.split);
    let model = model(cx, raw.model);
    let training = training(cx, raw.training);
    let metrics = metrics(cx, raw.metrics);
    Some(RunConfig {
        data: data?,
        split: split?,
        model: model?,
        training: training?,
        metrics: metrics?,
    })
}

fn data(cx: &mut Checker<'_>, raw: Option<Spanned<RawData>>) -> Option<DataSpec> {
    let (span, RawData { dataset, path }) = cx.table(raw, "data")?;
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
    Some(DataSpec {
        dataset: dataset?,
        path: path?,
    })
}

const HOLDOUT: &str = "holdout";
const KFOLD: &str = "kfold";

fn split(cx: &mut Checker<'_>, raw: Option<Spanned<RawSplit>>) -> Option<SplitSpec> {
    let (
        span,
        RawSplit {
            kind,
            k,
            test_fraction,
            validation_fraction,
        },
    ) = cx.table(raw, "split")?;
    let kind = cx
        .required(kind, &span, "split.kind")
        .and_then(|kind| cx.choice(&kind, "split.kind", &[HOLDOUT, KFOLD], |name| name));
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
    // Then each kind takes its own key and forbids the other kind's.
    let kind = kind?;
    let (own_key, own_present, other_key, other_span, other_kind) = if kind == HOLDOUT {
        (
            "split.test_fraction",
            test_fraction.is_some(),
            "split.k",
            k_span,
            KFOLD,
        )
    } else {
        (
            "split.k",
            k.is_some(),
            "split.test_fraction",
            test_span,
            HOLDOUT,
        )
    };
    if !own_present {
        cx.missing(&span, own_key);
    }
    if let Some(other_span) = &other_span {
        cx.push(
            other_span,
            other_key,
            Problem::WrongSplitKind {
                kind,
                belongs_to: other_kind,
            },
        );
        return None;
    }
    let validation_fraction = validation_fraction?;
    if kind == HOLDOUT {
        Some(SplitSpec::Holdout {
            test_fraction: test_fraction.flatten()?,
            validation_fraction,
        })
    } else {
        Some(SplitSpec::Kfold {
            k: k.flatten()?,
            validation_fraction,
        })
    }
}

fn model(cx: &mut Checker<'_>, raw: Option<Spanned<RawModel>>) -> Option<ModelSpec> {
    let (
        span,
        RawModel {
            architecture,
            embedding_size,
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
    let (architecture, embedding_size) = (architecture?, embedding_size?);
    let hidden_layers = architecture.default_hidden_layers();
    Some(ModelSpec {
        architecture,
        embedding_size,
        user_embedding_size: None,
        item_embedding_size: None,
        dropouts: vec![0.0; hidden_layers.len()],
        hidden_layers,
        embedding_dropout: 0.0,
        init: None,
    })
}

fn training(cx: &mut Checker<'_>, raw: Option<Spanned<RawTraining>>) -> Option<TrainingSpec> {
    let (
        span,
        RawTraining {
            epochs,
            batch_size,
            optimizer,
            learning_rate,
            loss,
            l2,
        },
    ) = cx.table(raw, "training")?;
    let epochs = cx
        .required(epochs, &span, "training.epochs")
        .and_then(|epochs| cx.count(epochs, "training.epochs", 1, ">= 1"));
    let batch_size = cx
        .required(batch_size, &span, "training.batch_size")
        .and_then(|size| cx.count(size, "training.batch_size", 1, ">= 1"));
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
    let loss = match loss {
        None => Some(LossName::Mse),
        Some(name) => cx.choice(&name, "training.loss", &LossName::ALL, LossName::as_str),
    };
    let l2 = match l2 {
        None => Some(0.0),
        Some(l2) => cx.number(l2, "training.l2", |l2| l2 >= 0.0, ">= 0"),
    };
    Some(TrainingSpec {
        epochs: epochs?,
        batch_size: batch_size?,
        optimizer: optimizer?,
        learning_rate: learning_rate?,
        loss: loss?,
        l2: l2?,
        weight_decay: 0.0,
        momentum: 0.0,
        huber_delta: 1.0,
        early_stopping: None,
    })
}

/// `metrics.names` when the file gives none.
pub const DEFAULT_METRICS: [MetricName; 2] = [MetricName::Rmse, MetricName::Mae];

fn metrics(cx: &mut Checker<'_>, raw: Option<Spanned<RawMetrics>>) -> Option<Vec<MetricName>> {
    let Some(names) = raw.and_then(|raw| raw.into_inner().names) else {
        return Some(DEFAULT_METRICS.to_vec());
    };
    let key = "metrics.names";
    if names.get_ref().is_empty() {
        cx.push(&names.span(), key, Problem::EmptyList);
        return None;
    }
    let mut metrics = Vec::new();
    let mut valid = true;
    for name in names.into_inner() {
        match cx.choice(&name, key, &MetricName::ALL, MetricName::as_str) {
            Some(metric) if metrics.contains(&metric) => {
                cx.push(
                    &name.span(),
                    key,
                    Problem::Duplicate {
                        item: name.into_inner(),
                    },
                );
                valid = false;
            }
            Some(metric) => metrics.push(metric),
            None => valid = false,
        }
    }
    valid.then_some(metrics)
}
