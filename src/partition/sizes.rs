//! Client sizes by rule, computed exactly as Flower Datasets does (`IdToSizeFncPartitioner`: units f(1..=M) in
//! float64, shares floored, the remainder to the last client), and the quantity-skew partition built on them.

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::scenario::SizeRule;
use rand::seq::SliceRandom;

/// The number of points of each of `clients` clients under `rule`, summing to `n`.
///
/// `equal` gives the first `n mod clients` clients one point more (numpy `array_split`, Flower's
/// `IidPartitioner`). The other rules follow Flower's `IdToSizeFncPartitioner` to the bit: units f(1), ..., f(M)
/// (f = identity, square or exp) in float64, their numpy (pairwise) sum, each share `unit / total * n` truncated,
/// and the points left over given to the last client. Like Flower, a rule that leaves some client with no point is
/// refused (an error naming `clients.count`).
pub fn sizes(rule: SizeRule, n: usize, clients: usize) -> Result<Vec<usize>> {
    let mut sizes = crate::alloc::filled(clients, 0, "clients.count")?;
    let unit: fn(f64) -> f64 = match rule {
        SizeRule::Equal => {
            let (base, extra) = (n / clients, n % clients);
            sizes
                .iter_mut()
                .enumerate()
                .for_each(|(c, s)| *s = base + usize::from(c < extra));
            return Ok(sizes);
        }
        SizeRule::Linear => |x| x,
        SizeRule::Square => |x| x * x,
        SizeRule::Exponential => f64::exp,
    };
    // numpy's linspace(1, M, M) is exactly 1.0, 2.0, ..., M.
    let units: Vec<f64> = (1..=clients).map(|i| unit(i as f64)).collect();
    let total = numpy_sum(&units);
    // numpy casts NaN (an overflowed e^i) to the smallest int64, which Flower then refuses; here it is 0, refused
    // below.
    for (size, u) in sizes.iter_mut().zip(&units) {
        *size = (u / total * n as f64) as usize;
    }
    let assigned: usize = sizes.iter().sum();
    if let Some(last) = sizes.last_mut() {
        *last += n.saturating_sub(assigned);
    }
    if let Some(empty) = sizes.iter().position(|&s| s == 0) {
        return Err(Error::Partition {
            path: "clients.count".into(),
            message: format!(
                "the `{rule}` rule gives client {empty} of {clients} no point of the {n} training points (client i's \
                 share is proportional to {share}); use fewer clients or more data",
                rule = rule.name(),
                share = match rule {
                    SizeRule::Linear => "i + 1",
                    SizeRule::Square => "(i + 1)^2",
                    _ => "e^(i + 1)",
                }
            ),
        });
    }
    Ok(sizes)
}

/// numpy's float64 `sum` of a contiguous array: pairwise summation with eight accumulators on blocks of at most
/// 128 values (`pairwise_sum` in numpy's `loops_utils.h.src`), so totals agree with Flower's to the bit.
pub fn numpy_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        // numpy starts from -0.0 so that a sum of negative zeros stays -0.0.
        a.iter().fold(-0.0, |acc, v| acc + v)
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        numpy_sum(&a[..half]) + numpy_sum(&a[half..])
    }
}

/// Cuts `order` into consecutive runs of the given `sizes` (which sum to at most its length).
pub fn cut(order: &[usize], sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&size| {
            let part = order[start..start + size].to_vec();
            start += size;
            part
        })
        .collect()
}

/// Quantity skew with IID labels: the `n` points shuffled, then cut into runs of the rule's sizes (Flower cuts the
/// data set in its order, which `FederatedDataset` has shuffled).
pub fn quantity(rule: SizeRule, n: usize, clients: usize, rng: &mut Rng) -> Result<Vec<Vec<usize>>> {
    let sizes = sizes(rule, n, clients)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    Ok(cut(&order, &sizes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    #[test]
    fn linear_sizes_follow_flower_by_hand() {
        // units 1..4, total 10: shares 0.1, 0.2, 0.3, 0.4 of 103 floored -> 10, 20, 30, 41; the 2 left go to the last.
        assert_eq!(sizes(SizeRule::Linear, 103, 4).unwrap(), vec![10, 20, 30, 43]);
        assert_eq!(sizes(SizeRule::Equal, 103, 4).unwrap(), vec![26, 26, 26, 25]);
    }

    #[test]
    fn a_rule_that_empties_a_client_is_refused_naming_the_count() {
        let err = sizes(SizeRule::Exponential, 1000, 12).unwrap_err().to_string();
        assert!(
            err.starts_with("clients.count: the `exponential` rule gives client 0 of 12 no point"),
            "{err}"
        );
        // Past e^709 the units overflow; still a clear refusal, not a panic.
        assert!(sizes(SizeRule::Exponential, 1000, 800).is_err());
    }

    #[test]
    fn pairwise_sum_differs_from_a_plain_loop_where_numpy_does() {
        // 1 + 2^-53 * 16 added one by one is lost in a left-to-right loop but kept by blockwise accumulators.
        let mut a = vec![1.0];
        a.extend(std::iter::repeat_n(f64::EPSILON / 2.0, 16));
        let plain = a.iter().fold(0.0, |s, v| s + v);
        assert_eq!(plain, 1.0);
        assert!(numpy_sum(&a) > 1.0);
    }

    #[test]
    fn every_point_is_assigned_once_with_the_rule_sizes() {
        for rule in [
            SizeRule::Linear,
            SizeRule::Square,
            SizeRule::Exponential,
            SizeRule::Equal,
        ] {
            let parts = quantity(rule, 997, 5, &mut derive(1, Stream::Partition, &[])).unwrap();
            let lens: Vec<usize> = parts.iter().map(Vec::len).collect();
            assert_eq!(lens, sizes(rule, 997, 5).unwrap());
            let mut all: Vec<usize> = parts.into_iter().flatten().collect();
            all.sort();
            assert_eq!(all, (0..997).collect::<Vec<_>>(), "{rule:?}");
        }
    }
}
