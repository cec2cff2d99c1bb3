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

/// The cost of a round in which each of `down` selected clients receives and each of `up` returning clients
/// sends `vectors` vectors of `params` values, and the clients process `rows` training rows in all at
/// `flops_per_row` each.
pub fn round_cost(params: usize, vectors: u64, (down, up): (usize, usize), rows: u64, flops_per_row: u64) -> RoundCost {
    let bytes = vector_bytes(params) * vectors;
    RoundCost {
        bytes_down: bytes * down as u64,
        bytes_up: bytes * up as u64,
        flops: rows * flops_per_row,
    }
}

/// Rows a client processes in `steps` local steps of `batch_size` (all its `rows` when fewer).
pub fn rows_processed(rows: usize, steps: usize, batch_size: usize) -> u64 {
    (steps * rows.min(batch_size)) as u64
}
