//! Training losses: mean squared error, mean absolute error and Huber.
//!
//! In the fused engine each loss is one candle custom op (forward and backward), which
//! saves four or more small tensor operations per step — a tenth of a step's cost for
//! matrix factorisation at batch 64. The graph engine composes candle's own operations,
//! which run on any device and compute the same values and gradients.
//!
//! Where the loss has a kink the gradient is a subgradient: MAE's is `sign(e)` with
//! `sign(0) = 0` (as PyTorch's `L1Loss` and TensorFlow's `abs`), so a prediction that
//! is exactly right gets no push. Huber is differentiable everywhere.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::Engine;
use super::kernels::{f32_pair, f32_values};
use crate::config::spec::{LossName, TrainingSpec};

/// A training loss, the mean over the batch of a function of the error `e = p − t`:
/// what `training.loss` names, with Huber's δ. Models and the training loop get this,
/// not the whole training section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Mean squared error `mean(e²)`; gradient `2e / n`.
    Mse,
    /// Mean absolute error `mean(|e|)`; gradient `sign(e) / n`, 0 where `e = 0`.
    Mae,
    /// Huber loss with this δ: `½e²` where `|e| ≤ δ`, `δ(|e| − ½δ)` beyond; gradient
    /// `clamp(e, −δ, δ) / n`.
    Huber(f32),
}

impl Loss {
    /// The loss `spec.loss` names (with `spec.huber_delta` for Huber).
    pub fn of(spec: &TrainingSpec) -> Loss {
        match spec.loss {
            LossName::Mse => Loss::Mse,
            LossName::Mae => Loss::Mae,
            LossName::Huber => Loss::Huber(spec.huber_delta as f32),
        }
    }

    /// The loss of `predicted` against `target`, both `(B,)`, as a scalar tensor that
    /// candle's autograd differentiates: one fused op in the fused engine, candle's own
    /// operations (any device) in the graph engine.
    pub fn value(self, engine: Engine, predicted: &Tensor, target: &Tensor) -> Result<Tensor> {
        if engine.is_fused() {
            predicted.apply_op2(target, self)
        } else {
            composed(self, predicted, target)
        }
    }

    /// The loss of predictions `p` against targets `t` and its gradient with respect to
    /// each prediction, computed on plain slices: for the fused steps that skip candle's
    /// graph (see [`crate::engine::row_dot::row_dot_step`]). The same arithmetic as the
    /// fused op.
    pub(crate) fn value_and_gradient(self, p: &[f32], t: &[f32]) -> (f32, Vec<f32>) {
        (self.mean(p, t), self.gradient(p, t, 1.0))
    }

    /// `mean(f(p − t))`, summed in f64.
    fn mean(self, p: &[f32], t: &[f32]) -> f32 {
        // One monomorphised loop per loss, no branch per element.
        let sum = match self {
            Loss::Mse => sum_of(p, t, |e| e * e),
            Loss::Mae => sum_of(p, t, f32::abs),
            Loss::Huber(d) => sum_of(p, t, |e| {
                let q = e.clamp(-d, d);
                q * (e - 0.5 * q)
            }),
        };
        (sum / p.len().max(1) as f64) as f32
    }

    /// `g · f'(p − t) / n` per element: the gradient of `g · mean(f(p − t))`.
    fn gradient(self, p: &[f32], t: &[f32], g: f32) -> Vec<f32> {
        let scale = g / p.len().max(1) as f32;
        match self {
            Loss::Mse => slopes(p, t, 2.0 * scale, |e| e),
            Loss::Mae => slopes(p, t, scale, sign),
            Loss::Huber(d) => slopes(p, t, scale, |e| e.clamp(-d, d)),
        }
    }
}

/// The loss from candle's own ops: the graph engine's form, for any device.
fn composed(kind: Loss, predicted: &Tensor, target: &Tensor) -> Result<Tensor> {
    let e = (predicted - target)?;
    match kind {
        Loss::Mse => e.sqr()?.mean_all(),
        // e · sign(e) with the sign detached: value |e|, gradient sign(e) with sign(0) = 0
        // (candle's own `abs` would give +1 at 0).
        Loss::Mae => (&e * e.sign()?.detach())?.mean_all(),
        // With q = clamp(e, −δ, δ), q(e − q/2) is ½e² inside and δ(|e| − δ/2) outside, and
        // its gradient is q: no kink at 0, unlike a form built on |e|.
        Loss::Huber(delta) => {
            let q = e.clamp(-delta, delta)?;
            (&q * (&e - (&q * 0.5)?)?)?.mean_all()
        }
    }
}

/// Sum of `f(p − t)` in f64.
#[inline]
fn sum_of(p: &[f32], t: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    p.iter().zip(t).map(|(p, t)| f(p - t) as f64).sum()
}

/// `scale · f'(p − t)` per element.
#[inline]
fn slopes(p: &[f32], t: &[f32], scale: f32, f: impl Fn(f32) -> f32) -> Vec<f32> {
    p.iter().zip(t).map(|(p, t)| scale * f(p - t)).collect()
}

/// `sign(e)` with `sign(0) = 0` (`f32::signum` gives ±1 at ±0).
#[inline]
fn sign(e: f32) -> f32 {
    if e > 0.0 {
        1.0
    } else if e < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl CustomOp2 for Loss {
    fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Mae => "mae",
            Loss::Huber(_) => "huber",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (p, t) = f32_pair((s1, l1), (s2, l2), self.name(), ("predictions", "targets"))?;
        Ok((CpuStorage::F32(vec![self.mean(p, t)]), Shape::from(())))
    }

    fn bwd(
        &self,
        predicted: &Tensor,
        target: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = predicted.apply_op3_no_bwd(target, grad_res, &LossGrad(*self))?;
        Ok((Some(grad), None))
    }
}

/// `f'(p − t) / n · g` for a fused loss's backward pass; the target gets no gradient.
struct LossGrad(Loss);

impl CustomOp3 for LossGrad {
    fn name(&self) -> &'static str {
        match self.0 {
            Loss::Mse => "mse-grad",
            Loss::Mae => "mae-grad",
            Loss::Huber(_) => "huber-grad",
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
        let p = f32_values(s1, l1, self.name())?;
        let t = f32_values(s2, l2, self.name())?;
        let g = f32_values(s3, l3, self.name())?;
        let grad = self.0.gradient(p, t, g.first().copied().unwrap_or(1.0));
        Ok((CpuStorage::F32(grad), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn mse(p: &Tensor, t: &Tensor) -> Result<Tensor> {
        Loss::Mse.value(Engine::Fused, p, t)
    }

    fn mae(p: &Tensor, t: &Tensor) -> Result<Tensor> {
        Loss::Mae.value(Engine::Fused, p, t)
    }

    fn huber(p: &Tensor, t: &Tensor, delta: f32) -> Result<Tensor> {
        Loss::Huber(delta).value(Engine::Fused, p, t)
    }

    /// The value of `f(p, t)` and its gradient with respect to `p`.
    fn value_and_grad(
        f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
        p: &[f32],
        t: &[f32],
    ) -> (f32, Vec<f32>) {
        let p = Var::new(p, &Device::Cpu).unwrap();
        let t = Tensor::new(t, &Device::Cpu).unwrap();
        let loss = f(p.as_tensor(), &t).unwrap();
        let grads = loss.backward().unwrap();
        let g = grads.get(p.as_tensor()).unwrap().to_vec1().unwrap();
        (loss.to_scalar().unwrap(), g)
    }

    fn assert_close(got: (f32, Vec<f32>), value: f32, grad: &[f32]) {
        assert!((got.0 - value).abs() < 1e-6, "{} vs {value}", got.0);
        assert_eq!(got.1.len(), grad.len());
        for (g, w) in got.1.iter().zip(grad) {
            assert!((g - w).abs() < 1e-6, "{:?} vs {grad:?}", got.1);
        }
    }

    #[test]
    fn fused_mse_matches_hand_computed_value_and_gradient() {
        // p = [1, 2, 4], t = [1, 3, 2]: errors 0, −1, 2 → mean square (0 + 1 + 4)/3 = 5/3;
        // gradient 2(p − t)/3 = [0, −2/3, 4/3].
        let got = value_and_grad(mse, &[1.0, 2.0, 4.0], &[1.0, 3.0, 2.0]);
        assert_close(got, 5.0 / 3.0, &[0.0, -2.0 / 3.0, 4.0 / 3.0]);
    }

    #[test]
    fn fused_mae_matches_hand_computed_value_and_gradient() {
        // Errors 0, −1, 2 → mean |e| = 3/3 = 1; gradient sign(e)/3 = [0, −1/3, 1/3]: the
        // subgradient at e = 0 is 0.
        let got = value_and_grad(mae, &[1.0, 2.0, 4.0], &[1.0, 3.0, 2.0]);
        assert_close(got, 1.0, &[0.0, -1.0 / 3.0, 1.0 / 3.0]);
    }

    #[test]
    fn fused_huber_matches_hand_computed_value_and_gradient() {
        let (p, t) = ([1.0, 2.0, 4.0, 1.5], [1.0, 3.0, 2.0, 1.0]);
        // Errors 0, −1, 2, 0.5. δ = 1: ½·0 + ½·1 + 1·(2 − ½) + ½·0.25 = 2.125, mean
        // 0.53125; gradient clamp(e, −1, 1)/4 = [0, −0.25, 0.25, 0.125].
        let got = value_and_grad(|p, t| huber(p, t, 1.0), &p, &t);
        assert_close(got, 0.53125, &[0.0, -0.25, 0.25, 0.125]);
        // δ = 0.5: 0 + ½(1 − ¼) + ½(2 − ¼) + ½·0.25 = 0.375 + 0.875 + 0.125 = 1.375, mean
        // 0.34375; gradient clamp(e, −½, ½)/4 = [0, −0.125, 0.125, 0.125].
        let got = value_and_grad(|p, t| huber(p, t, 0.5), &p, &t);
        assert_close(got, 0.34375, &[0.0, -0.125, 0.125, 0.125]);
    }

    #[test]
    fn loss_reads_the_huber_delta_from_the_spec() {
        let mut spec = TrainingSpec::adam(1, 1, 0.1, 0.0);
        spec.loss = LossName::Huber;
        spec.huber_delta = 0.5;
        let got = value_and_grad(
            |p, t| Loss::of(&spec).value(Engine::Fused, p, t),
            &[1.0, 2.0, 4.0, 1.5],
            &[1.0, 3.0, 2.0, 1.0],
        );
        assert_close(got, 0.34375, &[0.0, -0.125, 0.125, 0.125]);
    }

    #[test]
    fn fused_and_composed_agree_on_values_and_gradients() {
        // Includes e = 0 and e = ±δ, where the kinks and candle's tie rules would show.
        let p = [0.5f32, 4.5, 3.0, 2.25, 3.0, 1.0, 2.0];
        let t = [1.0f32, 5.0, 3.5, 2.0, 3.0, 2.0, 1.0];
        for kind in [Loss::Mse, Loss::Mae, Loss::Huber(1.0), Loss::Huber(0.3)] {
            let fused = value_and_grad(|p, t| kind.value(Engine::Fused, p, t), &p, &t);
            let (value, grad) = value_and_grad(|p, t| kind.value(Engine::Graph, p, t), &p, &t);
            assert!(
                (fused.0 - value).abs() < 1e-6,
                "{kind:?}: {fused:?} vs {value}"
            );
            for (f, c) in fused.1.iter().zip(&grad) {
                assert!((f - c).abs() < 1e-6, "{kind:?}: {:?} vs {grad:?}", fused.1);
            }
        }
    }
}
