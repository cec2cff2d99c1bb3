//! Client selection: which of a model's clients train in a round.

use crate::rng::{Stream, derive};

/// The `per_round` of `clients` clients that train in `round` of the model with stream tag `tag`: drawn
/// uniformly without replacement from the model's selection stream, in id order.
pub fn select(seed: u64, tag: u64, round: usize, clients: usize, per_round: usize) -> Vec<usize> {
    let rng = &mut derive(seed, Stream::Selection, &[tag, round as u64]);
    let mut chosen = rand::seq::index::sample(rng, clients, per_round).into_vec();
    chosen.sort_unstable();
    chosen
}
