//! Classifier-free guidance (Ho and Salimans 2022) of conditional denoisers: each sample requests a class, and a
//! denoiser's guided prediction is u + w (c - u) from its unconditional (null class) and conditional predictions.
//! w = 0 runs only the unconditional branch, w = 1 only the conditional one; any other w runs both.

use super::{At, Denoiser, DenoiserModel, Rows};
use crate::scenario::{GuidanceApply, GuidanceConfig, RequestedClasses};
use ndarray::{Array2, ArrayView2, Zip};

/// Guidance of one sample set.
#[derive(Debug, Clone, PartialEq)]
pub struct Guidance {
    /// The guidance scale w.
    pub scale: f32,
    /// The class each sample requests, by global row.
    pub classes: Vec<usize>,
    /// The class requested for each held-out point of the alignment analyses (its own label).
    pub held_out: Vec<usize>,
    /// Where u + w (c - u) is formed.
    pub apply: GuidanceApply,
}

/// Which prediction of a conditional denoiser to form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    /// u + w (c - u) (w = 0: u; w = 1: c).
    Guided,
    /// c, for the requested classes.
    Conditional,
    /// u, for the null class.
    Unconditional,
}

impl Guidance {
    /// The guidance of `samples` samples as `config` asks, for denoisers of `classes` classes.
    pub fn new(config: &GuidanceConfig, samples: usize, classes: usize) -> Self {
        let requested = match &config.classes {
            RequestedClasses::Balanced => (0..samples).map(|i| i % classes).collect(),
            RequestedClasses::List(list) => (0..samples).map(|i| list[i % list.len()]).collect(),
        };
        Guidance {
            scale: config.scale as f32,
            classes: requested,
            held_out: Vec::new(),
            apply: config.apply,
        }
    }

    /// The classes requested by rows `ids` (global rows of the set `at.rows`).
    pub fn requested(&self, at: At, ids: &[usize]) -> Vec<usize> {
        let table = match at.rows {
            Rows::Samples => &self.classes,
            Rows::HeldOut => &self.held_out,
        };
        ids.iter().map(|&g| table[g]).collect()
    }

    /// `model`'s prediction `branch` on x, whose row r is global row `ids[r]`.
    pub fn predict(
        &self,
        model: &DenoiserModel,
        x: ArrayView2<f32>,
        at: At,
        ids: &[usize],
        branch: Branch,
    ) -> Array2<f32> {
        let conditional = || model.predict_classes(x, at, &self.requested(at, ids));
        match (branch, self.scale) {
            (Branch::Unconditional, _) | (Branch::Guided, 0.0) => model.predict(x, at),
            (Branch::Conditional, _) | (Branch::Guided, 1.0) => conditional(),
            (Branch::Guided, _) => self.blend(model.predict(x, at), &conditional()),
        }
    }

    /// u + w (c - u), in place of u.
    pub fn blend(&self, mut u: Array2<f32>, c: &Array2<f32>) -> Array2<f32> {
        let w = self.scale;
        Zip::from(&mut u).and(c).for_each(|u, &c| *u += w * (c - *u));
        u
    }

    /// Whether `branch` asks for the requested classes (a conditional router then routes by them): the
    /// conditional branch, and the guided one unless w = 0 (unconditional sampling).
    pub fn uses_classes(&self, branch: Branch) -> bool {
        match branch {
            Branch::Conditional => true,
            Branch::Guided => self.scale != 0.0,
            Branch::Unconditional => false,
        }
    }

    /// Whether the mixture's two predictions are formed and blended (`combined`, a scale other than 0 and 1).
    pub fn blends_mixtures(&self) -> bool {
        self.apply == GuidanceApply::Combined && self.scale != 0.0 && self.scale != 1.0
    }

    /// The branch each expert runs in a mixture: guided per expert, or the mixture's only branch at w = 0 or 1
    /// under `combined`.
    pub fn expert_branch(&self) -> Branch {
        match (self.apply, self.scale) {
            (GuidanceApply::PerExpert, _) => Branch::Guided,
            (GuidanceApply::Combined, 0.0) => Branch::Unconditional,
            (GuidanceApply::Combined, _) => Branch::Conditional,
        }
    }
}

/// One conditional denoiser (the monolith) sampled with guidance; row r of a batch is global row
/// `at.first_row + r`.
pub struct Guided<'a> {
    /// The denoiser.
    pub model: &'a DenoiserModel,
    /// The guidance.
    pub guidance: &'a Guidance,
}

impl Denoiser for Guided<'_> {
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        let ids: Vec<usize> = (at.first_row..at.first_row + x.nrows()).collect();
        self.guidance.predict(self.model, x, at, &ids, Branch::Guided)
    }
}
