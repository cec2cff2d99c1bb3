//! Per-expert accuracy on noised held-out data, where the true target is known: the error of every expert by
//! cluster and timestep bin, and, per policy, the error of the experts it selects vs those it does not vs the
//! expert that owns the point's cluster (the oracle).

use super::subject::Subject;
use crate::diffusion::{At, Denoiser, NoisedBatch, Objective, Rows};
use crate::metrics::Values;
use crate::rng::Rng;
use ndarray::ArrayView2;

/// Held-out points noised at the midpoint of each timestep bin, with every expert's squared error.
pub struct HeldOut {
    /// Per bin: network time and the noised points with their targets.
    pub bins: Vec<(f64, NoisedBatch)>,
    /// Cluster of each held-out point.
    pub clusters: Vec<usize>,
    /// Per cluster, the expert that holds most of its training data (`None` if no expert holds any).
    pub owner: Vec<Option<usize>>,
    /// Mean squared error per bin, expert and point: `mse[b][j][i]`.
    pub mse: Vec<Vec<Vec<f64>>>,
    /// The id each scored expert has in tables: its position by default, its index among the trained experts
    /// when some were lost at sampling time.
    pub expert_ids: Vec<usize>,
    /// The class of each held-out point, when the data is labelled (guidance requests it for the point).
    pub labels: Option<Vec<usize>>,
}

/// One cell of the expert x cluster x bin error matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorCell {
    /// Expert id.
    pub expert: usize,
    /// Cluster id.
    pub cluster: usize,
    /// Timestep bin.
    pub bin: usize,
    /// Network time of the bin (its midpoint).
    pub t: f64,
    /// Mean squared error of the expert's prediction against the objective's target (per coordinate).
    pub mse: f64,
    /// Held-out points in the cell.
    pub points: usize,
}

/// Selected vs non-selected vs oracle error of one policy in one bin.
#[derive(Debug, Clone, PartialEq)]
pub struct BinError {
    /// Timestep bin.
    pub bin: usize,
    /// Network time of the bin.
    pub t: f64,
    /// Mean error of the selected experts (points where some experts are not selected).
    pub selected: Option<f64>,
    /// Mean error of the non-selected experts (same points).
    pub nonselected: Option<f64>,
    /// Mean error of each point's cluster owner.
    pub oracle: Option<f64>,
    /// Error of the policy's combined prediction.
    pub mixture: f64,
}

/// Row-wise mean squared difference. Shapes [n, d] x [n, d] -> n.
fn row_mse(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Vec<f64> {
    a.rows()
        .into_iter()
        .zip(b.rows())
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(&u, &v)| (u as f64 - v as f64).powi(2))
                .sum::<f64>()
                / x.len() as f64
        })
        .collect()
}

/// Noises `x0` (with cluster ids `clusters`) at the midpoints of `bins` equal time bins and scores every expert.
pub fn held_out(
    experts: &[&dyn Denoiser],
    objective: &Objective,
    x0: ArrayView2<f32>,
    clusters: Vec<usize>,
    owner: Vec<Option<usize>>,
    bins: usize,
    rng: &mut Rng,
) -> HeldOut {
    let mut noised = Vec::with_capacity(bins);
    let mut mse = Vec::with_capacity(bins);
    for b in 0..bins {
        let t = (b as f64 + 0.5) / bins as f64;
        let batch = objective.noise_at(x0, &vec![t; x0.nrows()], rng);
        let at = At::time(batch.time.first().copied().unwrap_or(t));
        mse.push(
            experts
                .iter()
                .map(|e| row_mse(e.predict(batch.xt.view(), at).view(), batch.target.view()))
                .collect(),
        );
        noised.push((at.t, batch));
    }
    HeldOut {
        bins: noised,
        clusters,
        owner,
        mse,
        expert_ids: (0..experts.len()).collect(),
        labels: None,
    }
}

impl HeldOut {
    /// The expert x cluster x bin error matrix (cells with no points are left out).
    pub fn matrix(&self) -> Vec<ErrorCell> {
        let members: Vec<Vec<usize>> = (0..self.owner.len())
            .map(|c| (0..self.clusters.len()).filter(|&i| self.clusters[i] == c).collect())
            .collect();
        let mut cells = Vec::new();
        for (b, ((t, _), per_expert)) in self.bins.iter().zip(&self.mse).enumerate() {
            for (j, errors) in per_expert.iter().enumerate() {
                for (c, idx) in members.iter().enumerate() {
                    if !idx.is_empty() {
                        cells.push(ErrorCell {
                            expert: self.expert_ids[j],
                            cluster: c,
                            bin: b,
                            t: *t,
                            mse: idx.iter().map(|&i| errors[i]).sum::<f64>() / idx.len() as f64,
                            points: idx.len(),
                        });
                    }
                }
            }
        }
        cells
    }

    /// Selected vs non-selected vs oracle error of `subject` on the held-out points: `results.csv` values
    /// (`err_selected`, `err_nonselected`, `err_oracle`, `err_mixture`, where they apply) and one row per bin.
    pub fn routing_error(&self, subject: Subject) -> (Values, Vec<BinError>) {
        let mut rows = Vec::with_capacity(self.bins.len());
        let (mut sel, mut non, mut both, mut ora, mut owned, mut mix, mut all) =
            (0.0, 0.0, 0usize, 0.0, 0usize, 0.0, 0usize);
        for (b, ((t, batch), per_expert)) in self.bins.iter().zip(&self.mse).enumerate() {
            let at = At {
                t: *t,
                step: b,
                steps: 0,
                first_row: 0,
                rows: Rows::HeldOut,
            };
            let (pred, weights) = subject.evaluate(batch.xt.view(), at);
            let mixture = row_mse(pred.view(), batch.target.view());
            let (mut bs, mut bn, mut bb, mut bo, mut bw) = (0.0, 0.0, 0usize, 0.0, 0usize);
            for i in 0..mixture.len() {
                if let Some(w) = &weights {
                    let chosen: Vec<usize> = (0..w.ncols()).filter(|&j| w[[i, j]] > 0.0).collect();
                    let rest: Vec<usize> = (0..w.ncols()).filter(|&j| w[[i, j]] <= 0.0).collect();
                    if !chosen.is_empty() && !rest.is_empty() {
                        let avg = |set: &[usize]| set.iter().map(|&j| per_expert[j][i]).sum::<f64>() / set.len() as f64;
                        bs += avg(&chosen);
                        bn += avg(&rest);
                        bb += 1;
                    }
                }
                // A held-out class that no training point has (labels) has no owner.
                if let Some(j) = self.owner.get(self.clusters[i]).copied().flatten() {
                    bo += per_expert[j][i];
                    bw += 1;
                }
            }
            let mixture_mean = mixture.iter().sum::<f64>() / mixture.len() as f64;
            rows.push(BinError {
                bin: b,
                t: *t,
                selected: (bb > 0).then(|| bs / bb as f64),
                nonselected: (bb > 0).then(|| bn / bb as f64),
                oracle: (bw > 0).then(|| bo / bw as f64),
                mixture: mixture_mean,
            });
            (sel, non, both, ora, owned) = (sel + bs, non + bn, both + bb, ora + bo, owned + bw);
            mix += mixture.iter().sum::<f64>();
            all += mixture.len();
        }
        let mut values = Values::new();
        if both > 0 {
            values.insert("err_selected", sel / both as f64);
            values.insert("err_nonselected", non / both as f64);
        }
        // The owner's error describes routed subjects only.
        if owned > 0 && matches!(subject, Subject::Routed(_)) {
            values.insert("err_oracle", ora / owned as f64);
        }
        values.insert("err_mixture", mix / all as f64);
        (values, rows)
    }
}

/// Per cluster, the expert whose training data holds most of it (`expert_counts[j][c]`); ties to the lower id.
pub fn cluster_owners(expert_counts: &[Vec<usize>], clusters: usize) -> Vec<Option<usize>> {
    (0..clusters)
        .map(|c| {
            let best = (0..expert_counts.len()).fold(None, |best: Option<usize>, j| match best {
                Some(b) if expert_counts[b][c] >= expert_counts[j][c] => Some(b),
                _ => Some(j),
            })?;
            (expert_counts[best][c] > 0).then_some(best)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::PointExperts;
    use crate::rng::{Stream, derive};
    use crate::routing::{TopK, Uniform};
    use ndarray::{Array2, array};

    #[test]
    fn experts_exact_on_their_own_cluster_have_zero_own_error() {
        let centers = array![[-4.0f32, 0.0], [4.0, 0.0], [0.0, 4.0]];
        let mixture = PointExperts {
            centers: centers.clone(),
            policy: Box::new(TopK {
                k: 1,
                renormalize: true,
            }),
            router: true,
        };
        // Single experts: the mixture with expert j forced, via one-expert "point" denoisers.
        let singles: Vec<PointExperts> = (0..3)
            .map(|j| PointExperts {
                centers: centers.row(j).to_owned().insert_axis(ndarray::Axis(0)),
                policy: Box::new(Uniform),
                router: false,
            })
            .collect();
        let experts: Vec<&dyn Denoiser> = singles.iter().map(|e| e as &dyn Denoiser).collect();
        let x0 = Array2::from_shape_fn((90, 2), |(i, d)| centers[[i % 3, d]]);
        let clusters: Vec<usize> = (0..90).map(|i| i % 3).collect();
        let h = held_out(
            &experts,
            &Objective::Flow,
            x0.view(),
            clusters,
            vec![Some(0), Some(1), Some(2)],
            5,
            &mut derive(1, Stream::Metrics, &[]),
        );
        for cell in h.matrix() {
            if cell.expert == cell.cluster {
                assert!(cell.mse < 1e-8, "{cell:?}");
            } else {
                // Off-cluster error is |c - c_j|^2 / t^2 / dim >= 32 / 2 = 16.
                assert!(cell.mse > 15.0, "{cell:?}");
            }
            assert_eq!(cell.points, 30);
        }
        let (values, rows) = h.routing_error(Subject::Routed(&mixture));
        assert!(values["err_oracle"] < 1e-8);
        assert!(values["err_selected"] < values["err_nonselected"]);
        assert_eq!(rows.len(), 5);
        // Near the data the exact router is certain: the selected expert is the owner.
        assert!(rows[0].selected.unwrap() < 1e-6, "{:?}", rows[0]);
        let (mono, _) = h.routing_error(Subject::Single(&singles[0]));
        assert!(!mono.contains_key("err_selected") && !mono.contains_key("err_oracle") && mono["err_mixture"] > 1.0);
    }
}
