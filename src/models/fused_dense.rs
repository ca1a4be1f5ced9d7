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
//! - [`concat_linear`]: `(cat(u, v) ⊙ mask) Wᵀ`, the first layer on the two embeddings;
//! - [`bias_relu`]: `relu(h + b) ⊙ mask`, the rest of the first layer (candle's custom ops
//!   take at most three inputs, so the first layer is two ops);
//! - [`linear_relu`]: `relu(x Wᵀ + b) ⊙ mask`, every further hidden layer;
//! - [`linear_head`]: `head(x wᵀ + b)` for a one-unit output layer, squeezed to `(B,)`.
//!
//! The matrix products run through candle's own CPU kernel (`kernels::matmul`). Masks are
//! the inverted-dropout masks of [`Tape::dropout_mask`], drawn by the caller in the same
//! order as the unfused layers draw them, so a seeded run draws the same masks. On other
//! devices each function falls back to the generic operations, which compute the same
//! function.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};

use super::fused_dot::DotHead;
use super::layers::{self, Linear};
use super::params::Tape;
use crate::kernels::{cpu_storage, f32_matrix, f32_values, matmul};

/// An inverted-dropout mask for `n` values drawn from `tape` (0 with probability `p`,
/// else 1/(1 − p)), or `None` when there is no dropout: at evaluation or for `p` ≤ 0.
pub fn dropout_mask(tape: &Tape, n: usize, p: f64) -> Option<Vec<f32>> {
    (tape.is_training() && p > 0.0).then(|| tape.dropout_mask(n, p))
}

/// `x ⊙ mask` with generic operations (`x` itself without a mask).
fn masked(x: Tensor, mask: Option<&[f32]>) -> Result<Tensor> {
    match mask {
        Some(m) => x.mul(&Tensor::from_slice(m, x.shape(), x.device())?),
        None => Ok(x),
    }
}

/// Whether every tensor is a contiguous CPU tensor, as the fused ops need.
fn fusable(tensors: &[&Tensor]) -> bool {
    tensors
        .iter()
        .all(|t| t.device().is_cpu() && t.is_contiguous())
}

/// A mask of the wrong length for `n` values is a caller's bug; report it.
fn check_mask(mask: Option<&[f32]>, n: usize, op: &str) -> Result<()> {
    match mask {
        Some(m) if m.len() != n => bail!("{op}: mask of {} for {n} values", m.len()),
        _ => Ok(()),
    }
}

/// `(cat(u, v) ⊙ mask) Wᵀ` for `u` `(B, ku)`, `v` `(B, kv)` and `weight` `(out, ku + kv)`:
/// the first dense layer's product (without its bias) on the concatenated embeddings,
/// after their dropout; differentiable in `u`, `v` and `weight`.
///
/// # Shapes
/// `u`: `(B, ku)`, `v`: `(B, kv)`, `mask`: `B · (ku + kv)` values row-major → `(B, out)`.
pub fn concat_linear(
    u: &Tensor,
    v: &Tensor,
    weight: &Tensor,
    mask: Option<Vec<f32>>,
) -> Result<Tensor> {
    if fusable(&[u, v, weight]) {
        u.apply_op3(v, weight, ConcatLinear { mask })
    } else {
        masked(Tensor::cat(&[u, v], 1)?, mask.as_deref())?.matmul(&weight.t()?)
    }
}

/// `relu(h + b) ⊙ mask` for `h` `(B, n)` and `b` `(n,)`: a hidden layer's bias, ReLU and
/// dropout; differentiable in `h` and `b`.
pub fn bias_relu(h: &Tensor, bias: &Tensor, mask: Option<Vec<f32>>) -> Result<Tensor> {
    if fusable(&[h, bias]) && h.rank() == 2 {
        h.apply_op2(bias, BiasRelu { mask })
    } else {
        masked(layers::relu(&h.broadcast_add(bias)?)?, mask.as_deref())
    }
}

/// `relu(x Wᵀ + b) ⊙ mask`: a whole hidden layer with its dropout; differentiable in `x`
/// and the layer's variables.
///
/// # Shapes
/// `x`: `(B, in)` → `(B, out)`.
pub fn linear_relu(x: &Tensor, layer: &Linear, mask: Option<Vec<f32>>) -> Result<Tensor> {
    let (w, b) = (layer.weight.as_tensor(), layer.bias.as_tensor());
    if fusable(&[x, w, b]) {
        x.apply_op3(
            w,
            b,
            Dense {
                act: Act::Relu,
                mask,
            },
        )
    } else {
        masked(layers::relu(&layer.forward(x)?)?, mask.as_deref())
    }
}

/// `head(x wᵀ + b)` for a layer with one output unit: the prediction; differentiable in
/// `x` and the layer's variables.
///
/// # Shapes
/// `x`: `(B, in)`, the layer's weight `(1, in)` → `(B,)`.
pub fn linear_head(x: &Tensor, layer: &Linear, head: DotHead) -> Result<Tensor> {
    let (w, b) = (layer.weight.as_tensor(), layer.bias.as_tensor());
    if fusable(&[x, w, b]) && w.dims().first() == Some(&1) {
        x.apply_op3(
            w,
            b,
            Dense {
                act: Act::Head(head),
                mask: None,
            },
        )
    } else {
        head.generic(&layer.forward(x)?.squeeze(1)?)
    }
}

/// The forward op of [`concat_linear`].
struct ConcatLinear {
    mask: Option<Vec<f32>>,
}

impl ConcatLinear {
    /// `cat(u, v) ⊙ mask`, row-major `(rows, ku + kv)`.
    fn input(&self, u: &[f32], ku: usize, v: &[f32], kv: usize, rows: usize) -> Vec<f32> {
        let mut x = Vec::with_capacity(rows * (ku + kv));
        for (a, b) in u.chunks_exact(ku.max(1)).zip(v.chunks_exact(kv.max(1))) {
            x.extend_from_slice(&a[..ku]);
            x.extend_from_slice(&b[..kv]);
        }
        if let Some(m) = &self.mask {
            for (x, m) in x.iter_mut().zip(m) {
                *x *= m;
            }
        }
        x
    }
}

impl CustomOp3 for ConcatLinear {
    fn name(&self) -> &'static str {
        "concat-linear"
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
        let (u, rows, ku) = f32_matrix(s1, l1, self.name())?;
        let (v, rows2, kv) = f32_matrix(s2, l2, self.name())?;
        let &[out, k] = l3.dims() else {
            bail!("concat-linear: weight of shape {:?}", l3.dims());
        };
        if rows != rows2 || k != ku + kv {
            bail!("concat-linear: ({rows}, {ku}) and ({rows2}, {kv}) into a ({out}, {k}) layer");
        }
        check_mask(self.mask.as_deref(), rows * k, self.name())?;
        let x = CpuStorage::F32(self.input(u, ku, v, kv, rows));
        let h = matmul(&x, &Layout::contiguous((rows, k)), s3, &l3.transpose(0, 1)?)?;
        Ok((CpuStorage::F32(h), Shape::from((rows, out))))
    }

    fn bwd(
        &self,
        u: &Tensor,
        v: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let name = self.name();
        let g = grad_res.contiguous()?;
        let (rows, ku) = u.dims2()?;
        let kv = v.dims2()?.1;
        let k = ku + kv;
        let (gs, gl) = g.storage_and_layout();
        let (ws, wl) = w.storage_and_layout();
        let (gs, ws) = (cpu_storage(&gs, name)?, cpu_storage(&ws, name)?);
        // ∂/∂x = g W, then split at the concatenation and masked as x was.
        let grad_x = matmul(gs, gl, ws, wl)?;
        let (mut grad_u, mut grad_v) =
            (Vec::with_capacity(rows * ku), Vec::with_capacity(rows * kv));
        for row in grad_x.chunks_exact(k.max(1)) {
            grad_u.extend_from_slice(&row[..ku]);
            grad_v.extend_from_slice(&row[ku..]);
        }
        if let Some(m) = &self.mask {
            for (r, m) in m.chunks_exact(k.max(1)).enumerate() {
                for (g, m) in grad_u[r * ku..(r + 1) * ku].iter_mut().zip(&m[..ku]) {
                    *g *= m;
                }
                for (g, m) in grad_v[r * kv..(r + 1) * kv].iter_mut().zip(&m[ku..]) {
                    *g *= m;
                }
            }
        }
        // ∂/∂W = gᵀ x, with x rebuilt from u, v and the mask.
        let x = {
            let (us, ul) = u.storage_and_layout();
            let (vs, vl) = v.storage_and_layout();
            let u = f32_values(cpu_storage(&us, name)?, ul, name)?;
            let v = f32_values(cpu_storage(&vs, name)?, vl, name)?;
            CpuStorage::F32(self.input(u, ku, v, kv, rows))
        };
        let grad_w = matmul(gs, &gl.transpose(0, 1)?, &x, &Layout::contiguous((rows, k)))?;
        let device = u.device();
        Ok((
            Some(Tensor::from_vec(grad_u, (rows, ku), device)?),
            Some(Tensor::from_vec(grad_v, (rows, kv), device)?),
            Some(Tensor::from_vec(grad_w, w.shape(), device)?),
        ))
    }
}

/// The forward op of [`bias_relu`].
struct BiasRelu {
    mask: Option<Vec<f32>>,
}

impl CustomOp2 for BiasRelu {
    fn name(&self) -> &'static str {
        "bias-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (h, rows, n) = f32_matrix(s1, l1, self.name())?;
        let b = f32_values(s2, l2, self.name())?;
        if b.len() != n {
            bail!("bias-relu: {n} columns and a bias of {}", b.len());
        }
        check_mask(self.mask.as_deref(), rows * n, self.name())?;
        let mut y = Vec::with_capacity(rows * n);
        for row in h.chunks_exact(n.max(1)) {
            y.extend(row.iter().zip(b).map(|(h, b)| (h + b).max(0.0)));
        }
        apply_mask(&mut y, self.mask.as_deref());
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        h: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (rows, n) = h.dims2()?;
        let s = output_slope(res, grad_res, Act::Relu, self.mask.as_deref(), self.name())?;
        let grad_b = column_sums(&s, n);
        let device = h.device();
        Ok((
            Some(Tensor::from_vec(s, (rows, n), device)?),
            Some(Tensor::from_vec(grad_b, n, device)?),
        ))
    }
}

/// What a [`Dense`] op applies to `x Wᵀ + b`.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// `max(z, 0)`, a hidden layer.
    Relu,
    /// A one-unit output layer's head; the output is squeezed to `(B,)`.
    Head(DotHead),
}

impl Act {
    #[inline]
    fn apply(self, z: f32) -> f32 {
        match self {
            Act::Relu => z.max(0.0),
            Act::Head(head) => head.apply(z),
        }
    }
}

/// The forward op of [`linear_relu`] and [`linear_head`]: `act(x Wᵀ + b) ⊙ mask`.
struct Dense {
    act: Act,
    mask: Option<Vec<f32>>,
}

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        match self.act {
            Act::Relu => "linear-relu",
            Act::Head(_) => "linear-head",
        }
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
        let &[rows, k] = l1.dims() else {
            bail!("{}: input of shape {:?}", self.name(), l1.dims());
        };
        let &[out, k2] = l2.dims() else {
            bail!("{}: weight of shape {:?}", self.name(), l2.dims());
        };
        let b = f32_values(s3, l3, self.name())?;
        if k != k2 || b.len() != out {
            bail!(
                "{}: ({rows}, {k}) into a ({out}, {k2}) layer with {} biases",
                self.name(),
                b.len()
            );
        }
        check_mask(self.mask.as_deref(), rows * out, self.name())?;
        let mut y = matmul(s1, l1, s2, &l2.transpose(0, 1)?)?;
        for row in y.chunks_exact_mut(out.max(1)) {
            for (y, b) in row.iter_mut().zip(b) {
                *y = self.act.apply(*y + b);
            }
        }
        apply_mask(&mut y, self.mask.as_deref());
        let shape = match self.act {
            Act::Relu => Shape::from((rows, out)),
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
        let name = self.name();
        let (rows, k) = x.dims2()?;
        let out = w.dims2()?.0;
        let s = output_slope(res, grad_res, self.act, self.mask.as_deref(), name)?;
        let grad_b = column_sums(&s, out);
        let s = CpuStorage::F32(s);
        let s_l = Layout::contiguous((rows, out));
        let (ws, wl) = w.storage_and_layout();
        let grad_x = matmul(&s, &s_l, cpu_storage(&ws, name)?, wl)?;
        let (xs, xl) = x.storage_and_layout();
        let grad_w = matmul(&s, &s_l.transpose(0, 1)?, cpu_storage(&xs, name)?, xl)?;
        let device = x.device();
        Ok((
            Some(Tensor::from_vec(grad_x, (rows, k), device)?),
            Some(Tensor::from_vec(grad_w, (out, k), device)?),
            Some(Tensor::from_vec(grad_b, out, device)?),
        ))
    }
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
fn output_slope(
    res: &Tensor,
    grad_res: &Tensor,
    act: Act,
    mask: Option<&[f32]>,
    name: &str,
) -> Result<Vec<f32>> {
    let g = grad_res.contiguous()?;
    let (gs, gl) = g.storage_and_layout();
    let (ys, yl) = res.storage_and_layout();
    let g = f32_values(cpu_storage(&gs, name)?, gl, name)?;
    let y = f32_values(cpu_storage(&ys, name)?, yl, name)?;
    if g.len() != y.len() {
        bail!("{name}: {} gradients for {} outputs", g.len(), y.len());
    }
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
        (Act::Head(head), mask) => {
            s.extend(g.iter().zip(y).map(|(&g, &y)| g * head.slope(y)));
            apply_mask(&mut s, mask);
        }
    }
    Ok(s)
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

    #[test]
    fn concat_linear_matches_cat_dropout_matmul() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (rows, ku, kv, out) = (7, 5, 3, 4);
        let inputs = [
            (random(&mut rng, rows * ku), vec![rows, ku]),
            (random(&mut rng, rows * kv), vec![rows, kv]),
            (random(&mut rng, out * (ku + kv)), vec![out, ku + kv]),
        ];
        for m in [None, Some(mask(&mut rng, rows * (ku + kv)))] {
            let fused = |t: &[Tensor]| concat_linear(&t[0], &t[1], &t[2], m.clone());
            let generic = |t: &[Tensor]| {
                let x = Tensor::cat(&[&t[0], &t[1]], 1)?;
                let x = match &m {
                    Some(m) => (&x * mask_tensor(m, &x))?,
                    None => x,
                };
                x.matmul(&t[2].t()?)
            };
            compare(&fused, &generic, &inputs);
        }
    }

    #[test]
    fn bias_relu_matches_add_relu_dropout() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let (rows, n) = (9, 6);
        let inputs = [
            (random(&mut rng, rows * n), vec![rows, n]),
            (random(&mut rng, n), vec![n]),
        ];
        for m in [None, Some(mask(&mut rng, rows * n))] {
            let fused = |t: &[Tensor]| bias_relu(&t[0], &t[1], m.clone());
            let generic = |t: &[Tensor]| {
                let y = t[0].broadcast_add(&t[1])?.relu()?;
                match &m {
                    Some(m) => &y * mask_tensor(m, &y),
                    None => Ok(y),
                }
            };
            compare(&fused, &generic, &inputs);
        }
    }

    /// A layer whose variables hold `w` `(out, in)` and `b` `(out,)`.
    fn layer(t: &[Tensor]) -> Linear {
        Linear {
            weight: Var::from_tensor(&t[1]).unwrap(),
            bias: Var::from_tensor(&t[2]).unwrap(),
        }
    }

    #[test]
    fn linear_relu_matches_matmul_bias_relu_dropout() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (rows, k, out) = (8, 10, 12);
        let inputs = [
            (random(&mut rng, rows * k), vec![rows, k]),
            (random(&mut rng, out * k), vec![out, k]),
            (random(&mut rng, out), vec![out]),
        ];
        for m in [None, Some(mask(&mut rng, rows * out))] {
            // The fused op must differentiate with respect to the very tensors passed in,
            // so it is applied to them directly rather than through a `Linear`.
            let fused = |t: &[Tensor]| {
                t[0].apply_op3(
                    &t[1],
                    &t[2],
                    Dense {
                        act: Act::Relu,
                        mask: m.clone(),
                    },
                )
            };
            let generic = |t: &[Tensor]| {
                let y = t[0].matmul(&t[1].t()?)?.broadcast_add(&t[2])?.relu()?;
                match &m {
                    Some(m) => &y * mask_tensor(m, &y),
                    None => Ok(y),
                }
            };
            compare(&fused, &generic, &inputs);
        }
    }

    #[test]
    fn linear_head_matches_matmul_bias_squeeze_head() {
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
            let fused = |t: &[Tensor]| {
                t[0].apply_op3(
                    &t[1],
                    &t[2],
                    Dense {
                        act: Act::Head(head),
                        mask: None,
                    },
                )
            };
            let generic = |t: &[Tensor]| {
                let z = t[0].matmul(&t[1].t()?)?.broadcast_add(&t[2])?.squeeze(1)?;
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
        let y = linear_relu(&t[0], &hidden, None).unwrap();
        let head = Linear {
            weight: Var::new(&[[0.5f32, -1.0]], &Device::Cpu).unwrap(),
            bias: Var::new(&[0.25f32], &Device::Cpu).unwrap(),
        };
        let p = linear_head(&y, &head, DotHead::Offset(0.0)).unwrap();
        assert_eq!(p.dims(), [4]);
        let grads = p.sum_all().unwrap().backward().unwrap();
        for v in [&hidden.weight, &hidden.bias, &head.weight, &head.bias] {
            assert!(grads.get(v.as_tensor()).is_some());
        }
    }

    #[test]
    fn mismatched_shapes_and_masks_are_errors() {
        let z = |shape: &[usize]| Tensor::zeros(shape, candle_core::DType::F32, &Device::Cpu);
        let (u, v) = (z(&[2, 3]).unwrap(), z(&[2, 2]).unwrap());
        assert!(concat_linear(&u, &v, &z(&[4, 6]).unwrap(), None).is_err());
        assert!(concat_linear(&u, &v, &z(&[4, 5]).unwrap(), Some(vec![1.0; 3])).is_err());
        assert!(bias_relu(&u, &z(&[2]).unwrap(), None).is_err());
    }

    #[test]
    fn dropout_mask_is_off_at_evaluation_and_for_zero_rate() {
        assert!(dropout_mask(&Tape::off(), 8, 0.5).is_none());
        assert!(dropout_mask(&Tape::recording(), 8, 0.0).is_none());
        let m = dropout_mask(&Tape::recording(), 8, 0.5).expect("a mask");
        assert!(m.len() == 8 && m.iter().all(|&x| x == 0.0 || x == 2.0));
    }
}
