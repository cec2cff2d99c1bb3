//! IID partition: a shuffled equal split (Flower's `IidPartitioner`, numpy `array_split` sizes).

use crate::rng::Rng;
use rand::seq::SliceRandom;

/// Splits `n` point indices into `clients` shuffled parts whose sizes differ by at most one.
pub fn iid(n: usize, clients: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let (base, extra) = (n / clients, n % clients);
    let mut parts = Vec::with_capacity(clients);
    let mut start = 0;
    for c in 0..clients {
        let size = base + usize::from(c < extra);
        parts.push(order[start..start + size].to_vec());
        start += size;
    }
    parts
}

#[cfg(test)]
mod tests {
    use crate::rng::{Stream, derive};

    #[test]
    fn sizes_differ_by_at_most_one_and_cover_everything() {
        let parts = super::iid(103, 10, &mut derive(0, Stream::Partition, &[]));
        let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert!(parts.iter().all(|p| p.len() == 10 || p.len() == 11));
    }
}
