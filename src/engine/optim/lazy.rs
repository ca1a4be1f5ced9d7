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
//! The engine decides how the rule runs (see `crate::engine`):
//!
//! - **fused**: candle in-place ops on the parameters' own CPU storage run [`Rule::apply`]
//!   over plain slices, so no table is ever copied, and the scratch buffers live in the
//!   optimiser's state, so a step allocates nothing once the largest batch has been seen;
//! - **graph**: [`Rule::apply_tensors`], the same arithmetic as candle tensor operations
//!   on the parameters' device. The batch's distinct rows are read with `index_select`,
//!   their gradients summed with `index_add`, and the updated rows and state written back
//!   in place with `scatter_set`; optimiser state lives on the device beside the weights.
//!   Only the batch's row ids are read on the host (to group repeated rows), never a
//!   row of weights or state. A test checks that both engines compute the same update.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, InplaceOp2, InplaceOp3, Layout, Result, Tensor, bail};
use std::cell::RefCell;
use std::ops::Range;

use crate::engine::Engine;
use crate::engine::kernels::prefetch;
use crate::engine::params::{Params, Tape};

/// How one optimiser moves a slice of values given their gradient: the part that differs
/// between Adam, AdaMax and SGD. Implementations hold the step's constants (rate, bias
/// corrections) and are built afresh for every step.
pub trait Rule: Copy {
    /// Name of the in-place ops, for candle's error messages.
    const NAME: &'static str;

    /// State vectors kept per parameter value, at most 2 (Adam: m and v; plain SGD: none).
    fn slots(&self) -> usize;

    /// Moves `w` by gradient `g`, advancing the state `s1` and `s2` (each either as long
    /// as `w` or empty when [`Rule::slots`] says it is unused). `g` is at least as long as
    /// `w`.
    fn apply(&self, w: &mut [f32], s1: &mut [f32], s2: &mut [f32], g: &[f32]);

    /// [`Rule::apply`] as candle tensor operations on any device, for the graph engine:
    /// the new `w` and state vectors (as many as [`Rule::slots`]) from `w`, the `state`
    /// vectors and the gradient `g`, all of one shape. Written as the same sequence of
    /// f32 operations as `apply`, so on the CPU both give the same values.
    fn apply_tensors(&self, w: &Tensor, state: &[Tensor], g: &Tensor) -> Result<Step>;
}

/// What [`Rule::apply_tensors`] returns: the moved values and the advanced state.
pub struct Step {
    /// The new parameter values.
    pub w: Tensor,
    /// The new state vectors, in slot order.
    pub state: Vec<Tensor>,
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
    /// One per embedding table (fused engine; empty vectors in the graph engine).
    pub(crate) tables: Vec<State>,
    /// One per dense variable (fused engine; empty vectors in the graph engine).
    pub(crate) dense: Vec<State>,
    /// Which table rows a step updates.
    pub(crate) updates: TableUpdates,
    /// State vectors per value.
    slots: usize,
    /// The graph engine's state, on the parameters' device; made by the first step.
    graph: Option<GraphStates>,
}

/// The graph engine's optimiser state: for every table and dense variable, its state
/// vectors as tensors of the parameter's own shape on the parameter's device.
#[derive(Debug, Clone)]
struct GraphStates {
    tables: Vec<Vec<Tensor>>,
    dense: Vec<Vec<Tensor>>,
}

impl GraphStates {
    /// All-zero state with `slots` vectors per parameter.
    fn zeros(params: &Params, slots: usize) -> Result<Self> {
        let zeros = |t: &Tensor| {
            (0..slots)
                .map(|_| t.zeros_like())
                .collect::<Result<Vec<_>>>()
        };
        Ok(GraphStates {
            tables: params
                .tables()
                .iter()
                .map(|t| zeros(&t.weight))
                .collect::<Result<_>>()?,
            dense: params
                .dense_vars()
                .iter()
                .map(|(_, v)| zeros(v.as_tensor()))
                .collect::<Result<_>>()?,
        })
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
    /// dense embedding gradient. O(table) per step, CPU only; a reference for accuracy
    /// checks, not for training.
    Dense,
}

impl States {
    /// All-zero state with `slots` vectors per parameter value: on the host for the
    /// fused engine; for the graph engine the device tensors are made by the first step.
    pub(crate) fn zeros(params: &Params, slots: usize) -> Self {
        // The graph engine keeps no host state: sizes 0 keep the indices and cost nothing.
        let host = |n: usize| match params.engine() {
            Engine::Fused => n,
            Engine::Graph => 0,
        };
        States {
            tables: params
                .tables()
                .iter()
                .map(|t| State::zeros(host(t.weight.elem_count()), t.dim(), slots))
                .collect(),
            dense: params
                .dense_vars()
                .iter()
                .map(|(_, v)| State::zeros(host(v.elem_count()), v.elem_count(), slots))
                .collect(),
            updates: TableUpdates::Lazy,
            slots,
            graph: None,
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
pub struct Penalties {
    /// `l2 · w` added to the gradient of every embedding row a batch reads.
    pub l2: f64,
    /// `weight_decay · w` added to the gradient of every dense variable that [`decays`].
    pub weight_decay: f64,
}

/// Whether weight decay applies to the dense variable `name`: every one except bias
/// vectors, which the models name `…bias` (Keras puts `kernel_regularizer` on kernels
/// only, and decaying a bias towards 0 only shifts the output).
pub fn decays(name: &str) -> bool {
    !name.ends_with("bias")
}

/// An optimiser's hyperparameters as the one lazy optimiser ([`Lazy`]) reads them: the
/// part of Adam, AdaMax and SGD that is not plumbing.
pub trait Hyperparameters: Copy + Send + std::fmt::Debug {
    /// The per-element update.
    type Rule: Rule;

    /// State vectors kept per parameter value (see [`Rule::slots`]).
    fn slots(&self) -> usize;

    /// The update of step `step` (1-based), with its bias corrections.
    fn rule(&self, step: i32) -> Self::Rule;

    /// The L2 penalty on embedding rows and the weight decay on dense variables.
    fn penalties(&self) -> Penalties;

    /// Sets the step size of later steps.
    fn set_learning_rate(&mut self, rate: f64);
}

/// The lazy optimiser: counts steps, owns the state, and runs [`step`] with the rule its
/// hyperparameters give for each step. `Adam`, `Adamax` and `Sgd` are this type.
#[derive(Debug)]
pub struct Lazy<H> {
    config: H,
    /// Steps taken so far.
    step: i32,
    pub(super) states: States,
}

impl<H: Hyperparameters> Lazy<H> {
    /// Optimiser state for `params`, every state vector zero.
    pub fn new(params: &Params, config: H) -> Self {
        Lazy {
            config,
            step: 0,
            states: States::zeros(params, config.slots()),
        }
    }
}

impl<H: Hyperparameters> super::Optimizer for Lazy<H> {
    fn set_table_updates(&mut self, updates: TableUpdates) {
        self.states.updates = updates;
    }

    fn prefetch(&self, tape: &Tape) {
        self.states.prefetch_rows(tape);
    }

    fn set_learning_rate(&mut self, rate: f64) {
        self.config.set_learning_rate(rate);
    }

    fn step(&mut self, params: &Params, tape: &Tape, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let rule = self.config.rule(self.step);
        let penalties = self.config.penalties();
        step(rule, penalties, params, tape, grads, &mut self.states)
    }
}

/// One optimiser step: `rule` applied lazily to the table rows on `tape` and fully to every
/// dense variable that has a gradient in `grads`, by the parameters' engine.
pub(crate) fn step<R: Rule>(
    rule: R,
    penalties: Penalties,
    params: &Params,
    tape: &Tape,
    grads: &GradStore,
    states: &mut States,
) -> Result<()> {
    match params.engine() {
        Engine::Fused => step_fused(rule, penalties, params, tape, grads, states),
        Engine::Graph => step_graph(rule, penalties, params, tape, grads, states),
    }
}

/// [`step`] in the fused engine: in-place ops over the CPU storage.
fn step_fused<R: Rule>(
    rule: R,
    penalties: Penalties,
    params: &Params,
    tape: &Tape,
    grads: &GradStore,
    states: &mut States,
) -> Result<()> {
    let updates = states.updates;
    for gathered in &tape.entries {
        let Some(grad) = gathered.grad(grads)? else {
            continue;
        };
        let (table, state) = table_and_state::<R, _>(params, &mut states.tables, gathered)?;
        let op = RowsOp {
            rows: RowRule::for_table(rule, penalties, table),
            updates,
            state: RefCell::new(state),
        };
        table.weight.inplace_op3(&gathered.ids, &grad, &op)?;
    }
    for ((name, var), state) in params.dense_vars().iter().zip(&mut states.dense) {
        let Some(grad) = grads.get(var.as_tensor()) else {
            continue;
        };
        let op = DenseOp {
            rule,
            weight_decay: weight_decay(penalties, name),
            state: RefCell::new(state),
        };
        var.as_tensor().inplace_op2(grad, &op)?;
    }
    Ok(())
}

/// The table `gathered` read and its optimiser state (either engine's), or an error
/// naming the rule when the tape refers to a table these parameters do not have.
fn table_and_state<'a, R: Rule, S>(
    params: &'a Params,
    states: &'a mut [S],
    gathered: &crate::engine::params::Gathered,
) -> Result<(&'a crate::engine::params::EmbeddingTable, &'a mut S)> {
    match (
        params.tables().get(gathered.table.0),
        states.get_mut(gathered.table.0),
    ) {
        (Some(table), Some(state)) => Ok((table, state)),
        _ => bail!("{}: no table {}", R::NAME, gathered.table.0),
    }
}

/// The weight decay of dense variable `name` (0 for biases, see [`decays`]).
fn weight_decay(penalties: Penalties, name: &str) -> f32 {
    if decays(name) {
        penalties.weight_decay as f32
    } else {
        0.0
    }
}

/// [`step`] in the graph engine: candle tensor operations on the parameters' device.
fn step_graph<R: Rule>(
    rule: R,
    penalties: Penalties,
    params: &Params,
    tape: &Tape,
    grads: &GradStore,
    states: &mut States,
) -> Result<()> {
    if states.updates == TableUpdates::Dense {
        bail!(
            "{}: dense table updates are a fused-engine reference",
            R::NAME
        );
    }
    let graph = match &mut states.graph {
        Some(graph) => graph,
        empty => empty.insert(GraphStates::zeros(params, states.slots)?),
    };
    for gathered in &tape.entries {
        let Some(grad) = gathered.grad(grads)? else {
            continue;
        };
        let (table, state) = table_and_state::<R, _>(params, &mut graph.tables, gathered)?;
        let rows = RowRule::for_table(rule, penalties, table);
        rows.apply_on_device(&table.weight, &gathered.ids, &grad, state)?;
    }
    for ((name, var), state) in params.dense_vars().iter().zip(&mut graph.dense) {
        let Some(grad) = grads.get(var.as_tensor()) else {
            continue;
        };
        // Detached: the new weights and state must not hold this step's graph (the
        // variable and its gradient are tracked tensors), or every step would keep the
        // one before it alive.
        let (w, grad) = (var.as_tensor().detach(), grad.detach());
        let decay = weight_decay(penalties, name);
        let g = if decay == 0.0 {
            grad
        } else {
            (grad + w.affine(f64::from(decay), 0.0)?)?
        };
        let step = rule.apply_tensors(&w, state, &g)?;
        var.set(&step.w)?;
        *state = step.state;
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
    /// `rule` with `table`'s L2 penalty and frozen column.
    fn for_table(
        rule: R,
        penalties: Penalties,
        table: &crate::engine::params::EmbeddingTable,
    ) -> Self {
        RowRule {
            rule,
            l2: (penalties.l2 * table.l2_scale) as f32,
            frozen_column: table.frozen_column,
        }
    }

    /// Moves one row `w` (with its state rows `s1`, `s2`) by its summed gradient `g`,
    /// after adding `l2 · w` and zeroing the frozen column's gradient.
    #[inline]
    fn apply(&self, w: &mut [f32], s1: &mut [f32], s2: &mut [f32], g: &mut [f32]) {
        self.penalise(w, g);
        self.rule.apply(w, s1, s2, g);
    }

    /// The graph engine's row update of `weight` (`rows × dim`, on any device) from the
    /// gradient `grad` (`(B, dim)`) of its rows `ids` (`(B,)`, may repeat), with `state`
    /// the rule's state vectors of the whole table. Like the fused update: each distinct
    /// row moves once by its summed gradient (summed in batch order), `l2 · w` added and
    /// the frozen column's gradient zeroed; other rows and their state do not change.
    fn apply_on_device(
        &self,
        weight: &Tensor,
        ids: &Tensor,
        grad: &Tensor,
        state: &mut [Tensor],
    ) -> Result<()> {
        let (n, dim) = weight.dims2()?;
        let device = weight.device();
        // The ids, not the rows, are read on the host: grouping repeated rows needs them.
        let ids: Vec<u32> = ids.flatten_all()?.to_vec1()?;
        if let Some(&bad) = ids.iter().find(|&&r| r as usize >= n) {
            bail!("{}: row {bad} is outside the table", R::NAME);
        }
        let (distinct, slot_of_position) = group_rows(&ids);
        let m = distinct.len();
        let rows = Tensor::from_vec(distinct.clone(), m, device)?;
        let slots = Tensor::from_vec(slot_of_position, ids.len(), device)?;
        let summed =
            Tensor::zeros((m, dim), DType::F32, device)?.index_add(&slots, &grad.detach(), 0)?;
        let w = weight.detach().index_select(&rows, 0)?;
        let mut g = if self.l2 == 0.0 {
            summed
        } else {
            (summed + w.affine(f64::from(self.l2), 0.0)?)?
        };
        if let Some(column) = self.frozen_column.filter(|&c| c < dim) {
            let mut keep = vec![1.0f32; dim];
            keep[column] = 0.0;
            g = g.broadcast_mul(&Tensor::from_vec(keep, (1, dim), device)?)?;
        }
        let old: Vec<Tensor> = state
            .iter()
            .map(|s| s.index_select(&rows, 0))
            .collect::<Result<_>>()?;
        let step = self.rule.apply_tensors(&w, &old, &g)?;
        let targets: Vec<u32> = distinct
            .iter()
            .flat_map(|&row| std::iter::repeat_n(row, dim))
            .collect();
        let targets = Tensor::from_vec(targets, (m, dim), device)?;
        weight.scatter_set(&targets, &step.w, 0)?;
        for (whole, rows) in state.iter().zip(&step.state) {
            whole.scatter_set(&targets, rows, 0)?;
        }
        Ok(())
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

/// The distinct rows of `ids` in first-read order, and for each position of `ids` the
/// place of its row among them.
fn group_rows(ids: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let mut place = std::collections::HashMap::with_capacity(ids.len());
    let mut distinct = Vec::with_capacity(ids.len());
    let slots = ids
        .iter()
        .map(|&row| {
            *place.entry(row).or_insert_with(|| {
                distinct.push(row);
                distinct.len() as u32 - 1
            })
        })
        .collect();
    (distinct, slots)
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

    use crate::engine::optim::Optimizer;
    use crate::engine::params::TableId;
    use crate::engine::params::{Init, Params, Tape};

    /// Three steps on a 5×3 table (rows read twice in one batch, column 2 frozen at 1) and
    /// a 2×3 dense weight on `engine`, each step's gradients of `Σ (rows · Wᵀ)²` handed to
    /// `update`. Returns the table's and the weight's values afterwards, in that order.
    pub(crate) fn three_steps_on_a_frozen_table(
        engine: crate::engine::Engine,
        mut update: impl FnMut(&Params, &Tape, &candle_core::backprop::GradStore),
    ) -> Vec<f32> {
        let dev = &Device::Cpu;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut params = Params::new(dev, engine);
        let table = params
            .table("t", 5, 3, Init::Normal { std: 1.0 }, &mut rng)
            .unwrap();
        params.freeze_column(table, 2, 1.0).unwrap();
        let dense = params
            .dense("layer.weight", &[2, 3], Init::Normal { std: 1.0 }, &mut rng)
            .unwrap();
        for ids in [[0u32, 3, 3, 1], [4, 4, 4, 0], [2, 1, 3, 0]] {
            let mut tape = Tape::recording();
            let ids = Tensor::new(&ids, dev).unwrap();
            let rows = params.gather(table, &ids, &mut tape).unwrap();
            let x = rows.matmul(&dense.t().unwrap()).unwrap();
            let loss = x.sqr().unwrap().sum_all().unwrap();
            update(&params, &tape, &loss.backward().unwrap());
        }
        let t = params.tables()[table.0].weight.flatten_all().unwrap();
        let mut values: Vec<f32> = t.to_vec1().unwrap();
        values.extend(dense.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        values
    }

    /// Params with one `rows × dim` table holding `values` (row-major).
    pub(crate) fn one_table(values: &[f32], rows: usize, dim: usize) -> (Params, TableId) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut params = Params::new(&Device::Cpu, crate::engine::Engine::Fused);
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

        fn apply_tensors(&self, w: &Tensor, state: &[Tensor], g: &Tensor) -> Result<Step> {
            let m = (state[0].affine(0.9, 0.0)? + g)?;
            let w = (w - m.affine(f64::from(0.1f32), 0.0)?)?;
            Ok(Step { w, state: vec![m] })
        }
    }

    /// Three steps of `Momentum` on the frozen-table problem by the given engine: the
    /// table's values, then the dense weight's.
    fn three_steps(engine: Engine) -> Vec<f32> {
        let mut states = None;
        let penalties = Penalties {
            l2: 0.01,
            weight_decay: 0.02,
        };
        let values = testing::three_steps_on_a_frozen_table(engine, |params, tape, grads| {
            let states = states.get_or_insert_with(|| States::zeros(params, 1));
            step(Momentum, penalties, params, tape, grads, states).unwrap();
        });
        if let Some(graph) = states.and_then(|s| s.graph) {
            // The state must not keep a step's graph alive: a tracked state tensor holds
            // every earlier step's activations, which ran a two-tower run out of memory.
            let kept: Vec<Tensor> = graph
                .tables
                .into_iter()
                .chain(graph.dense)
                .flatten()
                .collect();
            assert!(!kept.is_empty());
            assert!(
                kept.iter().all(|s| !s.track_op()),
                "a state tensor holds a graph"
            );
        }
        values
    }

    #[test]
    fn the_graph_engines_update_matches_the_fused_one() {
        let fused = three_steps(Engine::Fused);
        let graph = three_steps(Engine::Graph);
        testing::assert_close(&graph, &fused, 1e-6);
        // The frozen column kept its constant in every row, read or not.
        for row in 0..5 {
            assert_eq!(fused[row * 3 + 2], 1.0);
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
