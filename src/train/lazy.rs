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
//! On the CPU, updates run as candle in-place ops on the parameters' own storage, so no
//! table is ever copied, and the scratch buffers live in the optimiser's state, so a step
//! allocates nothing once the largest batch has been seen. On other devices (CUDA) the
//! same rule runs on the host over the batch's rows only: `index_select` reads them,
//! `scatter_set` writes them back in place, and dense variables are copied whole (see
//! [`rows_portable`] and [`dense_portable`]). That costs transfers but keeps one
//! implementation of every rule, so both paths compute the same update (a test checks it).

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor, Var, bail};
use std::cell::RefCell;
use std::ops::Range;

use crate::kernels::prefetch;
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
///
/// The state vectors are stored row by row: for a table of `rows × dim`, row `r`'s values
/// of every state vector sit side by side in `values[r·slots·dim .. (r + 1)·slots·dim]`
/// (first vector, then second), and a dense variable of `n` values is one row of width
/// `n`. A row update then reads its state as one contiguous run of memory instead of a
/// row in each of two arrays: on a table far larger than the cache, where every row is a
/// miss, that cut the cost of a random row's Adam update (weights plus moments) by 30%
/// (122 against 173 ns on this project's machine, a 1M-row table of 52 columns).
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// The state vectors, interleaved by row as described above.
    values: Vec<f32>,
    /// State vectors per value (0, 1 or 2).
    slots: usize,
    /// Values per row: the table's `dim`, or the whole variable's length.
    width: usize,
    /// Place of each table row in `rows` while a step groups its gradients.
    slot_of: Vec<u32>,
    sum: Vec<f32>,
    rows: Vec<u32>,
    /// Whole-table gradient, used only by [`TableUpdates::Dense`].
    full: Vec<f32>,
}

impl State {
    /// All-zero state for `n` values in rows of `width`, with `slots` vectors.
    fn zeros(n: usize, width: usize, slots: usize) -> Self {
        State {
            values: vec![0.0; n * slots],
            slots,
            width,
            ..Default::default()
        }
    }

    /// Values per row of state, all vectors together.
    fn run(&self) -> usize {
        self.slots * self.width
    }

    /// Vector `k` of every row, in the parameter's own row-major order: what the
    /// optimiser keeps for each value (Adam: `k = 0` the first moments, `k = 1` the
    /// second). Empty when the rule keeps fewer vectors. For tests.
    #[cfg(test)]
    pub(crate) fn vector(&self, k: usize) -> Vec<f32> {
        if k >= self.slots || self.width == 0 {
            return Vec::new();
        }
        self.values
            .chunks(self.run())
            .flat_map(|run| &run[k * self.width..(k + 1) * self.width])
            .copied()
            .collect()
    }
}

/// Where row `row`'s state lies in a state array of `run` values per row.
#[inline]
fn run_span(run: usize, row: usize) -> Range<usize> {
    row * run..(row + 1) * run
}

/// Row `row`'s state (`run` values per row in `values`, rows of `dim` parameter values)
/// as its first and second vector, each empty when the rule does not keep it.
#[inline]
fn row_state(values: &mut [f32], run: usize, dim: usize, row: usize) -> (&mut [f32], &mut [f32]) {
    split_state(slot(values, run_span(run, row)), dim)
}

/// A state run split into its first `width` values and the rest (each empty when unused).
#[inline]
fn split_state(run: &mut [f32], width: usize) -> (&mut [f32], &mut [f32]) {
    let at = width.min(run.len());
    run.split_at_mut(at)
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

/// Which rows of an embedding table a step updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableUpdates {
    /// Only the rows the batch read (the default, O(batch) per step).
    #[default]
    Lazy,
    /// Every row, untouched ones with a zero gradient, so their moments decay and
    /// momentum keeps moving them: what PyTorch's and Keras's dense optimisers do with a
    /// dense embedding gradient. O(table) per step, CPU only; a reference for accuracy
    /// checks, not for training.
    Dense,
}

impl States {
    /// All-zero state with `slots` vectors per parameter value.
    pub(crate) fn zeros(params: &Params, slots: usize) -> Self {
        States {
            tables: params
                .tables()
                .iter()
                .map(|t| State::zeros(t.weight.elem_count(), t.dim(), slots))
                .collect(),
            dense: params
                .dense_vars()
                .iter()
                .map(|(_, v)| State::zeros(v.elem_count(), v.elem_count(), slots))
                .collect(),
            updates: TableUpdates::Lazy,
        }
    }
}

/// The smallest table state (in bytes) whose rows [`States::prefetch_rows`] asks for: a
/// smaller state stays in the cache from step to step, and asking for a whole batch's
/// rows at once only pushes the batch's own buffers out. On the 1M-rating set (states of
/// 2.5 and 1.5 MB) prefetching cost 10% of a biased-MF epoch at batch 64 and 1024; on the
/// 1M-user set (416 MB) it saves 8%.
const PREFETCH_STATE_BYTES: usize = 32 << 20;

impl States {
    /// Asks the CPU to bring into cache the state rows (moments, momentum buffers) of every
    /// embedding row on `tape`, so that the loads overlap the loss and backward pass
    /// instead of stalling the update. Rows of a large table are cache misses in every
    /// state vector; only tables whose state is at least [`PREFETCH_STATE_BYTES`] are
    /// touched, and nothing changes.
    pub(crate) fn prefetch_rows(&self, tape: &Tape) {
        for gathered in &tape.entries {
            let Some(state) = self.tables.get(gathered.table.0) else {
                continue;
            };
            if state.values.len() * size_of::<f32>() < PREFETCH_STATE_BYTES {
                continue;
            }
            let (storage, layout) = gathered.ids.storage_and_layout();
            let (candle_core::Storage::Cpu(CpuStorage::U32(ids)), Some((a, b))) =
                (&*storage, layout.contiguous_offsets())
            else {
                continue;
            };
            for &id in &ids[a..b] {
                prefetch(
                    state
                        .values
                        .get(run_span(state.run(), id as usize))
                        .unwrap_or_default(),
                );
            }
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
    step_on(rule, penalties, params, tape, grads, states, false)
}

/// [`step`], with `portable` forcing the any-device path even on the CPU (tests compare
/// the two paths that way).
fn step_on<R: Rule>(
    rule: R,
    penalties: Penalties,
    params: &Params,
    tape: &Tape,
    grads: &GradStore,
    states: &mut States,
    portable: bool,
) -> Result<()> {
    let updates = states.updates;
    for gathered in &tape.entries {
        let Some(grad) = gathered.grad(grads)? else {
            continue;
        };
        let grad = &grad;
        let (Some(table), Some(state)) = (
            params.tables().get(gathered.table.0),
            states.tables.get_mut(gathered.table.0),
        ) else {
            bail!("{}: no table {}", R::NAME, gathered.table.0);
        };
        let rows = RowRule {
            rule,
            l2: (penalties.l2 * table.l2_scale) as f32,
            frozen_column: table.frozen_column,
        };
        if table.weight.device().is_cpu() && !portable {
            let op = RowsOp {
                rows,
                updates,
                state: RefCell::new(state),
            };
            table.weight.inplace_op3(&gathered.ids, grad, &op)?;
        } else if updates == TableUpdates::Dense {
            bail!("{}: dense table updates are a CPU-only reference", R::NAME);
        } else {
            rows_portable(rows, &table.weight, &gathered.ids, grad, state)?;
        }
    }
    for ((name, var), state) in params.dense_vars().iter().zip(&mut states.dense) {
        let Some(grad) = grads.get(var.as_tensor()) else {
            continue;
        };
        let weight_decay = if decays(name) {
            penalties.weight_decay as f32
        } else {
            0.0
        };
        if var.device().is_cpu() && !portable {
            let op = DenseOp {
                rule,
                weight_decay,
                state: RefCell::new(state),
            };
            var.as_tensor().inplace_op2(grad, &op)?;
        } else {
            dense_portable(rule, weight_decay, var, grad, state)?;
        }
    }
    Ok(())
}

/// A rule with the per-table constants of a row update.
#[derive(Clone, Copy)]
struct RowRule<R> {
    rule: R,
    l2: f32,
    frozen_column: Option<usize>,
}

impl<R: Rule> RowRule<R> {
    /// Moves one row `w` (with its state rows `s1`, `s2`) by its summed gradient `g`,
    /// after adding `l2 · w` and zeroing the frozen column's gradient.
    #[inline]
    fn apply(&self, w: &mut [f32], s1: &mut [f32], s2: &mut [f32], g: &mut [f32]) {
        self.penalise(w, g);
        self.rule.apply(w, s1, s2, g);
    }

    /// Adds `l2 · w` to the gradient `g` of row `w` and zeroes the frozen column's.
    #[inline]
    fn penalise(&self, w: &[f32], g: &mut [f32]) {
        if self.l2 != 0.0 {
            for (g, w) in g.iter_mut().zip(w.iter()) {
                *g += self.l2 * w;
            }
        }
        if let Some(g) = self.frozen_column.and_then(|c| g.get_mut(c)) {
            // A zero gradient keeps every rule's state at zero, so the value never
            // moves (Adam and AdaMax: m = 0; SGD: no step, a zero buffer).
            *g = 0.0;
        }
    }
}

/// Sums the gradient of rows read more than once: `rows` gets the distinct rows of `ids`
/// in first-read order and `sums` their summed gradients, row-major (each row's gradients
/// added in batch order). `slot_of` maps a table row to its place in `rows`; it is sized
/// to the table once, every entry `u32::MAX` between calls, so grouping costs O(batch)
/// without sorting. Every id must be below `n_rows`.
/// How many ids ahead [`sum_rows`] prefetches the slot array.
const SLOT_PREFETCH_AHEAD: usize = 16;

fn sum_rows(
    ids: &[u32],
    grad: &[f32],
    dim: usize,
    n_rows: usize,
    slot_of: &mut Vec<u32>,
    rows: &mut Vec<u32>,
    sums: &mut Vec<f32>,
) {
    if slot_of.len() != n_rows {
        slot_of.clear();
        slot_of.resize(n_rows, u32::MAX);
    }
    rows.clear();
    sums.clear();
    for (i, &row) in ids.iter().enumerate() {
        // A large table's slot array is itself a cache miss per row.
        if let Some(&ahead) = ids.get(i + SLOT_PREFETCH_AHEAD) {
            prefetch(
                slot_of
                    .get(ahead as usize..ahead as usize + 1)
                    .unwrap_or_default(),
            );
        }
        let g = &grad[i * dim..(i + 1) * dim];
        let slot = &mut slot_of[row as usize];
        if *slot == u32::MAX {
            *slot = rows.len() as u32;
            rows.push(row);
            sums.extend_from_slice(g);
        } else {
            let start = *slot as usize * dim;
            for (s, g) in sums[start..start + dim].iter_mut().zip(g) {
                *s += g;
            }
        }
    }
    for &row in rows.iter() {
        slot_of[row as usize] = u32::MAX;
    }
}

/// The row update on any device: the batch's distinct rows are read with `index_select`,
/// updated on the host with the optimiser state kept there, and written back in place
/// with `scatter_set`. Only O(batch × dim) values cross to the host.
fn rows_portable<R: Rule>(
    rows: RowRule<R>,
    weight: &Tensor,
    ids: &Tensor,
    grad: &Tensor,
    state: &mut State,
) -> Result<()> {
    let (n, dim) = weight.dims2()?;
    let ids: Vec<u32> = ids.flatten_all()?.to_vec1()?;
    let grad: Vec<f32> = grad.flatten_all()?.to_vec1()?;
    if grad.len() != ids.len() * dim {
        bail!(
            "{}: gradient of {} values for {} rows of {dim}",
            R::NAME,
            grad.len(),
            ids.len()
        );
    }
    if let Some(&bad) = ids.iter().find(|&&r| r as usize >= n) {
        bail!("{}: row {bad} is outside the table", R::NAME);
    }
    let State {
        values: state,
        slots,
        slot_of,
        sum,
        rows: distinct,
        ..
    } = state;
    let run = *slots * dim;
    sum_rows(&ids, &grad, dim, n, slot_of, distinct, sum);
    let device = weight.device();
    let selected = Tensor::from_slice(distinct, distinct.len(), device)?;
    let mut values: Vec<f32> = weight
        .index_select(&selected, 0)?
        .flatten_all()?
        .to_vec1()?;
    for (j, &row) in distinct.iter().enumerate() {
        let local = j * dim..(j + 1) * dim;
        let (s1, s2) = row_state(state, run, dim, row as usize);
        rows.apply(&mut values[local.clone()], s1, s2, &mut sum[local]);
    }
    let m = distinct.len();
    let targets: Vec<u32> = distinct
        .iter()
        .flat_map(|&row| std::iter::repeat_n(row, dim))
        .collect();
    let targets = Tensor::from_vec(targets, (m, dim), device)?;
    let values = Tensor::from_vec(values, (m, dim), device)?;
    weight.scatter_set(&targets, &values, 0)
}

/// The dense update on any device: the variable and its gradient are copied to the host,
/// updated by the rule, and copied back with [`Var::set`].
fn dense_portable<R: Rule>(
    rule: R,
    weight_decay: f32,
    var: &Var,
    grad: &Tensor,
    state: &mut State,
) -> Result<()> {
    let mut w: Vec<f32> = var.as_tensor().flatten_all()?.to_vec1()?;
    let mut g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
    if g.len() != w.len() {
        bail!("{}: {} gradients for {} values", R::NAME, g.len(), w.len());
    }
    if weight_decay != 0.0 {
        for (g, w) in g.iter_mut().zip(&w) {
            *g += weight_decay * w;
        }
    }
    let (s1, s2) = split_state(&mut state.values, w.len());
    rule.apply(&mut w, s1, s2, &g);
    var.set(&Tensor::from_vec(w, var.shape(), var.device())?)
}

/// `v[span]`, or an empty slice for an unused (empty) state vector.
#[inline]
fn slot(v: &mut [f32], span: Range<usize>) -> &mut [f32] {
    v.get_mut(span).unwrap_or_default()
}

/// In-place update of the rows `ids` of a table from the gathered rows' gradient.
struct RowsOp<'a, R> {
    rows: RowRule<R>,
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
        let n_rows = w.len() / dim.max(1);
        if let Some(&bad) = ids.iter().find(|&&r| r as usize >= n_rows) {
            bail!("{}: row {bad} is outside the table", R::NAME);
        }
        let mut state = self.state.borrow_mut();
        let State {
            values: state,
            slots,
            slot_of,
            sum,
            rows,
            full,
            ..
        } = &mut **state;
        let run = *slots * dim;
        sum_rows(ids, grad, dim, n_rows, slot_of, rows, sum);
        if self.updates == TableUpdates::Dense {
            // Every row moves: the batch's rows by their penalised gradient, the others
            // by a zero one.
            full.clear();
            full.resize(w.len(), 0.0);
            for (j, &row) in rows.iter().enumerate() {
                let span = row as usize * dim..(row as usize + 1) * dim;
                let (Some(w_row), Some(g)) = (w.get(span.clone()), full.get_mut(span)) else {
                    bail!("{}: row {row} is outside the table", R::NAME);
                };
                g.copy_from_slice(&sum[j * dim..(j + 1) * dim]);
                self.rows.penalise(w_row, g);
            }
            for (row, (w, g)) in w.chunks_mut(dim).zip(full.chunks(dim)).enumerate() {
                let (s1, s2) = row_state(state, run, dim, row);
                self.rows.rule.apply(w, s1, s2, g);
            }
            return Ok(());
        }
        let update = RowUpdate {
            rule: &self.rows,
            w,
            state,
            run,
            sums: sum,
            rows,
            dim,
        };
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { update.run_avx2() };
            return Ok(());
        }
        update.run();
        Ok(())
    }
}

/// The per-row loop of [`RowsOp`], separate so that it can be compiled twice: for the
/// baseline x86-64 instruction set and, chosen at run time, with AVX2, which lets the
/// compiler run the rule's square roots and divisions eight lanes at a time (the rule
/// is most of a large-batch step). Lane-wise IEEE arithmetic gives the same bits either
/// way.
struct RowUpdate<'a, R> {
    rule: &'a RowRule<R>,
    w: &'a mut [f32],
    /// The table's state, `run` values per row (see [`State`]).
    state: &'a mut [f32],
    run: usize,
    sums: &'a mut [f32],
    rows: &'a [u32],
    dim: usize,
}

impl<R: Rule> RowUpdate<'_, R> {
    /// Updates every row; rows were checked to lie inside the table.
    #[inline(always)]
    fn run(self) {
        let RowUpdate {
            rule,
            w,
            state,
            run,
            sums,
            rows,
            dim,
        } = self;
        for (j, &row) in rows.iter().enumerate() {
            // Rows of a large table are cache misses in the weights and the state: ask
            // for the row a few ahead while this one is updated.
            if let Some(&ahead) = rows.get(j + PREFETCH_AHEAD) {
                let ahead = ahead as usize;
                prefetch(w.get(ahead * dim..(ahead + 1) * dim).unwrap_or_default());
                prefetch(state.get(run_span(run, ahead)).unwrap_or_default());
            }
            let row = row as usize;
            let (s1, s2) = row_state(state, run, dim, row);
            rule.apply(
                &mut w[row * dim..(row + 1) * dim],
                s1,
                s2,
                &mut sums[j * dim..(j + 1) * dim],
            );
        }
    }

    /// [`RowUpdate::run`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(self) {
        self.run()
    }
}

/// How many rows ahead [`RowsOp`] prefetches.
const PREFETCH_AHEAD: usize = 8;

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
        let State { values, sum, .. } = &mut **state;
        let (s1, s2) = split_state(values, w.len());
        if self.weight_decay == 0.0 {
            apply_dense(&self.rule, w, s1, s2, grad);
        } else {
            // The gradient is read-only: decay into the scratch, sized on the first step.
            sum.clear();
            sum.extend(
                grad.iter()
                    .zip(w.iter())
                    .map(|(g, w)| g + self.weight_decay * w),
            );
            apply_dense(&self.rule, w, s1, s2, sum);
        }
        Ok(())
    }
}

/// `rule.apply` over a whole dense variable, compiled for AVX2 where the CPU has it (as
/// [`RowUpdate`]): the square roots and divisions of Adam's update then run eight lanes
/// at a time, which halved the update of MLP's 5,600 dense values. Same bits either way.
#[inline]
fn apply_dense<R: Rule>(rule: &R, w: &mut [f32], s1: &mut [f32], s2: &mut [f32], g: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { apply_dense_avx2(rule, w, s1, s2, g) };
        return;
    }
    rule.apply(w, s1, s2, g);
}

/// [`apply_dense`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn apply_dense_avx2<R: Rule>(
    rule: &R,
    w: &mut [f32],
    s1: &mut [f32],
    s2: &mut [f32],
    g: &[f32],
) {
    rule.apply(w, s1, s2, g);
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

    /// SGD with momentum written as a rule, to drive both update paths.
    #[derive(Clone, Copy)]
    struct Momentum;

    impl Rule for Momentum {
        const NAME: &'static str = "test-momentum";

        fn slots(&self) -> usize {
            1
        }

        fn apply(&self, w: &mut [f32], s1: &mut [f32], _s2: &mut [f32], g: &[f32]) {
            for ((w, m), g) in w.iter_mut().zip(s1.iter_mut()).zip(g) {
                *m = 0.9 * *m + g;
                *w -= 0.1 * *m;
            }
        }
    }

    /// Three steps of `Momentum` on a 5×3 table (rows read twice in one batch, a frozen
    /// column) and a dense weight, by the in-place CPU ops or the any-device path.
    fn three_steps(portable: bool) -> (Vec<f32>, Vec<f32>) {
        use candle_core::{DType, Device, Tensor};
        use rand::SeedableRng;

        use crate::models::Init;
        let dev = &Device::Cpu;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut params = Params::new(dev);
        let table = params
            .table("t", 5, 3, Init::Normal { std: 1.0 }, &mut rng)
            .unwrap();
        params.freeze_column(table, 2, 1.0).unwrap();
        let dense = params
            .dense("layer.weight", &[2, 3], Init::Normal { std: 1.0 }, &mut rng)
            .unwrap();
        let mut states = States::zeros(&params, 1);
        let penalties = Penalties {
            l2: 0.01,
            weight_decay: 0.02,
        };
        for ids in [[0u32, 3, 3, 1], [4, 4, 4, 0], [2, 1, 3, 0]] {
            let mut tape = Tape::recording();
            let ids = Tensor::new(&ids, dev).unwrap();
            let rows = params.gather(table, &ids, &mut tape).unwrap();
            let x = rows.matmul(&dense.t().unwrap()).unwrap();
            let loss = x.sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            step_on(
                Momentum,
                penalties,
                &params,
                &tape,
                &grads,
                &mut states,
                portable,
            )
            .unwrap();
        }
        let t = params.tables()[table.0].weight.flatten_all().unwrap();
        let d = dense.flatten_all().unwrap();
        assert_eq!(t.dtype(), DType::F32);
        (t.to_vec1().unwrap(), d.to_vec1().unwrap())
    }

    #[test]
    fn the_any_device_path_matches_the_in_place_cpu_ops() {
        let (native_table, native_dense) = three_steps(false);
        let (portable_table, portable_dense) = three_steps(true);
        testing::assert_close(&portable_table, &native_table, 1e-6);
        testing::assert_close(&portable_dense, &native_dense, 1e-6);
        // The frozen column kept its constant in every row, read or not.
        for row in 0..5 {
            assert_eq!(native_table[row * 3 + 2], 1.0);
        }
    }

    #[test]
    fn unused_slots_are_empty_slices() {
        let mut empty: Vec<f32> = Vec::new();
        assert!(slot(&mut empty, 3..6).is_empty());
        let mut full = vec![1.0f32; 8];
        assert_eq!(slot(&mut full, 3..6).len(), 3);
    }
}
