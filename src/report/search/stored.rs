//! A [`SearchView`] read from the store: the search's space from its stored experiment
//! file, and each trial with its runs' scores.

use super::{SearchView, TrialState, TrialView};
use crate::config;
use crate::report::ReportError;
use crate::search::{sampler, space};
use crate::store::Store;
use crate::store::trials::{Objective, TrialStatus};

/// The search of experiment `name`, or `None` when it is not a search (no trials, or its
/// stored file has no `[search]`).
pub fn search_view(store: &Store, name: &str) -> Result<Option<SearchView>, ReportError> {
    let Some(experiment_id) = store
        .experiments()?
        .into_iter()
        .find_map(|(id, n)| (n == name).then_some(id))
    else {
        return Ok(None);
    };
    let trials = store.trials(experiment_id)?;
    if trials.is_empty() {
        return Ok(None);
    }
    // The file as stored with the experiment: its space, order and split.
    let Some(experiment) = store
        .experiment_source(name)?
        .and_then(|text| config::parse_experiment(&text, name.as_ref()).ok())
    else {
        return Ok(None);
    };
    let Some(spec) = experiment.search.as_ref() else {
        return Ok(None);
    };
    let objective = if experiment.base.split.validation_fraction() > 0.0 {
        Objective::ValidationRmse
    } else {
        Objective::FoldRmse
    };
    let epochs = store.trial_epochs(experiment_id, objective)?;
    let mut views = Vec::with_capacity(trials.len());
    for trial in &trials {
        let state = match trial.status {
            TrialStatus::Complete => TrialState::Complete,
            TrialStatus::Pruned => TrialState::Pruned,
            TrialStatus::Failed => TrialState::Failed,
            TrialStatus::Running => TrialState::Running,
        };
        let test_rmse = (state == TrialState::Complete)
            .then(|| {
                let runs = store.trial_runs(experiment_id, trial.number, objective)?;
                let rmse: Vec<f64> = runs.iter().filter_map(|r| r.rmse).collect();
                Ok::<_, ReportError>(
                    (!rmse.is_empty()).then(|| rmse.iter().sum::<f64>() / rmse.len() as f64),
                )
            })
            .transpose()?
            .flatten();
        views.push(TrialView {
            number: trial.number,
            params: space::in_space_order(
                sampler::parse_params(&trial.params_json).unwrap_or_default(),
                spec,
                &experiment,
            ),
            state,
            value: trial.value,
            test_rmse,
            ended_after: trial.ended_after,
            epochs: epochs
                .iter()
                .filter(|(t, _, _)| *t == trial.number)
                .map(|&(_, epoch, value)| (epoch, value))
                .collect(),
        });
    }
    Ok(Some(SearchView {
        experiment: name.to_string(),
        space: spec.space.clone(),
        trials: views,
    }))
}
