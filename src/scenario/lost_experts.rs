//! `sampling.lost_experts`: experts removed at sampling time, as a list of expert indices or as a count of experts
//! lost in a seeded order (so a sweep over counts loses nested sets).
//!
//! Training never sees this key: the models, the model cache and its key are those of the full ensemble.

use crate::error::{Error, Result};
use crate::rng::{Stream, derive};
use rand::seq::SliceRandom;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// The YAML key, named in every error about it.
pub const KEY: &str = "sampling.lost_experts";

/// Which experts are removed at sampling time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostExperts {
    /// These experts (indices into the trained experts), lost in this order. Empty (the default): none.
    List(Vec<usize>),
    /// The first n experts of a permutation of all experts drawn from the root seed: a larger count loses a
    /// superset of a smaller one's experts.
    Count(usize),
}

impl Default for LostExperts {
    /// No expert is lost: every run before the key existed.
    fn default() -> Self {
        LostExperts::List(Vec::new())
    }
}

impl LostExperts {
    /// Whether this is the default (left out of resolved scenarios, so runs without the key keep their bytes).
    pub fn is_default(&self) -> bool {
        *self == LostExperts::default()
    }

    /// Checks the key against `experts`, the number of experts, or an upper bound of it with the key that sets
    /// the bound (`clusters.k` before grouping): indices listed once and in range, at least one expert left.
    pub fn check(&self, experts: usize, bound_from: Option<&str>) -> Result<()> {
        self.check_listed_once()?;
        let noun = if experts == 1 { "expert" } else { "experts" };
        let what = match bound_from {
            Some(key) => format!("there are at most {experts} {noun} ({key})"),
            None => format!("the grouping produced {experts} {noun}"),
        };
        let lost = match self {
            LostExperts::List(list) => {
                for &e in list {
                    if e >= experts {
                        return Err(Error::invalid(
                            KEY,
                            format!(
                                "expert {e} does not exist: {what}, indices 0 to {}",
                                experts.saturating_sub(1)
                            ),
                        ));
                    }
                }
                list.len()
            }
            &LostExperts::Count(n) => n,
        };
        if lost >= experts && lost > 0 {
            return Err(Error::invalid(
                KEY,
                format!(
                    "{what} and losing {lost} leaves none to sample with; at least one must survive (lose at most \
                     {})",
                    experts.saturating_sub(1)
                ),
            ));
        }
        Ok(())
    }

    /// Checks that no expert is listed twice (what can be checked without knowing the number of experts).
    pub fn check_listed_once(&self) -> Result<()> {
        if let LostExperts::List(list) = self
            && let Some(i) = (1..list.len()).find(|&i| list[..i].contains(&list[i]))
        {
            return Err(Error::invalid(
                KEY,
                format!("expert {} is listed twice; list each expert once", list[i]),
            ));
        }
        Ok(())
    }

    /// The lost experts' indices in removal order, for a run with `experts` experts and root seed `seed`
    /// (checked first: see [`LostExperts::check`]).
    pub fn resolve(&self, experts: usize, seed: u64) -> Result<Vec<usize>> {
        self.check(experts, None)?;
        Ok(match self {
            LostExperts::List(list) => list.clone(),
            &LostExperts::Count(n) => {
                let mut order: Vec<usize> = (0..experts).collect();
                order.shuffle(&mut derive(seed, Stream::LostExperts, &[]));
                order.truncate(n);
                order
            }
        })
    }
}

impl Serialize for LostExperts {
    /// In the form it was written: a list of indices or a count.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            LostExperts::List(list) => list.serialize(serializer),
            LostExperts::Count(n) => serializer.serialize_u64(*n as u64),
        }
    }
}

/// What the key takes, as serde's error messages say it.
const EXPECTED: &str = "a list of expert indices or a count of experts to lose";

/// Reads an integer as a count and a sequence as a list of indices; anything else is an error saying so.
struct LostVisitor;

impl<'de> Visitor<'de> for LostVisitor {
    type Value = LostExperts;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<LostExperts, E> {
        usize::try_from(n)
            .map(LostExperts::Count)
            .map_err(|_| E::custom(format!("{n} experts is more than any run has")))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<LostExperts, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::custom(format!("expected {EXPECTED}, got {n}"))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<LostExperts, A::Error> {
        let mut list = Vec::new();
        while let Some(Index(e)) = seq.next_element()? {
            list.push(e);
        }
        Ok(LostExperts::List(list))
    }
}

impl<'de> Deserialize<'de> for LostExperts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(LostVisitor)
    }
}

/// One listed expert index.
struct Index(usize);

/// Reads a non-negative integer; anything else is an error naming what the list holds.
struct IndexVisitor;

impl Visitor<'_> for IndexVisitor {
    type Value = Index;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an expert index (an integer >= 0) in the list of lost experts")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Index, E> {
        usize::try_from(n)
            .map(Index)
            .map_err(|_| E::custom(format!("expert {n} does not exist")))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<Index, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::custom(format!(
                "expected an expert index (an integer >= 0) in the list of lost experts, got {n}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Index {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(IndexVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, to_yaml, validate};

    fn lost(text: &str) -> std::result::Result<LostExperts, String> {
        parse(&format!("name: t\nsampling: {{ lost_experts: {text} }}\n")).map(|s| s.sampling.lost_experts)
    }

    #[test]
    fn an_integer_is_a_count_and_a_list_holds_indices() {
        assert_eq!(lost("3").unwrap(), LostExperts::Count(3));
        assert_eq!(lost("0").unwrap(), LostExperts::Count(0));
        assert_eq!(lost("[3, 5]").unwrap(), LostExperts::List(vec![3, 5]));
        assert_eq!(lost("[]").unwrap(), LostExperts::default());
        assert_eq!(
            parse("name: t\n").unwrap().sampling.lost_experts,
            LostExperts::default()
        );
    }

    #[test]
    fn other_values_say_what_the_key_takes_and_name_it() {
        for text in ["two", "1.5", "-1", "{ a: 1 }", "true"] {
            let err = lost(text).unwrap_err();
            assert!(err.starts_with("sampling.lost_experts"), "{text}: {err}");
            assert!(err.contains(EXPECTED), "{text}: {err}");
        }
        for text in ["[1, x]", "[-2]", "[0.5]"] {
            let err = lost(text).unwrap_err();
            assert!(err.starts_with("sampling.lost_experts"), "{text}: {err}");
            assert!(err.contains("an expert index (an integer >= 0)"), "{text}: {err}");
        }
    }

    #[test]
    fn both_forms_round_trip_and_the_default_is_left_out() {
        for (text, written) in [("4", "lost_experts: 4\n"), ("[6, 1]", "lost_experts:\n  - 6\n  - 1\n")] {
            let s = parse(&format!("name: t\nsampling: {{ lost_experts: {text} }}\n")).unwrap();
            assert!(to_yaml(&s).contains(written), "{}", to_yaml(&s));
            assert_eq!(parse(&to_yaml(&s)).unwrap(), s);
        }
        let plain = parse("name: t\n").unwrap();
        let empty = parse("name: t\nsampling: { lost_experts: [] }\n").unwrap();
        assert_eq!(to_yaml(&plain), to_yaml(&empty));
        assert!(!to_yaml(&empty).contains("lost_experts"));
    }

    #[test]
    fn duplicates_out_of_range_and_losing_every_expert_are_refused_by_key() {
        let err = |l: LostExperts, e: usize| l.check(e, None).unwrap_err().to_string();
        assert_eq!(
            err(LostExperts::List(vec![1, 3, 1]), 8),
            "sampling.lost_experts: expert 1 is listed twice; list each expert once"
        );
        assert_eq!(
            err(LostExperts::List(vec![8]), 8),
            "sampling.lost_experts: expert 8 does not exist: the grouping produced 8 experts, indices 0 to 7"
        );
        assert_eq!(
            err(LostExperts::Count(8), 8),
            "sampling.lost_experts: the grouping produced 8 experts and losing 8 leaves none to sample with; at \
             least one must survive (lose at most 7)"
        );
        assert!(err(LostExperts::Count(9), 8).contains("lose at most 7"));
        assert!(err(LostExperts::List((0..3).collect()), 3).contains("at least one must survive"));
        LostExperts::Count(7).check(8, None).unwrap();
        LostExperts::List(vec![0, 7]).check(8, None).unwrap();
        LostExperts::Count(0).check(1, None).unwrap();
        LostExperts::default().check(1, None).unwrap();
    }

    #[test]
    fn validation_bounds_the_key_by_the_clusters_before_grouping() {
        let s = parse("name: t\nclusters: { k: 4 }\nsampling: { lost_experts: [4] }\n").unwrap();
        assert_eq!(
            validate(&s).unwrap_err().to_string(),
            "sampling.lost_experts: expert 4 does not exist: there are at most 4 experts (clusters.k), indices 0 to 3"
        );
        let s = parse("name: t\nclusters: { k: 4 }\nsampling: { lost_experts: 4 }\n").unwrap();
        assert!(
            validate(&s).unwrap_err().to_string().starts_with(
                "sampling.lost_experts: there are at most 4 experts (clusters.k) and losing 4 leaves none"
            )
        );
        let s = parse("name: t\nclusters: { k: 4 }\nsampling: { lost_experts: [2, 2] }\n").unwrap();
        assert!(validate(&s).unwrap_err().to_string().contains("listed twice"));
        let s = parse("name: t\nclusters: { k: 4 }\nsampling: { lost_experts: 3 }\n").unwrap();
        validate(&s).unwrap();
    }

    #[test]
    fn counts_lose_nested_sets_in_a_seeded_order() {
        let order = |n: usize, seed: u64| LostExperts::Count(n).resolve(8, seed).unwrap();
        for seed in [0, 1, 2] {
            for n in 0..7 {
                let (small, large) = (order(n, seed), order(n + 1, seed));
                assert_eq!(small.len(), n);
                assert_eq!(large[..n], small[..], "seed {seed}: count {} extends count {n}", n + 1);
            }
            let all = order(7, seed);
            assert!(all.iter().all(|&e| e < 8));
            assert_eq!(all.iter().collect::<std::collections::BTreeSet<_>>().len(), 7);
        }
        assert_ne!(order(7, 0), order(7, 1), "the order depends on the seed");
        assert_ne!(order(7, 1), order(7, 2), "the order depends on the seed");
        assert_eq!(order(3, 5), order(3, 5));
        assert_eq!(
            LostExperts::List(vec![5, 2]).resolve(8, 0).unwrap(),
            vec![5, 2],
            "a list keeps its order"
        );
        assert!(LostExperts::Count(8).resolve(8, 0).is_err());
    }
}
