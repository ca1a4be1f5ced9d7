//! Early stopping: watch one validation metric after every epoch, remember the best epoch,
//! and stop once it has not improved for `patience` epochs.
//!
//! Which way is better is the monitored metric's own statement
//! ([`MetricName::direction`]), the same one `exp compare` and the reports rank by.

use crate::config::spec::{Direction, EarlyStopping, MetricName};

/// What the loop does after an epoch's validation score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new best epoch: keep its weights.
    Improved,
    /// No improvement yet, within patience: train on.
    Wait,
    /// `patience` epochs without improvement: stop and go back to the best epoch.
    Stop,
}

/// The state of early stopping for one run.
#[derive(Debug, Clone)]
pub struct Stopper {
    patience: usize,
    monitor: MetricName,
    direction: Direction,
    /// The best epoch so far (1-based) and its score.
    best: Option<(usize, f64)>,
}

impl Stopper {
    /// Watches `rule.monitor`, stopping after `rule.patience` epochs without improvement.
    pub fn new(rule: EarlyStopping) -> Stopper {
        Stopper {
            patience: rule.patience,
            monitor: rule.monitor,
            direction: rule.monitor.direction(),
            best: None,
        }
    }

    /// The metric watched.
    pub fn monitor(&self) -> MetricName {
        self.monitor
    }

    /// Records epoch `epoch`'s score `value`. Only a strict improvement counts; a NaN
    /// score never does.
    pub fn observe(&mut self, epoch: usize, value: f64) -> Verdict {
        match self.best {
            Some((best_epoch, best)) if !self.direction.better(value, best) => {
                if epoch - best_epoch >= self.patience {
                    Verdict::Stop
                } else {
                    Verdict::Wait
                }
            }
            None if value.is_nan() => Verdict::Wait,
            _ => {
                self.best = Some((epoch, value));
                Verdict::Improved
            }
        }
    }

    /// The best epoch so far (1-based), if any epoch scored.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(epoch, _)| epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(monitor: MetricName, patience: usize, scores: &[f64]) -> Vec<Verdict> {
        let mut stopper = Stopper::new(EarlyStopping { patience, monitor });
        let mut out = Vec::new();
        for (i, &v) in scores.iter().enumerate() {
            let verdict = stopper.observe(i + 1, v);
            out.push(verdict);
            if verdict == Verdict::Stop {
                break;
            }
        }
        out
    }

    #[test]
    fn an_error_stops_after_patience_epochs_without_a_lower_value() {
        use Verdict::*;
        // Best at epoch 2 (0.9); epochs 3 and 4 are no lower (equal is no improvement).
        let got = verdicts(MetricName::Rmse, 2, &[1.0, 0.9, 0.9, 0.95, 0.5]);
        assert_eq!(got, [Improved, Improved, Wait, Stop]);
        let mut stopper = Stopper::new(EarlyStopping {
            patience: 2,
            monitor: MetricName::Mae,
        });
        for (epoch, v) in [1.0, 0.9, 0.95].into_iter().enumerate() {
            stopper.observe(epoch + 1, v);
        }
        assert_eq!(stopper.best_epoch(), Some(2));
    }

    #[test]
    fn patience_one_stops_at_the_first_epoch_without_improvement() {
        use Verdict::*;
        assert_eq!(
            verdicts(MetricName::Mae, 1, &[1.0, 0.8, 0.85]),
            [Improved, Improved, Stop]
        );
    }

    #[test]
    fn nan_never_improves() {
        use Verdict::*;
        assert_eq!(
            verdicts(MetricName::Rmse, 2, &[f64::NAN, 1.0, f64::NAN, f64::NAN]),
            [Wait, Improved, Wait, Stop]
        );
    }
}
