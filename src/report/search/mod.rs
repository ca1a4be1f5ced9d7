//! Charts of a hyperparameter search: how the objective improved over the trials, how it
//! depends on each searched parameter, the validation curves of every trial with the
//! pruned ones marked, and how much of the objective's spread each parameter explains.
//!
//! The reports read a [`SearchView`], a plain copy of what the store knows about a
//! search (its space and each trial's parameters, state, objective and per-epoch
//! values), so every chart here is a pure function of data that a test can write by
//! hand. As elsewhere in `report/`, each chart is a `prepare` (unit-tested, no file)
//! and a thin `draw`; [`write_search_charts`] draws those that have something to show.

pub mod history;
pub mod importance;
pub mod intermediate;
pub mod slice;
pub mod stored;

use std::path::{Path, PathBuf};

use super::ReportError;
use super::compare::short_names;
use crate::search::spec::{Distribution, Parameter};

pub use importance::importance;

/// File name of the optimisation history ([`history`]).
pub const HISTORY_FILE: &str = "search_history.png";
/// File name of the slice chart ([`slice`]).
pub const SLICE_FILE: &str = "search_slice.png";
/// File name of the intermediate values chart ([`intermediate`]).
pub const INTERMEDIATE_FILE: &str = "search_intermediate.png";
/// File name of the parameter importance chart ([`importance`]).
pub const IMPORTANCE_FILE: &str = "search_importance.png";

/// How a trial ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialState {
    /// Trained to the end on every fold: it has an objective.
    Complete,
    /// Stopped early by the pruner: it keeps the epochs it trained.
    Pruned,
    /// A run of it failed.
    Failed,
    /// Still training (or interrupted and not yet resumed).
    Running,
}

/// One trial as the reports see it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialView {
    /// The trial's number, 0-based, in the order the sampler drew it.
    pub number: usize,
    /// The searched keys that applied to this trial with their values; a conditional
    /// key whose condition did not hold is absent.
    pub params: Vec<(String, toml::Value)>,
    /// How it ended.
    pub state: TrialState,
    /// Its objective: the validation RMSE, mean over its folds; `None` while running or
    /// when it failed.
    pub value: Option<f64>,
    /// The test RMSE, mean over its folds, of a complete trial.
    pub test_rmse: Option<f64>,
    /// Seconds from the start of the search's first trial to the end of this one;
    /// `None` while it runs.
    pub ended_after: Option<f64>,
    /// Its intermediate values: `(epoch, validation RMSE)`, the epoch 1-based and the
    /// RMSE the mean over the folds that reported that epoch, in epoch order.
    pub epochs: Vec<(usize, f64)>,
}

impl TrialView {
    /// The objective of a complete trial, when it is a finite number: the value every
    /// chart and the importance measure rank by.
    pub fn objective(&self) -> Option<f64> {
        if self.state == TrialState::Complete {
            self.value.filter(|v| v.is_finite())
        } else {
            None
        }
    }

    /// Where a pruned trial stood when it was stopped: its last finite intermediate
    /// value, else its objective if it has a finite one.
    pub fn last_value(&self) -> Option<f64> {
        self.epochs
            .iter()
            .rev()
            .map(|&(_, v)| v)
            .find(|v| v.is_finite())
            .or(self.value.filter(|v| v.is_finite()))
    }

    /// The value of searched key `key` in this trial; `None` where it did not apply.
    pub fn param(&self, key: &str) -> Option<&toml::Value> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A search as the reports see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchView {
    /// The experiment's name, for titles.
    pub experiment: String,
    /// The searched keys in file order, with their distributions (log or linear axes,
    /// categories).
    pub space: Vec<Parameter>,
    /// Every trial, in any order.
    pub trials: Vec<TrialView>,
}

impl SearchView {
    /// The best complete trial: the lowest objective, the lower number on a tie.
    pub fn best(&self) -> Option<&TrialView> {
        self.trials
            .iter()
            .filter_map(|t| t.objective().map(|v| (t, v)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.number.cmp(&b.0.number)))
            .map(|(t, _)| t)
    }

    /// The short name of each searched key, in space order (`learning_rate`, or the
    /// full key where two keys end alike).
    pub fn names(&self) -> Vec<String> {
        let keys: Vec<String> = self.space.iter().map(|p| p.key.clone()).collect();
        let names = short_names(&keys);
        keys.iter()
            .map(|k| names.get(k).cloned().unwrap_or_else(|| k.clone()))
            .collect()
    }

    /// How many trials are in each state: complete, pruned, failed, running.
    pub fn counts(&self) -> [usize; 4] {
        let count = |s: TrialState| self.trials.iter().filter(|t| t.state == s).count();
        [
            count(TrialState::Complete),
            count(TrialState::Pruned),
            count(TrialState::Failed),
            count(TrialState::Running),
        ]
    }
}

/// `12 complete, 3 pruned, 1 failed`: the trials by state, states with none left out.
pub(crate) fn counts_phrase(view: &SearchView) -> String {
    let [complete, pruned, failed, running] = view.counts();
    let mut parts = vec![format!("{complete} complete")];
    for (n, word) in [(pruned, "pruned"), (failed, "failed"), (running, "running")] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.join(", ")
}

/// Whether a parameter is drawn and binned on a log scale: `log_uniform`, or `int`
/// with `log = true`.
pub fn is_log(distribution: &Distribution) -> bool {
    matches!(
        distribution,
        Distribution::LogUniform { .. } | Distribution::Int { log: true, .. }
    )
}

/// A TOML value as a number, when it is an integer or a float.
pub(crate) fn number(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// A parameter value as people write it, compactly: strings without quotes, lists as
/// `[64,32]`, numbers as Rust prints them.
pub fn value_label(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(value_label).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string().trim().to_string(),
    }
}

/// A tick label for a number: at most four significant digits, no trailing zeros,
/// scientific notation for very small or large magnitudes.
pub(crate) fn number_label(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let a = x.abs();
    // Tick positions computed in steps carry rounding noise such as 5.6e-17 for 0.
    if a < 1e-12 {
        return "0".to_string();
    }
    if !(1e-3..1e5).contains(&a) {
        return format!("{x:.1e}");
    }
    let digits = if a >= 1000.0 {
        0
    } else {
        // Four significant digits: 123.4, 12.34, 1.234, 0.1234, 0.01234 (at most 6).
        (3 - a.log10().floor().max(-3.0) as i32).clamp(0, 6) as usize
    };
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Draws every search chart that has something to show into `dir` (created if needed)
/// and returns the paths written, in the order history, slice, intermediate values,
/// importance. A chart with nothing to draw is skipped, not drawn empty: the history
/// needs a complete or pruned trial with a value, the slice and the importance at least
/// one (two) complete trials and a searched key, the intermediate values an epoch.
pub fn write_search_charts(view: &SearchView, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    if let Some(chart) = history::prepare(view) {
        let path = dir.join(HISTORY_FILE);
        history::draw(&chart, &path)?;
        written.push(path);
    }
    if let Some(chart) = slice::prepare(view) {
        let path = dir.join(SLICE_FILE);
        slice::draw(&chart, &path)?;
        written.push(path);
    }
    if let Some(chart) = intermediate::prepare(view) {
        let path = dir.join(INTERMEDIATE_FILE);
        intermediate::draw(&chart, &path)?;
        written.push(path);
    }
    if let Some(chart) = importance::prepare(view) {
        let path = dir.join(IMPORTANCE_FILE);
        importance::draw(&chart, &path)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::search::spec::Condition;

    /// A searched key without condition.
    pub(crate) fn param(key: &str, distribution: Distribution) -> Parameter {
        Parameter {
            key: key.to_string(),
            distribution,
            when: None,
        }
    }

    /// A trial with these parameters, state and objective; no times or epochs.
    pub(crate) fn trial(
        number: usize,
        params: &[(&str, toml::Value)],
        state: TrialState,
        value: Option<f64>,
    ) -> TrialView {
        TrialView {
            number,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            state,
            value,
            test_rmse: value.map(|v| v + 0.01),
            ended_after: None,
            epochs: Vec::new(),
        }
    }

    /// The demo search: 10 trials over a log-uniform learning rate, an int embedding
    /// size and a choice of architecture (hidden layers only for `ncf`); trials 2, 5 and
    /// 8 pruned after 2–3 epochs, the rest trained 6 epochs.
    pub(crate) fn demo() -> SearchView {
        let space = vec![
            param(
                "training.learning_rate",
                Distribution::LogUniform {
                    low: 1e-4,
                    high: 1e-1,
                },
            ),
            param(
                "model.embedding_size",
                Distribution::Int {
                    low: 4,
                    high: 64,
                    log: false,
                    step: 4,
                },
            ),
            param(
                "model.architecture",
                Distribution::Choice {
                    values: vec!["biased-mf".into(), "ncf".into()],
                },
            ),
            Parameter {
                key: "model.hidden_layers".into(),
                distribution: Distribution::Choice {
                    values: vec![
                        toml::Value::Array(vec![64.into(), 32.into()]),
                        toml::Value::Array(vec![32.into()]),
                    ],
                },
                when: Some(Condition {
                    key: "model.architecture".into(),
                    values: vec!["ncf".into()],
                }),
            },
        ];
        let lrs = [
            0.0003, 0.01, 0.09, 0.002, 0.0005, 0.05, 0.004, 0.02, 0.0001, 0.007,
        ];
        let sizes = [8, 16, 64, 32, 4, 48, 24, 40, 12, 56];
        let trials = (0..10)
            .map(|i| {
                let arch = if i % 3 == 0 { "ncf" } else { "biased-mf" };
                let mut params = vec![
                    ("training.learning_rate".to_string(), lrs[i].into()),
                    (
                        "model.embedding_size".to_string(),
                        toml::Value::Integer(sizes[i]),
                    ),
                    ("model.architecture".to_string(), arch.into()),
                ];
                if arch == "ncf" {
                    let layers: Vec<toml::Value> = if i % 2 == 0 {
                        vec![64.into(), 32.into()]
                    } else {
                        vec![32.into()]
                    };
                    params.push(("model.hidden_layers".to_string(), layers.into()));
                }
                let pruned = [2, 5, 8].contains(&i);
                // Best near a learning rate of 0.005: the objective grows with the
                // distance from it in log space.
                let base = 0.86 + 0.03 * (lrs[i] / 0.005f64).ln().abs();
                let epochs: Vec<(usize, f64)> = (1..=if pruned { 2 + i % 2 } else { 6 })
                    .map(|e| (e, base + 0.3 / e as f64))
                    .collect();
                let value = (!pruned).then(|| epochs.last().map_or(base, |e| e.1));
                TrialView {
                    number: i,
                    params,
                    state: if pruned {
                        TrialState::Pruned
                    } else {
                        TrialState::Complete
                    },
                    value,
                    test_rmse: value.map(|v| v + 0.01),
                    ended_after: Some(30.0 * (i + 1) as f64 - if pruned { 15.0 } else { 0.0 }),
                    epochs,
                }
            })
            .collect();
        SearchView {
            experiment: "search-demo".into(),
            space,
            trials,
        }
    }

    #[test]
    fn labels_and_numbers_read_as_written() {
        let layers = toml::Value::Array(vec![64.into(), 32.into()]);
        assert_eq!(value_label(&layers), "[64,32]");
        assert_eq!(value_label(&"ncf".into()), "ncf");
        assert_eq!(value_label(&0.001.into()), "0.001");
        assert_eq!(value_label(&toml::Value::Integer(32)), "32");
        assert_eq!(number(&toml::Value::Integer(8)), Some(8.0));
        assert_eq!(number(&"8".into()), None);
        assert_eq!(number_label(0.001), "0.001");
        assert_eq!(number_label(0.012346), "0.01235");
        assert_eq!(number_label(12.0), "12");
        assert_eq!(number_label(1234.6), "1235");
        assert_eq!(number_label(0.00005), "5.0e-5");
        assert_eq!(number_label(0.0), "0");
        assert_eq!(number_label(-5.6e-17), "0");
    }

    #[test]
    fn best_counts_and_names() {
        let view = demo();
        assert_eq!(view.counts(), [7, 3, 0, 0]);
        assert_eq!(counts_phrase(&view), "7 complete, 3 pruned");
        // Trial 6 (lr 0.004) is nearest 0.005 among complete trials.
        assert_eq!(view.best().map(|t| t.number), Some(6));
        assert_eq!(
            view.names(),
            [
                "learning_rate",
                "embedding_size",
                "architecture",
                "hidden_layers"
            ]
        );
        assert!(is_log(&view.space[0].distribution));
        assert!(!is_log(&view.space[1].distribution));
        // A pruned trial stopped at its last intermediate value.
        let t2 = &view.trials[2];
        assert_eq!(t2.objective(), None);
        assert_eq!(t2.last_value(), Some(t2.epochs[1].1));
        assert_eq!(
            view.trials[3].param("model.hidden_layers"),
            Some(&toml::Value::Array(vec![32.into()]))
        );
        assert_eq!(view.trials[1].param("model.hidden_layers"), None);
    }
}

#[cfg(test)]
mod png_tests {
    use super::tests::{demo, param, trial};
    use super::*;
    use crate::report::charts::{HEIGHT, WIDTH};
    use plotters::style::{BLACK, RGBColor};

    /// Decodes the PNG at `path`: its size, how many pixels are not white, and how many
    /// left of column `plot_right` (the plots, not the legend) have exactly `colour`.
    fn decode(path: &Path, colour: RGBColor, plot_right: u32) -> (u32, u32, usize, usize) {
        let bytes = std::fs::read(path).expect("read png");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let pixels = buf[..info.buffer_size()].chunks_exact(3);
        let inked = pixels.clone().filter(|px| *px != [255, 255, 255]).count();
        let width = info.width as usize;
        let coloured = pixels
            .enumerate()
            .filter(|(i, px)| {
                i % width < plot_right as usize && *px == [colour.0, colour.1, colour.2]
            })
            .count();
        (info.width, info.height, inked, coloured)
    }

    /// To keep the demo's charts for looking at:
    /// `EXP_CHART_DEMO_DIR=/tmp/demo cargo test --release --lib demo_is_a_real_png`.
    #[test]
    fn every_chart_of_the_demo_is_a_real_png() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = std::env::var_os("EXP_CHART_DEMO_DIR")
            .map_or_else(|| dir.path().to_path_buf(), PathBuf::from)
            .join("search-demo");
        let paths = write_search_charts(&demo(), &out).expect("charts");
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [HISTORY_FILE, SLICE_FILE, INTERMEDIATE_FILE, IMPORTANCE_FILE]
        );
        let blue = crate::report::charts::PALETTE[0];
        let orange = crate::report::charts::PALETTE[1];
        for path in &paths {
            let (w, h, inked, _) = decode(path, BLACK, WIDTH);
            assert_eq!((w, h), (WIDTH, HEIGHT), "{}", path.display());
            // Axes, text and marks: a real chart inks well over 1 % of its pixels.
            assert!(inked > 6_000, "{}: {inked} pixels inked", path.display());
        }
        // In the plots, left of the legends: complete trials in blue, pruned ones in
        // orange (history: 2 × 7 dots and 2 × 3 triangles; intermediate: 3 lines and
        // crosses), the importance bars in blue.
        let plots = WIDTH - 240;
        for (path, colour, least) in [
            (&paths[0], blue, 300),
            (&paths[0], orange, 150),
            (&paths[2], orange, 100),
            (&paths[3], blue, 10_000),
        ] {
            let (_, _, _, n) = decode(path, colour, plots);
            assert!(n > least, "{}: {n} pixels of {colour:?}", path.display());
        }
        // The slice's latest trial is the darkest viridis colour.
        let dark = slice::trial_colour(9, 9);
        let (_, _, _, n) = decode(&paths[1], dark, WIDTH);
        assert!(n > 30, "slice: {n} pixels of trial 9's colour");
    }

    #[test]
    fn awkward_searches_draw_what_they_can_without_failing() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = std::env::var_os("EXP_CHART_DEMO_DIR")
            .map_or_else(|| temp.path().to_path_buf(), PathBuf::from)
            .join("search-awkward");
        let c = TrialState::Complete;
        let space = vec![
            param(
                "model.hidden_layers",
                Distribution::Choice {
                    values: vec![
                        toml::Value::Array(vec![64.into(), 32.into()]),
                        toml::Value::Array(Vec::new()),
                    ],
                },
            ),
            param(
                "training.learning_rate",
                Distribution::LogUniform {
                    low: 0.001,
                    high: 0.1,
                },
            ),
        ];
        let layers = toml::Value::Array(vec![64.into(), 32.into()]);
        let written = |view: &SearchView, name: &str| -> Vec<String> {
            write_search_charts(view, &dir.join(name))
                .expect("no error")
                .iter()
                .map(|p| {
                    assert!(p.is_file());
                    p.file_name().expect("name").to_string_lossy().into_owned()
                })
                .collect()
        };
        // No trials at all: nothing drawn, the directory made.
        let mut view = SearchView {
            experiment: "empty".into(),
            space: space.clone(),
            trials: Vec::new(),
        };
        assert!(written(&view, "empty").is_empty());
        assert!(dir.join("empty").is_dir());
        // No complete trial: a pruned and a running one with epochs, NaN among them.
        let mut pruned = trial(
            0,
            &[("model.hidden_layers", layers.clone())],
            TrialState::Pruned,
            None,
        );
        pruned.epochs = vec![(1, 1.1), (2, f64::NAN)];
        pruned.ended_after = Some(f64::INFINITY);
        let mut running = trial(1, &[], TrialState::Running, None);
        running.epochs = vec![(1, 1.2)];
        view.trials = vec![pruned.clone(), running];
        assert_eq!(written(&view, "none"), [HISTORY_FILE, INTERMEDIATE_FILE]);
        // A single complete trial, its objective and epochs all equal.
        let mut single = trial(
            0,
            &[
                ("model.hidden_layers", layers.clone()),
                ("training.learning_rate", 0.01.into()),
            ],
            c,
            Some(0.9),
        );
        single.epochs = vec![(1, 0.9), (2, 0.9)];
        single.ended_after = Some(0.0);
        view.trials = vec![single.clone()];
        assert_eq!(
            written(&view, "single"),
            [HISTORY_FILE, SLICE_FILE, INTERMEDIATE_FILE]
        );
        // Two equal complete trials, a NaN and an infinite one: all four charts, flat.
        let mut twin = single.clone();
        twin.number = 1;
        twin.params[0].1 = toml::Value::Array(Vec::new());
        let nan = trial(2, &[], c, Some(f64::NAN));
        let inf = trial(3, &[], c, Some(f64::NEG_INFINITY));
        view.trials = vec![single, twin, nan, inf, pruned];
        assert_eq!(
            written(&view, "flat"),
            [HISTORY_FILE, SLICE_FILE, INTERMEDIATE_FILE, IMPORTANCE_FILE]
        );
        // No searched keys: history and intermediate values only.
        view.space.clear();
        assert_eq!(written(&view, "nokeys"), [HISTORY_FILE, INTERMEDIATE_FILE]);
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("taken");
        std::fs::write(&file, "not a directory").expect("write");
        let err = write_search_charts(&demo(), &file.join("charts")).expect_err("a file");
        assert!(
            err.to_string().contains("cannot create chart directory"),
            "{err}"
        );
    }
}
