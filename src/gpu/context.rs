//! Choosing a GPU adapter: a discrete or integrated GPU; a CPU adapter (Mesa lavapipe) only when
//! `DDMSIM_ALLOW_CPU_ADAPTER=1`; otherwise an error that names every adapter found.

use super::kernels::Kernels;
use crate::error::{Error, Result};

/// The environment variable that lets a CPU adapter (e.g. lavapipe) be used.
pub const ADAPTER_ENV: &str = "DDMSIM_ALLOW_CPU_ADAPTER";

/// A device, its queue and the compiled kernels.
pub struct GpuContext {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What was chosen (name, backend, device type).
    pub info: wgpu::AdapterInfo,
    pub(super) kernels: Kernels,
}

/// "name (backend, device type)" of an adapter, as errors and run.json show it.
pub fn describe_adapters(infos: &[wgpu::AdapterInfo]) -> String {
    if infos.is_empty() {
        return "none".into();
    }
    infos
        .iter()
        .map(|i| format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rank of an adapter type: higher is preferred; `None` = not usable.
fn rank(device_type: wgpu::DeviceType, allow_cpu: bool) -> Option<u8> {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => Some(3),
        wgpu::DeviceType::IntegratedGpu => Some(2),
        wgpu::DeviceType::VirtualGpu => Some(1),
        wgpu::DeviceType::Cpu if allow_cpu => Some(0),
        _ => None,
    }
}

impl GpuContext {
    /// Opens the best adapter (see the module docs; a CPU adapter only if `DDMSIM_ALLOW_CPU_ADAPTER=1`), its
    /// device, and compiles the kernels.
    pub fn new() -> Result<Self> {
        Self::open(std::env::var(ADAPTER_ENV).is_ok_and(|v| v == "1"))
    }

    /// [`GpuContext::new`] with the CPU-adapter permission given explicitly.
    pub fn open(allow_cpu: bool) -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
        let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(|a| a.get_info()).collect();
        let best = adapters
            .into_iter()
            .zip(&infos)
            .filter_map(|(a, info)| rank(info.device_type, allow_cpu).map(|r| (r, a)))
            .max_by_key(|(r, _)| *r)
            .map(|(_, a)| a);
        let Some(adapter) = best else {
            let hint = if allow_cpu {
                String::new()
            } else {
                format!("; set {ADAPTER_ENV}=1 to use a CPU adapter such as Mesa lavapipe")
            };
            return Err(Error::Gpu(format!(
                "no usable GPU adapter (Vulkan adapters found: {}){hint}",
                describe_adapters(&infos)
            )));
        };
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("ddmsim"),
            required_limits: adapter.limits(),
            ..wgpu::DeviceDescriptor::default()
        }))
        .map_err(|e| Error::Gpu(format!("{}: cannot open the device: {e}", info.name)))?;
        let kernels = Kernels::compile(&device);
        Ok(GpuContext {
            device,
            queue,
            info,
            kernels,
        })
    }

    /// Whether the chosen adapter runs on the CPU (e.g. Mesa lavapipe).
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// "name (backend, device type)" of the chosen adapter.
    pub fn adapter(&self) -> String {
        describe_adapters(std::slice::from_ref(&self.info))
    }
}
