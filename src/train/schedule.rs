//! Learning-rate schedules: the rate each epoch trains with, from `training.learning_rate`,
//! `training.lr_schedule` and `training.lr_decay`.
//!
//! Schedules step once per epoch, as PyTorch's `CosineAnnealingLR(T_max = epochs)` and
//! `ExponentialLR(gamma)` stepped after each epoch: epoch 1 always trains at the base rate.
//! Adam and AdaMax keep their moments across a change of rate; only the step size moves.

use std::f64::consts::PI;

use crate::config::spec::{LrSchedule, TrainingSpec};

/// The learning rate of 1-based `epoch` under `spec`'s schedule.
pub fn learning_rate(spec: &TrainingSpec, epoch: usize) -> f64 {
    let base = spec.learning_rate;
    let done = epoch.saturating_sub(1) as f64;
    match spec.lr_schedule {
        LrSchedule::Constant => base,
        // ½ · base · (1 + cos(π · (e − 1) / E)): base in epoch 1, approaching 0 after E.
        LrSchedule::Cosine => 0.5 * base * (1.0 + (PI * done / spec.epochs as f64).cos()),
        LrSchedule::Exponential => base * spec.lr_decay.powf(done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(schedule: LrSchedule, epochs: usize) -> TrainingSpec {
        TrainingSpec {
            lr_schedule: schedule,
            lr_decay: 0.5,
            ..TrainingSpec::adam(epochs, 64, 0.1, 0.0)
        }
    }

    #[test]
    fn constant_keeps_the_base_rate() {
        let s = spec(LrSchedule::Constant, 3);
        assert_eq!([1, 2, 3].map(|e| learning_rate(&s, e)), [0.1; 3]);
    }

    #[test]
    fn cosine_falls_from_the_base_rate_along_half_a_cosine() {
        // E = 4: ½ · 0.1 · (1 + cos(π · {0, 1, 2, 3} / 4)) = 0.1, 0.085355, 0.05, 0.014645.
        let s = spec(LrSchedule::Cosine, 4);
        let rates = [1, 2, 3, 4].map(|e| learning_rate(&s, e));
        let expected = [0.1, 0.085_355_339, 0.05, 0.014_644_661];
        for (rate, want) in rates.iter().zip(expected) {
            assert!((rate - want).abs() < 1e-9, "{rates:?}");
        }
    }

    #[test]
    fn exponential_multiplies_by_the_decay_each_epoch() {
        let s = spec(LrSchedule::Exponential, 3);
        assert_eq!([1, 2, 3].map(|e| learning_rate(&s, e)), [0.1, 0.05, 0.025]);
    }
}
