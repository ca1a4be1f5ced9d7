//! Adam with lazy (row-sparse) updates for embedding tables.
//!
//! For a table, only the rows a batch read are updated: their gradients are summed per
//! distinct row, the row's first and second moments advance, and the row moves. Rows not
//! in the batch keep their moments untouched (TensorFlow's LazyAdam, PyTorch's
//! `SparseAdam`), so a step costs O(batch × dim) whatever the table size. Dense variables
//! get the ordinary Adam update, with coupled weight decay (see [`super::lazy`]). Bias
//! correction uses the global step count.

use candle_core::{Result, Tensor};

use super::lazy::{Hyperparameters, Lazy, Penalties, Rule, Step};

/// Adam's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the denominator for stability.
    pub eps: f64,
    /// L2 penalty on embedding rows: adds `l2 · w` to the gradient of every row a batch
    /// reads (the gradient of `l2/2 · ‖w‖²`), like PyTorch's `weight_decay` restricted to
    /// touched rows.
    pub l2: f64,
    /// Coupled weight decay on dense variables: adds `weight_decay · w` to the gradient of
    /// every dense variable whose name does not end in `bias` (Keras's
    /// `kernel_regularizer=l2(weight_decay / 2)`), before the moments see it.
    pub weight_decay: f64,
}

impl AdamConfig {
    /// Keras/PyTorch defaults (β₁ 0.9, β₂ 0.999, ε 1e-8) with the given rate and L2, no
    /// weight decay.
    pub fn new(learning_rate: f64, l2: f64) -> Self {
        AdamConfig {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            l2,
            weight_decay: 0.0,
        }
    }
}

/// Adam with lazy row updates for embedding tables.
pub type Adam = Lazy<AdamConfig>;

impl Hyperparameters for AdamConfig {
    type Rule = AdamRule;

    /// First moments in `s1`, second moments in `s2`.
    fn slots(&self) -> usize {
        2
    }

    fn rule(&self, step: i32) -> AdamRule {
        let correction2 = (1.0 - self.beta2.powi(step)).sqrt();
        AdamRule {
            beta1: self.beta1 as f32,
            beta2: self.beta2 as f32,
            // Folding the bias corrections into the rate (Kingma & Ba, end of §2) keeps
            // the per-element work to one multiply-add per moment.
            lr_t: (self.learning_rate * correction2 / (1.0 - self.beta1.powi(step))) as f32,
            eps_hat: (self.eps * correction2) as f32,
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

/// The per-step constants of one Adam update.
#[derive(Debug, Clone, Copy)]
pub struct AdamRule {
    beta1: f32,
    beta2: f32,
    lr_t: f32,
    eps_hat: f32,
}

impl Rule for AdamRule {
    const NAME: &'static str = "lazy-adam";

    fn slots(&self) -> usize {
        2
    }

    /// Advances the moments `m`, `v` of `w` by gradient `g` and moves `w`.
    #[inline]
    fn apply(&self, w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        let n = w.len();
        // Equal lengths up front let the compiler drop bounds checks and vectorise.
        let (m, v, g) = (&mut m[..n], &mut v[..n], &g[..n]);
        let (b1, b2) = (self.beta1, self.beta2);
        for i in 0..n {
            let gi = g[i];
            let mi = b1 * m[i] + (1.0 - b1) * gi;
            let vi = b2 * v[i] + (1.0 - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] -= self.lr_t * mi / (vi.sqrt() + self.eps_hat);
        }
    }

    fn apply_tensors(&self, w: &Tensor, state: &[Tensor], g: &Tensor) -> Result<Step> {
        let [m, v] = state else {
            candle_core::bail!("{}: expected two state vectors", Self::NAME)
        };
        let (b1, b2) = (self.beta1, self.beta2);
        let m = (m.affine(f64::from(b1), 0.0)? + g.affine(f64::from(1.0 - b1), 0.0)?)?;
        let v = (v.affine(f64::from(b2), 0.0)? + g.sqr()?.affine(f64::from(1.0 - b2), 0.0)?)?;
        let denominator = v.sqrt()?.affine(1.0, f64::from(self.eps_hat))?;
        let w = (w - (m.affine(f64::from(self.lr_t), 0.0)? / denominator)?)?;
        Ok(Step {
            w,
            state: vec![m, v],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::optim::Optimizer;
    use crate::engine::optim::TableUpdates;
    use crate::engine::optim::lazy::testing::{
        assert_close, dense_values, one_table, step, table_values,
    };
    use crate::engine::params::Params;

    #[test]
    fn first_step_moves_each_touched_value_by_the_learning_rate() {
        // Adam's first step is lr · g/|g| (m̂ = g, v̂ = g²), whatever the gradient's scale.
        let (params, t) = one_table(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        let mut adam = Adam::new(&params, AdamConfig::new(0.1, 0.0));
        step(&mut adam, &params, Some((t, &[2], &[0.5, -3.0])), &[]);
        let want = [1.0, 2.0, 3.0, 4.0, 4.9, 6.1];
        assert_close(&table_values(&params, t), &want, 1e-6);
    }

    #[test]
    fn duplicate_rows_are_summed_before_the_update() {
        // Row 0 read twice with gradients 1 and 2 → one update with g = 3:
        // m = 0.1·3 = 0.3, v = 0.001·9 = 0.009; step 1 bias-corrected: m̂ = 3, v̂ = 9,
        // Δ = lr · 3/3 = lr. A second step with g = -3 then gives
        // m = 0.9·0.3 − 0.3 = −0.03, v = 0.999·0.009 + 0.009 = 0.017991,
        // m̂ = −0.03/0.19 = −0.157895, v̂ = 0.017991/0.001999 = 9.0,
        // Δ = lr · m̂/√v̂ = lr · (−0.157895)/3 = −0.0526316·lr, so w = −0.1 + 0.0052632.
        let (params, t) = one_table(&[0.0, 0.0], 2, 1);
        let mut adam = Adam::new(&params, AdamConfig::new(0.1, 0.0));
        step(&mut adam, &params, Some((t, &[0, 0], &[1.0, 2.0])), &[]);
        assert_close(&table_values(&params, t), &[-0.1, 0.0], 1e-6);
        step(&mut adam, &params, Some((t, &[0], &[-3.0])), &[]);
        let want = -0.1 + 0.1 * 0.157_894_7 / 3.0;
        assert_close(&table_values(&params, t), &[want, 0.0], 1e-5);
        // The untouched row kept its value and its moments.
        assert_eq!(adam.states.tables[0].vector(0)[1], 0.0);
        assert_eq!(adam.states.tables[0].vector(1)[1], 0.0);
    }

    #[test]
    fn dense_updates_keep_moving_rows_the_batch_did_not_read() {
        // Step 1 reads row 0 with g = 1: m = 0.1, v = 0.001, w₀ = −lr (as lazy).
        // Step 2 reads only row 1 with g = 1. Dense: row 0 sees g = 0, so
        // m = 0.09, v = 0.000999; m̂ = 0.09/0.19 = 0.473684, v̂ = 0.000999/0.001999
        // = 0.499750, Δ = lr · 0.473684/0.706930 = 0.670058·lr → w₀ = −0.1 − 0.0670058.
        // Row 1's first update is −lr·ĝ/|ĝ| with the step-2 corrections:
        // m̂ = 0.1/0.19, v̂ = 0.001/0.001999, Δ = lr · 0.526316/0.707284 = 0.744136·lr.
        // Lazy leaves row 0 at −0.1 and gives row 1 the same −0.0744136.
        for (updates, row0) in [
            (TableUpdates::Lazy, -0.1),
            (TableUpdates::Dense, -0.167_005_8),
        ] {
            let (params, t) = one_table(&[0.0, 0.0], 2, 1);
            let mut adam = Adam::new(&params, AdamConfig::new(0.1, 0.0));
            adam.set_table_updates(updates);
            step(&mut adam, &params, Some((t, &[0], &[1.0])), &[]);
            step(&mut adam, &params, Some((t, &[1], &[1.0])), &[]);
            assert_close(&table_values(&params, t), &[row0, -0.074_413_6], 1e-5);
        }
    }

    #[test]
    fn moments_of_each_row_land_at_that_rows_values() {
        // The moments are stored interleaved by row; read back in table order they are
        // m = (1 − β₁)·g = 0.1·g and v = (1 − β₂)·g² = 0.001·g² at the rows read (2, 0),
        // zero at the row not read (1).
        let (params, t) = one_table(&[0.0; 6], 3, 2);
        let mut adam = Adam::new(&params, AdamConfig::new(0.1, 0.0));
        step(
            &mut adam,
            &params,
            Some((t, &[2, 0], &[1.0, 2.0, 3.0, 4.0])),
            &[],
        );
        let state = &adam.states.tables[0];
        assert_close(&state.vector(0), &[0.3, 0.4, 0.0, 0.0, 0.1, 0.2], 1e-7);
        assert_close(
            &state.vector(1),
            &[0.009, 0.016, 0.0, 0.0, 0.001, 0.004],
            // 1 − β₂ in f32 is 0.00099998713.
            1e-6,
        );
        assert!(state.vector(2).is_empty());
    }

    #[test]
    fn l2_adds_the_weight_to_the_gradient() {
        // w = 2, g = 0, l2 = 0.5 → effective g = 1 → first step moves by −lr.
        let (params, t) = one_table(&[2.0], 1, 1);
        let mut adam = Adam::new(&params, AdamConfig::new(0.01, 0.5));
        step(&mut adam, &params, Some((t, &[0], &[0.0])), &[]);
        assert_close(&table_values(&params, t), &[1.99], 1e-6);
    }

    #[test]
    fn weight_decay_applies_to_weights_not_biases() {
        // Both start at 2 with gradient 0; weight decay 0.5 gives the weight g = 1, so its
        // first step moves it by lr; the bias's zero gradient leaves it still.
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut params = Params::new(&candle_core::Device::Cpu, crate::engine::Engine::Fused);
        let init = crate::engine::params::Init::Constant(2.0);
        params.dense("h0.weight", &[2], init, &mut rng).unwrap();
        params.dense("h0.bias", &[1], init, &mut rng).unwrap();
        let config = AdamConfig {
            weight_decay: 0.5,
            ..AdamConfig::new(0.01, 0.0)
        };
        let mut adam = Adam::new(&params, config);
        step(&mut adam, &params, None, &[(0, &[0.0, 0.0]), (1, &[0.0])]);
        assert_close(&dense_values(&params, 0), &[1.99, 1.99], 1e-6);
        assert_eq!(dense_values(&params, 1), [2.0]);
    }
}
