//! All analyses of one policy row, as switched on in the scenario: stability for every row, alignment and
//! routing error for routed rows, and the combined prediction's held-out error for every row.

use super::{
    BinError, HeldOut, SampleDisagreement, StabilitySettings, StepAlignment, StepStability, Subject, alignment,
    stability,
};
use crate::diffusion::Objective;
use crate::metrics::Values;
use crate::routing::ExpertData;
use ndarray::{Array2, ArrayView2};

/// What the analyses of a run share across policies.
pub struct AnalysisSetup<'a> {
    /// The objective (sampler and x0_hat).
    pub objective: &'a Objective,
    /// The initial noise every policy starts from. Shape [n, dim].
    pub x1: &'a Array2<f32>,
    /// Sampler steps.
    pub steps: usize,
    /// Stability settings, when stability is on.
    pub stability: Option<StabilitySettings>,
    /// Experts' data and scored held-out points, when alignment is on.
    pub alignment: Option<(&'a ExpertData, &'a HeldOut)>,
    /// Per-sample badness of final samples (higher = worse), for the disagreement correlation.
    pub badness: &'a (dyn Fn(ArrayView2<f32>) -> Vec<f64> + Sync),
}

/// The analyses of one policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyAnalysis {
    /// Values for `results.csv`.
    pub values: Values,
    /// Stability by step.
    pub stability: Vec<StepStability>,
    /// Alignment by step (routed policies).
    pub alignment: Vec<StepAlignment>,
    /// Routing error by timestep bin.
    pub errors: Vec<BinError>,
    /// Per sample (routed policies): total disagreement and badness of the final sample.
    pub per_sample: Vec<SampleDisagreement>,
}

/// Runs every analysis switched on in `setup` for `subject`.
pub fn analyse_policy(subject: Subject, setup: &AnalysisSetup) -> PolicyAnalysis {
    let mut out = PolicyAnalysis::default();
    if let Some(settings) = &setup.stability {
        let s = stability(subject, setup.objective, setup.x1, setup.steps, settings);
        out.values.extend(s.values);
        out.stability = s.by_step;
    }
    if let Some((data, held_out)) = setup.alignment {
        if let Subject::Routed(routed) = subject {
            let a = alignment(routed, setup.objective, setup.x1, setup.steps, data, setup.badness);
            out.values.extend(a.values);
            out.alignment = a.by_step;
            out.per_sample = a.per_sample;
        }
        let (values, errors) = held_out.routing_error(subject);
        out.values.extend(values);
        out.errors = errors;
    }
    out
}
