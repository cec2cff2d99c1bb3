//! Optional WGSL compute kernels through wgpu (cargo feature `gpu`): adapter selection and the kernels that
//! dominate the time of training and sampling, each batched over clients (or experts) with stacked weights.
//!
//! The CPU path stays the default and is what every result of ddmsim comes from; these kernels are checked against
//! it within a stated f32 tolerance (tests/gpu.rs).

mod context;
mod kernels;
mod trainer;

pub use context::{ADAPTER_ENV, GpuContext, describe_adapters};
pub use kernels::{AdamHyper, Epilogue, MatmulSpec, Operand};
