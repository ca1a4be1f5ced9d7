//! The sweep: an [`Experiment`] → grid points → runs, each run with a stable key.
//!
//! Second stage of the pipeline, after `config`. The grid is the cross product of the
//! `[sweep]` axes, enumerated as an **odometer**: the *first* swept key in the file varies
//! slowest and the *last* fastest. For
//!
//! ```toml
//! [sweep]
//! model.architecture = ["dot-mf", "biased-mf"]
//! model.embedding_size = [8, 16]
//! ```
//!
//! the points are, in order, `dot-mf 8`, `dot-mf 16`, `biased-mf 8`, `biased-mf 16`.
//! Each point becomes one run per fold (fold fastest). The order is locked by
//! `tests::expand_is_an_odometer_first_key_slowest` because reports and progress output
//! rely on it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::spec::{Experiment, RunConfig};
use crate::config::{self, ConfigError, Diagnostic, Problem};

/// One point of the grid: the swept values and the configuration they give.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPoint {
    /// 0-based position in grid order.
    pub index: usize,
    /// The swept keys and this point's values, in sweep-file order; empty with no sweep.
    pub params: Vec<(String, toml::Value)>,
    /// The base configuration with `params` applied.
    pub config: RunConfig,
}

/// Every grid point of `exp`, in odometer order (first sweep key slowest, last fastest).
///
/// With no `[sweep]` there is exactly one point, the base, with empty `params`. Each point
/// is validated as the file is; for an experiment from
/// [`load_experiment`](crate::config::load_experiment) that cannot fail.
pub fn expand(exp: &Experiment) -> Result<Vec<GridPoint>, ConfigError> {
    let lens: Vec<usize> = exp.sweep.iter().map(|axis| axis.values.len()).collect();
    let no_line = |key: &str, problem| {
        ConfigError::Invalid(vec![Diagnostic {
            file: exp.source_path.clone(),
            line: None,
            key: key.to_string(),
            problem,
        }])
    };
    if let Some(empty) = exp.sweep.iter().find(|axis| axis.values.is_empty()) {
        return Err(no_line(&empty.key, Problem::SweepEmpty));
    }
    let points = config::grid_points(lens.iter().copied());
    if points > config::MAX_GRID_POINTS as u128 {
        let problem = Problem::SweepTooLarge {
            points,
            limit: config::MAX_GRID_POINTS,
        };
        return Err(no_line("sweep", problem));
    }

    let mut grid = Vec::with_capacity(points as usize);
    for (index, digits) in odometer(&lens).enumerate() {
        let params: Vec<(String, toml::Value)> = exp
            .sweep
            .iter()
            .zip(&digits)
            .map(|(axis, &digit)| (axis.key.clone(), axis.values[digit].clone()))
            .collect();
        let config = config::resolve_point(exp, &params)?;
        grid.push(GridPoint {
            index,
            params,
            config,
        });
    }
    Ok(grid)
}

/// Positions `[d0, d1, …]` with `0 <= di < lens[i]`, last position fastest. One empty
/// position for no axes; nothing if any axis is empty.
pub(crate) fn odometer(lens: &[usize]) -> impl Iterator<Item = Vec<usize>> + use<> {
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

/// One training run: a grid point on one fold.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// `experiment.name`.
    pub experiment: String,
    /// Index of the grid point ([`GridPoint::index`]).
    pub point: usize,
    /// The point's swept values, in sweep-file order.
    pub params: Vec<(String, toml::Value)>,
    /// The point's configuration.
    pub config: RunConfig,
    /// `experiment.seed`; the same for every run, so folds and points differ only by their
    /// configuration and fold.
    pub seed: u64,
    /// 0-based fold (0 for holdout).
    pub fold: usize,
    /// Folds of this point: `k` for k-fold, 1 for holdout.
    pub folds: usize,
    /// [`run_key`] of `seed`, `config` and `fold`: names the run in the store, so a rerun
    /// skips what is done.
    pub key: String,
}

/// Every run of `exp`: grid points in [`expand`] order, and within each point its folds in
/// order (fold fastest).
pub fn runs(exp: &Experiment) -> Result<Vec<RunSpec>, ConfigError> {
    let mut runs = Vec::new();
    for point in expand(exp)? {
        let folds = point.config.split.folds();
        for fold in 0..folds {
            runs.push(RunSpec {
                experiment: exp.name.clone(),
                point: point.index,
                params: point.params.clone(),
                config: point.config.clone(),
                seed: exp.seed,
                fold,
                folds,
                key: run_key(exp.seed, &point.config, fold),
            });
        }
    }
    Ok(runs)
}

/// What [`run_key`] hashes; field order is part of the key, do not reorder.
#[derive(Serialize)]
struct KeyInput<'a> {
    seed: u64,
    config: &'a RunConfig,
    fold: usize,
}

/// The stable key of a run: the first 16 hex digits of the SHA-256 of the compact JSON
/// `{"seed":…,"config":…,"fold":…}` (serde_json of the spec structs, fields in declaration
/// order).
///
/// `config.data.path` is left out: it says where the files are, not what they are, and it
/// changes with the directory `exp` is started from, which must not make finished runs look
/// new. The experiment name is left out too: the store already scopes runs by experiment.
/// Changing a spec struct's fields changes every key; `tests::run_key_is_pinned` makes such
/// a change visible.
pub fn run_key(seed: u64, config: &RunConfig, fold: usize) -> String {
    let mut config = config.clone();
    config.data.path = None;
    let input = KeyInput {
        seed,
        config: &config,
        fold,
    };
    // Plain structs with string keys and no maps: serialising cannot fail.
    let json = serde_json::to_vec(&input).expect("RunConfig serialises to JSON");
    let digest = Sha256::digest(&json);
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The swept values as a compact JSON object in sweep order, e.g.
/// `{"model.architecture":"dot-mf","model.embedding_size":8}`; `{}` when nothing is swept.
/// This is what the store records per run.
pub fn params_json(params: &[(String, toml::Value)]) -> String {
    let entries: Vec<String> = params
        .iter()
        .map(|(key, value)| {
            let key = serde_json::Value::String(key.clone());
            let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
            format!("{key}:{value}")
        })
        .collect();
    format!("{{{}}}", entries.join(","))
}

/// A short human label for a grid point, e.g. `architecture=dot-mf embedding_size=8`;
/// `base` when nothing is swept. Keys are shortened to their last part unless two swept keys
/// share it; strings are shown without quotes.
pub fn params_label(params: &[(String, toml::Value)]) -> String {
    if params.is_empty() {
        return "base".to_string();
    }
    let short = |key: &str| key.rsplit('.').next().unwrap_or(key).to_string();
    let parts: Vec<String> = params
        .iter()
        .map(|(key, value)| {
            let clash = params
                .iter()
                .filter(|(other, _)| short(other) == short(key))
                .count()
                > 1;
            let key = if clash { key.clone() } else { short(key) };
            let value = match value {
                toml::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            format!("{key}={value}")
        })
        .collect();
    parts.join(" ")
}
