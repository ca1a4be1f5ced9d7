//! The search space on the unit interval: every numeric parameter is drawn as `u` in
//! `[0, 1)` and mapped to its value ([`decode`]), and a value maps back to its `u`
//! ([`encode`]), so one uniform draw or one TPE density serves every distribution.
//! Choices are drawn as an index instead.
//!
//! - `uniform [a, b]`: `a + u (b − a)`;
//! - `log_uniform [a, b]`: `exp(ln a + u (ln b − ln a))`;
//! - `int [a, b]` with `step s`: the `K + 1` values `a, a + s, …` (K = ⌊(b − a) / s⌋),
//!   value `a + s ⌊u (K + 1)⌋`, so each is equally likely;
//! - `int [a, b]` with `log = true`: `round(exp(ln(a − ½) + u (ln(b + ½) − ln(a − ½))))`,
//!   each integer owning the stretch of the log scale around it (as Optuna does).
//!
//! Floats are kept to [`SIGNIFICANT_DIGITS`] significant digits, so stored values,
//! labels and run keys read as people write them (`0.0031623`, not
//! `0.0031622776601683794`); TPE learns from the rounded values.

use super::spec::{Condition, Distribution, Parameter, SearchSpec};

/// Significant digits kept of a drawn float.
pub const SIGNIFICANT_DIGITS: i32 = 5;

/// How one parameter is drawn: a point of the unit interval, or an index among choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// `u` in `[0, 1)`, mapped by [`decode`].
    Unit,
    /// An index in `0..n`.
    Categorical(usize),
}

/// The domain `parameter` is drawn in.
pub fn domain(distribution: &Distribution) -> Domain {
    match distribution {
        Distribution::Choice { values } => Domain::Categorical(values.len()),
        _ => Domain::Unit,
    }
}

/// The value of `distribution` at `x`: `u` in `[0, 1)` for numeric distributions, the
/// index for choices (clamped into range).
pub fn decode(distribution: &Distribution, x: f64) -> toml::Value {
    let u = x.clamp(0.0, 1.0 - f64::EPSILON);
    match distribution {
        Distribution::Uniform { low, high } => {
            toml::Value::Float(round_within(low + u * (high - low), *low, *high))
        }
        Distribution::LogUniform { low, high } => {
            let value = (low.ln() + u * (high.ln() - low.ln())).exp();
            toml::Value::Float(round_within(value, *low, *high))
        }
        Distribution::Int {
            low,
            high,
            log: false,
            step,
        } => {
            let count = (high - low) / step + 1;
            let k = ((u * count as f64).floor() as i64).min(count - 1);
            toml::Value::Integer(low + k * step)
        }
        Distribution::Int {
            low,
            high,
            log: true,
            ..
        } => {
            let (from, to) = int_log_bounds(*low, *high);
            let value = (from + u * (to - from)).exp().round() as i64;
            toml::Value::Integer(value.clamp(*low, *high))
        }
        Distribution::Choice { values } => {
            let last = values.len().saturating_sub(1);
            let index = if x.is_finite() && x > 0.0 {
                (x as usize).min(last)
            } else {
                0
            };
            values
                .get(index)
                .cloned()
                .unwrap_or(toml::Value::Integer(0))
        }
    }
}

/// Where `value` lies in `distribution`'s domain (the inverse of [`decode`]): `u` in
/// `[0, 1)`, or the choice's index; `None` for a value the distribution cannot give.
pub fn encode(distribution: &Distribution, value: &toml::Value) -> Option<f64> {
    let below_one = |u: f64| u.clamp(0.0, 1.0 - f64::EPSILON);
    match distribution {
        Distribution::Uniform { low, high } => {
            let v = number(value)?;
            Some(below_one((v - low) / (high - low)))
        }
        Distribution::LogUniform { low, high } => {
            let v = number(value)?;
            (v > 0.0).then(|| below_one((v.ln() - low.ln()) / (high.ln() - low.ln())))
        }
        Distribution::Int {
            low,
            high,
            log: false,
            step,
        } => {
            let v = value.as_integer()?;
            let count = ((high - low) / step + 1) as f64;
            let k = ((v - low) / step) as f64;
            // The middle of the value's stretch of the unit interval.
            Some(below_one((k + 0.5) / count))
        }
        Distribution::Int {
            low,
            high,
            log: true,
            ..
        } => {
            let v = value.as_integer()?;
            let (from, to) = int_log_bounds(*low, *high);
            Some(below_one(((v as f64).ln() - from) / (to - from)))
        }
        Distribution::Choice { values } => values
            .iter()
            .position(|candidate| candidate == value)
            .map(|i| i as f64),
    }
}

/// Whether `parameter` applies given the values drawn before it (`drawn`): always
/// without a condition, else when the key it depends on was drawn with one of its values.
pub fn applies(parameter: &Parameter, drawn: &[(String, toml::Value)]) -> bool {
    match &parameter.when {
        None => true,
        Some(Condition { key, values }) => drawn
            .iter()
            .any(|(drawn_key, value)| drawn_key == key && values.contains(value)),
    }
}

/// How many distinct configurations a space of only `int` and `choice` parameters has
/// (conditional keys counted as if always present: an upper bound); `None` when a
/// parameter is continuous.
pub fn distinct_configurations(space: &[Parameter]) -> Option<u128> {
    space.iter().try_fold(1u128, |total, parameter| {
        let count = match &parameter.distribution {
            Distribution::Int {
                low, high, step, ..
            } => ((high - low) / step + 1) as u128,
            Distribution::Choice { values } => values.len() as u128,
            Distribution::Uniform { .. } | Distribution::LogUniform { .. } => return None,
        };
        Some(total.saturating_mul(count))
    })
}

/// Stored values (read back sorted by key) in the order of the space, or of the grid.
pub fn in_space_order(
    mut params: Vec<(String, toml::Value)>,
    spec: &SearchSpec,
    experiment: &crate::config::spec::Experiment,
) -> Vec<(String, toml::Value)> {
    let order: Vec<&str> = if spec.space.is_empty() {
        experiment.sweep.iter().map(|a| a.key.as_str()).collect()
    } else {
        spec.space.iter().map(|p| p.key.as_str()).collect()
    };
    params.sort_by_key(|(key, _)| order.iter().position(|k| k == key));
    params
}

/// `ln(a − ½)` and `ln(b + ½)`: each integer of a log `int` range owns the stretch of the
/// log scale that rounds to it. `a ≥ 1`, so `a − ½ > 0`.
fn int_log_bounds(low: i64, high: i64) -> (f64, f64) {
    ((low as f64 - 0.5).ln(), (high as f64 + 0.5).ln())
}

/// `value` kept to [`SIGNIFICANT_DIGITS`] significant digits, within `[low, high]`.
fn round_within(value: f64, low: f64, high: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value.clamp(low, high);
    }
    let magnitude = value.abs().log10().floor() as i32;
    let scale = 10f64.powi(SIGNIFICANT_DIGITS - 1 - magnitude);
    ((value * scale).round() / scale).clamp(low, high)
}

/// A TOML number as f64.
fn number(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(x) => Some(*x),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(low: i64, high: i64, log: bool, step: i64) -> Distribution {
        Distribution::Int {
            low,
            high,
            log,
            step,
        }
    }

    #[test]
    fn unit_points_map_to_the_documented_values() {
        let uniform = Distribution::Uniform {
            low: 0.0,
            high: 0.5,
        };
        assert_eq!(decode(&uniform, 0.5), toml::Value::Float(0.25));
        let log = Distribution::LogUniform {
            low: 1e-4,
            high: 1e-2,
        };
        // Halfway on the log scale is the geometric mean, 1e-3.
        assert_eq!(decode(&log, 0.5), toml::Value::Float(0.001));
        // 0.0031622776… kept to five significant digits.
        assert_eq!(decode(&log, 0.75), toml::Value::Float(0.0031623));
        // int [8, 64] step 8: 8 values, each an eighth of the interval.
        let steps = int(8, 64, false, 8);
        assert_eq!(decode(&steps, 0.0), toml::Value::Integer(8));
        assert_eq!(decode(&steps, 0.124), toml::Value::Integer(8));
        assert_eq!(decode(&steps, 0.126), toml::Value::Integer(16));
        assert_eq!(decode(&steps, 0.9999), toml::Value::Integer(64));
        // log int [1, 100]: u = 0.5 is exp((ln 0.5 + ln 100.5) / 2) = 7.09 → 7.
        assert_eq!(decode(&int(1, 100, true, 1), 0.5), toml::Value::Integer(7));
        let choice = Distribution::Choice {
            values: vec!["a".into(), "b".into()],
        };
        assert_eq!(decode(&choice, 1.0), toml::Value::from("b"));
        assert_eq!(decode(&choice, 7.0), toml::Value::from("b"), "clamped");
    }

    #[test]
    fn encode_inverts_decode() {
        let cases = [
            Distribution::Uniform {
                low: -1.0,
                high: 3.0,
            },
            Distribution::LogUniform {
                low: 1e-5,
                high: 1.0,
            },
            int(8, 64, false, 8),
            int(4, 256, true, 1),
            Distribution::Choice {
                values: vec![1.into(), 2.into(), 3.into()],
            },
        ];
        for distribution in &cases {
            let points: Vec<f64> = match domain(distribution) {
                Domain::Unit => (0..20).map(|i| i as f64 / 20.0 + 0.01).collect(),
                Domain::Categorical(n) => (0..n).map(|i| i as f64).collect(),
            };
            for x in points {
                let value = decode(distribution, x);
                let back = encode(distribution, &value).expect("a value it gave");
                // Decoding the encoded point gives the same value back.
                assert_eq!(decode(distribution, back), value, "{distribution:?} at {x}");
            }
        }
        assert_eq!(encode(&int(8, 64, false, 8), &toml::Value::from("x")), None);
    }

    #[test]
    fn conditions_and_counts() {
        let conditional = Parameter {
            key: "model.hidden_layers".into(),
            distribution: Distribution::Choice {
                values: vec![toml::Value::Array(vec![64.into()])],
            },
            when: Some(Condition {
                key: "model.architecture".into(),
                values: vec!["ncf".into()],
            }),
        };
        let ncf = [("model.architecture".to_string(), toml::Value::from("ncf"))];
        let mf = [(
            "model.architecture".to_string(),
            toml::Value::from("dot-mf"),
        )];
        assert!(applies(&conditional, &ncf));
        assert!(!applies(&conditional, &mf));
        let size = Parameter {
            key: "model.embedding_size".into(),
            distribution: int(8, 64, false, 8),
            when: None,
        };
        assert_eq!(
            distinct_configurations(&[size.clone(), conditional]),
            Some(8)
        );
        let rate = Parameter {
            key: "training.learning_rate".into(),
            distribution: Distribution::Uniform {
                low: 0.1,
                high: 0.2,
            },
            when: None,
        };
        assert_eq!(distinct_configurations(&[size, rate]), None);
    }
}
