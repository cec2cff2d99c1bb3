//! Expert-data alignment along a policy's own sampling trajectory: how far x0_hat is from each expert's training
//! data (5-NN) and centroid, selected vs non-selected; how often the top routed expert is the nearest one; and
//! how much the experts disagree (router-weighted dispersion, mean pairwise angle), per step and per sample.

use super::stats::spearman;
use super::subject::over_chunks;
use crate::diffusion::{At, Objective, Rows, sampler};
use crate::metrics::Values;
use crate::routing::{Evaluation, ExpertData, Routed};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// Per-step alignment of one policy (means over samples; `None` where no sample qualifies).
#[derive(Debug, Clone, PartialEq)]
pub struct StepAlignment {
    /// Sampler step (0 = first).
    pub step: usize,
    /// Network time of the step.
    pub t: f64,
    /// Mean 5-NN distance from x0_hat to the selected experts' data (samples with both kinds of expert).
    pub dist_selected: Option<f64>,
    /// The same for the non-selected experts.
    pub dist_nonselected: Option<f64>,
    /// Centroid distance, non-selected minus selected.
    pub centroid_gap: Option<f64>,
    /// Share of samples whose top routed expert is the one with the nearest data (policies ranked by the router).
    pub nearest_rate: Option<f64>,
    /// Router-weighted dispersion sum_j p_j ||v_j - v_bar||^2.
    pub disagreement: f64,
    /// Mean pairwise angle between expert predictions, in degrees (`None` with fewer than two experts).
    pub angle_deg: Option<f64>,
    /// Mean routing weight of each expert over the samples (sums to 1): where the policy sends the samples.
    pub expert_share: Vec<f64>,
}

/// Alignment of one policy: its `results.csv` values and the per-step table.
#[derive(Debug, Clone)]
pub struct Alignment {
    /// `align_gap`, `align_gap_centroid`, `align_nearest_rate`, `disagreement`, `angle_deg`,
    /// `disagreement_spearman` (each only where it applies).
    pub values: Values,
    /// One row per sampler step.
    pub by_step: Vec<StepAlignment>,
    /// Per sample, in row order: total disagreement over the trajectory and badness of the final sample.
    pub per_sample: Vec<SampleDisagreement>,
}

/// One sample's total disagreement along its trajectory and the badness of where it ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleDisagreement {
    /// Row of the sample (of the starting noise).
    pub sample: usize,
    /// Router-weighted dispersion summed over the sampler steps.
    pub disagreement: f64,
    /// Badness of the final sample (higher = worse, e.g. minus the true log-density).
    pub badness: f64,
}

#[derive(Default, Clone)]
struct StepSums {
    selected: f64,
    nonselected: f64,
    centroid_gap: f64,
    both: usize,
    nearest: usize,
    disagreement: f64,
    angle: f64,
    angle_rows: usize,
    /// Sum over the samples of each expert's routing weight.
    weight: Vec<f64>,
}

impl std::ops::AddAssign<&StepSums> for StepSums {
    fn add_assign(&mut self, c: &StepSums) {
        if self.weight.len() < c.weight.len() {
            self.weight.resize(c.weight.len(), 0.0);
        }
        for (a, b) in self.weight.iter_mut().zip(&c.weight) {
            *a += b;
        }
        self.selected += c.selected;
        self.nonselected += c.nonselected;
        self.centroid_gap += c.centroid_gap;
        self.both += c.both;
        self.nearest += c.nearest;
        self.disagreement += c.disagreement;
        self.angle += c.angle;
        self.angle_rows += c.angle_rows;
    }
}

/// Index of the largest (`largest`) or smallest value of a row; ties go to the lower index.
fn arg_extreme(row: ArrayView1<f64>, largest: bool) -> usize {
    (0..row.len()).fold(0, |best, j| {
        let better = if largest {
            row[j] > row[best]
        } else {
            row[j] < row[best]
        };
        if better { j } else { best }
    })
}

/// Angle between two vectors in degrees; `None` if either is zero.
fn angle_deg(a: ArrayView1<f32>, b: ArrayView1<f32>) -> Option<f64> {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += (x as f64).powi(2);
        bb += (y as f64).powi(2);
    }
    (aa > 0.0 && bb > 0.0).then(|| (ab / (aa * bb).sqrt()).clamp(-1.0, 1.0).acos().to_degrees())
}

/// Measures alignment along the trajectory of `routed` from `x1`. `badness` scores final samples (higher =
/// worse, e.g. minus the true log-density) for the per-sample Spearman correlation with total disagreement.
pub fn alignment(
    routed: &dyn Routed,
    objective: &Objective,
    x1: &Array2<f32>,
    steps: usize,
    data: &ExpertData,
    badness: &dyn Fn(ArrayView2<f32>) -> Vec<f64>,
) -> Alignment {
    let times = sampler::timesteps(objective, steps);
    let chunks = over_chunks(x1, |first_row, chunk| {
        trajectory(routed, objective, data, &times, first_row, chunk.to_owned())
    });
    let total = x1.nrows() as f64;
    let mut by_step = Vec::with_capacity(steps);
    let mut all = StepSums::default();
    for (i, &t) in times.iter().enumerate() {
        let mut s = StepSums::default();
        for (sums, _, _) in &chunks {
            s += &sums[i];
        }
        by_step.push(s.row(i, t, total, routed.ranks_by_router()));
        all += &s;
    }
    let mut values = all.values(total * steps as f64, routed.ranks_by_router());
    let totals: Vec<f64> = chunks.iter().flat_map(|(_, d, _)| d.iter().copied()).collect();
    let bad: Vec<f64> = chunks.iter().flat_map(|(_, _, x)| badness(x.view())).collect();
    let rho = spearman(&totals, &bad);
    if rho.is_finite() {
        values.insert("disagreement_spearman", rho);
    }
    let per_sample = totals
        .into_iter()
        .zip(bad)
        .enumerate()
        .map(|(sample, (disagreement, badness))| SampleDisagreement {
            sample,
            disagreement,
            badness,
        })
        .collect();
    Alignment {
        values,
        by_step,
        per_sample,
    }
}

/// One chunk's trajectory from `x` (its first row is `first_row` of the whole set): the sums of every step, each
/// sample's total disagreement, and the final samples.
fn trajectory(
    routed: &dyn Routed,
    objective: &Objective,
    data: &ExpertData,
    times: &[f64],
    first_row: usize,
    mut x: Array2<f32>,
) -> (Vec<StepSums>, Vec<f64>, Array2<f32>) {
    let experts = routed.experts();
    let blank = StepSums {
        weight: vec![0.0; experts],
        ..StepSums::default()
    };
    let mut sums = vec![blank; times.len()];
    let mut total_disagreement = vec![0.0f64; x.nrows()];
    for (i, &t) in times.iter().enumerate() {
        let e = routed.evaluate(
            x.view(),
            At {
                t,
                step: i,
                steps: times.len(),
                first_row,
                rows: Rows::Samples,
            },
            true,
        );
        let x0_hat = objective.x0_hat(x.view(), e.combined.view(), t);
        let distances = (data.knn_distance(x0_hat.view()), data.centroid_distance(x0_hat.view()));
        for (r, total) in total_disagreement.iter_mut().enumerate() {
            *total += sums[i].add_row(r, &e, &distances, routed.ranks_by_router());
        }
        sampler::step(objective, &mut x, &e.combined, i, times.len());
    }
    (sums, total_disagreement, x)
}

impl StepSums {
    /// Adds sample `r` of the evaluation `e`, with the 5-NN and centroid distances of its x0_hat to every
    /// expert's data; returns its disagreement (dispersion around the router-weighted mean, uniform weights
    /// without a router).
    fn add_row(&mut self, r: usize, e: &Evaluation, (knn, centroid): &(Array2<f64>, Array2<f64>), ranks: bool) -> f64 {
        let predictions = e.predictions.as_ref().expect("asked for every expert");
        let experts = predictions.len();
        let w = e.weights.row(r);
        for (share, &v) in self.weight.iter_mut().zip(w) {
            *share += f64::from(v);
        }
        let selected: Vec<usize> = (0..experts).filter(|&j| w[j] > 0.0).collect();
        let others: Vec<usize> = (0..experts).filter(|&j| w[j] <= 0.0).collect();
        if !selected.is_empty() && !others.is_empty() {
            let avg = |m: &Array2<f64>, set: &[usize]| set.iter().map(|&j| m[[r, j]]).sum::<f64>() / set.len() as f64;
            self.selected += avg(knn, &selected);
            self.nonselected += avg(knn, &others);
            self.centroid_gap += avg(centroid, &others) - avg(centroid, &selected);
            self.both += 1;
        }
        if ranks && arg_extreme(w.mapv(f64::from).view(), true) == arg_extreme(knn.row(r), false) {
            self.nearest += 1;
        }
        let p = |j: usize| e.probs.as_ref().map_or(1.0 / experts as f64, |p| p[[r, j]] as f64);
        let mut dispersion = 0.0;
        for d in 0..e.combined.ncols() {
            let mean: f64 = (0..experts).map(|j| p(j) * predictions[j][[r, d]] as f64).sum();
            dispersion += (0..experts)
                .map(|j| p(j) * (predictions[j][[r, d]] as f64 - mean).powi(2))
                .sum::<f64>();
        }
        self.disagreement += dispersion;
        let angles: Vec<f64> = (0..experts)
            .flat_map(|a| (a + 1..experts).map(move |b| (a, b)))
            .filter_map(|(a, b)| angle_deg(predictions[a].row(r), predictions[b].row(r)))
            .collect();
        if !angles.is_empty() {
            self.angle += angles.iter().sum::<f64>() / angles.len() as f64;
            self.angle_rows += 1;
        }
        dispersion
    }

    /// The per-step row of step `i` at time `t` over `total` samples.
    fn row(&self, i: usize, t: f64, total: f64, ranks: bool) -> StepAlignment {
        let over_both = |v: f64| (self.both > 0).then(|| v / self.both as f64);
        StepAlignment {
            step: i,
            t,
            dist_selected: over_both(self.selected),
            dist_nonselected: over_both(self.nonselected),
            centroid_gap: over_both(self.centroid_gap),
            nearest_rate: ranks.then(|| self.nearest as f64 / total),
            disagreement: self.disagreement / total,
            angle_deg: (self.angle_rows > 0).then(|| self.angle / self.angle_rows as f64),
            expert_share: self.weight.iter().map(|w| w / total).collect(),
        }
    }

    /// The `results.csv` values of all steps' sums over `pairs` (sample, step) pairs.
    fn values(&self, pairs: f64, ranks: bool) -> Values {
        let mut values = Values::new();
        if self.both > 0 {
            values.insert("align_gap", (self.nonselected - self.selected) / self.both as f64);
            values.insert("align_gap_centroid", self.centroid_gap / self.both as f64);
        }
        if ranks {
            values.insert("align_nearest_rate", self.nearest as f64 / pairs);
        }
        values.insert("disagreement", self.disagreement / pairs);
        if self.angle_rows > 0 {
            values.insert("angle_deg", self.angle / self.angle_rows as f64);
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::PointExperts;
    use crate::rng::{Stream, derive};
    use crate::routing::{Full, TopK, Uniform};
    use ndarray::array;

    /// Each expert's training data: its point, repeated.
    fn data_at(centers: &Array2<f32>) -> ExpertData {
        let e = centers.nrows();
        let train = Array2::from_shape_fn((e * 6, centers.ncols()), |(i, d)| centers[[i / 6, d]]);
        let rows: Vec<Vec<usize>> = (0..e).map(|j| (j * 6..j * 6 + 6).collect()).collect();
        ExpertData::new(&train, &rows, 100, 5, &mut derive(0, Stream::Metrics, &[]))
    }

    fn noise(n: usize) -> Array2<f32> {
        Array2::from_shape_fn((n, 2), |(i, d)| ((i * 13 + d * 7) as f32 * 0.61).sin() * 1.5)
    }

    #[test]
    fn top_one_with_exact_experts_and_router_selects_the_expert_holding_x0_hat() {
        let centers = array![[-4.0f32, 0.0], [4.0, 0.0], [0.0, 4.0]];
        let experts = PointExperts {
            centers: centers.clone(),
            policy: Box::new(TopK {
                k: 1,
                renormalize: true,
            }),
            router: true,
        };
        let data = data_at(&centers);
        let bad = |x: ArrayView2<f32>| x.rows().into_iter().map(|r| r[0] as f64).collect();
        let a = alignment(&experts, &Objective::Flow, &noise(300), 20, &data, &bad);
        // x0_hat of one exact expert is its own point: distance 0 to the selected data, >= 4 sqrt 2 to the rest.
        for s in &a.by_step {
            assert!(
                s.dist_selected.unwrap() < 1e-4,
                "step {}: {:?}",
                s.step,
                s.dist_selected
            );
            assert!(s.dist_nonselected.unwrap() > 5.6);
            assert_eq!(s.nearest_rate, Some(1.0));
            // Every sample sends all its weight to one expert: the shares are the fractions of samples per expert.
            assert!((s.expert_share.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!(
                s.expert_share
                    .iter()
                    .all(|v| (v * 300.0 - (v * 300.0).round()).abs() < 1e-6)
            );
        }
        assert!(a.values["align_gap"] > 5.6 && a.values["align_nearest_rate"] == 1.0);
    }

    #[test]
    fn uniform_dispersion_of_exact_experts_is_the_spread_of_their_points_over_t_squared() {
        let centers = array![[-4.0f32, 0.0], [4.0, 0.0]];
        let experts = PointExperts {
            centers: centers.clone(),
            policy: Box::new(Uniform),
            router: false,
        };
        let data = data_at(&centers);
        let bad = |x: ArrayView2<f32>| x.rows().into_iter().map(|r| r[0] as f64).collect();
        let a = alignment(&experts, &Objective::Flow, &noise(100), 10, &data, &bad);
        // v_j = (x - c_j) / t, mean v_bar = x / t, so sum_j (1/2) |v_j - v_bar|^2 = 16 / t^2 for every sample.
        for s in &a.by_step {
            let want = 16.0 / (s.t * s.t);
            assert!(
                (s.disagreement - want).abs() < 1e-3 * want,
                "t {}: {} vs {want}",
                s.t,
                s.disagreement
            );
            assert_eq!(s.nearest_rate, None);
            assert!(
                s.expert_share.iter().all(|v| (v - 0.5).abs() < 1e-9),
                "{:?}",
                s.expert_share
            );
        }
        assert!(!a.values.contains_key("align_gap"));

        // Identical experts never disagree.
        let same = PointExperts {
            centers: array![[1.0f32, 1.0], [1.0, 1.0]],
            policy: Box::new(Full),
            router: true,
        };
        let a = alignment(&same, &Objective::Flow, &noise(50), 5, &data_at(&same.centers), &bad);
        assert!(a.values["disagreement"].abs() < 1e-12 && a.values["angle_deg"] < 0.1);
    }
}
