//! The machinery the optimisers share: lazy (row-sparse) updates of embedding tables and
//! whole updates of dense variables, with L2 and weight decay folded into the gradient.
//!
//! An optimiser is reduced to an element-wise [`Rule`] — how a slice of values and its
//! state move given a gradient — plus the per-step constants it computes (bias
//! corrections). [`step`] does the rest, the same for Adam, AdaMax and SGD:
//!
//! - for each block of rows recorded on the [`Tape`], the gradients of rows read more
//!   than once are summed, `l2 · w` is added, the table's frozen column gets a zero
//!   gradient, and the rule runs once per distinct row. Rows not in the batch keep their
//!   values *and* their state (TensorFlow's LazyAdam, PyTorch's `SparseAdam`), so a step
//!   costs O(batch × dim) whatever the table size;
//! - every dense variable gets the rule over all its values, after `weight_decay · w` is
//!   added to its gradient unless its name ends in `bias` (see [`decays`]).
//!
//! Updates run as candle in-place ops on the parameters' own storage (CPU only), so no
//! table is ever copied, and the scratch buffers live in the optimiser's state, so a step
//! allocates nothing once the largest batch has been seen.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, bail};
use std::cell::RefCell;
use std::ops::Range;

use crate::models::{Params, Tape};

/// How one optimiser moves a slice of values given their gradient: the part that differs
/// between Adam, AdaMax and SGD. Implementations hold the step's constants (rate, bias
/// corrections) and are built afresh for every step.
pub(crate) trait Rule: Copy {
    /// Name of the in-place ops, for candle's error messages.
    const NAME: &'static str;

    /// State vectors kept per parameter value, at most 2 (Adam: m and v; plain SGD: none).
    fn slots(&self) -> usize;

    /// Moves `w` by gradient `g`, advancing the state `s1` and `s2` (each either as long
    /// as `w` or empty when [`Rule::slots`] says it is unused). `g` is at least as long as
    /// `w`.
    fn apply(&self, w: &mut [f32], s1: &mut [f32], s2: &mut [f32], g: &[f32]);
}

/// Optimiser state of one parameter: up to two state vectors plus scratch for summing
/// duplicate rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// First state vector (Adam's and AdaMax's first moment, SGD's momentum buffer).
    pub(crate) s1: Vec<f32>,
    /// Second state vector (Adam's second moment, AdaMax's infinity norm).
    pub(crate) s2: Vec<f32>,
    order: Vec<u64>,
    sum: Vec<f32>,
    /// Whole-table gradient, used only by [`TableUpdates::Dense`].
    full: Vec<f32>,
}

impl State {
    fn zeros(n: usize, slots: usize) -> Self {
        State {
            s1: vec![0.0; if slots >= 1 { n } else { 0 }],
            s2: vec![0.0; if slots >= 2 { n } else { 0 }],
            ..Default::default()
        }
    }
}

/// Which rows of an embedding table a step updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableUpdates {
    /// Only the rows the batch read (the default, O(batch) per step).
    #[default]
    Lazy,
    /// Every row, untouched ones with a zero gradient, so their moments decay and
    /// momentum keeps moving them: what PyTorch's and Keras's dense optimisers do with a
    /// dense embedding gradient. O(table) per step; a reference for accuracy checks,
    /// not for training.
    Dense,
}

/// The state of every parameter of a model, indexed like [`Params::tables`] and
/// [`Params::dense_vars`].
#[derive(Debug, Clone)]
pub(crate) struct States {
    /// One per embedding table.
    pub(crate) tables: Vec<State>,
    /// One per dense variable.
    pub(crate) dense: Vec<State>,
    /// Which table rows a step updates.
    pub(crate) updates: TableUpdates,
}

impl States {
    /// All-zero state with `slots` vectors per parameter value.
    pub(crate) fn zeros(params: &Params, slots: usize) -> Self {
        States {
            tables: params
                .tables()
                .iter()
                .map(|t| State::zeros(t.weight.elem_count(), slots))
                .collect(),
            dense: params
                .dense_vars()
                .iter()
                .map(|(_, v)| State::zeros(v.elem_count(), slots))
                .collect(),
            updates: TableUpdates::Lazy,
        }
    }
}

/// Penalties every optimiser adds to the gradient before its rule runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Penalties {
    /// `l2 · w` added to the gradient of every embedding row a batch reads.
    pub(crate) l2: f64,
    /// `weight_decay · w` added to the gradient of every dense variable that [`decays`].
    pub(crate) weight_decay: f64,
}

/// Whether weight decay applies to the dense variable `name`: every one except bias
/// vectors, which the models name `…bias` (Keras puts `kernel_regularizer` on kernels
/// only, and decaying a bias towards 0 only shifts the output).
pub fn decays(name: &str) -> bool {
    !name.ends_with("bias")
}

/// One optimiser step: `rule` applied lazily to the table rows on `tape` and fully to every
/// dense variable that has a gradient in `grads`.
pub(crate) fn step<R: Rule>(
    rule: R,
    penalties: Penalties,
    params: &Params,
    tape: &Tape,
    grads: &GradStore,
    states: &mut States,
) -> Result<()> {
    let updates = states.updates;
    for gathered in &tape.entries {
        let Some(grad) = grads.get(gathered.rows.as_tensor()) else {
            continue;
        };
        let (Some(table), Some(state)) = (
            params.tables().get(gathered.table.0),
            states.tables.get_mut(gathered.table.0),
        ) else {
            bail!("{}: no table {}", R::NAME, gathered.table.0);
        };
        let op = RowsOp {
            rule,
            l2: penalties.l2 as f32,
            frozen_column: table.frozen_column,
            updates,
            state: RefCell::new(state),
        };
        table.weight.inplace_op3(&gathered.ids, grad, &op)?;
    }
    for ((name, var), state) in params.dense_vars().iter().zip(&mut states.dense) {
        let Some(grad) = grads.get(var.as_tensor()) else {
            continue;
        };
        let op = DenseOp {
            rule,
            weight_decay: if decays(name) {
                penalties.weight_decay as f32
            } else {
                0.0
            },
            state: RefCell::new(state),
        };
        var.as_tensor().inplace_op2(grad, &op)?;
    }
    Ok(())
}

/// `v[span]`, or an empty slice for an unused (empty) state vector.
#[inline]
fn slot(v: &mut [f32], span: Range<usize>) -> &mut [f32] {
    v.get_mut(span).unwrap_or_default()
}

/// In-place update of the rows `ids` of a table from the gathered rows' gradient.
struct RowsOp<'a, R> {
    rule: R,
    l2: f32,
    frozen_column: Option<usize>,
    updates: TableUpdates,
    state: RefCell<&'a mut State>,
}

impl<R: Rule> InplaceOp3 for RowsOp<'_, R> {
    fn name(&self) -> &'static str {
        R::NAME
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
            bail!("{}: expected f32 table, u32 ids and f32 gradient", R::NAME);
        };
        let (Some((w0, w1)), Some((i0, i1)), Some((g0, g1)), &[_, dim]) = (
            dst_l.contiguous_offsets(),
            ids_l.contiguous_offsets(),
            grad_l.contiguous_offsets(),
            dst_l.dims(),
        ) else {
            bail!("{}: operands must be contiguous, the table 2-d", R::NAME);
        };
        let w = &mut w[w0..w1];
        let ids = &ids[i0..i1];
        let grad = &grad[g0..g1];
        if grad.len() != ids.len() * dim {
            bail!(
                "{}: gradient of {} values for {} rows of {dim}",
                R::NAME,
                grad.len(),
                ids.len()
            );
        }
        let mut state = self.state.borrow_mut();
        let State {
            s1,
            s2,
            order,
            sum,
            full,
        } = &mut **state;
        if self.updates == TableUpdates::Dense {
            full.clear();
            full.resize(w.len(), 0.0);
        }
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
            let Some(w_row) = w.get_mut(span.clone()) else {
                bail!("{}: row {row} is outside the table", R::NAME);
            };
            if self.l2 != 0.0 {
                for (s, w) in sum.iter_mut().zip(w_row.iter()) {
                    *s += self.l2 * w;
                }
            }
            if let Some(s) = self.frozen_column.and_then(|c| sum.get_mut(c)) {
                // A zero gradient keeps every rule's state at zero, so the value never
                // moves (Adam and AdaMax: m = 0; SGD: no step, a zero buffer).
                *s = 0.0;
            }
            match self.updates {
                TableUpdates::Lazy => {
                    self.rule
                        .apply(w_row, slot(s1, span.clone()), slot(s2, span), sum)
                }
                TableUpdates::Dense => slot(full, span).copy_from_slice(sum),
            }
        }
        if self.updates == TableUpdates::Dense {
            let n = w.len();
            self.rule.apply(w, slot(s1, 0..n), slot(s2, 0..n), full);
        }
        Ok(())
    }
}

/// In-place update of a whole dense variable.
struct DenseOp<'a, R> {
    rule: R,
    weight_decay: f32,
    state: RefCell<&'a mut State>,
}

impl<R: Rule> InplaceOp2 for DenseOp<'_, R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        grad: &CpuStorage,
        grad_l: &Layout,
    ) -> Result<()> {
        let (CpuStorage::F32(w), CpuStorage::F32(grad)) = (dst, grad) else {
            bail!("{}: expected f32 variable and gradient", R::NAME);
        };
        let (Some((w0, w1)), Some((g0, g1))) =
            (dst_l.contiguous_offsets(), grad_l.contiguous_offsets())
        else {
            bail!("{}: operands must be contiguous", R::NAME);
        };
        let (w, grad) = (&mut w[w0..w1], &grad[g0..g1]);
        if grad.len() != w.len() {
            bail!(
                "{}: {} gradients for {} values",
                R::NAME,
                grad.len(),
                w.len()
            );
        }
        let mut state = self.state.borrow_mut();
        let State { s1, s2, sum, .. } = &mut **state;
        let n = w.len();
        let (s1, s2) = (slot(s1, 0..n), slot(s2, 0..n));
        if self.weight_decay == 0.0 {
            self.rule.apply(w, s1, s2, grad);
        } else {
            // The gradient is read-only: decay into the scratch, sized on the first step.
            sum.clear();
            sum.extend(
                grad.iter()
                    .zip(w.iter())
                    .map(|(g, w)| g + self.weight_decay * w),
            );
            self.rule.apply(w, s1, s2, sum);
        }
        Ok(())
    }
}

/// Test support: gradients fed through a real forward pass and backward, so optimiser
/// tests drive [`Optimizer::step`](super::Optimizer::step) exactly as training does.
#[cfg(test)]
pub(crate) mod testing {
    use candle_core::{Device, Tensor};
    use rand::SeedableRng;

    use crate::models::params::TableId;
    use crate::models::{Init, Params, Tape};
    use crate::train::Optimizer;

    /// Params with one `rows × dim` table holding `values` (row-major).
    pub(crate) fn one_table(values: &[f32], rows: usize, dim: usize) -> (Params, TableId) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut params = Params::new(&Device::Cpu);
        let id = params
            .table("t", rows, dim, Init::Constant(0.0), &mut rng)
            .unwrap();
        let w = Tensor::from_slice(values, (rows, dim), &Device::Cpu).unwrap();
        params.tables()[id.0].weight.slice_set(&w, 0, 0).unwrap();
        (params, id)
    }

    /// One optimiser step in which table `table` had rows `ids` read with gradient
    /// `row_grads` (`ids.len() × dim`, row-major) and each dense variable `i` with a
    /// gradient in `dense_grads` got that gradient.
    pub(crate) fn step(
        opt: &mut dyn Optimizer,
        params: &Params,
        table: Option<(TableId, &[u32], &[f32])>,
        dense_grads: &[(usize, &[f32])],
    ) {
        // loss = Σ rows ⊙ G + Σ var ⊙ G' has gradient exactly G (resp. G').
        let mut tape = Tape::recording();
        let mut loss = Tensor::zeros((), candle_core::DType::F32, &Device::Cpu).unwrap();
        if let Some((id, ids, row_grads)) = table {
            let ids_t = Tensor::from_slice(ids, ids.len(), &Device::Cpu).unwrap();
            let rows = params.gather(id, &ids_t, &mut tape).unwrap();
            let g = Tensor::from_slice(row_grads, rows.shape(), &Device::Cpu).unwrap();
            loss = (loss + (rows * g).unwrap().sum_all().unwrap()).unwrap();
        }
        for &(i, grad) in dense_grads {
            let var = params.dense_vars()[i].1.as_tensor();
            let g = Tensor::from_slice(grad, var.shape(), &Device::Cpu).unwrap();
            loss = (loss + (var * g).unwrap().sum_all().unwrap()).unwrap();
        }
        let grads = loss.backward().unwrap();
        opt.step(params, &tape, &grads).unwrap();
    }

    /// The values of table `id`, row-major.
    pub(crate) fn table_values(params: &Params, id: TableId) -> Vec<f32> {
        params.tables()[id.0]
            .weight
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// The values of dense variable `i`.
    pub(crate) fn dense_values(params: &Params, i: usize) -> Vec<f32> {
        params.dense_vars()[i]
            .1
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// Asserts `got ≈ want` element-wise within `tol`.
    pub(crate) fn assert_close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < tol, "{got:?} vs {want:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn biases_are_not_decayed() {
        assert!(decays("layer0.weight"));
        assert!(decays("output.kernel"));
        assert!(!decays("layer0.bias"));
        assert!(!decays("user_bias"));
    }

    #[test]
    fn unused_slots_are_empty_slices() {
        let mut empty: Vec<f32> = Vec::new();
        assert!(slot(&mut empty, 3..6).is_empty());
        let mut full = vec![1.0f32; 8];
        assert_eq!(slot(&mut full, 3..6).len(), 3);
    }
}
