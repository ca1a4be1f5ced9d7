//! Which workers a sweep runs: the requested devices fitted to this machine.
//!
//! Every worker pulls runs from one queue. A CPU worker trains one run at a time with one
//! compute thread (`RAYON_NUM_THREADS=1`, set by `main`), so `cpu:N` is N runs in
//! parallel. A CUDA device gets exactly one worker. Its host thread also keeps a core busy
//! launching kernels, so CPU workers are capped at the cores left after the CUDA workers:
//! runs × compute threads never exceed the cores.

use crate::config::spec::{DeviceKind, DevicePin, DeviceSpec};
use crate::sweep::{self, RunSpec};

/// Where one worker trains its runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A CPU worker; the number tells CPU workers apart in progress lines.
    Cpu(usize),
    /// The worker of CUDA device `ordinal`.
    Cuda(usize),
}

impl Slot {
    /// The kind of device, matched against a run's `training.device`.
    pub fn kind(self) -> DeviceKind {
        match self {
            Slot::Cpu(_) => DeviceKind::Cpu,
            Slot::Cuda(_) => DeviceKind::Cuda,
        }
    }

    /// How the device is named in progress lines and the `runs.device` column: `cpu` or
    /// `cuda:0`.
    pub fn device_name(self) -> String {
        match self {
            Slot::Cpu(_) => "cpu".to_string(),
            Slot::Cuda(ordinal) => format!("cuda:{ordinal}"),
        }
    }

    /// The worker's name in progress lines: `cpu#1`, `cuda:0`.
    pub fn label(self) -> String {
        match self {
            Slot::Cpu(i) => format!("cpu#{i}"),
            Slot::Cuda(ordinal) => format!("cuda:{ordinal}"),
        }
    }

    /// The candle device; opening a CUDA device fails without the driver or the GPU.
    pub fn open(self) -> candle_core::Result<candle_core::Device> {
        match self {
            Slot::Cpu(_) => Ok(candle_core::Device::Cpu),
            Slot::Cuda(ordinal) => candle_core::Device::new_cuda(ordinal),
        }
    }
}

/// The workers of a sweep, with notes on how the request was fitted to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    /// One entry per worker, CUDA workers first.
    pub slots: Vec<Slot>,
    /// Adjustments worth telling the user, e.g. `cpu:8` cut to the cores there are.
    pub notes: Vec<String>,
}

/// Why the requested devices cannot run this sweep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// A CUDA device was requested from a build without CUDA.
    #[error(
        "`{device}` asks for a CUDA GPU, but this exp was built without CUDA support; \
         rebuild with `cargo build --release --features cuda` (running it needs the NVIDIA \
         driver), or use `--devices cpu`"
    )]
    CudaNotBuilt {
        /// The device as written.
        device: DeviceSpec,
    },
    /// The same device twice (`cpu:2` and `cpu` are the same device).
    #[error("device `{device}` is listed twice; list each device once")]
    Duplicate {
        /// The second mention.
        device: DeviceSpec,
    },
    /// The list is empty.
    #[error("no devices to train on; give at least one, e.g. `--devices cpu`")]
    Empty,
    /// Runs pin a kind of device the plan has no worker for.
    #[error(
        "{count} run(s) set `training.device = \"{pin}\"` (e.g. {example}), but no {pin} \
         device is in use (devices: {devices}); add one with `--devices` or \
         `experiment.devices`"
    )]
    NoWorkerFor {
        /// The pinned kind.
        pin: &'static str,
        /// How many runs pin it.
        count: usize,
        /// One of them, as a label with its fold.
        example: String,
        /// The devices in use.
        devices: String,
    },
}

/// Fits `devices` to a machine with `cores` cores; `cuda_built` says whether this build
/// has CUDA support. Fails before anything trains, naming the device at fault.
pub fn plan(
    devices: &[DeviceSpec],
    cores: usize,
    cuda_built: bool,
) -> Result<DevicePlan, DeviceError> {
    if devices.is_empty() {
        return Err(DeviceError::Empty);
    }
    for (i, device) in devices.iter().enumerate() {
        if devices[..i].iter().any(|d| d.same_device(*device)) {
            return Err(DeviceError::Duplicate { device: *device });
        }
        if device.kind() == DeviceKind::Cuda && !cuda_built {
            return Err(DeviceError::CudaNotBuilt { device: *device });
        }
    }
    let mut slots: Vec<Slot> = devices
        .iter()
        .filter_map(|d| match d {
            DeviceSpec::Cuda { ordinal } => Some(Slot::Cuda(*ordinal)),
            DeviceSpec::Cpu { .. } => None,
        })
        .collect();
    let cuda = slots.len();
    let mut notes = Vec::new();
    if let Some(DeviceSpec::Cpu { workers }) = devices.iter().find(|d| d.kind() == DeviceKind::Cpu)
    {
        let cores = cores.max(1);
        let free = if cuda == 0 {
            cores
        } else {
            cores.saturating_sub(cuda)
        };
        let asked = workers.unwrap_or(free);
        let n = asked.min(free);
        if n < asked {
            notes.push(format!(
                "cpu:{asked} asks for {asked} parallel runs, but this machine has {cores} \
                 core(s){}: using {n} CPU worker(s)",
                if cuda > 0 {
                    format!(", {cuda} of them kept for the CUDA worker(s)")
                } else {
                    String::new()
                }
            ));
        }
        slots.extend((0..n).map(Slot::Cpu));
    }
    if slots.is_empty() {
        return Err(DeviceError::Empty);
    }
    Ok(DevicePlan { slots, notes })
}

impl DevicePlan {
    /// Checks that every run's `training.device` has a worker that may train it.
    pub fn check_pins(&self, runs: &[RunSpec]) -> Result<(), DeviceError> {
        for (pin, kind) in [
            (DevicePin::Cpu, DeviceKind::Cpu),
            (DevicePin::Cuda, DeviceKind::Cuda),
        ] {
            let pinned: Vec<&RunSpec> = runs
                .iter()
                .filter(|r| r.config.training.device_pin() == pin)
                .collect();
            if let Some(first) = pinned.first()
                && !self.slots.iter().any(|s| s.kind() == kind)
            {
                return Err(DeviceError::NoWorkerFor {
                    pin: pin.as_str(),
                    count: pinned.len(),
                    example: format!(
                        "{} fold {}",
                        sweep::params_label(&first.params),
                        first.fold + 1
                    ),
                    devices: self.describe(),
                });
            }
        }
        Ok(())
    }

    /// The workers in words: `cuda:0, 2 × cpu`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.kind() == DeviceKind::Cuda)
            .map(|s| s.device_name())
            .collect();
        let cpu = self
            .slots
            .iter()
            .filter(|s| s.kind() == DeviceKind::Cpu)
            .count();
        if cpu > 0 {
            parts.push(format!("{cpu} × cpu"));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(text: &str) -> Vec<DeviceSpec> {
        text.split(',')
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    #[test]
    fn device_strings_parse_and_print_back() {
        for (text, want) in [
            ("cpu", DeviceSpec::Cpu { workers: None }),
            ("cpu:3", DeviceSpec::Cpu { workers: Some(3) }),
            ("cuda", DeviceSpec::Cuda { ordinal: 0 }),
            ("cuda:1", DeviceSpec::Cuda { ordinal: 1 }),
        ] {
            assert_eq!(text.parse::<DeviceSpec>(), Ok(want), "{text}");
        }
        assert_eq!(DeviceSpec::Cpu { workers: Some(3) }.to_string(), "cpu:3");
        assert_eq!(DeviceSpec::Cuda { ordinal: 0 }.to_string(), "cuda:0");
        for bad in ["cpu:0", "gpu", "cuda:x", "cpu:-1", "", "cuda:1:2", "CPU"] {
            let err = bad.parse::<DeviceSpec>().expect_err(bad);
            assert!(err.to_string().contains("expected `cpu`, `cpu:N`"), "{err}");
        }
    }

    #[test]
    fn cpu_workers_fit_the_cores_left_by_cuda_workers() {
        let p = plan(&specs("cpu:2,cuda:0"), 4, true).expect("plan");
        assert_eq!(p.slots, vec![Slot::Cuda(0), Slot::Cpu(0), Slot::Cpu(1)]);
        assert!(p.notes.is_empty());
        let p = plan(&specs("cpu:2,cuda:0"), 2, true).expect("plan");
        assert_eq!(p.slots, vec![Slot::Cuda(0), Slot::Cpu(0)]);
        assert!(p.notes[0].contains("using 1 CPU worker"), "{:?}", p.notes);
        let p = plan(&specs("cpu"), 3, false).expect("plan");
        assert_eq!(p.slots.len(), 3);
        let p = plan(&specs("cpu:8"), 2, false).expect("plan");
        assert_eq!(p.slots, vec![Slot::Cpu(0), Slot::Cpu(1)]);
        // Every core busy with CUDA workers: no CPU worker, but the sweep still runs.
        let p = plan(&specs("cuda:0,cuda:1,cpu"), 2, true).expect("plan");
        assert_eq!(p.slots, vec![Slot::Cuda(0), Slot::Cuda(1)]);
        assert_eq!(p.describe(), "cuda:0, cuda:1");
    }

    #[test]
    fn cuda_without_the_feature_and_duplicates_are_errors() {
        let err = plan(&specs("cpu,cuda:0"), 2, false).expect_err("no cuda");
        assert!(
            err.to_string().contains("`cuda:0`") && err.to_string().contains("--features cuda"),
            "{err}"
        );
        assert_eq!(
            plan(&specs("cpu:2,cpu"), 2, false),
            Err(DeviceError::Duplicate {
                device: DeviceSpec::Cpu { workers: None }
            })
        );
        assert!(matches!(
            plan(&specs("cuda:1,cuda:1"), 2, true),
            Err(DeviceError::Duplicate { .. })
        ));
        assert_eq!(plan(&[], 2, false), Err(DeviceError::Empty));
    }
}
