//! The one dense layer of exp's models, `act(x W + b)` with its dropouts, and the ReLU
//! stack NCF and MLP are built from; the two-tower model's towers are [`Linear`] layers
//! too.
//!
//! Layers are plain structs built by a free function that registers their variables in
//! the model's [`Params`], as candle-nn builds layers from a `VarBuilder`. A layer's graph
//! form is candle operations ([`Linear::forward`]); its fused form is one custom op
//! forward and one backward ([`linear_relu`], [`linear_head`], and the chains of
//! [`super::chain`] that skip autograd altogether), chosen by the layer's [`Engine`].

use candle_core::{Result, Tensor, Var};
use rand::Rng;

use super::kernel::{Act, Dense, WeightOrder};
use crate::engine::Engine;
use crate::engine::activation::{bias_add, dropout, dropout_mask, relu};
use crate::engine::params::{Init, Params, Tape};
use crate::engine::row_dot::DotHead;

/// A fully connected layer: `y = x Wᵀ + b` with the weight stored `(out, in)`
/// (PyTorch's `nn.Linear` layout), or `y = x W + b` with it stored `(in, out)` (Keras's
/// `Dense`, which the two-tower model follows).
#[derive(Debug, Clone)]
pub struct Linear {
    /// `(out, in)` or `(in, out)` as `order` says, registered as `<name>.weight` (weight
    /// decay applies).
    pub weight: Var,
    /// `(out,)`, registered as `<name>.bias` (no weight decay: the name ends in `bias`).
    pub bias: Var,
    /// How `weight` is stored.
    pub order: WeightOrder,
    /// The engine of the parameters the layer was registered in.
    pub engine: Engine,
}

/// A dense layer from `in_dim` to `out_dim` inputs, weights drawn from `init`, biases zero
/// (Keras's and the notebooks' default), the weight stored `(out, in)`.
pub fn linear(
    params: &mut Params,
    name: &str,
    in_dim: usize,
    out_dim: usize,
    init: Init,
    rng: &mut impl Rng,
) -> Result<Linear> {
    register(
        params,
        name,
        (in_dim, out_dim),
        WeightOrder::OutIn,
        init,
        rng,
    )
}

/// A dense layer stored as Keras stores it, weight `(in, out)` named `<name>.weight`
/// and drawn from `init`, bias zero: the two-tower model's layers.
pub fn linear_in_out(
    params: &mut Params,
    name: &str,
    in_dim: usize,
    out_dim: usize,
    init: Init,
    rng: &mut impl Rng,
) -> Result<Linear> {
    register(
        params,
        name,
        (in_dim, out_dim),
        WeightOrder::InOut,
        init,
        rng,
    )
}

/// Registers `<name>.weight` (stored as `order` says, drawn from `init`) and a zero
/// `<name>.bias` in `params`, in that order.
fn register(
    params: &mut Params,
    name: &str,
    (in_dim, out_dim): (usize, usize),
    order: WeightOrder,
    init: Init,
    rng: &mut impl Rng,
) -> Result<Linear> {
    let shape = match order {
        WeightOrder::OutIn => [out_dim, in_dim],
        WeightOrder::InOut => [in_dim, out_dim],
    };
    let weight = params.dense(&format!("{name}.weight"), &shape, init, rng)?;
    let bias = params.dense(
        &format!("{name}.bias"),
        &[out_dim],
        Init::Constant(0.0),
        rng,
    )?;
    Ok(Linear {
        weight,
        bias,
        order,
        engine: params.engine(),
    })
}

impl Linear {
    /// Applies the layer.
    ///
    /// # Shapes
    /// `x`: `(B, in)` → `(B, out)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        output_fits(x.dim(0)?, self.out_width())?;
        let z = match self.order {
            WeightOrder::OutIn => x.matmul(&self.weight.t()?)?,
            WeightOrder::InOut => x.matmul(self.weight.as_tensor())?,
        };
        bias_add(self.engine, &z, &self.bias)
    }

    /// Number of output units.
    pub fn out_width(&self) -> usize {
        self.bias.as_tensor().elem_count()
    }

    /// The layer's fused op computing `act`, with its input and output dropout masks.
    pub(crate) fn fused(
        &self,
        act: Act,
        input_mask: Option<Vec<f32>>,
        output_mask: Option<Vec<f32>>,
    ) -> Dense {
        Dense {
            act,
            input_mask,
            output_mask,
            order: self.order,
        }
    }
}

/// Hidden dense layers, each followed by a ReLU and its dropout, then a dense layer to one
/// output unit with no activation: the body shared by NCF and MLP.
#[derive(Debug, Clone)]
pub struct ReluStack {
    hidden: Vec<(Linear, f64)>,
    output: Linear,
    engine: Engine,
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
    Ok(ReluStack {
        hidden,
        output,
        engine: params.engine(),
    })
}

impl ReluStack {
    /// The output unit's pre-activation for each row of `x`.
    ///
    /// # Shapes
    /// `x`: `(B, in)` → `(B,)`.
    pub fn forward(&self, x: &Tensor, tape: &Tape) -> Result<Tensor> {
        let mut x = x.clone();
        for (layer, p) in &self.hidden {
            x = dropout(&relu(self.engine, &layer.forward(&x)?)?, *p, tape)?;
        }
        self.output.forward(&x)?.squeeze(1)
    }

    /// `head` of the output unit for each row of `x` after embedding dropout
    /// `embedding_dropout`: the whole NCF and MLP body from the gathered embeddings (side
    /// by side, see [`Params::gather_pair`]).
    ///
    /// In the fused engine every layer is one op ([`linear_relu`], [`linear_head`]), dropout before
    /// and after it included: at batch 64 the step costs per-op overhead, not arithmetic.
    /// The masks are drawn in the same order as the graph engine's composition draws them
    /// (embeddings, then each hidden layer), so both engines train the same function.
    ///
    /// # Shapes
    /// `x`: `(B, in)` → `(B,)`.
    pub fn forward_with_head(
        &self,
        x: &Tensor,
        embedding_dropout: f64,
        head: DotHead,
        tape: &Tape,
    ) -> Result<Tensor> {
        if !(self.engine.is_fused() && x.is_contiguous() && x.rank() == 2) {
            let x = dropout(x, embedding_dropout, tape)?;
            return head.graph(&self.forward(&x, tape)?);
        }
        let rows = x.dim(0)?;
        let mut input_mask = dropout_mask(tape, x.elem_count(), embedding_dropout);
        let mut x = x.clone();
        for (layer, p) in &self.hidden {
            let output_mask = dropout_mask(tape, rows * layer.out_width(), *p);
            x = linear_relu(&x, layer, input_mask.take(), output_mask)?;
        }
        linear_head(&x, &self.output, head, input_mask)
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

/// `x ⊙ mask` with generic operations (`x` itself without a mask).
fn masked(x: Tensor, mask: Option<&[f32]>) -> Result<Tensor> {
    match mask {
        Some(m) => x.mul(&Tensor::from_slice(m, x.shape(), x.device())?),
        None => Ok(x),
    }
}

/// Whether every tensor is contiguous, as the fused ops need (the fused engine runs on
/// the CPU only, so the device is not asked again here).
fn fusable(tensors: &[&Tensor]) -> bool {
    tensors.iter().all(|t| t.is_contiguous())
}

/// `relu((x ⊙ input_mask) Wᵀ + b) ⊙ output_mask`: a hidden layer with its dropouts;
/// differentiable in `x` and the layer's variables.
///
/// # Shapes
/// `x`: `(B, in)`, masks `B · in` and `B · out` values row-major → `(B, out)`.
pub fn linear_relu(
    x: &Tensor,
    layer: &Linear,
    input_mask: Option<Vec<f32>>,
    output_mask: Option<Vec<f32>>,
) -> Result<Tensor> {
    let (w, b) = (layer.weight.as_tensor(), layer.bias.as_tensor());
    if fusable(&[x, w, b]) && x.rank() == 2 {
        x.apply_op3(w, b, layer.fused(Act::Relu, input_mask, output_mask))
    } else {
        let x = masked(x.clone(), input_mask.as_deref())?;
        masked(
            relu(layer.engine, &layer.forward(&x)?)?,
            output_mask.as_deref(),
        )
    }
}

/// `head((x ⊙ input_mask) wᵀ + b)` for a layer with one output unit: the prediction;
/// differentiable in `x` and the layer's variables.
///
/// # Shapes
/// `x`: `(B, in)`, the layer's weight `(1, in)` → `(B,)`.
pub fn linear_head(
    x: &Tensor,
    layer: &Linear,
    head: DotHead,
    input_mask: Option<Vec<f32>>,
) -> Result<Tensor> {
    let (w, b) = (layer.weight.as_tensor(), layer.bias.as_tensor());
    if fusable(&[x, w, b]) && x.rank() == 2 && layer.out_width() == 1 {
        x.apply_op3(w, b, layer.fused(Act::Head(head), input_mask, None))
    } else {
        let x = masked(x.clone(), input_mask.as_deref())?;
        head.graph(&layer.forward(&x)?.squeeze(1)?)
    }
}

/// Checks that a layer's `(rows, width)` output can be allocated before candle tries
/// (candle aborts the process when an allocation fails).
pub(crate) fn output_fits(rows: usize, width: usize) -> Result<()> {
    let bytes = (rows as u128)
        .saturating_mul(width as u128)
        .saturating_mul(4);
    crate::engine::alloc::check("a dense layer's output", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::SeedableRng;

    #[test]
    fn linear_is_x_times_w_transposed_plus_b() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut params = Params::new(&Device::Cpu, Engine::Fused);
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
    fn fused_stack_matches_the_unfused_composition_with_the_same_masks() {
        // Non-contiguous embeddings send `forward_concat` down the unfused path (what
        // other devices run); with tapes of the same seed both must draw the same masks
        // and give the same predictions and gradients.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let mut params = Params::new(&Device::Cpu, Engine::Fused);
        let stack = relu_stack(
            &mut params,
            "hidden",
            7,
            &[6, 5],
            &[0.5, 0.25],
            |fan_in, _| Init::he_normal(fan_in),
            &mut rng,
        )
        .unwrap();
        let dev = &Device::Cpu;
        let u = Tensor::randn(0f32, 1.0, (9, 4), dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (9, 3), dev).unwrap();
        let head = DotHead::ScaledSigmoid { lo: 1.0, hi: 5.0 };
        // A strided view of the same values: the left half of `[x, x]`.
        let strided = |x: &Tensor| {
            let k = x.dim(1)?;
            Tensor::cat(&[x, x], 1)?.narrow(1, 0, k)
        };
        let run = |contiguous: bool| {
            let tape = Tape::recording_seeded(11);
            let (u, v) = (Var::from_tensor(&u).unwrap(), Var::from_tensor(&v).unwrap());
            let (ui, vi) = if contiguous {
                (u.as_tensor().clone(), v.as_tensor().clone())
            } else {
                (strided(&u).unwrap(), strided(&v).unwrap())
            };
            let x = Tensor::cat(&[ui, vi], 1).unwrap();
            let x = if contiguous { x } else { strided(&x).unwrap() };
            assert_eq!(x.is_contiguous(), contiguous);
            let p = stack.forward_with_head(&x, 0.3, head, &tape).unwrap();
            let grads = p.sum_all().unwrap().backward().unwrap();
            let mut out = vec![p.to_vec1::<f32>().unwrap()];
            let vars = [u.as_tensor(), v.as_tensor()].into_iter();
            for t in vars.chain(params.dense_vars().iter().map(|(_, v)| v.as_tensor())) {
                let g = grads.get(t).expect("a gradient");
                out.push(g.flatten_all().unwrap().to_vec1().unwrap());
            }
            out
        };
        let (fused, generic) = (run(true), run(false));
        for (a, b) in fused.iter().zip(&generic) {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
            }
        }
    }
}
