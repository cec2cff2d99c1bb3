//! Neural-network building blocks written by hand on ndarray: MLP with SiLU (forward and backward side by side),
//! sinusoidal time embedding, Adam(W) and SGD, EMA, and safetensors files.

mod activation;
pub mod adam;
pub mod ema;
mod embedding;
pub mod matmul;
mod mlp;
mod network;
mod optimizer;
mod scalar;
mod sgd;
pub mod weights;

pub use activation::{sigmoid, silu, silu_grad};
pub use adam::{Adam, clip_global_norm};
pub use embedding::embed_time;
pub use mlp::{Cache, Layer, Mlp};
pub use network::TimeNet;
pub use optimizer::Optimizer;
pub use scalar::Scalar;
pub use sgd::Sgd;
