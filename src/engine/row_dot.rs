//! The factor models' prediction, `head(Σₖ uₖ·vₖ)` per row, as one fused operation.
//!
//! Dot-product MF, biased MF and Funk SVD all predict from the row-wise dot product of a
//! gathered user row and item row, followed by an output head (an offset, or a sigmoid
//! scaled to the rating range). Written with candle's generic operations that is a
//! multiply, a sum and one or two element-wise ops forward, and twice as many backward,
//! each allocating its result: at batch 64 those allocations and graph nodes, not the
//! arithmetic, are what a step costs. On the CPU [`row_dot`] does it in one pass forward
//! and one pass per operand backward; elsewhere it falls back to the generic operations,
//! which compute the same function.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};

use super::Engine;
use super::kernels::{cpu_storage, f32_matrix, f32_values};
use super::loss::Loss;
use super::params::{Batch, Params, TableId, Tape};

/// What turns the dot product `z` into a prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DotHead {
    /// `z + offset` (dot-product MF: 0; Funk SVD: the global mean).
    Offset(f32),
    /// `lo + (hi − lo) · σ(z)` (biased MF: the rating range).
    ScaledSigmoid {
        /// Smallest prediction (approached, never reached).
        lo: f32,
        /// Largest prediction.
        hi: f32,
    },
}

impl DotHead {
    /// The prediction for dot product `z`.
    #[inline]
    pub(crate) fn apply(self, z: f32) -> f32 {
        match self {
            DotHead::Offset(c) => z + c,
            DotHead::ScaledSigmoid { lo, hi } => lo + (hi - lo) / (1.0 + (-z).exp()),
        }
    }

    /// `dy/dz` from the output `y` (the sigmoid's slope is `(y − lo)(hi − y)/(hi − lo)`).
    #[inline]
    pub(crate) fn slope(self, y: f32) -> f32 {
        match self {
            DotHead::Offset(_) => 1.0,
            DotHead::ScaledSigmoid { lo, hi } => (y - lo) * (hi - y) / (hi - lo),
        }
    }

    /// The head with candle's own operations: the graph engine's form.
    pub(crate) fn graph(self, z: &Tensor) -> Result<Tensor> {
        match self {
            DotHead::Offset(0.0) => Ok(z.clone()),
            DotHead::Offset(c) => z.affine(1.0, c as f64),
            DotHead::ScaledSigmoid { lo, hi } => {
                super::activation::scaled_sigmoid(Engine::Graph, z, lo, hi)
            }
        }
    }
}

/// `head(Σₖ u[r,k]·v[r,k])` for every row `r` of the `(batch, k)` tensors `u` and `v`;
/// differentiable in both. One op in the fused engine, candle's multiply, sum and head
/// in the graph engine.
pub fn row_dot(engine: Engine, u: &Tensor, v: &Tensor, head: DotHead) -> Result<Tensor> {
    if engine.is_fused() && u.is_contiguous() && v.is_contiguous() {
        u.apply_op2(v, FusedDot(head))
    } else {
        head.graph(&(u * v)?.sum(1)?)
    }
}

/// One training step of a row-dot model without candle's autograd: gathers the `users`
/// rows of table `left` and the `items` rows of table `right` through `tape`, and returns
/// the loss `loss` of `head(row dot)` against `target` with its gradients with
/// respect to both gathered leaves (the fused engine's step; the graph engine runs
/// `forward` and `backward` instead).
///
/// The step is one fused op forward and one backward, but candle's backward pass still
/// walks a graph, zero-fills a gradient for each leaf and adds into it: at batch 1024
/// that was 8% of a biased-MF epoch. Here the gradients are written once:
/// `∂L/∂u[r] = L'(y[r]) · head'(y[r]) · v[r]`, and symmetrically for `v`.
#[allow(clippy::too_many_arguments)]
pub fn row_dot_step(
    params: &Params,
    (left, right): (TableId, TableId),
    batch: &Batch,
    head: DotHead,
    target: &Tensor,
    loss: Loss,
    tape: &mut Tape,
) -> Result<Option<(f32, GradStore)>> {
    let u = params.gather(left, &batch.users, tape)?;
    let v = params.gather(right, &batch.items, tape)?;
    let (su, lu) = u.storage_and_layout();
    let (sv, lv) = v.storage_and_layout();
    let (st, lt) = target.storage_and_layout();
    const OP: &str = "row-dot-step";
    let (uu, rows, k) = f32_matrix(cpu_storage(&su, OP)?, lu, OP)?;
    let (vv, rows_v, k_v) = f32_matrix(cpu_storage(&sv, OP)?, lv, OP)?;
    let t = f32_values(cpu_storage(&st, OP)?, lt, OP)?;
    if (rows, k) != (rows_v, k_v) || t.len() != rows {
        bail!(
            "{OP}: shapes ({rows}, {k}), ({rows_v}, {k_v}) and {} targets",
            t.len()
        );
    }
    let k1 = k.max(1);
    let y: Vec<f32> = uu
        .chunks_exact(k1)
        .zip(vv.chunks_exact(k1))
        .map(|(a, b)| head.apply(dot(a, b)))
        .take(rows)
        .collect();
    let (loss, dl_dy) = loss.value_and_gradient(&y, t);
    let (mut gu, mut gv) = (Vec::with_capacity(rows * k), Vec::with_capacity(rows * k));
    for r in 0..rows {
        let s = dl_dy[r] * head.slope(y[r]);
        gu.extend(vv[r * k..(r + 1) * k].iter().map(|x| s * x));
        gv.extend(uu[r * k..(r + 1) * k].iter().map(|x| s * x));
    }
    drop((su, sv, st));
    let mut grads = GradStore::default();
    grads.insert(&u, Tensor::from_vec(gu, (rows, k), u.device())?);
    grads.insert(&v, Tensor::from_vec(gv, (rows, k), v.device())?);
    Ok(Some((loss, grads)))
}

/// `Σₖ a[k]·b[k]` with eight independent partial sums. A single running sum is a chain
/// of dependent additions the compiler may not reorder (floating-point addition is not
/// associative), so it runs one lane at a time; eight sums vectorise and overlap, which
/// made the forward pass several times cheaper at batch 1024.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let quads = [
        lanes[0] + lanes[4],
        lanes[1] + lanes[5],
        lanes[2] + lanes[6],
        lanes[3] + lanes[7],
    ];
    (quads[0] + quads[2]) + (quads[1] + quads[3]) + tail
}

/// The forward op.
struct FusedDot(DotHead);

impl CustomOp2 for FusedDot {
    fn name(&self) -> &'static str {
        "row-dot"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (u, rows, k) = f32_matrix(s1, l1, self.name())?;
        let (v, rows2, k2) = f32_matrix(s2, l2, self.name())?;
        if (rows, k) != (rows2, k2) {
            bail!("row-dot: shapes ({rows}, {k}) and ({rows2}, {k2}) differ");
        }
        let out = u
            .chunks_exact(k.max(1))
            .zip(v.chunks_exact(k.max(1)))
            .map(|(a, b)| self.0.apply(dot(a, b)))
            .take(rows)
            .collect();
        Ok((CpuStorage::F32(out), Shape::from(rows)))
    }

    fn bwd(
        &self,
        u: &Tensor,
        v: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_u = res.apply_op3_no_bwd(grad_res, v, &DotGrad(self.0))?;
        let grad_v = res.apply_op3_no_bwd(grad_res, u, &DotGrad(self.0))?;
        Ok((Some(grad_u), Some(grad_v)))
    }
}

/// `g[r] · head'(y[r]) · other[r, :]`: the gradient of one operand from the output `y`,
/// its gradient `g` and the other operand.
struct DotGrad(DotHead);

impl CustomOp3 for DotGrad {
    fn name(&self) -> &'static str {
        "row-dot-grad"
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
        let y = f32_values(s1, l1, self.name())?;
        let g = f32_values(s2, l2, self.name())?;
        let (other, rows, k) = f32_matrix(s3, l3, self.name())?;
        if y.len() != rows || g.len() != rows {
            bail!("row-dot-grad: {} outputs for {rows} rows", y.len());
        }
        let mut out = Vec::with_capacity(rows * k);
        for ((y, g), row) in y.iter().zip(g).zip(other.chunks_exact(k.max(1))) {
            let s = g * self.0.slope(*y);
            out.extend(row.iter().map(|x| s * x));
        }
        Ok((CpuStorage::F32(out), l3.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Output and both gradients of `sum(w ⊙ f(u, v))` for a fixed weighting `w`.
    fn run(
        f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
        u: &[f32],
        v: &[f32],
        shape: (usize, usize),
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let u = Var::from_slice(u, shape, &Device::Cpu).unwrap();
        let v = Var::from_slice(v, shape, &Device::Cpu).unwrap();
        let y = f(u.as_tensor(), v.as_tensor()).unwrap();
        let w: Vec<f32> = (0..shape.0).map(|r| 1.0 + r as f32 * 0.5).collect();
        let w = Tensor::new(w.as_slice(), &Device::Cpu).unwrap();
        let grads = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (
            flat(&y),
            flat(grads.get(u.as_tensor()).unwrap()),
            flat(grads.get(v.as_tensor()).unwrap()),
        )
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn dot_matches_a_plain_sum_at_every_length() {
        for n in [0, 1, 7, 8, 9, 16, 52, 67] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - plain).abs() < 1e-5, "n = {n}");
        }
    }

    #[test]
    fn offset_head_by_hand() {
        // Rows [1, 2]·[3, −1] = 1 and [0.5, 0]·[2, 4] = 1, plus 3 → [4, 4]. With weights
        // w = [1, 1.5]: ∂/∂u = w[r]·v[r] = [3, −1, 3, 6], ∂/∂v = w[r]·u[r] = [1, 2, 0.75, 0].
        let (y, gu, gv) = run(
            |u, v| row_dot(Engine::Fused, u, v, DotHead::Offset(3.0)),
            &[1.0, 2.0, 0.5, 0.0],
            &[3.0, -1.0, 2.0, 4.0],
            (2, 2),
        );
        assert_close(&y, &[4.0, 4.0]);
        assert_close(&gu, &[3.0, -1.0, 3.0, 6.0]);
        assert_close(&gv, &[1.0, 2.0, 0.75, 0.0]);
    }

    #[test]
    fn scaled_sigmoid_head_matches_candle_ops() {
        // The fused op and the generic operations agree in value and in both gradients.
        let u: Vec<f32> = (0..15).map(|i| (i as f32 * 0.37).sin()).collect();
        let v: Vec<f32> = (0..15).map(|i| (i as f32 * 0.91).cos()).collect();
        for head in [
            DotHead::ScaledSigmoid { lo: 1.0, hi: 5.0 },
            DotHead::ScaledSigmoid { lo: 0.5, hi: 5.0 },
            DotHead::Offset(0.0),
            DotHead::Offset(3.5),
        ] {
            let fused = run(|u, v| row_dot(Engine::Fused, u, v, head), &u, &v, (5, 3));
            let generic = run(|u, v| head.graph(&(u * v)?.sum(1)?), &u, &v, (5, 3));
            assert_close(&fused.0, &generic.0);
            assert_close(&fused.1, &generic.1);
            assert_close(&fused.2, &generic.2);
        }
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let u = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let v = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(row_dot(Engine::Fused, &u, &v, DotHead::Offset(0.0)).is_err());
    }
}
