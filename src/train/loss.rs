//! Training losses.
//!
//! On the CPU the mean squared error is one fused candle op (forward and backward), which
//! saves four small tensor operations per step — a tenth of a step's cost for
//! matrix factorisation at batch 64. Other devices use the composed form.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Device, Layout, Result, Shape, Tensor, bail};

use crate::config::spec::LossName;

/// The training loss of `predicted` against `target`, both `(B,)`, as a scalar tensor.
pub fn loss(name: LossName, predicted: &Tensor, target: &Tensor) -> Result<Tensor> {
    match name {
        LossName::Mse => mse(predicted, target),
        LossName::Mae => (predicted - target)?.abs()?.mean_all(),
        LossName::Huber => huber(predicted, target, 1.0),
    }
}

/// Huber loss: `½e²` where `|e| ≤ δ`, `δ(|e| − ½δ)` beyond, averaged.
pub fn huber(predicted: &Tensor, target: &Tensor, delta: f64) -> Result<Tensor> {
    let abs = (predicted - target)?.abs()?;
    // min(|e|, δ) is the quadratic part; the rest is linear: ½q² + δ(|e| − q).
    let quadratic = abs.clamp(0.0, delta)?;
    let linear = (&abs - &quadratic)?;
    ((quadratic.sqr()? * 0.5)? + (linear * delta)?)?.mean_all()
}

/// Mean squared error `mean((p − t)²)`.
pub fn mse(predicted: &Tensor, target: &Tensor) -> Result<Tensor> {
    if matches!(predicted.device(), Device::Cpu) {
        predicted.apply_op2(target, Mse)
    } else {
        (predicted - target)?.sqr()?.mean_all()
    }
}

/// Fused mean squared error; its gradient with respect to the prediction is
/// `2 (p − t) / n` times the incoming gradient. The target gets no gradient.
struct Mse;

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let (CpuStorage::F32(v), Some((a, b))) = (s, l.contiguous_offsets()) else {
        bail!("{op}: expected contiguous f32 operands");
    };
    Ok(&v[a..b])
}

impl CustomOp2 for Mse {
    fn name(&self) -> &'static str {
        "mse"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let p = contiguous_f32(s1, l1, "mse")?;
        let t = contiguous_f32(s2, l2, "mse")?;
        if p.len() != t.len() {
            bail!("mse: {} predictions for {} targets", p.len(), t.len());
        }
        let sum: f64 = p.iter().zip(t).map(|(p, t)| ((p - t) as f64).powi(2)).sum();
        let mean = (sum / p.len().max(1) as f64) as f32;
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn bwd(
        &self,
        predicted: &Tensor,
        target: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = predicted.apply_op3_no_bwd(target, grad_res, &MseGrad)?;
        Ok((Some(grad), None))
    }
}

/// `2 (p − t) / n · g` for the fused MSE's backward pass.
struct MseGrad;

impl CustomOp3 for MseGrad {
    fn name(&self) -> &'static str {
        "mse-grad"
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
        let p = contiguous_f32(s1, l1, "mse-grad")?;
        let t = contiguous_f32(s2, l2, "mse-grad")?;
        let g = contiguous_f32(s3, l3, "mse-grad")?;
        let scale = 2.0 * g.first().copied().unwrap_or(1.0) / p.len().max(1) as f32;
        let grad = p.iter().zip(t).map(|(p, t)| scale * (p - t)).collect();
        Ok((CpuStorage::F32(grad), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn fused_mse_matches_hand_computed_value_and_gradient() {
        // p = [1, 2, 4], t = [1, 3, 2]: errors 0, −1, 2 → mean square (0 + 1 + 4)/3 = 5/3;
        // gradient 2(p − t)/3 = [0, −2/3, 4/3].
        let p = Var::new(&[1.0f32, 2.0, 4.0], &Device::Cpu).unwrap();
        let t = Tensor::new(&[1.0f32, 3.0, 2.0], &Device::Cpu).unwrap();
        let loss = mse(p.as_tensor(), &t).unwrap();
        let value = loss.to_scalar::<f32>().unwrap();
        assert!((value - 5.0 / 3.0).abs() < 1e-6, "{value}");
        let grads = loss.backward().unwrap();
        let g: Vec<f32> = grads.get(p.as_tensor()).unwrap().to_vec1().unwrap();
        let want = [0.0, -2.0 / 3.0, 4.0 / 3.0];
        for (g, w) in g.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn fused_and_composed_mse_agree() {
        let p = Tensor::new(&[0.5f32, 4.5, 3.0, 2.25], &Device::Cpu).unwrap();
        let t = Tensor::new(&[1.0f32, 5.0, 3.5, 2.0], &Device::Cpu).unwrap();
        let fused = mse(&p, &t).unwrap().to_scalar::<f32>().unwrap();
        let composed = (&p - &t)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((fused - composed).abs() < 1e-6);
    }
}
