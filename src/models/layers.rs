//! Building blocks of the neural models (NCF, MLP): a dense layer, dropout, and a stack of
//! ReLU layers ending in one output unit.
//!
//! Layers are plain structs built by a free function that registers their variables in
//! the model's [`Params`], as candle-nn builds layers from a `VarBuilder`.

use candle_core::{Result, Tensor, Var};
use rand::Rng;

use super::params::{Init, Params, Tape};

/// A fully connected layer, `y = x Wᵀ + b` (PyTorch's `nn.Linear` layout).
#[derive(Debug, Clone)]
pub struct Linear {
    /// `(out, in)`, registered as `<name>.weight` (weight decay applies).
    pub weight: Var,
    /// `(out,)`, registered as `<name>.bias` (no weight decay: the name ends in `bias`).
    pub bias: Var,
}

/// A dense layer from `in_dim` to `out_dim` inputs, weights drawn from `init`, biases zero
/// (Keras's and the notebooks' default).
pub fn linear(
    params: &mut Params,
    name: &str,
    in_dim: usize,
    out_dim: usize,
    init: Init,
    rng: &mut impl Rng,
) -> Result<Linear> {
    let weight = params.dense(&format!("{name}.weight"), &[out_dim, in_dim], init, rng)?;
    let bias = params.dense(
        &format!("{name}.bias"),
        &[out_dim],
        Init::Constant(0.0),
        rng,
    )?;
    Ok(Linear { weight, bias })
}

impl Linear {
    /// Applies the layer.
    ///
    /// # Shapes
    /// `x`: `(B, in)` → `(B, out)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
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

/// Hidden dense layers, each followed by a ReLU and its dropout, then a dense layer to one
/// output unit with no activation: the body shared by NCF and MLP.
#[derive(Debug, Clone)]
pub struct ReluStack {
    hidden: Vec<(Linear, f64)>,
    output: Linear,
}

/// A stack on `in_dim` inputs with hidden layers `widths` (named `<prefix>1`,
/// `<prefix>2`, …), dropout `dropouts[i]` after hidden layer `i` (0 where missing), and an
/// output layer named `output`. `weight_init(fan_in, fan_out)` gives each weight's
/// initialiser.
pub fn relu_stack(
    params: &mut Params,
    prefix: &str,
    in_dim: usize,
    widths: &[usize],
    dropouts: &[f64],
    weight_init: impl Fn(usize, usize) -> Init,
    rng: &mut impl Rng,
) -> Result<ReluStack> {
    let mut hidden = Vec::with_capacity(widths.len());
    let mut fan_in = in_dim;
    for (i, &width) in widths.iter().enumerate() {
        let name = format!("{prefix}{}", i + 1);
        let layer = linear(
            params,
            &name,
            fan_in,
            width,
            weight_init(fan_in, width),
            rng,
        )?;
        hidden.push((layer, dropouts.get(i).copied().unwrap_or(0.0)));
        fan_in = width;
    }
    let output = linear(params, "output", fan_in, 1, weight_init(fan_in, 1), rng)?;
    Ok(ReluStack { hidden, output })
}

impl ReluStack {
    /// The output unit's pre-activation for each row of `x`.
    ///
    /// # Shapes
    /// `x`: `(B, in)` → `(B,)`.
    pub fn forward(&self, x: &Tensor, tape: &Tape) -> Result<Tensor> {
        let mut x = x.clone();
        for (layer, p) in &self.hidden {
            x = dropout(&layer.forward(&x)?.relu()?, *p, tape)?;
        }
        self.output.forward(&x)?.squeeze(1)
    }

    /// The hidden layers with their dropout rates, input side first.
    pub fn hidden(&self) -> &[(Linear, f64)] {
        &self.hidden
    }

    /// The output layer.
    pub fn output(&self) -> &Linear {
        &self.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::SeedableRng;

    #[test]
    fn linear_is_x_times_w_transposed_plus_b() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut params = Params::new(&Device::Cpu);
        let layer = linear(&mut params, "dense", 3, 2, Init::he_normal(3), &mut rng).unwrap();
        let dev = &Device::Cpu;
        let w = Tensor::new(&[[1.0f32, 0.0, -1.0], [0.5, 2.0, 1.0]], dev).unwrap();
        layer.weight.set(&w).unwrap();
        layer
            .bias
            .set(&Tensor::new(&[0.1f32, -1.0], dev).unwrap())
            .unwrap();
        let x = Tensor::new(&[[1.0f32, 2.0, 3.0], [-1.0, 0.0, 2.0]], dev).unwrap();
        // x Wᵀ + b:
        //   row 0: [1 − 3, 0.5 + 4 + 3] + [0.1, −1] = [−1.9, 6.5]
        //   row 1: [−1 − 2, −0.5 + 0 + 2] + [0.1, −1] = [−2.9, 0.5]
        let y: Vec<Vec<f32>> = layer.forward(&x).unwrap().to_vec2().unwrap();
        let expected = [[-1.9f32, 6.5], [-2.9, 0.5]];
        for (row, want) in y.iter().zip(expected) {
            for (a, b) in row.iter().zip(want) {
                assert!((a - b).abs() < 1e-6, "{y:?}");
            }
        }
        let names: Vec<&str> = params
            .dense_vars()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["dense.weight", "dense.bias"]);
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
