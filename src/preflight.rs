//! Grid points checked against the loaded data, before anything trains: what the file
//! alone cannot tell (config validation runs without the data).
//!
//! - memory: each point's estimate ([`models::memory::estimate`]) from the data set's
//!   sizes must fit under the memory limit ([`engine::alloc::limit`]), or the point is
//!   refused naming the key that takes the memory;
//! - `metrics.relevance_threshold` must lie in the data set's rating range, or no test
//!   rating (or every one) would count as relevant and the ranking metrics say nothing.
//!
//! `exp run` and `exp validate` call [`check`] after loading the data.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::spec::{DataSpec, Experiment, RunConfig};
use crate::config::{self, ConfigError, Diagnostic, Problem};
use crate::data::dataset::Dataset;
use crate::engine::alloc::{self, Limit, human_bytes};
use crate::models::memory::{self, DataSizes};

/// Environment variable that skips the memory estimate (set to `1`): for testing the
/// guards inside a run, which then fail a point that cannot fit on its own.
pub const SKIP_ESTIMATE_ENV: &str = "EXP_SKIP_MEMORY_ESTIMATE";

/// At most this many grid points are named per problem; the rest are counted.
const NAMED_POINTS: usize = 5;

/// The sizes of `dataset` that models are sized by.
pub fn data_sizes(dataset: &Dataset) -> DataSizes {
    let mut genres: Vec<&String> = dataset
        .item_info
        .iter()
        .flat_map(|info| &info.genres)
        .collect();
    genres.sort_unstable();
    genres.dedup();
    DataSizes {
        n_users: dataset.n_users(),
        n_items: dataset.n_items(),
        n_ratings: dataset.ratings.len(),
        n_genres: genres.len(),
    }
}

/// Checks every grid point of `experiment` against its loaded data set in `datasets`
/// (points whose data is missing there are skipped) and the memory limit; `overrides`
/// are the `--set` arguments, named where they set the key at fault. Every problem is
/// returned, as config errors are, naming the file, line and key.
pub fn check(
    experiment: &Experiment,
    overrides: &[String],
    datasets: &HashMap<DataSpec, Arc<Dataset>>,
) -> Result<(), ConfigError> {
    let limit = match alloc::env_limit() {
        Ok(_) if std::env::var_os(SKIP_ESTIMATE_ENV).is_some_and(|v| v == "1") => None,
        Ok(_) => alloc::limit(),
        Err(message) => {
            let problem = Problem::Other { message };
            let diagnostic = Diagnostic {
                file: alloc::LIMIT_ENV.into(),
                line: None,
                key: String::new(),
                problem,
            };
            return Err(ConfigError::Invalid(vec![diagnostic]));
        }
    };
    let mut found: Vec<Finding> = Vec::new();
    for (index, point) in experiment.points.iter().enumerate() {
        let Some(dataset) = datasets.get(&point.data) else {
            continue;
        };
        for (key, message) in point_problems(point, dataset, limit) {
            match found.iter_mut().find(|f| f.key == key) {
                Some(finding) => finding.points.push((index, message)),
                None => found.push(Finding {
                    key,
                    points: vec![(index, message)],
                }),
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let total = experiment.points.len();
    let diagnostics = found
        .into_iter()
        .map(|finding| {
            let mut lines: Vec<String> = finding
                .points
                .iter()
                .take(NAMED_POINTS)
                .map(|(index, message)| {
                    if total > 1 {
                        format!("grid point {} of {total}: {message}", index + 1)
                    } else {
                        message.clone()
                    }
                })
                .collect();
            if finding.points.len() > NAMED_POINTS {
                lines.push(format!(
                    "and {} more grid point(s)",
                    finding.points.len() - NAMED_POINTS
                ));
            }
            let problem = Problem::Other {
                message: lines.join("; "),
            };
            config::key_diagnostic(experiment, overrides, finding.key, problem)
        })
        .collect();
    Err(ConfigError::Invalid(diagnostics))
}

/// The grid points with a problem about one key.
struct Finding {
    key: &'static str,
    points: Vec<(usize, String)>,
}

/// What is wrong with `point` on `dataset`: (key, message) pairs.
fn point_problems(
    point: &RunConfig,
    dataset: &Dataset,
    limit: Option<Limit>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(limit) = limit {
        let estimate = memory::estimate(point, &data_sizes(dataset));
        if estimate.total() > u128::from(limit.bytes) {
            out.push((
                estimate.main_key(),
                format!(
                    "training needs about {} on {} ({} parameters, {} optimiser state, {} \
                     batch), more than the {limit}",
                    human_bytes(estimate.total()),
                    dataset.name,
                    human_bytes(estimate.parameters),
                    human_bytes(estimate.optimiser),
                    human_bytes(estimate.batch),
                ),
            ));
        }
    }
    if let Some(ranking) = &point.ranking {
        let (lo, hi) = dataset.rating_range;
        let t = ranking.relevance_threshold;
        if !(f64::from(lo)..=f64::from(hi)).contains(&t) {
            out.push((
                "metrics.relevance_threshold",
                format!(
                    "must lie in {}'s rating range {lo}..={hi}, got {t}: no test rating \
                     would tell relevant items from the others",
                    dataset.name
                ),
            ));
        }
    }
    out
}
