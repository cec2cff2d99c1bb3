//! What the pipeline derives from a run's data for checks and analyses: the routing k check against the experts
//! that exist, the data scale of the perturbations, per-sample badness, held-out points for the expert errors, and
//! the initial noise.

use crate::analysis::{HeldOut, cluster_owners, held_out};
use crate::cluster::Clustering;
use crate::data;
use crate::diffusion::{Denoiser, Objective};
use crate::error::{Error, Result};
use crate::partition;
use crate::rng::{Stream, derive};
use crate::scenario::{RoutingConfig, Scenario};
use ndarray::{Array2, Axis};
use rand_distr::{Distribution, StandardNormal};

/// Rejects a `k` above the number of experts that actually have clients (known only after grouping).
pub(super) fn check_k_against_experts(routing: &[RoutingConfig], experts: usize) -> Result<()> {
    for (i, r) in routing.iter().enumerate() {
        if let Some(e) = k_beyond_experts(i, r, experts) {
            return Err(e);
        }
    }
    Ok(())
}

/// Why policy `i` cannot run with `experts` experts (it asks for more), or `None` if it can.
pub(super) fn k_beyond_experts(i: usize, r: &RoutingConfig, experts: usize) -> Option<Error> {
    let ks: Vec<(String, usize)> = match r {
        RoutingConfig::TopK { k, .. } | RoutingConfig::Random { k } | RoutingConfig::NearestData { k } => {
            vec![(format!("routing[{i}].k"), *k)]
        }
        RoutingConfig::Schedule { stages, .. } => stages
            .iter()
            .enumerate()
            .map(|(j, st)| (format!("routing[{i}].stages[{j}].k"), st.k))
            .collect(),
        _ => vec![],
    };
    ks.into_iter().find(|(_, k)| *k > experts).map(|(path, k)| {
        Error::invalid(
            path,
            format!("must be <= the number of experts that have clients ({experts}), got {k}"),
        )
    })
}

/// Root mean per-coordinate variance of the training data: the unit of the stability perturbations.
pub(super) fn data_scale(x: &Array2<f32>) -> f64 {
    let x = x.mapv(f64::from);
    (x.var_axis(Axis(0), 0.0).mean().unwrap_or(1.0)).sqrt()
}

/// Held-out test points (seeded subsample), their clusters and cluster owners, noised per bin and scored by
/// every expert of `experts` (whose client groups are `groups`).
pub(super) fn held_out_points(
    s: &Scenario,
    test: &data::Dataset,
    clusters: &Clustering,
    counts: &[Vec<usize>],
    groups: &[&partition::ExpertGroup],
    experts: &[&dyn Denoiser],
    objective: &Objective,
) -> HeldOut {
    let rng = &mut derive(s.seed, Stream::Metrics, &[5]);
    let m = s.metrics.error_points.min(test.len());
    let mut idx = rand::seq::index::sample(rng, test.len(), m).into_vec();
    idx.sort_unstable();
    let points = test.select(&idx);
    let ids = match (&s.clusters.method, &points.labels) {
        (crate::scenario::ClusterMethod::Labels, Some(labels)) => labels.clone(),
        _ => clusters.nearest(points.x.view()),
    };
    let k = clusters.k();
    let expert_counts: Vec<Vec<usize>> = groups
        .iter()
        .map(|g| {
            (0..k)
                .map(|c| g.clients.iter().map(|&cl| counts[cl][c]).sum())
                .collect()
        })
        .collect();
    let mut held = held_out(
        experts,
        objective,
        points.x.view(),
        ids,
        cluster_owners(&expert_counts, k),
        s.metrics.error_bins,
        rng,
    );
    held.labels = points.labels;
    held
}

/// `n` standard normal points in `dim` dimensions (`n` is `sampling.samples`: allocated fallibly).
pub(super) fn gaussian(n: usize, dim: usize, rng: &mut crate::rng::Rng) -> Result<Array2<f32>> {
    let mut x = crate::alloc::zeros(n, dim, "sampling.samples")?;
    x.iter_mut().for_each(|v| {
        let z: f64 = StandardNormal.sample(rng);
        *v = z as f32;
    });
    Ok(x)
}
