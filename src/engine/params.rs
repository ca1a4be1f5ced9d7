//! A model's trainable parameters: embedding tables (updated row by row) and dense
//! variables (updated whole), plus the tape that records which rows a batch read.

use candle_core::{CpuStorage, DType, Device, Result, Tensor, Var};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use super::Engine;
use super::alloc;
use crate::config::spec::InitSpec;

/// How a parameter's initial values are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Every value the same constant.
    Constant(f32),
    /// Normal(mean 0, standard deviation `std`).
    Normal {
        /// Standard deviation.
        std: f32,
    },
    /// Uniform on `[-limit, limit]`.
    Uniform {
        /// Half-width of the interval.
        limit: f32,
    },
    /// Keras's `he_normal`: standard deviation `√(2 / fan_in)`, drawn as Keras draws it
    /// from a normal truncated at two of its standard deviations and widened by
    /// 1/0.8796 so that the truncated values still have standard deviation `√(2 / fan_in)`.
    HeNormal {
        /// Inputs per output unit: `in` for a dense weight, the number of **rows** for an
        /// embedding table (see [`Init::from_spec`]).
        fan_in: usize,
    },
}

/// Standard deviation of a standard normal truncated to [−2, 2] (Keras's correction).
const TRUNCATED_NORMAL_STD: f32 = 0.879_625_7;

impl Init {
    /// Keras's `he_normal` for a weight with `fan_in` inputs per unit.
    pub fn he_normal(fan_in: usize) -> Init {
        Init::HeNormal { fan_in }
    }

    /// Keras's `glorot_uniform` (its default for dense kernels): Uniform(±√(6 / (fan_in +
    /// fan_out))).
    pub fn glorot_uniform(fan_in: usize, fan_out: usize) -> Init {
        let limit = (6.0 / (fan_in + fan_out).max(1) as f32).sqrt();
        Init::Uniform { limit }
    }

    /// The initialiser `model.init` asks for, for a parameter with `fan_in` inputs per
    /// unit; `default` (the architecture's own) when the key is absent.
    ///
    /// Fans follow Keras, which computes them from the weight's shape: a dense kernel
    /// `(in, out)` has `fan_in = in`, and an `Embedding`'s `(input_dim, output_dim)` weight
    /// is treated the same way, so an embedding table's fan-in is its number of **rows**.
    /// He-normal embeddings therefore get σ = √(2 / rows): 0.046 for ML-100K's 943 users,
    /// 0.034 for its 1 682 items, but only 0.0045 for a table of 100 000 rows — tiny
    /// starting vectors for big tables. That is what the notebooks trained, so exp does
    /// the same; pick `normal` or `uniform` with an explicit scale to avoid it.
    pub fn from_spec(spec: Option<InitSpec>, fan_in: usize, default: Init) -> Init {
        match spec {
            None => default,
            Some(InitSpec::HeNormal) => Init::HeNormal { fan_in },
            Some(InitSpec::Normal { std }) => Init::Normal { std: std as f32 },
            Some(InitSpec::Uniform { limit }) => Init::Uniform {
                limit: limit as f32,
            },
        }
    }

    /// `n` values drawn from this distribution with `rng` (seeded by the caller, so a run is
    /// reproducible whatever the device).
    pub fn sample(self, n: usize, rng: &mut impl Rng) -> Vec<f32> {
        let mut out = Vec::with_capacity(n);
        self.extend(&mut out, n, rng);
        out
    }

    /// Appends `n` values drawn as [`Init::sample`] draws them to `out`, which callers
    /// reserve fallibly beforehand (see [`super::alloc`]).
    pub fn extend(self, out: &mut Vec<f32>, n: usize, rng: &mut impl Rng) {
        let zeros = |out: &mut Vec<f32>| out.extend(std::iter::repeat_n(0.0, n));
        match self {
            Init::Constant(c) => out.extend(std::iter::repeat_n(c, n)),
            Init::Normal { std } => match Normal::new(0.0, std) {
                Ok(dist) => out.extend(dist.sample_iter(rng).take(n)),
                Err(_) => zeros(out),
            },
            Init::Uniform { limit } => match Uniform::new_inclusive(-limit, limit) {
                Ok(dist) => out.extend(dist.sample_iter(rng).take(n)),
                Err(_) => zeros(out),
            },
            Init::HeNormal { fan_in } => {
                let std = (2.0 / fan_in.max(1) as f32).sqrt() / TRUNCATED_NORMAL_STD;
                let Ok(dist) = Normal::new(0.0, std) else {
                    return zeros(out);
                };
                let end = out.len() + n;
                while out.len() < end {
                    // Redraw beyond two standard deviations (accepts 95% of draws).
                    let x: f32 = dist.sample(rng);
                    if x.abs() <= 2.0 * std {
                        out.push(x);
                    }
                }
            }
        }
    }
}

/// A minibatch of (user, item) pairs on the parameters' device: what a model reads its
/// rows for.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Dense user ids, `(batch,)` u32.
    pub users: Tensor,
    /// Dense item ids, `(batch,)` u32.
    pub items: Tensor,
}

/// Index of an embedding table inside its [`Params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableId(pub usize);

/// An embedding table: `rows × dim` values, read a few rows per batch and updated only at
/// those rows, so a training step costs O(batch × dim), not O(rows × dim).
#[derive(Debug)]
pub struct EmbeddingTable {
    /// Name used in checkpoints, e.g. `user_factors`.
    pub name: String,
    /// The values, `(rows, dim)`, contiguous. Never a `Var`: gradients are taken with
    /// respect to the gathered rows instead (see [`Tape`]).
    pub weight: Tensor,
    /// A column the optimiser never changes (see [`Params::freeze_column`]).
    pub frozen_column: Option<usize>,
    /// This table's L2 penalty as a multiple of `training.l2`: 1 except where a model
    /// says otherwise (see [`Params::scale_l2`]).
    pub l2_scale: f64,
}

impl EmbeddingTable {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.weight.dims()[1]
    }
}

/// A model's parameters. Models register tables and dense variables at construction and
/// keep the returned handles.
#[derive(Debug)]
pub struct Params {
    device: Device,
    engine: Engine,
    tables: Vec<EmbeddingTable>,
    dense: Vec<(String, Var)>,
}

impl Params {
    /// An empty set of parameters living on `device`, computed by `engine` (the fused
    /// engine exists for the CPU only: on another device it becomes the graph engine).
    pub fn new(device: &Device, engine: Engine) -> Self {
        let engine = if device.is_cpu() {
            engine
        } else {
            Engine::Graph
        };
        Params {
            device: device.clone(),
            engine,
            tables: Vec::new(),
            dense: Vec::new(),
        }
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// How steps on these parameters are computed: the one place models, layers and the
    /// optimiser ask whether to take exp's fused CPU kernels or candle's graph.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Registers a `rows × dim` embedding table initialised by `init`.
    pub fn table(
        &mut self,
        name: &str,
        rows: usize,
        dim: usize,
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<TableId> {
        let n = alloc::elements(name, &[rows, dim])?;
        let mut values = alloc::vec_with_capacity(name, n)?;
        init.extend(&mut values, n, rng);
        let weight = Tensor::from_vec(values, (rows, dim), &self.device)?;
        self.tables.push(EmbeddingTable {
            name: name.to_owned(),
            weight,
            frozen_column: None,
            l2_scale: 1.0,
        });
        Ok(TableId(self.tables.len() - 1))
    }

    /// Sets column `column` of table `id` to `value` in every row and keeps it there: the
    /// optimiser neither moves it nor applies L2 to it.
    ///
    /// This is the classic bias trick: with a constant-1 column in the item table, the
    /// matching column of the user table acts as a user bias inside the dot product, so a
    /// biased model costs one gather per side instead of three.
    pub fn freeze_column(&mut self, id: TableId, column: usize, value: f32) -> Result<()> {
        let table = &mut self.tables[id.0];
        let rows = table.rows();
        let constant = Tensor::full(value, (rows, 1), &self.device)?;
        table.weight.slice_set(&constant, 1, column)?;
        table.frozen_column = Some(column);
        Ok(())
    }

    /// Registers the user and item tables of the bias trick, `k` factors plus two
    /// columns each, factors drawn from `init(rows)`: user rows become `[u, b_u, 1]` and
    /// item rows `[v, 1, b_i]` (constant columns frozen, user biases starting at
    /// `user_bias`, item biases at 0), so that one dot product of length k + 2 gives
    /// `u·v + b_u + b_i`. Returns the (users, items) tables.
    pub fn bias_trick_tables(
        &mut self,
        (n_users, n_items): (usize, usize),
        k: usize,
        init: impl Fn(usize) -> Init,
        user_bias: f32,
        rng: &mut impl Rng,
    ) -> Result<(TableId, TableId)> {
        let users = self.table("user_factors_bias_one", n_users, k + 2, init(n_users), rng)?;
        let items = self.table("item_factors_one_bias", n_items, k + 2, init(n_items), rng)?;
        self.fill_column(users, k, user_bias)?;
        self.freeze_column(users, k + 1, 1.0)?;
        self.freeze_column(items, k, 1.0)?;
        self.fill_column(items, k + 1, 0.0)?;
        Ok((users, items))
    }

    /// Penalises table `id`'s rows with `scale · training.l2` instead of `training.l2`
    /// (SVD++'s implicit rows, read by nearly every batch, need a lighter penalty).
    pub fn scale_l2(&mut self, id: TableId, scale: f64) {
        self.tables[id.0].l2_scale = scale;
    }

    /// Sets column `column` of table `id` to `value` in every row (an initialisation).
    pub fn fill_column(&mut self, id: TableId, column: usize, value: f32) -> Result<()> {
        let table = &self.tables[id.0];
        let constant = Tensor::full(value, (table.rows(), 1), &self.device)?;
        table.weight.slice_set(&constant, 1, column)
    }

    /// Registers a dense variable of `shape` initialised by `init`.
    pub fn dense(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<Var> {
        let n = alloc::elements(name, shape)?;
        // The values, then candle's copy of them in the variable.
        alloc::check(name, (n as u128).saturating_mul(8))?;
        let mut values = alloc::vec_with_capacity(name, n)?;
        init.extend(&mut values, n, rng);
        let var = Var::from_tensor(&Tensor::from_vec(values, shape, &self.device)?)?;
        self.dense.push((name.to_owned(), var.clone()));
        Ok(var)
    }

    /// The embedding tables, indexed by [`TableId`].
    pub fn tables(&self) -> &[EmbeddingTable] {
        &self.tables
    }

    /// The dense variables with their names.
    pub fn dense_vars(&self) -> &[(String, Var)] {
        &self.dense
    }

    /// Rows `ids` of table `id`, shape `(ids.len(), dim)`.
    ///
    /// In training (`tape` recording) the rows become a fresh leaf variable and the tape
    /// remembers which rows they were, so that the optimiser can scatter their gradient
    /// back into the table; at evaluation they are a plain tensor.
    pub fn gather(&self, id: TableId, ids: &Tensor, tape: &mut Tape) -> Result<Tensor> {
        let table = &self.tables[id.0].weight;
        if !tape.recording {
            return table.index_select(ids, 0);
        }
        // The gathered rows become a leaf variable. `Var::from_tensor` would copy the
        // result of `index_select` once more; the fused engine copies the rows straight
        // into the variable's own storage instead.
        let fused = match self.engine {
            Engine::Fused => gather_cpu(table, ids)?,
            Engine::Graph => None,
        };
        let leaf = match fused {
            Some(rows) => rows,
            None => Var::from_tensor(&table.index_select(ids, 0)?)?,
        };
        let out = leaf.as_tensor().clone();
        tape.entries.push(Gathered {
            table: id,
            ids: ids.clone(),
            rows: leaf,
            columns: 0..self.tables[id.0].dim(),
        });
        Ok(out)
    }

    /// `cat([table_a[ids_a], table_b[ids_b]], 1)`: the rows of two tables side by side,
    /// shape `(B, dim_a + dim_b)`, as the neural models feed them to their first layer.
    ///
    /// The fused engine copies the rows straight into one leaf variable, and the tape
    /// records each table's column range of it; candle's concatenation would add a graph
    /// node and, backward, a zero tensor and an add per table. The graph engine does two
    /// [`Params::gather`]s and a concatenation.
    pub fn gather_pair(
        &self,
        (a, ids_a): (TableId, &Tensor),
        (b, ids_b): (TableId, &Tensor),
        tape: &mut Tape,
    ) -> Result<Tensor> {
        let (ta, tb) = (&self.tables[a.0].weight, &self.tables[b.0].weight);
        let fused = match self.engine {
            Engine::Fused => gather_pair_cpu((ta, ids_a), (tb, ids_b))?,
            Engine::Graph => None,
        };
        let Some(values) = fused else {
            let rows_a = self.gather(a, ids_a, tape)?;
            let rows_b = self.gather(b, ids_b, tape)?;
            return Tensor::cat(&[rows_a, rows_b], 1);
        };
        let (da, db) = (self.tables[a.0].dim(), self.tables[b.0].dim());
        let shape = (ids_a.elem_count(), da + db);
        if !tape.recording {
            return Tensor::from_vec(values, shape, &self.device);
        }
        let leaf = Var::from_vec(values, shape, &self.device)?;
        for (table, ids, columns) in [(a, ids_a, 0..da), (b, ids_b, da..da + db)] {
            tape.entries.push(Gathered {
                table,
                ids: ids.clone(),
                rows: leaf.clone(),
                columns,
            });
        }
        Ok(leaf.as_tensor().clone())
    }

    /// Every parameter as a named tensor (tables and dense variables), for checkpoints.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let tables = self
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.weight.clone()));
        let dense = self
            .dense
            .iter()
            .map(|(name, var)| (name.clone(), var.as_tensor().clone()));
        tables.chain(dense).collect()
    }

    /// A copy of every parameter's current values (for restoring the best epoch).
    pub fn snapshot(&self) -> Result<Vec<Tensor>> {
        self.named_tensors().iter().map(|(_, t)| t.copy()).collect()
    }

    /// Puts back the values of a [`Params::snapshot`] of these parameters.
    pub fn restore(&self, snapshot: &[Tensor]) -> Result<()> {
        let targets = self
            .tables
            .iter()
            .map(|t| &t.weight)
            .chain(self.dense.iter().map(|(_, v)| v.as_tensor()));
        for (target, saved) in targets.zip(snapshot) {
            target.slice_set(saved, 0, 0)?;
        }
        Ok(())
    }

    /// Writes every parameter to a safetensors file, tables and dense variables by name,
    /// plus `extra` tensors (derived outputs a model wants kept, such as item vectors).
    /// The file is written beside `path` and renamed over it ([`crate::output::Staged`]),
    /// so a link at `path` is refused, never written through.
    pub fn save(&self, path: &std::path::Path, extra: Vec<(String, Tensor)>) -> Result<()> {
        let tensors: std::collections::HashMap<String, Tensor> =
            self.named_tensors().into_iter().chain(extra).collect();
        let staged = crate::output::Staged::new(path).map_err(candle_core::Error::wrap)?;
        candle_core::safetensors::save(&tensors, staged.path())?;
        staged.commit().map_err(candle_core::Error::wrap)
    }

    /// Overwrites every table and dense variable with the tensor of the same name in the
    /// safetensors file at `path`, as written by [`Params::save`] for a model of the same
    /// configuration. Extra tensors in the file (derived outputs such as item vectors)
    /// are ignored; a missing name or a different shape is an error naming both.
    pub fn load(&self, path: &std::path::Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| {
            candle_core::Error::msg(format!("cannot read checkpoint {}: {e}", path.display()))
        })?;
        self.load_bytes(&bytes, path)
    }

    /// [`Params::load`] from the bytes of a checkpoint already read (and checked) by the
    /// caller; `path` names the file in errors, a damaged file among them.
    pub fn load_bytes(&self, bytes: &[u8], path: &std::path::Path) -> Result<()> {
        let saved = candle_core::safetensors::load_buffer(bytes, &self.device).map_err(|e| {
            candle_core::Error::msg(format!(
                "{}: not a readable safetensors checkpoint: {e}",
                path.display()
            ))
        })?;
        let find = |name: &str, dims: &[usize]| -> Result<Tensor> {
            let Some(tensor) = saved.get(name) else {
                candle_core::bail!("{}: no tensor named `{name}`", path.display())
            };
            if tensor.dims() != dims {
                candle_core::bail!(
                    "{}: tensor `{name}` has shape {:?}, the model expects {dims:?}",
                    path.display(),
                    tensor.dims()
                )
            }
            tensor.to_dtype(DType::F32)
        };
        for table in &self.tables {
            let values = find(&table.name, table.weight.dims())?;
            table.weight.slice_set(&values, 0, 0)?;
        }
        for (name, var) in &self.dense {
            var.set(&find(name, var.dims())?)?;
        }
        Ok(())
    }

    /// The dot product of each row `ids` of table `left` with every row of table `right`:
    /// one matrix product, the block scoring of the factor models.
    ///
    /// # Shapes
    /// `ids`: `(U,)` u32 → `(U, right.rows())`.
    pub fn dot_all(&self, left: TableId, ids: &Tensor, right: TableId) -> Result<Tensor> {
        let rows = self.tables[left.0].weight.index_select(ids, 0)?;
        rows.matmul(&self.tables[right.0].weight.t()?)
    }

    /// Total number of scalar parameters.
    pub fn count(&self) -> usize {
        self.named_tensors()
            .iter()
            .map(|(_, t)| t.elem_count())
            .sum()
    }

    /// A dtype sanity check used by the optimisers: all parameters are f32.
    pub fn dtype(&self) -> DType {
        DType::F32
    }
}

/// Rows read from one table during a training forward pass.
#[derive(Debug)]
pub struct Gathered {
    /// Which table.
    pub table: TableId,
    /// The row ids read, `(batch,)` u32 — may repeat.
    pub ids: Tensor,
    /// The gathered rows as a leaf variable; its gradient is the table's sparse gradient.
    pub rows: Var,
    /// The columns of `rows` that hold this table's values: all of them, unless two
    /// tables were gathered side by side ([`Params::gather_pair`]).
    pub columns: std::ops::Range<usize>,
}

impl Gathered {
    /// The gradient of this table's rows in `grads`, `(batch, dim)` and contiguous, or
    /// `None` when the loss did not depend on them.
    pub fn grad(&self, grads: &candle_core::backprop::GradStore) -> Result<Option<Tensor>> {
        let Some(grad) = grads.get(self.rows.as_tensor()) else {
            return Ok(None);
        };
        if self.columns.start == 0 && self.columns.end == grad.dim(1)? {
            return Ok(Some(grad.clone()));
        }
        let narrow = grad.narrow(1, self.columns.start, self.columns.len())?;
        narrow.contiguous().map(Some)
    }
}

/// The row values of [`Params::gather_pair`], row-major, for contiguous CPU f32 tables and
/// contiguous u32 ids of equal length; `None` otherwise.
fn gather_pair_cpu(
    (ta, ids_a): (&Tensor, &Tensor),
    (tb, ids_b): (&Tensor, &Tensor),
) -> Result<Option<Vec<f32>>> {
    use candle_core::{Storage, bail};
    // CPU storage is checked below, where the values are read.
    let ((&[rows_a, da], &[rows_b, db]), true) = (
        (ta.dims(), tb.dims()),
        ids_a.rank() == 1 && ids_a.dims() == ids_b.dims(),
    ) else {
        return Ok(None);
    };
    let (sa, la) = ta.storage_and_layout();
    let (sb, lb) = tb.storage_and_layout();
    let (si, li) = ids_a.storage_and_layout();
    let (sj, lj) = ids_b.storage_and_layout();
    let (
        Storage::Cpu(CpuStorage::F32(va)),
        Storage::Cpu(CpuStorage::F32(vb)),
        Storage::Cpu(CpuStorage::U32(ia)),
        Storage::Cpu(CpuStorage::U32(ib)),
    ) = (&*sa, &*sb, &*si, &*sj)
    else {
        return Ok(None);
    };
    let (Some((a0, a1)), Some((b0, b1)), Some((i0, i1)), Some((j0, j1))) = (
        la.contiguous_offsets(),
        lb.contiguous_offsets(),
        li.contiguous_offsets(),
        lj.contiguous_offsets(),
    ) else {
        return Ok(None);
    };
    let (va, vb, ia, ib) = (&va[a0..a1], &vb[b0..b1], &ia[i0..i1], &ib[j0..j1]);
    let mut out = Vec::with_capacity(ia.len() * (da + db));
    for (n, (&i, &j)) in ia.iter().zip(ib).enumerate() {
        if let (Some(&i), Some(&j)) = (
            ia.get(n + GATHER_PREFETCH_AHEAD),
            ib.get(n + GATHER_PREFETCH_AHEAD),
        ) {
            let (i, j) = (i as usize, j as usize);
            crate::engine::kernels::prefetch(va.get(i * da..(i + 1) * da).unwrap_or_default());
            crate::engine::kernels::prefetch(vb.get(j * db..(j + 1) * db).unwrap_or_default());
        }
        let (i, j) = (i as usize, j as usize);
        if i >= rows_a || j >= rows_b {
            bail!("gather: row {i} or {j} is outside tables of {rows_a} and {rows_b} rows");
        }
        out.extend_from_slice(&va[i * da..(i + 1) * da]);
        out.extend_from_slice(&vb[j * db..(j + 1) * db]);
    }
    Ok(Some(out))
}

/// How many rows ahead the CPU gathers prefetch (rows of a large table are cache misses).
const GATHER_PREFETCH_AHEAD: usize = 8;

/// `table[ids]` as a new variable, copied once, for a contiguous CPU f32 table and u32 ids;
/// `None` otherwise (the caller falls back to candle's `index_select`).
fn gather_cpu(table: &Tensor, ids: &Tensor) -> Result<Option<Var>> {
    use candle_core::{Storage, bail};
    let (&[rows, dim], true) = (table.dims(), ids.rank() == 1) else {
        return Ok(None);
    };
    let (table_storage, table_layout) = table.storage_and_layout();
    let (ids_storage, ids_layout) = ids.storage_and_layout();
    let (
        Storage::Cpu(CpuStorage::F32(values)),
        Storage::Cpu(CpuStorage::U32(ids)),
        Some((t0, t1)),
        Some((i0, i1)),
    ) = (
        &*table_storage,
        &*ids_storage,
        table_layout.contiguous_offsets(),
        ids_layout.contiguous_offsets(),
    )
    else {
        return Ok(None);
    };
    let (values, ids) = (&values[t0..t1], &ids[i0..i1]);
    let mut out = Vec::with_capacity(ids.len() * dim);
    for (i, &id) in ids.iter().enumerate() {
        if let Some(&ahead) = ids.get(i + GATHER_PREFETCH_AHEAD) {
            let ahead = ahead as usize * dim..(ahead as usize + 1) * dim;
            crate::engine::kernels::prefetch(values.get(ahead).unwrap_or_default());
        }
        let id = id as usize;
        if id >= rows {
            bail!("gather: row {id} is outside a table of {rows} rows");
        }
        out.extend_from_slice(&values[id * dim..(id + 1) * dim]);
    }
    Var::from_vec(out, (ids.len(), dim), table.device()).map(Some)
}

/// Records the embedding rows a forward pass read, when training, and carries the seeded
/// generator that train-only randomness (dropout masks) draws from, so a run with dropout
/// repeats exactly for its seed.
#[derive(Debug, Default)]
pub struct Tape {
    recording: bool,
    /// What was gathered, in order.
    pub entries: Vec<Gathered>,
    rng: std::cell::RefCell<Option<rand_xoshiro::Xoshiro256PlusPlus>>,
}

impl Tape {
    /// A recording (training) tape whose dropout masks come from `seed`.
    pub fn recording_seeded(seed: u64) -> Self {
        Tape {
            recording: true,
            entries: Vec::new(),
            rng: std::cell::RefCell::new(Some(rand::SeedableRng::seed_from_u64(seed))),
        }
    }

    /// A recording (training) tape with a fresh seed each time (for tests and one-off
    /// steps; the training loop uses [`Tape::recording_seeded`]).
    pub fn recording() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Tape::recording_seeded(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// `n` inverted-dropout mask values: 0 with probability `p`, else 1/(1 − p).
    ///
    /// Each 64-bit draw decides four values: a value is dropped when its 16-bit quarter
    /// is below `round(p · 2¹⁶)`, so `p` is honoured to within 1/131072 (0.05 becomes
    /// 0.050003). Masks are drawn for every batch of a neural model, and a floating-point
    /// draw per value from a cryptographic generator cost a third of an NCF epoch.
    pub fn dropout_mask(&self, n: usize, p: f64) -> Vec<f32> {
        use rand::RngCore;
        let scale = (1.0 / (1.0 - p)) as f32;
        // p ∈ [0, 1): the threshold is in 0..=65536 and compares with a 16-bit quarter.
        let threshold = (p * 65_536.0).round() as u64;
        // Branch-free: at p = 0.5 a branch per value mispredicts half the time.
        let keep = |quarter: u64| scale * f32::from(u8::from(quarter >= threshold));
        let mut cell = self.rng.borrow_mut();
        // A local copy keeps the generator's state in registers through the loop.
        let mut rng = cell
            .get_or_insert_with(|| rand::SeedableRng::seed_from_u64(0))
            .clone();
        let mut mask = vec![0.0f32; n];
        for quad in mask.chunks_mut(4) {
            let bits = rng.next_u64();
            for (k, m) in quad.iter_mut().enumerate() {
                *m = keep((bits >> (16 * k)) & 0xffff);
            }
        }
        *cell = Some(rng);
        mask
    }

    /// A tape that records nothing (evaluation).
    pub fn off() -> Self {
        Tape::default()
    }

    /// True when training: dropout and other train-only behaviour should be active.
    pub fn is_training(&self) -> bool {
        self.recording
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn he_normal_has_the_keras_standard_deviation_and_no_tail() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let x = Init::he_normal(50).sample(200_000, &mut rng);
        // σ = √(2 / 50) = 0.2; truncation at 2 · 0.2 / 0.879626 = 0.454739.
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 0.002, "mean {mean}");
        assert!((std - 0.2).abs() < 0.002, "std {std}");
        assert!(x.iter().all(|v| v.abs() <= 0.454_74), "truncated");
    }

    #[test]
    fn a_damaged_or_unreadable_checkpoint_is_named_in_the_error() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut params = Params::new(&Device::Cpu, crate::engine::Engine::Fused);
        params
            .table("a", 5, 3, Init::he_normal(5), &mut rng)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.safetensors");
        params.save(&path, Vec::new()).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        // A header length far past the file (`header too large`), then a file cut short
        // (`incomplete metadata`), then no file at all.
        bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        let huge = dir.path().join("huge.safetensors");
        std::fs::write(&huge, &bytes).unwrap();
        let short = dir.path().join("short.safetensors");
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&short, &whole[..whole.len() - 4]).unwrap();
        for file in [huge, short, dir.path().join("gone.safetensors")] {
            let error = params.load(&file).unwrap_err().to_string();
            assert!(error.contains(&file.display().to_string()), "{error}");
        }
        params.load(&path).expect("the intact file loads");
    }

    #[test]
    fn gather_pair_is_two_gathers_side_by_side_with_a_gradient_per_table() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut params = Params::new(&Device::Cpu, crate::engine::Engine::Fused);
        let a = params
            .table("a", 5, 3, Init::he_normal(5), &mut rng)
            .unwrap();
        let b = params
            .table("b", 4, 2, Init::he_normal(4), &mut rng)
            .unwrap();
        let ids_a = Tensor::new(&[4u32, 0, 4], &Device::Cpu).unwrap();
        let ids_b = Tensor::new(&[1u32, 3, 2], &Device::Cpu).unwrap();
        let mut tape = Tape::recording();
        let x = params
            .gather_pair((a, &ids_a), (b, &ids_b), &mut tape)
            .unwrap();
        let want = Tensor::cat(
            &[
                params.gather(a, &ids_a, &mut Tape::off()).unwrap(),
                params.gather(b, &ids_b, &mut Tape::off()).unwrap(),
            ],
            1,
        )
        .unwrap();
        assert_eq!(x.to_vec2::<f32>().unwrap(), want.to_vec2::<f32>().unwrap());
        let eval = params
            .gather_pair((a, &ids_a), (b, &ids_b), &mut Tape::off())
            .unwrap();
        assert_eq!(
            eval.to_vec2::<f32>().unwrap(),
            want.to_vec2::<f32>().unwrap()
        );
        // Loss Σ c ⊙ x with c[r][j] = 10r + j: table a's gradient is columns 0..3 of c,
        // table b's columns 3..5.
        let c: Vec<f32> = (0..3)
            .flat_map(|r| (0..5).map(move |j| (10 * r + j) as f32))
            .collect();
        let c = Tensor::from_vec(c, (3, 5), &Device::Cpu).unwrap();
        let grads = (&x * &c).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(tape.entries.len(), 2);
        let grad = |i: usize| -> Vec<Vec<f32>> {
            let g = tape.entries[i].grad(&grads).unwrap().expect("a gradient");
            assert!(g.is_contiguous());
            g.to_vec2().unwrap()
        };
        assert_eq!(
            grad(0),
            [[0.0, 1.0, 2.0], [10.0, 11.0, 12.0], [20.0, 21.0, 22.0]]
        );
        assert_eq!(grad(1), [[3.0, 4.0], [13.0, 14.0], [23.0, 24.0]]);
        assert_eq!((tape.entries[0].table, tape.entries[1].table), (a, b));
    }

    #[test]
    fn init_spec_maps_to_an_init_for_the_given_fan_in() {
        let default = Init::Constant(0.5);
        assert_eq!(Init::from_spec(None, 943, default), default);
        assert_eq!(
            Init::from_spec(Some(InitSpec::HeNormal), 943, default),
            Init::HeNormal { fan_in: 943 }
        );
        assert_eq!(
            Init::from_spec(Some(InitSpec::Normal { std: 0.25 }), 943, default),
            Init::Normal { std: 0.25 }
        );
        assert_eq!(
            Init::from_spec(Some(InitSpec::Uniform { limit: 0.05 }), 943, default),
            Init::Uniform { limit: 0.05 }
        );
        // Glorot for a 10 → 1 kernel: √(6 / 11) = 0.738549.
        let Init::Uniform { limit } = Init::glorot_uniform(10, 1) else {
            panic!("uniform");
        };
        assert!((limit - 0.738_549).abs() < 1e-6);
    }
}
