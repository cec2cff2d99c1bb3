//! Opening the device a scenario asks for (`device: gpu` needs the `gpu` feature), checking that the scenario's
//! training fits what the GPU path runs, and loading the trained models onto it for sampling.

use super::survivors::SamplingModels;
use crate::diffusion::LoadedNets;
use crate::ensemble::DenoiserDevice;
use crate::error::{Error, Result};
use crate::nn::TimeNet;
use crate::scenario::{AlgorithmConfig, Device, FederationMode, LocalOptimizer, Scenario};

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
    if s.federation.algorithm != AlgorithmConfig::Fedavg {
        return unsupported(
            "federation.algorithm",
            "the clients' plain local steps only (algorithm: fedavg; any server optimizer and aggregate): FedProx's \
             and SCAFFOLD's corrected steps run on the CPU, with device: cpu",
        );
    }
    if s.model.condition.enabled {
        return unsupported(
            "model.condition.enabled",
            "unconditional denoisers only: class-conditional ones run on the CPU (device: cpu)",
        );
    }
    if s.faults.stragglers.fraction > 0.0 {
        return unsupported(
            "faults.stragglers.fraction",
            "every client's local steps in one batch of equal steps, so stragglers' partial work runs on the CPU \
             (device: cpu); dropout, availability, Byzantine clients, on_nonfinite and expert outages run on the \
             GPU path",
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

/// The trained models held by a device for sampling.
pub struct SamplingNets<'a> {
    /// The experts (nets 0..E) and the router (net E), as [`crate::routing::RoutedMixture`] expects them.
    pub routed: Box<dyn LoadedNets + 'a>,
    /// The monolith, when trained.
    pub monolith: Option<Box<dyn LoadedNets + 'a>>,
}

/// Uploads the models sampling uses (the surviving experts, the router over them, the monolith) to `device` once
/// for all policies.
pub fn load_for_sampling<'a>(device: &'a dyn DenoiserDevice, models: &SamplingModels) -> Result<SamplingNets<'a>> {
    let routed: Vec<(&TimeNet, &[f32])> = models
        .experts
        .iter()
        .map(|e| (&e.net, &e.params[..]))
        .chain(models.router().map(|r| (&r.net, &r.params[..])))
        .collect();
    Ok(SamplingNets {
        routed: device.load_nets(&routed)?,
        monolith: models
            .monolith
            .map(|m| device.load_nets(&[(&m.net, &m.params[..])]))
            .transpose()?,
    })
}
