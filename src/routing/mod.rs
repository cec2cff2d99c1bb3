//! Routing: the router, the policies that turn its probabilities into expert weights, and the routed mixture.

mod mixture;
mod policy;
mod router;

pub use mixture::RoutedMixture;
pub use policy::{Full, RoutingPolicy, TopK, Uniform};
pub use router::{RouterModel, RouterTask, softmax};

use crate::scenario::RoutingConfig;

/// What a routing entry of the scenario evaluates.
pub enum Built {
    /// Experts combined by this policy.
    Routed(Box<dyn RoutingPolicy>),
    /// The monolithic baseline model (no experts, no router).
    Monolith,
}

/// Builds the policy of a scenario routing entry.
pub fn build(config: &RoutingConfig) -> Built {
    match *config {
        RoutingConfig::TopK { k, renormalize } => Built::Routed(Box::new(TopK { k, renormalize })),
        RoutingConfig::Full => Built::Routed(Box::new(Full)),
        RoutingConfig::Uniform => Built::Routed(Box::new(Uniform)),
        RoutingConfig::Monolith => Built::Monolith,
    }
}

/// The stable label of a policy in results, e.g. `top_k:k=2` (DESIGN section 7).
pub fn label(config: &RoutingConfig) -> String {
    match config {
        RoutingConfig::TopK { k, renormalize: true } => format!("top_k:k={k}"),
        RoutingConfig::TopK { k, renormalize: false } => format!("top_k:k={k}:raw"),
        RoutingConfig::Full => "full".into(),
        RoutingConfig::Uniform => "uniform".into(),
        RoutingConfig::Monolith => "monolith".into(),
    }
}

/// A label made safe for a file name: every character other than letters, digits, `.` and `-` becomes `_`.
pub fn file_stem(label: &str) -> String {
    label
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

#[cfg(test)]
mod tests {
    #[test]
    fn file_stems_follow_the_design() {
        assert_eq!(super::file_stem("top_k:k=1"), "top_k_k_1");
        assert_eq!(super::file_stem("reference:data"), "reference_data");
    }
}
