//! Adam with lazy (row-sparse) updates for embedding tables.
//!
//! For a table, only the rows a batch read are updated: their gradients are summed per
//! distinct row, the row's first and second moments advance, and the row moves. Rows not
//! in the batch keep their moments untouched (TensorFlow's LazyAdam, PyTorch's
//! `SparseAdam`), so a step costs O(batch × dim) whatever the table size. Dense variables
//! get the ordinary Adam update. Bias correction uses the global step count.
//!
//! The update runs as a candle in-place op on the parameter's own storage, so no table is
//! ever copied.

#[cfg(test)]
use candle_core::Tensor;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, bail};
use std::cell::RefCell;

use super::Optimizer;
use crate::models::{Params, Tape};

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
}

impl AdamConfig {
    /// Keras/PyTorch defaults (β₁ 0.9, β₂ 0.999, ε 1e-8) with the given rate and L2.
    pub fn new(learning_rate: f64, l2: f64) -> Self {
        AdamConfig {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            l2,
        }
    }
}

/// First and second moments of one parameter, plus scratch for summing duplicate rows.
#[derive(Debug, Clone, Default)]
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
    order: Vec<u64>,
    sum: Vec<f32>,
}

impl Moments {
    fn zeros(n: usize) -> Self {
        Moments {
            m: vec![0.0; n],
            v: vec![0.0; n],
            ..Default::default()
        }
    }
}

/// Adam with lazy row updates for embedding tables.
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    step: i32,
    tables: Vec<Moments>,
    dense: Vec<Moments>,
}

impl Adam {
    /// Optimiser state for `params`, all moments zero.
    pub fn new(params: &Params, config: AdamConfig) -> Self {
        let tables = params
            .tables()
            .iter()
            .map(|t| Moments::zeros(t.weight.elem_count()))
            .collect();
        let dense = params
            .dense_vars()
            .iter()
            .map(|(_, v)| Moments::zeros(v.elem_count()))
            .collect();
        Adam {
            config,
            step: 0,
            tables,
            dense,
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &Params, tape: &Tape, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let lr_t = c.learning_rate * (1.0 - c.beta2.powi(self.step)).sqrt()
            / (1.0 - c.beta1.powi(self.step));
        let step = AdamStep {
            beta1: c.beta1 as f32,
            beta2: c.beta2 as f32,
            // Folding the bias corrections into the rate (Kingma & Ba, end of §2) keeps
            // the per-element work to one multiply-add per moment.
            lr_t: lr_t as f32,
            eps_hat: (c.eps * (1.0 - c.beta2.powi(self.step)).sqrt()) as f32,
        };
        for gathered in &tape.entries {
            let Some(grad) = grads.get(gathered.rows.as_tensor()) else {
                continue;
            };
            let table = &params.tables()[gathered.table.0];
            let op = RowsOp {
                step,
                l2: c.l2 as f32,
                frozen_column: table.frozen_column,
                state: RefCell::new(&mut self.tables[gathered.table.0]),
            };
            table.weight.inplace_op3(&gathered.ids, grad, &op)?;
        }
        for ((_, var), state) in params.dense_vars().iter().zip(&mut self.dense) {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            let op = DenseOp {
                step,
                state: RefCell::new(state),
            };
            var.as_tensor().inplace_op2(grad, &op)?;
        }
        Ok(())
    }
}

/// The per-step constants of one Adam update.
#[derive(Debug, Clone, Copy)]
struct AdamStep {
    beta1: f32,
    beta2: f32,
    lr_t: f32,
    eps_hat: f32,
}

impl AdamStep {
    /// Advances the moments of `w` by gradient `g` and moves `w`, element by element.
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
}

/// In-place update of the rows `ids` of a table from the gathered rows' gradient.
struct RowsOp<'a> {
    step: AdamStep,
    l2: f32,
    frozen_column: Option<usize>,
    state: RefCell<&'a mut Moments>,
}

impl InplaceOp3 for RowsOp<'_> {
    fn name(&self) -> &'static str {
        "lazy-adam-rows"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        ids: &CpuStorage,
        ids_l: &Layout,
        grad: &CpuStorage,
        grad_l: &Layout,
    ) -> Result<()> {
        let (CpuStorage::F32(w), CpuStorage::U32(ids), CpuStorage::F32(grad)) = (dst, ids, grad)
        else {
            bail!("lazy-adam-rows: expected f32 table, u32 ids and f32 gradient");
        };
        let (Some((w0, _)), Some((i0, i1)), Some((g0, g1))) = (
            dst_l.contiguous_offsets(),
            ids_l.contiguous_offsets(),
            grad_l.contiguous_offsets(),
        ) else {
            bail!("lazy-adam-rows: operands must be contiguous");
        };
        let dim = dst_l.dims()[1];
        let w = &mut w[w0..];
        let ids = &ids[i0..i1];
        let grad = &grad[g0..g1];
        let mut state = self.state.borrow_mut();
        let Moments { m, v, order, sum } = &mut **state;
        // Sum the gradient of rows read more than once, then update each row once. Sorting
        // (row << 32 | position) keys keeps equal rows together without indirection.
        order.clear();
        order.extend(
            ids.iter()
                .enumerate()
                .map(|(i, &r)| (r as u64) << 32 | i as u64),
        );
        order.sort_unstable();
        sum.resize(dim, 0.0);
        let mut at = 0;
        while at < order.len() {
            let row = (order[at] >> 32) as usize;
            sum.fill(0.0);
            while at < order.len() && (order[at] >> 32) as usize == row {
                let i = (order[at] & 0xffff_ffff) as usize;
                for (s, g) in sum.iter_mut().zip(&grad[i * dim..(i + 1) * dim]) {
                    *s += g;
                }
                at += 1;
            }
            let span = row * dim..(row + 1) * dim;
            let w_row = &mut w[span.clone()];
            if self.l2 != 0.0 {
                for (s, w) in sum.iter_mut().zip(w_row.iter()) {
                    *s += self.l2 * w;
                }
            }
            if let Some(c) = self.frozen_column {
                // A zero gradient keeps both moments at zero, so the value never moves.
                sum[c] = 0.0;
            }
            self.step
                .apply(w_row, &mut m[span.clone()], &mut v[span], sum);
        }
        Ok(())
    }
}

/// In-place Adam update of a whole dense variable.
struct DenseOp<'a> {
    step: AdamStep,
    state: RefCell<&'a mut Moments>,
}

impl InplaceOp2 for DenseOp<'_> {
    fn name(&self) -> &'static str {
        "adam-dense"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        grad: &CpuStorage,
        grad_l: &Layout,
    ) -> Result<()> {
        let (CpuStorage::F32(w), CpuStorage::F32(grad)) = (dst, grad) else {
            bail!("adam-dense: expected f32 variable and gradient");
        };
        let (Some((w0, w1)), Some((g0, g1))) =
            (dst_l.contiguous_offsets(), grad_l.contiguous_offsets())
        else {
            bail!("adam-dense: operands must be contiguous");
        };
        let mut state = self.state.borrow_mut();
        let Moments { m, v, .. } = &mut **state;
        self.step.apply(&mut w[w0..w1], m, v, &grad[g0..g1]);
        Ok(())
    }
}

/// Applies one lazy-Adam step to `table` rows from a gradient `grad` of the gathered rows;
/// exposed for tests that check the update against hand-computed values.
#[cfg(test)]
fn step_table(table: &Tensor, ids: &Tensor, grad: &Tensor, adam: &mut Adam) -> Result<()> {
    adam.step += 1;
    let c = adam.config;
    let lr_t =
        c.learning_rate * (1.0 - c.beta2.powi(adam.step)).sqrt() / (1.0 - c.beta1.powi(adam.step));
    let op = RowsOp {
        step: AdamStep {
            beta1: c.beta1 as f32,
            beta2: c.beta2 as f32,
            lr_t: lr_t as f32,
            eps_hat: (c.eps * (1.0 - c.beta2.powi(adam.step)).sqrt()) as f32,
        },
        l2: c.l2 as f32,
        frozen_column: None,
        state: RefCell::new(&mut adam.tables[0]),
    };
    table.inplace_op3(ids, grad, &op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Init;
    use candle_core::Device;
    use rand::SeedableRng;

    fn one_table(values: Vec<f32>, rows: usize, dim: usize) -> (Params, Tensor) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut params = Params::new(&Device::Cpu);
        let id = params
            .table("t", rows, dim, Init::Constant(0.0), &mut rng)
            .unwrap();
        let w = params.tables()[id.0].weight.clone();
        w.slice_set(
            &Tensor::from_vec(values, (rows, dim), &Device::Cpu).unwrap(),
            0,
            0,
        )
        .unwrap();
        (params, w)
    }

    #[test]
    fn first_step_moves_each_touched_value_by_the_learning_rate() {
        // Adam's first step is lr · g/|g| (m̂ = g, v̂ = g²), whatever the gradient's scale.
        let (params, w) = one_table(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        let mut adam = Adam::new(&params, AdamConfig::new(0.1, 0.0));
        let ids = Tensor::new(&[2u32], &Device::Cpu).unwrap();
        let grad = Tensor::new(&[[0.5f32, -3.0]], &Device::Cpu).unwrap();
        step_table(&w, &ids, &grad, &mut adam).unwrap();
        let got: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        let want = [1.0, 2.0, 3.0, 4.0, 4.9, 6.1];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn duplicate_rows_are_summed_before_the_update() {
        // Row 0 read twice with gradients 1 and 2 → one update with g = 3:
        // m = 0.1·3 = 0.3, v = 0.001·9 = 0.009; step 1 bias-corrected: m̂ = 3, v̂ = 9,
        // Δ = lr · 3/3 = lr. A second step with g = -3 then gives
        // m = 0.9·0.3 − 0.3 = −0.03, v = 0.999·0.009 + 0.009 = 0.017991,
        // m̂ = −0.03/0.19 = −0.157895, v̂ = 0.017991/0.001999 = 9.0,
        // Δ = lr · m̂/√v̂ = lr · (−0.157895)/3 = −0.0526316·lr, so w = −0.1 + 0.0052632.
        let (params, w) = one_table(vec![0.0, 0.0], 2, 1);
        let mut adam = Adam::new(&params, AdamConfig::new(0.1, 0.0));
        let ids = Tensor::new(&[0u32, 0], &Device::Cpu).unwrap();
        let grad = Tensor::new(&[[1.0f32], [2.0]], &Device::Cpu).unwrap();
        step_table(&w, &ids, &grad, &mut adam).unwrap();
        let after_one: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        assert!((after_one[0] + 0.1).abs() < 1e-6, "{after_one:?}");
        assert_eq!(after_one[1], 0.0);
        let ids = Tensor::new(&[0u32], &Device::Cpu).unwrap();
        let grad = Tensor::new(&[[-3.0f32]], &Device::Cpu).unwrap();
        step_table(&w, &ids, &grad, &mut adam).unwrap();
        let after_two: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        let want = -0.1 + 0.1 * 0.157_894_7 / 3.0;
        assert!(
            (after_two[0] - want).abs() < 1e-5,
            "{after_two:?} vs {want}"
        );
        // The untouched row kept its value and its moments.
        assert_eq!(after_two[1], 0.0);
        assert_eq!(adam.tables[0].m[1], 0.0);
    }

    #[test]
    fn l2_adds_the_weight_to_the_gradient() {
        // w = 2, g = 0, l2 = 0.5 → effective g = 1 → first step moves by −lr.
        let (params, w) = one_table(vec![2.0], 1, 1);
        let mut adam = Adam::new(&params, AdamConfig::new(0.01, 0.5));
        let ids = Tensor::new(&[0u32], &Device::Cpu).unwrap();
        let grad = Tensor::new(&[[0.0f32]], &Device::Cpu).unwrap();
        step_table(&w, &ids, &grad, &mut adam).unwrap();
        let got: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        assert!((got[0] - 1.99).abs() < 1e-6, "{got:?}");
    }
}
