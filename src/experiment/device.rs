//! Opening the training device a scenario asks for (`device: gpu` needs the `gpu` feature), and checking that
//! the scenario's training fits what the GPU path runs.

use crate::ensemble::DenoiserDevice;
use crate::error::{Error, Result};
use crate::scenario::{Device, FederationMode, LocalOptimizer, Scenario};

/// The device for the experts' and monolith's local updates (`None`: the CPU path).
pub fn open(s: &Scenario) -> Result<Option<Box<dyn DenoiserDevice>>> {
    if s.device == Device::Cpu {
        return Ok(None);
    }
    let unsupported = |path: &str, what: &str| Err(Error::invalid(path, format!("device: gpu runs {what}")));
    if s.federation.mode != FederationMode::Fedavg || s.federation.local_optimizer != LocalOptimizer::Fresh {
        return unsupported(
            "federation",
            "FedAvg with fresh client optimizers (mode: fedavg, local_optimizer: fresh)",
        );
    }
    open_gpu()
}

#[cfg(feature = "gpu")]
fn open_gpu() -> Result<Option<Box<dyn DenoiserDevice>>> {
    Ok(Some(Box::new(crate::gpu::GpuContext::new()?)))
}

#[cfg(not(feature = "gpu"))]
fn open_gpu() -> Result<Option<Box<dyn DenoiserDevice>>> {
    Err(Error::invalid(
        "device",
        "gpu needs ddmsim built with the gpu feature: cargo run --release --features gpu -- run ...",
    ))
}
