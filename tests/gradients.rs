//! Gradients of the two training losses (flow-matching MSE of a denoiser, cross-entropy of the router) against
//! central finite differences along random directions, in f32 with a documented tolerance; the denoiser's also
//! conditioned on classes, with label dropout.
//!
//! The per-parameter check in f64 lives beside the MLP (`src/nn/mlp.rs`); this one covers the loss heads and
//! the time-embedding input path as they run in training. Tolerance: 2 % relative on a directional derivative
//! with step 1e-2, which f32 round-off stays well inside while a wrong sign or factor fails by far.

use ddmsim::diffusion::{Conditioning, DenoiserTask, Objective};
use ddmsim::federated::Task;
use ddmsim::nn::TimeNet;
use ddmsim::rng::{Stream, derive};
use ddmsim::routing::RouterTask;
use ddmsim::scenario::ObjectiveKind;
use ndarray::Array2;
use rand::Rng as _;

fn check(task: &dyn Task, seed: u64) {
    check_along(task, seed, false);
}

/// [`check`] along random directions; `toward_gradient` adds the sign of each analytic gradient entry, so the
/// directional derivative is at least about the gradient's L1 norm and not lost in f32 round-off (a wrong
/// gradient still disagrees with the finite difference along such a direction).
fn check_along(task: &dyn Task, seed: u64, toward_gradient: bool) {
    let rng = &mut derive(seed, Stream::Init, &[]);
    let params: Vec<f32> = (0..task.param_count()).map(|_| rng.random_range(-0.3..0.3)).collect();
    let rows: Vec<usize> = (0..16).collect();
    let noise = derive(seed, Stream::Local, &[]);
    let mut grad = vec![0f32; params.len()];
    task.loss_and_grad(&params, &rows, &mut noise.clone(), &mut grad);
    let mut scratch = vec![0f32; params.len()];
    for trial in 0..5 {
        let dir: Vec<f32> = (grad.iter())
            .map(|g| rng.random_range(-1.0..1.0) + if toward_gradient { g.signum() } else { 0.0 })
            .collect();
        let h = 1e-2f32;
        let shifted = |s: f32| -> Vec<f32> { params.iter().zip(&dir).map(|(p, d)| p + s * d).collect() };
        let plus = task.loss_and_grad(&shifted(h), &rows, &mut noise.clone(), &mut scratch) as f64;
        let minus = task.loss_and_grad(&shifted(-h), &rows, &mut noise.clone(), &mut scratch) as f64;
        let fd = (plus - minus) / (2.0 * h as f64);
        let analytic: f64 = grad.iter().zip(&dir).map(|(g, d)| (*g as f64) * (*d as f64)).sum();
        let err = (fd - analytic).abs() / fd.abs().max(analytic.abs());
        assert!(err < 2e-2, "trial {trial}: finite difference {fd}, analytic {analytic}");
    }
}

fn data() -> Array2<f32> {
    Array2::from_shape_fn((16, 2), |(i, j)| ((i * 2 + j) as f32 * 0.7).sin() * 2.0)
}

#[test]
fn flow_and_ddpm_denoiser_losses_have_correct_gradients() {
    let x = data();
    for kind in [ObjectiveKind::Flow, ObjectiveKind::Ddpm] {
        let task = DenoiserTask {
            net: TimeNet::new(2, 8, &[16, 16], 2, true),
            objective: Objective::new(kind),
            data: &x,
            condition: None,
        };
        check(&task, 1);
    }
}

#[test]
fn conditional_denoiser_losses_with_label_dropout_have_correct_gradients() {
    let x = data();
    let labels: Vec<usize> = (0..16).map(|i| i % 3).collect();
    for kind in [ObjectiveKind::Flow, ObjectiveKind::Ddpm] {
        let task = DenoiserTask {
            net: TimeNet::conditional(2, 8, 3, &[16, 16], 2, true),
            objective: Objective::new(kind),
            data: &x,
            condition: Some(Conditioning {
                labels: &labels,
                dropout: 0.4,
            }),
        };
        check_along(&task, 3, true);
    }
}

#[test]
fn router_cross_entropy_has_correct_gradients() {
    let x = data();
    let labels: Vec<usize> = (0..16).map(|i| i % 3).collect();
    let task = RouterTask {
        net: TimeNet::new(2, 8, &[16], 3, false),
        objective: Objective::new(ObjectiveKind::Flow),
        data: &x,
        labels: &labels,
        condition: None,
    };
    check(&task, 2);
}
