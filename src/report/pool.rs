//! Several experiments ranked as one: `exp compare -e A -e B` and `exp report -e A -e B`.
//!
//! Configurations of different experiments can be ranked together, and tested against
//! each other fold by fold, only when their runs were scored on the same folds: the same
//! data set (with the same filters), the same split and the same seed (which draws the
//! split). [`pool`] checks that and refuses with the first difference it finds; it then
//! makes the experiment's name the first parameter of every configuration, so that equal
//! swept values of two experiments stay two configurations.

use serde_json::Value;

use super::ReportError;
use crate::config;
use crate::store::Store;
use crate::store::records::{RunStatus, StoredRun};

/// The parameter that names a pooled configuration's experiment.
pub const EXPERIMENT_PARAM: &str = "experiment";

/// What fixes a run's folds: its data and split as stored, and its experiment's seed.
#[derive(Debug, Clone, PartialEq)]
struct Folds {
    data: Value,
    split: Value,
    seed: Option<u64>,
}

impl Folds {
    fn of(run: &StoredRun, seed: Option<u64>) -> Folds {
        let config: Value = serde_json::from_str(&run.config_json).unwrap_or(Value::Null);
        Folds {
            data: config.get("data").cloned().unwrap_or(Value::Null),
            split: config.get("split").cloned().unwrap_or(Value::Null),
            seed,
        }
    }

    /// How `other` differs from `self`, in words; `None` when the folds are the same.
    fn difference(&self, other: &Folds) -> Option<String> {
        let show = |v: &Value| match v {
            Value::Null => "unknown".to_string(),
            v => v.to_string(),
        };
        if self.data != other.data {
            Some(format!(
                "their data differ ({} vs {})",
                show(&self.data),
                show(&other.data)
            ))
        } else if self.split != other.split {
            Some(format!(
                "their splits differ ({} vs {})",
                show(&self.split),
                show(&other.split)
            ))
        } else if self.seed != other.seed {
            let seed = |s: Option<u64>| s.map_or("unknown".to_string(), |s| s.to_string());
            Some(format!(
                "their seeds differ ({} vs {}), so their splits draw other ratings",
                seed(self.seed),
                seed(other.seed)
            ))
        } else {
            None
        }
    }
}

/// The runs of `experiments` (at least one name, each with finished runs) as one
/// experiment: every run's `params_json` starts with `"experiment": NAME`. Fails with
/// [`ReportError::Incomparable`] when two finished runs were not scored on the same folds.
pub fn pool(store: &Store, experiments: &[String]) -> Result<Vec<StoredRun>, ReportError> {
    let mut pooled = Vec::new();
    let mut first: Option<(String, Folds)> = None;
    for name in experiments {
        let runs = store.runs(Some(name))?;
        if !runs.iter().any(|r| r.status == RunStatus::Finished) {
            return Err(super::missing_experiment(store, name));
        }
        let seed = store
            .experiment_source(name)?
            .as_deref()
            .and_then(config::file_seed);
        for run in runs {
            if run.status == RunStatus::Finished {
                let folds = Folds::of(&run, seed);
                match &first {
                    None => first = Some((name.clone(), folds)),
                    Some((first_name, first_folds)) => {
                        if let Some(reason) = first_folds.difference(&folds) {
                            return Err(ReportError::Incomparable {
                                first: first_name.clone(),
                                other: name.clone(),
                                run: run.id,
                                reason,
                            });
                        }
                    }
                }
            }
            pooled.push(with_experiment_param(run));
        }
    }
    Ok(pooled)
}

/// `run` with its experiment's name as the first swept parameter, the swept keys after it
/// in their written order.
fn with_experiment_param(mut run: StoredRun) -> StoredRun {
    let mut params = vec![(
        EXPERIMENT_PARAM.to_string(),
        Value::String(run.experiment.clone()),
    )];
    params.extend(super::compare::parse_params(&run.params_json));
    // Written by hand: `serde_json::Map` would sort the keys.
    let body: Vec<String> = params
        .into_iter()
        .map(|(key, value)| format!("{}:{value}", Value::String(key)))
        .collect();
    run.params_json = format!("{{{}}}", body.join(","));
    run
}
