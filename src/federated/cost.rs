//! What a round costs: bytes the server sends down and receives up, and the clients' training FLOPs.

/// The cost of one round of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundCost {
    /// Bytes sent to the participants: the global weights, and SCAFFOLD's server control variate.
    pub bytes_down: u64,
    /// Bytes received from them: their weights, and SCAFFOLD's control variate changes.
    pub bytes_up: u64,
    /// Floating-point operations of the forward and backward passes of every training row processed.
    pub flops: u64,
}

/// Bytes of one vector of `params` single-precision values.
pub fn vector_bytes(params: usize) -> u64 {
    (params * std::mem::size_of::<f32>()) as u64
}

/// The cost of a round in which each of `participants` receives and returns `vectors` vectors of `params`
/// values and the clients process `rows` training rows in all at `flops_per_row` each.
pub fn round_cost(params: usize, vectors: u64, participants: usize, rows: u64, flops_per_row: u64) -> RoundCost {
    let bytes = vector_bytes(params) * vectors * participants as u64;
    RoundCost {
        bytes_down: bytes,
        bytes_up: bytes,
        flops: rows * flops_per_row,
    }
}
