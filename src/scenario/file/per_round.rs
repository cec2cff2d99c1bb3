//! `clients_per_round`: how many of a model's clients train in a round, written as a share of them (cross-silo
//! habit: `0.2`) or as a number of clients (cross-device habit: `100` of a population of 100,000).

use serde::{Deserialize, Serialize, Serializer};

/// Clients that train one model in a round: a share of its clients in (0, 1], or a whole count above 1.
///
/// `1` and `1.0` both mean every client (the share it always meant); a count starts at 2. A share is rounded to
/// whole clients; either way at least one and at most all of the model's clients train.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct PerRound(pub f64);

impl PerRound {
    /// Whether the value counts clients (above 1) rather than being a share of them.
    pub fn is_count(self) -> bool {
        self.0 > 1.0
    }

    /// Clients selected per round out of `n`: the count, or the share of `n` rounded; at least one, at most `n`.
    pub fn of(self, n: usize) -> usize {
        let wanted = match self.is_count() {
            true => self.0 as usize,
            false => (self.0 * n as f64).round() as usize,
        };
        wanted.clamp(1, n.max(1))
    }

    /// An upper bound on the clients selected per round out of `n` (the memory estimate's, before any rounding).
    pub fn at_most(self, n: f64) -> f64 {
        match self.is_count() {
            true => self.0.min(n),
            false => (self.0 * n).ceil(),
        }
    }
}

impl Serialize for PerRound {
    /// A count as an integer (`100`), a share as the number it is (`0.2`, `1.0`), so resolved scenarios written
    /// before counts existed keep their bytes.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.is_count() {
            true => serializer.serialize_u64(self.0 as u64),
            false => serializer.serialize_f64(self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_rounded_and_a_count_is_taken_as_is_both_clamped() {
        assert_eq!(PerRound(0.2).of(100), 20);
        assert_eq!(PerRound(0.001).of(100), 1);
        assert_eq!(PerRound(1.0).of(37), 37);
        assert_eq!(PerRound(100.0).of(100_000), 100);
        assert_eq!(PerRound(100.0).of(40), 40);
        assert_eq!(PerRound(2.0).of(0), 1);
        assert_eq!(PerRound(100.0).at_most(1e5), 100.0);
        assert_eq!(PerRound(0.25).at_most(10.0), 3.0);
    }

    #[test]
    fn a_count_is_written_as_an_integer_and_a_share_as_before() {
        let text = |v: f64| serde_norway::to_string(&PerRound(v)).unwrap();
        assert_eq!(text(100.0), "100\n");
        assert_eq!(text(0.2), "0.2\n");
        assert_eq!(text(1.0), "1.0\n");
        let read: PerRound = serde_norway::from_str("100").unwrap();
        assert_eq!(read, PerRound(100.0));
    }
}
