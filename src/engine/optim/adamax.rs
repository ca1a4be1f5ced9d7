//! AdaMax (Kingma & Ba 2015, §7.1): Adam with the second moment replaced by an
//! exponentially weighted infinity norm, lazy for embedding tables.
//!
//! Per value, with gradient `g` at global step `t`:
//!
//! ```text
//! m ← β₁ m + (1 − β₁) g
//! u ← max(β₂ u, |g|)
//! w ← w − lr / (1 − β₁ᵗ) · m / (u + ε)
//! ```
//!
//! As for [`Adam`](super::adam::Adam), only the table rows a batch read move (gradients of
//! repeated rows summed, `l2 · w` added, the frozen column held), rows not in the batch
//! keep `m` and `u`, dense variables are updated whole with coupled weight decay (see
//! [`super::lazy`]), and the bias correction uses the global step.

use candle_core::{Result, Tensor};

use super::lazy::{Hyperparameters, Lazy, Penalties, Rule, Step};

/// AdaMax's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamaxConfig {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the infinity norm.
    pub beta2: f64,
    /// Added to the denominator for stability.
    pub eps: f64,
    /// L2 penalty on the embedding rows a batch reads (adds `l2 · w` to their gradient).
    pub l2: f64,
    /// Coupled weight decay on dense variables not named `…bias` (adds
    /// `weight_decay · w` to their gradient).
    pub weight_decay: f64,
}

impl AdamaxConfig {
    /// Keras defaults (β₁ 0.9, β₂ 0.999, ε 1e-7) with the given rate and L2, no weight
    /// decay.
    pub fn new(learning_rate: f64, l2: f64) -> Self {
        AdamaxConfig {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            l2,
            weight_decay: 0.0,
        }
    }
}

/// AdaMax with lazy row updates for embedding tables.
pub type Adamax = Lazy<AdamaxConfig>;

impl Hyperparameters for AdamaxConfig {
    type Rule = AdamaxRule;

    /// First moments in `s1`, infinity norms in `s2`.
    fn slots(&self) -> usize {
        2
    }

    fn rule(&self, step: i32) -> AdamaxRule {
        AdamaxRule {
            beta1: self.beta1 as f32,
            beta2: self.beta2 as f32,
            lr_t: (self.learning_rate / (1.0 - self.beta1.powi(step))) as f32,
            eps: self.eps as f32,
        }
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

/// The per-step constants of one AdaMax update.
#[derive(Debug, Clone, Copy)]
pub struct AdamaxRule {
    beta1: f32,
    beta2: f32,
    /// `lr / (1 − β₁ᵗ)`.
    lr_t: f32,
    eps: f32,
}

impl Rule for AdamaxRule {
    const NAME: &'static str = "lazy-adamax";

    fn slots(&self) -> usize {
        2
    }

    #[inline]
    fn apply(&self, w: &mut [f32], m: &mut [f32], u: &mut [f32], g: &[f32]) {
        let n = w.len();
        let (m, u, g) = (&mut m[..n], &mut u[..n], &g[..n]);
        let (b1, b2) = (self.beta1, self.beta2);
        for i in 0..n {
            let gi = g[i];
            let mi = b1 * m[i] + (1.0 - b1) * gi;
            let ui = (b2 * u[i]).max(gi.abs());
            m[i] = mi;
            u[i] = ui;
            w[i] -= self.lr_t * mi / (ui + self.eps);
        }
    }

    fn apply_tensors(&self, w: &Tensor, state: &[Tensor], g: &Tensor) -> Result<Step> {
        let [m, u] = state else {
            candle_core::bail!("{}: expected two state vectors", Self::NAME)
        };
        let (b1, b2) = (self.beta1, self.beta2);
        let m = (m.affine(f64::from(b1), 0.0)? + g.affine(f64::from(1.0 - b1), 0.0)?)?;
        let u = u.affine(f64::from(b2), 0.0)?.maximum(&g.abs()?)?;
        let denominator = u.affine(1.0, f64::from(self.eps))?;
        let w = (w - (m.affine(f64::from(self.lr_t), 0.0)? / denominator)?)?;
        Ok(Step {
            w,
            state: vec![m, u],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::optim::lazy::testing::{
        assert_close, dense_values, one_table, step, table_values,
    };
    use crate::engine::params::Init;
    use rand::SeedableRng;

    #[test]
    fn one_and_two_steps_on_a_table_row() {
        // lr 0.1, row 1 = [3, 4], g = [0.5, −2]:
        // m = 0.1·g = [0.05, −0.2], u = |g| = [0.5, 2], lr/(1 − 0.9) = 1,
        // Δ = m/(u + ε) = [0.1, −0.1] → row 1 = [2.9, 4.1].
        let (params, t) = one_table(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        let mut opt = Adamax::new(&params, AdamaxConfig::new(0.1, 0.0));
        step(&mut opt, &params, Some((t, &[1], &[0.5, -2.0])), &[]);
        let want = [1.0, 2.0, 2.9, 4.1, 5.0, 6.0];
        assert_close(&table_values(&params, t), &want, 1e-6);
        // Step 2, g = [0.1, −4]:
        // m = 0.9·[0.05, −0.2] + 0.1·[0.1, −4] = [0.055, −0.58],
        // u = max(0.999·[0.5, 2], [0.1, 4]) = [0.4995, 4],
        // lr/(1 − 0.81) = 0.526316, Δ = 0.526316·[0.055/0.4995, −0.58/4]
        //   = [0.0579527, −0.0763158] → row 1 = [2.8420473, 4.1763158].
        step(&mut opt, &params, Some((t, &[1], &[0.1, -4.0])), &[]);
        let want = [1.0, 2.0, 2.842_047_3, 4.176_316, 5.0, 6.0];
        assert_close(&table_values(&params, t), &want, 1e-5);
        assert_close(&opt.states.tables[0].vector(0)[2..4], &[0.055, -0.58], 1e-6);
        assert_close(&opt.states.tables[0].vector(1)[2..4], &[0.4995, 4.0], 1e-6);
    }

    #[test]
    fn duplicates_are_summed_and_untouched_rows_keep_value_and_state() {
        // Step 1: row 0 read twice, g = 1 + 2 = 3: m = 0.3, u = 3,
        // Δ = 0.1/0.1 · 0.3/3 = 0.1 → row 0 = −0.1; row 1 untouched.
        let (params, t) = one_table(&[0.0, 0.0], 2, 1);
        let mut opt = Adamax::new(&params, AdamaxConfig::new(0.1, 0.0));
        step(&mut opt, &params, Some((t, &[0, 0], &[1.0, 2.0])), &[]);
        assert_close(&table_values(&params, t), &[-0.1, 0.0], 1e-6);
        assert_eq!(
            (
                opt.states.tables[0].vector(0)[1],
                opt.states.tables[0].vector(1)[1]
            ),
            (0.0, 0.0)
        );
        // Step 2 reads row 1 only, g = −1, first time for that row but global step 2:
        // m = −0.1, u = 1, Δ = 0.1/(1 − 0.81) · (−0.1)/1 = −0.0526316 → row 1 = 0.0526316.
        // Row 0 keeps its value and its state (m = 0.3, u = 3: no decay while unread).
        step(&mut opt, &params, Some((t, &[1], &[-1.0])), &[]);
        assert_close(&table_values(&params, t), &[-0.1, 0.052_631_6], 1e-6);
        assert_close(&[opt.states.tables[0].vector(0)[0]], &[0.3], 1e-6);
        assert_close(&[opt.states.tables[0].vector(1)[0]], &[3.0], 1e-6);
    }

    #[test]
    fn l2_adds_the_weight_to_the_gradient() {
        // w = 2, g = 0, l2 = 0.5 → g = 1: m = 0.1, u = 1, Δ = 0.01/0.1 · 0.1/1 = 0.01.
        let (params, t) = one_table(&[2.0], 1, 1);
        let mut opt = Adamax::new(&params, AdamaxConfig::new(0.01, 0.5));
        step(&mut opt, &params, Some((t, &[0], &[0.0])), &[]);
        assert_close(&table_values(&params, t), &[1.99], 1e-6);
    }

    #[test]
    fn frozen_column_is_untouched() {
        // Column 1 frozen at 1: neither its gradient 5 nor l2 moves it, its state stays 0;
        // column 0 moves as an ordinary value with l2.
        let (mut params, t) = one_table(&[0.0, 0.0, 0.0, 0.0], 2, 2);
        params.freeze_column(t, 1, 1.0).unwrap();
        let mut opt = Adamax::new(&params, AdamaxConfig::new(0.1, 0.5));
        step(&mut opt, &params, Some((t, &[0], &[1.0, 5.0])), &[]);
        step(&mut opt, &params, Some((t, &[0], &[1.0, 5.0])), &[]);
        let w = table_values(&params, t);
        assert_eq!((w[1], w[3]), (1.0, 1.0));
        assert_eq!(
            (
                opt.states.tables[0].vector(0)[1],
                opt.states.tables[0].vector(1)[1]
            ),
            (0.0, 0.0)
        );
        // Column 0, step 1: g = 1 → m = 0.1, u = 1, Δ = 0.1 → w = −0.1.
        // Step 2: g = 1 + 0.5·(−0.1) = 0.95 → m = 0.09 + 0.095 = 0.185,
        // u = max(0.999, 0.95) = 0.999, Δ = 0.1/0.19 · 0.185/0.999 = 0.0974658 → −0.1974658.
        assert_close(&[w[0]], &[-0.197_465_8], 1e-6);
    }

    #[test]
    fn weight_decay_applies_to_weights_not_biases() {
        // Both start at 2 with gradient 0; weight decay 0.5 gives the weight g = 1 →
        // Δ = lr, while the bias's zero gradient leaves m = 0 and the bias still.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut params = crate::engine::params::Params::new(
            &candle_core::Device::Cpu,
            crate::engine::Engine::Fused,
        );
        params
            .dense("layer.weight", &[2], Init::Constant(2.0), &mut rng)
            .unwrap();
        params
            .dense("layer.bias", &[1], Init::Constant(2.0), &mut rng)
            .unwrap();
        let mut config = AdamaxConfig::new(0.01, 0.0);
        config.weight_decay = 0.5;
        let mut opt = Adamax::new(&params, config);
        step(&mut opt, &params, None, &[(0, &[0.0, 0.0]), (1, &[0.0])]);
        assert_close(&dense_values(&params, 0), &[1.99, 1.99], 1e-6);
        assert_eq!(dense_values(&params, 1), [2.0]);
    }
}
