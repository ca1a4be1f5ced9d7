//! Rating-prediction metrics (RMSE, MAE) here; ranking metrics (precision@k, NDCG@k, …)
//! in [`ranking`].

pub mod ranking;

use crate::config::spec::MetricName;

/// Error metrics of a set of predictions against true ratings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
}

impl Scores {
    /// The value of `metric`.
    pub fn get(&self, metric: MetricName) -> f64 {
        match metric {
            MetricName::Rmse => self.rmse,
            MetricName::Mae => self.mae,
        }
    }
}

/// RMSE and MAE of `predicted` against `actual` (same length; NaN for empty input).
///
/// Sums in f64 so a million f32 errors lose no precision.
pub fn score(predicted: &[f32], actual: &[f32]) -> Scores {
    assert_eq!(predicted.len(), actual.len(), "one prediction per rating");
    let (mut se, mut ae) = (0.0f64, 0.0f64);
    for (&p, &a) in predicted.iter().zip(actual) {
        let e = (p - a) as f64;
        se += e * e;
        ae += e.abs();
    }
    let n = predicted.len() as f64;
    Scores {
        rmse: (se / n).sqrt(),
        mae: ae / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // errors: 0.5, -1, 2, 0 → squares 0.25 + 1 + 4 + 0 = 5.25, /4 = 1.3125,
        // sqrt = 1.145644; absolute 0.5 + 1 + 2 + 0 = 3.5, /4 = 0.875.
        let s = score(&[3.5, 2.0, 5.0, 4.0], &[3.0, 3.0, 3.0, 4.0]);
        assert!((s.rmse - 1.145_643_9).abs() < 1e-6, "{s:?}");
        assert!((s.mae - 0.875).abs() < 1e-12, "{s:?}");
        assert_eq!(s.get(MetricName::Mae), s.mae);
    }

    #[test]
    fn perfect_predictions_score_zero() {
        let s = score(&[1.0, 2.5], &[1.0, 2.5]);
        assert_eq!((s.rmse, s.mae), (0.0, 0.0));
    }

    #[test]
    fn empty_input_is_nan_not_a_panic() {
        assert!(score(&[], &[]).rmse.is_nan());
    }
}
