//! The training engine: everything that turns a model's parameters, a batch and a loss
//! into gradients and updated parameters, behind one seam.
//!
//! A step runs one of two ways, chosen once per run ([`Engine`]):
//!
//! - **fused**: exp's own CPU kernels. Gathers copy rows straight into leaves, dense
//!   layers are single ops with hand-written backward passes, the factor models and the
//!   neural models compute their loss and gradients without a graph, and the optimiser
//!   updates table rows in place. This is the fast path, and it exists only for the CPU.
//! - **graph**: candle tensor operations and candle's autograd, written without any
//!   device-specific code, so the same step runs on the CPU and on CUDA. The optimiser's
//!   row updates are candle ops on the device too (`index_select`, element-wise
//!   arithmetic, `index_add`, `scatter_set`): nothing is copied to the host per step.
//!
//! Every model has a graph form (its `forward`); the fused form is optional. Tests train
//! every architecture both ways on the CPU and compare gradients and scores, so the road
//! a GPU takes is exercised by every CI run.

pub mod activation;
pub mod alloc;
pub mod denormal;
pub mod dense;
pub mod epoch_ratings;
pub mod gemm;
pub(crate) mod kernels;
pub mod loss;
pub mod optim;
pub mod params;
pub mod per_rating;
pub mod row_dot;

use candle_core::Device;

use crate::config::spec::EngineChoice;

/// How a run's training steps are computed (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// exp's fused CPU kernels.
    Fused,
    /// candle's tensor operations and autograd, on any device.
    Graph,
}

impl Engine {
    /// The engine `choice` asks for on `device`: `auto` is fused on the CPU and graph
    /// elsewhere. `fused` on another device is an error (validation and the scheduler
    /// keep such runs on CPU workers, so this only guards against a bug).
    pub fn resolve(choice: EngineChoice, device: &Device) -> Result<Engine, EngineError> {
        match (choice, device.is_cpu()) {
            (EngineChoice::Auto, true) | (EngineChoice::Fused, true) => Ok(Engine::Fused),
            (EngineChoice::Auto, false) | (EngineChoice::Graph, _) => Ok(Engine::Graph),
            (EngineChoice::Fused, false) => Err(EngineError::FusedOffCpu {
                device: format!("{device:?}"),
            }),
        }
    }

    /// The default engine for `device`, as `training.engine = "auto"` resolves it.
    pub fn auto(device: &Device) -> Engine {
        if device.is_cpu() {
            Engine::Fused
        } else {
            Engine::Graph
        }
    }

    /// True for exp's fused CPU kernels.
    pub fn is_fused(self) -> bool {
        self == Engine::Fused
    }

    /// The name stored with a run and printed in progress lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Fused => "fused",
            Engine::Graph => "graph",
        }
    }
}

/// Why a run cannot use the engine it asks for.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `training.engine = "fused"` on a device other than the CPU.
    #[error(
        "training.engine = \"fused\" runs on the CPU only, but this run was given {device}; \
         use \"graph\" or \"auto\" for GPUs"
    )]
    FusedOffCpu {
        /// The device, as candle names it.
        device: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_fused_on_the_cpu_and_explicit_choices_are_kept() {
        let cpu = Device::Cpu;
        assert_eq!(
            Engine::resolve(EngineChoice::Auto, &cpu).unwrap(),
            Engine::Fused
        );
        assert_eq!(
            Engine::resolve(EngineChoice::Fused, &cpu).unwrap(),
            Engine::Fused
        );
        assert_eq!(
            Engine::resolve(EngineChoice::Graph, &cpu).unwrap(),
            Engine::Graph
        );
        assert_eq!(Engine::auto(&cpu), Engine::Fused);
    }
}
