//! The dense layer: one implementation, in three files.
//!
//! - `layer`: [`Linear`] and the [`ReluStack`] of NCF and MLP, their graph form and the
//!   fused ops' entry points;
//! - `kernel`: the fused op itself, forward and backward on CPU storages;
//! - `chain`: a chain of layers stepped without candle's autograd (the fused engine's
//!   whole-model step for NCF, MLP and the two-tower model's towers).

pub mod chain;
pub mod kernel;
pub mod layer;

pub use chain::{Activations, ChainLayer, chain_backward, chain_forward, stack_step};
pub use kernel::{Act, WeightOrder};
pub use layer::{Linear, ReluStack, linear, linear_head, linear_in_out, linear_relu, relu_stack};
