//! Element-wise building blocks shared by the dense layers and the heads: bias add,
//! ReLU, the scaled sigmoid and inverted dropout.
//!
//! Each takes the run's [`Engine`]: the fused engine runs one custom op forward and one
//! backward with a hand-written slope; the graph engine composes candle's own operations,
//! which run on any device.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};

use super::Engine;
use super::kernels::{f32_pair, f32_values};
use super::params::Tape;

/// `x + b` for `x` of shape `(B, n)` and `b` of shape `(n,)`, differentiable in both.
///
/// candle's `broadcast_add` gets the bias gradient by a generic strided sum over the
/// batch axis, which profiled as a quarter of an MLP epoch at batch 64; the fused engine
/// sums the columns in one contiguous pass instead.
pub fn bias_add(engine: Engine, x: &Tensor, b: &Tensor) -> Result<Tensor> {
    if engine.is_fused() && x.is_contiguous() && x.rank() == 2 {
        x.apply_op2(b, BiasAdd)
    } else {
        x.broadcast_add(b)
    }
}

/// The forward op of [`bias_add`].
struct BiasAdd;

/// `(values, columns)` of a contiguous f32 operand whose last dimension is the columns.
fn columns<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<(&'a [f32], usize)> {
    Ok((f32_values(s, l, op)?, l.dims().last().copied().unwrap_or(1)))
}

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "bias-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, n) = columns(s1, l1, self.name())?;
        let (b, m) = columns(s2, l2, self.name())?;
        if n != m || b.len() != n {
            bail!("bias-add: {n} columns and a bias of {}", b.len());
        }
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks_exact(n.max(1)) {
            out.extend(row.iter().zip(b).map(|(x, b)| x + b));
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_b = grad_res.contiguous()?.apply_op1_no_bwd(&ColumnSums)?;
        Ok((Some(grad_res.clone()), Some(grad_b)))
    }
}

/// `max(x, 0)` element-wise, differentiable, with gradient 0 at 0 (PyTorch's convention).
///
/// candle's `relu` backward builds a comparison mask with its generic (unvectorised)
/// binary kernel, then converts and multiplies it: 14% of an MLP epoch in a profile. In
/// the fused engine the backward pass is one loop over the output and its gradient.
///
/// The graph engine does not use candle's `relu` either: its backward passes the gradient
/// where the input is exactly 0 (`x ≥ 0`), the fused engine's does not. Such zeros are
/// common early in training: a row whose every input a dropout zeroed meets a bias that
/// starts at 0. So the graph form is `x · [x > 0]` with the mask held constant: the same
/// values, and the fused engine's gradient, on any device.
pub fn relu(engine: Engine, x: &Tensor) -> Result<Tensor> {
    if engine.is_fused() && x.is_contiguous() {
        x.apply_op1(Activate(Activation::Relu))
    } else {
        let positive = x.gt(&x.zeros_like()?)?.to_dtype(x.dtype())?.detach();
        x.mul(&positive)
    }
}

/// `lo + (hi − lo) · σ(x)` element-wise, differentiable: the output head that keeps
/// predictions inside the rating range.
///
/// The fused engine takes one op forward and one backward, where candle's sigmoid and
/// affine take two each.
pub fn scaled_sigmoid(engine: Engine, x: &Tensor, lo: f32, hi: f32) -> Result<Tensor> {
    if engine.is_fused() && x.is_contiguous() {
        x.apply_op1(Activate(Activation::ScaledSigmoid { lo, hi }))
    } else {
        candle_nn::ops::sigmoid(x)?.affine((hi - lo) as f64, lo as f64)
    }
}

/// An element-wise activation whose slope can be read off its output, so the backward
/// pass needs only the output and its gradient.
#[derive(Debug, Clone, Copy)]
enum Activation {
    /// `max(x, 0)`; slope 1 where the output is positive, else 0.
    Relu,
    /// `lo + (hi − lo) · σ(x)`; slope `(y − lo)(hi − y)/(hi − lo)`.
    ScaledSigmoid { lo: f32, hi: f32 },
}

impl Activation {
    fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::ScaledSigmoid { .. } => "scaled-sigmoid",
        }
    }

    #[inline]
    fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::ScaledSigmoid { lo, hi } => lo + (hi - lo) / (1.0 + (-x).exp()),
        }
    }

    #[inline]
    fn slope(self, y: f32) -> f32 {
        match self {
            Activation::Relu => f32::from(u8::from(y > 0.0)),
            Activation::ScaledSigmoid { lo, hi } => (y - lo) * (hi - y) / (hi - lo),
        }
    }
}

/// The forward op of [`relu`] and [`scaled_sigmoid`].
struct Activate(Activation);

impl CustomOp1 for Activate {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_values(s, l, self.name())?;
        let out = x.iter().map(|&v| self.0.apply(v)).collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res
            .contiguous()?
            .apply_op2_no_bwd(res, &ActivationGrad(self.0))?;
        Ok(Some(grad))
    }
}

/// `g · slope(y)`: the gradient through an [`Activate`] op from its output `y`.
struct ActivationGrad(Activation);

impl CustomOp2 for ActivationGrad {
    fn name(&self) -> &'static str {
        "activation-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, y) = f32_pair((s1, l1), (s2, l2), self.name(), ("gradients", "outputs"))?;
        let out = g
            .iter()
            .zip(y)
            .map(|(&g, &y)| g * self.0.slope(y))
            .collect();
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// The sum of each column of a `(B, n)` tensor: the bias gradient.
struct ColumnSums;

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "column-sums"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (g, n) = columns(s, l, self.name())?;
        let mut sums = vec![0.0f32; n];
        for row in g.chunks_exact(n.max(1)) {
            for (s, g) in sums.iter_mut().zip(row) {
                *s += g;
            }
        }
        Ok((CpuStorage::F32(sums), Shape::from(n)))
    }
}

/// Inverted dropout, as Keras's `Dropout` layer: while training (`tape.is_training()`)
/// each value is zeroed with probability `p` and the survivors are scaled by 1/(1 − p), so
/// evaluation is the identity and needs no rescaling.
///
/// The mask is drawn on the host from the tape's generator, which the training loop seeds
/// from the run's seed, so a run with dropout repeats exactly; it costs one multiply.
///
/// # Shapes
/// `x`: any shape → the same shape.
pub fn dropout(x: &Tensor, p: f64, tape: &Tape) -> Result<Tensor> {
    if !tape.is_training() || p <= 0.0 {
        return Ok(x.clone());
    }
    let mask = tape.dropout_mask(x.elem_count(), p);
    x * Tensor::from_vec(mask, x.shape(), x.device())?
}

/// An inverted-dropout mask for `n` values drawn from `tape` (0 with probability `p`,
/// else 1/(1 − p)), or `None` when there is no dropout: at evaluation or for `p` ≤ 0.
pub fn dropout_mask(tape: &Tape, n: usize, p: f64) -> Option<Vec<f32>> {
    (tape.is_training() && p > 0.0).then(|| tape.dropout_mask(n, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn scaled_sigmoid_matches_candle_sigmoid_and_affine() {
        let dev = &Device::Cpu;
        let values = [-3.0f32, -0.5, 0.0, 0.7, 4.0];
        let run = |f: &dyn Fn(&Tensor) -> Result<Tensor>| {
            let x = Var::new(&values, dev).unwrap();
            let y = f(x.as_tensor()).unwrap();
            let w = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0, 5.0], dev).unwrap();
            let grads = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
            (y.to_vec1::<f32>().unwrap(), g)
        };
        let fused = run(&|x| scaled_sigmoid(Engine::Fused, x, 0.5, 5.0));
        let generic = run(&|x| candle_nn::ops::sigmoid(x)?.affine(4.5, 0.5));
        for (a, b) in fused
            .0
            .iter()
            .chain(&fused.1)
            .zip(generic.0.iter().chain(&generic.1))
        {
            assert!((a - b).abs() < 1e-5, "{fused:?} vs {generic:?}");
        }
        // σ(0) = ½ → 0.5 + 4.5 · ½ = 2.75.
        assert!((fused.0[2] - 2.75).abs() < 1e-6);
    }

    #[test]
    fn relu_value_and_gradient_by_hand() {
        // x = [−1, 0, 2, 3] → [0, 0, 2, 3]; loss Σ w ⊙ relu(x) with w = [5, 6, 7, 8] has
        // gradient w where x > 0, 0 elsewhere: 0 at x = 0 in both engines (candle's own
        // relu would give 6 there).
        let dev = &Device::Cpu;
        for engine in [Engine::Fused, Engine::Graph] {
            let x = Var::new(&[-1.0f32, 0.0, 2.0, 3.0], dev).unwrap();
            let y = relu(engine, x.as_tensor()).unwrap();
            assert_eq!(y.to_vec1::<f32>().unwrap(), [0.0, 0.0, 2.0, 3.0]);
            let w = Tensor::new(&[5.0f32, 6.0, 7.0, 8.0], dev).unwrap();
            let grads = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(g, [0.0, 0.0, 7.0, 8.0], "{engine:?}");
        }
    }

    #[test]
    fn bias_add_value_and_gradients_by_hand() {
        // x = [[1, 2], [3, 4], [5, 6]], b = [10, −1] → x + b row by row. With the loss
        // Σ w ⊙ (x + b), w = [[1, 2], [3, 4], [5, 6]]: ∂/∂x = w, ∂/∂b = column sums of w
        // = [1 + 3 + 5, 2 + 4 + 6] = [9, 12].
        let dev = &Device::Cpu;
        let x = Var::new(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]], dev).unwrap();
        let b = Var::new(&[10.0f32, -1.0], dev).unwrap();
        let y = bias_add(Engine::Fused, x.as_tensor(), b.as_tensor()).unwrap();
        assert_eq!(
            y.to_vec2::<f32>().unwrap(),
            [[11.0, 1.0], [13.0, 3.0], [15.0, 5.0]]
        );
        let w = x.as_tensor().detach();
        let grads = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gx = grads.get(x.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(gx, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        let gb = grads.get(b.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(gb, [9.0, 12.0]);
    }

    #[test]
    fn dropout_is_the_identity_at_evaluation_and_inverted_in_training() {
        let x = Tensor::ones((64, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
        let eval: Vec<Vec<f32>> = dropout(&x, 0.5, &Tape::off()).unwrap().to_vec2().unwrap();
        assert!(eval.iter().flatten().all(|&v| v == 1.0));
        let train: Vec<f32> = dropout(&x, 0.5, &Tape::recording())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        // Survivors are scaled by 1 / (1 − 0.5) = 2; about half survive.
        assert!(train.iter().all(|&v| v == 0.0 || v == 2.0));
        let kept = train.iter().filter(|&&v| v == 2.0).count();
        assert!((824..1224).contains(&kept), "{kept} of 2048 kept");
    }
}
