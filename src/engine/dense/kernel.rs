//! The dense layers of NCF and MLP as fused operations: each layer is one graph node
//! forward and one backward, with its dropout masks, bias and activation inside.
//!
//! At batch 64 these models do almost no arithmetic; a step costs candle's per-operation
//! overhead. Written with generic operations a hidden layer is a transpose, a matrix
//! product, a bias add, a ReLU and a dropout multiply, and the embeddings' concatenation
//! and dropout add two more. Every node allocates its result, and backward every input
//! of every node gets a zero tensor plus an add into the gradient store (the mask
//! multiply even computes a gradient for the mask). Here:
//!
//! - [`linear_relu`]: `relu((x ⊙ m_in) Wᵀ + b) ⊙ m_out`, a hidden layer with the dropout
//!   before it (the embeddings' on the first layer) and after it;
//! - [`linear_head`]: `head((x ⊙ m_in) wᵀ + b)` for a one-unit output layer, squeezed to
//!   `(B,)`.
//!
//! The input is the embeddings already side by side
//! ([`Params::gather_pair`](super::Params::gather_pair) gathers both tables into one
//! variable), so the first layer is one op too.
//!
//! The matrix products run through candle's own CPU kernel (`kernels::matmul`), except
//! for a one-unit layer (the output), whose products are dot products and outer products
//! in plain loops: at a one-column shape gemm's set-up costs more than the work. Masks are
//! the inverted-dropout masks of [`Tape::dropout_mask`], drawn by the caller in the same
//! order as the unfused layers draw them, so a seeded run draws the same masks. On other
//! devices each function falls back to the generic operations, which compute the same
//! function.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};

use crate::engine::kernels::{cpu_storage, f32_matrix, f32_values, matmul};
use crate::engine::row_dot::DotHead;

/// A mask of the wrong length for `n` values is a caller's bug; report it.
fn check_mask(mask: Option<&[f32]>, n: usize, op: &str) -> Result<()> {
    match mask {
        Some(m) if m.len() != n => bail!("{op}: mask of {} for {n} values", m.len()),
        _ => Ok(()),
    }
}

/// What a [`Dense`] layer applies to `x Wᵀ + b`.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// `max(z, 0)`, a hidden layer.
    Relu,
    /// Nothing: a tower's last layer (the two-tower model).
    Linear,
    /// A one-unit output layer's head; the output is squeezed to `(B,)`.
    Head(DotHead),
}

impl Act {
    #[inline]
    fn apply(self, z: f32) -> f32 {
        match self {
            Act::Relu => z.max(0.0),
            Act::Linear => z,
            Act::Head(head) => head.apply(z),
        }
    }
}

/// How a [`Dense`] layer's weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightOrder {
    /// `(out, in)`, the layer is `x Wᵀ + b` (NCF and MLP, as candle-nn stores it).
    OutIn,
    /// `(in, out)`, the layer is `x W + b` (the two-tower model, as Keras stores it).
    InOut,
}

/// One dense layer with its dropouts, `act((x ⊙ input_mask) Wᵀ + b) ⊙ output_mask`: the
/// forward op of [`linear_relu`] and [`linear_head`], and a layer of the autograd-free
/// step in [`super::chain`]. Its arithmetic is on CPU storages ([`Dense::forward_values`],
/// [`Dense::backward_values`]), so both share it.
pub(crate) struct Dense {
    pub(crate) act: Act,
    pub(crate) input_mask: Option<Vec<f32>>,
    pub(crate) output_mask: Option<Vec<f32>>,
    /// How the weight operand is stored; ∂/∂W comes back in the same order.
    pub(crate) order: WeightOrder,
}

/// A 2-d f32 operand: its CPU storage and layout.
pub(crate) type Operand<'a> = (&'a CpuStorage, &'a Layout);

impl Dense {
    fn name(&self) -> &'static str {
        match self.act {
            Act::Relu => "linear-relu",
            Act::Linear => "linear",
            Act::Head(_) => "linear-head",
        }
    }

    /// The weight's layout read as `(out, in)`, whichever way it is stored.
    fn out_in(&self, wl: &Layout) -> Result<Layout> {
        match self.order {
            WeightOrder::OutIn => Ok(wl.clone()),
            WeightOrder::InOut => wl.transpose(0, 1),
        }
    }

    /// `x ⊙ input_mask` as a contiguous `(rows, k)` operand, when there is a mask.
    fn masked_input(&self, x: &[f32], rows: usize, k: usize) -> Option<(CpuStorage, Layout)> {
        let m = self.input_mask.as_deref()?;
        let xm = x.iter().zip(m).map(|(x, m)| x * m).collect();
        Some((CpuStorage::F32(xm), Layout::contiguous((rows, k))))
    }

    /// The layer's output for input `x` `(rows, k)`, weight `w` (`(out, k)` or `(k, out)`
    /// as [`Dense::order`] says) and biases `b`, row-major `(rows, out)` (`rows` values
    /// for a head).
    pub(crate) fn forward_values(
        &self,
        (xs, xl): Operand,
        (ws, wl): Operand,
        b: &[f32],
    ) -> Result<Vec<f32>> {
        let name = self.name();
        let wl = &self.out_in(wl)?;
        let (x, rows, k) = f32_matrix(xs, xl, name)?;
        let &[out, k2] = wl.dims() else {
            bail!("{name}: weight of shape {:?}", wl.dims());
        };
        if k != k2 || b.len() != out {
            bail!(
                "{name}: ({rows}, {k}) into a ({out}, {k2}) layer with {} biases",
                b.len()
            );
        }
        check_mask(self.input_mask.as_deref(), rows * k, name)?;
        check_mask(self.output_mask.as_deref(), rows * out, name)?;
        let xm = self.masked_input(x, rows, k);
        let mut y = match &xm {
            // One output unit: a dot product per row, not a one-column matrix product.
            xm if out == 1 => {
                let xs = xm
                    .as_ref()
                    .map_or(Ok(x), |(xm, l)| f32_values(xm, l, name))?;
                let w = f32_values(ws, wl, name)?;
                xs.chunks_exact(k.max(1)).map(|row| dot(row, w)).collect()
            }
            Some((xm, xm_l)) => matmul(xm, xm_l, ws, &wl.transpose(0, 1)?)?,
            None => matmul(xs, xl, ws, &wl.transpose(0, 1)?)?,
        };
        for row in y.chunks_exact_mut(out.max(1)) {
            for (y, b) in row.iter_mut().zip(b) {
                *y = self.act.apply(*y + b);
            }
        }
        apply_mask(&mut y, self.output_mask.as_deref());
        Ok(y)
    }

    /// The gradients `(∂/∂x, ∂/∂W, ∂/∂b)`, row-major, from the layer's input `x`, weight
    /// `w`, output `y` (from [`Dense::forward_values`]) and the output's gradient `g`.
    /// ∂/∂W has the weight's shape; ∂/∂x is computed only if `input_grad` (a model's
    /// constant input features need none).
    pub(crate) fn backward_values(
        &self,
        (xs, xl): Operand,
        (ws, wl): Operand,
        y: &[f32],
        g: &[f32],
        input_grad: bool,
    ) -> Result<LayerGrads> {
        let name = self.name();
        let wl = &self.out_in(wl)?;
        let (x, rows, k) = f32_matrix(xs, xl, name)?;
        let &[out, _] = wl.dims() else {
            bail!("{name}: weight of shape {:?}", wl.dims());
        };
        if g.len() != y.len() || y.len() != rows * out {
            bail!(
                "{name}: {} gradients for {} outputs of ({rows}, {out})",
                g.len(),
                y.len()
            );
        }
        let s = output_slope(g, y, self.act, self.output_mask.as_deref());
        let grad_b = column_sums(&s, out);
        let xm = self.masked_input(x, rows, k);
        let (xm, xm_l) = xm.as_ref().map_or((xs, xl), |(xm, l)| (xm, l));
        // ∂/∂x = (s W) ⊙ input_mask; ∂/∂W = sᵀ (x ⊙ input_mask).
        let (mut x, w) = if out == 1 {
            // One output unit: W is a row (or a column, the same values), so both are
            // outer products and row sums.
            let (w, xm) = (f32_values(ws, wl, name)?, f32_values(xm, xm_l, name)?);
            let grad_x = input_grad.then(|| outer(&s, w));
            (grad_x, weighted_row_sum(&s, xm, k))
        } else {
            let s = CpuStorage::F32(s);
            let s_l = Layout::contiguous((rows, out));
            let grad_x = input_grad.then(|| matmul(&s, &s_l, ws, wl)).transpose()?;
            let xm_t = xm_l.transpose(0, 1)?;
            let grad_w = match self.order {
                WeightOrder::InOut => matmul(xm, &xm_t, &s, &s_l)?,
                // A result only `k` columns wide (MLP's first layer: 10) wastes most of
                // gemm's register tiles; the transposed product is wide and ran 1.7×
                // faster for the (128, 10) case, transposing it back costs little.
                WeightOrder::OutIn if k < out => transposed(&matmul(xm, &xm_t, &s, &s_l)?, k, out),
                WeightOrder::OutIn => matmul(&s, &s_l.transpose(0, 1)?, xm, xm_l)?,
            };
            (grad_x, grad_w)
        };
        if let Some(x) = x.as_mut() {
            apply_mask(x, self.input_mask.as_deref());
        }
        Ok(LayerGrads { x, w, b: grad_b })
    }
}

/// One [`Dense`] layer's gradients, row-major.
pub(crate) struct LayerGrads {
    /// At the input, `(rows, in)`; `None` when not asked for.
    pub(crate) x: Option<Vec<f32>>,
    /// At the weight, in the weight's shape.
    pub(crate) w: Vec<f32>,
    /// At the biases, `(out,)`.
    pub(crate) b: Vec<f32>,
}

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        Dense::name(self)
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let b = f32_values(s3, l3, Dense::name(self))?;
        let y = self.forward_values((s1, l1), (s2, l2), b)?;
        let rows = l1.dims()[0];
        let shape = match self.act {
            Act::Relu | Act::Linear => Shape::from((rows, y.len() / rows.max(1))),
            Act::Head(_) => Shape::from(rows),
        };
        Ok((CpuStorage::F32(y), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let name = Dense::name(self);
        let g = grad_res.contiguous()?;
        let (gs, gl) = g.storage_and_layout();
        let (ys, yl) = res.storage_and_layout();
        let (ws, wl) = w.storage_and_layout();
        let (xs, xl) = x.storage_and_layout();
        let grads = self.backward_values(
            (cpu_storage(&xs, name)?, xl),
            (cpu_storage(&ws, name)?, wl),
            f32_values(cpu_storage(&ys, name)?, yl, name)?,
            f32_values(cpu_storage(&gs, name)?, gl, name)?,
            true,
        )?;
        let device = x.device();
        let grad_x = grads.x.map(|g| Tensor::from_vec(g, x.shape(), device));
        let grad_b = Tensor::from_vec(grads.b, w.dim(0)?, device)?;
        Ok((
            grad_x.transpose()?,
            Some(Tensor::from_vec(grads.w, w.shape(), device)?),
            Some(grad_b),
        ))
    }
}

/// `Σ a ⊙ b` for equal-length slices, accumulated eight lanes at a time so that it
/// vectorises (a sequential float sum cannot be reordered by the compiler).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    let mut lanes = [0.0f32; 8];
    for (a, b) in a8.iter().zip(b8) {
        for ((l, a), b) in lanes.iter_mut().zip(a).zip(b) {
            *l += a * b;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(a, b)| a * b).sum();
    lanes.iter().sum::<f32>() + tail
}

/// The `(s.len(), w.len())` outer product `s[r] · w[c]`, row-major.
fn outer(s: &[f32], w: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(s.len() * w.len());
    for &s in s {
        out.extend(w.iter().map(|w| s * w));
    }
    out
}

/// `sᵀ x` for `x` of `s.len()` rows of `k` values: the sum of `x`'s rows weighted by `s`.
fn weighted_row_sum(s: &[f32], x: &[f32], k: usize) -> Vec<f32> {
    let mut sum = vec![0.0f32; k];
    for (&s, row) in s.iter().zip(x.chunks_exact(k.max(1))) {
        for (sum, x) in sum.iter_mut().zip(row) {
            *sum += s * x;
        }
    }
    sum
}

/// The transpose of row-major `(rows, cols)` `values`, row-major `(cols, rows)`.
fn transposed(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; values.len()];
    for (r, row) in values.chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

/// `y ⊙ mask` in place.
fn apply_mask(y: &mut [f32], mask: Option<&[f32]>) {
    if let Some(m) = mask {
        for (y, m) in y.iter_mut().zip(m) {
            *y *= m;
        }
    }
}

/// `g ⊙ mask ⊙ act'(y)`: the gradient at a layer's pre-activation from its output `y` and
/// the output's gradient `g`. The slope is read off the output: ReLU's is 1 where `y > 0`
/// (a dropped value is 0 and its mask 0 anyway), a head's is [`DotHead::slope`].
fn output_slope(g: &[f32], y: &[f32], act: Act, mask: Option<&[f32]>) -> Vec<f32> {
    // One specialised loop per case, so that each vectorises.
    let mut s = Vec::with_capacity(g.len());
    match (act, mask) {
        (Act::Relu, Some(m)) => s.extend(
            g.iter()
                .zip(y)
                .zip(m)
                .map(|((&g, &y), &m)| if y > 0.0 { g * m } else { 0.0 }),
        ),
        (Act::Relu, None) => s.extend(
            g.iter()
                .zip(y)
                .map(|(&g, &y)| if y > 0.0 { g } else { 0.0 }),
        ),
        (Act::Linear, mask) => {
            s.extend_from_slice(g);
            apply_mask(&mut s, mask);
        }
        (Act::Head(head), mask) => {
            s.extend(g.iter().zip(y).map(|(&g, &y)| g * head.slope(y)));
            apply_mask(&mut s, mask);
        }
    }
    s
}

/// The sums of the `n` columns of row-major `values`: a bias gradient.
fn column_sums(values: &[f32], n: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; n];
    for row in values.chunks_exact(n.max(1)) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::activation::dropout_mask;
    use crate::engine::dense::{Linear, linear_head, linear_relu};
    use crate::engine::params::Tape;
    use candle_core::{Device, Var};
    use rand::{Rng, SeedableRng};

    const TOL: f32 = 1e-5;

    fn random(rng: &mut impl Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn var(values: &[f32], shape: &[usize]) -> Var {
        Var::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < TOL, "{what}[{i}]: {x} vs {y}");
        }
    }

    /// The output of `f` on fresh variables holding `inputs`, and the gradient of
    /// `Σ c ⊙ f(…)` (fixed random weights `c`) with respect to each input.
    fn value_and_grads(
        f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
        inputs: &[(Vec<f32>, Vec<usize>)],
    ) -> (Vec<f32>, Vec<Vec<f32>>) {
        let vars: Vec<Var> = inputs.iter().map(|(v, s)| var(v, s)).collect();
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let y = f(&tensors).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
        let c =
            Tensor::from_vec(random(&mut rng, y.elem_count()), y.shape(), &Device::Cpu).unwrap();
        let grads = (&y * &c).unwrap().sum_all().unwrap().backward().unwrap();
        let g = vars
            .iter()
            .map(|v| flat(grads.get(v.as_tensor()).expect("a gradient")))
            .collect();
        (flat(&y), g)
    }

    fn compare(
        fused: &dyn Fn(&[Tensor]) -> Result<Tensor>,
        generic: &dyn Fn(&[Tensor]) -> Result<Tensor>,
        inputs: &[(Vec<f32>, Vec<usize>)],
    ) {
        let (y1, g1) = value_and_grads(fused, inputs);
        let (y2, g2) = value_and_grads(generic, inputs);
        assert_close(&y1, &y2, "output");
        for (i, (a, b)) in g1.iter().zip(&g2).enumerate() {
            assert_close(a, b, &format!("gradient {i}"));
        }
    }

    /// A dropout mask with about a third of the values dropped, survivors scaled by 1.5.
    fn mask(rng: &mut impl Rng, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| if rng.random_bool(1.0 / 3.0) { 0.0 } else { 1.5 })
            .collect()
    }

    fn mask_tensor(m: &[f32], like: &Tensor) -> Tensor {
        Tensor::from_slice(m, like.shape(), like.device()).unwrap()
    }

    /// `Dense` applied to the very tensors passed in, so that gradients are taken with
    /// respect to them (a `Linear` would copy them into fresh variables).
    fn dense(
        t: &[Tensor],
        act: Act,
        input_mask: Option<Vec<f32>>,
        output_mask: Option<Vec<f32>>,
    ) -> Result<Tensor> {
        t[0].apply_op3(
            &t[1],
            &t[2],
            Dense {
                act,
                input_mask,
                output_mask,
                order: WeightOrder::OutIn,
            },
        )
    }

    /// `x ⊙ m` with candle's own ops.
    fn generic_mask(x: Tensor, m: &Option<Vec<f32>>) -> Result<Tensor> {
        match m {
            Some(m) => &x * mask_tensor(m, &x),
            None => Ok(x),
        }
    }

    /// The fused ReLU layer against dropout → matmul → bias → ReLU → dropout in candle's
    /// own ops, in value and gradients, for `inputs` (x, weight, bias) and the masks.
    fn compare_relu_layer(
        inputs: &[(Vec<f32>, Vec<usize>)],
        m_in: &Option<Vec<f32>>,
        m_out: &Option<Vec<f32>>,
    ) {
        let fused = |t: &[Tensor]| dense(t, Act::Relu, m_in.clone(), m_out.clone());
        let generic = |t: &[Tensor]| {
            let x = generic_mask(t[0].clone(), m_in)?;
            let y = x.matmul(&t[1].t()?)?.broadcast_add(&t[2])?.relu()?;
            generic_mask(y, m_out)
        };
        compare(&fused, &generic, inputs);
    }

    #[test]
    fn linear_relu_matches_dropout_matmul_bias_relu_dropout() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (rows, k, out) = (8, 10, 12);
        let inputs = [
            (random(&mut rng, rows * k), vec![rows, k]),
            (random(&mut rng, out * k), vec![out, k]),
            (random(&mut rng, out), vec![out]),
        ];
        let input_masks = [None, Some(mask(&mut rng, rows * k))];
        let output_masks = [None, Some(mask(&mut rng, rows * out))];
        for m_in in &input_masks {
            for m_out in &output_masks {
                compare_relu_layer(&inputs, m_in, m_out);
            }
        }
    }

    #[test]
    fn every_product_shape_matches_the_generic_layer() {
        // Wider inputs than outputs (direct weight gradient), narrower (transposed), and
        // one output unit (dot products instead of matrix products), with and without
        // masks.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
        for (rows, k, out) in [(7, 20, 6), (9, 3, 17), (5, 13, 1), (6, 8, 8)] {
            let inputs = [
                (random(&mut rng, rows * k), vec![rows, k]),
                (random(&mut rng, out * k), vec![out, k]),
                (random(&mut rng, out), vec![out]),
            ];
            let masks = [
                (None, None),
                (
                    Some(mask(&mut rng, rows * k)),
                    Some(mask(&mut rng, rows * out)),
                ),
            ];
            for (m_in, m_out) in &masks {
                compare_relu_layer(&inputs, m_in, m_out);
            }
        }
    }

    #[test]
    fn dot_matches_a_sequential_sum_at_every_length() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [0, 1, 7, 8, 9, 32, 37] {
            let (a, b) = (random(&mut rng, n), random(&mut rng, n));
            let want: f32 = a.iter().zip(&b).map(|(a, b)| a * b).sum();
            assert!((dot(&a, &b) - want).abs() < TOL, "length {n}");
        }
    }

    #[test]
    fn linear_head_matches_dropout_matmul_bias_squeeze_head() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (rows, k) = (11, 10);
        let inputs = [
            (random(&mut rng, rows * k), vec![rows, k]),
            (random(&mut rng, k), vec![1, k]),
            (random(&mut rng, 1), vec![1]),
        ];
        for head in [
            DotHead::Offset(0.0),
            DotHead::ScaledSigmoid { lo: 1.0, hi: 5.0 },
        ] {
            for m_in in [None, Some(mask(&mut rng, rows * k))] {
                let fused = |t: &[Tensor]| dense(t, Act::Head(head), m_in.clone(), None);
                let generic = |t: &[Tensor]| {
                    let x = generic_mask(t[0].clone(), &m_in)?;
                    let z = x.matmul(&t[1].t()?)?.broadcast_add(&t[2])?.squeeze(1)?;
                    match head {
                        DotHead::Offset(_) => Ok(z),
                        DotHead::ScaledSigmoid { lo, hi } => {
                            candle_nn::ops::sigmoid(&z)?.affine((hi - lo) as f64, lo as f64)
                        }
                    }
                };
                compare(&fused, &generic, &inputs);
            }
        }
    }

    /// A layer whose variables hold copies of `t[1]` `(out, in)` and `t[2]` `(out,)`.
    fn layer(t: &[Tensor]) -> Linear {
        Linear {
            weight: Var::from_tensor(&t[1]).unwrap(),
            bias: Var::from_tensor(&t[2]).unwrap(),
            order: WeightOrder::OutIn,
            engine: crate::engine::Engine::Fused,
        }
    }

    #[test]
    fn layer_functions_use_the_layers_variables() {
        // Through the public functions the gradients land on the layer's own variables.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let t = [
            Tensor::from_vec(random(&mut rng, 12), (4, 3), &Device::Cpu).unwrap(),
            Tensor::from_vec(random(&mut rng, 6), (2, 3), &Device::Cpu).unwrap(),
            Tensor::from_vec(random(&mut rng, 2), 2, &Device::Cpu).unwrap(),
        ];
        let hidden = layer(&t);
        let y = linear_relu(&t[0], &hidden, None, None).unwrap();
        let head = Linear {
            weight: Var::new(&[[0.5f32, -1.0]], &Device::Cpu).unwrap(),
            bias: Var::new(&[0.25f32], &Device::Cpu).unwrap(),
            order: WeightOrder::OutIn,
            engine: crate::engine::Engine::Fused,
        };
        let p = linear_head(&y, &head, DotHead::Offset(0.0), None).unwrap();
        assert_eq!(p.dims(), [4]);
        let grads = p.sum_all().unwrap().backward().unwrap();
        for v in [&hidden.weight, &hidden.bias, &head.weight, &head.bias] {
            assert!(grads.get(v.as_tensor()).is_some());
        }
    }

    #[test]
    fn mismatched_shapes_and_masks_are_errors() {
        let z = |shape: &[usize]| Tensor::zeros(shape, candle_core::DType::F32, &Device::Cpu);
        let x = z(&[2, 3]).unwrap();
        let layer = |out: usize, k: usize| Linear {
            weight: Var::from_tensor(&z(&[out, k]).unwrap()).unwrap(),
            bias: Var::from_tensor(&z(&[out]).unwrap()).unwrap(),
            order: WeightOrder::OutIn,
            engine: crate::engine::Engine::Fused,
        };
        assert!(linear_relu(&x, &layer(4, 2), None, None).is_err());
        assert!(linear_relu(&x, &layer(4, 3), Some(vec![1.0; 5]), None).is_err());
        assert!(linear_relu(&x, &layer(4, 3), None, Some(vec![1.0; 6])).is_err());
        assert!(linear_relu(&x, &layer(4, 3), None, None).is_ok());
    }

    #[test]
    fn dropout_mask_is_off_at_evaluation_and_for_zero_rate() {
        assert!(dropout_mask(&Tape::off(), 8, 0.5).is_none());
        assert!(dropout_mask(&Tape::recording(), 8, 0.0).is_none());
        let m = dropout_mask(&Tape::recording(), 8, 0.5).expect("a mask");
        assert!(m.len() == 8 && m.iter().all(|&x| x == 0.0 || x == 2.0));
    }
}
