//! Drawing a trial's values: at random, or by TPE from the trials that ended.
//!
//! Each trial's generator is seeded from the search seed and the trial's number (and the
//! attempt, when a draw repeats an earlier trial), so the values depend only on the seed,
//! the number and the history the draw saw: a resumed search draws what it would have
//! drawn without the interruption.
//!
//! TPE is the `tpe` crate's univariate estimator (one density pair per key, as in
//! Bergstra et al. 2011 and Optuna's default): the first `startup_trials` trials are
//! random; after that each key takes, of `candidates` draws from the density of the best
//! `gamma` fraction of ended trials, the one with the highest ratio of that density to
//! the density of the rest. A key that did not apply to a trial (a `when` condition) is
//! told as missing, so it learns only from trials it applied to. Failed trials are left
//! out of the history (as Optuna does); pruned trials are told with the last score they
//! reached, which ranks them among the bad.

use rand_tpe::{RngExt, SeedableRng};

use super::space::{self, Domain};
use super::spec::{Parameter, SearchSpec, Strategy};
use crate::store::trials::{NewTrial, StoredTrial, TrialStatus};
use crate::sweep;

/// Draws before a sampler gives up finding values no earlier trial had.
const MAX_ATTEMPTS: u64 = 100;

/// Why no trial could be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    /// Every draw repeated an earlier trial's values.
    #[error(
        "after {attempts} draws every one repeated an earlier trial's values; the space \
         seems to have fewer distinct configurations than `search.trials`"
    )]
    Exhausted {
        /// How many draws were tried.
        attempts: u64,
    },
    /// The TPE crate refused its input (a bug: ranges are checked when the file loads).
    #[error("the TPE sampler failed: {0}")]
    Tpe(String),
}

/// One ended trial as a sampler learns from it: its values and its objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The searched values that applied to it.
    pub params: Vec<(String, toml::Value)>,
    /// Its objective (lower is better).
    pub value: f64,
}

/// The ended trials of `trials` a sampler learns from: complete and pruned ones with a
/// finite value, in trial order.
pub fn history(trials: &[StoredTrial]) -> Vec<Observation> {
    trials
        .iter()
        .filter(|t| matches!(t.status, TrialStatus::Complete | TrialStatus::Pruned))
        .filter_map(|t| {
            let value = t.value.filter(|v| v.is_finite())?;
            Some(Observation {
                params: parse_params(&t.params_json)?,
                value,
            })
        })
        .collect()
}

/// The values of trial `number` for a random or TPE search, given the trials so far;
/// never the values of an earlier trial.
pub fn draw(
    spec: &SearchSpec,
    number: usize,
    trials: &[StoredTrial],
) -> Result<(Vec<(String, toml::Value)>, NewTrial), SampleError> {
    let seen: Vec<&str> = trials.iter().map(|t| t.params_json.as_str()).collect();
    let observations = history(trials);
    let tpe = spec.strategy == Strategy::Tpe && observations.len() >= spec.startup_trials;
    let sampler = match (spec.strategy, tpe) {
        (Strategy::Tpe, true) => "tpe",
        (Strategy::Tpe, false) => "tpe-startup",
        (Strategy::Grid, _) => "grid",
        (Strategy::Random, _) => "random",
    };
    for attempt in 0..MAX_ATTEMPTS {
        let seed = trial_seed(spec.seed, number, attempt);
        let mut rng = rand_tpe::rngs::StdRng::seed_from_u64(seed);
        let params = if tpe {
            draw_tpe(spec, &observations, &mut rng)?
        } else {
            draw_random(&spec.space, &mut rng)
        };
        let json = sweep::params_json(&params);
        if !seen.contains(&json.as_str()) {
            let new = NewTrial {
                params_json: json,
                sampler: sampler.to_string(),
                sampler_seed: seed,
                history: observations.len(),
            };
            return Ok((params, new));
        }
    }
    Err(SampleError::Exhausted {
        attempts: MAX_ATTEMPTS,
    })
}

/// Independent uniform draws, key by key in space order (conditions see the keys drawn
/// before them).
fn draw_random(space: &[Parameter], rng: &mut impl RngExt) -> Vec<(String, toml::Value)> {
    let mut params = Vec::with_capacity(space.len());
    for parameter in space {
        if !space::applies(parameter, &params) {
            continue;
        }
        let x = match space::domain(&parameter.distribution) {
            Domain::Unit => rng.random::<f64>(),
            Domain::Categorical(n) => rng.random_range(0..n.max(1)) as f64,
        };
        params.push((
            parameter.key.clone(),
            space::decode(&parameter.distribution, x),
        ));
    }
    params
}

/// TPE, key by key in space order, each from its own estimator pair built from
/// `observations`.
fn draw_tpe(
    spec: &SearchSpec,
    observations: &[Observation],
    rng: &mut rand_tpe::rngs::StdRng,
) -> Result<Vec<(String, toml::Value)>, SampleError> {
    let tpe_error = |e: &dyn std::fmt::Display| SampleError::Tpe(e.to_string());
    let mut params = Vec::with_capacity(spec.space.len());
    for parameter in &spec.space {
        if !space::applies(parameter, &params) {
            continue;
        }
        let distribution = &parameter.distribution;
        let (builder, range) = match space::domain(distribution) {
            Domain::Unit => (tpe::parzen_estimator(), tpe::range(0.0, 1.0)),
            Domain::Categorical(n) => (tpe::histogram_estimator(), tpe::categorical_range(n)),
        };
        let range = range.map_err(|e| tpe_error(&e))?;
        let mut optimizer = tpe::TpeOptimizerBuilder::new()
            .gamma(spec.gamma)
            .candidates(spec.candidates)
            .build(builder, range)
            .map_err(|e| tpe_error(&e))?;
        for observation in observations {
            // Missing where the key did not apply (or no longer fits the space).
            let x = observation
                .params
                .iter()
                .find(|(key, _)| *key == parameter.key)
                .and_then(|(_, value)| space::encode(distribution, value))
                .unwrap_or(f64::NAN);
            optimizer
                .tell(x, observation.value)
                .map_err(|e| tpe_error(&e))?;
        }
        let x = optimizer.ask(rng).map_err(|e| tpe_error(&e))?;
        params.push((parameter.key.clone(), space::decode(distribution, x)));
    }
    Ok(params)
}

/// The seed of trial `number`'s generator on draw `attempt`: SplitMix64 of the three, so
/// neighbouring numbers get unrelated streams.
fn trial_seed(seed: u64, number: usize, attempt: u64) -> u64 {
    let mut z = seed
        .wrapping_add((number as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(attempt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The values of a stored `params_json` object, by key (JSON objects read back sorted).
pub fn parse_params(json: &str) -> Option<Vec<(String, toml::Value)>> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).ok()?;
    object
        .into_iter()
        .map(|(key, value)| Some((key, json_to_toml(value)?)))
        .collect()
}

/// A JSON value written by `sweep::params_json` as the TOML value it came from.
fn json_to_toml(value: serde_json::Value) -> Option<toml::Value> {
    Some(match value {
        serde_json::Value::Bool(b) => toml::Value::Boolean(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => toml::Value::String(s),
        serde_json::Value::Array(items) => toml::Value::Array(
            items
                .into_iter()
                .map(json_to_toml)
                .collect::<Option<Vec<_>>>()?,
        ),
        serde_json::Value::Null | serde_json::Value::Object(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::spec::{Distribution, PrunerKind, PrunerSpec};

    fn spec(strategy: Strategy) -> SearchSpec {
        SearchSpec {
            strategy,
            trials: 40,
            seed: 7,
            space: vec![
                Parameter {
                    key: "x".into(),
                    distribution: Distribution::Uniform {
                        low: -5.0,
                        high: 5.0,
                    },
                    when: None,
                },
                Parameter {
                    key: "c".into(),
                    distribution: Distribution::Choice {
                        values: vec!["a".into(), "b".into(), "c".into()],
                    },
                    when: None,
                },
            ],
            startup_trials: 10,
            candidates: 24,
            gamma: 0.1,
            pruner: PrunerSpec {
                kind: PrunerKind::None,
                min_epochs: 1,
                reduction_factor: 3,
                max_epochs: 10,
                startup_trials: 5,
                p_threshold: 0.1,
            },
        }
    }

    /// x² plus 0 for choice `b`, 3 otherwise: the optimum is x = 0, c = b.
    fn objective(params: &[(String, toml::Value)]) -> f64 {
        let get = |key: &str| &params.iter().find(|(k, _)| k == key).unwrap().1;
        let x = get("x").as_float().unwrap();
        let c = get("c").as_str().unwrap();
        x * x + if c == "b" { 0.0 } else { 3.0 }
    }

    fn search(strategy: Strategy) -> Vec<StoredTrial> {
        let spec = spec(strategy);
        let mut trials: Vec<StoredTrial> = Vec::new();
        for number in 0..spec.trials {
            let (params, new) = draw(&spec, number, &trials).unwrap();
            trials.push(StoredTrial {
                number,
                params_json: new.params_json,
                sampler: new.sampler,
                sampler_seed: new.sampler_seed,
                history: new.history,
                status: TrialStatus::Complete,
                value: Some(objective(&params)),
                ended_after: None,
            });
        }
        trials
    }

    #[test]
    fn the_same_seed_and_history_draw_the_same_values() {
        for strategy in [Strategy::Random, Strategy::Tpe] {
            let first = search(strategy);
            let again = search(strategy);
            assert_eq!(first, again, "{strategy:?}");
            // Resuming after trial 25: the draw of 25 from the first 25 is the same.
            let spec = spec(strategy);
            let (_, resumed) = draw(&spec, 25, &first[..25]).unwrap();
            assert_eq!(resumed.params_json, first[25].params_json);
        }
    }

    #[test]
    fn tpe_learns_after_its_startup_trials() {
        let trials = search(Strategy::Tpe);
        assert_eq!(trials[9].sampler, "tpe-startup");
        assert_eq!(trials[10].sampler, "tpe");
        assert_eq!(trials[10].history, 10);
        // Of its 30 guided trials TPE puts most on the good choice; random about a third.
        let guided_b = |trials: &[StoredTrial]| {
            trials[10..]
                .iter()
                .filter(|t| t.params_json.contains("\"b\""))
                .count()
        };
        let tpe = guided_b(&trials);
        let random = guided_b(&search(Strategy::Random));
        assert!(tpe > 15 && tpe > random, "tpe {tpe}, random {random}");
        let best = |trials: &[StoredTrial]| {
            trials
                .iter()
                .filter_map(|t| t.value)
                .fold(f64::INFINITY, f64::min)
        };
        assert!(best(&trials) < 0.1, "{}", best(&trials));
    }

    #[test]
    fn values_are_in_range_and_never_repeat() {
        let trials = search(Strategy::Random);
        let mut seen = std::collections::HashSet::new();
        for trial in &trials {
            let params = parse_params(&trial.params_json).unwrap();
            let x = params[1].1.as_float().unwrap();
            assert!((-5.0..=5.0).contains(&x));
            assert!(seen.insert(trial.params_json.clone()));
        }
        // A space of three values cannot give four trials.
        let mut tiny = spec(Strategy::Random);
        tiny.space.remove(0);
        let mut trials = Vec::new();
        for number in 0..3 {
            let (_, new) = draw(&tiny, number, &trials).unwrap();
            trials.push(StoredTrial {
                number,
                params_json: new.params_json,
                sampler: new.sampler,
                sampler_seed: new.sampler_seed,
                history: 0,
                status: TrialStatus::Running,
                value: None,
                ended_after: None,
            });
        }
        assert_eq!(
            draw(&tiny, 3, &trials).unwrap_err(),
            SampleError::Exhausted { attempts: 100 }
        );
    }

    #[test]
    fn stored_params_read_back_as_their_toml_values() {
        let params = vec![
            ("model.architecture".to_string(), toml::Value::from("ncf")),
            ("model.embedding_size".to_string(), toml::Value::Integer(32)),
            ("training.l2".to_string(), toml::Value::Float(0.001)),
            (
                "model.hidden_layers".to_string(),
                toml::Value::Array(vec![64.into(), 32.into()]),
            ),
        ];
        let mut sorted = params.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(parse_params(&sweep::params_json(&params)), Some(sorted));
    }
}
