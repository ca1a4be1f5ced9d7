//! Stochastic gradient descent with optional momentum, lazy for embedding tables.
//!
//! PyTorch's convention (no dampening, no Nesterov): per value, with gradient `g`,
//!
//! ```text
//! b ← μ b + g
//! w ← w − lr · b
//! ```
//!
//! and with `μ = 0` plain `w ← w − lr · g`, keeping no buffer at all. Only the table rows
//! a batch read move (gradients of repeated rows summed, `l2 · w` added, the frozen column
//! held), and the buffers of rows not in the batch do not decay (as in
//! TensorFlow's lazy optimisers); dense variables are updated whole with coupled weight
//! decay (see [`super::lazy`]).

use candle_core::{Result, Tensor};

use super::lazy::{Hyperparameters, Lazy, Penalties, Rule, Step};

/// SGD's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Step size.
    pub learning_rate: f64,
    /// Momentum μ in [0, 1); 0 is plain SGD.
    pub momentum: f64,
    /// L2 penalty on the embedding rows a batch reads (adds `l2 · w` to their gradient).
    pub l2: f64,
    /// Coupled weight decay on dense variables not named `…bias` (adds
    /// `weight_decay · w` to their gradient, before the momentum buffer sees it).
    pub weight_decay: f64,
}

/// SGD with optional momentum and lazy row updates for embedding tables.
pub type Sgd = Lazy<SgdConfig>;

impl Hyperparameters for SgdConfig {
    type Rule = SgdRule;

    /// Momentum buffers in `s1`; none when the momentum is 0.
    fn slots(&self) -> usize {
        SgdRule::from(*self).slots()
    }

    /// The same every step: SGD has no bias correction.
    fn rule(&self, _step: i32) -> SgdRule {
        SgdRule::from(*self)
    }

    fn penalties(&self) -> Penalties {
        Penalties {
            l2: self.l2,
            weight_decay: self.weight_decay,
        }
    }

    fn set_learning_rate(&mut self, rate: f64) {
        self.learning_rate = rate;
    }
}

/// The constants of one SGD update.
#[derive(Debug, Clone, Copy)]
pub struct SgdRule {
    lr: f32,
    momentum: f32,
}

impl From<SgdConfig> for SgdRule {
    fn from(c: SgdConfig) -> Self {
        SgdRule {
            lr: c.learning_rate as f32,
            momentum: c.momentum as f32,
        }
    }
}

impl Rule for SgdRule {
    const NAME: &'static str = "lazy-sgd";

    fn slots(&self) -> usize {
        usize::from(self.momentum != 0.0)
    }

    #[inline]
    fn apply(&self, w: &mut [f32], b: &mut [f32], _: &mut [f32], g: &[f32]) {
        let n = w.len();
        let g = &g[..n];
        if self.momentum == 0.0 {
            for (w, g) in w.iter_mut().zip(g) {
                *w -= self.lr * g;
            }
        } else {
            let b = &mut b[..n];
            for i in 0..n {
                let bi = self.momentum * b[i] + g[i];
                b[i] = bi;
                w[i] -= self.lr * bi;
            }
        }
    }

    fn apply_tensors(&self, w: &Tensor, state: &[Tensor], g: &Tensor) -> Result<Step> {
        let lr = f64::from(self.lr);
        match state {
            [] => Ok(Step {
                w: (w - g.affine(lr, 0.0)?)?,
                state: Vec::new(),
            }),
            [b] => {
                let b = (b.affine(f64::from(self.momentum), 0.0)? + g)?;
                Ok(Step {
                    w: (w - b.affine(lr, 0.0)?)?,
                    state: vec![b],
                })
            }
            _ => candle_core::bail!("{}: expected at most one state vector", Self::NAME),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::optim::lazy::testing::{
        assert_close, dense_values, one_table, step, table_values,
    };
    use crate::engine::params::Init;
    use crate::engine::params::Params;
    use rand::SeedableRng;

    fn config(learning_rate: f64, momentum: f64, l2: f64) -> SgdConfig {
        SgdConfig {
            learning_rate,
            momentum,
            l2,
            weight_decay: 0.0,
        }
    }

    #[test]
    fn plain_sgd_two_steps() {
        // lr 0.1, w = 1: g = 2 → 1 − 0.2 = 0.8; g = −1 → 0.8 + 0.1 = 0.9. No buffers kept.
        let (params, t) = one_table(&[1.0, 5.0], 2, 1);
        let mut opt = Sgd::new(&params, config(0.1, 0.0, 0.0));
        step(&mut opt, &params, Some((t, &[0], &[2.0])), &[]);
        assert_close(&table_values(&params, t), &[0.8, 5.0], 1e-6);
        step(&mut opt, &params, Some((t, &[0], &[-1.0])), &[]);
        assert_close(&table_values(&params, t), &[0.9, 5.0], 1e-6);
        assert!(opt.states.tables[0].vector(0).is_empty());
    }

    #[test]
    fn momentum_two_steps() {
        // lr 0.1, μ 0.9, w = 1: g = 2 → b = 2, w = 0.8;
        // g = −1 → b = 0.9·2 − 1 = 0.8, w = 0.8 − 0.08 = 0.72. Row 1 and its buffer untouched.
        let (params, t) = one_table(&[1.0, 5.0], 2, 1);
        let mut opt = Sgd::new(&params, config(0.1, 0.9, 0.0));
        step(&mut opt, &params, Some((t, &[0], &[2.0])), &[]);
        assert_close(&table_values(&params, t), &[0.8, 5.0], 1e-6);
        step(&mut opt, &params, Some((t, &[0], &[-1.0])), &[]);
        assert_close(&table_values(&params, t), &[0.72, 5.0], 1e-6);
        assert_close(&opt.states.tables[0].vector(0), &[0.8, 0.0], 1e-6);
    }

    #[test]
    fn duplicates_are_summed_and_l2_added() {
        // Row 0 (w = 2) read twice with g = 1 and 2, l2 0.5: g = 3 + 0.5·2 = 4,
        // w = 2 − 0.1·4 = 1.6. Row 1 not read: no l2 either.
        let (params, t) = one_table(&[2.0, 2.0], 2, 1);
        let mut opt = Sgd::new(&params, config(0.1, 0.0, 0.5));
        step(&mut opt, &params, Some((t, &[0, 0], &[1.0, 2.0])), &[]);
        assert_close(&table_values(&params, t), &[1.6, 2.0], 1e-6);
    }

    #[test]
    fn frozen_column_is_untouched() {
        let (mut params, t) = one_table(&[0.0, 0.0], 1, 2);
        params.freeze_column(t, 1, 1.0).unwrap();
        let mut opt = Sgd::new(&params, config(0.1, 0.9, 0.5));
        step(
            &mut opt,
            &params,
            Some((t, &[0, 0], &[1.0, 5.0, 1.0, 5.0])),
            &[],
        );
        // Column 0: g = 2 + 0.5·0 → w = −0.2; column 1 stays 1, its buffer 0.
        assert_close(&table_values(&params, t), &[-0.2, 1.0], 1e-6);
        assert_eq!(opt.states.tables[0].vector(0)[1], 0.0);
    }

    #[test]
    fn weight_decay_applies_to_weights_not_biases() {
        // Both 2 with g = 1, lr 0.1, weight decay 0.5: weight g = 1 + 0.5·2 = 2 → 1.8;
        // bias g = 1 → 1.9.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut params = Params::new(&candle_core::Device::Cpu, crate::engine::Engine::Fused);
        params
            .dense("out.weight", &[1, 2], Init::Constant(2.0), &mut rng)
            .unwrap();
        params
            .dense("out.bias", &[1], Init::Constant(2.0), &mut rng)
            .unwrap();
        let mut opt = Sgd::new(
            &params,
            SgdConfig {
                weight_decay: 0.5,
                ..config(0.1, 0.0, 0.0)
            },
        );
        step(&mut opt, &params, None, &[(0, &[1.0, 1.0]), (1, &[1.0])]);
        assert_close(&dense_values(&params, 0), &[1.8, 1.8], 1e-6);
        assert_close(&dense_values(&params, 1), &[1.9], 1e-6);
    }
}
