//! How many training points each client holds under `inner_dirichlet`: a named size rule (Flower's
//! IdToSizeFnc family) or an explicit list, written `sizes: linear` or `sizes: [300, 200, 500]`.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A rule giving client i a share of the points as a function of i (Flower's `LinearPartitioner`,
/// `SquarePartitioner` and `ExponentialPartitioner`), or equal shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeRule {
    /// As equal as possible: the first `n mod clients` clients hold one point more (numpy `array_split`).
    #[default]
    Equal,
    /// Client i's share is proportional to i + 1.
    Linear,
    /// Client i's share is proportional to (i + 1)^2.
    Square,
    /// Client i's share is proportional to e^(i + 1).
    Exponential,
}

impl SizeRule {
    /// The rule's name as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            SizeRule::Equal => "equal",
            SizeRule::Linear => "linear",
            SizeRule::Square => "square",
            SizeRule::Exponential => "exponential",
        }
    }
}

/// Client sizes: a rule, or one size per client (summing to the number of training points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSizes {
    /// Sizes given by a rule over the training points.
    Rule(SizeRule),
    /// The size of each client, in client order.
    List(Vec<usize>),
}

impl Default for ClientSizes {
    /// Equal sizes: only the label mix differs between clients, as in Flower's examples.
    fn default() -> Self {
        ClientSizes::Rule(SizeRule::Equal)
    }
}

impl Serialize for ClientSizes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ClientSizes::Rule(rule) => serializer.serialize_str(rule.name()),
            ClientSizes::List(sizes) => sizes.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ClientSizes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SizesVisitor)
    }
}

/// Reads a rule's name or a list of sizes, with one message naming both forms for anything else.
struct SizesVisitor;

impl<'de> Visitor<'de> for SizesVisitor {
    type Value = ClientSizes;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`equal`, `linear`, `square`, `exponential` or a list of client sizes")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<ClientSizes, E> {
        const RULES: [SizeRule; 4] = [
            SizeRule::Equal,
            SizeRule::Linear,
            SizeRule::Square,
            SizeRule::Exponential,
        ];
        RULES
            .into_iter()
            .find(|rule| rule.name() == name)
            .map(ClientSizes::Rule)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Str(name), &self))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ClientSizes, A::Error> {
        let mut sizes = Vec::new();
        while let Some(size) = seq.next_element::<usize>()? {
            sizes.push(size);
        }
        Ok(ClientSizes::List(sizes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ClientSizes, String> {
        serde_norway::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_rule_name_or_a_list_round_trips() {
        for (text, sizes) in [
            ("linear", ClientSizes::Rule(SizeRule::Linear)),
            ("equal", ClientSizes::Rule(SizeRule::Equal)),
            ("exponential", ClientSizes::Rule(SizeRule::Exponential)),
            ("[3, 0, 5]", ClientSizes::List(vec![3, 0, 5])),
        ] {
            assert_eq!(read(text).unwrap(), sizes);
            assert_eq!(read(&serde_norway::to_string(&sizes).unwrap()).unwrap(), sizes);
        }
    }

    #[test]
    fn anything_else_names_both_forms() {
        for text in ["cubic", "3", "{a: 1}"] {
            let err = read(text).unwrap_err();
            assert!(
                err.contains("expected `equal`, `linear`, `square`, `exponential` or a list of client sizes"),
                "{text}: {err}"
            );
        }
        assert!(
            read("[1, -2]")
                .unwrap_err()
                .contains("invalid type: integer `-2`, expected usize")
        );
    }
}
