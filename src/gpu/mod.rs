//! Optional WGSL compute kernels through wgpu (cargo feature `gpu`): adapter selection and the kernels that
//! dominate the time of training and sampling, each batched over clients (or experts) with stacked weights.
//!
//! The CPU path stays the default (and the only one bit-identical across thread counts); `device: gpu` runs the
//! denoisers' training and the sampler on these kernels, checked against the CPU path within a stated f32
//! tolerance (tests/gpu.rs).

mod context;
mod inference;
mod kernels;
mod trainer;

pub use context::{ADAPTER_ENV, GpuContext, describe_adapters};
pub use inference::GpuNets;
pub use kernels::{AdamHyper, Epilogue, MatmulSpec, Operand};
