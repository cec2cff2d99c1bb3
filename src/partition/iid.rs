//! IID partition: a shuffled equal split (Flower's `IidPartitioner`, numpy `array_split` sizes).

use crate::error::Result;
use crate::rng::Rng;
use rand::seq::SliceRandom;

/// Splits `n` point indices into `clients` shuffled parts whose sizes differ by at most one.
pub fn iid(n: usize, clients: usize, rng: &mut Rng) -> Result<Vec<Vec<usize>>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let (base, extra) = (n / clients, n % clients);
    let mut parts = crate::alloc::filled(clients, Vec::new(), "clients.count")?;
    let mut start = 0;
    for (c, part) in parts.iter_mut().enumerate() {
        let size = base + usize::from(c < extra);
        *part = order[start..start + size].to_vec();
        start += size;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use crate::rng::{Stream, derive};

    #[test]
    fn sizes_differ_by_at_most_one_and_cover_everything() {
        let parts = super::iid(103, 10, &mut derive(0, Stream::Partition, &[])).unwrap();
        let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert!(parts.iter().all(|p| p.len() == 10 || p.len() == 11));
    }
}
