//! Declarations of the metrics the analyses of a policy's trajectories set (the `analysis` module): stability
//! (DESIGN section 6, "trajectory sensitivity") and expert-data alignment.

use super::catalog::{Applies, Computation, Direction, Family, Metric};

/// A stability metric set by the stability analysis.
const fn stability(column: &'static str, title: &'static str, applies: Applies, description: &'static str) -> Metric {
    Metric {
        column,
        title,
        direction: Direction::Lower,
        family: Family::Stability,
        applies,
        key: false,
        description,
        computation: Computation::Analysis("stability"),
    }
}

/// An alignment metric set by the alignment analysis.
const fn alignment(
    column: &'static str,
    title: &'static str,
    direction: Direction,
    description: &'static str,
) -> Metric {
    Metric {
        column,
        title,
        direction,
        family: Family::Alignment,
        applies: Applies::Alignment,
        key: false,
        description,
        computation: Computation::Analysis("alignment"),
    }
}

/// The metrics the analyses set: stability, then alignment, in column order.
pub static DECLARED: [Metric; 18] = [
    stability(
        "l_eff",
        "effective Lipschitz constant",
        Applies::Stability,
        "Geometric mean over the steps of the one-step amplification of a small perturbation.",
    ),
    stability(
        "amp_small",
        "small-perturbation amplification",
        Applies::Stability,
        "Mean whole-trajectory amplification of a small perturbation (1e-3 x data scale; the smooth part).",
    ),
    stability(
        "amp_small_p95",
        "small-perturbation amplification, p95",
        Applies::Stability,
        "95th percentile of whole-trajectory amplification of a small perturbation.",
    ),
    stability(
        "amp_large",
        "large-perturbation amplification",
        Applies::Stability,
        "Mean whole-trajectory amplification of a large perturbation (1e-1 x data scale; catches routing switches).",
    ),
    Metric {
        key: true,
        ..stability(
        "amp_large_p95",
        "large-perturbation amplification, p95",
        Applies::Stability,
        "95th percentile of whole-trajectory amplification of a large perturbation (lower = more stable).",
    )
    },
    stability(
        "flip_rate",
        "routing flip rate",
        Applies::RoutedStability,
        "Share of (sample, step) pairs where a perturbed input changes the set of selected experts.",
    ),
    stability(
        "delta_refine",
        "late refinement",
        Applies::Stability,
        "Mean distance moved over the last 10 % of steps (numerical convergence).",
    ),
    stability(
        "step_gap",
        "step-count gap",
        Applies::Stability,
        "Mean distance between samples drawn with S and with 2S steps.",
    ),
    alignment(
        "align_gap",
        "alignment gap",
        Direction::Higher,
        "Mean gap between non-selected and selected experts' distance from x̂0 to their training data (> 0: the \
         router picks experts whose data covers the current state).",
    ),
    alignment(
        "align_gap_centroid",
        "alignment gap (centroids)",
        Direction::Higher,
        "The alignment gap measured to the experts' data centroids.",
    ),
    alignment(
        "align_nearest_rate",
        "nearest-expert rate",
        Direction::Higher,
        "How often the top-1 routed expert is the one whose data is nearest.",
    ),
    alignment(
        "err_selected",
        "selected experts' error",
        Direction::Lower,
        "Error of the selected experts on noised held-out data.",
    ),
    alignment(
        "err_nonselected",
        "non-selected experts' error",
        Direction::Neither,
        "Error of the experts the router did not select, on noised held-out data.",
    ),
    alignment(
        "err_oracle",
        "oracle expert's error",
        Direction::Neither,
        "Error of the expert owning the held-out point's cluster.",
    ),
    alignment(
        "err_mixture",
        "mixture's error",
        Direction::Lower,
        "Error of the routed mixture itself on noised held-out data.",
    ),
    alignment(
        "disagreement",
        "expert disagreement",
        Direction::Neither,
        "Router-weighted dispersion of the experts' predictions per step.",
    ),
    alignment(
        "angle_deg",
        "mean angle between experts",
        Direction::Neither,
        "Mean pairwise angle between expert predictions (degrees).",
    ),
    alignment(
        "disagreement_spearman",
        "disagreement-badness correlation",
        Direction::Neither,
        "Spearman correlation of per-sample disagreement with per-sample badness.",
    ),
];
