//! The stable label of a results row (DESIGN section 7) as a typed value: each routing policy, and the
//! reference rows. `Display` writes the label (`top_k:k=2`), `FromStr` reads it back from a stored table.

use super::RoutingConfig;
use std::fmt;
use std::str::FromStr;

/// Which row of a results table: a routing policy, or one of the reference rows.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyLabel {
    /// `top_k:k=K`, or `top_k:k=K:raw` without renormalisation.
    TopK {
        /// Experts kept.
        k: usize,
        /// The kept probabilities are not renormalised.
        raw: bool,
    },
    /// `full`: the router-weighted ensemble.
    Full,
    /// `uniform`: every expert with equal weight.
    Uniform,
    /// `threshold:p_min=P`.
    Threshold {
        /// The threshold.
        p_min: f64,
    },
    /// `top_p:p=P`.
    TopP {
        /// The mass to reach.
        p: f64,
    },
    /// `sample`: one expert drawn from the router.
    Sample,
    /// `random:k=K`.
    Random {
        /// Experts drawn.
        k: usize,
    },
    /// `oracle`.
    Oracle,
    /// `nearest_data:k=K`.
    NearestData {
        /// Experts per step.
        k: usize,
    },
    /// `schedule:NAME`.
    Schedule {
        /// The schedule's name.
        name: String,
    },
    /// `monolith`: the single model trained by all clients.
    Monolith,
    /// `reference:data`: held-out training points (the metrics' floor).
    ReferenceData,
    /// `reference:noise`: Gaussian noise (the ceiling).
    ReferenceNoise,
    /// `reference:test`: the reference set itself (class counts and sample files).
    ReferenceTest,
}

impl PolicyLabel {
    /// The label of a scenario routing entry.
    pub fn of(config: &RoutingConfig) -> Self {
        match config {
            RoutingConfig::TopK { k, renormalize } => PolicyLabel::TopK {
                k: *k,
                raw: !renormalize,
            },
            RoutingConfig::Full => PolicyLabel::Full,
            RoutingConfig::Uniform => PolicyLabel::Uniform,
            RoutingConfig::Threshold { p_min } => PolicyLabel::Threshold { p_min: *p_min },
            RoutingConfig::TopP { p } => PolicyLabel::TopP { p: *p },
            RoutingConfig::Sample => PolicyLabel::Sample,
            RoutingConfig::Random { k } => PolicyLabel::Random { k: *k },
            RoutingConfig::Oracle => PolicyLabel::Oracle,
            RoutingConfig::NearestData { k } => PolicyLabel::NearestData { k: *k },
            RoutingConfig::Schedule { name, .. } => PolicyLabel::Schedule { name: name.clone() },
            RoutingConfig::Monolith => PolicyLabel::Monolith,
        }
    }

    /// Whether this is a reference row rather than a policy.
    pub fn is_reference(&self) -> bool {
        matches!(
            self,
            PolicyLabel::ReferenceData | PolicyLabel::ReferenceNoise | PolicyLabel::ReferenceTest
        )
    }

    /// k of a renormalised top-k policy.
    pub fn top_k(&self) -> Option<usize> {
        match self {
            PolicyLabel::TopK { k, raw: false } => Some(*k),
            _ => None,
        }
    }

    /// The label made safe for a file name: every character other than letters, digits, `.` and `-` becomes `_`.
    pub fn file_stem(&self) -> String {
        self.to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl fmt::Display for PolicyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyLabel::TopK { k, raw: false } => write!(f, "top_k:k={k}"),
            PolicyLabel::TopK { k, raw: true } => write!(f, "top_k:k={k}:raw"),
            PolicyLabel::Full => write!(f, "full"),
            PolicyLabel::Uniform => write!(f, "uniform"),
            PolicyLabel::Threshold { p_min } => write!(f, "threshold:p_min={p_min}"),
            PolicyLabel::TopP { p } => write!(f, "top_p:p={p}"),
            PolicyLabel::Sample => write!(f, "sample"),
            PolicyLabel::Random { k } => write!(f, "random:k={k}"),
            PolicyLabel::Oracle => write!(f, "oracle"),
            PolicyLabel::NearestData { k } => write!(f, "nearest_data:k={k}"),
            PolicyLabel::Schedule { name } => write!(f, "schedule:{name}"),
            PolicyLabel::Monolith => write!(f, "monolith"),
            PolicyLabel::ReferenceData => write!(f, "reference:data"),
            PolicyLabel::ReferenceNoise => write!(f, "reference:noise"),
            PolicyLabel::ReferenceTest => write!(f, "reference:test"),
        }
    }
}

impl FromStr for PolicyLabel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{text}` is not a policy label (e.g. `top_k:k=1`, `full`, `reference:data`)");
        let number = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite());
        let count = |v: &str| v.parse::<usize>().ok();
        Ok(match text {
            "full" => PolicyLabel::Full,
            "uniform" => PolicyLabel::Uniform,
            "sample" => PolicyLabel::Sample,
            "oracle" => PolicyLabel::Oracle,
            "monolith" => PolicyLabel::Monolith,
            "reference:data" => PolicyLabel::ReferenceData,
            "reference:noise" => PolicyLabel::ReferenceNoise,
            "reference:test" => PolicyLabel::ReferenceTest,
            _ => {
                if let Some(rest) = text.strip_prefix("top_k:k=") {
                    let (k, raw) = match rest.strip_suffix(":raw") {
                        Some(k) => (k, true),
                        None => (rest, false),
                    };
                    PolicyLabel::TopK {
                        k: count(k).ok_or_else(bad)?,
                        raw,
                    }
                } else if let Some(v) = text.strip_prefix("threshold:p_min=") {
                    PolicyLabel::Threshold {
                        p_min: number(v).ok_or_else(bad)?,
                    }
                } else if let Some(v) = text.strip_prefix("top_p:p=") {
                    PolicyLabel::TopP {
                        p: number(v).ok_or_else(bad)?,
                    }
                } else if let Some(v) = text.strip_prefix("nearest_data:k=") {
                    PolicyLabel::NearestData {
                        k: count(v).ok_or_else(bad)?,
                    }
                } else if let Some(v) = text.strip_prefix("random:k=") {
                    PolicyLabel::Random {
                        k: count(v).ok_or_else(bad)?,
                    }
                } else if let Some(name) = text.strip_prefix("schedule:").filter(|n| !n.is_empty()) {
                    PolicyLabel::Schedule { name: name.into() }
                } else {
                    return Err(bad());
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_back_as_written() {
        let labels = [
            PolicyLabel::TopK { k: 2, raw: false },
            PolicyLabel::TopK { k: 3, raw: true },
            PolicyLabel::Full,
            PolicyLabel::Threshold { p_min: 0.3 },
            PolicyLabel::TopP { p: 0.9 },
            PolicyLabel::Random { k: 2 },
            PolicyLabel::NearestData { k: 1 },
            PolicyLabel::Schedule {
                name: "wide-then-one".into(),
            },
            PolicyLabel::ReferenceNoise,
        ];
        for label in labels {
            assert_eq!(label.to_string().parse::<PolicyLabel>().unwrap(), label);
        }
        assert_eq!(PolicyLabel::TopK { k: 1, raw: false }.to_string(), "top_k:k=1");
        assert_eq!(PolicyLabel::TopK { k: 1, raw: false }.file_stem(), "top_k_k_1");
        assert!("top_k:k=x".parse::<PolicyLabel>().is_err());
        assert!("bogus".parse::<PolicyLabel>().is_err());
    }
}
