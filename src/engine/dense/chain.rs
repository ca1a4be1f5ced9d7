//! A training step of NCF's and MLP's dense stack without candle's autograd: the forward
//! pass, the loss and the backward pass on plain CPU storages, the gradients handed to the
//! optimiser in a `GradStore`.
//!
//! With every layer already one fused op ([`super::layer::linear_relu`]), what remained of
//! candle's overhead at batch 64 was the backward pass's bookkeeping: it walks the graph,
//! zero-fills a gradient tensor for every node and adds each contribution into it (about
//! a tenth of an MLP epoch in a profile). Here each gradient is written once. The layers'
//! arithmetic is [`Dense`]'s own, so the step computes exactly what the fused ops'
//! forward and backward compute (tested against autograd below and in `models`).

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, Layout, Result, Tensor, Var, bail};

use super::kernel::{Act, Dense};
use super::layer::{Linear, ReluStack};
use crate::engine::activation::dropout_mask;
use crate::engine::kernels::{cpu_storage, f32_values};
use crate::engine::loss::Loss;
use crate::engine::params::Tape;
use crate::engine::row_dot::DotHead;

const OP: &str = "dense-step";

/// One layer of a chain of dense layers: its variables and what it computes.
pub struct ChainLayer<'a> {
    /// The weight, stored as `dense.order` says.
    pub weight: &'a Var,
    /// `(out,)`.
    pub bias: &'a Var,
    /// The layer's activation, dropout masks and weight order.
    pub(crate) dense: Dense,
}

impl<'a> ChainLayer<'a> {
    /// `layer` computing `act`, with its input and output dropout masks.
    pub fn new(
        layer: &'a Linear,
        act: Act,
        input_mask: Option<Vec<f32>>,
        output_mask: Option<Vec<f32>>,
    ) -> ChainLayer<'a> {
        ChainLayer {
            weight: &layer.weight,
            bias: &layer.bias,
            dense: layer.fused(act, input_mask, output_mask),
        }
    }
}

/// Each layer's output, row-major `(rows, width)`, from the first layer to the last.
pub type Activations = Vec<(CpuStorage, Layout)>;

/// The outputs of `layers` applied in turn to `x` (`(B, in)`, contiguous on the CPU).
pub fn chain_forward(layers: &[ChainLayer], x: &Tensor) -> Result<Activations> {
    let rows = x.dim(0)?;
    let (xs, xl) = x.storage_and_layout();
    let xs = cpu_storage(&xs, OP)?;
    let mut outputs: Activations = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        super::layer::output_fits(rows, layer.bias.elem_count())?;
        let (ws, wl) = layer.weight.storage_and_layout();
        let (bs, bl) = layer.bias.storage_and_layout();
        let b = f32_values(cpu_storage(&bs, OP)?, bl, OP)?;
        let input = match i {
            0 => (xs, xl),
            _ => (&outputs[i - 1].0, &outputs[i - 1].1),
        };
        let y = layer
            .dense
            .forward_values(input, (cpu_storage(&ws, OP)?, wl), b)?;
        let width = y.len() / rows.max(1);
        outputs.push((CpuStorage::F32(y), Layout::contiguous((rows, width))));
    }
    Ok(outputs)
}

/// The backward pass of [`chain_forward`]: from `g`, the gradient at the last layer's
/// output, puts each layer's weight and bias gradient in `grads` and returns the gradient
/// at `x`, if `input_grad` asks for it.
pub fn chain_backward(
    layers: &[ChainLayer],
    x: &Tensor,
    outputs: &Activations,
    mut g: Vec<f32>,
    input_grad: bool,
    grads: &mut GradStore,
) -> Result<Option<Vec<f32>>> {
    if outputs.len() != layers.len() {
        bail!(
            "{OP}: {} outputs for {} layers",
            outputs.len(),
            layers.len()
        );
    }
    let (xs, xl) = x.storage_and_layout();
    let xs = cpu_storage(&xs, OP)?;
    let device = x.device();
    for (i, layer) in layers.iter().enumerate().rev() {
        let input = match i {
            0 => (xs, xl),
            _ => (&outputs[i - 1].0, &outputs[i - 1].1),
        };
        let y = f32_values(&outputs[i].0, &outputs[i].1, OP)?;
        let (ws, wl) = layer.weight.storage_and_layout();
        let wants_x = i > 0 || input_grad;
        let step =
            layer
                .dense
                .backward_values(input, (cpu_storage(&ws, OP)?, wl), y, &g, wants_x)?;
        let (w, b) = (layer.weight.as_tensor(), layer.bias.as_tensor());
        grads.insert(w, Tensor::from_vec(step.w, w.shape(), device)?);
        grads.insert(b, Tensor::from_vec(step.b, b.shape(), device)?);
        match step.x {
            Some(x) => g = x,
            None => return Ok(None),
        }
    }
    Ok(Some(g))
}

/// The loss `loss` of `stack`'s predictions for input `x` against `target`, and its
/// gradients with respect to `x` and every layer's weight and bias.
///
/// Dropout masks are drawn from `tape` in the order [`ReluStack::forward_with_head`] draws
/// them (the embeddings' `embedding_dropout`, then each hidden layer's), so a seeded step
/// drops what the graph would have dropped.
///
/// # Shapes
/// `x`: `(B, in)`, contiguous on the CPU (the embeddings gathered side by side); `target`:
/// `(B,)`.
pub fn stack_step(
    stack: &ReluStack,
    x: &Tensor,
    embedding_dropout: f64,
    head: DotHead,
    target: &Tensor,
    loss: Loss,
    tape: &Tape,
) -> Result<(f32, GradStore)> {
    let rows = x.dim(0)?;
    let mut input_mask = dropout_mask(tape, x.elem_count(), embedding_dropout);
    let mut layers = Vec::with_capacity(stack.hidden().len() + 1);
    for (layer, p) in stack.hidden() {
        let output_mask = dropout_mask(tape, rows * layer.out_width(), *p);
        layers.push(ChainLayer::new(
            layer,
            Act::Relu,
            input_mask.take(),
            output_mask,
        ));
    }
    layers.push(ChainLayer::new(
        stack.output(),
        Act::Head(head),
        input_mask,
        None,
    ));
    let outputs = chain_forward(&layers, x)?;
    let predicted = match outputs.last() {
        Some((y, l)) => f32_values(y, l, OP)?,
        None => bail!("{OP}: a stack without layers"),
    };
    let (st, lt) = target.storage_and_layout();
    let t = f32_values(cpu_storage(&st, OP)?, lt, OP)?;
    if t.len() != predicted.len() {
        bail!("{OP}: {} targets for {} predictions", t.len(), rows);
    }
    let (loss, g) = loss.value_and_gradient(predicted, t);
    let mut grads = GradStore::default();
    if let Some(grad_x) = chain_backward(&layers, x, &outputs, g, true, &mut grads)? {
        grads.insert(x, Tensor::from_vec(grad_x, x.shape(), x.device())?);
    }
    Ok((loss, grads))
}

#[cfg(test)]
mod tests {
    use candle_core::Device;
    use rand::SeedableRng;

    use super::*;
    use crate::config::spec::{Architecture, LossName, ModelSpec, TrainingSpec};
    use crate::engine::Engine;
    use crate::models::build;
    use crate::models::testing::{batch, ctx};

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    /// NCF and MLP with every dropout on, deep and without hidden layers: the step's loss
    /// and every gradient (both tables' rows, each layer's weight and bias) equal
    /// autograd's through `forward` on a tape with the same seed, for every loss.
    #[test]
    fn the_step_matches_autograd_through_the_fused_layers() {
        let b = batch(&[0, 3, 1, 3, 2, 4], &[5, 2, 0, 2, 4, 1]);
        let target = Tensor::new(&[4.0f32, 1.0, 3.5, 2.0, 5.0, 3.0], &Device::Cpu).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut compared = 0;
        for architecture in [Architecture::Ncf, Architecture::Mlp] {
            for (hidden, dropouts) in [(vec![8, 4], vec![0.5, 0.25]), (vec![], vec![])] {
                let mut spec = ModelSpec::with_defaults(architecture, 3);
                spec.hidden_layers = hidden;
                spec.dropouts = dropouts;
                spec.embedding_dropout = 0.3;
                let model = build(&spec, &ctx(5, 6), &mut rng).unwrap();
                for loss in [LossName::Mse, LossName::Mae, LossName::Huber] {
                    let training = TrainingSpec {
                        loss,
                        huber_delta: 0.5,
                        ..TrainingSpec::adam(1, 6, 0.01, 0.0)
                    };
                    let kind = Loss::of(&training);
                    let mut tape = Tape::recording_seeded(7);
                    let (value, grads) = model
                        .fused_step(&b, &target, kind, &mut tape)
                        .unwrap()
                        .expect("a direct step on the CPU");
                    let mut graph_tape = Tape::recording_seeded(7);
                    let predicted = model.forward(&b, &mut graph_tape).unwrap();
                    let graph_loss = kind.value(Engine::Fused, &predicted, &target).unwrap();
                    let graph_grads = graph_loss.backward().unwrap();
                    let what = format!("{architecture:?} {} {loss:?}", spec.hidden_layers.len());
                    let graph_value = graph_loss.to_scalar::<f32>().unwrap();
                    assert!((value - graph_value).abs() < 1e-6, "{what}");

                    let mut pairs = Vec::new();
                    assert_eq!(tape.entries.len(), 2, "{what}");
                    for (d, g) in tape.entries.iter().zip(&graph_tape.entries) {
                        assert_eq!((d.table, &d.columns), (g.table, &g.columns));
                        let direct = d.grad(&grads).unwrap().expect("a row gradient");
                        pairs.push((direct, g.grad(&graph_grads).unwrap().unwrap()));
                    }
                    for (name, var) in model.params().dense_vars() {
                        let direct = grads.get(var.as_tensor()).expect(name).clone();
                        pairs.push((direct, graph_grads.get(var.as_tensor()).unwrap().clone()));
                    }
                    for (direct, graph) in &pairs {
                        assert_eq!(direct.dims(), graph.dims(), "{what}");
                        let (d, g) = (values(direct), values(graph));
                        assert!(g.iter().any(|&g| g != 0.0), "{what}: a zero gradient");
                        for (x, y) in d.iter().zip(&g) {
                            assert!((x - y).abs() < 1e-6, "{what}: {d:?} vs {g:?}");
                        }
                    }
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 12);
    }
}
