//! How long a sweep has left, from measured time per epoch rather than from run counts:
//! runs differ by orders of magnitude (a closed-form baseline takes milliseconds, an
//! SVD++ epoch on ML-1M seconds), so "runs done" says little about the time left.
//!
//! Each pending run's remaining epochs are priced at the mean epoch time measured so far
//! for runs of the same architecture on the same data set, or, before any such epoch,
//! the mean of every epoch measured; the total is shared among the workers. Runs that stop
//! early make it an upper bound. Before the first epoch there is no estimate.

use std::collections::HashMap;
use std::time::Duration;

use crate::store::records::EpochRecord;
use crate::sweep::RunSpec;

/// Remaining-time estimate for one sweep, fed with its events.
#[derive(Debug, Clone, Default)]
pub struct Eta {
    /// Per pending run (by key): its group and the epochs it has left.
    left: HashMap<String, (String, usize)>,
    /// Per group: total seconds and count of the epochs measured.
    measured: HashMap<String, (f64, usize)>,
    workers: usize,
}

/// Runs whose epochs take alike: the same architecture on the same data set.
fn group(run: &RunSpec) -> String {
    format!(
        "{} on {}",
        run.config.model.architecture.as_str(),
        run.config.data.dataset.as_str()
    )
}

impl Eta {
    /// An estimate for `pending` runs trained by `workers` workers in parallel.
    pub fn new(pending: &[&RunSpec], workers: usize) -> Eta {
        let left = pending
            .iter()
            .map(|run| (run.key.clone(), (group(run), run.config.training.epochs)))
            .collect();
        Eta {
            left,
            measured: HashMap::new(),
            workers: workers.max(1),
        }
    }

    /// `run` finished an epoch, measured in `record`.
    pub fn epoch(&mut self, run: &RunSpec, record: &EpochRecord) {
        if let Some((group, left)) = self.left.get_mut(&run.key) {
            *left = run.config.training.epochs.saturating_sub(record.epoch);
            let entry = self.measured.entry(group.clone()).or_default();
            entry.0 += record.seconds.max(0.0);
            entry.1 += 1;
        }
    }

    /// `run` ended (finished, failed, stopped or passed over): nothing left of it.
    pub fn ended(&mut self, run: &RunSpec) {
        if let Some((_, left)) = self.left.get_mut(&run.key) {
            *left = 0;
        }
    }

    /// The time left, or `None` before any epoch has been measured.
    pub fn remaining(&self) -> Option<Duration> {
        let (all_seconds, all_epochs) = self
            .measured
            .values()
            .fold((0.0, 0), |(s, n), &(gs, gn)| (s + gs, n + gn));
        if all_epochs == 0 {
            return None;
        }
        let overall = all_seconds / all_epochs as f64;
        let work: f64 = self
            .left
            .values()
            .map(|(group, left)| {
                let per_epoch = match self.measured.get(group) {
                    Some(&(seconds, n)) if n > 0 => seconds / n as f64,
                    _ => overall,
                };
                per_epoch * *left as f64
            })
            .sum();
        Some(Duration::from_secs_f64(work / self.workers as f64))
    }
}

/// `ETA 1m 05s`, `ETA 42s`, `ETA –` (nothing measured yet).
pub fn describe(remaining: Option<Duration>) -> String {
    match remaining {
        None => "ETA –".to_string(),
        Some(d) => {
            let secs = d.as_secs_f64().round() as u64;
            match secs {
                0..60 => format!("ETA {secs}s"),
                60..3600 => format!("ETA {}m {:02}s", secs / 60, secs % 60),
                _ => format!("ETA {}h {:02}m", secs / 3600, secs % 3600 / 60),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::{
        Architecture, DataSpec, DatasetName, ModelSpec, RunConfig, SplitSpec, TrainingSpec,
    };

    fn run(key: &str, architecture: Architecture, epochs: usize) -> RunSpec {
        RunSpec {
            experiment: "e".into(),
            point: 0,
            params: Vec::new(),
            config: RunConfig {
                data: DataSpec::new(DatasetName::MlLatestSmall),
                split: SplitSpec::Holdout {
                    test_fraction: 0.1,
                    validation_fraction: 0.0,
                },
                model: ModelSpec::with_defaults(architecture, 8),
                training: TrainingSpec::adam(epochs, 256, 0.01, 0.0),
                metrics: Vec::new(),
                ranking: None,
                save_predictions: false,
            },
            seed: 1,
            repeat: 0,
            fold: 0,
            folds: 1,
            key: key.into(),
            trial: None,
        }
    }

    fn record(epoch: usize, seconds: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0,
            rmse: 1.0,
            mae: 1.0,
            seconds,
            train_seconds: None,
            validation_rmse: None,
            validation_mae: None,
        }
    }

    #[test]
    fn remaining_time_prices_each_run_at_its_architectures_epoch_time() {
        let mf = run("a", Architecture::DotMf, 10);
        let svdpp = run("b", Architecture::SvdPp, 10);
        let svdpp2 = run("c", Architecture::SvdPp, 10);
        let mut eta = Eta::new(&[&mf, &svdpp, &svdpp2], 2);
        assert_eq!(eta.remaining(), None);
        // One fast MF epoch: everything is priced at 0.1 s per epoch for now.
        // (9 + 10 + 10) epochs × 0.1 s / 2 workers = 1.45 s
        eta.epoch(&mf, &record(1, 0.1));
        let secs = eta.remaining().unwrap().as_secs_f64();
        assert!((secs - 1.45).abs() < 1e-9, "{secs}");
        // An SVD++ epoch of 3 s prices the SVD++ runs alone:
        // MF 9 × 0.1 + SVD++ (9 + 10) × 3 = 0.9 + 57 = 57.9, / 2 = 28.95 s
        eta.epoch(&svdpp, &record(1, 3.0));
        let secs = eta.remaining().unwrap().as_secs_f64();
        assert!((secs - 28.95).abs() < 1e-9, "{secs}");
        // A run that ends (early stopping, failure) leaves nothing: (0 + 19 × 3) / 2.
        eta.ended(&mf);
        let secs = eta.remaining().unwrap().as_secs_f64();
        assert!((secs - 28.5).abs() < 1e-9, "{secs}");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(describe(None), "ETA –");
        assert_eq!(describe(Some(Duration::from_secs_f64(41.6))), "ETA 42s");
        assert_eq!(describe(Some(Duration::from_secs(65))), "ETA 1m 05s");
        assert_eq!(describe(Some(Duration::from_secs(7260))), "ETA 2h 01m");
    }
}
